//! Snapshots: a train-date's state reduced to what cannot be derived (its
//! template, sales status, last seq, orders and waitlist choices), and the
//! restore that rebuilds masks, counts and indexes from it.

use super::change::{ChangeId, IncomingChange, IncomingStatus, OutgoingChange};
use super::order::Order;
use super::plan::TrainPlan;
use super::state::{PassengerJourney, SalesStatus, TrainDateKey, TrainDateState};
use super::timetable::TrainTemplate;
use super::waitlist::{ChoiceEnd, ChoiceRef, WaitingChoice};
use crate::workflow::request::WaitlistRequest;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Bumped whenever the snapshot's stored shape changes. 2: waitlist choices
/// (absent, so empty, in version-1 snapshots). 3: waitlist request records
/// (absent, so none, before).
pub const SNAPSHOT_SCHEMA_VERSION: u16 = 3;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainDateSnapshot {
    pub key: TrainDateKey,
    /// The template the train-date opened with; restore checks it against the plan.
    pub template: TrainTemplate,
    pub sales: SalesStatus,
    /// The state includes every event up to and including this seq.
    pub last_seq: u64,
    /// Every order, in any status, sorted by id so equal states give equal snapshots.
    pub orders: Vec<Order>,
    /// Live waitlist choices, waiting or reserved, in queue order per class.
    #[serde(default)]
    pub waitlist: Vec<WaitingChoice>,
    /// Choices that left, so repeated workflow steps stay no-ops after restore.
    #[serde(default)]
    pub waitlist_ended: Vec<(ChoiceRef, ChoiceEnd)>,
    /// Changes of this train-date's orders, in flight or ended.
    #[serde(default)]
    pub changes_out: Vec<OutgoingChange>,
    /// Seats taken here for other train-dates' changes, in any status.
    #[serde(default)]
    pub changes_in: Vec<IncomingChange>,
    /// Changes released here before they took seats.
    #[serde(default)]
    pub changes_abandoned: Vec<ChangeId>,
    /// Waitlist request records homed here, in id order.
    #[serde(default)]
    pub waitlist_requests: Vec<WaitlistRequest>,
}

impl TrainDateSnapshot {
    pub fn of(state: &TrainDateState) -> Self {
        let mut orders: Vec<Order> = state.orders.values().cloned().collect();
        orders.sort_by_key(|order| order.id);
        TrainDateSnapshot {
            key: state.key.clone(),
            template: state.plan.template.clone(),
            sales: state.sales,
            last_seq: state.last_seq,
            orders,
            waitlist: state.waitlist.live().cloned().collect(),
            waitlist_ended: state.waitlist.ended_choices().map(|(choice, end)| (*choice, *end)).collect(),
            changes_out: state.changes.outgoing.values().cloned().collect(),
            changes_in: state.changes.incoming.values().cloned().collect(),
            changes_abandoned: state.changes.abandoned.iter().copied().collect(),
            waitlist_requests: state.waitlist_requests.values().cloned().collect(),
        }
    }

    /// Rebuilds the full state. `plan` must be the plan of `self.template`
    /// (passed in so train-dates opened from one template share it).
    ///
    /// Panics if two live orders claim the same segment: such a snapshot is corrupt.
    pub fn restore(self, plan: Arc<TrainPlan>) -> TrainDateState {
        assert_eq!(plan.template, self.template, "{}: snapshot restored onto another template", self.key);
        let mut state = TrainDateState::open(self.key, plan);
        state.sales = self.sales;
        state.last_seq = self.last_seq;
        for order in self.orders {
            state.requests.insert((order.user_id.clone(), order.request_id.clone()), order.id);
            if order.status.holds_seats() {
                take_seats(&mut state, &order);
            }
            state.orders.insert(order.id, order);
        }
        for choice in self.waitlist {
            if let Some(tickets) = &choice.reserved {
                for ticket in tickets {
                    state.inventory.take(ticket.seat, usize::from(choice.from), usize::from(choice.to));
                    let journey = PassengerJourney { order_id: choice.order_id, from: choice.from, to: choice.to };
                    state.passenger_journeys.entry(ticket.id_number.clone()).or_default().push(journey);
                }
            }
            state.waitlist.insert(choice);
        }
        for (choice, end) in self.waitlist_ended {
            state.waitlist.restore_ended(choice, end);
        }
        for incoming in self.changes_in {
            if incoming.status == IncomingStatus::Pending {
                for ticket in &incoming.tickets {
                    state.inventory.take(ticket.seat, usize::from(incoming.from), usize::from(incoming.to));
                    let journey =
                        PassengerJourney { order_id: incoming.new_order_id, from: incoming.from, to: incoming.to };
                    state.passenger_journeys.entry(ticket.id_number.clone()).or_default().push(journey);
                }
            }
            state.changes.incoming.insert(incoming.change_id, incoming);
        }
        state.changes.outgoing = self.changes_out.into_iter().map(|change| (change.change_id, change)).collect();
        state.changes.abandoned = self.changes_abandoned.into_iter().collect();
        for record in self.waitlist_requests {
            state.put_request(record);
        }
        state
    }
}

fn take_seats(state: &mut TrainDateState, order: &Order) {
    let (from, to) = order.journey();
    for ticket in &order.tickets {
        state.inventory.take(ticket.seat, from, to);
        let journey = PassengerJourney { order_id: order.id, from: order.from, to: order.to };
        state.passenger_journeys.entry(ticket.id_number.clone()).or_default().push(journey);
    }
    let tickets = order.tickets.len() as u32;
    match order.status {
        super::order::OrderStatus::Held => {
            state.hold_expiries.insert((order.expires_at_ms, order.id));
            state.totals.held_orders += 1;
            state.totals.held_tickets += tickets;
        }
        _ => state.totals.sold_tickets += tickets,
    }
}
