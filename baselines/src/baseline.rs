//! Every target (the two baselines and the in-process engine) behind one
//! type, so the driver and the tests run the same code against each.

use crate::audit::AuditReport;
use crate::layout::Layout;
use crate::model::{AckedOrder, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest};
use crate::mysql_classic::MysqlClassic;
use crate::redis_lua::RedisLua;
use crate::seat_engine::SeatEngine;

/// One target; cheap to clone (clones share connections, or the engine).
#[derive(Clone)]
pub enum Baseline {
    /// MySQL/InnoDB transactions (`mysql_classic`).
    MysqlClassic(MysqlClassic),
    /// Redis with one Lua script per hold (`redis_lua`).
    RedisLua(RedisLua),
    /// The engine itself, in-process on a MySQL journal (`seat_engine`).
    SeatEngine(SeatEngine),
}

impl Baseline {
    /// The name the driver's `--target` uses.
    pub fn name(&self) -> &'static str {
        match self {
            Baseline::MysqlClassic(_) => "mysql-classic",
            Baseline::RedisLua(_) => "redis-lua",
            Baseline::SeatEngine(_) => "seat-engine",
        }
    }

    /// Opens a train-date with every seat free.
    pub async fn open_train_date(&self, train_date: &str, layout: &Layout) -> Result<(), BaselineError> {
        match self {
            Baseline::MysqlClassic(mysql) => mysql.open_train_date(train_date, layout).await,
            Baseline::RedisLua(redis) => redis.open_train_date(train_date, layout).await,
            Baseline::SeatEngine(engine) => engine.open_train_date(train_date, layout).await,
        }
    }

    /// Holds one seat per passenger, or nothing.
    pub async fn hold(&self, request: &HoldRequest) -> Result<HoldOutcome, BaselineError> {
        match self {
            Baseline::MysqlClassic(mysql) => mysql.hold(request).await,
            Baseline::RedisLua(redis) => redis.hold(request).await,
            Baseline::SeatEngine(engine) => engine.hold(request).await,
        }
    }

    /// Cancels an order, releasing exactly its segments.
    pub async fn cancel(&self, train_date: &str, order_id: u64) -> Result<CancelOutcome, BaselineError> {
        match self {
            Baseline::MysqlClassic(mysql) => mysql.cancel(train_date, order_id).await,
            Baseline::RedisLua(redis) => redis.cancel(train_date, order_id).await,
            Baseline::SeatEngine(engine) => engine.cancel(train_date, order_id).await,
        }
    }

    /// Confirms (pays for) a held order.
    pub async fn confirm(&self, train_date: &str, order_id: u64) -> Result<ConfirmOutcome, BaselineError> {
        match self {
            Baseline::MysqlClassic(mysql) => mysql.confirm(train_date, order_id).await,
            Baseline::RedisLua(redis) => redis.confirm(train_date, order_id).await,
            Baseline::SeatEngine(engine) => engine.confirm(train_date, order_id).await,
        }
    }

    /// Audits the stored state and the acknowledged orders.
    pub async fn audit(&self, acked: &[AckedOrder]) -> Result<AuditReport, BaselineError> {
        match self {
            Baseline::MysqlClassic(mysql) => mysql.audit(acked).await,
            Baseline::RedisLua(redis) => redis.audit(acked).await,
            Baseline::SeatEngine(engine) => engine.audit(acked).await,
        }
    }
}
