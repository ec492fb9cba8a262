//! The tonic server: booking and admin services, health, and reflection.

use crate::admin::AdminService;
use crate::booking::BookingService;
use crate::pb::{FILE_DESCRIPTOR_SET, admin_server::AdminServer, booking_server::BookingServer};
use engine::engine::Engine;
use persistence::writer::WriterStats;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// Largest booking request accepted: five passengers fit in well under 4 KiB,
/// so 64 KiB only ever refuses garbage.
pub const BOOKING_MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// Largest admin request: one train's template is a few KiB, and 10,000
/// stations about 1 MiB.
pub const ADMIN_MESSAGE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Serves on `listener` until `shutdown` completes, then finishes in-flight
/// calls. `writer_stats` feeds the journal figures of the Stats call.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    writer_stats: Option<Arc<WriterStats>>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<BookingServer<BookingService>>().await;
    health_reporter.set_serving::<AdminServer<AdminService>>().await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let booking = BookingServer::new(BookingService::new(Arc::clone(&engine)))
        .max_decoding_message_size(BOOKING_MESSAGE_BYTES_MAX);
    let admin =
        AdminServer::new(AdminService::new(engine, writer_stats)).max_decoding_message_size(ADMIN_MESSAGE_BYTES_MAX);
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(booking)
        .add_service(admin)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
