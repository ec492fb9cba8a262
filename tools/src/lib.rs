//! Load and scale tools for seatd, kept out of the server crate so seatd's
//! dependency graph holds no benchmark, plotting or progress-bar crates.
//! The binaries are `seatbench` (load, latency and the end-of-run audit
//! over gRPC, `src/bin/seatbench/`) and `seatsynth` (synthetic timetables
//! for scale tests).
//!
//! Modules:
//! - `synthetic`: synthetic data for scale tests and load: a ring network
//!   timetable and valid resident ID numbers.

pub mod synthetic;
