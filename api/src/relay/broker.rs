//! The relay's side of NATS JetStream: connecting, creating the stream if it
//! is missing, reading where the broker's copy of the journal ends, and
//! publishing one event with the headers that make a repeat or a stale
//! publisher harmless.

use super::RelayError;
use super::subjects::{self, POSITION_HEADER, SEQ_HEADER, TRAIN_DATE_HEADER};
use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use async_nats::jetstream::stream::{self, DiscardPolicy, LastRawMessageErrorKind, RetentionPolicy, StorageType};
use async_nats::jetstream::{self as js, message::StreamMessage};
use bytes::Bytes;
use std::time::Duration;

/// Longest the relay waits for the broker to answer a request or acknowledge
/// a publish; after it, the relay re-reads the broker's state and goes on.
pub const BROKER_TIMEOUT: Duration = Duration::from_secs(3);

/// Longest wait before the client tries to reconnect to a broker it lost:
/// a restarted broker is back in use within this of answering again.
pub const RECONNECT_DELAY_MAX: Duration = Duration::from_secs(2);

/// How long the broker remembers message ids to drop a repeat. The relay
/// resumes from what the broker holds, so it repeats an event only when
/// two relays overlap (a failover) or an acknowledgement was lost; both
/// are resolved within seconds. Ten minutes covers any such overlap with
/// room to spare, for the cost of one id per event of those minutes.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(600);

/// Where and how the relay publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerSettings {
    /// `nats://host:port`, or several comma-separated.
    pub url: String,
    /// The JetStream stream, created with [`stream_config`] if missing.
    pub stream: String,
    /// Replicas of a stream the relay creates (3 in a NATS cluster).
    pub replicas: usize,
}

impl BrokerSettings {
    /// The servers `url` names, comma-separated.
    pub fn servers(&self) -> Vec<&str> {
        self.url.split(',').map(str::trim).filter(|server| !server.is_empty()).collect()
    }
}

/// The stream a relay creates when none exists: every train-date's
/// subject, on disk, never discarding an event (a full stream refuses new
/// ones, which the relay retries, rather than dropping unconsumed ones), no
/// deletes of single events, and the duplicate window.
pub fn stream_config(settings: &BrokerSettings) -> stream::Config {
    stream::Config {
        name: settings.stream.clone(),
        description: Some("Committed seat journal events, one subject per train-date (seatd relay)".into()),
        subjects: vec![subjects::stream_subjects()],
        storage: StorageType::File,
        num_replicas: settings.replicas.max(1),
        retention: RetentionPolicy::Limits,
        discard: DiscardPolicy::New,
        max_messages: -1,
        max_bytes: -1,
        max_messages_per_subject: -1,
        duplicate_window: DUPLICATE_WINDOW,
        deny_delete: true,
        ..Default::default()
    }
}

/// One event ready to publish.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// The journal's stream id, `YYYY-MM-DD/TRAIN`.
    pub train_date: String,
    pub subject: String,
    pub message_id: String,
    pub position: u64,
    pub seq: u64,
    pub committed_at_ms: u64,
    /// The protobuf-encoded `FeedEvent`.
    pub payload: Bytes,
}

/// Where the broker's copy of the journal ends: the feed position and seq
/// of its last event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub position: u64,
    pub train_date: String,
    pub seq: u64,
}

/// The stream's state when a relay session begins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tail {
    /// The stream's last sequence: what the next publish expects.
    pub last_sequence: u64,
    /// The last event the broker holds, if it holds any.
    pub mark: Option<Mark>,
}

/// A connection to the broker and the stream's handle.
pub struct Broker {
    client: async_nats::Client,
    jetstream: js::Context,
    /// Addresses the stream by name, whichever incarnation of it exists.
    stream: stream::Stream,
    settings: BrokerSettings,
}

impl Broker {
    /// Connects and makes sure the stream exists (an existing stream's
    /// settings are left as the operator made them).
    pub async fn connect(settings: &BrokerSettings) -> Result<Broker, RelayError> {
        let client = async_nats::ConnectOptions::new()
            .name("seatd-relay")
            .connection_timeout(BROKER_TIMEOUT)
            .request_timeout(Some(BROKER_TIMEOUT))
            .reconnect_delay_callback(reconnect_delay)
            .connect(settings.servers())
            .await
            .map_err(|error| RelayError::Broker(format!("connect to {}: {error}", settings.url)))?;
        let jetstream = js::ContextBuilder::new().timeout(BROKER_TIMEOUT).build(client.clone());
        let stream = jetstream
            .get_or_create_stream(stream_config(settings))
            .await
            .map_err(|error| RelayError::Broker(format!("stream {}: {error}", settings.stream)))?;
        Ok(Broker { client, jetstream, stream, settings: settings.clone() })
    }

    /// The client, for its connection state.
    pub fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// The stream's last sequence and the last event it holds. Creates the
    /// stream again if an operator deleted it since the relay connected.
    pub async fn tail(&self) -> Result<Tail, RelayError> {
        let stream = self
            .jetstream
            .get_or_create_stream(stream_config(&self.settings))
            .await
            .map_err(|error| RelayError::Broker(format!("stream {}: {error}", self.settings.stream)))?;
        let info = stream.cached_info();
        let last_sequence = info.state.last_sequence;
        if info.state.messages == 0 {
            return Ok(Tail { last_sequence, mark: None });
        }
        let message = self
            .stream
            .get_raw_message(last_sequence)
            .await
            .map_err(|error| RelayError::Broker(format!("stream message {last_sequence}: {error}")))?;
        Ok(Tail { last_sequence, mark: Some(mark_of(&message)?) })
    }

    /// The stream sequence of the last message on `subject`; 0 for none.
    pub async fn subject_last_sequence(&self, subject: &str) -> Result<u64, RelayError> {
        match self.stream.get_last_raw_message_by_subject(subject).await {
            Ok(message) => Ok(message.sequence),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(0),
            Err(error) => Err(RelayError::Broker(format!("last message of {subject}: {error}"))),
        }
    }

    /// Sends one event; the broker stores it only if the stream's last
    /// sequence is `expected_last` and the subject's is `expected_subject_last`.
    pub async fn publish(
        &self,
        event: &Outgoing,
        expected_last: u64,
        expected_subject_last: u64,
    ) -> Result<PublishAckFuture, RelayError> {
        let mut headers = HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, event.message_id.as_str());
        headers.insert(async_nats::header::NATS_EXPECTED_LAST_SEQUENCE, expected_last.to_string().as_str());
        headers.insert(
            async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
            expected_subject_last.to_string().as_str(),
        );
        headers.insert(POSITION_HEADER, event.position.to_string().as_str());
        headers.insert(SEQ_HEADER, event.seq.to_string().as_str());
        headers.insert(TRAIN_DATE_HEADER, event.train_date.as_str());
        self.jetstream
            .publish_with_headers(event.subject.clone(), headers, event.payload.clone())
            .await
            .map_err(|error| RelayError::Broker(format!("publish {}: {error}", event.message_id)))
    }
}

/// The relay's headers of a stored message; a message without them was not
/// published by a relay, and the relay will not guess where to resume.
pub fn mark_of(message: &StreamMessage) -> Result<Mark, RelayError> {
    let header = |name: &str| message.headers.get(name).map(|value| value.as_str().to_owned());
    let number = |name: &str| header(name).and_then(|value| value.parse::<u64>().ok());
    match (number(POSITION_HEADER), header(TRAIN_DATE_HEADER), number(SEQ_HEADER)) {
        (Some(position), Some(train_date), Some(seq)) => Ok(Mark { position, train_date, seq }),
        _ => Err(RelayError::ForeignMessage { sequence: message.sequence, subject: message.subject.to_string() }),
    }
}

/// Doubling from 50 ms, capped at [`RECONNECT_DELAY_MAX`].
fn reconnect_delay(attempts: usize) -> Duration {
    let doublings = attempts.min(16) as u32;
    Duration::from_millis(50u64.saturating_mul(1 << doublings)).min(RECONNECT_DELAY_MAX)
}
