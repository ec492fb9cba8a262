//! SQLite journal (to be written).
