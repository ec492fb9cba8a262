//! Routing: a client may call any node. A request for a train-date served
//! elsewhere is forwarded to its slot's owner over a plaintext gRPC channel,
//! with the caller's own token (every node verifies with the same keys);
//! reads across trains ask every node for its share (`x-seat-scope: local`).
//! A forwarded request is never forwarded again: a node that receives one
//! for a slot it does not serve answers SLOT_MOVED, and the client retries.

use super::Cluster;
use crate::pb::admin_client::AdminClient;
use crate::pb::booking_client::BookingClient;
use crate::pb::ticket_change_client::TicketChangeClient;
use crate::pb::waitlist_client::WaitlistClient;
use dashmap::DashMap;
use engine::domain::state::TrainDateKey;
use engine::facade::EngineError;
use engine::slots::{SlotId, slot_of};
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tonic::metadata::MetadataMap;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

/// Names the node that forwarded a call; the receiver serves it locally or
/// refuses it, never forwards it on.
pub const FORWARDED_HEADER: &str = "x-seat-forwarded";
/// `local`: answer a read across trains from this node's train-dates only.
pub const SCOPE_HEADER: &str = "x-seat-scope";
/// A forwarded call's own bound when the caller set none: well past a
/// commit, short enough that a dead owner is noticed and the client retries.
pub const FORWARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound on connecting to another node.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Headers of the caller's request a forwarded call carries on.
const CARRIED_HEADERS: [&str; 2] = ["authorization", "x-request-id"];

/// Channels to the other nodes by address, opened lazily and kept: tonic
/// reconnects a channel by itself after a node restarts.
#[derive(Default)]
pub struct Channels {
    by_address: DashMap<String, Channel>,
}

impl Channels {
    pub(super) fn get(&self, address: &str) -> Result<Channel, Status> {
        if let Some(channel) = self.by_address.get(address) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{address}"))
            .map_err(|error| Status::internal(format!("node address {address:?}: {error}")))?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true);
        let channel = endpoint.connect_lazy();
        self.by_address.insert(address.to_owned(), channel.clone());
        Ok(channel)
    }
}

/// Where a train-date's requests go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Served here (or, in single-node mode, everything is).
    Local,
    /// Served by the node at this address.
    Remote(String),
}

impl Cluster {
    /// The route of `key`'s requests. SLOT_MOVED when the slot has no ready
    /// owner now (being claimed or recovered) or a forwarded call reached a
    /// node that does not serve it.
    pub fn route(&self, key: &TrainDateKey, forwarded: bool) -> Result<Route, EngineError> {
        self.route_slot(slot_of(key), forwarded).map_err(|_| self.engine.slot_moved(key))
    }

    /// The route of calls about `slot` (a waitlist request's home slot).
    /// `Err(slot)` when the slot has no ready owner now: SLOT_MOVED.
    pub fn route_slot(&self, slot: SlotId, forwarded: bool) -> Result<Route, SlotId> {
        if self.slots.is_ready(slot) {
            return Ok(Route::Local);
        }
        if forwarded {
            return Err(slot);
        }
        let view = self.view.load();
        match view.owner(slot) {
            Some(owner) if owner.node != self.node_id() => match view.members.get(&owner.node) {
                Some(address) => Ok(Route::Remote(address.clone())),
                None => Err(slot),
            },
            _ => Err(slot),
        }
    }

    /// Whether `request` was forwarded by a member of this cluster: it names
    /// a forwarding node and comes from a member's address. Such a call was
    /// admitted (rate-limited) where it entered.
    pub fn forwarded_by_member<T>(&self, request: &Request<T>) -> bool {
        if request.metadata().get(FORWARDED_HEADER).is_none() {
            return false;
        }
        let Some(peer) = request.remote_addr().map(|address| address.ip()) else { return false };
        let view = self.view.load();
        peer.is_loopback() || view.members.values().any(|address| host_ip(address).is_some_and(|member| member == peer))
    }

    pub fn booking_client(&self, address: &str) -> Result<BookingClient<Channel>, Status> {
        Ok(BookingClient::new(self.channels.get(address)?))
    }

    pub fn admin_client(&self, address: &str) -> Result<AdminClient<Channel>, Status> {
        Ok(AdminClient::new(self.channels.get(address)?))
    }

    pub fn waitlist_client(&self, address: &str) -> Result<WaitlistClient<Channel>, Status> {
        Ok(WaitlistClient::new(self.channels.get(address)?))
    }

    pub fn ticket_change_client(&self, address: &str) -> Result<TicketChangeClient<Channel>, Status> {
        Ok(TicketChangeClient::new(self.channels.get(address)?))
    }

    /// `message` as a call from this node, carrying the caller's token and
    /// request id and the caller's remaining deadline.
    pub fn onward<T>(
        &self,
        metadata: &MetadataMap,
        message: T,
        deadline: Option<Instant>,
        local_scope: bool,
    ) -> Request<T> {
        let mut request = Request::new(message);
        for header in CARRIED_HEADERS {
            if let Some(value) = metadata.get(header) {
                request.metadata_mut().insert(header, value.clone());
            }
        }
        if let Ok(node) = self.node_id().parse() {
            request.metadata_mut().insert(FORWARDED_HEADER, node);
        }
        if local_scope {
            request.metadata_mut().insert(SCOPE_HEADER, tonic::metadata::MetadataValue::from_static("local"));
        }
        let timeout = deadline.map_or(FORWARD_TIMEOUT, |deadline| deadline.saturating_duration_since(Instant::now()));
        request.set_timeout(timeout);
        self.counters.forwarded_calls.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("seat_cluster_forwarded_calls_total").increment(1);
        request
    }
}

/// Whether a call asks for this node's share only.
pub fn local_scope<T>(request: &Request<T>) -> bool {
    request.metadata().get(SCOPE_HEADER).is_some_and(|scope| scope == "local")
}

/// The reply of a forwarded call, as this node's reply. A refusal from the
/// owner is passed on as it is; a failure of the call itself (the owner died
/// or cannot be reached, or did not answer in time: a status without our
/// ErrorInfo) becomes SLOT_MOVED, which tells the client to retry. The
/// write may have committed: a retry with the same request_id returns it.
pub fn relayed<T>(reply: Result<Response<T>, Status>) -> Result<Response<T>, Status> {
    match reply {
        Ok(response) => Ok(Response::new(response.into_inner())),
        Err(status) if !status.details().is_empty() => Err(status),
        Err(status) => Err(crate::status::refusal(
            &crate::reasons::SLOT_MOVED,
            format!("the node serving this train-date did not answer ({}); retry", status.code()),
        )),
    }
}

/// Where a call about `key` is served: `None` here (always on a single
/// node), else the cluster and the address of the node that serves it.
pub fn elsewhere<'c, T>(
    cluster: Option<&'c Cluster>,
    key: &TrainDateKey,
    request: &Request<T>,
) -> Result<Option<(&'c Cluster, String)>, Status> {
    let Some(cluster) = cluster else { return Ok(None) };
    let forwarded = request.metadata().get(FORWARDED_HEADER).is_some();
    match cluster.route(key, forwarded).map_err(crate::status::engine_status)? {
        Route::Local => Ok(None),
        Route::Remote(address) => Ok(Some((cluster, address))),
    }
}

/// Where an order's calls are served: its train-date's node, found in this
/// node's index, else in the journal's order index. `None`: serve here (and
/// answer NOT_FOUND there if it is nobody's).
pub async fn order_elsewhere<'c, T>(
    cluster: Option<&'c Cluster>,
    order_id: engine::domain::order::OrderId,
    request: &Request<T>,
) -> Result<Option<(&'c Cluster, String)>, Status> {
    let Some(cluster) = cluster else { return Ok(None) };
    match cluster.engine.locate_order(order_id).await.map_err(crate::status::engine_status)? {
        Some(key) => elsewhere(Some(cluster), &key, request),
        None => Ok(None),
    }
}

/// `request` as a call to another node, with the caller's token and deadline.
pub fn forward<T>(cluster: &Cluster, request: Request<T>) -> Result<Request<T>, Status> {
    let deadline = crate::admission::deadline(&request)?;
    let metadata = request.metadata().clone();
    Ok(cluster.onward(&metadata, request.into_inner(), deadline, false))
}

fn host_ip(address: &str) -> Option<IpAddr> {
    let (host, _) = address.rsplit_once(':')?;
    host.trim_start_matches('[').trim_end_matches(']').parse().ok()
}
