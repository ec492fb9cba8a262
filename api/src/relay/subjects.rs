//! How a journal event is addressed on the broker: its subject, its message
//! id and the relay's own headers, and the bounded cache of each subject's
//! last stream sequence.

use engine::domain::state::TrainDateKey;
use std::collections::HashMap;

/// Every subject of the relay starts with this; the stream captures `seat.events.>`.
pub const SUBJECT_PREFIX: &str = "seat.events";

/// The feed position of the commit batch an event belongs to: with
/// [`SEQ_HEADER`] it tells a restarted relay where the broker's copy ends.
pub const POSITION_HEADER: &str = "Seat-Feed-Position";
/// The event's seq in its train-date.
pub const SEQ_HEADER: &str = "Seat-Seq";
/// The train-date, spelled as the journal's stream id (`YYYY-MM-DD/TRAIN`).
pub const TRAIN_DATE_HEADER: &str = "Seat-Train-Date";

/// The subjects the stream captures.
pub fn stream_subjects() -> String {
    format!("{SUBJECT_PREFIX}.>")
}

/// `seat.events.<YYYY-MM-DD>.<TRAIN>`: one subject per train-date. Train
/// codes are upper-case letters and digits (`validate_train_code`), so a
/// subject never holds a `.`, `*`, `>` or space.
pub fn subject_of(key: &TrainDateKey) -> String {
    format!("{SUBJECT_PREFIX}.{}.{}", key.date, key.train)
}

/// `Nats-Msg-Id`: `<train-date>:<seq>`, the same for every copy of an event
/// whoever publishes it, so the broker drops a repeat inside its window.
pub fn message_id(key: &TrainDateKey, seq: u64) -> String {
    format!("{key}:{seq}")
}

/// Subjects whose last stream sequence the relay remembers. A train-date
/// that has not been written for a while is looked up on the broker again
/// (one request), so the bound costs little; it keeps memory flat however
/// many train-dates a long-running relay has seen (about 100 bytes each).
pub const SUBJECT_CACHE_MAX: usize = 16_384;

/// Last stream sequence per subject, as the relay's own publishes left it.
#[derive(Debug, Default)]
pub struct SubjectSequences {
    last: HashMap<String, u64>,
}

impl SubjectSequences {
    pub fn get(&self, subject: &str) -> Option<u64> {
        self.last.get(subject).copied()
    }

    /// Records `sequence` as the subject's last; at the bound, forgets one
    /// other subject first (it is looked up on the broker when next used).
    pub fn set(&mut self, subject: &str, sequence: u64) {
        if let Some(last) = self.last.get_mut(subject) {
            *last = sequence;
            return;
        }
        if self.last.len() >= SUBJECT_CACHE_MAX {
            let evicted = self.last.keys().next().cloned();
            if let Some(evicted) = evicted {
                self.last.remove(&evicted);
            }
        }
        self.last.insert(subject.to_owned(), sequence);
    }

    pub fn clear(&mut self) {
        self.last.clear();
    }

    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn subject_and_message_id_name_the_train_date() {
        let key = TrainDateKey::new("G101", NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        assert_eq!(subject_of(&key), "seat.events.2026-11-25.G101");
        assert_eq!(message_id(&key, 17), "2026-11-25/G101:17");
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let mut cache = SubjectSequences::default();
        for index in 0..SUBJECT_CACHE_MAX + 10 {
            cache.set(&format!("s{index}"), index as u64);
        }
        assert_eq!(cache.len(), SUBJECT_CACHE_MAX);
        let newest = format!("s{}", SUBJECT_CACHE_MAX + 9);
        assert_eq!(cache.get(&newest), Some(SUBJECT_CACHE_MAX as u64 + 9));
        cache.set(&newest, 1);
        assert_eq!(cache.get(&newest), Some(1));
        assert_eq!(cache.len(), SUBJECT_CACHE_MAX);
    }
}
