//! The one end-of-run audit of a seat inventory, shared by seatbench, the
//! crash tests and the baselines' driver. Each of them reads the stored
//! state back in its own way (gRPC, SQL, Redis, the engine in-process) and
//! hands it here, so the checks themselves are written once:
//! - no seat segment is sold twice;
//! - every seat's taken segments equal its live tickets;
//! - every remaining count equals a recount from the seats;
//! - every acknowledged order is stored as acknowledged.
//!
//! Modules:
//! - `report`: `AuditReport`, what was checked and every problem found.
//! - `train_date`: one train-date's seats, counts and live tickets, and their checks.
//! - `acknowledged`: the check that an acknowledged order is stored as acknowledged.
//! - `seat`: seats as the booking API names and maps them, for callers reading over gRPC.

#![warn(missing_docs)]

mod acknowledged;
mod report;
mod seat;
mod train_date;

pub use report::{AuditReport, PROBLEMS_LISTED_MAX};
pub use seat::{CarriageSeat, SeatMapSegment, add_seat_map_segment};
pub use train_date::{StoredCount, StoredSeat, StoredTicket};
