//! Baselines: what people build today for a 12306-style seat inventory, each
//! done the way its best practitioners would, so the engine can be measured
//! against them in one harness, on one machine, under one demand. The engine
//! itself is the third target, in-process and called directly like the
//! baselines' databases.
//!
//! Modules:
//! - `layout`: the seats and stops of a train-date, as both baselines store them.
//! - `overlap`: the overlap rule, as a rectangle of (from, to) pairs that flip per seat.
//! - `model`: requests, outcomes and errors shared by both baselines and the driver.
//! - `audit`: the stored-state types the baselines hand the shared audit (`seat_audit`), and
//!   their acknowledged-order lookup.
//! - `baseline`: every target behind one type, for the driver and the tests.
//! - `mysql_classic`: MySQL/InnoDB transactions with `SELECT ... FOR UPDATE`, a sold-segments
//!   column per seat and a remaining-count table per (class, from, to).
//! - `redis_lua`: per-pair counters and seat-mask strings in Redis, one Lua script per hold.
//! - `seat_engine`: the engine, booted as seatd boots it on a MySQL journal with
//!   durable acknowledgement, called in-process without gRPC.
//!
//! The load driver is the `basebench` binary (`src/bin/basebench/`).

#![warn(missing_docs)]

pub mod audit;
pub mod baseline;
pub mod layout;
pub mod model;
pub mod mysql_classic;
pub mod overlap;
pub mod redis_lua;
pub mod seat_engine;

pub use baseline::Baseline;
pub use layout::Layout;
pub use model::{
    AckedOrder, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, OrderStatus, Passenger,
};
