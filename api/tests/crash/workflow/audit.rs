//! What the API shows once the workflows settled after a restart, against
//! what the clients sent and were told (the ledger):
//! - the scenario's train-dates: nothing sold twice, every taken seat a live
//!   ticket's (none reserved or pending for nobody), counts equal a recount;
//! - every passenger holds exactly the live tickets their calls allow: one,
//!   through any change (never both the old and the new, never neither);
//!   none once a refund was acknowledged; one once their request was
//!   fulfilled (until its order is refunded), none while it was not;
//! - each change ended as its reply said, on both orders;
//! - each request stands as its calls allow, a fulfilled one with exactly one
//!   order, on its winning choice, refunded the prepayment less its fare;
//! - no business seat of a waited train-date is free while a party it fits waits;
//! - a Submit repeated with its key names the request the first one
//!   recorded, and no user has two.

use super::setup::remaining;
use super::{ChangeSent, Ledger, Sent, SharedLedger, TicketOrder, WaitRequest, waited_train_dates};
use crate::crash::audit::{all_orders, check_train_dates};
use crate::crash::{Seatd, WaitlistClient};
use api::pb::{self, ChoiceState, OrderStatus, SeatClass, WaitlistStatus};
use seat_audit::AuditReport;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

type Orders<'a> = HashMap<&'a str, &'a pb::Order>;

/// What the API audit read.
pub struct Audited {
    orders: usize,
    changed: usize,
    requests: usize,
    fulfilled: usize,
    passengers: usize,
    /// Requests active (waiting) now.
    pub waiting: usize,
}

impl fmt::Display for Audited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} orders ({} changed), {} requests ({} fulfilled, {} waiting), {} passengers each with the tickets \
             their calls allow",
            self.orders, self.changed, self.requests, self.fulfilled, self.waiting, self.passengers
        )
    }
}

/// Audits the restarted seatd; panics listing every problem. Fulfilled
/// requests' orders join the ledger, for later rounds to change.
pub async fn audit(seatd: &Seatd, ledger: &SharedLedger) -> Audited {
    let mut booking = seatd.client().await;
    let mut waitlist = seatd.waitlist_client().await;
    let known: Ledger = ledger.lock().unwrap().clone();
    let users: Vec<String> = known.users.iter().cloned().collect();
    let orders = all_orders(&mut booking, &users).await;
    let requests = all_requests(&mut waitlist, &users).await;
    let mut report = AuditReport::default();
    check_train_dates(&mut booking, &super::train_dates(), &orders, &mut report).await;
    let by_id: Orders = orders.iter().map(|order| (order.order_id.as_str(), order)).collect();
    for (order_id, order) in &known.orders {
        check_order(order_id, order, &by_id, &mut report);
    }
    for request in &requests {
        check_request(request, known.requests.get(&request.request_id), &by_id, &mut report);
    }
    let passengers = check_passengers(&known, &requests, &orders, &mut report);
    for train_date in waited_train_dates() {
        let waiting = waiting_parties(&requests, &train_date);
        let free = remaining(&mut booking, &train_date, SeatClass::Business).await as usize;
        if let Some(smallest) = waiting.iter().min().filter(|smallest| free >= **smallest) {
            report.problem(format!("{train_date:?}: {free} business seats free while a party of {smallest} waits"));
        }
    }
    check_repeated_submits(&mut waitlist, ledger, &requests, &mut report).await;
    assert!(
        report.ok(),
        "the API after kill -9 shows {} problems:\n{}",
        report.problem_count,
        report.problems.join("\n")
    );
    remember_fulfilled(ledger, &requests, &by_id);
    Audited {
        orders: orders.len(),
        changed: orders.iter().filter(|order| order.status == OrderStatus::Changed as i32).count(),
        requests: requests.len(),
        fulfilled: requests.iter().filter(|request| request.status == WaitlistStatus::Fulfilled as i32).count(),
        passengers,
        waiting: requests.iter().filter(|request| request.status == WaitlistStatus::Active as i32).count(),
    }
}

/// Every waitlist request of the scenario's users (each has at most a few).
async fn all_requests(waitlist: &mut WaitlistClient, users: &[String]) -> Vec<pb::WaitlistRequest> {
    let mut requests = Vec::new();
    for user in users.iter().filter(|user| user.starts_with("wf-waiter")) {
        let listed = waitlist.list_waitlist(pb::ListWaitlistRequest { user_id: user.clone() }).await;
        requests.extend(listed.expect("list a user's waitlist requests").into_inner().requests);
    }
    requests
}

fn order_status(order: &pb::Order) -> OrderStatus {
    OrderStatus::try_from(order.status).expect("known order status")
}

fn names(order: &pb::Order) -> BTreeSet<&str> {
    order.tickets.iter().map(|ticket| ticket.passenger_name.as_str()).collect()
}

/// A ledger order stands as its refund and change allow.
fn check_order(order_id: &str, order: &TicketOrder, by_id: &Orders, report: &mut AuditReport) {
    let Some(stored) = by_id.get(order_id) else {
        report.problem(format!("order {order_id} is gone"));
        return;
    };
    let status = order_status(stored);
    let Some(change) = &order.change else {
        if !refund_allows(order.refund, status) {
            report.problem(format!("order {order_id}: {status:?} after its refund was {:?}", order.refund));
        }
        return;
    };
    let problem = match status {
        OrderStatus::Changed => changed_problem(order, change, stored, by_id),
        OrderStatus::Confirmed | OrderStatus::Refunded => {
            let new_order_exists = change.new_order_id.as_deref().is_some_and(|id| by_id.contains_key(id));
            if change.outcome == Some(pb::ChangeOutcome::Committed) {
                Some("its change was acknowledged committed".to_owned())
            } else if new_order_exists {
                Some("the change's new order exists too".to_owned())
            } else {
                (!refund_allows(order.refund, status)).then(|| format!("its refund was {:?}", order.refund))
            }
        }
        _ => Some("neither confirmed, changed nor refunded".to_owned()),
    };
    if let Some(problem) = problem {
        report.problem(format!("order {order_id} ({status:?}, change {change:?}): {problem}"));
    }
}

/// Whether an order that was not changed may stand as `status` after its refund went as `refund`.
fn refund_allows(refund: Sent, status: OrderStatus) -> bool {
    match status {
        OrderStatus::Confirmed => refund != Sent::Acknowledged,
        OrderStatus::Refunded => matches!(refund, Sent::Acknowledged | Sent::Unanswered),
        _ => false,
    }
}

/// What is wrong with an order shown changed, if anything.
fn changed_problem(order: &TicketOrder, change: &ChangeSent, stored: &pb::Order, by_id: &Orders) -> Option<String> {
    let new_id = stored.changed_to_order_id.as_str();
    let Some(new) = by_id.get(new_id) else { return Some(format!("its new order {new_id} is gone")) };
    let wanted: BTreeSet<&str> = order.passengers.iter().map(String::as_str).collect();
    if change.outcome == Some(pb::ChangeOutcome::Aborted) || change.sent == Sent::Refused {
        Some("its change was answered aborted or refused".to_owned())
    } else if order.refund == Sent::Acknowledged {
        Some("its refund was acknowledged, which aborts the change".to_owned())
    } else if change.new_order_id.as_deref().is_some_and(|id| id != new_id) {
        Some(format!("changed to {new_id}, the reply named another"))
    } else if order_status(new) != OrderStatus::Confirmed {
        Some(format!("its new order is {:?}", order_status(new)))
    } else if new.train_date.as_ref() != Some(&change.target) {
        Some(format!("its new order is on {:?}", new.train_date))
    } else if new.tickets.iter().any(|ticket| ticket.seat_class != change.class as i32) || names(new) != wanted {
        Some(format!("its new order's tickets are not the passengers' in the class asked: {:?}", new.tickets))
    } else {
        None
    }
}

/// A request stands as its activation and cancel allow.
fn check_request(request: &pb::WaitlistRequest, known: Option<&WaitRequest>, by_id: &Orders, report: &mut AuditReport) {
    let status = WaitlistStatus::try_from(request.status).expect("known waitlist status");
    let states: Vec<ChoiceState> =
        request.choices.iter().map(|choice| ChoiceState::try_from(choice.state).expect("known choice state")).collect();
    let all = |state: ChoiceState| states.iter().all(|standing| *standing == state);
    let (activate, cancel) = known.map_or((Sent::Not, Sent::Not), |known| (known.activate, known.cancel));
    let problem = match status {
        WaitlistStatus::Submitted => {
            (activate == Sent::Acknowledged || !all(ChoiceState::NotJoined)).then(|| "activated".to_owned())
        }
        WaitlistStatus::Active => (!all(ChoiceState::Waiting)).then(|| "active, not every choice waiting".to_owned()),
        WaitlistStatus::Fulfilled => fulfilled_problem(request, &states, known, by_id),
        WaitlistStatus::Cancelled => (!matches!(cancel, Sent::Acknowledged | Sent::Unanswered)
            || !(all(ChoiceState::Withdrawn) || request.activated_at_ms == 0 && all(ChoiceState::NotJoined)))
        .then(|| "cancelled: not by the load, or a choice not withdrawn".to_owned()),
        _ => Some("granted (in flight) or expired".to_owned()),
    };
    let cancel_problem = match (cancel, status == WaitlistStatus::Cancelled) {
        (Sent::Acknowledged, false) => Some("its cancel was acknowledged"),
        (Sent::Refused, true) => Some("its cancel was refused"),
        _ => None,
    };
    for problem in problem.into_iter().chain(cancel_problem.map(str::to_owned)) {
        report.problem(format!("request {} ({status:?}, choices {states:?}): {problem}", request.request_id));
    }
}

/// What is wrong with a fulfilled request, if anything.
fn fulfilled_problem(
    request: &pb::WaitlistRequest,
    states: &[ChoiceState],
    known: Option<&WaitRequest>,
    by_id: &Orders,
) -> Option<String> {
    let winners: Vec<usize> = (0..states.len()).filter(|index| states[*index] == ChoiceState::Fulfilled).collect();
    let [winner] = winners[..] else { return Some(format!("{} choices fulfilled", winners.len())) };
    let Some(order) = by_id.get(request.order_id.as_str()) else {
        return Some(format!("its order {} is missing", request.order_id));
    };
    let passengers = request.passenger_names.len() as u64;
    let prepaid_fen = request.choices.iter().map(|choice| choice.fare_fen * passengers).max().unwrap_or(0);
    let names_asked = known.map_or(&request.passenger_names, |known| &known.passengers);
    let wanted: BTreeSet<&str> = names_asked.iter().map(String::as_str).collect();
    if states.iter().enumerate().any(|(index, state)| index != winner && *state != ChoiceState::Lost) {
        Some("another choice did not lose".to_owned())
    } else if !matches!(order_status(order), OrderStatus::Confirmed | OrderStatus::Changed | OrderStatus::Refunded) {
        // Changed or refunded later by the load: `check_order` checks those as the ledger's.
        Some(format!("its order is {:?}", order_status(order)))
    } else if order.train_date != request.choices[winner].train_date || names(order) != wanted {
        Some(format!("its order is not the winning choice's for its passengers: {order:?}"))
    } else if request.prepaid_fen != prepaid_fen || request.refund_fen + order.total_fare_fen != prepaid_fen {
        Some(format!(
            "prepaid {} (dearest choice {prepaid_fen}), refund {} for a fare of {}",
            request.prepaid_fen, request.refund_fen, order.total_fare_fen
        ))
    } else {
        None
    }
}

/// Each passenger's live tickets (held or confirmed, on any train-date)
/// number what their calls allow. Answers the passengers checked.
fn check_passengers(
    known: &Ledger,
    requests: &[pb::WaitlistRequest],
    orders: &[pb::Order],
    report: &mut AuditReport,
) -> usize {
    let mut live: HashMap<&str, usize> = HashMap::new();
    let is_live = |order: &&pb::Order| matches!(order_status(order), OrderStatus::Held | OrderStatus::Confirmed);
    for order in orders.iter().filter(is_live) {
        for ticket in &order.tickets {
            *live.entry(ticket.passenger_name.as_str()).or_default() += 1;
        }
    }
    let mut allowed: HashMap<&str, &[usize]> = HashMap::new();
    for request in requests {
        let counts: &[usize] = if request.status == WaitlistStatus::Fulfilled as i32 { &[1] } else { &[0] };
        allowed.extend(request.passenger_names.iter().map(|name| (name.as_str(), counts)));
    }
    // Then the ledger's orders, sold or fulfilled: their refunds decide.
    for order in known.orders.values() {
        let counts: &[usize] = match order.refund {
            Sent::Not | Sent::Refused => &[1],
            Sent::Acknowledged => &[0],
            Sent::Unanswered => &[0, 1],
        };
        allowed.extend(order.passengers.iter().map(|name| (name.as_str(), counts)));
    }
    for (name, counts) in &allowed {
        let holds = live.get(name).copied().unwrap_or(0);
        if !counts.contains(&holds) {
            report.problem(format!("passenger {name} holds {holds} live tickets; their calls allow {counts:?}"));
        }
    }
    for name in live.keys().filter(|name| !allowed.contains_key(*name)) {
        report.problem(format!("passenger {name} holds tickets nobody bought for them"));
    }
    allowed.len()
}

/// Every Submit sent, repeated with its key: one acknowledged answers the
/// request it recorded; one unanswered answers the request if it was
/// recorded (which joins the ledger, never activated) or is decided afresh.
/// No user has two requests.
async fn check_repeated_submits(
    waitlist: &mut WaitlistClient,
    ledger: &SharedLedger,
    requests: &[pb::WaitlistRequest],
    report: &mut AuditReport,
) {
    let mut per_user: HashMap<&str, usize> = HashMap::new();
    for request in requests {
        *per_user.entry(request.user_id.as_str()).or_default() += 1;
    }
    for (user, count) in per_user.iter().filter(|(_, count)| **count > 1) {
        report.problem(format!("user {user} has {count} waitlist requests from one keyed Submit"));
    }
    let submissions = ledger.lock().unwrap().submissions.clone();
    for (user, submission) in submissions {
        let recorded = {
            let ledger = ledger.lock().unwrap();
            ledger.requests.iter().find(|(_, request)| request.user_id == user).map(|(id, _)| id.clone())
        };
        let repeated = waitlist.submit_waitlist(submission.clone()).await.map(|reply| reply.into_inner().request_id);
        match (recorded, repeated) {
            (Some(recorded), Ok(repeated)) if recorded == repeated => {}
            (Some(recorded), repeated) => {
                report.problem(format!("{user}'s Submit repeated answers {repeated:?}, not {recorded}"));
            }
            (None, Ok(request_id)) => {
                let passengers = submission.passengers.into_iter().map(|passenger| passenger.name).collect();
                let record = WaitRequest { user_id: user, passengers, activate: Sent::Not, cancel: Sent::Not };
                ledger.lock().unwrap().requests.insert(request_id, record);
            }
            (None, Err(_)) => {}
        }
    }
}

/// Party sizes of the active requests waiting on `train_date`.
fn waiting_parties(requests: &[pb::WaitlistRequest], train_date: &pb::TrainDate) -> Vec<usize> {
    requests
        .iter()
        .filter(|request| request.status == WaitlistStatus::Active as i32)
        .filter(|request| {
            request.choices.iter().any(|choice| {
                choice.train_date.as_ref() == Some(train_date) && choice.state == ChoiceState::Waiting as i32
            })
        })
        .map(|request| request.passenger_names.len())
        .collect()
}

/// Fulfilled requests' confirmed orders join the ledger, for later rounds to refund or change.
fn remember_fulfilled(ledger: &SharedLedger, requests: &[pb::WaitlistRequest], by_id: &Orders) {
    let mut ledger = ledger.lock().unwrap();
    for request in requests.iter().filter(|request| request.status == WaitlistStatus::Fulfilled as i32) {
        let Some(order) = by_id.get(request.order_id.as_str()) else { continue };
        if ledger.orders.contains_key(&request.order_id) || order_status(order) != OrderStatus::Confirmed {
            continue;
        }
        let fulfilled = TicketOrder {
            user_id: request.user_id.clone(),
            train_date: order.train_date.clone().expect("an order's train-date"),
            passengers: request.passenger_names.clone(),
            refund: Sent::Not,
            change: None,
        };
        ledger.orders.insert(request.order_id.clone(), fulfilled);
    }
}
