//! Harness of the relay tests: a real nats-server (`nats`), a consumer that
//! reads a whole stream, and the check that what it read is the journal,
//! every event exactly once and in seq order per train-date.

pub mod nats;

use api::pb;
use async_nats::jetstream::consumer::pull::OrderedConfig;
use persistence::journal::Journal;
use prost::Message as _;
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use tokio_stream::StreamExt;

/// Longest a consumer waits for the next message of a stream that should
/// hold more: the broker delivers from its store in milliseconds.
const NEXT_MESSAGE_TIMEOUT: Duration = Duration::from_secs(10);

/// One message as a consumer saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub stream_sequence: u64,
    pub subject: String,
    pub message_id: String,
    pub event: pb::FeedEvent,
    /// When the broker stored it, Unix ms.
    pub stored_at_ms: i64,
}

/// Reads every message of `stream` with an ordered consumer, as a
/// downstream system would.
pub async fn read_stream(url: &str, stream: &str) -> Vec<Received> {
    let client = async_nats::connect(url).await.expect("consumer connects");
    let jetstream = async_nats::jetstream::new(client);
    let mut handle = jetstream.get_stream(stream).await.expect("stream exists");
    let total = handle.info().await.expect("stream info").state.messages;
    let consumer = handle.create_consumer(OrderedConfig::default()).await.expect("ordered consumer");
    let mut messages = consumer.messages().await.expect("consume");
    let mut received = Vec::new();
    while (received.len() as u64) < total {
        let message = tokio::time::timeout(NEXT_MESSAGE_TIMEOUT, messages.next())
            .await
            .expect("next message in time")
            .expect("stream goes on")
            .expect("message");
        let info = message.info().expect("jetstream message info");
        let message_id = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("Nats-Msg-Id"))
            .map(|value| value.as_str().to_owned())
            .expect("every message has a Nats-Msg-Id");
        received.push(Received {
            stream_sequence: info.stream_sequence,
            subject: message.subject.to_string(),
            message_id,
            event: pb::FeedEvent::decode(message.payload.as_ref()).expect("payload is a FeedEvent"),
            stored_at_ms: info.published.timestamp_millis(),
        });
    }
    received
}

/// `(train-date stream id, seq)` → event kind, from the journal.
pub type JournalEvents = BTreeMap<(String, u64), String>;

/// What the stream held, checked against the journal.
#[derive(Debug)]
pub struct Verdict {
    pub messages: usize,
    pub duplicates: usize,
    pub subjects: usize,
}

/// How many messages the stream holds.
pub async fn stream_messages(url: &str, stream: &str) -> u64 {
    let client = async_nats::connect(url).await.expect("connect");
    let jetstream = async_nats::jetstream::new(client);
    let mut handle = jetstream.get_stream(stream).await.expect("the relay created the stream");
    handle.info().await.expect("stream info").state.messages
}

/// Drops repeats by `Nats-Msg-Id`, then checks the stream holds exactly
/// the journal's events, each on its train-date's subject, in seq order
/// there, with payloads that name the same event.
pub fn verify(received: &[Received], journal: &JournalEvents) -> Verdict {
    let sequences: Vec<u64> = received.iter().map(|message| message.stream_sequence).collect();
    assert!(sequences.iter().copied().eq(1..=received.len() as u64), "the consumer read the stream in order, no gap");
    let mut seen = HashSet::new();
    let mut duplicates = 0;
    let mut last_seq_by_subject: BTreeMap<String, u64> = BTreeMap::new();
    let mut found = JournalEvents::new();
    for message in received {
        if !seen.insert(message.message_id.clone()) {
            duplicates += 1;
            continue;
        }
        let train_date = message.event.train_date.clone().expect("event names its train-date");
        let stream_id = format!("{}/{}", train_date.date, train_date.train);
        assert_eq!(message.message_id, format!("{stream_id}:{}", message.event.seq), "message id names the event");
        assert_eq!(message.subject, format!("seat.events.{}.{}", train_date.date, train_date.train));
        let last = last_seq_by_subject.entry(message.subject.clone()).or_default();
        assert_eq!(message.event.seq, *last + 1, "{}: seqs in order with no gap", message.subject);
        *last = message.event.seq;
        let kind = journal
            .get(&(stream_id.clone(), message.event.seq))
            .unwrap_or_else(|| panic!("{stream_id}:{} is on the broker but was never committed", message.event.seq));
        assert!(message.event.event.is_some(), "{stream_id}:{} ({kind}) carries its typed event", message.event.seq);
        found.insert((stream_id, message.event.seq), kind.clone());
    }
    let missing: Vec<_> = journal.keys().filter(|key| !found.contains_key(*key)).take(5).collect();
    assert!(missing.is_empty(), "committed events missing from the broker (first 5): {missing:?}");
    Verdict { messages: received.len(), duplicates, subjects: last_seq_by_subject.len() }
}

/// p50 and p99 of commit → broker store, in ms, from each event's commit
/// instant (in its payload) and the broker's store time.
pub fn commit_to_broker_ms(received: &[Received]) -> (i64, i64) {
    let mut lags: Vec<i64> = received
        .iter()
        .filter(|message| message.event.committed_at_ms > 0)
        .map(|message| message.stored_at_ms - message.event.committed_at_ms as i64)
        .collect();
    lags.sort_unstable();
    let at = |quantile: f64| lags.get(((lags.len() as f64 - 1.0) * quantile) as usize).copied().unwrap_or(0);
    (at(0.5), at(0.99))
}

/// Events per page when reading a stream back.
const READ_PAGE: usize = 1000;

/// Every event of every train-date, read from the journal's tables.
pub async fn journal_events(journal: &impl Journal) -> JournalEvents {
    let mut events = JournalEvents::new();
    for train_date in journal.load_train_dates().await.expect("train-dates") {
        let stream = persistence::journal::stream_id(&train_date.key);
        let mut after = 0;
        loop {
            let page = journal.read_events(&stream, after, READ_PAGE).await.expect("read events");
            let Some(last) = page.last() else { break };
            after = last.seq;
            for event in page {
                events.insert((stream.clone(), event.seq), event.kind);
            }
        }
    }
    events
}
