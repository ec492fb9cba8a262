//! Versioned encoding of engine events for storage.
//!
//! A stored event is its kind, its schema version and its JSON body. Readers
//! refuse versions newer than they know rather than guess at their meaning.

use engine::domain::event::{EVENT_SCHEMA_VERSION, Event, EventRecord};
use thiserror::Error;

/// An event as a journal row stores it (the seq and stream key live beside it).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredEvent {
    /// 1-based, gapless position in the stream; the journal refuses gaps and repeats.
    pub seq: u64,
    /// `Event::kind`, kept in its own column so operators can filter without parsing JSON.
    pub kind: String,
    /// The `EVENT_SCHEMA_VERSION` it was written with; `decode` refuses newer ones.
    pub version: u16,
    /// The engine's `Event` as JSON, tagged with its kind.
    pub body: String,
}

/// A stored event with the stream it belongs to: what a read of several
/// streams at once returns.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct StreamEvent {
    #[sqlx(rename = "train_date")]
    pub stream: String,
    #[sqlx(flatten)]
    pub event: StoredEvent,
}

/// Why a stored event does not decode: data this build cannot read, which
/// a reader refuses rather than guess at its meaning.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CodecError {
    /// Written by a newer build.
    #[error("event seq {seq}: schema version {version} is newer than this build's {EVENT_SCHEMA_VERSION}")]
    UnknownVersion { seq: u64, version: u16 },
    /// The `kind` column disagrees with the body: a row edited by hand or a bug.
    #[error("event seq {seq}: stored kind {stored:?} does not match body kind {decoded:?}")]
    KindMismatch { seq: u64, stored: String, decoded: &'static str },
    /// The body is not JSON of any known event.
    #[error("event seq {seq}: {reason}")]
    Malformed { seq: u64, reason: String },
}

/// An event as its row stores it.
pub fn encode(record: &EventRecord) -> StoredEvent {
    StoredEvent {
        seq: record.seq,
        kind: record.event.kind().to_owned(),
        version: record.version,
        body: serde_json::to_string(&record.event).expect("events always serialise"),
    }
}

/// A stored row back into its event, checking version and kind.
pub fn decode(stored: &StoredEvent) -> Result<EventRecord, CodecError> {
    if stored.version > EVENT_SCHEMA_VERSION {
        return Err(CodecError::UnknownVersion { seq: stored.seq, version: stored.version });
    }
    let event: Event = serde_json::from_str(&stored.body)
        .map_err(|error| CodecError::Malformed { seq: stored.seq, reason: error.to_string() })?;
    if event.kind() != stored.kind {
        return Err(CodecError::KindMismatch { seq: stored.seq, stored: stored.kind.clone(), decoded: event.kind() });
    }
    Ok(EventRecord { seq: stored.seq, version: stored.version, event })
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::domain::event::SeatsHeld;
    use engine::domain::order::{OrderId, Ticket};
    use engine::domain::seat_class::SeatClass;

    fn held() -> EventRecord {
        EventRecord {
            seq: 7,
            version: EVENT_SCHEMA_VERSION,
            event: Event::SeatsHeld(SeatsHeld {
                order_id: OrderId::generate(),
                user_id: "alice".into(),
                request_id: "r1".into(),
                from: 0,
                to: 3,
                tickets: vec![Ticket {
                    passenger_name: "张三".into(),
                    id_number: "11010519491231002X".into(),
                    class: SeatClass::Second,
                    seat: 42,
                    fare_fen: 47_448,
                    preference_met: true,
                }],
                held_at_ms: 1,
                expires_at_ms: 600_001,
            }),
        }
    }

    #[test]
    fn round_trips_every_field() {
        let record = held();
        let stored = encode(&record);
        assert_eq!(stored.kind, "seats_held");
        assert_eq!(decode(&stored), Ok(record));
    }

    #[test]
    fn refuses_newer_versions_and_mismatched_kinds() {
        let mut stored = encode(&held());
        stored.version = EVENT_SCHEMA_VERSION + 1;
        assert!(matches!(decode(&stored), Err(CodecError::UnknownVersion { .. })));
        let mut stored = encode(&held());
        stored.kind = "sales_closed".into();
        assert!(matches!(decode(&stored), Err(CodecError::KindMismatch { .. })));
        stored.body = "{".into();
        assert!(matches!(decode(&stored), Err(CodecError::Malformed { .. })));
    }
}
