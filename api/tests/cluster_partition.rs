//! Cluster failure scenarios with real processes: seatd nodes, etcd, MariaDB,
//! and a Linux network namespace to partition one node.
//!
//! - A node cut off from etcd but not from MySQL loses its slots to the
//!   others within the lease TTL and a few seconds, and from the moment its
//!   fences moved it never acknowledges a hold on them; cut off from MySQL
//!   too and then let back, it serves nothing stale and the cluster
//!   converges.
//! - etcd losing quorum, then being gone altogether: the owners keep
//!   selling on every node, and no slot moves (the fences in MySQL stay as
//!   they were); once etcd is back, the owners are the same.
//!
//! Both end with the journal audit of `cluster::partition_node::audit`:
//! gap-free seqs, fence tokens never decreasing along a stream, every
//! train-date replaying with its invariants (no seat segment sold twice),
//! every acknowledged hold in the journal.
//!
//! Needs etcd and MariaDB, and root for the namespace: without them the
//! tests skip with a note, and fail under `CI=true`. The quorum test uses the
//! shared server at `MYSQL_URL` (its own database).

#[allow(dead_code)] // the harness serves several test files; this one uses part of it
mod cluster;

use api::pb;
use cluster::partition_node::{
    LEASE_TTL, Ledger, Load, Node, NodeEnv, Sql, audit, hold_request, hold_retrying, spelled, status, train_dates,
    wait_converged,
};
use cluster::services::{
    ETCD_START_TIMEOUT, Etcd, EtcdCluster, MARIADB_START_TIMEOUT, Mariadb, Need, Netns, available, free_port,
    free_port_on,
};
use persistence::test_env::{MYSQL_URL, service_url};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

/// The scenarios run one at a time: each starts three seatd, an etcd and
/// loads them, and their timings (a 2 s lease) need the two cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Longest three fresh nodes (or nodes after a failure) may take to agree
/// on who owns every slot: claims and hand-offs take well under a second
/// each; the rest is room for a loaded box.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(40);
/// After the cut, how soon the others must have claimed the cut node's
/// slot: its lease runs out after the TTL, then a reconcile pass (100 ms)
/// claims, and raising the fence takes a commit.
const TAKEOVER_SLACK: Duration = Duration::from_secs(6);
/// How long a load client retries one hold (same request id) through a
/// node while its slot moves.
const HOLD_RETRY_FOR: Duration = Duration::from_secs(8);
/// Holds through the new owner that must succeed on the moved train-date.
const HOLDS_AFTER_MOVE: usize = 5;
/// How long holds keep going straight to the cut-off node after its fence moved.
const DIRECT_AFTER_MOVE: Duration = Duration::from_secs(3);
/// Pause between two looks at etcd and the fences while waiting for a move.
const POLL: Duration = Duration::from_millis(100);
/// How long etcd stays without quorum (or gone): three lease lifetimes, so
/// every node's lease must have expired by its own clock and it self-fences
/// (checks its fences) several times.
const OUTAGE: Duration = Duration::from_millis(3 * LEASE_TTL.as_millis() as u64 + 1000);
/// Between two reads of the fences during an outage.
const FENCE_POLL: Duration = Duration::from_millis(500);
/// How long a cluster that lost quorum may still report healthy.
const QUORUM_LOSS_TIMEOUT: Duration = Duration::from_secs(10);
/// Database of the partition scenario on its own MariaDB.
const PARTITION_DB: &str = "seat_partition";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_etcd_loses_its_slots_and_never_acknowledges_a_hold_on_them() {
    const TEST: &str = "a_node_cut_off_from_etcd_loses_its_slots_and_never_acknowledges_a_hold_on_them";
    if !available(TEST, &[Need::Netns, Need::Etcd, Need::Mariadb]) {
        return;
    }
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    // First, so it is dropped last: everything else uses its veth.
    let ns = Netns::new();
    let host_ip = ns.host_ip();
    let mut mariadb = Mariadb::start_on(host_ip, free_port_on(host_ip)).await;
    let mut etcd = Etcd::single_on(&[LOCALHOST, host_ip]);
    mariadb.wait_ready(MARIADB_START_TIMEOUT).await.expect("MariaDB ready");
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd healthy");
    mariadb.create_database(PARTITION_DB).await.expect("create database");
    let url = mariadb.url(PARTITION_DB);
    let sql = Sql::from_url(&url);
    let env = NodeEnv::new(url.clone());
    // Nothing else listens inside the fresh namespace: any port is free there.
    let a_address = SocketAddr::new(ns.ns_ip(), 20_000 + rand::random::<u16>() % 20_000);
    let node_a = Node::start(&env, "n1", &[etcd.client_url_on(host_ip)], a_address, Some(&ns)).await;
    // B and C listen on the host side of the veth, so A reaches them too.
    let root_etcd = [etcd.client_url_on(LOCALHOST)];
    let node_b = Node::start(&env, "n2", &root_etcd, SocketAddr::new(host_ip, free_port_on(host_ip)), None).await;
    let node_c = Node::start(&env, "n3", &root_etcd, SocketAddr::new(host_ip, free_port_on(host_ip)), None).await;
    let nodes = [&node_a, &node_b, &node_c];
    let train_dates = train_dates();
    let owners = wait_converged(&nodes, 3, &train_dates, CONVERGE_TIMEOUT).await;
    let a_dates: Vec<pb::TrainDate> =
        train_dates.iter().filter(|train_date| owners[&spelled(train_date)].0 == "n1").cloned().collect();
    assert!(!a_dates.is_empty(), "n1 owns none of the {} train-dates: {owners:?}", train_dates.len());
    let watched = a_dates[0].clone();
    let (_, old_token, slot) = owners[&spelled(&watched)].clone();
    let slot = slot as u16;
    let fences = sql.fences().await;
    assert_eq!(fences[&slot], (old_token, "n1".to_owned()), "the fence of {} is n1's claim", spelled(&watched));
    let a_slots: HashMap<String, u16> =
        a_dates.iter().map(|train_date| (spelled(train_date), owners[&spelled(train_date)].2 as u16)).collect();
    eprintln!(
        "converged after {:?}: n1 owns {} of {} train-dates; watching {} (slot {slot}, token {old_token})",
        started.elapsed(),
        a_dates.len(),
        train_dates.len(),
        spelled(&watched)
    );
    let mut direct_a = node_a.booking();
    hold_retrying(&mut direct_a, &hold_request("warm-up", "warm-up-a".into(), &watched), HOLD_RETRY_FOR)
        .await
        .expect("n1 sells its own train-date before the cut");

    // Phase 1: n1 loses etcd, keeps MySQL.
    let ledger = Ledger::default();
    let mut load_a = Load::new();
    for _ in 0..2 {
        load_a.client(&ledger, "direct to n1", &node_a, a_dates.clone(), Duration::ZERO);
    }
    let mut load_bc = Load::new();
    load_bc.client(&ledger, "via n2", &node_b, train_dates.clone(), HOLD_RETRY_FOR);
    load_bc.client(&ledger, "via n3", &node_c, train_dates.clone(), HOLD_RETRY_FOR);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cut_at = Instant::now();
    ns.block_port(host_ip, etcd.client_port());
    let mut admin_b = node_b.admin();
    let takeover_deadline = cut_at + LEASE_TTL + TAKEOVER_SLACK;
    // ClusterStatus answers from the view of the node's last completed
    // reconcile pass, which a pass that claims and recovers stores only at
    // its end: it may name n1 for a while after n2 or n3 raised the fence.
    let mut claimed: Option<(Duration, String, u64)> = None;
    let mut fenced: Option<(Instant, (u64, String))> = None;
    loop {
        if claimed.is_none()
            && let Ok(answer) = status(&mut admin_b, Some(&watched)).await
            && !answer.train_date_owner.is_empty()
            && answer.train_date_owner != "n1"
        {
            assert!(answer.train_date_token > old_token, "a new claim has a larger token: {answer:?}");
            claimed = Some((cut_at.elapsed(), answer.train_date_owner, answer.train_date_token));
        }
        if fenced.is_none() {
            let fence = sql.fences().await[&slot].clone();
            if fence.0 > old_token {
                fenced = Some((Instant::now(), fence));
            }
        }
        if claimed.is_some() && fenced.is_some() {
            break;
        }
        assert!(
            Instant::now() < takeover_deadline,
            "{} not taken over {:?} after the cut (ClusterStatus via n2: {claimed:?}, fence: {fenced:?}); n2 log:\n{}",
            spelled(&watched),
            cut_at.elapsed(),
            node_b.log_tail(30)
        );
        tokio::time::sleep(POLL).await;
    }
    let (claimed_after, new_owner, claim_token) = claimed.expect("claimed");
    let (fence_moved_at, new_fence) = fenced.expect("fenced");
    assert_eq!(new_fence, (claim_token, new_owner.clone()), "the fence holds the etcd claim");
    eprintln!(
        "phase 1: {} fenced in MySQL by {new_owner} (token {claim_token}) {:?} after the cut; ClusterStatus via n2 \
         named {new_owner} {claimed_after:?} after the cut",
        spelled(&watched),
        fence_moved_at - cut_at
    );
    let mut booking_b = node_b.booking();
    for hold in 0..HOLDS_AFTER_MOVE {
        let request = hold_request("after-move", format!("after-move-{hold}"), &watched);
        let sent_at = Instant::now();
        let reply = hold_retrying(&mut booking_b, &request, HOLD_RETRY_FOR).await;
        ledger.record("after move via n2", "n2", &request, sent_at, &reply);
        reply.unwrap_or_else(|status| panic!("hold on {} via n2 after the move: {status:?}", spelled(&watched)));
    }
    tokio::time::sleep(DIRECT_AFTER_MOVE).await;
    // Every slot of n1's train-dates whose fence has moved by now.
    let moved_checked_at = Instant::now();
    let fences = sql.fences().await;
    let moved: HashSet<String> =
        a_slots.iter().filter(|(_, slot)| fences[*slot].1 != "n1").map(|(train_date, _)| train_date.clone()).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    load_a.stop().await;
    let acks = ledger.acks();
    let direct: Vec<_> = acks.iter().filter(|ack| ack.label == "direct to n1").collect();
    let stale: Vec<_> = direct
        .iter()
        .filter(|ack| {
            (ack.train_date == spelled(&watched) && ack.sent_at >= fence_moved_at)
                || (moved.contains(&ack.train_date) && ack.sent_at >= moved_checked_at)
        })
        .collect();
    assert!(stale.is_empty(), "STALE ACK: n1 acknowledged holds on slots whose fence had moved: {stale:#?}");
    let direct_after_cut = direct.iter().filter(|ack| ack.sent_at >= cut_at).count();
    eprintln!(
        "phase 1: {} holds acknowledged by n1 (of which {direct_after_cut} sent after the cut, none after its fence \
         moved); {} of n1's {} train-dates moved by {:?}; refusals so far: {:?}",
        direct.len(),
        moved.len(),
        a_dates.len(),
        moved_checked_at - cut_at,
        ledger.errors.lock().unwrap()
    );
    assert!(!moved.is_empty(), "n1's slots moved");

    // Phase 2: n1 loses MySQL too, then everything comes back.
    ns.cut_all();
    tokio::time::sleep(3 * LEASE_TTL).await;
    let during_cut = ledger.ok_count("via n2") + ledger.ok_count("via n3");
    ns.restore_all();
    ns.unblock_port(host_ip, etcd.client_port());
    let restored_at = Instant::now();
    // Straight to n1 right away: whatever it acknowledges must be in the journal.
    let mut load_a = Load::new();
    load_a.client(&ledger, "direct to n1 after restore", &node_a, a_dates.clone(), Duration::ZERO);
    let owners_after = wait_converged(&nodes, 3, &train_dates, CONVERGE_TIMEOUT).await;
    let converged_after = restored_at.elapsed();
    assert!(
        node_a.logged("registered again under a new lease"),
        "n1 rejoined under a new lease (its old one expired while it was cut off); n1 log:\n{}",
        node_a.log_tail(30)
    );
    load_a.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    load_bc.stop().await;
    let during_cut_after = ledger.ok_count("via n2") + ledger.ok_count("via n3");
    assert!(during_cut_after > 0 && during_cut > 0, "n2 and n3 kept selling");
    assert_fences_match(&sql, &owners_after).await;
    for node in nodes {
        let mut booking = node.booking();
        for train_date in [&a_dates[0], &train_dates[train_dates.len() - 1]] {
            let request = hold_request("final", format!("final-{}-{}", node.id, spelled(train_date)), train_date);
            let sent_at = Instant::now();
            let reply = hold_retrying(&mut booking, &request, HOLD_RETRY_FOR).await;
            ledger.record("final", &node.id, &request, sent_at, &reply);
            reply.unwrap_or_else(|status| {
                panic!("hold via {} on {} after recovery: {status:?}", node.id, spelled(train_date))
            });
        }
    }
    let audited = audit(&sql, &url, &ledger.acks()).await;
    eprintln!(
        "phase 2: converged {converged_after:?} after the restore; n1 owns {} train-dates again; \
         holds acknowledged after the restore straight by n1: {}; all refusals: {:?}",
        owners_after.values().filter(|(owner, _, _)| owner == "n1").count(),
        ledger.ok_count("direct to n1 after restore"),
        ledger.errors.lock().unwrap()
    );
    eprintln!("{TEST}: {audited:?}; {} acks in all; took {:?}", ledger.acks().len(), started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owners_keep_selling_and_no_slot_moves_while_etcd_has_no_quorum_or_is_gone() {
    const TEST: &str = "owners_keep_selling_and_no_slot_moves_while_etcd_has_no_quorum_or_is_gone";
    if !available(TEST, &[Need::Etcd]) {
        return;
    }
    let Some(server_url) = service_url(MYSQL_URL, TEST) else { return };
    let _serial = SERIAL.lock().await;
    let started = Instant::now();
    let name = format!("seat_quorum_{}_{}", std::process::id(), rand::random::<u32>());
    persistence::test_support::create_database(&server_url, &name).await.expect("create test database");
    let url = persistence::test_support::database_url(&server_url, &name);
    let sql = Sql::from_url(&url);
    let mut etcd = EtcdCluster::three();
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd cluster healthy");
    let env = NodeEnv::new(url.clone());
    let mut nodes = Vec::new();
    for id in ["n1", "n2", "n3"] {
        nodes.push(Node::start(&env, id, &etcd.client_urls(), SocketAddr::new(LOCALHOST, free_port()), None).await);
    }
    let node_refs: Vec<&Node> = nodes.iter().collect();
    let train_dates = train_dates();
    let owners = wait_converged(&node_refs, 3, &train_dates, CONVERGE_TIMEOUT).await;
    let mut fences_before = assert_fences_match(&sql, &owners).await;
    let mut by_owner: BTreeMap<String, Vec<pb::TrainDate>> = BTreeMap::new();
    for train_date in &train_dates {
        by_owner.entry(owners[&spelled(train_date)].0.clone()).or_default().push(train_date.clone());
    }
    assert_eq!(by_owner.len(), 3, "every node owns some of the train-dates: {by_owner:?}");
    eprintln!(
        "converged after {:?}: {:?}",
        started.elapsed(),
        by_owner.iter().map(|(n, t)| (n, t.len())).collect::<Vec<_>>()
    );

    let ledger = Ledger::default();
    for (outage, killed) in [("quorum lost", &[0usize, 1][..]), ("etcd gone", &[0, 1, 2][..])] {
        for member in killed {
            etcd.kill_member(*member);
        }
        etcd.wait_unhealthy(QUORUM_LOSS_TIMEOUT).await.expect("etcd without quorum");
        let outage_started = Instant::now();
        let moves_before: Vec<usize> = nodes.iter().map(slot_moves_logged).collect();
        let mut load = Load::new();
        for node in &nodes {
            for (owner, owned) in &by_owner {
                load.client(&ledger, &format!("{outage}: {owner}'s"), node, owned.clone(), HOLD_RETRY_FOR);
            }
        }
        let mut fence_reads = 0;
        while outage_started.elapsed() < OUTAGE {
            tokio::time::sleep(FENCE_POLL).await;
            let fences = sql.fences().await;
            assert_eq!(fences, fences_before, "{outage}: a fence moved {:?} into the outage", outage_started.elapsed());
            fence_reads += 1;
        }
        load.stop().await;
        for owner in by_owner.keys() {
            let label = format!("{outage}: {owner}'s");
            assert!(
                ledger.ok_count(&label) > 0,
                "{outage}: no hold on {owner}'s train-dates succeeded; errors: {:?}",
                ledger.first_errors.lock().unwrap()
            );
        }
        let moves_after: Vec<usize> = nodes.iter().map(slot_moves_logged).collect();
        assert_eq!(moves_after, moves_before, "{outage}: a node dropped or handed off slots during the outage");
        eprintln!(
            "{outage}: {:?} of outage, fences unchanged in {fence_reads} reads; holds acknowledged by owner: {:?}; \
             no node dropped or handed off a slot; refusals: {:?}",
            outage_started.elapsed(),
            by_owner.keys().map(|owner| (owner, ledger.ok_count(&format!("{outage}: {owner}'s")))).collect::<Vec<_>>(),
            ledger.errors.lock().unwrap()
        );
        for member in killed {
            etcd.restart_member(*member);
        }
        etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd back");
        let recovered_at = Instant::now();
        let owners_after = wait_converged(&node_refs, 3, &train_dates, CONVERGE_TIMEOUT).await;
        for (train_date, (owner, token, _)) in &owners {
            let (after, token_after, _) = &owners_after[train_date];
            assert_eq!(after, owner, "{outage}: {train_date} changed owner across the outage");
            assert!(token_after >= token, "{outage}: {train_date}'s token went back");
        }
        let fences_after = assert_fences_match(&sql, &owners_after).await;
        let reclaimed = fences_after.iter().filter(|(slot, fence)| fences_before.get(slot) != Some(fence)).count();
        eprintln!(
            "{outage}: converged {:?} after etcd came back, same owners; {reclaimed} slots claimed anew",
            recovered_at.elapsed()
        );
        for node in &nodes {
            let mut booking = node.booking();
            for owned in by_owner.values() {
                let request = hold_request(
                    "recovered",
                    format!("recovered-{}-{}-{}", outage.replace(' ', "-"), node.id, spelled(&owned[0])),
                    &owned[0],
                );
                let sent_at = Instant::now();
                let reply = hold_retrying(&mut booking, &request, HOLD_RETRY_FOR).await;
                ledger.record("recovered", &node.id, &request, sent_at, &reply);
                reply.unwrap_or_else(|status| panic!("{outage}: hold via {} after recovery: {status:?}", node.id));
            }
        }
        // The next outage starts from the fences as they are now.
        fences_before = fences_after;
    }
    let audited = audit(&sql, &url, &ledger.acks()).await;
    eprintln!("{TEST}: {audited:?}; {} acks in all; took {:?}", ledger.acks().len(), started.elapsed());
    drop(node_refs);
    drop(nodes);
    persistence::test_support::drop_database(&server_url, &name).await.expect("drop test database");
}

/// Lines of `node`'s log saying it let slots go (dropped or handed off).
fn slot_moves_logged(node: &Node) -> usize {
    node.count_logged("slots dropped") + node.count_logged("slots handed off")
}

/// Every train-date's owner and token as etcd has them equal its slot's
/// fence row in MySQL: one owner per slot, fenced with its own claim.
async fn assert_fences_match(sql: &Sql, owners: &HashMap<String, (String, u64, u32)>) -> BTreeMap<u16, (u64, String)> {
    let fences = sql.fences().await;
    for (train_date, (owner, token, slot)) in owners {
        assert_eq!(
            fences.get(&(*slot as u16)),
            Some(&(*token, owner.clone())),
            "{train_date} (slot {slot}): etcd gives it to {owner} with token {token}, MySQL's fence differs"
        );
    }
    fences
}
