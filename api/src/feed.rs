//! The Feed service: StreamEvents, every committed journal event in feed
//! position order, from a consumer's position on, then live.
//!
//! Each stream is one reader task paging the journal by position
//! (`Journal::read_feed`) into a small bounded channel. Reading only by
//! position is what makes it exact: positions follow commit order with no
//! gap (see `persistence::feed`), so history and live events are the same
//! loop, and the hand-over between them can neither skip nor repeat an
//! event. A slow consumer fills its channel, which stops its own reader;
//! nothing else waits for it, and nothing queues in memory beyond the channel.

use crate::admission::{Admission, RpcClass};
use crate::booking::Call;
use crate::pb::{self, feed_server};
use crate::reasons::{FEED_POSITION_AHEAD, FEED_STREAMS_FULL, JOURNAL_CORRUPT, STORE_UNAVAILABLE};
use crate::status::{invalid_argument, refusal};
use crate::{convert, observe};
use engine::domain::state::TrainDateKey;
use persistence::feed::{FeedBatch, FeedSource};
use persistence::journal::{JournalError, stream_id};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Feed positions read per journal round trip. Each position is one
/// train-date's share of one group commit (a few events, at most a batch),
/// so a page stays small while a consumer catching up from 0 still reads
/// thousands of events per round trip.
pub const FEED_PAGE_POSITIONS: usize = 64;
/// Events queued between a stream's reader task and the client. Enough to
/// keep the connection busy while the next page is read; a consumer slower
/// than that makes its reader wait here, never anyone else.
pub const FEED_CHANNEL_EVENTS: usize = 256;
/// How long a caught-up stream waits for a commit before it reads the
/// journal again anyway. Commits of this node wake it at once; this bounds
/// the delay for commits made by other nodes of a cluster (and is what the
/// proto promises: about 200 ms).
pub const FEED_POLL_INTERVAL: Duration = Duration::from_millis(200);
/// Default bound on concurrent StreamEvents calls per seatd
/// (`feed_streams_max`): each holds a task and reads the database while
/// it catches up; feed consumers are a few back-office systems, not users.
pub const FEED_STREAMS_MAX_DEFAULT: usize = 64;
/// Most train-dates one StreamEvents filter names.
pub const FILTER_TRAIN_DATES_MAX: usize = 64;

/// What the Feed service reads and how many streams it serves at once.
#[derive(Clone)]
pub struct FeedOptions {
    pub source: Arc<dyn FeedSource>,
    /// Changes after each commit of this node's journal writer.
    pub commits: watch::Receiver<u64>,
    pub streams_max: usize,
}

pub struct FeedService {
    options: FeedOptions,
    admission: Admission,
    /// One permit per open stream, held by its reader task.
    streams: Arc<Semaphore>,
    /// True once the server is shutting down: following streams end, so a
    /// graceful shutdown does not wait for consumers that would never leave.
    stopping: watch::Receiver<bool>,
}

impl FeedService {
    pub fn new(options: FeedOptions, admission: Admission, stopping: watch::Receiver<bool>) -> Self {
        let streams = Arc::new(Semaphore::new(options.streams_max));
        FeedService { options, admission, streams, stopping }
    }
}

#[tonic::async_trait]
impl feed_server::Feed for FeedService {
    type StreamEventsStream = ReceiverStream<Result<pb::FeedEvent, Status>>;

    async fn stream_events(
        &self,
        request: Request<pb::StreamEventsRequest>,
    ) -> Result<Response<Self::StreamEventsStream>, Status> {
        let rpc = observe::rpc(&request);
        observe::observed("StreamEvents", rpc, async move {
            let call = Call::of(&request)?;
            self.admission.admit(&call.caller, &call.caller.user, call.peer, RpcClass::Read)?;
            let request = request.into_inner();
            let filter = Filter::of(&request)?;
            let permit = Arc::clone(&self.streams).try_acquire_owned().map_err(|_| {
                refusal(
                    &FEED_STREAMS_FULL,
                    format!("this seatd serves at most {} feed streams at once", self.options.streams_max),
                )
            })?;
            let head = self.options.source.feed_head().await.map_err(journal_status)?;
            if request.after_position > head {
                return Err(refusal(
                    &FEED_POSITION_AHEAD,
                    format!("after_position {} is beyond the newest position {head}", request.after_position),
                ));
            }
            let (sender, receiver) = mpsc::channel(FEED_CHANNEL_EVENTS);
            let reader = Reader {
                source: Arc::clone(&self.options.source),
                commits: self.options.commits.clone(),
                stopping: self.stopping.clone(),
                filter,
                after: Cursor::of(&request),
                follow: request.follow,
                sender,
            };
            tokio::spawn(reader.run(OpenStream::new(permit)));
            Ok(Response::new(ReceiverStream::new(receiver)))
        })
        .await
    }
}

/// Which train-dates a stream sends: all, or those named, and/or those of one date.
struct Filter {
    streams: HashSet<String>,
    /// `"YYYY-MM-DD/"`: the prefix of every stream id of that date.
    date_prefix: Option<String>,
}

impl Filter {
    fn of(request: &pb::StreamEventsRequest) -> Result<Filter, Status> {
        if request.train_dates.len() > FILTER_TRAIN_DATES_MAX {
            return Err(invalid_argument("train_dates", &format!("name at most {FILTER_TRAIN_DATES_MAX}")));
        }
        let mut streams = HashSet::new();
        for (index, train_date) in request.train_dates.iter().enumerate() {
            let key: TrainDateKey = convert::train_date(&format!("train_dates[{index}]"), Some(train_date))?;
            streams.insert(stream_id(&key));
        }
        let date_prefix = match request.date.as_str() {
            "" => None,
            text => Some(format!("{}/", convert::date("date", text)?)),
        };
        Ok(Filter { streams, date_prefix })
    }

    fn admits(&self, stream: &str) -> bool {
        (self.streams.is_empty() || self.streams.contains(stream))
            && self.date_prefix.as_ref().is_none_or(|prefix| stream.starts_with(prefix.as_str()))
    }
}

/// An open stream: holds its permit, and counts itself in `seat_feed_streams_open`.
struct OpenStream {
    _permit: OwnedSemaphorePermit,
}

impl OpenStream {
    fn new(permit: OwnedSemaphorePermit) -> Self {
        metrics::gauge!("seat_feed_streams_open").increment(1.0);
        OpenStream { _permit: permit }
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        metrics::gauge!("seat_feed_streams_open").decrement(1.0);
    }
}

/// Where a stream is: after `position`, or inside it after `seq`.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    /// Every position before this one is done.
    position: u64,
    /// Events of `position` up to this seq are done; `u64::MAX`: all of it.
    seq: u64,
}

impl Cursor {
    fn of(request: &pb::StreamEventsRequest) -> Cursor {
        match request.after_seq {
            0 => Cursor { position: request.after_position, seq: u64::MAX },
            seq => Cursor { position: request.after_position, seq },
        }
    }

    /// The position to read after: the cursor's own while part of it is left.
    fn read_after(self) -> u64 {
        if self.seq == u64::MAX { self.position } else { self.position.saturating_sub(1) }
    }

    /// Whether an event at `position`, `seq` is still to be sent.
    fn before(self, position: u64, seq: u64) -> bool {
        position > self.position || (position == self.position && seq > self.seq)
    }
}

/// One stream's reader task.
struct Reader {
    source: Arc<dyn FeedSource>,
    commits: watch::Receiver<u64>,
    stopping: watch::Receiver<bool>,
    filter: Filter,
    /// What has been read (sent, or filtered out).
    after: Cursor,
    follow: bool,
    sender: mpsc::Sender<Result<pb::FeedEvent, Status>>,
}

impl Reader {
    /// Pages through the journal until caught up; then ends, or with
    /// `follow` waits for the next commit. Ends when the client goes away,
    /// and (without error) when the server shuts down.
    async fn run(mut self, _open: OpenStream) {
        while !*self.stopping.borrow() {
            // Seen before reading: a commit during the read wakes the wait below.
            self.commits.borrow_and_update();
            let page = match self.source.read_feed(self.after.read_after(), FEED_PAGE_POSITIONS).await {
                Ok(page) => page,
                Err(error) => return self.fail(journal_status(error)).await,
            };
            let caught_up = page.len() < FEED_PAGE_POSITIONS;
            for batch in page {
                if let Err(status) = self.send(&batch).await {
                    return self.fail(status).await;
                }
                if self.sender.is_closed() {
                    return;
                }
            }
            if !caught_up {
                continue;
            }
            if !self.follow || !self.wait_for_commit().await {
                return;
            }
        }
    }

    /// Sends the events of one position the filter admits.
    async fn send(&mut self, batch: &FeedBatch) -> Result<(), Status> {
        let after = std::mem::replace(&mut self.after, Cursor { position: batch.position, seq: u64::MAX });
        if !self.filter.admits(&batch.stream) {
            return Ok(());
        }
        for event in convert::feed_events(batch).map_err(journal_status)? {
            if !after.before(event.position, event.seq) {
                continue;
            }
            if self.sender.send(Ok(event)).await.is_err() {
                break;
            }
            metrics::counter!("seat_feed_events_sent_total").increment(1);
        }
        Ok(())
    }

    /// Waits for a commit of this node, or the poll interval (other nodes'
    /// commits). False when the client has gone away or the server stops.
    async fn wait_for_commit(&mut self) -> bool {
        let (commits, sender, stopping) = (&mut self.commits, &self.sender, &mut self.stopping);
        let local_commit = async {
            if commits.changed().await.is_err() {
                // The writer has stopped: only the poll is left.
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = local_commit => true,
            () = tokio::time::sleep(FEED_POLL_INTERVAL) => true,
            () = sender.closed() => false,
            _ = stopping.wait_for(|stopping| *stopping) => false,
        }
    }

    async fn fail(self, status: Status) {
        tracing::warn!(after = self.after.position, error = %status.message(), "feed stream ended by an error");
        let _ = self.sender.send(Err(status)).await;
    }
}

/// A journal failure as the stream's closing status.
fn journal_status(error: JournalError) -> Status {
    match error {
        JournalError::Corrupt(_) => refusal(&JOURNAL_CORRUPT, error.to_string()),
        other => refusal(&STORE_UNAVAILABLE, format!("the event feed could not be read: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(train_dates: &[(&str, &str)], date: &str) -> pb::StreamEventsRequest {
        pb::StreamEventsRequest {
            train_dates: train_dates
                .iter()
                .map(|(train, date)| pb::TrainDate { train: (*train).into(), date: (*date).into() })
                .collect(),
            date: date.into(),
            ..Default::default()
        }
    }

    #[test]
    fn filters_by_train_date_and_date() {
        let all = Filter::of(&request(&[], "")).unwrap();
        assert!(all.admits("2026-12-01/G1"));
        let named = Filter::of(&request(&[("G1", "2026-12-01")], "")).unwrap();
        assert!(named.admits("2026-12-01/G1") && !named.admits("2026-12-01/G11") && !named.admits("2026-12-02/G1"));
        let dated = Filter::of(&request(&[], "2026-12-02")).unwrap();
        assert!(dated.admits("2026-12-02/G1") && !dated.admits("2026-12-01/G1"));
        let both = Filter::of(&request(&[("G1", "2026-12-01")], "2026-12-02")).unwrap();
        assert!(!both.admits("2026-12-01/G1"));
    }

    #[test]
    fn a_cursor_inside_a_position_rereads_it_and_skips_what_was_sent() {
        let request =
            |after_position, after_seq| pb::StreamEventsRequest { after_position, after_seq, ..Default::default() };
        let whole = Cursor::of(&request(5, 0));
        assert_eq!(whole.read_after(), 5);
        assert!(!whole.before(5, 9) && whole.before(6, 1));
        let inside = Cursor::of(&request(5, 7));
        assert_eq!(inside.read_after(), 4);
        assert!(!inside.before(5, 7) && inside.before(5, 8) && inside.before(6, 1) && !inside.before(4, 9));
    }

    #[test]
    fn malformed_filters_name_their_field() {
        let status = Filter::of(&request(&[("G1", "2026-12-01"), ("g-1", "2026-12-01")], "")).err().unwrap();
        assert_eq!(crate::status::field_of(&status).as_deref(), Some("train_dates[1].train"));
        let status = Filter::of(&request(&[], "2026-1-1")).err().unwrap();
        assert_eq!(crate::status::field_of(&status).as_deref(), Some("date"));
        let many: Vec<(&str, &str)> = vec![("G1", "2026-12-01"); FILTER_TRAIN_DATES_MAX + 1];
        assert_eq!(Filter::of(&request(&many, "")).err().unwrap().code(), tonic::Code::InvalidArgument);
    }
}
