//! Persistence for the seat engine: how events are stored and read back.
//!
//! Modules:
//! - `codec`: versioned JSON encoding of engine events, shared by every journal backend.

pub mod codec;
