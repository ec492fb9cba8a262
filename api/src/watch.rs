//! WatchAvailability's server side: how many watches may be open, and the
//! task that turns an engine watch into a bounded, conflated gRPC stream.
//!
//! Each stream has a task and an outbound channel of `WATCH_OUTBOUND_MESSAGES_MAX`
//! messages. The task waits for a train-date to publish, then for room in the
//! channel, and only then reads the newest views, so whatever happened while
//! the client was not reading is sent as one message of the latest counts.
//! A client that leaves updates unread for `WATCH_STALL_TIMEOUT` is cut off
//! (WATCH_STALLED): nothing is ever buffered for it beyond the channel. At
//! shutdown every stream ends with UNAVAILABLE (TRAIN_DATE_STOPPED), so the
//! graceful shutdown, which waits for open calls, is not held up.

use crate::auth::{Caller, Role};
use crate::pb;
use crate::reasons::{TOO_MANY_WATCHES, TRAIN_DATE_STOPPED, WATCH_STALLED};
use crate::status::refusal;
use engine::facade::{AvailabilityWatch, Engine, TrainOffer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tonic::Status;

/// Messages waiting for the client per stream. Two let one update be on the
/// wire while the next is ready; more would only hold older counts that the
/// conflated next message makes stale anyway.
pub const WATCH_OUTBOUND_MESSAGES_MAX: usize = 2;

/// How long updates may wait unread before the stream is ended: long enough
/// for a browser tab in the background or a slow mobile link, short enough
/// that a dead client does not hold a watch slot for long.
pub const WATCH_STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Coarse watches show counts above this as "plenty" (12306 shows 有 above about 20).
pub const PLENTY_ABOVE_SEATS: u32 = 20;

/// Bounds on open WatchAvailability streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WatchLimits {
    /// Per passenger user (the token's subject): a person needs one board
    /// open, a few tabs at most.
    pub streams_per_user_max: usize,
    /// Per address of passenger-token callers: several people behind one NAT.
    pub streams_per_peer_max: usize,
    /// For the whole server, every role: each stream costs a task and a
    /// wake-up per change of the trains it follows. Agents (frontends
    /// relaying to many people) are bounded only by this.
    pub streams_max: usize,
}

impl Default for WatchLimits {
    fn default() -> Self {
        WatchLimits { streams_per_user_max: 4, streams_per_peer_max: 64, streams_max: 20_000 }
    }
}

/// Counts open watches against the limits, and ends them all when the
/// server shuts down (a graceful shutdown waits for every open call, and a
/// watch never ends by itself).
#[derive(Clone)]
pub struct WatchGate {
    limits: WatchLimits,
    open: Arc<Mutex<OpenWatches>>,
    closing: tokio::sync::watch::Receiver<bool>,
}

#[derive(Default)]
struct OpenWatches {
    total: usize,
    by_user: HashMap<String, usize>,
    by_peer: HashMap<IpAddr, usize>,
}

/// One admitted watch; dropping it frees its place.
pub struct WatchTicket {
    open: Arc<Mutex<OpenWatches>>,
    user: Option<String>,
    peer: Option<IpAddr>,
    /// Turns true when the server shuts down.
    closing: tokio::sync::watch::Receiver<bool>,
}

impl WatchGate {
    /// A gate whose watches end when `closing` turns true.
    pub fn new(limits: WatchLimits, closing: tokio::sync::watch::Receiver<bool>) -> Self {
        WatchGate { limits, open: Arc::default(), closing }
    }

    /// Admits one more watch by `caller` from `peer`, or TOO_MANY_WATCHES.
    /// Per-user and per-address limits apply to passenger tokens only, as
    /// rate limits do, and only where the call entered the cluster
    /// (`entering`); the server-wide limit applies everywhere.
    pub fn enter(&self, caller: &Caller, peer: Option<IpAddr>, entering: bool) -> Result<WatchTicket, Status> {
        let passenger = entering && caller.role == Role::Passenger;
        let user = passenger.then(|| caller.user.clone());
        let peer = peer.filter(|_| passenger);
        let mut open = self.open.lock().expect("watch counts lock");
        if open.total >= self.limits.streams_max {
            return Err(too_many("the server", self.limits.streams_max));
        }
        if let Some(user) = &user
            && open.by_user.get(user).copied().unwrap_or(0) >= self.limits.streams_per_user_max
        {
            return Err(too_many("this user", self.limits.streams_per_user_max));
        }
        if let Some(peer) = &peer
            && open.by_peer.get(peer).copied().unwrap_or(0) >= self.limits.streams_per_peer_max
        {
            return Err(too_many("this address", self.limits.streams_per_peer_max));
        }
        open.total += 1;
        if let Some(user) = &user {
            *open.by_user.entry(user.clone()).or_default() += 1;
        }
        if let Some(peer) = peer {
            *open.by_peer.entry(peer).or_default() += 1;
        }
        metrics::gauge!("seat_watch_streams_open").set(open.total as f64);
        Ok(WatchTicket { open: Arc::clone(&self.open), user, peer, closing: self.closing.clone() })
    }
}

fn too_many(whose: &str, max: usize) -> Status {
    refusal(&TOO_MANY_WATCHES, format!("{whose} already has {max} open watches, the most allowed; close one first"))
}

impl Drop for WatchTicket {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("watch counts lock");
        open.total -= 1;
        if let Some(user) = &self.user {
            leave(&mut open.by_user, user);
        }
        if let Some(peer) = &self.peer {
            leave(&mut open.by_peer, peer);
        }
        metrics::gauge!("seat_watch_streams_open").set(open.total as f64);
    }
}

/// Counts one watch out, forgetting keys with none left so the maps stay
/// as small as the set of current watchers.
fn leave<K: std::hash::Hash + Eq>(counts: &mut HashMap<K, usize>, key: &K) {
    if let Some(count) = counts.get_mut(key) {
        *count -= 1;
        if *count == 0 {
            counts.remove(key);
        }
    }
}

/// The stream a WatchAvailability call answers with.
pub type UpdateStream = Pin<Box<dyn Stream<Item = Result<pb::AvailabilityUpdate, Status>> + Send>>;

/// Runs `watch` for one client: the first message at once, then one per
/// conflated change, until the client leaves, stalls or the server closes.
pub fn stream_updates(
    engine: Arc<Engine>,
    mut watch: AvailabilityWatch,
    coarse: bool,
    ticket: WatchTicket,
) -> UpdateStream {
    let (outbound, inbound) = mpsc::channel(WATCH_OUTBOUND_MESSAGES_MAX);
    let (mut ending, ended) = Ending::new(&ticket);
    let initial = update_pb(&engine, &watch.changes(), coarse, true);
    tokio::spawn(async move {
        let _ticket = ticket;
        if outbound.send(Ok(initial)).await.is_err() {
            return;
        }
        loop {
            // A client that left frees its place now, not at the next change.
            let left = async {
                tokio::select! {
                    () = watch.changed() => false,
                    () = outbound.closed() => true,
                }
            };
            if ending.unless_closing(left).await.is_none_or(|left| left) {
                return;
            }
            // Room first, then the views: what changed meanwhile is one message.
            let Some(permit) = ending.room_in(&outbound).await else { return };
            let changed = watch.changes();
            if !changed.is_empty() {
                permit.send(Ok(update_pb(&engine, &changed, coarse, false)));
                metrics::counter!("seat_watch_updates_total").increment(1);
            }
        }
    });
    Box::pin(Outbound { updates: inbound, ended: Some(ended) })
}

/// Another node's stream for this client, holding this node's ticket while
/// it runs. Relayed through the same bounded channel: when the client
/// stalls, the relay stops reading, and the owner conflates.
pub fn proxied(mut updates: tonic::Streaming<pb::AvailabilityUpdate>, ticket: WatchTicket) -> UpdateStream {
    let (outbound, inbound) = mpsc::channel(WATCH_OUTBOUND_MESSAGES_MAX);
    let (mut ending, ended) = Ending::new(&ticket);
    tokio::spawn(async move {
        let _ticket = ticket;
        loop {
            let next = async {
                tokio::select! {
                    next = updates.message() => Some(next),
                    () = outbound.closed() => None,
                }
            };
            let update = match ending.unless_closing(next).await.flatten() {
                Some(Ok(Some(update))) => update,
                Some(Ok(None)) | None => return,
                Some(Err(status)) => return ending.end(status),
            };
            let Some(permit) = ending.room_in(&outbound).await else { return };
            permit.send(Ok(update));
        }
    });
    Box::pin(Outbound { updates: inbound, ended: Some(ended) })
}

/// How a stream's task ends it: the status the client reads after whatever
/// it has not read yet, and the server's shutdown, which ends every stream.
struct Ending {
    closing: tokio::sync::watch::Receiver<bool>,
    status: Option<tokio::sync::oneshot::Sender<Status>>,
}

impl Ending {
    fn new(ticket: &WatchTicket) -> (Ending, tokio::sync::oneshot::Receiver<Status>) {
        let (status, ended) = tokio::sync::oneshot::channel();
        (Ending { closing: ticket.closing.clone(), status: Some(status) }, ended)
    }

    fn end(&mut self, status: Status) {
        if let Some(sender) = self.status.take() {
            let _ = sender.send(status);
        }
    }

    /// `waited`'s output, or `None` (the stream ended) if the server closes first.
    async fn unless_closing<T>(&mut self, waited: impl Future<Output = T>) -> Option<T> {
        let mut closing = self.closing.clone();
        tokio::select! {
            output = waited => Some(output),
            _ = closing.wait_for(|closing| *closing) => {
                self.end(shutting_down());
                None
            }
        }
    }

    /// Room for one message, or `None` (the stream ended) if the client
    /// left, the server closes, or the client reads nothing for `WATCH_STALL_TIMEOUT`.
    async fn room_in<'a, T>(&mut self, outbound: &'a mpsc::Sender<T>) -> Option<mpsc::Permit<'a, T>> {
        match self.unless_closing(tokio::time::timeout(WATCH_STALL_TIMEOUT, outbound.reserve())).await? {
            Ok(Ok(permit)) => Some(permit),
            Ok(Err(_)) => None,
            Err(_) => {
                self.end(stalled());
                None
            }
        }
    }
}

fn stalled() -> Status {
    metrics::counter!("seat_watch_streams_stalled_total").increment(1);
    refusal(&WATCH_STALLED, format!("updates waited unread for {} s; watch again", WATCH_STALL_TIMEOUT.as_secs()))
}

fn shutting_down() -> Status {
    refusal(&TRAIN_DATE_STOPPED, "seatd is shutting down; watch again")
}

/// The client's side of the channel, then the cut-off status if the task
/// set one: it follows what the client has not read yet and needs no room
/// in the channel.
struct Outbound {
    updates: mpsc::Receiver<Result<pb::AvailabilityUpdate, Status>>,
    ended: Option<tokio::sync::oneshot::Receiver<Status>>,
}

impl Stream for Outbound {
    type Item = Result<pb::AvailabilityUpdate, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(update) = ready!(self.updates.poll_recv(cx)) {
            return Poll::Ready(Some(update));
        }
        let Some(ended) = self.ended.as_mut() else { return Poll::Ready(None) };
        let status = ready!(Pin::new(ended).poll(cx)).ok();
        self.ended = None;
        Poll::Ready(status.map(Err))
    }
}

fn update_pb(engine: &Engine, offers: &[TrainOffer], coarse: bool, initial: bool) -> pb::AvailabilityUpdate {
    let trains = offers
        .iter()
        .map(|offer| {
            let mut offer = crate::convert::offer_pb(offer, engine.catalog());
            if coarse {
                for class in &mut offer.classes {
                    class.plenty = class.remaining > PLENTY_ABOVE_SEATS;
                }
            }
            offer
        })
        .collect();
    pb::AvailabilityUpdate { trains, initial }
}
