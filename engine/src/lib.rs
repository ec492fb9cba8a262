//! Seat inventory engine: one actor per train-date owns its seats as segment
//! bitmaps and decides bookings one message at a time, without locks.
//!
//! Modules:
//! - `domain`: timetable, seat plan, inventory masks, mask patterns and counts, orders, commands, events, `apply`, capped echoes of input, the waitlist queue and change records of a train-date, fee tables and the waitlist / change / refund settings.
//! - `allocation`: which free seats a hold takes (tightest-fit or first-fit, groups, 选座 picks).
//! - `decide`: all business rules; `decide(state, command, now)` → events or a rejection; `decide_workflow` for waitlist and change steps.
//! - `actor`: the actix actor that wraps decide/apply for one train-date (bookings, workflow steps and the waitlist requests homed there), its messages, its published view and the change signal live watchers wait on.
//! - `registry`: train-date → actor address, the published availability views, and the arbiters.
//! - `orders`: the global order indexes (order id → train-date, user → orders) actors write and the facade reads.
//! - `catalog`: stations and train templates, with the station → trains index searches use.
//! - `facade`: `Engine`, the async facade the API calls: open, search, live availability watches, catalogue, hold, confirm, cancel, stats, waitlist requests and ticket changes, and the driver that delivers workflow steps between train-dates.
//! - `clock`: wall-clock time for the actors, and a manual clock for tests.
//! - `test_fixtures` (tests only): small train templates the unit tests share.
//! - `durability`: the journal queue actors write to, ack modes, and the `Store` recovery reads.
//! - `slots`: the cluster's slots: the stable hash of a train-date to its slot, rendezvous placement, the served slots' fencing tokens.
//! - `workflow`: waitlist requests' own records, and the steps between train-dates that finish or undo waitlist fulfilments and ticket changes, live and at recovery (the design is in its doc).
//! - `error`: typed errors that cross seams: not found, overload and unavailability by cause.

pub mod actor;
pub mod allocation;
pub mod catalog;
pub mod clock;
pub mod decide;
pub mod domain;
pub mod durability;
pub mod error;
pub mod facade;
pub mod orders;
pub mod registry;
pub mod slots;
pub mod workflow;

#[cfg(test)]
mod test_fixtures;

pub use decide::decide;
pub use domain::apply::apply;
