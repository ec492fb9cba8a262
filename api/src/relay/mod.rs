//! The NATS JetStream relay: publishes every committed journal event to a
//! JetStream stream, in feed order, once, resumable after any crash.
//!
//! The journal is the outbox. The relay only reads it (`FeedSource`), so a
//! broker outage delays events and never blocks a booking. Where to go on
//! is read from the broker itself: the last stored message carries the feed
//! position and seq it came from, so a restarted seatd, a new cluster leader
//! or a session ended by an error continues exactly after it.
//!
//! Modules:
//! - `subjects`: subject, message id and header naming; the bounded subject-sequence cache.
//! - `broker`: connecting, the stream's settings, reading the broker's tail, one publish.
//! - `session`: in-order, pipelined publishing, each publish chained to the one before.
//! - `cursor`: where in the feed a session resumes, skipping what the broker already holds.
//!
//! Metrics: gauges `seat_relay_lag_events` (committed events not yet
//! acknowledged by the broker, counted in feed positions, i.e. per
//! train-date commit batch), `seat_relay_lag_ms` (age of the oldest of them;
//! 0 for history older than the feed), `seat_relay_connected` (1 while
//! connected), counter `seat_relay_published_total`.

pub mod broker;
pub mod cursor;
pub mod session;
pub mod subjects;

use broker::{Broker, BrokerSettings, Outgoing};
use cursor::Cursor;
use persistence::feed::{FeedBatch, FeedSource};
use persistence::journal::{JournalError, parse_stream_id};
use prost::Message as _;
use session::Session;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use thiserror::Error;
use tokio::sync::watch;
use tracing::{info, warn};

/// Feed positions read from the journal at once. Each is one train-date's
/// share of one group commit (at most `batch_events_max` events), so a
/// page holds at most a few thousand events in memory.
pub const FEED_PAGE_POSITIONS: usize = 64;

/// How often a caught-up relay asks the journal for new commits it was not
/// told of (other nodes' in a cluster): their worst added lag, for one
/// indexed query per interval. This node's commits wake it at once.
pub const FEED_POLL_INTERVAL: Duration = Duration::from_millis(25);

/// How often the lag gauges are recomputed (one or two small indexed queries).
pub const LAG_REFRESH_INTERVAL: Duration = Duration::from_millis(250);

/// First pause after a failed session; it doubles per consecutive failure…
pub const RETRY_BACKOFF_MIN: Duration = Duration::from_millis(100);
/// …up to this, so a relay finds a returned broker or database within
/// seconds without hammering one that is down.
pub const RETRY_BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Why a relay session ended. Every one is retried after a backoff, from
/// the broker's state; none loses or repeats an event.
#[derive(Debug, Error)]
pub enum RelayError {
    /// The broker could not be reached, or refused or timed out a request.
    #[error("broker: {0}")]
    Broker(String),
    /// A publish carried the wrong expected sequence: another publisher
    /// wrote to the stream, or an earlier publish of ours was lost.
    #[error("refused as out of sequence (another publisher, or a lost publish): {detail}")]
    Refused { detail: String },
    /// An ack named another stream sequence than the one the chain expects.
    #[error("broker stored sequence {stored} where {expected} was expected (duplicate: {duplicate})")]
    OutOfStep { expected: u64, stored: u64, duplicate: bool },
    /// The stream's last message has no relay headers: something else
    /// publishes on the relay's subjects, and where to resume is unknown.
    #[error("stream message {sequence} on {subject} was not published by a relay (no feed position header)")]
    ForeignMessage { sequence: u64, subject: String },
    /// The broker holds an event the journal does not have at that position:
    /// the stream belongs to another database.
    #[error("the broker's last event {train_date}:{seq} at position {position} is not in this journal")]
    NotThisJournal { position: u64, train_date: String, seq: u64 },
    #[error("journal: {0}")]
    Journal(#[from] JournalError),
}

/// A relay, ready to run: where to publish, the journal's feed, and this
/// node's commit signal.
#[derive(Clone)]
pub struct Relay {
    pub settings: BrokerSettings,
    pub source: Arc<dyn FeedSource>,
    /// Changes after each commit of this node's journal writer: a caught-up
    /// relay wakes at once for those, and polls for other nodes' commits.
    pub commits: Option<watch::Receiver<u64>>,
}

impl Relay {
    /// Runs until the task is dropped: sessions, each from the broker's
    /// state, with a bounded backoff between failed ones; and beside them
    /// the lag gauges, kept current even while a session waits on a broker
    /// that does not answer.
    pub async fn run(self) {
        info!(url = %self.settings.url, stream = %self.settings.stream, "relay to NATS JetStream starting");
        let progress = Arc::new(Progress::default());
        let gauges = publish_lag_gauges(Arc::clone(&self.source), Arc::clone(&progress));
        tokio::select! {
            () = self.sessions(Arc::clone(&progress)) => {}
            () = gauges => {}
        }
    }

    async fn sessions(mut self, progress: Arc<Progress>) {
        let mut failures = 0u32;
        let broker = loop {
            match Broker::connect(&self.settings).await {
                Ok(broker) => break broker,
                Err(error) => {
                    failures += 1;
                    warn!(%error, "relay cannot reach the broker; retrying");
                    tokio::time::sleep(backoff(failures)).await;
                }
            }
        };
        // The client reconnects by itself from now on.
        let _ = progress.client.set(broker.client());
        loop {
            let error = relay(&broker, &*self.source, &mut self.commits, &progress, &mut failures).await;
            failures += 1;
            warn!(%error, failures, "relay session ended; resuming from the broker's state");
            tokio::time::sleep(backoff(failures)).await;
        }
    }
}

/// What the sessions have done, for the lag gauges.
#[derive(Debug, Default)]
struct Progress {
    /// Feed position of the last event the broker acknowledged (or holds,
    /// when a session begins).
    published_position: AtomicU64,
    client: OnceLock<async_nats::Client>,
}

impl Progress {
    fn note(&self, session: &Session<'_>) {
        if let Some(confirmed) = session.confirmed {
            self.published_position.fetch_max(confirmed.position, Ordering::Relaxed);
        }
    }
}

/// One session: resume after the broker's tail, then publish every batch
/// the journal commits, until something fails.
async fn relay(
    broker: &Broker,
    source: &dyn FeedSource,
    commits: &mut Option<watch::Receiver<u64>>,
    progress: &Progress,
    failures: &mut u32,
) -> RelayError {
    let (mut session, mark) = match Session::begin(broker).await {
        Ok(begun) => begun,
        Err(error) => return error,
    };
    let mut cursor = Cursor::after(mark);
    info!(resume_after_position = cursor.published_position(), "relay session resumes from the broker's tail");
    progress.published_position.store(cursor.published_position(), Ordering::Relaxed);
    loop {
        let batches = match source.read_feed(cursor.read_after(), FEED_PAGE_POSITIONS).await {
            Ok(batches) => batches,
            Err(error) => return error.into(),
        };
        if let Err(error) = cursor.check_resumed(&batches) {
            return error;
        }
        for batch in &batches {
            if let Err(error) = publish_batch(&mut session, &mut cursor, batch).await {
                return error;
            }
            progress.note(&session);
        }
        if batches.is_empty() {
            // Nothing new: make sure what was sent is stored before idling.
            if let Err(error) = session.drain().await {
                return error;
            }
            progress.note(&session);
            *failures = 0;
            wait_for_commits(commits).await;
        }
    }
}

async fn publish_batch(session: &mut Session<'_>, cursor: &mut Cursor, batch: &FeedBatch) -> Result<(), RelayError> {
    let key = parse_stream_id(&batch.stream).ok_or_else(|| {
        JournalError::Corrupt(format!("feed position {}: stream id {:?}", batch.position, batch.stream))
    })?;
    let subject = subjects::subject_of(&key);
    for event in crate::convert::feed_events(batch)? {
        if !cursor.to_publish(batch.position, event.seq) {
            continue;
        }
        let outgoing = Outgoing {
            train_date: batch.stream.clone(),
            subject: subject.clone(),
            message_id: subjects::message_id(&key, event.seq),
            position: batch.position,
            seq: event.seq,
            committed_at_ms: batch.committed_at_ms,
            payload: event.encode_to_vec().into(),
        };
        session.publish(outgoing).await?;
    }
    cursor.passed(batch.position);
    Ok(())
}

/// Until this node commits, or `FEED_POLL_INTERVAL` passes.
async fn wait_for_commits(commits: &mut Option<watch::Receiver<u64>>) {
    match commits {
        Some(receiver) => {
            // A writer that stopped (shutdown) leaves the plain poll.
            if let Ok(Err(_)) = tokio::time::timeout(FEED_POLL_INTERVAL, receiver.changed()).await {
                *commits = None;
            }
        }
        None => tokio::time::sleep(FEED_POLL_INTERVAL).await,
    }
}

/// Bounded exponential backoff after `failures` consecutive failures.
pub fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    RETRY_BACKOFF_MIN.saturating_mul(1 << doublings).min(RETRY_BACKOFF_MAX)
}

/// Keeps the lag gauges current, every `LAG_REFRESH_INTERVAL`, for ever.
async fn publish_lag_gauges(source: Arc<dyn FeedSource>, progress: Arc<Progress>) {
    loop {
        let connected = progress
            .client
            .get()
            .is_some_and(|client| client.connection_state() == async_nats::connection::State::Connected);
        metrics::gauge!("seat_relay_connected").set(if connected { 1.0 } else { 0.0 });
        let published = progress.published_position.load(Ordering::Relaxed);
        if let Ok(head) = source.feed_head().await {
            metrics::gauge!("seat_relay_lag_events").set(head.saturating_sub(published) as f64);
            let oldest_unpublished = match head > published {
                true => {
                    source.read_feed(published, 1).await.ok().and_then(|page| page.first().map(|b| b.committed_at_ms))
                }
                false => None,
            };
            // 0 for history from before the feed existed: its instant is unknown.
            let age_ms = oldest_unpublished
                .filter(|committed_at_ms| *committed_at_ms > 0)
                .map_or(0, |committed_at_ms| unix_now_ms().saturating_sub(committed_at_ms));
            metrics::gauge!("seat_relay_lag_ms").set(age_ms as f64);
        }
        tokio::time::sleep(LAG_REFRESH_INTERVAL).await;
    }
}

fn unix_now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds() {
        assert_eq!(backoff(1), RETRY_BACKOFF_MIN);
        assert_eq!(backoff(2), RETRY_BACKOFF_MIN * 2);
        assert_eq!(backoff(40), RETRY_BACKOFF_MAX);
    }
}
