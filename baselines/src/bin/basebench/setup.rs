//! Each target's setup and teardown around a drive: its own throwaway state
//! (a database, or a key prefix), its durability settings for the report,
//! and removing the state afterwards even when the drive failed.

use crate::args::Args;
use crate::drive::drive;
use crate::train_dates::{TRAINS, first_date};
use seat_baselines::mysql_classic::{self, HoldPath, MysqlClassic};
use seat_baselines::redis_lua::{self, RedisLua};
use seat_baselines::seat_engine::{SeatEngine, SeatEngineConfig};
use seat_baselines::{Baseline, Layout};
use std::sync::Arc;

/// A MySQL server's default `max_connections` is 151; the pool stays under it
/// with room for the setup connection and an operator's shell.
const MYSQL_CONNECTIONS_MAX: u32 = 128;

/// Default pool size. On this 2-core machine 8 to 16 connections gave the
/// best throughput at 64 clients and 64 the worst tail (measured 4, 8, 16, 24,
/// 64): past the cores, more connections add context switches, not work.
/// The pool-sizing rule of thumb (2 × cores + disks) lands in the same place.
const MYSQL_CONNECTIONS_DEFAULT: u32 = 16;

/// What a run returns: `Ok(false)` when the audit failed.
type RunResult = Result<bool, Box<dyn std::error::Error>>;

/// The classic baseline on its own database `tag`, dropped afterwards.
pub async fn run_mysql_classic(args: &Args, layout: &Arc<Layout>, tag: &str) -> RunResult {
    let connections = args
        .mysql_connections
        .unwrap_or(MYSQL_CONNECTIONS_DEFAULT.min(args.clients as u32))
        .clamp(1, MYSQL_CONNECTIONS_MAX);
    mysql_classic::create_database(&args.mysql_url, tag).await?;
    let url = mysql_classic::database_url(&args.mysql_url, tag);
    let outcome = async {
        let mysql = MysqlClassic::connect(&url, connections).await?.with_hold_path(args.mysql_hold);
        mysql.create_schema().await?;
        let durability = mysql_settings(&mysql, connections, args.mysql_hold).await?;
        let result = drive(args, layout, Baseline::MysqlClassic(mysql.clone()), durability).await;
        mysql.pool().close().await;
        result
    }
    .await;
    drop_unless_kept(args, tag).await?;
    outcome
}

/// The Redis baseline under the key prefix made from `tag`, with the run's
/// durability set; the keys are deleted and the server's settings restored.
pub async fn run_redis_lua(args: &Args, layout: &Arc<Layout>, tag: &str) -> RunResult {
    let prefix = tag.replace('_', "-");
    let redis = RedisLua::connect(&args.redis_url, &prefix, args.redis_connections).await?;
    let mut admin = redis.connection();
    let previous = redis_lua::set_durability(&mut admin, args.redis_durability).await?;
    let outcome = async {
        let durability = serde_json::json!({
            "mode": args.redis_durability,
            "during_run": redis_lua::persistence_settings(&mut admin).await?,
            "server_before": previous,
            "connections": args.redis_connections,
        });
        drive(args, layout, Baseline::RedisLua(redis.clone()), durability).await
    }
    .await;
    if args.keep {
        eprintln!("keeping keys {{{prefix}:*");
    } else {
        let deleted = redis.delete_all().await?;
        eprintln!("deleted {deleted} keys");
    }
    redis_lua::restore_durability(&mut admin, &previous).await?;
    outcome
}

/// The engine in-process, its journal on its own database `tag`, dropped
/// afterwards. The engine is stopped (and restarted for the audit) inside.
pub async fn run_seat_engine(args: &Args, layout: &Arc<Layout>, tag: &str) -> RunResult {
    mysql_classic::create_database(&args.mysql_url, tag).await?;
    let url = mysql_classic::database_url(&args.mysql_url, tag);
    let outcome = async {
        let engine = SeatEngine::start(engine_config(args, &url)).await?;
        let server = sqlx::MySqlPool::connect(&url).await?;
        let durability = serde_json::json!({
            "mode": "durable: a write is answered after its journal batch commits",
            "engine": engine.describe(),
            "server": mysql_server_settings(&server).await?,
        });
        server.close().await;
        let result = drive(args, layout, Baseline::SeatEngine(engine.clone()), durability).await;
        let stopped = engine.stop().await;
        log_engine_totals(&engine, result.is_ok());
        let result = result?;
        stopped?;
        Ok::<_, Box<dyn std::error::Error>>(result)
    }
    .await;
    drop_unless_kept(args, tag).await?;
    outcome
}

/// seatd's configuration on the journal at `url`, with every train-date of
/// the run inside the presale window.
fn engine_config(args: &Args, url: &str) -> SeatEngineConfig {
    let mut config = SeatEngineConfig::new(url);
    config.today = first_date() - chrono::Days::new(1);
    let days = args.train_dates.max(1).div_ceil(TRAINS.len()) as u64;
    config.seatd.presale_days = config.seatd.presale_days.max(days);
    if let Some(arbiters) = args.engine_arbiters {
        config.seatd.arbiters = Some(arbiters.max(1));
    }
    config
}

/// The engine's restart before the audit (when the drive succeeded) and its
/// journal's batching, on stderr.
fn log_engine_totals(engine: &SeatEngine, drive_succeeded: bool) {
    if let (true, Some(recovery)) = (drive_succeeded, engine.last_recovery()) {
        eprintln!(
            "audited after a restart: recovered {} train-dates, {} orders from the journal in {} ms",
            recovery.train_dates, recovery.orders, recovery.elapsed_ms
        );
    }
    let journal = engine.journal_totals();
    eprintln!(
        "journal: {} batches, {} events ({:.1} a batch), {:.2} ms a commit, {} failed",
        journal.batches,
        journal.events,
        journal.events as f64 / journal.batches.max(1) as f64,
        journal.commit_micros as f64 / 1000.0 / journal.batches.max(1) as f64,
        journal.failed_batches
    );
}

/// Drops the run's throwaway database, unless `--keep` asked to keep it.
async fn drop_unless_kept(args: &Args, tag: &str) -> Result<(), Box<dyn std::error::Error>> {
    if args.keep {
        eprintln!("keeping database {tag}");
    } else {
        mysql_classic::drop_database(&args.mysql_url, tag).await?;
    }
    Ok(())
}

/// The classic baseline's settings that decide durability, for the report.
async fn mysql_settings(
    mysql: &MysqlClassic,
    connections: u32,
    hold_path: HoldPath,
) -> Result<serde_json::Value, sqlx::Error> {
    let mut settings = mysql_server_settings(mysql.pool()).await?;
    settings["lock_wait_timeout_secs"] = mysql_classic::LOCK_WAIT_TIMEOUT_SECS.into();
    settings["pool_connections"] = connections.into();
    settings["hold_path"] = serde_json::to_value(hold_path).map_err(|error| sqlx::Error::Decode(error.into()))?;
    Ok(settings)
}

/// The MySQL server's settings that decide durability and speed.
async fn mysql_server_settings(pool: &sqlx::MySqlPool) -> Result<serde_json::Value, sqlx::Error> {
    let (version, flush, sync_binlog, log_bin, buffer_pool, isolation): (String, u64, u64, i64, u64, String) =
        sqlx::query_as(
            "SELECT @@version, @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@log_bin, \
             @@innodb_buffer_pool_size, @@tx_isolation",
        )
        .fetch_one(pool)
        .await?;
    Ok(serde_json::json!({
        "version": version,
        "innodb_flush_log_at_trx_commit": flush,
        "sync_binlog": sync_binlog,
        "log_bin": log_bin,
        "innodb_buffer_pool_size": buffer_pool,
        "isolation": isolation,
    }))
}
