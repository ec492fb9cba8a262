//! Hold: validate → check sales → check passengers → check counts → allocate.

use crate::allocation::{Pick, SeatSearch, allocate_group, allocate_picks};
use crate::domain::command::{HoldSeats, PASSENGERS_PER_ORDER_MAX, SeatChoice};
use crate::domain::event::{Event, SeatsHeld};
use crate::domain::order::{Order, Ticket};
use crate::domain::plan::SeatIndex;
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
    validate_shape(state, hold)?;
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

fn validate_shape(state: &TrainDateState, hold: &HoldSeats) -> Result<(), Rejection> {
    let count = hold.passengers.len();
    if count == 0 || count > PASSENGERS_PER_ORDER_MAX {
        return Err(Rejection::PassengerCount { count, max: PASSENGERS_PER_ORDER_MAX });
    }
    let stop_count = state.plan.stop_count();
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
        if state.plan.class_slot(passenger.class).is_none() {
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

fn check_sales(state: &TrainDateState, hold: &HoldSeats, now_ms: u64) -> Result<(), Rejection> {
    if let SalesStatus::Closed { .. } = state.sales {
        return Err(Rejection::SalesClosed);
    }
    if now_ms >= state.departure_ms(hold.from) {
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

fn check_remaining(state: &TrainDateState, hold: &HoldSeats) -> Result<(), Rejection> {
    for class in SeatClass::ALL {
        let requested = hold.passengers.iter().filter(|p| p.class == class).count() as u32;
        if requested == 0 {
            continue;
        }
        let slot = state.plan.class_slot(class).expect("classes validated");
        if state.inventory.remaining(slot, hold.from, hold.to) < requested {
            let remaining = |from, to| state.inventory.remaining(slot, from, to);
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
