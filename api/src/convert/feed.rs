//! Journal events → `FeedEvent` messages, typed per event kind: what
//! StreamEvents sends and what the NATS relay publishes.

use crate::convert::{seat_class_to_pb, train_date_pb};
use crate::pb::{self, feed_event::Event as FeedKind};
use engine::domain::allocation_policy::AllocationPolicy;
use engine::domain::change::{ChangeSettlement, InPlaceChange, IncomingChange, OutgoingChange};
use engine::domain::event::{Event, EventRecord, SeatsHeld};
use engine::domain::order::Ticket;
use engine::domain::state::TrainDateKey;
use engine::domain::waitlist::{ChoiceEnd, ChoiceRef, WaitingChoice, WaitlistPassenger};
use engine::workflow::request::RequestEvent;
use pb::waitlist_request_event::Step as RequestStep;
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
        kind: record.event.kind().to_owned(),
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
        Event::WaitlistRequest { request_id, event } => FeedKind::WaitlistRequest(pb::WaitlistRequestEvent {
            request_id: request_id.to_string(),
            step: Some(request_step_pb(event)),
        }),
        Event::SeatsHeld(held) => FeedKind::SeatsHeld(seats_held_pb(held)),
        Event::OrderConfirmed { order_id, at_ms } => {
            FeedKind::OrderConfirmed(pb::OrderConfirmedEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::HoldCancelled { order_id, at_ms } => {
            FeedKind::HoldCancelled(pb::HoldCancelledEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::TicketsRefunded { order_id, at_ms, fee_fen } => FeedKind::TicketsRefunded(pb::TicketsRefundedEvent {
            order_id: order_id.to_string(),
            at_ms: *at_ms,
            fee_fen: *fee_fen,
        }),
        Event::HoldExpired { order_id, at_ms } => {
            FeedKind::HoldExpired(pb::HoldExpiredEvent { order_id: order_id.to_string(), at_ms: *at_ms })
        }
        Event::SalesClosed { at_ms } => FeedKind::SalesClosed(pb::SalesClosedEvent { at_ms: *at_ms }),
        Event::WaitlistJoined(choice) => FeedKind::WaitlistJoined(waitlist_joined_pb(choice)),
        Event::WaitlistSeatsReserved { choice, tickets, at_ms } => {
            FeedKind::WaitlistSeatsReserved(pb::WaitlistSeatsReservedEvent {
                choice: Some(choice_pb(choice)),
                tickets: tickets_pb(tickets),
                at_ms: *at_ms,
            })
        }
        Event::WaitlistFulfilled { choice, at_ms } => {
            FeedKind::WaitlistFulfilled(pb::WaitlistFulfilledEvent { choice: Some(choice_pb(choice)), at_ms: *at_ms })
        }
        Event::WaitlistLeft { choice, end, at_ms } => FeedKind::WaitlistLeft(waitlist_left_pb(choice, end, *at_ms)),
        Event::ChangeStarted(change) => FeedKind::ChangeStarted(change_started_pb(change)),
        Event::ChangeSeatsTaken(change) => FeedKind::ChangeSeatsTaken(change_seats_taken_pb(change)),
        Event::ChangeCommitted { change_id, settlement, at_ms } => {
            FeedKind::ChangeCommitted(pb::ChangeCommittedEvent {
                change_id: change_id.to_string(),
                settlement: Some(settlement_pb(settlement)),
                at_ms: *at_ms,
            })
        }
        Event::ChangeAborted { change_id, at_ms } => {
            FeedKind::ChangeAborted(pb::ChangeAbortedEvent { change_id: change_id.to_string(), at_ms: *at_ms })
        }
        Event::ChangeSeatsReleased { change_id, source, at_ms } => {
            FeedKind::ChangeSeatsReleased(pb::ChangeSeatsReleasedEvent {
                change_id: change_id.to_string(),
                source: Some(train_date_pb(source)),
                at_ms: *at_ms,
            })
        }
        Event::ChangeCompleted { change_id, at_ms } => {
            FeedKind::ChangeCompleted(pb::ChangeCompletedEvent { change_id: change_id.to_string(), at_ms: *at_ms })
        }
        Event::TicketsChangedInPlace(change) => FeedKind::TicketsChangedInPlace(changed_in_place_pb(change)),
    }
}

fn tickets_pb(tickets: &[Ticket]) -> Vec<pb::HeldTicket> {
    tickets
        .iter()
        .map(|ticket| pb::HeldTicket {
            passenger_name: ticket.passenger_name.clone(),
            id_number: ticket.id_number.clone(),
            seat_class: seat_class_to_pb(ticket.class).into(),
            seat_index: ticket.seat,
            fare_fen: ticket.fare_fen,
            preference_met: ticket.preference_met,
        })
        .collect()
}

fn passengers_pb(passengers: &[WaitlistPassenger]) -> Vec<pb::FeedPassenger> {
    passengers
        .iter()
        .map(|passenger| pb::FeedPassenger { name: passenger.name.clone(), id_number: passenger.id_number.clone() })
        .collect()
}

fn choice_pb(choice: &ChoiceRef) -> pb::WaitlistChoice {
    pb::WaitlistChoice { request_id: choice.request_id.to_string(), index: choice.index.into() }
}

fn settlement_pb(settlement: &ChangeSettlement) -> pb::ChangeSettlement {
    pb::ChangeSettlement {
        old_fare_fen: settlement.old_fare_fen,
        new_fare_fen: settlement.new_fare_fen,
        fee_fen: settlement.fee_fen,
    }
}

fn policy_name(policy: AllocationPolicy) -> String {
    match policy {
        AllocationPolicy::TightestFit => "tightest_fit",
        AllocationPolicy::FirstFit => "first_fit",
    }
    .to_owned()
}

fn waitlist_joined_pb(choice: &WaitingChoice) -> pb::WaitlistJoinedEvent {
    pb::WaitlistJoinedEvent {
        choice: Some(choice_pb(&choice.position.choice)),
        activated_at_ms: choice.position.activated_at_ms,
        user_id: choice.user_id.clone(),
        order_id: choice.order_id.to_string(),
        seat_class: seat_class_to_pb(choice.class).into(),
        from_stop_index: choice.from.into(),
        to_stop_index: choice.to.into(),
        passengers: passengers_pb(&choice.passengers),
        deadline_ms: choice.deadline_ms,
        allocation_policy: policy_name(choice.policy),
    }
}

fn waitlist_left_pb(choice: &ChoiceRef, end: &ChoiceEnd, at_ms: u64) -> pb::WaitlistLeftEvent {
    let (end, fulfilled_order_id) = match end {
        ChoiceEnd::Fulfilled { order_id } => (pb::WaitlistEnd::Fulfilled, order_id.to_string()),
        ChoiceEnd::Lost => (pb::WaitlistEnd::Lost, String::new()),
        ChoiceEnd::Withdrawn => (pb::WaitlistEnd::Withdrawn, String::new()),
        ChoiceEnd::DeadlinePassed => (pb::WaitlistEnd::DeadlinePassed, String::new()),
        ChoiceEnd::SalesClosed => (pb::WaitlistEnd::SalesClosed, String::new()),
    };
    pb::WaitlistLeftEvent { choice: Some(choice_pb(choice)), end: end.into(), fulfilled_order_id, at_ms }
}

fn change_started_pb(change: &OutgoingChange) -> pb::ChangeStartedEvent {
    let target = &change.target;
    pb::ChangeStartedEvent {
        change_id: change.change_id.to_string(),
        order_id: change.order_id.to_string(),
        user_id: change.user_id.clone(),
        passengers: passengers_pb(&change.passengers),
        from_station: change.from_station.clone(),
        to_station: change.to_station.clone(),
        old_fare_fen: change.old_fare_fen,
        fee_fen: change.fee_fen,
        prior_changes: change.prior_changes,
        target: Some(pb::ChangeTarget {
            train_date: Some(train_date_pb(&target.train_date)),
            from_stop_index: target.from.into(),
            to_stop_index: target.to.into(),
            seat_class: seat_class_to_pb(target.class).into(),
            new_order_id: target.new_order_id.to_string(),
            allocation_policy: policy_name(target.policy),
        }),
        started_at_ms: change.started_at_ms,
    }
}

fn change_seats_taken_pb(change: &IncomingChange) -> pb::ChangeSeatsTakenEvent {
    pb::ChangeSeatsTakenEvent {
        change_id: change.change_id.to_string(),
        source: Some(train_date_pb(&change.source)),
        source_order_id: change.source_order_id.to_string(),
        new_order_id: change.new_order_id.to_string(),
        user_id: change.user_id.clone(),
        from_stop_index: change.from.into(),
        to_stop_index: change.to.into(),
        tickets: tickets_pb(&change.tickets),
        changes: change.changes,
    }
}

fn changed_in_place_pb(change: &InPlaceChange) -> pb::TicketsChangedInPlaceEvent {
    pb::TicketsChangedInPlaceEvent {
        change_id: change.change_id.to_string(),
        order_id: change.order_id.to_string(),
        new_order_id: change.new_order_id.to_string(),
        from_stop_index: change.from.into(),
        to_stop_index: change.to.into(),
        tickets: tickets_pb(&change.tickets),
        settlement: Some(settlement_pb(&change.settlement)),
        at_ms: change.at_ms,
    }
}

fn seats_held_pb(held: &SeatsHeld) -> pb::SeatsHeldEvent {
    pb::SeatsHeldEvent {
        order_id: held.order_id.to_string(),
        user_id: held.user_id.clone(),
        request_id: held.request_id.clone(),
        from_stop_index: held.from.into(),
        to_stop_index: held.to.into(),
        tickets: tickets_pb(&held.tickets),
        held_at_ms: held.held_at_ms,
        expires_at_ms: held.expires_at_ms,
    }
}

fn request_step_pb(event: &RequestEvent) -> RequestStep {
    let choice_step =
        |choice: &u8, at_ms: &u64| pb::WaitlistRequestChoiceStep { choice: (*choice).into(), at_ms: *at_ms };
    let refund = |refund_fen: &u64, at_ms: &u64| pb::WaitlistRequestRefund { refund_fen: *refund_fen, at_ms: *at_ms };
    match event {
        RequestEvent::Submitted { request } => RequestStep::Submitted(pb::WaitlistRequestSubmitted {
            user_id: request.user_id.clone(),
            passengers: passengers_pb(&request.passengers),
            choices: request
                .choices
                .iter()
                .map(|choice| pb::WaitlistRequestChoice {
                    train_date: Some(train_date_pb(&choice.train_date)),
                    seat_class: seat_class_to_pb(choice.class).into(),
                    from_stop_index: choice.from.into(),
                    to_stop_index: choice.to.into(),
                    from_station: choice.from_station.to_string(),
                    to_station: choice.to_station.to_string(),
                    fare_fen: choice.fare_fen,
                    order_id: choice.order_id.to_string(),
                })
                .collect(),
            deadline_ms: request.deadline_ms,
            allocation_policy: policy_name(request.policy),
            submitted_at_ms: request.submitted_at_ms,
        }),
        RequestEvent::Activated { prepaid_fen, at_ms } => {
            RequestStep::Activated(pb::WaitlistRequestActivated { prepaid_fen: *prepaid_fen, at_ms: *at_ms })
        }
        RequestEvent::Granted { choice, at_ms } => RequestStep::Granted(choice_step(choice, at_ms)),
        RequestEvent::Fulfilled { choice, order_id, fare_fen, refund_fen, at_ms } => {
            RequestStep::Fulfilled(pb::WaitlistRequestFulfilled {
                choice: (*choice).into(),
                order_id: order_id.to_string(),
                fare_fen: *fare_fen,
                refund_fen: *refund_fen,
                at_ms: *at_ms,
            })
        }
        RequestEvent::ChoiceEnded { choice, at_ms } => RequestStep::ChoiceEnded(choice_step(choice, at_ms)),
        RequestEvent::Cancelled { refund_fen, at_ms } => RequestStep::Cancelled(refund(refund_fen, at_ms)),
        RequestEvent::Expired { refund_fen, at_ms } => RequestStep::Expired(refund(refund_fen, at_ms)),
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
            Event::TicketsRefunded { order_id, at_ms: 7, fee_fen: 50 },
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
        let kinds: Vec<&str> = sent.iter().map(|event| event.kind.as_str()).collect();
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
    fn waitlist_and_change_events_carry_their_fields() {
        use engine::domain::change::ChangeId;
        use engine::domain::waitlist::{QueuePosition, WaitlistRequestId};
        let choice = ChoiceRef { request_id: WaitlistRequestId(uuid::Uuid::now_v7()), index: 2 };
        let order_id = OrderId::generate();
        let joined = Event::WaitlistJoined(WaitingChoice {
            position: QueuePosition { activated_at_ms: 11, choice },
            user_id: "alice".into(),
            order_id,
            class: SeatClass::Second,
            from: 0,
            to: 2,
            passengers: vec![WaitlistPassenger { name: "张三".into(), id_number: "11010519491231002X".into() }],
            deadline_ms: 99,
            policy: AllocationPolicy::FirstFit,
            reserved: None,
        });
        let left = Event::WaitlistLeft { choice, end: ChoiceEnd::Fulfilled { order_id }, at_ms: 12 };
        let change_id = ChangeId(uuid::Uuid::now_v7());
        let settlement = ChangeSettlement { old_fare_fen: 100, new_fare_fen: 150, fee_fen: 5 };
        let committed = Event::ChangeCommitted { change_id, settlement, at_ms: 13 };
        let key: TrainDateKey = "2026-12-01/G1".parse().unwrap();
        let sent: Vec<pb::FeedEvent> = [joined, left, committed]
            .iter()
            .zip(1..)
            .map(|(event, seq)| feed_event(7, &key, 1, None, &record(seq, event.clone())))
            .collect();
        assert_eq!(
            sent.iter().map(|event| event.kind.as_str()).collect::<Vec<_>>(),
            ["waitlist_joined", "waitlist_left", "change_committed"]
        );
        let Some(FeedKind::WaitlistJoined(joined)) = &sent[0].event else { panic!("joined") };
        assert_eq!(joined.choice, Some(pb::WaitlistChoice { request_id: choice.request_id.to_string(), index: 2 }));
        assert_eq!(
            (joined.allocation_policy.as_str(), joined.deadline_ms, joined.passengers.len()),
            ("first_fit", 99, 1)
        );
        let Some(FeedKind::WaitlistLeft(left)) = &sent[1].event else { panic!("left") };
        assert_eq!(
            (left.end, left.fulfilled_order_id.clone()),
            (pb::WaitlistEnd::Fulfilled as i32, order_id.to_string())
        );
        let Some(FeedKind::ChangeCommitted(committed)) = &sent[2].event else { panic!("committed") };
        assert_eq!(committed.change_id, change_id.to_string());
        assert_eq!(committed.settlement.map(|s| (s.old_fare_fen, s.new_fare_fen, s.fee_fen)), Some((100, 150, 5)));
    }

    #[test]
    fn waitlist_request_steps_are_typed() {
        use engine::domain::waitlist::WaitlistRequestId;
        let request_id = WaitlistRequestId(uuid::Uuid::now_v7());
        let key: TrainDateKey = "2026-12-01/G1".parse().unwrap();
        let steps = [
            RequestEvent::Activated { prepaid_fen: 158_160, at_ms: 3 },
            RequestEvent::Granted { choice: 1, at_ms: 4 },
            RequestEvent::Cancelled { refund_fen: 158_160, at_ms: 5 },
        ];
        let sent: Vec<pb::FeedEvent> = steps
            .iter()
            .zip(1..)
            .map(|(event, seq)| {
                let event = Event::WaitlistRequest { request_id, event: event.clone() };
                feed_event(9, &key, 1, None, &record(seq, event))
            })
            .collect();
        assert!(sent.iter().all(|event| event.kind == "waitlist_request"));
        let Some(FeedKind::WaitlistRequest(activated)) = &sent[0].event else { panic!("a request step") };
        assert_eq!(activated.request_id, request_id.to_string());
        assert_eq!(
            activated.step,
            Some(RequestStep::Activated(pb::WaitlistRequestActivated { prepaid_fen: 158_160, at_ms: 3 }))
        );
        let Some(FeedKind::WaitlistRequest(granted)) = &sent[1].event else { panic!("a request step") };
        assert_eq!(granted.step, Some(RequestStep::Granted(pb::WaitlistRequestChoiceStep { choice: 1, at_ms: 4 })));
        let Some(FeedKind::WaitlistRequest(cancelled)) = &sent[2].event else { panic!("a request step") };
        assert_eq!(
            cancelled.step,
            Some(RequestStep::Cancelled(pb::WaitlistRequestRefund { refund_fen: 158_160, at_ms: 5 }))
        );
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
