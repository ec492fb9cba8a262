//! Shared harness for the cluster scenario tests (several seatd nodes sharing
//! train-dates through etcd, fenced in MySQL).
//!
//! - [`services`]: real etcd members and clusters, MariaDB servers and network
//!   namespaces, started per test and torn down on drop.

pub mod booking_load;
pub mod checker;
pub mod partition_node;
pub mod seatd;
pub mod services;
pub mod waitlist;
