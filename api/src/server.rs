//! The tonic server: booking (also over gRPC-Web), admin and feed services,
//! health, reflection, and the live board page.

use crate::admin::AdminService;
use crate::admission::Admission;
use crate::auth::{Authenticator, Role};
use crate::booking::BookingService;
use crate::cluster::Cluster;
use crate::cluster::peers::PeerService;
use crate::feed::{FeedOptions, FeedService};
use crate::pb::{
    FILE_DESCRIPTOR_SET, admin_server::AdminServer, booking_server::BookingServer, feed_server::FeedServer,
    peer_server::PeerServer, ticket_change_server::TicketChangeServer, waitlist_server::WaitlistServer,
};
use crate::reasons::MESSAGE_TOO_LARGE;
use crate::status::refusal;
use crate::waitlist::WaitlistService;
use crate::watch::{WatchGate, WatchLimits};
use engine::facade::Engine;
use persistence::writer::WriterStats;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::codegen::http;
use tonic::service::interceptor::InterceptedService;
use tonic_web::GrpcWebLayer;
use tower::Layer;

/// Largest booking request accepted: five passengers fit in well under 4 KiB,
/// so 64 KiB only ever refuses garbage. Larger requests are refused by tonic
/// before they are decoded: OUT_OF_RANGE, reason MESSAGE_TOO_LARGE.
pub const BOOKING_MESSAGE_BYTES_MAX: usize = 64 * 1024;
/// Largest admin request: one train's template is a few KiB, and 10,000
/// stations about 1 MiB. Refused as for Booking.
pub const ADMIN_MESSAGE_BYTES_MAX: usize = 4 * 1024 * 1024;

/// How the server guards and reports.
pub struct ServeOptions {
    /// Booking and Admin calls must carry a token this accepts; health and
    /// reflection need none.
    pub authenticator: Authenticator,
    pub admission: Admission,
    /// Feeds the journal figures of the Stats call.
    pub writer_stats: Option<Arc<WriterStats>>,
    /// Serve TLS with this identity instead of plaintext.
    pub tls: Option<tonic::transport::Identity>,
    /// In a cluster: this node's part, to route and gather across nodes.
    pub cluster: Option<Arc<Cluster>>,
    /// The event feed to serve (the Feed service), when the engine persists.
    pub feed: Option<FeedOptions>,
    /// Bounds on open WatchAvailability streams.
    pub watch_limits: WatchLimits,
    /// With `--demo` only: the demo passenger's token, written into the
    /// board page so it works on opening. Never set outside demo mode.
    pub board_demo_token: Option<String>,
}

/// Largest StreamEvents request: 64 train-dates take about 2 KiB. Refused
/// as for Booking.
pub const FEED_MESSAGE_BYTES_MAX: usize = 64 * 1024;

/// Serves on `listener` until `shutdown` completes, then finishes in-flight calls.
pub async fn serve(
    listener: TcpListener,
    engine: Arc<Engine>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let ServeOptions { authenticator, admission, writer_stats, tls, cluster, feed, watch_limits, board_demo_token } =
        options;
    let pruner = tokio::spawn(forget_idle_buckets(admission.clone()));
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<BookingServer<BookingService>>().await;
    health_reporter.set_serving::<AdminServer<AdminService>>().await;
    health_reporter.set_serving::<WaitlistServer<WaitlistService>>().await;
    health_reporter.set_serving::<TicketChangeServer<WaitlistService>>().await;
    if feed.is_some() {
        health_reporter.set_serving::<FeedServer<FeedService>>().await;
    }
    // Reflection lists grpc.health.v1 too, so generic tools find the health check.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    // Watches never end by themselves, and a graceful shutdown waits for
    // every open call: they are ended as soon as shutdown begins.
    let (closing_tx, closing) = tokio::sync::watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    let booking = BookingService::new(Arc::clone(&engine), admission.clone())
        .in_cluster(cluster.clone())
        .with_watches(WatchGate::new(watch_limits, closing.clone()));
    let booking = BookingServer::new(booking).max_decoding_message_size(BOOKING_MESSAGE_BYTES_MAX);
    let booking =
        InterceptedService::new(booking, authenticator.interceptor(&[Role::Passenger, Role::Agent, Role::Admin]));
    const PASSENGER_ROLES: &[Role] = &[Role::Passenger, Role::Agent, Role::Admin];
    let waitlist = WaitlistService::new(Arc::clone(&engine), admission.clone()).in_cluster(cluster.clone());
    let waitlist = WaitlistServer::new(waitlist).max_decoding_message_size(BOOKING_MESSAGE_BYTES_MAX);
    let waitlist = InterceptedService::new(waitlist, authenticator.interceptor(PASSENGER_ROLES));
    let change = WaitlistService::new(Arc::clone(&engine), admission.clone()).in_cluster(cluster.clone());
    let change = TicketChangeServer::new(change).max_decoding_message_size(BOOKING_MESSAGE_BYTES_MAX);
    let change = InterceptedService::new(change, authenticator.interceptor(PASSENGER_ROLES));
    // Following feed streams end when shutdown begins too, or the wait would
    // last as long as their consumers.
    let feed = feed.map(|options| {
        let feed = FeedServer::new(FeedService::new(options, admission.clone(), closing.clone()))
            .max_decoding_message_size(FEED_MESSAGE_BYTES_MAX);
        InterceptedService::new(feed, authenticator.interceptor(&[Role::Feed, Role::Admin]))
    });
    // Browsers speak gRPC-Web (HTTP/1.1, trailers in the body); only the
    // Booking service accepts it, and native gRPC passes through untouched.
    let booking = GrpcWebLayer::new().layer(booking);
    // Node-to-node workflow calls: members only, checked by the service
    // itself (nodes carry no client token), and only in a cluster.
    let peer = cluster.as_ref().map(|cluster| {
        PeerServer::new(PeerService::new(Arc::downgrade(cluster)))
            .max_decoding_message_size(crate::cluster::peers::PEER_MESSAGE_BYTES_MAX)
    });
    let admin = AdminService::new(engine, admission.clone(), writer_stats).in_cluster(cluster);
    let admin = AdminServer::new(admin).max_decoding_message_size(ADMIN_MESSAGE_BYTES_MAX);
    let admin = InterceptedService::new(admin, authenticator.interceptor(&[Role::Admin]));
    let mut builder = tonic::transport::Server::builder();
    if let Some(identity) = tls {
        builder = builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
    }
    let mut routes = tonic::service::Routes::builder();
    routes
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(booking)
        .add_service(waitlist)
        .add_service(change)
        .add_service(admin);
    if let Some(feed) = feed {
        routes.add_service(feed);
    }
    if let Some(peer) = peer {
        routes.add_service(peer);
    }
    let routes = crate::board::routes(routes.routes().into_axum_router(), board_demo_token.as_deref());
    builder
        // HTTP/1.1 for gRPC-Web and the board page; native gRPC stays on HTTP/2.
        .accept_http1(true)
        .layer(tower::util::MapResponseLayer::new(explain_refused_size))
        .add_routes(routes.into())
        .serve_with_incoming_shutdown(incoming(listener), shutdown)
        .await?;
    pruner.abort();
    Ok(())
}

/// Gives tonic's own size refusal its reason. tonic refuses a request over
/// the service's message limit while reading it, before our codec or service
/// runs, with a bare OUT_OF_RANGE; no status of ours is OUT_OF_RANGE without
/// details, so that one is rewritten as MESSAGE_TOO_LARGE with ErrorInfo.
fn explain_refused_size<B>(mut response: http::Response<B>) -> http::Response<B> {
    let headers = response.headers();
    let bare_out_of_range = headers.get("grpc-status").is_some_and(|code| code.as_bytes() == b"11")
        && !headers.contains_key("grpc-status-details-bin");
    if bare_out_of_range && let Some(refused) = tonic::Status::from_header_map(headers) {
        let explained = refusal(&MESSAGE_TOO_LARGE, refused.message());
        // A status built from our own bounded message always fits a header.
        let _ = explained.add_header(response.headers_mut());
    }
    response
}

/// Accepted connections with Nagle's algorithm off: a reply is several small
/// HTTP/2 frames, and waiting to coalesce them with delayed ACKs adds tens of
/// milliseconds to every call.
fn incoming(listener: TcpListener) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    TcpListenerStream::new(listener).map(|accepted| {
        let stream = accepted?;
        stream.set_nodelay(true)?;
        Ok(stream)
    })
}

/// How often idle rate-limit buckets are dropped: they only matter while a
/// caller keeps calling, and dropping them bounds memory under churn.
const IDLE_BUCKET_SWEEP: std::time::Duration = std::time::Duration::from_secs(10);

async fn forget_idle_buckets(admission: Admission) {
    loop {
        tokio::time::sleep(IDLE_BUCKET_SWEEP).await;
        admission.forget_idle();
    }
}
