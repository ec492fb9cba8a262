//! The Redis + Lua baseline against a real server; runs when REDIS_URL is set,
//! fails under `CI=true` when it is not
//! (each test uses its own key prefix and deletes its keys).

mod common;

use persistence::test_env::{REDIS_URL, service_url};
use seat_baselines::Baseline;
use seat_baselines::redis_lua::RedisLua;
use std::future::Future;

/// Multiplexed connections per test: more than one, so racing scripts
/// arrive on different sockets.
const TEST_CONNECTIONS: usize = 3;

async fn run<F, Fut>(scenario: F)
where
    F: FnOnce(Baseline) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(url) = service_url(REDIS_URL, "this Redis + Lua baseline test") else { return };
    let prefix = common::unique_name("baselines-test");
    let redis = RedisLua::connect(&url, &prefix, TEST_CONNECTIONS).await.expect("connect");
    let cleanup = redis.clone();
    common::with_cleanup(scenario(Baseline::RedisLua(redis)), async move {
        cleanup.delete_all().await.expect("delete keys");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_sell_exactly_capacity() {
    run(common::racing_holds_sell_exactly_capacity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_racing_holds_never_double_sell() {
    run(common::random_racing_holds_never_double_sell).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_releases_only_its_own_bits() {
    run(common::cancel_releases_only_its_own_bits).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeats_are_idempotent_and_confirm_once() {
    run(common::repeats_are_idempotent_and_confirm_once).await;
}
