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
//! train-date commit batch), `seat_relay_lag_ms` (age of the oldest of them),
//! `seat_relay_connected` (1 while connected), counter `seat_relay_published_total`.

pub mod broker;
pub mod cursor;
pub mod session;
pub mod subjects;

use broker::{Broker, BrokerSettings, Outgoing};
use cursor::Cursor;
use persistence::feed::{FeedBatch, FeedSource};
use prost::Message as _;
use persistence::journal::{JournalError, parse_stream_id};
use session::Session;
use std::sync::Arc;
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

/// How often the lag gauges are recomputed (one or two small queries).
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
    /// state, with a bounded backoff between failed ones.
    pub async fn run(mut self) {
        info!(url = %self.settings.url, stream = %self.settings.stream, "relay to NATS JetStream starting");
        let source = Arc::clone(&self.source);
        let mut lag = Lag::default();
        let mut broker: Option<Broker> = None;
        let mut failures = 0u32;
        loop {
            if broker.is_none() {
                match Broker::connect(&self.settings).await {
                    Ok(connected) => broker = Some(connected),
                    Err(error) => {
                        failures += 1;
                        warn!(%error, "relay cannot reach the broker; retrying");
                        pause(backoff(failures), &*source, &mut lag, false).await;
                        continue;
                    }
                }
            }
            let connected = broker.as_ref().expect("connected above");
            let error = relay(connected, &*source, &mut self.commits, &mut lag, &mut failures).await;
            failures += 1;
            warn!(%error, failures, "relay session ended; resuming from the broker's state");
            pause(backoff(failures), &*source, &mut lag, connected.connected()).await;
        }
    }
}

/// One session: resume after the broker's tail, then publish every batch
/// the journal commits, until something fails.
async fn relay(
    broker: &Broker,
    source: &dyn FeedSource,
    commits: &mut Option<watch::Receiver<u64>>,
    lag: &mut Lag,
    failures: &mut u32,
) -> RelayError {
    let (mut session, mark) = match Session::begin(broker).await {
        Ok(begun) => begun,
        Err(error) => return error,
    };
    let mut cursor = Cursor::after(mark);
    info!(resume_after_position = cursor.published_position(), "relay session resumes from the broker's tail");
    lag.published = cursor.published_position();
    lag.counted = 0;
    loop {
        let batches = match source.read_feed(cursor.read_after(), FEED_PAGE_POSITIONS).await {
            Ok(batches) => batches,
            Err(error) => return error.into(),
        };
        if let Err(error) = cursor.check_resumed(&batches) {
            return error;
        }
        let caught_up = batches.is_empty();
        for batch in &batches {
            if let Err(error) = publish_batch(&mut session, &mut cursor, batch).await {
                return error;
            }
            lag.note(&session, broker.connected());
        }
        lag.refresh(source, broker.connected()).await;
        if caught_up {
            // Nothing new: make sure what was sent is stored before idling.
            if let Err(error) = session.drain().await {
                return error;
            }
            lag.note(&session, broker.connected());
            *failures = 0;
            lag.refresh(source, broker.connected()).await;
            wait_for_commits(commits).await;
        }
    }
}

async fn publish_batch(session: &mut Session<'_>, cursor: &mut Cursor, batch: &FeedBatch) -> Result<(), RelayError> {
    let key = parse_stream_id(&batch.stream)
        .ok_or_else(|| JournalError::Corrupt(format!("feed position {}: stream id {:?}", batch.position, batch.stream)))?;
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

/// Waits `delay`, keeping the lag gauges current meanwhile.
async fn pause(delay: Duration, source: &dyn FeedSource, lag: &mut Lag, connected: bool) {
    let until = tokio::time::Instant::now() + delay;
    loop {
        lag.refresh(source, connected).await;
        let now = tokio::time::Instant::now();
        if now >= until {
            return;
        }
        tokio::time::sleep(LAG_REFRESH_INTERVAL.min(until - now)).await;
    }
}

/// What the lag gauges are computed from.
#[derive(Debug, Default)]
struct Lag {
    /// Feed position of the last event the broker acknowledged.
    published: u64,
    /// Events acknowledged by the sessions so far, already counted.
    counted: u64,
    refreshed_at: Option<tokio::time::Instant>,
}

impl Lag {
    /// Takes in a session's acknowledgements.
    fn note(&mut self, session: &Session<'_>, connected: bool) {
        if let Some(confirmed) = session.confirmed {
            self.published = self.published.max(confirmed.position);
        }
        metrics::counter!("seat_relay_published_total").increment(session.acknowledged.saturating_sub(self.counted));
        self.counted = session.acknowledged;
        metrics::gauge!("seat_relay_connected").set(if connected { 1.0 } else { 0.0 });
    }

    /// Recomputes the gauges, at most every `LAG_REFRESH_INTERVAL`.
    async fn refresh(&mut self, source: &dyn FeedSource, connected: bool) {
        let now = tokio::time::Instant::now();
        if self.refreshed_at.is_some_and(|at| now - at < LAG_REFRESH_INTERVAL) {
            return;
        }
        self.refreshed_at = Some(now);
        metrics::gauge!("seat_relay_connected").set(if connected { 1.0 } else { 0.0 });
        let Ok(head) = source.feed_head().await else { return };
        metrics::gauge!("seat_relay_lag_events").set(head.saturating_sub(self.published) as f64);
        let oldest_unpublished = if head > self.published {
            source.read_feed(self.published, 1).await.ok().and_then(|batches| batches.first().map(|b| b.committed_at_ms))
        } else {
            None
        };
        let age_ms = oldest_unpublished.map_or(0, |committed_at_ms| unix_now_ms().saturating_sub(committed_at_ms));
        metrics::gauge!("seat_relay_lag_ms").set(age_ms as f64);
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
