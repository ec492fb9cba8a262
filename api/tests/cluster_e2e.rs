//! Black-box scenarios of cluster mode: real seatd processes, a real etcd and
//! the shared MariaDB (`MYSQL_URL`, a database per test), and an independent
//! checker (`cluster::checker`) run on the journal after every load:
//!
//! 1. `kill_9_of_a_slot_owner_under_load`: three nodes under booking load;
//!    in each round a node owning loaded train-dates is SIGKILLed, the
//!    failover is timed (detection: a survivor's ClusterStatus shows the
//!    train-date owned by a survivor; then the first OK hold on it), and the
//!    node restarts with the same id. Rounds: `CLUSTER_ROUNDS` (default 3);
//!    `CLUSTER_ROUNDS=10 cargo test --release -p seat-api --test cluster_e2e -- --nocapture`
//!    prints the figures of a longer run (per round, then p50 and max).
//! 2. `paused_owner_commits_nothing_after_the_move`: the owner of a
//!    train-date is SIGSTOPped for 2 × its lease with a hold in flight to it;
//!    a survivor takes the slot and sells; after SIGCONT the old owner's
//!    events never follow the new token's (tokens never decrease along a
//!    stream), and whatever it acknowledged is in the journal. The survivor
//!    must sell while the old owner is still stopped: a node stopped inside
//!    an append transaction holds a share lock on the fence row, which the
//!    database rolls back after a lease of idleness (cluster nodes set
//!    `idle_transaction_timeout`), so the new owner's fence raise proceeds.
//! 3. `join_and_graceful_leave_under_load`: a third node joins, then the
//!    first leaves with SIGTERM: nothing acknowledged is lost, every error a
//!    client saw is UNAVAILABLE (or, rarely, the client's own connection to
//!    the leaving node breaking: UNKNOWN "transport error" with a local
//!    source, which no server sends; both retried with the same request),
//!    and the longest silence on a moved train-date is printed.
//! 4. `bad_input_at_start_up`: cluster mode on SQLite, without --node-id,
//!    with a port-less or unreachable --advertise, and a second node with a
//!    live node's id: each exits non-zero saying why; the first node serves on.
//!
//! 5. `watches_follow_the_owner`: a WatchAvailability of journeys that the
//!    other node serves is forwarded there and sees a hold made through
//!    the entry node; a search watch, or journeys on both nodes, is refused
//!    with WATCH_SPANS_NODES.
//! 6. `waitlist_fulfilment_survives_the_kill_of_its_records_node`: a
//!    waitlist request with choices on two nodes; the node holding its
//!    record is stopped while the other reserves freed seats for it, then
//!    killed; the survivor finishes the fulfilment exactly once. Then a
//!    ticket moves between nodes with ChangeOrder.
//!
//! Needs etcd and MySQL: skips with a note without them, fails under `CI=true`.
//! The scenarios run one at a time (they time failovers on a small box).

#[allow(dead_code)] // the harness also serves the other cluster tests; this file uses part of it
mod cluster;

use api::pb;
use cluster::booking_load::{
    Ledger, Load, Outcome, Targets, label, loaded_train_dates, longest_gap, retryable, with_retries,
};
use cluster::checker::{self, Checked};
use cluster::seatd::{ClusterSpec, LEASE_TTL, Node, NodeClients, owner_of, spawn, wait_spread};
use cluster::services::{ETCD_START_TIMEOUT, Etcd, Need, available, free_port};
use persistence::test_env::{MYSQL_URL, service_url};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Concurrent booking clients in a load scenario.
const LOAD_CLIENTS: usize = 6;
/// Longest the slots may take to spread over the live nodes.
const SPREAD_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest a failover (detection, then the first OK hold) may take.
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(30);
/// Load before each kill, pause, join or leave.
const LOAD_BEFORE: Duration = Duration::from_millis(1500);
/// Rounds of scenario 1 unless `CLUSTER_ROUNDS` says otherwise.
const DEFAULT_ROUNDS: usize = 3;
/// Upper bound on `CLUSTER_ROUNDS`, so a typo cannot run for hours.
const ROUNDS_MAX: usize = 100;
/// How many lease TTLs the paused owner stays stopped at least.
const PAUSE_LEASES: u32 = 2;
/// Pause between two polls of a node's status.
const POLL: Duration = Duration::from_millis(20);

/// The scenarios time failovers: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn rounds() -> usize {
    std::env::var("CLUSTER_ROUNDS")
        .ok()
        .and_then(|rounds| rounds.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS)
        .min(ROUNDS_MAX)
}

/// etcd and a database of the test's own on the shared MySQL server.
struct Env {
    server_url: String,
    db: String,
    spec: ClusterSpec,
    _etcd: Etcd,
}

impl Env {
    async fn new(test: &str) -> Option<Env> {
        if !available(test, &[Need::Etcd]) {
            return None;
        }
        let server_url = service_url(MYSQL_URL, test)?;
        let db = format!("seat_e2e_{}_{:08x}", std::process::id(), rand::random::<u32>());
        persistence::test_support::create_database(&server_url, &db).await.expect("create test database");
        let url = persistence::test_support::database_url(&server_url, &db);
        let mut etcd = Etcd::single();
        etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd healthy");
        let spec = ClusterSpec::new(&url, &etcd.client_urls()[0]);
        Some(Env { server_url, db, spec, _etcd: etcd })
    }

    async fn drop_database(&self) {
        persistence::test_support::drop_database(&self.server_url, &self.db).await.expect("drop test database");
    }
}

/// A failed scenario drops its database too (the nodes' logs are kept):
/// the shared server's disk has filled up before.
impl Drop for Env {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let (server_url, db) = (self.server_url.clone(), self.db.clone());
        // Its own runtime on its own thread: this may run inside the test's.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(persistence::test_support::drop_database(&server_url, &db)).ok()
        })
        .join();
    }
}

/// The nodes of one test cluster, by id, each on its own port for good.
struct Nodes {
    running: BTreeMap<String, Node>,
    ports: BTreeMap<String, u16>,
}

impl Nodes {
    fn new() -> Nodes {
        Nodes { running: BTreeMap::new(), ports: BTreeMap::new() }
    }

    /// Starts (or restarts, on its old port) node `id`.
    async fn start(&mut self, spec: &ClusterSpec, id: &str, demo: bool) {
        let port = *self.ports.entry(id.to_owned()).or_insert_with(free_port);
        let node = Node::start(spec, id, port, demo).await;
        self.running.insert(id.to_owned(), node);
    }

    fn node(&mut self, id: &str) -> &mut Node {
        self.running.get_mut(id).expect("node running")
    }

    fn clients(&self, spec: &ClusterSpec) -> Vec<NodeClients> {
        self.running.values().map(|node| spec.clients(&node.id, &node.address)).collect()
    }

    fn logs(&self) -> String {
        self.running.values().map(|node| format!("--- {} ---\n{}", node.id, node.log.tail(40))).collect()
    }
}

/// A failed scenario leaves every node's kept log in the temp dir, named in
/// the output, since the tail in a message rarely holds the cause.
impl Drop for Nodes {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for node in self.running.values() {
            let path = std::env::temp_dir().join(format!("seat-cluster-{}-{}.log", std::process::id(), node.id));
            if std::fs::write(&path, node.log.all()).is_ok() {
                eprintln!("{}'s log: {}", node.id, path.display());
            }
        }
    }
}

fn targets(clients: Vec<NodeClients>) -> Targets {
    Arc::new(RwLock::new(clients))
}

/// The first of the live nodes, to ask about the cluster.
fn first(targets: &Targets) -> NodeClients {
    targets.read().unwrap()[0].clone()
}

/// Owner id of every loaded train-date, as `via` sees it.
async fn owners(via: &NodeClients) -> BTreeMap<String, String> {
    let mut owners = BTreeMap::new();
    for train_date in loaded_train_dates() {
        let (owner, _) = owner_of(via, &train_date).await.expect("cluster status");
        owners.insert(label(&train_date), owner);
    }
    owners
}

/// A hold of one second-class seat on `train_date`: there is always one left.
fn one_seat_hold(ledger: &Ledger, user: &str, attempt: u32, train_date: &pb::TrainDate) -> pb::HoldRequest {
    let mut request = ledger.random_hold(user, attempt, std::slice::from_ref(train_date));
    request.passengers.truncate(1);
    request.passengers[0].seat_class = pb::SeatClass::Second.into();
    request
}

/// One hold on `train_date` through `targets`, retried until OK (and
/// recorded as acknowledged); when it was acknowledged.
async fn first_ok_hold(ledger: &Ledger, targets: &Targets, user: &str, train_date: &pb::TrainDate) -> Instant {
    let request = one_seat_hold(ledger, user, 0, train_date);
    let never = AtomicBool::new(false);
    let started = Instant::now();
    loop {
        let outcome = with_retries(ledger, targets, &never, |node| {
            let request = request.clone();
            async move { node.booking.clone().hold(request).await.map(|reply| reply.into_inner()) }
        })
        .await;
        match outcome {
            Outcome::Ok(order, via) => {
                let acknowledged_at = Instant::now();
                ledger.record_ok(train_date);
                ledger.acknowledge(cluster::booking_load::Acknowledged {
                    request: request.clone(),
                    order_id: order.order_id,
                    tickets: order.tickets.len(),
                    status: pb::OrderStatus::try_from(order.status).expect("status"),
                    via,
                    confirm_unknown: false,
                    cancel_unknown: false,
                });
                return acknowledged_at;
            }
            Outcome::Refused(status) => panic!("probe hold on {} refused: {status}", label(train_date)),
            Outcome::GaveUp => assert!(started.elapsed() < FAILOVER_TIMEOUT, "no OK hold on {}", label(train_date)),
        }
    }
}

/// Polls every node of `via` until one says `train_date` is owned by a node
/// other than `gone`; the new owner and token.
async fn wait_owner_other_than(via: &[NodeClients], train_date: &pb::TrainDate, gone: &str) -> (String, u64) {
    let started = Instant::now();
    loop {
        for node in via {
            if let Ok((owner, token)) = owner_of(node, train_date).await
                && !owner.is_empty()
                && owner != gone
            {
                return (owner, token);
            }
        }
        assert!(started.elapsed() < FAILOVER_TIMEOUT, "{} still not owned by a survivor", label(train_date));
        tokio::time::sleep(POLL).await;
    }
}

fn ms(duration: Duration) -> u128 {
    duration.as_millis()
}

fn p50_max(values: &mut [Duration]) -> (u128, u128) {
    values.sort_unstable();
    (ms(values[values.len() / 2]), ms(*values.last().expect("a round")))
}

fn print_checked(scenario: &str, checked: &Checked) {
    eprintln!(
        "{scenario}: checker: {} streams, {} events, {} acknowledged orders present, {} retried holds gave the original order",
        checked.streams, checked.events, checked.acknowledged, checked.retries
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_slot_owner_under_load() {
    let _serial = SERIAL.lock().await;
    let test = "kill_9_of_a_slot_owner_under_load";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let mut nodes = Nodes::new();
    nodes.start(spec, "n1", true).await;
    nodes.start(spec, "n2", false).await;
    nodes.start(spec, "n3", false).await;
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let ledger = Arc::new(Ledger::default());
    let all = targets(nodes.clients(spec));
    let load = Load::start(&ledger, &all, LOAD_CLIENTS, "kill", &loaded_train_dates());
    let (mut detections, mut failovers) = (Vec::new(), Vec::new());
    for round in 0..rounds() {
        tokio::time::sleep(LOAD_BEFORE).await;
        let train_dates = loaded_train_dates();
        let chosen = &train_dates[round % train_dates.len()];
        let (victim, old_token) = owner_of(&first(&all), chosen).await.expect("cluster status");
        let owners = owners(&spec.clients(&victim, &nodes.node(&victim).address)).await;
        let owned_by_victim = owners.values().filter(|owner| **owner == victim).count();
        let survivors: Vec<NodeClients> = nodes.clients(spec).into_iter().filter(|node| node.id != victim).collect();
        let killed_at = Instant::now();
        nodes.node(&victim).kill9().await;
        let survivor_targets = targets(survivors.clone());
        let probe_user = format!("probe-kill-r{round}");
        let (detected, first_ok) = tokio::join!(
            async {
                let owner = wait_owner_other_than(&survivors, chosen, &victim).await;
                (Instant::now(), owner)
            },
            first_ok_hold(&ledger, &survivor_targets, &probe_user, chosen)
        );
        let (detected_at, (new_owner, new_token)) = detected;
        let (detection, failover) = (detected_at - killed_at, first_ok - killed_at);
        eprintln!(
            "kill -9 round {round}: killed {victim} (owned {owned_by_victim} of {} loaded train-dates, {} token {old_token}); \
             detection {} ms ({new_owner} token {new_token}), first OK hold {} ms after the kill",
            train_dates.len(),
            label(chosen),
            ms(detection),
            ms(failover)
        );
        assert!(new_token > old_token, "the new owner's token rises");
        detections.push(detection);
        failovers.push(failover);
        nodes.start(spec, &victim, false).await;
        wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    }
    let stats = load.finish().await;
    let unexpected = ledger.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "unexpected refusals: {unexpected:?}");
    let checked = checker::check(&spec.database_url, &ledger, &all).await;
    let (detection_p50, detection_max) = p50_max(&mut detections);
    let (failover_p50, failover_max) = p50_max(&mut failovers);
    eprintln!(
        "kill -9 over {} rounds (lease {} ms): detection p50 {detection_p50} ms, max {detection_max} ms; \
         first OK hold p50 {failover_p50} ms, max {failover_max} ms; load {stats:?}; errors {:?}",
        detections.len(),
        LEASE_TTL.as_millis(),
        ledger.errors.lock().unwrap()
    );
    print_checked(test, &checked);
    assert!(stats.holds_ok > 0, "the load booked something");
    drop(nodes);
    env.drop_database().await;
}

/// One direct call to the paused node: when it was sent and answered.
struct DirectCall {
    sent: Instant,
    answered: Instant,
    ok: Option<String>,
    error: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_owner_commits_nothing_after_the_move() {
    let _serial = SERIAL.lock().await;
    let test = "paused_owner_commits_nothing_after_the_move";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let mut nodes = Nodes::new();
    for (id, demo) in [("n1", true), ("n2", false), ("n3", false)] {
        nodes.start(spec, id, demo).await;
    }
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let ledger = Arc::new(Ledger::default());
    let all = targets(nodes.clients(spec));
    let load = Load::start(&ledger, &all, LOAD_CLIENTS, "pause", &loaded_train_dates());
    let chosen = loaded_train_dates()[0].clone();
    let (paused, old_token) = owner_of(&first(&all), &chosen).await.expect("status");
    let paused_address = nodes.node(&paused).address.clone();
    // Straight to the owner with a long timeout, so one call is in flight
    // across the pause and answered only after SIGCONT.
    let direct = NodeClients::new(&paused, &paused_address, &spec.agent_token(), &spec.admin_token(), FAILOVER_TIMEOUT);
    let stop_direct = Arc::new(AtomicBool::new(false));
    let direct_late = direct.clone();
    let direct_calls = tokio::spawn({
        let (ledger, stop, chosen, direct) = (Arc::clone(&ledger), Arc::clone(&stop_direct), chosen.clone(), direct);
        async move {
            let mut calls = Vec::new();
            for attempt in 0u32.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let request = one_seat_hold(&ledger, "direct", attempt, &chosen);
                let sent = Instant::now();
                let reply = direct.booking.clone().hold(request.clone()).await;
                let answered = Instant::now();
                let mut call = DirectCall { sent, answered, ok: None, error: None };
                match reply {
                    Ok(order) => {
                        let order = order.into_inner();
                        call.ok = Some(order.order_id.clone());
                        ledger.record_ok(&chosen);
                        ledger.acknowledge(cluster::booking_load::Acknowledged {
                            request,
                            order_id: order.order_id,
                            tickets: order.tickets.len(),
                            status: pb::OrderStatus::try_from(order.status).expect("status"),
                            via: "direct".into(),
                            confirm_unknown: false,
                            cancel_unknown: false,
                        });
                    }
                    Err(status) => call.error = Some(format!("{:?}: {}", status.code(), status.message())),
                }
                calls.push(call);
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            calls
        }
    });
    tokio::time::sleep(LOAD_BEFORE).await;
    let survivors: Vec<NodeClients> = nodes.clients(spec).into_iter().filter(|node| node.id != paused).collect();
    let stopped_at = Instant::now();
    nodes.node(&paused).signal("STOP");
    // A hold sent to the stopped owner: it waits in the socket and is served
    // (or refused) only after SIGCONT, when the slot has moved on.
    let late = tokio::spawn({
        let (request, direct) = (one_seat_hold(&ledger, "late", 0, &chosen), direct_late.clone());
        async move { (direct.booking.clone().hold(request.clone()).await, request) }
    });
    let (new_owner, new_token) = wait_owner_other_than(&survivors, &chosen, &paused).await;
    let moved_after = stopped_at.elapsed();
    let probe = tokio::spawn({
        let (ledger, survivors, chosen) = (Arc::clone(&ledger), targets(survivors.clone()), chosen.clone());
        async move { first_ok_hold(&ledger, &survivors, "probe-pause", &chosen).await }
    });
    // The pause lasts PAUSE_LEASES leases, then as long again while no
    // survivor sells (bounded), so a survivor has every chance to sell
    // while the old owner is still stopped.
    let pause = PAUSE_LEASES * LEASE_TTL;
    let pause_end = stopped_at + 2 * pause;
    while Instant::now() < stopped_at + pause || (!probe.is_finished() && Instant::now() < pause_end) {
        tokio::time::sleep(POLL).await;
    }
    let sold_while_paused = probe.is_finished();
    // What the database is doing meanwhile: a stopped node's open
    // transaction keeps its share lock on the fence row, and the new owner's
    // fence raise waits for it.
    let transactions = checker::query(
        &spec.database_url,
        "SELECT trx_mysql_thread_id, trx_state, TIMESTAMPDIFF(SECOND, trx_started, NOW()), \
         COALESCE(LEFT(trx_query, 60), '-') FROM information_schema.innodb_trx",
    );
    let continued_at = Instant::now();
    nodes.node(&paused).signal("CONT");
    let sold_at = probe.await.expect("probe");
    let (late_reply, late_request) = late.await.expect("late call");
    let late_outcome = match late_reply {
        Ok(order) => {
            let order = order.into_inner();
            let outcome = format!("acknowledged order {} (checked in the journal below)", order.order_id);
            ledger.record_ok(&chosen);
            ledger.acknowledge(cluster::booking_load::Acknowledged {
                request: late_request,
                order_id: order.order_id,
                tickets: order.tickets.len(),
                status: pb::OrderStatus::try_from(order.status).expect("status"),
                via: format!("{paused} after SIGCONT"),
                confirm_unknown: false,
                cancel_unknown: false,
            });
            outcome
        }
        Err(status) => format!("{:?}: {}", status.code(), status.message()),
    };
    eprintln!("pause: the hold sent to {paused} while it was stopped, answered after SIGCONT: {late_outcome}");
    let sold_after = sold_at - stopped_at;
    eprintln!(
        "pause: SIGSTOPped {paused} (owner of {}, token {old_token}) for {} ms; {new_owner} owned it in etcd \
         (token {new_token}) after {} ms and sold on it after {} ms ({})",
        label(&chosen),
        ms(continued_at - stopped_at),
        ms(moved_after),
        ms(sold_after),
        if sold_while_paused { "while the old owner was still stopped" } else { "only after SIGCONT" }
    );
    // A stopped node's open append (holding its share lock on the fence
    // row) is rolled back by the database after a lease of idleness, so a
    // survivor sells while the old owner is still stopped.
    assert!(
        sold_while_paused,
        "no survivor could sell on {} while {paused} was stopped; open InnoDB transactions \
         at SIGCONT (thread, state, age s, query): {transactions:?}",
        label(&chosen)
    );
    assert!(new_token > old_token, "the new owner's token rises");
    // The old owner wakes with its lease gone: let it find out, rejoin, and
    // take its share back while the load goes on.
    tokio::time::sleep(LOAD_BEFORE).await;
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    stop_direct.store(true, Ordering::Relaxed);
    let calls = direct_calls.await.expect("direct client");
    let stats = load.finish().await;
    let in_flight = calls.iter().filter(|call| call.sent < stopped_at && call.answered > continued_at).count();
    let after: Vec<&DirectCall> = calls.iter().filter(|call| call.answered > continued_at).collect();
    let acknowledged_after = after.iter().filter(|call| call.ok.is_some()).count();
    let errors_after: BTreeSet<&str> = after.iter().filter_map(|call| call.error.as_deref()).collect();
    eprintln!(
        "pause: {} direct calls to {paused}, {in_flight} in flight across the pause; after SIGCONT {} answered: \
         {acknowledged_after} acknowledged (checked in the journal below), errors {errors_after:?}",
        calls.len(),
        after.len()
    );
    let checked = checker::check(&spec.database_url, &ledger, &all).await;
    // Every event of the chosen stream from the new token's first on carries
    // the new token or a later one: the old owner committed nothing after the move.
    let stream = persistence::journal::stream_id(&engine::domain::state::TrainDateKey::new(
        chosen.train.clone(),
        chosen.date.parse().expect("date"),
    ));
    let tokens = checked.tokens.get(&stream).expect("the chosen stream has events");
    let first_new = tokens.iter().position(|(_, token)| *token == new_token).expect("the new owner committed");
    let stale: Vec<&(u64, u64)> = tokens[first_new..].iter().filter(|(_, token)| *token < new_token).collect();
    assert!(stale.is_empty(), "events after the move with an older token: {stale:?}");
    eprintln!(
        "pause: {stream}: {} events, {} under token {new_token} or later from seq {}; load {stats:?}",
        tokens.len(),
        tokens.len() - first_new,
        tokens[first_new].0
    );
    print_checked(test, &checked);
    drop(nodes);
    env.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_and_graceful_leave_under_load() {
    let _serial = SERIAL.lock().await;
    let test = "join_and_graceful_leave_under_load";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let mut nodes = Nodes::new();
    nodes.start(spec, "n1", true).await;
    nodes.start(spec, "n2", false).await;
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let ledger = Arc::new(Ledger::default());
    let live = targets(nodes.clients(spec));
    let load = Load::start(&ledger, &live, LOAD_CLIENTS, "move", &loaded_train_dates());
    tokio::time::sleep(LOAD_BEFORE).await;
    let before = owners(&first(&live)).await;

    let join_at = Instant::now();
    nodes.start(spec, "n3", false).await;
    *live.write().unwrap() = nodes.clients(spec);
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let joined_at = Instant::now();
    let middle = owners(&first(&live)).await;
    tokio::time::sleep(LOAD_BEFORE).await;

    let leave_at = Instant::now();
    let exit = nodes.node("n1").terminate().await;
    assert!(exit.success(), "n1 leaves cleanly: {exit}\n{}", nodes.node("n1").log.tail(40));
    nodes.running.remove("n1");
    *live.write().unwrap() = nodes.clients(spec);
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let left_at = Instant::now();
    let after = owners(&first(&live)).await;
    tokio::time::sleep(LOAD_BEFORE).await;
    let stats = load.finish().await;

    let moved = |from: &BTreeMap<String, String>, to: &BTreeMap<String, String>| -> Vec<String> {
        from.iter().filter(|(label, owner)| to.get(*label) != Some(owner)).map(|(label, _)| label.clone()).collect()
    };
    let slack = Duration::from_millis(500);
    for (event, moved, from, to) in [
        ("n3 joins", moved(&before, &middle), join_at, joined_at + slack),
        ("n1 leaves", moved(&middle, &after), leave_at, left_at + slack),
    ] {
        let gaps: Vec<(String, Duration)> =
            moved.iter().map(|label| (label.clone(), longest_gap(&ledger, label, from, to))).collect();
        let longest = gaps.iter().map(|(_, gap)| *gap).max().unwrap_or_default();
        eprintln!(
            "{event}: took {} ms to spread; {} loaded train-dates moved; longest gap between OK writes on a moved one: {} ms",
            ms(to - slack - from),
            moved.len(),
            ms(longest)
        );
    }
    for node in nodes.running.values() {
        for line in node.log.all().lines().filter(|line| line.contains("adopted") || line.contains("handed off")) {
            eprintln!("join/leave: {}: {}", node.id, line.split_once(": ").map_or(line, |(_, rest)| rest));
        }
    }
    let errors = ledger.errors.lock().unwrap().clone();
    let unexpected = ledger.unexpected.lock().unwrap().clone();
    eprintln!("join/leave: load {stats:?}; replies that were not OK, by code: {errors:?}");
    assert!(unexpected.is_empty(), "refusals that are neither retryable nor business: {unexpected:?}");
    let not_unavailable: Vec<&String> = errors
        .keys()
        .filter(|code| !matches!(code.as_str(), "Unavailable" | "Transport" | "FailedPrecondition" | "AlreadyExists"))
        .collect();
    assert!(not_unavailable.is_empty(), "clients saw errors other than UNAVAILABLE: {errors:?}\n{}", nodes.logs());
    assert!(retryable(tonic::Code::Unavailable));
    let checked = checker::check(&spec.database_url, &ledger, &live).await;
    print_checked(test, &checked);
    drop(nodes);
    env.drop_database().await;
}

/// Runs seatd with `args` and waits (at most `within`) for it to exit; its
/// exit status and output.
async fn start_up_failure(args: &[String], within: Duration) -> (std::process::ExitStatus, String, Duration) {
    let started = Instant::now();
    let (mut child, log, _data) = spawn(args);
    let status = tokio::time::timeout(within, child.wait())
        .await
        .unwrap_or_else(|_| panic!("seatd {args:?} still runs after {within:?}:\n{}", log.tail(30)))
        .expect("reap seatd");
    // Let the output drain.
    tokio::time::sleep(Duration::from_millis(100)).await;
    (status, log.all(), started.elapsed())
}

fn without(args: &[String], flag: &str) -> Vec<String> {
    let at = args.iter().position(|arg| arg == flag).expect("flag present");
    let mut args = args.to_vec();
    args.drain(at..at + 2);
    args
}

fn replaced(args: &[String], flag: &str, value: &str) -> Vec<String> {
    let mut args = args.to_vec();
    let at = args.iter().position(|arg| arg == flag).expect("flag present");
    args[at + 1] = value.to_owned();
    args
}

/// Longest a refused start-up may take: boot (migrations, recovery) and, for
/// a duplicate id, the lease TTL plus the 2 s seatd waits for a previous life's
/// registration to expire.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_at_start_up() {
    let _serial = SERIAL.lock().await;
    let test = "bad_input_at_start_up";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let port = free_port();
    let good = spec.args("bad1", &format!("127.0.0.1:{port}"));
    let cases: Vec<(&str, Vec<String>, &str)> = vec![
        ("SQLite journal", without(&good, "--database-url"), "MySQL"),
        ("no --node-id", without(&good, "--node-id"), "node_id"),
        ("--advertise without a port", replaced(&good, "--advertise", "127.0.0.1"), "advertise"),
        ("unreachable --advertise", replaced(&good, "--advertise", &format!("127.0.0.1:{}", free_port())), "advertise"),
    ];
    for (case, args, says) in cases {
        let (status, output, took) = start_up_failure(&args, REFUSAL_TIMEOUT).await;
        assert!(!status.success(), "{case}: seatd exits non-zero, not {status}:\n{output}");
        assert!(output.contains(says), "{case}: the output mentions {says:?}:\n{output}");
        let message = output.lines().rev().find(|line| line.contains(says)).unwrap_or_default();
        eprintln!("{case}: {status} after {} ms: {message}", ms(took));
    }

    let mut nodes = Nodes::new();
    nodes.start(spec, "n1", true).await;
    let first = nodes.clients(spec);
    wait_spread(&first, SPREAD_TIMEOUT).await;
    let twin = spec.args("n1", &format!("127.0.0.1:{}", free_port()));
    let (status, output, took) = start_up_failure(&twin, REFUSAL_TIMEOUT).await;
    assert!(!status.success(), "a second n1 exits non-zero, not {status}:\n{output}");
    assert!(output.contains("already registered"), "a second n1 says the id is taken:\n{output}");
    assert!(took < LEASE_TTL + Duration::from_secs(30), "a second n1 gives up in time: {took:?}");
    eprintln!("duplicate node id: {status} after {} ms", ms(took));
    // The first keeps its membership and sells.
    let status = first[0].status(None).await.expect("n1 answers");
    assert_eq!(status.nodes.len(), 1, "n1 alone in the cluster: {status:?}");
    assert_eq!(status.nodes[0].advertise, nodes.node("n1").address, "n1's registration is its own");
    let ledger = Ledger::default();
    first_ok_hold(&ledger, &targets(first), "after-twin", &loaded_train_dates()[0]).await;
    drop(nodes);
    env.drop_database().await;
}

/// Longest a forwarded watch may take to show a hold.
const WATCH_UPDATE_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_follow_the_owner() {
    use api::pb::watch_availability_request::Target;
    let _serial = SERIAL.lock().await;
    let test = "watches_follow_the_owner";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let mut nodes = Nodes::new();
    nodes.start(spec, "w1", true).await;
    nodes.start(spec, "w2", false).await;
    let clients = nodes.clients(spec);
    wait_spread(&clients, SPREAD_TIMEOUT).await;
    let (entry, other) = (&clients[0], &clients[1]);
    let (mut theirs, mut ours) = (None, None);
    for train_date in loaded_train_dates() {
        let (owner, _) = owner_of(entry, &train_date).await.expect("cluster status");
        if owner == other.id {
            theirs.get_or_insert(train_date);
        } else if owner == entry.id {
            ours.get_or_insert(train_date);
        }
    }
    let theirs = theirs.expect("the other node serves a loaded train-date");
    let ours = ours.expect("the entry node serves a loaded train-date");
    let journey = |train_date: &pb::TrainDate| pb::GetAvailabilityRequest {
        train_date: Some(train_date.clone()),
        from_station: "VNP".into(),
        to_station: "AOH".into(),
    };
    let watch = |journeys: Vec<pb::GetAvailabilityRequest>| pb::WatchAvailabilityRequest {
        target: Some(Target::Journeys(pb::WatchJourneys { journeys })),
        coarse: false,
    };
    let second = |update: &pb::AvailabilityUpdate| {
        let classes = &update.trains.first().expect("the watched offer").classes;
        classes.iter().find(|class| class.seat_class == pb::SeatClass::Second as i32).expect("second").remaining
    };
    let mut booking = entry.booking.clone();
    let mut updates =
        booking.watch_availability(watch(vec![journey(&theirs)])).await.expect("forwarded watch").into_inner();
    let before = second(&updates.message().await.expect("first update").expect("open"));
    let ledger = Ledger::default();
    let acknowledged = first_ok_hold(&ledger, &targets(vec![entry.clone()]), "watcher", &theirs).await;
    let update = tokio::time::timeout(WATCH_UPDATE_TIMEOUT, updates.message())
        .await
        .expect("the forwarded watch shows the hold")
        .expect("open")
        .expect("an update");
    assert!(second(&update) < before, "{} then {}", before, second(&update));
    eprintln!("forwarded watch: {} -> {} within {:?} of the ack", before, second(&update), acknowledged.elapsed());

    let spans = |status: tonic::Status| {
        assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status}");
        assert_eq!(api::status::reason_of(&status).as_deref(), Some("WATCH_SPANS_NODES"));
    };
    spans(booking.watch_availability(watch(vec![journey(&theirs), journey(&ours)])).await.expect_err("two nodes"));
    let search = pb::WatchAvailabilityRequest {
        target: Some(Target::Search(pb::SearchTrainsRequest {
            date: theirs.date.clone(),
            from_station: "VNP".into(),
            to_station: "AOH".into(),
        })),
        coarse: false,
    };
    spans(booking.watch_availability(search).await.expect_err("a search spans nodes"));
    drop(updates);
    drop(nodes);
    env.drop_database().await;
}

/// Longest a waitlist fulfilment may take once its record's node is dead:
/// a lease to notice, a claim and recovery, then a parked step's next try.
const FULFIL_AFTER_KILL_TIMEOUT: Duration = Duration::from_secs(45);

/// Two train-dates of one date that different nodes serve (`via`'s view),
/// and a third on the first one's node: the waitlist's home choice, its
/// other choice, and where a change moves a ticket to across nodes.
async fn spread_train_dates(via: &NodeClients) -> (pb::TrainDate, pb::TrainDate, pb::TrainDate) {
    let mut by_owner: BTreeMap<String, Vec<pb::TrainDate>> = BTreeMap::new();
    for train in cluster::booking_load::TRAINS {
        let train_date = cluster::booking_load::train_date(train, 1);
        let (owner, _) = owner_of(via, &train_date).await.expect("cluster status");
        by_owner.entry(owner).or_default().push(train_date);
    }
    let mut owners = by_owner.into_values().filter(|train_dates| !train_dates.is_empty());
    let (Some(mut first), Some(mut second)) = (owners.next(), owners.next()) else {
        panic!("tomorrow's loaded trains are all on one node; pick other trains")
    };
    if first.len() < 2 {
        std::mem::swap(&mut first, &mut second);
    }
    assert!(first.len() >= 2, "one node serves two of tomorrow's loaded trains");
    (first.remove(0), second.remove(0), first.remove(0))
}

/// 6. A waitlist request whose choices live on two nodes is fulfilled
/// exactly once although the node holding its record is stopped, then
/// killed, in the middle of the fulfilment; then a ticket moves between
/// nodes with ChangeOrder. Both nodes are called through the other one,
/// so every call is forwarded and every step crosses nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waitlist_fulfilment_survives_the_kill_of_its_records_node() {
    use cluster::waitlist::{FROM, TO, business_left, clients, poll_request, sell_out, states};
    let _serial = SERIAL.lock().await;
    let test = "waitlist_fulfilment_survives_the_kill_of_its_records_node";
    let Some(env) = Env::new(test).await else { return };
    let spec = &env.spec;
    let mut nodes = Nodes::new();
    nodes.start(spec, "v1", true).await;
    nodes.start(spec, "v2", false).await;
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let all = nodes.clients(spec);
    let (home, other, change_target) = spread_train_dates(&all[0]).await;
    let (home_node, _) = owner_of(&all[0], &home).await.expect("cluster status");
    let (other_node, _) = owner_of(&all[0], &other).await.expect("cluster status");
    let via_home = all.iter().find(|node| node.id == home_node).expect("home node").clone();
    let via_other = all.iter().find(|node| node.id == other_node).expect("other node").clone();
    let agent = cluster::seatd::bearer(&spec.agent_token());
    let (mut waitlist, mut change) = clients(&via_other, agent.clone());

    // given both choices sold out, and a request on them, active, called
    // through the node that does not hold its record
    let mut serial = 7_000_000;
    sell_out(&via_other, &home, "seller", &mut serial).await;
    let other_orders = sell_out(&via_home, &other, "seller", &mut serial).await;
    serial += 1;
    let choice = |train_date: &pb::TrainDate| pb::RequestedChoice {
        train_date: Some(train_date.clone()),
        seat_class: pb::SeatClass::Business.into(),
    };
    let submit = pb::SubmitWaitlistRequest {
        user_id: "waiting-user".into(),
        passengers: vec![pb::WaitlistPassenger {
            name: "王五".into(),
            id_number: cluster::booking_load::passenger_id(serial),
        }],
        from_station: FROM.into(),
        to_station: TO.into(),
        choices: vec![choice(&home), choice(&other)],
        cutoff_ms: 0,
        client_request_id: String::new(),
    };
    let submitted = waitlist.submit_waitlist(submit).await.expect("both choices sold out").into_inner();
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id.clone(), user_id: "waiting-user".into() };
    waitlist.activate_waitlist(reference.clone()).await.expect("activates");
    let waiting = [pb::ChoiceState::Waiting, pb::ChoiceState::Waiting];
    poll_request(&mut waitlist, &reference, SPREAD_TIMEOUT, |request| states(request) == waiting).await;

    // when the record's node stops, seats free up on the other choice's
    // node (which reserves them and asks the stopped record for the grant),
    // and the stopped node is killed
    nodes.node(&home_node).signal("STOP");
    let mut booking = via_other.booking.clone();
    let refunded = &other_orders[0];
    let cancel = pb::CancelRequest { order_id: refunded.order_id.clone(), user_id: "seller".into() };
    booking.cancel(cancel).await.expect("the refund commits on the other node");
    tokio::time::sleep(LEASE_TTL).await;
    let killed_at = Instant::now();
    nodes.node(&home_node).kill9().await;

    // then the survivor takes the record over and the request is fulfilled
    // on the other choice, once; the home choice is withdrawn as lost
    let done = |request: &pb::WaitlistRequest| request.status == pb::WaitlistStatus::Fulfilled as i32;
    let fulfilled = poll_request(&mut waitlist, &reference, FULFIL_AFTER_KILL_TIMEOUT, done).await;
    eprintln!("waitlist: fulfilled {:?} after the kill of the record's node", killed_at.elapsed());
    let lost_then_fulfilled = [pb::ChoiceState::Lost, pb::ChoiceState::Fulfilled];
    let ended =
        poll_request(&mut waitlist, &reference, SPREAD_TIMEOUT, |request| states(request) == lost_then_fulfilled).await;
    assert_eq!(ended.order_id, fulfilled.order_id);
    assert_eq!(ended.choices[1].order_id, fulfilled.order_id, "the other choice's order");
    let get = |order_id: &str| pb::GetOrderRequest { order_id: order_id.into(), user_id: "waiting-user".into() };
    let order = booking.get_order(get(&fulfilled.order_id)).await.expect("the order exists").into_inner();
    assert_eq!(order.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(order.train_date.as_ref(), Some(&other));
    let home_choice_order = booking.get_order(get(&ended.choices[0].order_id)).await;
    assert_eq!(home_choice_order.expect_err("the lost choice has no order").code(), tonic::Code::NotFound);
    let freed = refunded.tickets.len() as u32;
    assert_eq!(business_left(&via_other, &other).await, freed - 1, "one freed seat went to the waiting passenger");
    assert_eq!(business_left(&via_other, &home).await, 0, "nothing stays reserved on the home choice");

    // and after the killed node comes back, nothing changes: every step
    // it owed was idempotent and is refused or repeated harmlessly
    nodes.start(spec, &home_node, false).await;
    wait_spread(&nodes.clients(spec), SPREAD_TIMEOUT).await;
    let all = nodes.clients(spec);
    let via_home = all.iter().find(|node| node.id == home_node).expect("home node").clone();
    let (mut waitlist, _) = clients(&via_home, agent.clone());
    let again = poll_request(&mut waitlist, &reference, SPREAD_TIMEOUT, |_| true).await;
    assert_eq!((again.status, states(&again)), (fulfilled.status, lost_then_fulfilled.to_vec()));
    assert_eq!(business_left(&via_home, &other).await, freed - 1);
    let listed = waitlist
        .list_waitlist(pb::ListWaitlistRequest { user_id: "waiting-user".into() })
        .await
        .expect("lists across nodes")
        .into_inner();
    assert_eq!(listed.requests.len(), 1, "one request, listed once: {listed:?}");

    // when the waitlisted ticket moves to a train another node serves
    let target_left = business_left(&via_home, &change_target).await;
    let moved = change
        .change_order(pb::ChangeOrderRequest {
            order_id: fulfilled.order_id.clone(),
            user_id: "waiting-user".into(),
            train_date: Some(change_target.clone()),
            ..Default::default()
        })
        .await
        .expect("changes across nodes")
        .into_inner();

    // then the new seat is confirmed there and the old one is free again
    assert_eq!(moved.outcome, pb::ChangeOutcome::Committed as i32, "{moved:?}");
    let new_order = moved.new_order.expect("the new order");
    assert_eq!(new_order.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(new_order.train_date.as_ref(), Some(&change_target));
    assert_eq!(business_left(&via_home, &change_target).await, target_left - 1);
    assert_eq!(business_left(&via_home, &other).await, freed, "the old seat is free again");
    drop(nodes);
    env.drop_database().await;
}
