//! proto ↔ engine conversions. Requests are validated field by field here, so
//! the engine sees only well-formed values; every error names its field.
//! Page tokens are opaque keyset cursors (`page_token`); journal events become
//! typed feed messages in `feed`.

mod catalogue;
mod cluster;
mod feed;
mod fields;
mod page_token;
mod replies;
mod timetable;
mod workflow;

pub use catalogue::*;
pub use cluster::*;
pub use feed::*;
pub use fields::*;
pub use page_token::*;
pub use replies::*;
pub use timetable::*;
pub use workflow::*;
