//! The MySQL baseline against a real server; runs when MYSQL_URL is set, fails
//! under `CI=true` when it is not
//! (each test creates and drops its own database).

mod common;

use persistence::test_env::{MYSQL_URL, service_url};

use seat_baselines::Baseline;
use seat_baselines::mysql_classic::{self, HoldPath, MysqlClassic};
use std::future::Future;

/// Connections per test pool: enough for the racing scenarios to contend.
const TEST_CONNECTIONS: u32 = 8;

async fn run<F, Fut>(path: HoldPath, scenario: F)
where
    F: FnOnce(Baseline) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server_url) = service_url(MYSQL_URL, "this MySQL classic baseline test") else { return };
    let name = common::unique_name("baselines_test");
    mysql_classic::create_database(&server_url, &name).await.expect("create database");
    let url = mysql_classic::database_url(&server_url, &name);
    let setup = async {
        let mysql = MysqlClassic::connect(&url, TEST_CONNECTIONS).await?.with_hold_path(path);
        mysql.create_schema().await?;
        Ok::<_, seat_baselines::BaselineError>(mysql)
    };
    let mysql = match setup.await {
        Ok(mysql) => mysql,
        Err(error) => {
            mysql_classic::drop_database(&server_url, &name).await.expect("drop database");
            panic!("setting up {name}: {error}");
        }
    };
    let pool = mysql.pool().clone();
    common::with_cleanup(scenario(Baseline::MysqlClassic(mysql)), async {
        pool.close().await;
        mysql_classic::drop_database(&server_url, &name).await.expect("drop database");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_sell_exactly_capacity() {
    run(HoldPath::Statements, common::racing_holds_sell_exactly_capacity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_sell_exactly_capacity_procedure() {
    run(HoldPath::Procedure, common::racing_holds_sell_exactly_capacity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_racing_holds_never_double_sell() {
    run(HoldPath::Statements, common::random_racing_holds_never_double_sell).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_racing_holds_never_double_sell_procedure() {
    run(HoldPath::Procedure, common::random_racing_holds_never_double_sell).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_releases_only_its_own_bits() {
    run(HoldPath::Statements, common::cancel_releases_only_its_own_bits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_releases_only_its_own_bits_procedure() {
    run(HoldPath::Procedure, common::cancel_releases_only_its_own_bits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeats_are_idempotent_and_confirm_once() {
    run(HoldPath::Statements, common::repeats_are_idempotent_and_confirm_once).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeats_are_idempotent_and_confirm_once_procedure() {
    run(HoldPath::Procedure, common::repeats_are_idempotent_and_confirm_once).await;
}
