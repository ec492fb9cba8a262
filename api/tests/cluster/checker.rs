//! The independent checker of the cluster scenarios, run on the journal as
//! MySQL holds it once the load has stopped (not through any node):
//! - every acknowledged hold, confirm and cancel is there, in the state the
//!   client was told or one a later unanswered call allows;
//! - no seat segment is sold twice: every stream replayed from seq 1 with the
//!   engine's `apply` passes `verify_invariants` (counts equal a recount,
//!   masks match the orders);
//! - every stream's seqs run 1, 2, 3, … without a gap;
//! - every event carries a fence token (never NULL in a cluster), tokens
//!   never decrease along a stream's seqs, and the last is at most the
//!   slot's `slot_fence` token;
//! - retrying an acknowledged hold (same request id and user) through any
//!   node returns the original order.
//!
//! Events and orders are read with the journal's own reader (so bodies decode
//! as the engine wrote them); the fence columns straight with the `mariadb`
//! client, so the check does not lean on the code under test for them.

use super::booking_load::{Acknowledged, Ledger, Outcome, Targets, with_retries};
use api::pb;
use engine::domain::order::{OrderId, OrderStatus};
use engine::domain::plan::TrainPlan;
use engine::domain::state::{TrainDateKey, TrainDateState};
use engine::slots::slot_of;
use persistence::codec::decode;
use persistence::journal::{Journal, parse_stream_id, stream_id};
use persistence::mysql::MySqlJournal;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Events read per page while replaying.
const PAGE: usize = 1000;
/// Acknowledged holds retried through the nodes at most (a sample when more).
pub const RETRIES_CHECKED_MAX: usize = 150;

#[derive(Debug, Default)]
pub struct Checked {
    pub streams: usize,
    pub events: usize,
    pub acknowledged: usize,
    pub retries: usize,
    /// Per stream: (seq, fence token) in seq order.
    pub tokens: BTreeMap<String, Vec<(u64, u64)>>,
}

/// Runs the mysql client on the database of `url` (mysql://user@host:port/db), rows split on tabs.
pub fn query(url: &str, sql: &str) -> Vec<Vec<String>> {
    let rest = url.strip_prefix("mysql://").expect("a mysql:// URL");
    let (authority, db) = rest.split_once('/').expect("URL names a database");
    let db = db.split('?').next().unwrap_or(db);
    let (user, host) = authority.rsplit_once('@').unwrap_or(("root", authority));
    let (user, password) = user.split_once(':').map_or((user, None), |(user, password)| (user, Some(password)));
    let (host, port) = host.rsplit_once(':').unwrap_or((host, "3306"));
    let mut command = std::process::Command::new("mariadb");
    command.args(["-N", "-B", "--protocol=TCP", "-h", host, "-P", port, "-u", user, db, "-e", sql]);
    if let Some(password) = password {
        command.env("MYSQL_PWD", password);
    }
    let output = command.output().expect("run the mariadb client");
    assert!(output.status.success(), "mariadb {sql:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| line.split('\t').map(str::to_owned).collect())
        .collect()
}

fn engine_status(status: pb::OrderStatus) -> Option<OrderStatus> {
    Some(match status {
        pb::OrderStatus::Held => OrderStatus::Held,
        pb::OrderStatus::Confirmed => OrderStatus::Confirmed,
        pb::OrderStatus::Cancelled => OrderStatus::Cancelled,
        pb::OrderStatus::Refunded => OrderStatus::Refunded,
        pb::OrderStatus::Expired => OrderStatus::Expired,
        _ => return None,
    })
}

/// The statuses an acknowledged order may be stored in.
fn allowed(ack: &Acknowledged) -> Vec<OrderStatus> {
    let mut allowed: Vec<OrderStatus> = engine_status(ack.status).into_iter().collect();
    if ack.confirm_unknown && ack.status == pb::OrderStatus::Held {
        allowed.push(OrderStatus::Confirmed);
    }
    if ack.cancel_unknown {
        allowed.extend([OrderStatus::Cancelled, OrderStatus::Refunded]);
    }
    allowed
}

/// Every stream replayed from seq 1; problems appended.
async fn replay_all(journal: &MySqlJournal, problems: &mut Vec<String>) -> (HashMap<String, TrainDateState>, usize) {
    let mut states = HashMap::new();
    let mut events = 0;
    for stored in journal.load_train_dates().await.expect("load train-dates") {
        let stream = stream_id(&stored.key);
        let mut state = TrainDateState::open(stored.key.clone(), Arc::new(TrainPlan::new(stored.template)));
        let mut after = 0;
        loop {
            let page = journal.read_events(&stream, after, PAGE).await.expect("read events");
            for event in &page {
                if event.seq != after + 1 {
                    problems.push(format!("{stream}: seq {} follows seq {after}", event.seq));
                }
                after = event.seq;
                match decode(event) {
                    Ok(record) => engine::apply(&mut state, &record),
                    Err(error) => problems.push(format!("{stream}: {error}")),
                }
                events += 1;
            }
            if page.len() < PAGE {
                break;
            }
        }
        if let Err(problem) = state.verify_invariants() {
            problems.push(format!("{stream} after replay: {problem}"));
        }
        states.insert(stream, state);
    }
    (states, events)
}

/// The fence columns: no NULL token, tokens non-decreasing along seq, the
/// last at most the slot's fence; seqs from 1 without gaps.
fn check_fences(url: &str, problems: &mut Vec<String>) -> BTreeMap<String, Vec<(u64, u64)>> {
    let fences: HashMap<u16, u64> = query(url, "SELECT slot, token FROM slot_fence")
        .into_iter()
        .map(|row| (row[0].parse().expect("slot"), row[1].parse().expect("token")))
        .collect();
    let mut tokens: BTreeMap<String, Vec<(u64, u64)>> = BTreeMap::new();
    let rows = query(
        url,
        "SELECT train_date, seq, COALESCE(CAST(fence_token AS CHAR), 'NULL') FROM events ORDER BY train_date, seq",
    );
    for row in rows {
        let (stream, seq) = (row[0].clone(), row[1].parse::<u64>().expect("seq"));
        if row[2] == "NULL" {
            problems.push(format!("{stream} seq {seq}: no fence token"));
            continue;
        }
        tokens.entry(stream).or_default().push((seq, row[2].parse().expect("token")));
    }
    for (stream, events) in &tokens {
        for (index, pair) in events.windows(2).enumerate() {
            let ((_, earlier), (seq, later)) = (pair[0], pair[1]);
            if later < earlier {
                problems
                    .push(format!("{stream} seq {seq}: token {later} after token {earlier} (a stale owner committed)"));
            }
            if index == 0 && pair[0].0 != 1 {
                problems.push(format!("{stream}: first seq is {}", pair[0].0));
            }
        }
        let key: TrainDateKey = parse_stream_id(stream).expect("stream id");
        let slot = slot_of(&key);
        let last = events.last().expect("non-empty").1;
        match fences.get(&slot) {
            Some(fence) if last <= *fence => {}
            Some(fence) => problems.push(format!("{stream}: last token {last} above slot {slot}'s fence {fence}")),
            None => problems.push(format!("{stream}: slot {slot} has events but no fence row")),
        }
    }
    tokens
}

/// Checks the journal of `url` against `ledger`, retrying acknowledged holds
/// through `targets`; panics listing every problem.
pub async fn check(url: &str, ledger: &Ledger, targets: &Targets) -> Checked {
    let mut problems = Vec::new();
    let journal = MySqlJournal::connect(url).await.expect("connect to the journal");
    let (states, events) = replay_all(&journal, &mut problems).await;
    let tokens = check_fences(url, &mut problems);
    let acknowledged = ledger.acknowledged();
    for ack in &acknowledged {
        let stream = stream_id(&TrainDateKey::new(
            ack.request.train_date.as_ref().expect("set").train.clone(),
            ack.request.train_date.as_ref().expect("set").date.parse().expect("date"),
        ));
        let Some(state) = states.get(&stream) else {
            problems.push(format!("order {}: stream {stream} not in the journal", ack.order_id));
            continue;
        };
        let id = OrderId(ack.order_id.parse().expect("order id is a uuid"));
        match state.order(&id) {
            None => {
                problems.push(format!("acknowledged order {} (via {}) is not in the journal", ack.order_id, ack.via))
            }
            Some(order) => {
                let allowed = allowed(ack);
                if !allowed.contains(&order.status) {
                    problems.push(format!(
                        "order {}: stored {:?}, acknowledged {:?} (allowed {allowed:?})",
                        ack.order_id, order.status, ack.status
                    ));
                }
                if order.tickets.len() != ack.tickets {
                    problems.push(format!(
                        "order {}: {} tickets stored, {} acknowledged",
                        ack.order_id,
                        order.tickets.len(),
                        ack.tickets
                    ));
                }
                match state.order_for_request(&ack.request.user_id, &ack.request.request_id) {
                    Some(found) if found.id == id => {}
                    _ => problems.push(format!("order {}: its request id does not lead to it", ack.order_id)),
                }
            }
        }
    }
    let mut retries = 0;
    let never = AtomicBool::new(false);
    let step = acknowledged.len().div_ceil(RETRIES_CHECKED_MAX).max(1);
    for ack in acknowledged.iter().step_by(step) {
        let request = ack.request.clone();
        let outcome = with_retries(ledger, targets, &never, |node| {
            let request = request.clone();
            async move { node.booking.clone().hold(request).await.map(|reply| reply.into_inner()) }
        })
        .await;
        match outcome {
            Outcome::Ok(order, _) if order.order_id == ack.order_id => retries += 1,
            Outcome::Ok(order, via) => {
                problems.push(format!("retrying {}'s hold via {via} gave order {}", ack.order_id, order.order_id))
            }
            Outcome::Refused(status) => problems.push(format!("retrying {}'s hold: {status}", ack.order_id)),
            Outcome::GaveUp => problems.push(format!("retrying {}'s hold: no answer", ack.order_id)),
        }
    }
    assert!(problems.is_empty(), "the checker found {} problems:\n{}", problems.len(), problems.join("\n"));
    Checked { streams: states.len(), events, acknowledged: acknowledged.len(), retries, tokens }
}
