//! The README's cluster walkthrough, run as written: `tools/cluster-demo.sh`
//! starts etcd and three real seatd nodes on a throwaway MySQL database,
//! books through one, kills another with kill -9 and reads the order back
//! through a third. Only the ports, the database and the directory differ
//! (environment of the script), and the debug binaries stand in for release.

#[allow(dead_code)]
mod cluster;

use cluster::services::{Need, available, free_port};
use persistence::test_env::{MYSQL_URL, service_url};
use std::process::Command;

/// The marker line the walkthrough's command block follows.
const MARKER: &str = "<!-- cluster walkthrough -->";

fn walkthrough_commands(readme: &str) -> Vec<String> {
    let after = readme.split(MARKER).nth(1).expect("README has the cluster walkthrough");
    let block = after.split("```sh").nth(1).and_then(|rest| rest.split("```").next()).expect("a sh block");
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("cargo build"))
        .map(String::from)
        .collect()
}

/// Three consecutive ports that were free a moment ago.
fn free_port_run() -> u16 {
    loop {
        let base = free_port();
        if base < 65_000 && (1..3).all(|offset| std::net::TcpListener::bind(("127.0.0.1", base + offset)).is_ok()) {
            return base;
        }
    }
}

#[test]
fn the_readme_cluster_walkthrough_runs_as_written() {
    if !available("cluster walkthrough", &[Need::Etcd, Need::Mariadb]) {
        return;
    }
    let Some(mysql_url) = service_url(MYSQL_URL, "cluster walkthrough") else { return };
    let base_url = mysql_url.rsplit_once('/').map_or(mysql_url.as_str(), |(base, _)| base).to_owned();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf();
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README");
    let work = tempfile::tempdir().expect("temp dir");
    let base_port = free_port_run();
    let database = format!("cluster_walk_{}", std::process::id());
    let etcd_port = free_port().to_string();
    let port_text = |offset: u16| (base_port + offset).to_string();
    let mut outputs = Vec::new();
    for command in walkthrough_commands(&readme) {
        // The README's ports, as this run's.
        let command = command
            .replace("127.0.0.1:50061", &format!("127.0.0.1:{}", port_text(0)))
            .replace("127.0.0.1:50062", &format!("127.0.0.1:{}", port_text(1)))
            .replace("127.0.0.1:50063", &format!("127.0.0.1:{}", port_text(2)));
        let output = Command::new("bash")
            .arg("-c")
            .arg(&command)
            .current_dir(&root)
            .env("SEATD_BIN", env!("CARGO_BIN_EXE_seatd"))
            .env("SEATCTL_BIN", env!("CARGO_BIN_EXE_seatctl"))
            .env("MYSQL_URL_BASE", &base_url)
            .env("CLUSTER_DB", &database)
            .env("CLUSTER_DEMO_DIR", work.path())
            .env("BASE_PORT", port_text(0))
            .env("ETCD_PORT", &etcd_port)
            .output()
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            let _ = Command::new("bash")
                .arg("-c")
                .arg("tools/cluster-demo.sh drop")
                .current_dir(&root)
                .env("CLUSTER_DB", &database)
                .env("CLUSTER_DEMO_DIR", work.path())
                .env("MYSQL_URL_BASE", &base_url)
                .status();
            panic!("`{command}` failed:\n{stdout}\n{stderr}");
        }
        outputs.push((command, stdout));
    }
    let shown = |needle: &str| outputs.iter().find(|(command, _)| command.contains(needle)).map(|(_, out)| out.clone());
    let held = shown(" hold ").expect("the walkthrough holds");
    assert!(held.contains("HELD"), "{held}");
    let order_id = held.split_whitespace().nth(1).expect("order id").to_owned();
    let owner = shown("cluster --train").expect("the walkthrough asks for the owner");
    assert!(owner.contains("served by node"), "{owner}");
    let orders = shown("orders --user alice").expect("the walkthrough lists orders");
    assert!(orders.contains("1 orders in all") && orders.contains(&order_id), "the order survives the kill: {orders}");
}
