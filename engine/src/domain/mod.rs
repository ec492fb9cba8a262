//! The train-date domain: pure data and the `apply` fold. No I/O, no clock.

pub mod allocation_policy;
pub mod apply;
mod apply_change;
mod apply_waitlist;
pub mod change;
pub mod command;
pub mod echo;
pub mod event;
pub mod fees;
pub mod inventory;
pub mod order;
pub mod patterns;
pub mod plan;
pub mod pricing;
pub mod rejection;
pub mod seat_class;
pub mod segments;
pub mod settings;
pub mod snapshot;
pub mod state;
pub mod timetable;
pub mod timetable_file;
pub mod waitlist;
pub mod workflow;
