//! Shared benchmark fixtures.
//!
//! Modules:
//! - `fixtures`: a 24-stop, 16-car 1,193-seat train like the Beijing–Shanghai line's.
//! - `demand`: a seeded, realistic stream of hold requests (long trips favoured,
//!   groups of 1 to 5, some seat picks) for comparing allocation policies.
//! - `holds`: that stream run through `decide` + `apply` until sold out.
//! - `latency`: the latency CDF the load tools write for the plots.

pub mod demand;
pub mod fixtures;
pub mod holds;
pub mod latency;
