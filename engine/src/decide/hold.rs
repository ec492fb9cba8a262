//! Hold: validate → check sales → check passengers → check counts → allocate.
//!
//! The sold-out gate (`gate_hold`) runs the same checks, in the same order,
//! on published facts outside the actor, so it refuses only with the
//! SOLD_OUT that `decide_hold` would give.

use crate::allocation::{Pick, SeatSearch, allocate_group, allocate_picks};
use crate::domain::command::{HoldSeats, PASSENGERS_PER_ORDER_MAX, SeatChoice};
use crate::domain::event::{Event, SeatsHeld};
use crate::domain::order::{Order, Ticket};
use crate::domain::plan::{SeatIndex, TrainPlan};
use crate::domain::rejection::Rejection;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::{SalesStatus, TrainDateState};

pub fn decide_hold(state: &TrainDateState, hold: &HoldSeats, now_ms: u64) -> Result<Vec<Event>, Rejection> {
    // A retry of an accepted request gets the original answer, even after
    // sales close or the seats sell out.
    if let Some(order) = state.order_for_request(&hold.user_id, &hold.request_id) {
        return if same_request(order, hold) {
            Ok(Vec::new())
        } else {
            Err(Rejection::RequestIdReused { request_id: hold.request_id.clone() })
        };
    }
    validate_shape(&state.plan, hold)?;
    check_sales(state, hold, now_ms)?;
    check_passenger_overlap(state, hold)?;
    check_remaining(state, hold)?;
    let tickets = allocate(state, hold)?;
    Ok(vec![Event::SeatsHeld(SeatsHeld {
        order_id: hold.order_id,
        user_id: hold.user_id.clone(),
        request_id: hold.request_id.clone(),
        from: hold.from as u8,
        to: hold.to as u8,
        tickets,
        held_at_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(hold.hold_ttl_ms),
    })])
}

/// What the checks before allocation read: the actor's exact state, or the
/// availability view it published for the sold-out gate.
pub trait HoldFacts {
    fn plan(&self) -> &TrainPlan;
    fn sales(&self) -> SalesStatus;
    /// Unix ms the train leaves stop `stop`.
    fn departure_ms(&self, stop: usize) -> u64;
    /// Seats free for the whole of `from..to` in the class at `slot`
    /// (`TrainPlan::class_slot`), resolved once by the caller since a
    /// sold-out answer reads every segment's count.
    fn remaining(&self, slot: usize, from: usize, to: usize) -> u32;
}

impl HoldFacts for TrainDateState {
    fn plan(&self) -> &TrainPlan {
        &self.plan
    }

    fn sales(&self) -> SalesStatus {
        self.sales
    }

    fn departure_ms(&self, stop: usize) -> u64 {
        TrainDateState::departure_ms(self, stop)
    }

    fn remaining(&self, slot: usize, from: usize, to: usize) -> u32 {
        self.inventory.remaining(slot, from, to)
    }
}

/// The sold-out gate's verdict on a hold, from published facts: SOLD_OUT
/// only where `decide_hold` would answer SOLD_OUT for the same counts, and
/// `Ok` (let the actor decide) wherever an earlier rule might answer first.
///
/// The caller must not gate a hold that may repeat an accepted request
/// (its user has an order on the train-date). `passenger_may_hold(id)` must
/// be true for every passenger who holds any journey on the train-date
/// (false positives only cost a trip to the actor).
pub fn gate_hold(
    facts: &impl HoldFacts,
    hold: &HoldSeats,
    now_ms: u64,
    passenger_may_hold: impl Fn(&str) -> bool,
) -> Result<(), Rejection> {
    let earlier_rule_may_answer = validate_shape(facts.plan(), hold).is_err()
        || check_sales(facts, hold, now_ms).is_err()
        || hold.passengers.iter().any(|passenger| passenger_may_hold(&passenger.id_number));
    if earlier_rule_may_answer {
        return Ok(());
    }
    check_remaining(facts, hold)
}

/// The same journey for the same passengers in the same classes.
fn same_request(order: &Order, hold: &HoldSeats) -> bool {
    order.journey() == (hold.from, hold.to)
        && order.tickets.len() == hold.passengers.len()
        && order.tickets.iter().zip(&hold.passengers).all(|(ticket, passenger)| {
            ticket.id_number == passenger.id_number
                && ticket.passenger_name == passenger.name
                && ticket.class == passenger.class
        })
}

fn validate_shape(plan: &TrainPlan, hold: &HoldSeats) -> Result<(), Rejection> {
    let count = hold.passengers.len();
    if count == 0 || count > PASSENGERS_PER_ORDER_MAX {
        return Err(Rejection::PassengerCount { count, max: PASSENGERS_PER_ORDER_MAX });
    }
    let stop_count = plan.stop_count();
    if hold.from >= hold.to || hold.to >= stop_count {
        return Err(Rejection::InvalidJourney {
            reason: format!(
                "boarding stop {} must come before alighting stop {} on a train of {stop_count} stops",
                hold.from, hold.to
            ),
        });
    }
    for (index, passenger) in hold.passengers.iter().enumerate() {
        if hold.passengers[..index].iter().any(|earlier| earlier.id_number == passenger.id_number) {
            return Err(Rejection::DuplicatePassenger { passenger: index });
        }
        if plan.class_slot(passenger.class).is_none() {
            return Err(Rejection::ClassNotOnTrain { passenger: index, class: passenger.class });
        }
    }
    validate_picks(hold)
}

/// Picks follow 12306's rules: seated classes only, one class per order,
/// rows 1 and 2, the class's letters, no position twice.
fn validate_picks(hold: &HoldSeats) -> Result<(), Rejection> {
    let mut pick_class = None;
    let mut seen = Vec::new();
    for (index, passenger) in hold.passengers.iter().enumerate() {
        let SeatChoice::Pick { letter, row } = passenger.choice else { continue };
        let invalid = |reason: String| Err(Rejection::InvalidSeatChoice { passenger: index, reason });
        if !passenger.class.allows_seat_choice() {
            return invalid(format!("seat choice is not offered for {}", passenger.class));
        }
        if *pick_class.get_or_insert(passenger.class) != passenger.class {
            return invalid("all seat picks on one order must be in the same class".into());
        }
        if row != 1 && row != 2 {
            return invalid(format!("row {row} is not 1 or 2"));
        }
        if !passenger.class.standard_letters().contains(letter) {
            return invalid(format!("{letter:?} is not a {} letter", passenger.class));
        }
        if seen.contains(&(letter, row)) {
            return invalid(format!("{letter}{row} is picked twice"));
        }
        seen.push((letter, row));
    }
    Ok(())
}

fn check_sales(facts: &impl HoldFacts, hold: &HoldSeats, now_ms: u64) -> Result<(), Rejection> {
    if let SalesStatus::Closed { .. } = facts.sales() {
        return Err(Rejection::SalesClosed);
    }
    if now_ms >= facts.departure_ms(hold.from) {
        return Err(Rejection::Departed);
    }
    Ok(())
}

fn check_passenger_overlap(state: &TrainDateState, hold: &HoldSeats) -> Result<(), Rejection> {
    for (index, passenger) in hold.passengers.iter().enumerate() {
        let Some(journeys) = state.passenger_journeys.get(&passenger.id_number) else { continue };
        let overlapping =
            journeys.iter().find(|journey| usize::from(journey.from) < hold.to && hold.from < usize::from(journey.to));
        if let Some(journey) = overlapping {
            return Err(Rejection::PassengerOverlap { passenger: index, order_id: journey.order_id });
        }
    }
    Ok(())
}

/// The one remaining-seats check, for decide and the gate alike.
fn check_remaining(facts: &impl HoldFacts, hold: &HoldSeats) -> Result<(), Rejection> {
    for class in SeatClass::ALL {
        let requested = hold.passengers.iter().filter(|p| p.class == class).count() as u32;
        if requested == 0 {
            continue;
        }
        let slot = facts.plan().class_slot(class).expect("classes validated");
        if facts.remaining(slot, hold.from, hold.to) < requested {
            let remaining = |from, to| facts.remaining(slot, from, to);
            return Err(Rejection::sold_out(class, requested, hold.from, hold.to, remaining));
        }
    }
    Ok(())
}

/// Seats for every passenger: exact choices first (they can fail), then
/// picks, then everyone else by class, seated together where possible.
fn allocate(state: &TrainDateState, hold: &HoldSeats) -> Result<Vec<Ticket>, Rejection> {
    let search = SeatSearch {
        plan: &state.plan,
        inventory: &state.inventory,
        from: hold.from,
        to: hold.to,
        policy: hold.policy,
    };
    let mut seats: Vec<Option<SeatIndex>> = vec![None; hold.passengers.len()];
    let mut preference_met = vec![true; hold.passengers.len()];
    allocate_exact(state, hold, &mut seats)?;
    allocate_picked(&search, hold, &mut seats, &mut preference_met);
    for class in SeatClass::ALL {
        let waiting: Vec<usize> = (0..hold.passengers.len())
            .filter(|index| seats[*index].is_none() && hold.passengers[*index].class == class)
            .collect();
        if waiting.is_empty() {
            continue;
        }
        let taken: Vec<SeatIndex> = seats.iter().flatten().copied().collect();
        let group = allocate_group(&search, class, waiting.len(), &taken)
            .expect("remaining counts are exact, so enough free seats exist");
        for (index, seat) in waiting.into_iter().zip(group) {
            seats[index] = Some(seat);
        }
    }
    Ok(hold
        .passengers
        .iter()
        .zip(seats)
        .zip(preference_met)
        .map(|((passenger, seat), preference_met)| Ticket {
            passenger_name: passenger.name.clone(),
            id_number: passenger.id_number.clone(),
            class: passenger.class,
            seat: seat.expect("every passenger seated"),
            fare_fen: state.plan.fare_fen(passenger.class, hold.from, hold.to),
            preference_met,
        })
        .collect())
}

fn allocate_exact(state: &TrainDateState, hold: &HoldSeats, seats: &mut [Option<SeatIndex>]) -> Result<(), Rejection> {
    for (index, passenger) in hold.passengers.iter().enumerate() {
        let SeatChoice::Exact { carriage, seat_code } = &passenger.choice else { continue };
        let invalid = |reason: String| Rejection::InvalidSeatChoice { passenger: index, reason };
        let layout = state.plan.carriage(*carriage).ok_or_else(|| invalid(format!("no carriage {carriage}")))?;
        if layout.class != passenger.class {
            return Err(invalid(format!("carriage {carriage} is {}, not {}", layout.class, passenger.class)));
        }
        let seat = state
            .plan
            .parse_seat_code(*carriage, seat_code)
            .ok_or_else(|| invalid(format!("no seat {seat_code:?} in carriage {carriage}")))?;
        let chosen_twice = seats.contains(&Some(seat));
        if chosen_twice || !state.inventory.is_free(seat, hold.from, hold.to) {
            return Err(Rejection::SeatTaken {
                passenger: index,
                carriage: *carriage,
                seat: state.plan.seat_code(seat),
            });
        }
        seats[index] = Some(seat);
    }
    Ok(())
}

/// Places every picking passenger as their picks ask, or leaves them for the
/// group allocation and records the unmet preference (12306 does the same).
fn allocate_picked(
    search: &SeatSearch,
    hold: &HoldSeats,
    seats: &mut [Option<SeatIndex>],
    preference_met: &mut [bool],
) {
    let picking: Vec<(usize, Pick)> = hold
        .passengers
        .iter()
        .enumerate()
        .filter_map(|(index, passenger)| match passenger.choice {
            SeatChoice::Pick { letter, row } => Some((index, Pick { letter, row })),
            _ => None,
        })
        .collect();
    let Some((first, _)) = picking.first() else { return };
    let class = hold.passengers[*first].class;
    let picks: Vec<Pick> = picking.iter().map(|(_, pick)| *pick).collect();
    let taken: Vec<SeatIndex> = seats.iter().flatten().copied().collect();
    match allocate_picks(search, class, &picks, &taken) {
        Some(chosen) => {
            for ((index, _), seat) in picking.iter().zip(chosen) {
                seats[*index] = Some(seat);
            }
        }
        None => {
            for (index, _) in &picking {
                preference_met[*index] = false;
            }
        }
    }
}
