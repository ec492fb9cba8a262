//! Journal events → `FeedEvent` messages, typed per event kind: what
//! StreamEvents sends and what the NATS relay publishes.

use crate::convert::{seat_class_to_pb, train_date_pb};
use crate::pb::{self, feed_event::Event as FeedKind};
use engine::domain::event::{Event, EventRecord, SeatsHeld};
use engine::domain::state::TrainDateKey;
use persistence::codec::decode;
use persistence::feed::FeedBatch;
use persistence::journal::{JournalError, parse_stream_id};

/// One committed event as a `FeedEvent`: `position` is the feed position
/// of the append that committed it, `committed_at_ms` that append's instant.
pub fn feed_event(
    position: u64,
    stream: &TrainDateKey,
    committed_at_ms: u64,
    fence_token: Option<u64>,
    record: &EventRecord,
) -> pb::FeedEvent {
    pb::FeedEvent {
        position,
        seq: record.seq,
        train_date: Some(train_date_pb(stream)),
        committed_at_ms,
        fence_token: fence_token.unwrap_or(0),
        event: Some(event_pb(&record.event)),
    }
}

/// Every event of one feed position, decoded, in seq order. `Corrupt` when
/// the stream id or an event does not decode: data this build cannot read.
pub fn feed_events(batch: &FeedBatch) -> Result<Vec<pb::FeedEvent>, JournalError> {
    let stream = parse_stream_id(&batch.stream).ok_or_else(|| {
        JournalError::Corrupt(format!("feed position {}: stream id {:?}", batch.position, batch.stream))
    })?;
    batch
        .events
        .iter()
        .map(|stored| {
            let record = decode(stored).map_err(|error| {
                JournalError::Corrupt(format!("feed position {} {}: {error}", batch.position, batch.stream))
            })?;
            Ok(feed_event(batch.position, &stream, batch.committed_at_ms, batch.fence_token, &record))
        })
        .collect()
}

fn event_pb(event: &Event) -> FeedKind {
    match event {
        Event::SeatsHeld(held) => FeedKind::SeatsHeld(seats_held_pb(held)),
        Event::OrderConfirmed { order_id, at_ms } => {
            FeedKind::OrderConfirmed(pb::OrderConfirmedEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::HoldCancelled { order_id, at_ms } => {
            FeedKind::HoldCancelled(pb::HoldCancelledEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::TicketsRefunded { order_id, at_ms } => {
            FeedKind::TicketsRefunded(pb::TicketsRefundedEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::HoldExpired { order_id, at_ms } => {
            FeedKind::HoldExpired(pb::HoldExpiredEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::SalesClosed { at_ms } => FeedKind::SalesClosed(pb::SalesClosedEvent { at_ms: *at_ms }),
    }
}

fn seats_held_pb(held: &SeatsHeld) -> pb::SeatsHeldEvent {
    pb::SeatsHeldEvent {
        order_id: held.order_id.to_string(),
        user_id: held.user_id.clone(),
        request_id: held.request_id.clone(),
        from_stop_index: held.from.into(),
        to_stop_index: held.to.into(),
        tickets: held
            .tickets
            .iter()
            .map(|ticket| pb::HeldTicket {
                passenger_name: ticket.passenger_name.clone(),
                id_number: ticket.id_number.clone(),
                seat_class: seat_class_to_pb(ticket.class).into(),
                seat_index: ticket.seat,
                fare_fen: ticket.fare_fen,
                preference_met: ticket.preference_met,
            })
            .collect(),
        held_at_ms: held.held_at_ms,
        expires_at_ms: held.expires_at_ms,
    }
}

/// The name of a feed event's kind, as the journal's `kind` column spells it.
pub fn feed_kind_name(event: &pb::FeedEvent) -> &'static str {
    match &event.event {
        Some(FeedKind::SeatsHeld(_)) => "seats_held",
        Some(FeedKind::OrderConfirmed(_)) => "order_confirmed",
        Some(FeedKind::HoldCancelled(_)) => "hold_cancelled",
        Some(FeedKind::TicketsRefunded(_)) => "tickets_refunded",
        Some(FeedKind::HoldExpired(_)) => "hold_expired",
        Some(FeedKind::SalesClosed(_)) => "sales_closed",
        None => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::domain::event::EVENT_SCHEMA_VERSION;
    use engine::domain::order::{OrderId, Ticket};
    use engine::domain::seat_class::SeatClass;
    use persistence::codec::encode;

    fn record(seq: u64, event: Event) -> EventRecord {
        EventRecord { seq, version: EVENT_SCHEMA_VERSION, event }
    }

    #[test]
    fn every_event_kind_becomes_its_typed_message() {
        let order_id = OrderId::generate();
        let held = SeatsHeld {
            order_id,
            user_id: "alice".into(),
            request_id: "r1".into(),
            from: 1,
            to: 3,
            tickets: vec![Ticket {
                passenger_name: "张三".into(),
                id_number: "11010519491231002X".into(),
                class: SeatClass::First,
                seat: 17,
                fare_fen: 93_300,
                preference_met: false,
            }],
            held_at_ms: 5,
            expires_at_ms: 600_005,
        };
        let events = [
            Event::SeatsHeld(held),
            Event::OrderConfirmed { order_id, at_ms: 6 },
            Event::TicketsRefunded { order_id, at_ms: 7 },
            Event::HoldCancelled { order_id, at_ms: 8 },
            Event::HoldExpired { order_id, at_ms: 9 },
            Event::SalesClosed { at_ms: 10 },
        ];
        let batch = FeedBatch {
            position: 42,
            stream: "2026-12-01/G1".into(),
            committed_at_ms: 1_000,
            fence_token: Some(3),
            events: events.iter().zip(1..).map(|(event, seq)| encode(&record(seq, event.clone()))).collect(),
        };
        let sent = feed_events(&batch).unwrap();
        let kinds: Vec<&str> = sent.iter().map(feed_kind_name).collect();
        let stored: Vec<&str> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds, stored);
        let first = &sent[0];
        assert_eq!((first.position, first.seq, first.committed_at_ms, first.fence_token), (42, 1, 1_000, 3));
        assert_eq!(first.train_date, Some(pb::TrainDate { train: "G1".into(), date: "2026-12-01".into() }));
        let Some(FeedKind::SeatsHeld(held)) = &first.event else { panic!("seats_held first") };
        assert_eq!((held.from_stop_index, held.to_stop_index, held.expires_at_ms), (1, 3, 600_005));
        assert_eq!(held.tickets[0].id_number, "11010519491231002X");
        assert_eq!(held.tickets[0].seat_class, pb::SeatClass::First as i32);
        assert_eq!((held.tickets[0].seat_index, held.tickets[0].fare_fen), (17, 93_300));
        assert_eq!(sent[5].seq, 6);
    }

    #[test]
    fn undecodable_rows_are_corrupt() {
        let mut batch = FeedBatch {
            position: 1,
            stream: "not a stream".into(),
            committed_at_ms: 0,
            fence_token: None,
            events: vec![encode(&record(1, Event::SalesClosed { at_ms: 1 }))],
        };
        assert!(matches!(feed_events(&batch), Err(JournalError::Corrupt(_))));
        batch.stream = "2026-12-01/G1".into();
        batch.events[0].body = "{".into();
        assert!(matches!(feed_events(&batch), Err(JournalError::Corrupt(_))));
    }
}
