//! Self-tests of the cluster test harness (`cluster::services`): each starts
//! the real service it checks, so a broken harness shows here, not as a
//! confusing failure in a cluster scenario.
//!
//! - one etcd member becomes healthy;
//! - a three-member etcd cluster stays healthy with one member SIGKILLed,
//!   loses quorum with two, and recovers when both restart on their data dirs;
//! - a MariaDB server of the test's own answers `SELECT 1` as root over TCP,
//!   and creates a database with sqlx;
//! - a network namespace reaches a MariaDB and an etcd on its host-side
//!   address and nothing else; `block_port` cuts exactly one of them,
//!   `cut_all` both, and undoing either restores them;
//! - a namespace and its veth are gone after drop, also after a panic.
//!
//! Etcd, MariaDB and namespaces (root) missing: the tests skip with a note,
//! and fail under `CI=true`.

#[allow(dead_code)] // the harness also serves the cluster scenario tests; this file uses part of it
mod cluster;

use cluster::services::{
    ETCD_START_TIMEOUT, Etcd, EtcdCluster, MARIADB_START_TIMEOUT, Mariadb, Need, Netns, available, free_port_on,
};
use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;

/// How long a TCP connect from a namespace may take before it counts as
/// blocked: over a veth it takes microseconds when open, and a dropped SYN is
/// retried for minutes, so waiting longer only slows the test.
const CONNECT_PROBE_SECS: u32 = 2;

/// Longest the connect probe command may take as a whole (it is killed by
/// `timeout` after [`CONNECT_PROBE_SECS`]; this covers `ip netns exec` itself).
const PROBE_COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a cluster that has lost quorum may still report healthy: etcd
/// notices a lost leader within an election timeout (1 s in the harness).
const QUORUM_LOSS_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_etcd_member_becomes_healthy() {
    if !available("a_single_etcd_member_becomes_healthy", &[Need::Etcd]) {
        return;
    }
    let mut etcd = Etcd::single();
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("single etcd healthy");
    let urls = etcd.client_urls();
    assert_eq!(urls, [format!("http://127.0.0.1:{}", etcd.client_port())]);
    assert!(etcd.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_etcd_members_keep_quorum_with_one_down_and_lose_it_with_two() {
    if !available("three_etcd_members_keep_quorum_with_one_down_and_lose_it_with_two", &[Need::Etcd]) {
        return;
    }
    let mut cluster = EtcdCluster::three();
    let urls = cluster.client_urls();
    assert_eq!(urls.len(), 3);
    assert_eq!(urls.iter().collect::<std::collections::HashSet<_>>().len(), 3, "distinct ports: {urls:?}");
    cluster.wait_healthy(ETCD_START_TIMEOUT).await.expect("three members healthy");

    cluster.kill_member(0);
    cluster.wait_healthy(ETCD_START_TIMEOUT).await.expect("two of three members keep quorum");

    cluster.kill_member(1);
    cluster.wait_unhealthy(QUORUM_LOSS_TIMEOUT).await.expect("one of three members has no quorum");
    let survivor = cluster.member(2).health().await;
    assert_ne!(survivor, cluster::services::Health::Healthy);
    eprintln!("survivor without quorum reports {survivor:?}");

    cluster.restart_member(0);
    cluster.restart_member(1);
    cluster.wait_healthy(ETCD_START_TIMEOUT).await.expect("restarted members rejoin on their data dirs");
    assert!(cluster.log_tail(5).contains("--- etcd m1 ---"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_mariadb_answers_root_over_tcp() {
    if !available("an_own_mariadb_answers_root_over_tcp", &[Need::Mariadb]) {
        return;
    }
    let mut mariadb = Mariadb::start().await;
    mariadb.wait_ready(MARIADB_START_TIMEOUT).await.expect("MariaDB ready");
    assert_eq!(mariadb.url("x"), format!("mysql://root@127.0.0.1:{}/x", mariadb.port()));
    assert_eq!(mariadb.query("SELECT 1").await.expect("SELECT 1"), "1");
    // Over loopback the installer's root@127.0.0.1 matches first; root@'%' is
    // what a namespace gets (checked in the namespace test).
    assert_eq!(mariadb.query("SELECT CURRENT_USER()").await.expect("current user"), "root@127.0.0.1");
    assert_eq!(mariadb.query("SELECT @@log_bin").await.expect("log_bin"), "0", "no binary log, for speed");
    mariadb.create_database("seatt_harness").await.expect("create database with sqlx");
    let found = mariadb.query("SHOW DATABASES LIKE 'seatt_harness'").await.expect("show databases");
    assert_eq!(found, "seatt_harness");
}

/// Whether a TCP connect from inside `ns` to `ip:port` succeeds within
/// [`CONNECT_PROBE_SECS`].
async fn connects(ns: &Netns, ip: IpAddr, port: u16) -> bool {
    let mut command = ns.command("timeout");
    command.args([&CONNECT_PROBE_SECS.to_string(), "bash", "-c", &format!("exec 3<>/dev/tcp/{ip}/{port}")]);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let status = tokio::time::timeout(PROBE_COMMAND_TIMEOUT, command.status())
        .await
        .expect("connect probe finishes")
        .expect("run connect probe");
    status.success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_reaches_its_host_side_and_block_port_cuts_one_service() {
    let test = "a_namespace_reaches_its_host_side_and_block_port_cuts_one_service";
    if !available(test, &[Need::Netns, Need::Mariadb, Need::Etcd]) {
        return;
    }
    // Declared first, so the servers listening on its host side go first.
    let ns = Netns::new();
    let host = ns.host_ip();
    let routes = ns.command("ip").args(["-4", "route"]).output().expect("routes in the namespace");
    let routes = String::from_utf8_lossy(&routes.stdout).into_owned();
    assert!(!routes.contains("default"), "no default route in the namespace:\n{routes}");
    assert_eq!(routes.lines().count(), 1, "only the veth's /30:\n{routes}");

    let mut mariadb = Mariadb::start_on(host, free_port_on(host)).await;
    let mut etcd = Etcd::single_on(&[host]);
    mariadb.wait_ready(MARIADB_START_TIMEOUT).await.expect("MariaDB on the host side ready");
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd on the host side healthy");
    let (db_port, etcd_port) = (mariadb.port(), etcd.client_port());
    assert!(connects(&ns, host, db_port).await, "namespace reaches MariaDB");
    assert!(connects(&ns, host, etcd_port).await, "namespace reaches etcd");

    // root@'%' from another network namespace, the way a seatd node connects.
    let mut client = ns.command("mariadb");
    client.args(mariadb.client_args()).arg("--execute=SELECT CURRENT_USER()");
    let output = client.output().expect("mariadb client in the namespace");
    assert!(output.status.success(), "client in namespace: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "root@%");

    ns.block_port(host, etcd_port);
    ns.block_port(host, etcd_port); // twice is once
    assert!(!connects(&ns, host, etcd_port).await, "etcd port blocked");
    assert!(connects(&ns, host, db_port).await, "MariaDB still reachable with etcd blocked");
    ns.block_port(host, db_port);
    assert!(!connects(&ns, host, db_port).await, "MariaDB port blocked");
    ns.unblock_port(host, db_port);
    ns.unblock_port(host, etcd_port);
    ns.unblock_port(host, etcd_port); // unblocking an open port does nothing
    assert!(connects(&ns, host, db_port).await, "MariaDB reachable again");
    assert!(connects(&ns, host, etcd_port).await, "etcd reachable again");

    ns.cut_all();
    assert!(!connects(&ns, host, db_port).await, "nothing reachable when cut");
    ns.restore_all();
    assert!(connects(&ns, host, db_port).await, "reachable again after restore");
    etcd.wait_healthy(ETCD_START_TIMEOUT).await.expect("etcd unaffected by the namespace's rules");
}

fn namespace_exists(name: &str) -> bool {
    let listing = std::process::Command::new("ip").args(["netns", "list"]).output().expect("ip netns list");
    String::from_utf8_lossy(&listing.stdout).lines().any(|line| line.split_whitespace().next() == Some(name))
}

fn link_exists(name: &str) -> bool {
    let shown = std::process::Command::new("ip").args(["link", "show", name]).output().expect("ip link show");
    shown.status.success()
}

#[test]
fn a_namespace_and_its_veth_are_gone_after_drop_even_after_a_panic() {
    if !available("a_namespace_and_its_veth_are_gone_after_drop_even_after_a_panic", &[Need::Netns]) {
        return;
    }
    let ns = Netns::new();
    let (name, veth) = (ns.name().to_owned(), ns.host_veth().to_owned());
    assert!(namespace_exists(&name) && link_exists(&veth));
    drop(ns);
    assert!(!namespace_exists(&name), "namespace {name} deleted");
    assert!(!link_exists(&veth), "veth {veth} deleted");

    let made = std::sync::Mutex::new(None);
    let outcome = std::panic::catch_unwind(|| {
        let ns = Netns::new();
        *made.lock().unwrap() = Some((ns.name().to_owned(), ns.host_veth().to_owned()));
        panic!("deliberate panic with a namespace alive");
    });
    assert!(outcome.is_err());
    let (name, veth) = made.into_inner().unwrap().expect("namespace was made");
    assert!(!namespace_exists(&name), "namespace {name} deleted during unwinding");
    assert!(!link_exists(&veth), "veth {veth} deleted during unwinding");
}
