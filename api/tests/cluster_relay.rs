//! The NATS relay in a cluster: two seatd nodes (etcd, the shared MariaDB)
//! both configured with `--nats-url`; only the leader of the relay election
//! relays. Under booking load the leader is SIGKILLed; the survivor takes
//! its slots, wins the election once the dead node's lease expires, and
//! resumes from what the broker holds. A consumer then finds every event of
//! the journal on the broker exactly once, in seq order per train-date,
//! and no repeat stored at all (the two relays never both wrote).
//!
//! Needs etcd, MySQL and a nats-server: skips with a note without them,
//! fails under `CI=true`.

#[allow(dead_code)] // the harness also serves the other cluster tests
mod cluster;
#[allow(dead_code)] // the harness also serves the single-node relay test
mod relay;

use cluster::booking_load::{Ledger, Load, Targets, loaded_train_dates};
use cluster::seatd::{ClusterSpec, Node, wait_spread};
use cluster::services::{ETCD_START_TIMEOUT, Etcd, Need, available, free_port};
use persistence::test_env::{MYSQL_URL, service_url};
use relay::nats::{NatsServer, nats_server_bin};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

const STREAM: &str = "SEAT_EVENTS";
/// Concurrent booking clients.
const LOAD_CLIENTS: usize = 4;
/// Load before and after the kill.
const LOAD_PHASE: Duration = Duration::from_millis(2000);
/// Longest the slots may take to spread, and the survivor to win the
/// election (the dead node's 2 s lease must expire first).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest the relay may take to publish the last events once load stops.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// What a node logs when it wins the relay election.
const LEADS: &str = "this node leads the NATS relay";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_moves_with_the_election_after_a_kill_9() {
    let test = "the_relay_moves_with_the_election_after_a_kill_9";
    if !available(test, &[Need::Etcd]) {
        return;
    }
    let Some(binary) = nats_server_bin(test) else { return };
    let Some(server_url) = service_url(MYSQL_URL, test) else { return };
    let db = format!("seat_relay_cluster_{}_{:08x}", std::process::id(), rand::random::<u32>());
    persistence::test_support::create_database(&server_url, &db).await.expect("create test database");
    let url = persistence::test_support::database_url(&server_url, &db);
    let mut etcd = Etcd::single();
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd healthy");
    let nats = NatsServer::start(&binary).await;
    let mut spec = ClusterSpec::new(&url, &etcd.client_urls()[0]);
    spec.extra_args = vec!["--nats-url".into(), nats.url(), "--nats-stream".into(), STREAM.into()];

    let mut nodes =
        vec![Node::start(&spec, "n1", free_port(), true).await, Node::start(&spec, "n2", free_port(), false).await];
    let clients = |nodes: &[Node]| nodes.iter().map(|node| spec.clients(&node.id, &node.address)).collect::<Vec<_>>();
    wait_spread(&clients(&nodes), SETTLE_TIMEOUT).await;
    let targets: Targets = Arc::new(RwLock::new(clients(&nodes)));
    let ledger = Arc::new(Ledger::default());
    let load = Load::start(&ledger, &targets, LOAD_CLIENTS, "relay", &loaded_train_dates());
    tokio::time::sleep(LOAD_PHASE).await;

    let leader = wait_for(SETTLE_TIMEOUT, || nodes.iter().position(|node| node.log.contains(LEADS))).await;
    let mut killed = nodes.remove(leader);
    killed.kill9().await;
    *targets.write().unwrap() = clients(&nodes);
    let survivor = &nodes[0];
    wait_for(SETTLE_TIMEOUT, || survivor.log.contains(LEADS).then_some(())).await;
    tokio::time::sleep(LOAD_PHASE).await;
    let stats = load.finish().await;

    let journal_of = || async {
        let journal = persistence::mysql::MySqlJournal::connect(&url).await.expect("connect to the journal");
        relay::journal_events(&journal).await
    };
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    let journal = loop {
        let journal = journal_of().await;
        let on_broker = relay::stream_messages(&nats.url(), STREAM).await;
        if on_broker == journal.len() as u64 {
            break journal;
        }
        assert!(Instant::now() < deadline, "caught up: broker {on_broker}, journal {}", journal.len());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let received = relay::read_stream(&nats.url(), STREAM).await;
    let verdict = relay::verify(&received, &journal);
    assert_eq!(verdict.duplicates, 0, "the two relays never both stored an event");
    assert!(stats.holds_ok > 0, "the load booked: {stats:?}");
    eprintln!(
        "cluster relay: {} leads, killed; {} took over; {} events on {} train-dates on the broker once; load {stats:?}",
        killed.id, survivor.id, verdict.messages, verdict.subjects
    );
    drop(nodes);
    persistence::test_support::drop_database(&server_url, &db).await.expect("drop test database");
}

/// Polls `found` until it gives a value, or fails after `timeout`.
async fn wait_for<T>(timeout: Duration, mut found: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = found() {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
