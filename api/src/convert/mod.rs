//! proto ↔ engine conversions. Requests are validated field by field here, so
//! the engine sees only well-formed values; every error names its field.

mod catalogue;
mod fields;
mod replies;
mod timetable;

pub use catalogue::*;
pub use fields::*;
pub use replies::*;
pub use timetable::*;
