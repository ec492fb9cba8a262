//! The command line: which target, what load, which servers.

use clap::{Parser, ValueEnum};
use seat_baselines::mysql_classic::HoldPath;
use seat_baselines::redis_lua::RedisDurability;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
/// What basebench drives.
pub enum Target {
    /// MySQL/InnoDB transactions with SELECT ... FOR UPDATE.
    MysqlClassic,
    /// Redis with one Lua script per hold.
    RedisLua,
    /// The engine in-process, booted as seatd (MySQL journal, durable
    /// acknowledgement), called directly: no gRPC, JWT or rate limits.
    SeatEngine,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
/// The request mix the clients send.
pub enum DemandKind {
    /// benches/src/demand.rs: long trips favoured, groups of 1–5, 80/16/4%
    /// second/first/business (seat picks are ignored: baselines seat first-fit).
    Bench,
    /// Like seatbench's demo demand: journeys among 4 stops (use --stops 4),
    /// 1–2 passengers, 80/15/5% second/first/business.
    Demo,
}

// No doc comment here: clap would print it as the long help.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "basebench",
    about = "Closed-loop load and audit for the MySQL and Redis baselines and the in-process engine"
)]
pub struct Args {
    /// Which target to drive.
    #[arg(long, value_enum)]
    pub target: Target,
    /// Concurrent clients, each with one request in flight.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// How long to run the load.
    #[arg(long, default_value_t = 15)]
    pub duration_secs: u64,
    /// Train-dates the load is spread over (168 = the demo's 12 trains × 14 days).
    #[arg(long, default_value_t = 168)]
    pub train_dates: usize,
    /// Stops of the benchmark train (16 cars, 1,193 seats); 24 is the whole line.
    #[arg(long, default_value_t = 24)]
    pub stops: usize,
    /// Request mix.
    #[arg(long, value_enum, default_value = "bench")]
    pub demand: DemandKind,
    /// Percent of held orders then confirmed.
    #[arg(long, default_value_t = 0)]
    pub confirm_percent: u32,
    /// Percent of held orders then cancelled (after any confirm), returning seats.
    #[arg(long, default_value_t = 0)]
    pub cancel_percent: u32,
    /// Demand seed; client k uses seed + k.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// MySQL server; a database named basebench_<pid>_<time> is created on it
    /// and dropped (mysql-classic's tables, or seat-engine's journal).
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306/test")]
    pub mysql_url: String,
    /// Connection pool size; default 16 (or one per client if fewer), at most 128.
    #[arg(long)]
    pub mysql_connections: Option<u32>,
    /// How holds reach MySQL: statements from here, or one stored-procedure call.
    #[arg(long, value_enum, default_value = "statements")]
    pub mysql_hold: HoldPath,
    /// Redis server; keys start with {basebench-<pid>-<time>: and are deleted at the end.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Multiplexed Redis connections the clients share (pipelined, so a few
    /// suffice; Redis runs scripts one at a time whatever the count).
    #[arg(long, default_value_t = 4)]
    pub redis_connections: usize,
    /// Redis persistence for the run (restored afterwards). aof-always is
    /// durable before the reply, like the engine's and InnoDB's defaults.
    #[arg(long, value_enum, default_value = "aof-always")]
    pub redis_durability: RedisDurability,
    /// seat-engine: actor threads (arbiters); default one per core, as seatd.
    #[arg(long)]
    pub engine_arbiters: Option<usize>,
    /// Write the results as JSON here too.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Keep the database or keys afterwards, for inspection.
    #[arg(long)]
    pub keep: bool,
}
