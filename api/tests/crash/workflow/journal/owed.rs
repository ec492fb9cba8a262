//! Every workflow step still owed, read from the stored states alone: what
//! each request's record says against where its choices stand, what each
//! change's two records say, and anything held for a workflow that ended.

use super::States;
use engine::domain::change::{ChangeOutcome, IncomingStatus, OutgoingChange};
use engine::domain::order::OrderStatus;
use engine::domain::state::TrainDateState;
use engine::domain::waitlist::{ChoiceEnd, WaitlistRequestId};
use engine::workflow::request::{RequestStatus, WaitlistRequest};
use std::collections::BTreeMap;

/// Every workflow step still owed, and every disagreement between the
/// records of one workflow, read from the states alone.
pub fn unsettled(states: &States) -> Vec<String> {
    let mut owed = Vec::new();
    let requests: BTreeMap<WaitlistRequestId, &WaitlistRequest> =
        states.values().flat_map(|state| state.waitlist_requests.iter().map(|(id, record)| (*id, record))).collect();
    for record in requests.values() {
        request_owes(states, record, &mut owed);
    }
    for state in states.values() {
        for choice in state.waitlist.live() {
            let choice_ref = choice.position.choice;
            if choice.reserved.is_some() {
                owed.push(format!("{}: seats reserved for waitlist choice {choice_ref}", state.key));
            }
            let status = requests.get(&choice_ref.request_id).map(|record| record.status);
            if status != Some(RequestStatus::Active) {
                owed.push(format!("{}: choice {choice_ref} still queued; its request is {status:?}", state.key));
            }
        }
        for order in state.orders.values() {
            if let Some(change_id) = order.change.changing {
                owed.push(format!("{}: order {} still changing ({change_id})", state.key, order.id));
            }
        }
        for change in state.changes.outgoing.values() {
            change_owes(states, state, change, &mut owed);
        }
        for incoming in state.changes.incoming.values() {
            if incoming.status == IncomingStatus::Pending {
                owed.push(format!("{}: seats pending for change {}", state.key, incoming.change_id));
            }
            let known =
                states.get(&incoming.source).map(|source| source.changes.outgoing.contains_key(&incoming.change_id));
            if known != Some(true) {
                owed.push(format!(
                    "{}: seats taken for change {} its old train-date does not know",
                    state.key, incoming.change_id
                ));
            }
        }
    }
    owed
}

/// What one request's record says against where its choices stand.
fn request_owes(states: &States, record: &WaitlistRequest, owed: &mut Vec<String>) {
    let standing = |index: u8| {
        let choice_ref = record.choice_ref(index);
        let state = states.get(&record.choices[usize::from(index)].train_date)?;
        Some((state.waitlist.choice(&choice_ref).is_some(), state.waitlist.ended(&choice_ref), state))
    };
    let request = record.id;
    if let RequestStatus::Granted { choice } = record.status {
        owed.push(format!("request {request}: granted to choice {choice}, its order not confirmed"));
    }
    for index in 0..record.choices.len() as u8 {
        let Some((live, ended, state)) = standing(index) else {
            owed.push(format!("request {request}: choice {index} names a train-date outside the scenario"));
            continue;
        };
        let problem = match record.status {
            RequestStatus::Active if !live && !record.ended_choices.contains(&index) => {
                Some(format!("active, choice {index} not in its queue ({ended:?})"))
            }
            RequestStatus::Fulfilled { choice, order_id, .. } if choice == index => {
                let order = state.order(&order_id);
                let is_its_order =
                    order.is_some_and(|order| order.request_id == format!("waitlist:{}", record.choice_ref(index)));
                (ended != Some(ChoiceEnd::Fulfilled { order_id }) || !is_its_order).then(|| {
                    format!("fulfilled by choice {index} as {order_id}, which its train-date shows as {ended:?}")
                })
            }
            RequestStatus::Submitted
            | RequestStatus::Fulfilled { .. }
            | RequestStatus::Cancelled { .. }
            | RequestStatus::Expired { .. }
                if live =>
            {
                Some(format!("{:?}, choice {index} still queued", record.status))
            }
            _ => None,
        };
        if let Some(problem) = problem {
            owed.push(format!("request {request}: {problem}"));
        }
    }
}

/// What one change's records on its old and new train-dates say.
fn change_owes(states: &States, source: &TrainDateState, change: &OutgoingChange, owed: &mut Vec<String>) {
    let id = change.change_id;
    let Some(target) = states.get(&change.target.train_date) else {
        owed.push(format!("change {id} goes to a train-date outside the scenario"));
        return;
    };
    let incoming = target.changes.incoming.get(&id).map(|incoming| incoming.status);
    let abandoned = target.changes.abandoned.contains(&id);
    let new_order = target.order(&change.target.new_order_id);
    let old_order = &source.orders[&change.order_id];
    let problem = match change.outcome {
        None => Some(format!("started, not ended (new train-date: {incoming:?})")),
        Some(ChangeOutcome::Committed { .. }) => {
            let moved = old_order.status == OrderStatus::Refunded
                && old_order.change.changed_to == Some(change.target.new_order_id)
                && new_order.is_some();
            (incoming != Some(IncomingStatus::Completed) || !moved).then(|| {
                format!(
                    "committed; new seats {incoming:?}, old order {:?}, new order {}",
                    old_order.status,
                    new_order.is_some()
                )
            })
        }
        Some(ChangeOutcome::Aborted { .. }) => {
            let undone = matches!(incoming, Some(IncomingStatus::Released)) || (incoming.is_none() && abandoned);
            (!undone || new_order.is_some() || old_order.change.changed_to.is_some()).then(|| {
                format!("aborted; new seats {incoming:?} (abandoned: {abandoned}), new order {}", new_order.is_some())
            })
        }
    };
    if let Some(problem) = problem {
        owed.push(format!("{}: change {id} of order {}: {problem}", source.key, change.order_id));
    }
}
