//! gRPC face of the seat engine: the booking and admin services, the server
//! wiring, and the pieces seatd and seatctl share.
//!
//! Modules:
//! - `admission`: rate limits per user and peer by RPC class, and client deadlines.
//! - `auth`: JWT bearer tokens (HS256/RS256), roles, and the interceptor that checks them.
//! - `cluster`: cluster mode: slots over nodes, ownership in etcd, routing and forwarding.
//! - `boot`: opens the journal (SQLite or MySQL), starts the writer and recovers the engine.
//! - `observe`: per-RPC tracing spans and Prometheus metrics, and the metrics endpoint.
//! - `pb`: code generated from `proto/seat/v1` (lints off).
//! - `codec`: the protobuf codec, answering INVALID_ARGUMENT for bytes that do not decode.
//! - `config`: seatd's layered configuration (TOML file < environment < flags).
//! - `convert`: proto ↔ engine conversions and request field validation.
//! - `relay`: publishes every committed journal event to NATS JetStream, resuming from the broker's state.
//! - `reasons`: the one table of ErrorInfo reasons, each with its gRPC status.
//! - `status`: the one place engine errors become gRPC statuses, bounded in size.
//! - `booking`: the Booking service.
//! - `watch`: WatchAvailability's limits and its bounded, conflated update streams.
//! - `board`: the live board page (HTML and JS, embedded) served beside gRPC.
//! - `admin`: the Admin service.
//! - `waitlist`: the Waitlist (候补) and TicketChange (改签) services.
//! - `feed`: the Feed service: StreamEvents, the commit-ordered event feed.
//! - `scheduler`: runs the presale scheduler at start-up and daily at a set time.
//! - `server`: builds the tonic server (services, health, reflection) and runs it.
//! - `demo`: the bundled Beijing–Shanghai demo timetable and how to load it.
//! - `timetable`: turns a parsed timetable file into admin requests.

pub mod admin;
pub mod admission;
pub mod auth;
pub mod board;
pub mod booking;
pub mod boot;
pub mod cluster;
pub mod codec;
pub mod config;
pub mod convert;
pub mod demo;
pub mod feed;
pub mod observe;
pub mod reasons;
pub mod relay;
pub mod scheduler;
pub mod server;
pub mod status;
pub mod timetable;
pub mod waitlist;
pub mod watch;

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod pb {
    tonic::include_proto!("seat.v1");

    /// Encoded descriptors of every seat.v1 file, for server reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("seat_v1_descriptor");
}
