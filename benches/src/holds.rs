//! A hold stream run through `decide` + `apply` from empty to sold out: the
//! criterion benchmark and the instruction-count profile run the same code.

use crate::demand::Demand;
use crate::fixtures::BENCH_STOPS;
use engine::allocation::AllocationPolicy;
use engine::domain::command::{Command, HoldSeats};
use engine::domain::event::{EVENT_SCHEMA_VERSION, EventRecord};
use engine::domain::state::TrainDateState;
use engine::{apply, decide};

/// Enough holds to sell the train out several times over.
pub const HOLDS_PER_RUN: usize = 4000;
/// Share of accepted holds cancelled again, as real buyers do.
pub const CANCEL_PERCENT: u32 = 5;
/// Benchmark clock: well before the 07:00 departure.
pub const NOW_MS: u64 = 1_796_000_000_000;

#[derive(Clone)]
pub enum Step {
    Hold(HoldSeats),
    CancelLatest,
}

pub fn demand_steps(policy: AllocationPolicy) -> Vec<Step> {
    let mut demand = Demand::new(7, BENCH_STOPS);
    let mut steps = Vec::with_capacity(HOLDS_PER_RUN * 2);
    for _ in 0..HOLDS_PER_RUN {
        steps.push(Step::Hold(demand.hold(policy)));
        if demand.chance(CANCEL_PERCENT) {
            steps.push(Step::CancelLatest);
        }
    }
    steps
}

/// Decides and applies one owned command, as the actor does with a message.
fn execute(state: &mut TrainDateState, command: Command) -> bool {
    match decide(state, &command, NOW_MS) {
        Ok(events) => {
            for event in events {
                let record = EventRecord { seq: state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event };
                apply(state, &record);
            }
            true
        }
        Err(_) => false,
    }
}

/// Runs the demand; returns accepted holds. The steps are owned, as an
/// actor owns the messages it receives, so building them is not measured.
pub fn run(state: &mut TrainDateState, steps: Vec<Step>) -> usize {
    let mut accepted = 0;
    let mut latest = None;
    for step in steps {
        match step {
            Step::Hold(hold) => {
                let order_id = hold.order_id;
                if execute(state, Command::HoldSeats(hold)) {
                    accepted += 1;
                    latest = Some(order_id);
                }
            }
            Step::CancelLatest => {
                if let Some(order_id) = latest.take() {
                    execute(state, Command::CancelOrder { order_id, user_id: None });
                }
            }
        }
    }
    accepted
}

/// Only the steps of `steps` that change the train-date: accepted holds and
/// the cancels that release them, in order. Replaying them reaches the same
/// state with no refusal in between, so their rate is what allocation
/// sustains while seats remain, without cheap sold-out refusals padding it.
pub fn effective_steps(steps: &[Step]) -> Vec<Step> {
    let mut state = crate::fixtures::fresh_train_date();
    let mut effective = Vec::new();
    let mut latest = None;
    for step in steps {
        match step {
            Step::Hold(hold) => {
                if execute(&mut state, Command::HoldSeats(hold.clone())) {
                    latest = Some(hold.order_id);
                    effective.push(step.clone());
                }
            }
            Step::CancelLatest => {
                if let Some(order_id) = latest.take() {
                    execute(&mut state, Command::CancelOrder { order_id, user_id: None });
                    effective.push(Step::CancelLatest);
                }
            }
        }
    }
    effective
}

/// Seat-km sold over seat-km offered once demand is exhausted.
pub fn seat_km_yield(state: &TrainDateState) -> f64 {
    let plan = &state.plan;
    let line_km = f64::from(plan.distance_km(0, plan.stop_count() - 1));
    let sold: f64 = state
        .orders
        .values()
        .filter(|order| order.status.holds_seats())
        .map(|order| order.tickets.len() as f64 * f64::from(plan.distance_km(order.from.into(), order.to.into())))
        .sum();
    sold / (f64::from(plan.seat_count()) * line_km)
}
