//! The workflows under load: one client task per kind of call, all at once,
//! each a bounded number of calls per round, until seatd is killed at a
//! random point among their replies.
//!
//! - refunds of confirmed orders (sold, or fulfilled from the waitlist),
//!   whose seats serve the waitlist queues;
//! - changes of confirmed orders (sold, or fulfilled from the waitlist) to
//!   the spare train the same day (they commit), or to a waited train-date
//!   (sold out: they abort);
//! - changes in place to first class, which free business seats at once;
//! - a refund racing a change of the same order: sent up to 15 ms after
//!   it, the refund lands before the change starts (which is then refused),
//!   among its steps (and aborts it), or after its commit (and is refused);
//! - waitlist cancels, and new requests submitted and activated.

use super::{ChangeSent, SPARE_TRAIN, Sent, SharedLedger, WAITED_TRAINS, setup};
use crate::crash::{ChangeClient, Client, Seatd, WaitlistClient};
use api::pb::{self, SeatClass};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// Calls of each kind per round: enough that several workflows run when the
/// kill comes. What they use up comes back: freed seats fulfil requests
/// (new orders to refund or change), and each round sells out what is left
/// and queues new requests.
const BUDGETS: [(Call, u32); 6] = [
    (Call::Refund, 5),
    (Call::ChangeAcross, 5),
    (Call::ChangeInPlace, 2),
    (Call::RefundWhileChanging, 1),
    (Call::CancelWaitlist, 2),
    (Call::Submit, 3),
];
/// The kill comes once this many replies at most were acknowledged (a random
/// number from 1), so it lands among the steps those calls set off.
const KILL_AFTER_ACKNOWLEDGED_MAX: u32 = 12;
/// And up to this much later, so it also lands between a reply and its steps.
const KILL_JITTER_MS: u64 = 30;
/// Longest a round's load runs before the kill whatever was acknowledged,
/// and longest the last round (no kill) may take to make all its calls.
const LOAD_TIME_MAX: Duration = Duration::from_secs(10);
/// Pause before each call, so the kinds interleave.
const PAUSE_MAX_MS: u64 = 20;
/// Longest a refund racing a change of the same order waits: about what the
/// change's steps take, so the refund lands before, among or after them.
const RACE_REFUND_DELAY_MAX_MS: u64 = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Call {
    Refund,
    ChangeAcross,
    ChangeInPlace,
    RefundWhileChanging,
    CancelWaitlist,
    Submit,
}

/// Calls per kind: acknowledged, refused, unanswered.
#[derive(Default)]
pub struct Stats(BTreeMap<Call, [u32; 3]>);

impl Stats {
    fn add(&mut self, call: Call, sent: Sent) {
        let counts = self.0.entry(call).or_default();
        match sent {
            Sent::Acknowledged => counts[0] += 1,
            Sent::Refused => counts[1] += 1,
            Sent::Unanswered => counts[2] += 1,
            Sent::Not => {}
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls: Vec<String> =
            self.0.iter().map(|(call, [ok, refused, lost])| format!("{call:?} {ok}/{refused}/{lost}")).collect();
        write!(f, "(acknowledged/refused/unanswered) {}", calls.join(", "))
    }
}

pub struct Load {
    tasks: JoinSet<Stats>,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<AtomicU32>,
    /// Tasks still calling.
    calling: Arc<AtomicU32>,
}

/// Starts one task per kind of call.
pub async fn start(seatd: &Seatd, ledger: &SharedLedger) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicU32::new(0));
    let calling = Arc::new(AtomicU32::new(BUDGETS.len() as u32));
    let mut tasks = JoinSet::new();
    for (call, budget) in BUDGETS {
        let mut clients = Clients {
            booking: seatd.client().await,
            waitlist: seatd.waitlist_client().await,
            change: seatd.change_client().await,
        };
        let (ledger, stop, acknowledged) = (Arc::clone(ledger), Arc::clone(&stop), Arc::clone(&acknowledged));
        let calling = Arc::clone(&calling);
        tasks.spawn(async move {
            let mut stats = Stats::default();
            for _ in 0..budget {
                tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % PAUSE_MAX_MS)).await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                for sent in clients.call(call, &ledger).await {
                    acknowledged.fetch_add(u32::from(sent == Sent::Acknowledged), Ordering::Relaxed);
                    stats.add(call, sent);
                }
            }
            calling.fetch_sub(1, Ordering::Relaxed);
            stats
        });
    }
    Load { tasks, stop, acknowledged, calling }
}

impl Load {
    /// Waits for the kill point; answers the replies acknowledged by then.
    pub async fn until_kill_point(&self) -> u32 {
        let target = 1 + rand::random::<u32>() % KILL_AFTER_ACKNOWLEDGED_MAX;
        let started = Instant::now();
        while self.acknowledged.load(Ordering::Relaxed) < target
            && started.elapsed() < LOAD_TIME_MAX
            && self.calling.load(Ordering::Relaxed) > 0
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % KILL_JITTER_MS)).await;
        self.acknowledged.load(Ordering::Relaxed)
    }

    /// Lets every task make all its calls, and sums them.
    pub async fn run_out(self) -> Stats {
        tokio::time::timeout(LOAD_TIME_MAX, self.sum()).await.expect("the calls end in time")
    }

    /// Stops the calls (seatd is dead: those in flight fail) and sums them.
    pub async fn finish(self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        self.sum().await
    }

    async fn sum(mut self) -> Stats {
        let mut total = Stats::default();
        while let Some(joined) = self.tasks.join_next().await {
            for (call, counts) in joined.expect("load task").0 {
                let sum = total.0.entry(call).or_default();
                (0..3).for_each(|index| sum[index] += counts[index]);
            }
        }
        total
    }
}

struct Clients {
    booking: Client,
    waitlist: WaitlistClient,
    change: ChangeClient,
}

impl Clients {
    /// One call of `call`'s kind (two for a refund while changing, and a
    /// submission with its activation); none when the ledger has nothing
    /// left to call it on.
    async fn call(&mut self, call: Call, ledger: &SharedLedger) -> Vec<Sent> {
        match call {
            Call::Refund => {
                let Some(picked) = pick_order(ledger, Plan::Refund) else { return vec![] };
                vec![refund(&mut self.booking, ledger, &picked).await]
            }
            Call::ChangeAcross | Call::ChangeInPlace => {
                let plan = Plan::Change { in_place: call == Call::ChangeInPlace };
                let Some(picked) = pick_order(ledger, plan) else { return vec![] };
                vec![change_order(&mut self.change, ledger, &picked).await]
            }
            Call::RefundWhileChanging => {
                let Some(picked) = pick_order(ledger, Plan::RefundAndChange) else { return vec![] };
                // The refund a little later at random: before the change
                // starts, while it runs (the refund aborts it), or after it.
                let refund_later = async {
                    tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % RACE_REFUND_DELAY_MAX_MS)).await;
                    refund(&mut self.booking, ledger, &picked).await
                };
                let (refunded, changed) = tokio::join!(refund_later, change_order(&mut self.change, ledger, &picked));
                vec![refunded, changed]
            }
            Call::CancelWaitlist => vec![self.cancel_waitlist(ledger).await],
            Call::Submit => {
                let (submitted, activated) = setup::submit_and_activate(&mut self.waitlist, ledger).await;
                vec![submitted, activated]
            }
        }
    }

    /// Cancels an activated request nobody cancelled yet.
    async fn cancel_waitlist(&mut self, ledger: &SharedLedger) -> Sent {
        let picked = {
            let mut ledger = ledger.lock().unwrap();
            let open: Vec<String> = ledger
                .requests
                .iter()
                .filter(|(_, request)| request.activate == Sent::Acknowledged && request.cancel == Sent::Not)
                .map(|(id, _)| id.clone())
                .collect();
            let picked = (!open.is_empty()).then(|| open[rand::random::<u32>() as usize % open.len()].clone());
            picked.map(|request_id| {
                let request = ledger.requests.get_mut(&request_id).expect("picked");
                request.cancel = Sent::Unanswered;
                pb::WaitlistRequestRef { request_id, user_id: request.user_id.clone() }
            })
        };
        let Some(reference) = picked else { return Sent::Not };
        let sent = Sent::of(&self.waitlist.cancel_waitlist(reference.clone()).await);
        ledger.lock().unwrap().requests.get_mut(&reference.request_id).expect("picked").cancel = sent;
        sent
    }
}

/// What the load means to do with an order it picks.
#[derive(Clone, Copy)]
enum Plan {
    Refund,
    Change { in_place: bool },
    RefundAndChange,
}

/// An order picked and marked in the ledger as being refunded or changed.
struct Picked {
    order_id: String,
    user_id: String,
    /// The change's target and class, when changed.
    change: Option<(pb::TrainDate, SeatClass)>,
}

/// A random confirmed order nobody refunded or changed yet, marked with the
/// plan at once so no other task picks it.
fn pick_order(ledger: &SharedLedger, plan: Plan) -> Option<Picked> {
    let mut ledger = ledger.lock().unwrap();
    let refunds = !matches!(plan, Plan::Change { .. });
    let untouched: Vec<String> = ledger
        .orders
        .iter()
        .filter(|(_, order)| order.refund == Sent::Not && order.change.is_none())
        .map(|(id, _)| id.clone())
        .collect();
    if untouched.is_empty() {
        return None;
    }
    let order_id = untouched[rand::random::<u32>() as usize % untouched.len()].clone();
    let order = ledger.orders.get_mut(&order_id).expect("picked");
    if refunds {
        order.refund = Sent::Unanswered;
    }
    let change = match plan {
        Plan::Refund => None,
        Plan::Change { in_place: true } => Some((order.train_date.clone(), SeatClass::First)),
        Plan::Change { in_place: false } | Plan::RefundAndChange => {
            Some((across_target(&order.train_date), SeatClass::Business))
        }
    };
    if let Some((target, class)) = &change {
        order.change = Some(ChangeSent {
            target: target.clone(),
            class: *class,
            sent: Sent::Unanswered,
            outcome: None,
            new_order_id: None,
        });
    }
    Some(Picked { order_id, user_id: order.user_id.clone(), change })
}

async fn refund(booking: &mut Client, ledger: &SharedLedger, picked: &Picked) -> Sent {
    let request = pb::CancelRequest { order_id: picked.order_id.clone(), user_id: picked.user_id.clone() };
    let reply = booking.cancel(request).await;
    // Cancelling an ended order returns it unchanged: one a change ended
    // first answers CHANGED, and was not refunded.
    let changed_first = reply.as_ref().is_ok_and(|order| order.get_ref().status != pb::OrderStatus::Refunded as i32);
    let sent = if changed_first { Sent::Refused } else { Sent::of(&reply) };
    ledger.lock().unwrap().orders.get_mut(&picked.order_id).expect("picked").refund = sent;
    sent
}

async fn change_order(change: &mut ChangeClient, ledger: &SharedLedger, picked: &Picked) -> Sent {
    let (target, class) = picked.change.clone().expect("picked for a change");
    let request = pb::ChangeOrderRequest {
        order_id: picked.order_id.clone(),
        user_id: picked.user_id.clone(),
        train_date: Some(target),
        seat_class: class.into(),
        ..Default::default()
    };
    let reply = change.change_order(request).await;
    let sent = Sent::of(&reply);
    let mut ledger = ledger.lock().unwrap();
    let order = ledger.orders.get_mut(&picked.order_id).expect("picked");
    let recorded = order.change.as_mut().expect("planned");
    recorded.sent = sent;
    if let Ok(reply) = reply {
        let reply = reply.into_inner();
        recorded.outcome = pb::ChangeOutcome::try_from(reply.outcome).ok();
        recorded.new_order_id = Some(reply.new_order_id);
    }
    sent
}

/// The spare train the same day (two times in three: it commits) or the
/// other waited train the same day (sold out: it aborts, unless seats came
/// free that no waiting party fits).
fn across_target(from: &pb::TrainDate) -> pb::TrainDate {
    let other_waited = WAITED_TRAINS.iter().find(|train| **train != from.train).expect("two waited trains");
    let train = if !rand::random::<u8>().is_multiple_of(3) { SPARE_TRAIN } else { other_waited };
    pb::TrainDate { train: train.into(), date: from.date.clone() }
}
