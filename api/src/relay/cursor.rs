//! Where a relay session reads the feed from: after the last event the
//! broker holds. That event's batch may have been published only in part
//! (a crash between two of its events), so the session reads that batch
//! again and skips the events up to the broker's last seq.

use super::RelayError;
use super::broker::Mark;
use persistence::feed::FeedBatch;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// The broker's last event, until the session has read past its batch.
    resume: Option<Mark>,
    /// The last feed position fully published.
    position: u64,
}

impl Cursor {
    /// Resumes after `mark`, the broker's last event (None: an empty stream).
    pub fn after(mark: Option<Mark>) -> Cursor {
        Cursor { resume: mark, position: 0 }
    }

    /// The position to read the feed after.
    pub fn read_after(&self) -> u64 {
        match &self.resume {
            Some(mark) => mark.position.saturating_sub(1),
            None => self.position,
        }
    }

    /// The feed position the broker's copy reaches (maybe in part).
    pub fn published_position(&self) -> u64 {
        self.resume.as_ref().map_or(self.position, |mark| mark.position)
    }

    /// Checks the first page read on resuming holds the broker's last event
    /// where the broker says it is; a stream of another journal (or a
    /// journal restored from an older backup) must stop the relay, not be
    /// silently continued.
    pub fn check_resumed(&self, batches: &[FeedBatch]) -> Result<(), RelayError> {
        let Some(mark) = &self.resume else { return Ok(()) };
        let holds_mark = batches.first().is_some_and(|batch| {
            batch.position == mark.position
                && batch.stream == mark.train_date
                && batch.events.iter().any(|event| event.seq == mark.seq)
        });
        if holds_mark {
            Ok(())
        } else {
            Err(RelayError::NotThisJournal {
                position: mark.position,
                train_date: mark.train_date.clone(),
                seq: mark.seq,
            })
        }
    }

    /// Whether the event `seq` of the batch at `position` still has to be published.
    pub fn to_publish(&self, position: u64, seq: u64) -> bool {
        match &self.resume {
            Some(mark) if mark.position == position => seq > mark.seq,
            _ => true,
        }
    }

    /// Every event of the batch at `position` is sent.
    pub fn passed(&mut self, position: u64) {
        self.resume = None;
        self.position = position;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use persistence::codec::StoredEvent;

    fn batch(position: u64, stream: &str, seqs: std::ops::RangeInclusive<u64>) -> FeedBatch {
        FeedBatch {
            position,
            stream: stream.into(),
            committed_at_ms: 1,
            fence_token: None,
            events: seqs.map(|seq| StoredEvent { seq, kind: "k".into(), version: 1, body: "{}".into() }).collect(),
        }
    }

    #[test]
    fn an_empty_stream_starts_at_the_beginning() {
        let cursor = Cursor::after(None);
        assert_eq!(cursor.read_after(), 0);
        assert!(cursor.check_resumed(&[]).is_ok());
        assert!(cursor.to_publish(1, 1));
    }

    #[test]
    fn a_partly_published_batch_is_read_again_and_its_published_events_skipped() {
        let mark = Mark { position: 7, train_date: "2026-11-25/G1".into(), seq: 12 };
        let mut cursor = Cursor::after(Some(mark));
        assert_eq!(cursor.read_after(), 6);
        assert_eq!(cursor.published_position(), 7);
        assert!(cursor.check_resumed(&[batch(7, "2026-11-25/G1", 10..=14)]).is_ok());
        assert!(!cursor.to_publish(7, 12));
        assert!(cursor.to_publish(7, 13));
        cursor.passed(7);
        assert_eq!(cursor.read_after(), 7);
        assert!(cursor.to_publish(8, 1));
    }

    #[test]
    fn a_broker_ahead_of_the_journal_or_of_another_journal_is_refused() {
        let mark = Mark { position: 7, train_date: "2026-11-25/G1".into(), seq: 12 };
        let cursor = Cursor::after(Some(mark));
        assert!(cursor.check_resumed(&[]).is_err());
        assert!(cursor.check_resumed(&[batch(7, "2026-11-25/G3", 10..=14)]).is_err());
        assert!(cursor.check_resumed(&[batch(7, "2026-11-25/G1", 13..=14)]).is_err());
    }
}
