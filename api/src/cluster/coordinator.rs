//! The coordinator: joins the cluster, then reconciles this node's slots
//! with what etcd says, every `RECONCILE_INTERVAL`.
//!
//! Each pass reads the members and slot owners, and:
//! 1. drops the slots served here that etcd no longer gives to this node's
//!    lease (its lease expired, or they were fenced);
//! 2. hands off the slots whose rendezvous owner is now another live member:
//!    stops writes, waits for the journal, then deletes the claim so the new
//!    owner claims at once, without waiting for a lease to expire;
//! 3. claims the unowned slots whose rendezvous owner is this node (the
//!    claim's revision is the fencing token), raises their fences in MySQL
//!    and recovers them.
//!
//! When etcd cannot be read nothing moves: the owners keep selling. Once
//! the node's lease must have expired by its own clock, it checks its fences
//! in MySQL and stops serving every slot whose fence has moved on (another
//! node claimed it). Slots whose fence is still its own keep selling: during
//! an etcd quorum loss no fence can move, and every commit checks anyway.

use super::Cluster;
use super::etcd::{self, ClusterView, ETCD_CALL_TIMEOUT};
use super::lease::{self, Lease};
use engine::slots::{SLOT_COUNT, SlotFence, SlotId, rendezvous_owner};
use etcd_client::Client;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::task::JoinSet;
use tracing::{info, warn};

/// Pause between reconciliation passes: bounds how long after a lease
/// expires (or a member leaves) its slots wait to be claimed.
pub const RECONCILE_INTERVAL: Duration = Duration::from_millis(100);
/// Claims sent to etcd at once: enough to take over a third of 1,024 slots
/// in a few round trips without flooding etcd.
pub const CLAIMS_IN_FLIGHT_MAX: usize = 32;
/// How often a node whose lease must have expired asks MySQL which of its
/// fences moved: often enough to stop wasted work quickly, rarely enough to
/// cost the database nothing.
pub const SELF_FENCE_CHECK_INTERVAL: Duration = Duration::from_millis(500);

#[derive(Debug, Error)]
pub enum JoinError {
    #[error("cannot reach etcd at {endpoints}: {cause}")]
    EtcdUnreachable { endpoints: String, cause: String },
    #[error("cannot start the lease renewal thread: {cause}")]
    Renewer { cause: String },
    #[error(
        "node id {node_id:?} is already registered by a live node advertising {holder}; \
         give every node its own --node-id"
    )]
    DuplicateNodeId { node_id: String, holder: String },
}

/// A joined node's coordinator: the tasks keeping its lease and slots.
pub struct Coordinator {
    cluster: Arc<Cluster>,
    pub client: Client,
    lease: Arc<Lease>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Renews the lease from its own thread until the coordinator is dropped.
    _renewer: lease::Renewer,
}

impl Coordinator {
    /// Grants the lease, registers the node (refused if a live node has its
    /// id), and starts reconciling.
    pub async fn join(cluster: Arc<Cluster>) -> Result<Coordinator, JoinError> {
        let endpoints = cluster.config.etcd_endpoints.join(",");
        let unreachable = |cause: etcd_client::Error| JoinError::EtcdUnreachable {
            endpoints: endpoints.clone(),
            cause: cause.to_string(),
        };
        let mut client = etcd::connect(&cluster.config.etcd_endpoints).await.map_err(unreachable)?;
        let _ = cluster.etcd.set(client.clone());
        // A campaign waits as long as another node leads, so it gets a
        // client without the per-call timeout.
        let campaigner = etcd::connect_for_waiting(&cluster.config.etcd_endpoints).await.map_err(unreachable)?;
        let lease = Arc::new(Lease::new(cluster.config.lease_ttl));
        // A restarted node may find its previous life's registration until
        // that lease runs out; a live duplicate keeps it for ever.
        let give_up_at = Instant::now() + cluster.config.lease_ttl + Duration::from_secs(2);
        loop {
            match register(&mut client, &cluster, &lease).await.map_err(unreachable)? {
                Ok(()) => break,
                Err(holder) if Instant::now() >= give_up_at => {
                    return Err(JoinError::DuplicateNodeId { node_id: cluster.node_id().to_owned(), holder });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
        info!(node = cluster.node_id(), advertise = %cluster.config.advertise, lease = ?lease.id(), "joined the cluster");
        let renewer = lease::Renewer::start(cluster.config.etcd_endpoints.clone(), Arc::clone(&lease))
            .map_err(|error| JoinError::Renewer { cause: error.to_string() })?;
        let tasks = vec![
            tokio::spawn(run(Arc::clone(&cluster), client.clone(), Arc::clone(&lease))),
            tokio::spawn(super::presale::lead(Arc::clone(&cluster), campaigner, Arc::clone(&lease))),
        ];
        Ok(Coordinator { cluster, client, lease, tasks, _renewer: renewer })
    }

    /// Campaigns for the relay election next to the presale one, and relays
    /// while this node leads it. A campaign blocks, so it gets its own client.
    pub async fn lead_relay(&mut self, relay: crate::relay::Relay) -> Result<(), JoinError> {
        let endpoints = &self.cluster.config.etcd_endpoints;
        let campaigner = etcd::connect_for_waiting(endpoints)
            .await
            .map_err(|cause| JoinError::EtcdUnreachable { endpoints: endpoints.join(","), cause: cause.to_string() })?;
        let lead = super::relay::lead(Arc::clone(&self.cluster), campaigner, Arc::clone(&self.lease), relay);
        self.tasks.push(tokio::spawn(lead));
        Ok(())
    }

    /// Leaves gracefully: stops reconciling, hands every slot back (writes
    /// stop, the journal drains, the claims are deleted) and revokes the
    /// lease, so the others take over at once.
    pub async fn leave(mut self) {
        for task in &self.tasks {
            task.abort();
        }
        let served = self.cluster.slots.served();
        let slots: Vec<SlotId> = served.iter().map(|fence| fence.slot).collect();
        self.cluster.engine.release_slots(&slots).await;
        for fence in &served {
            let _ = tokio::time::timeout(
                ETCD_CALL_TIMEOUT,
                etcd::release(&mut self.client, &self.cluster.keys, fence.slot, fence.token),
            )
            .await;
        }
        if let Some(id) = self.lease.id() {
            let _ = tokio::time::timeout(ETCD_CALL_TIMEOUT, self.client.lease_revoke(id)).await;
        }
        info!(slots = served.len(), "left the cluster; slots handed back");
    }
}

/// Grants a fresh lease and registers under it; `Err(holder)` when a live
/// node already holds this id.
async fn register(
    client: &mut Client,
    cluster: &Cluster,
    lease: &Lease,
) -> Result<Result<(), String>, etcd_client::Error> {
    let asked_at = Instant::now();
    let granted = client.lease_grant(lease.ttl_secs(), None).await?;
    let outcome =
        etcd::register(client, &cluster.keys, cluster.node_id(), &cluster.config.advertise, granted.id()).await?;
    match outcome {
        Ok(()) => lease.granted(granted.id(), asked_at),
        Err(_) => {
            let _ = client.lease_revoke(granted.id()).await;
        }
    }
    Ok(outcome)
}

async fn run(cluster: Arc<Cluster>, mut client: Client, lease: Arc<Lease>) {
    let mut last_self_fence_check: Option<Instant> = None;
    // Recovery loaded everything stored at start-up; changes since are synced.
    let mut synced_changes: i64 = 0;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(RECONCILE_INTERVAL) => {}
            _ = cluster.slots.fenced_notify.notified() => {}
        }
        drop_fenced(&cluster).await;
        if lease.id().is_none() {
            match tokio::time::timeout(ETCD_CALL_TIMEOUT, register(&mut client, &cluster, &lease)).await {
                Ok(Ok(Ok(()))) => {
                    cluster.counters.lease_losses.fetch_add(1, Ordering::Relaxed);
                    info!(lease = ?lease.id(), "registered again under a new lease");
                }
                Ok(Ok(Err(holder))) => warn!(%holder, "this node id is registered elsewhere; waiting"),
                _ => {}
            }
        }
        match tokio::time::timeout(ETCD_CALL_TIMEOUT, etcd::read_view(&mut client, &cluster.keys)).await {
            Ok(Ok(view)) => {
                cluster.note_etcd_seen(unix_ms());
                // Routed by at once: claims and recovery below can take a while.
                let view = Arc::new(view);
                cluster.view.store(Arc::clone(&view));
                reconcile(&cluster, &mut client, &lease, &view).await;
                if view.changes_revision > synced_changes {
                    match cluster.engine.sync_with_store().await {
                        Ok((started, stopped)) => {
                            synced_changes = view.changes_revision;
                            info!(started, stopped, "synced admin changes made on other nodes");
                        }
                        Err(error) => warn!(%error, "could not load admin changes yet; will retry"),
                    }
                }
            }
            _ => {
                if lease.must_have_expired()
                    && last_self_fence_check.is_none_or(|at| at.elapsed() >= SELF_FENCE_CHECK_INTERVAL)
                {
                    last_self_fence_check = Some(Instant::now());
                    self_fence(&cluster).await;
                }
            }
        }
        publish_gauges(&cluster);
    }
}

/// Stops serving the slots whose appends came back fenced.
async fn drop_fenced(cluster: &Cluster) {
    let fenced = cluster.slots.take_fenced();
    if !fenced.is_empty() {
        warn!(slots = ?fenced, "fenced by a newer owner; dropping the slots");
        drop_slots(cluster, &fenced).await;
    }
}

async fn drop_slots(cluster: &Cluster, slots: &[SlotId]) {
    let stopped = cluster.engine.release_slots(slots).await;
    cluster.counters.slots_dropped.fetch_add(slots.len() as u64, Ordering::Relaxed);
    metrics::counter!("seat_cluster_slots_dropped_total").increment(slots.len() as u64);
    info!(slots = slots.len(), train_dates = stopped, "slots dropped");
}

/// The lease must have expired and etcd cannot say who owns what: ask the
/// fences. Slots another node has fenced stop here at once.
async fn self_fence(cluster: &Cluster) {
    match cluster.engine.fences_moved().await {
        Ok(moved) if !moved.is_empty() => {
            warn!(slots = moved.len(), "lease expired and etcd unreachable: fences moved on, self-fencing those slots");
            drop_slots(cluster, &moved).await;
        }
        Ok(_) => {}
        Err(error) => {
            warn!(%error, "lease expired and the fences cannot be read; the journal's fence still guards every commit")
        }
    }
}

async fn reconcile(cluster: &Cluster, client: &mut Client, lease: &Lease, view: &ClusterView) {
    let me = cluster.node_id();
    let my_lease = lease.id();
    // 1. What etcd no longer gives to this node's lease.
    let served = cluster.slots.served();
    let lost: Vec<SlotId> = served
        .iter()
        .filter(|fence| {
            !view
                .owner(fence.slot)
                .is_some_and(|owner| owner.node == me && owner.token == fence.token && Some(owner.lease) == my_lease)
        })
        .map(|fence| fence.slot)
        .collect();
    if !lost.is_empty() {
        warn!(slots = lost.len(), "etcd no longer gives these slots to this node");
        drop_slots(cluster, &lost).await;
    }
    let Some(my_lease) = my_lease.filter(|_| view.members.contains_key(me)) else { return };
    let desired = |slot: SlotId| rendezvous_owner(slot, view.members.keys().map(String::as_str));
    // 2. Hand off what a live member should own now.
    let handoffs: Vec<SlotFence> =
        cluster.slots.served().into_iter().filter(|fence| desired(fence.slot) != Some(me)).collect();
    if !handoffs.is_empty() {
        hand_off(cluster, client, &handoffs).await;
    }
    // 3. Claim what is this node's and unowned; adopt what etcd gives it and is not served yet.
    let to_claim: Vec<SlotId> =
        (0..SLOT_COUNT).filter(|slot| view.owner(*slot).is_none() && desired(*slot) == Some(me)).collect();
    let mut fences = claim(cluster, client, my_lease, &to_claim).await;
    // Claimed earlier but not adopted (the database was away). Slots served
    // when this pass began are left out: the ones dropped or handed off
    // above are not to be taken back on this pass's older view.
    fences.extend((0..SLOT_COUNT).filter_map(|slot| {
        let owner = view.owner(slot)?;
        let was_served = served.iter().any(|fence| fence.slot == slot);
        let mine = owner.node == me && owner.lease == my_lease && !was_served && cluster.slots.token(slot).is_none();
        mine.then_some(SlotFence { slot, token: owner.token })
    }));
    if !fences.is_empty() {
        adopt(cluster, client, &fences).await;
    }
}

async fn hand_off(cluster: &Cluster, client: &mut Client, handoffs: &[SlotFence]) {
    let started = Instant::now();
    let slots: Vec<SlotId> = handoffs.iter().map(|fence| fence.slot).collect();
    let stopped = cluster.engine.release_slots(&slots).await;
    for fence in handoffs {
        let released =
            tokio::time::timeout(ETCD_CALL_TIMEOUT, etcd::release(client, &cluster.keys, fence.slot, fence.token))
                .await;
        if !matches!(released, Ok(Ok(true))) {
            // The claim expires with the lease instead; the fence keeps it safe meanwhile.
            warn!(slot = fence.slot, "could not delete the claim of a handed-off slot");
        }
    }
    cluster.counters.handoffs.fetch_add(slots.len() as u64, Ordering::Relaxed);
    metrics::counter!("seat_cluster_handoffs_total").increment(slots.len() as u64);
    metrics::histogram!("seat_cluster_handoff_seconds").record(started.elapsed().as_secs_f64());
    info!(
        slots = slots.len(),
        train_dates = stopped,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "slots handed off"
    );
}

/// Claims `slots` in etcd, `CLAIMS_IN_FLIGHT_MAX` at a time; the fences won.
async fn claim(cluster: &Cluster, client: &Client, lease: i64, slots: &[SlotId]) -> Vec<SlotFence> {
    let started = Instant::now();
    let mut won = Vec::new();
    let mut pending = slots.iter().copied();
    let mut claiming = JoinSet::new();
    loop {
        while claiming.len() < CLAIMS_IN_FLIGHT_MAX {
            let Some(slot) = pending.next() else { break };
            let (mut client, keys, node) = (client.clone(), cluster.keys.clone(), cluster.node_id().to_owned());
            claiming.spawn(async move {
                let claimed =
                    tokio::time::timeout(ETCD_CALL_TIMEOUT, etcd::claim(&mut client, &keys, slot, &node, lease)).await;
                (slot, claimed)
            });
        }
        let Some(joined) = claiming.join_next().await else { break };
        if let Ok((slot, Ok(Ok(Some(token))))) = joined {
            won.push(SlotFence { slot, token });
        }
    }
    cluster.counters.slots_claimed.fetch_add(won.len() as u64, Ordering::Relaxed);
    if !won.is_empty() {
        // Failover timing splits detection (until this pass began) from claim and recovery.
        info!(slots = won.len(), claim_ms = started.elapsed().as_millis() as u64, "claimed");
    }
    won.sort_by_key(|fence| fence.slot);
    won
}

/// Raises the fences and recovers the slots. A slot whose fence is already
/// past its claim's token lost a race with a newer claim: the claim is deleted.
async fn adopt(cluster: &Cluster, client: &mut Client, fences: &[SlotFence]) {
    let started = Instant::now();
    match cluster.engine.adopt_slots(fences, cluster.node_id()).await {
        Ok(adoption) => {
            metrics::histogram!("seat_cluster_adopt_seconds").record(started.elapsed().as_secs_f64());
            info!(
                slots = adoption.adopted.len(),
                train_dates = adoption.train_dates,
                fence_ms = adoption.fence_ms,
                recovery_ms = adoption.recovery_ms,
                "adopted"
            );
            // The workflow steps the recovered train-dates owe (their old
            // owner may have died before sending them) go out in the
            // background: they may wait on other nodes.
            let engine = std::sync::Arc::clone(&cluster.engine);
            tokio::spawn(async move { engine.resume_workflows(adoption.keys).await });
            for stale in adoption.stale {
                warn!(
                    slot = stale.slot,
                    token = stale.token,
                    "a newer owner fenced this slot first; giving the claim up"
                );
                let _ = etcd::release(client, &cluster.keys, stale.slot, stale.token).await;
            }
        }
        // The database is away: keep the claims (ownership does not churn)
        // and adopt again next pass.
        Err(error) => warn!(%error, slots = fences.len(), "could not adopt claimed slots yet; will retry"),
    }
}

fn publish_gauges(cluster: &Cluster) {
    metrics::gauge!("seat_cluster_slots_owned").set(cluster.slots.served().len() as f64);
    metrics::gauge!("seat_cluster_members").set(cluster.view.load().members.len() as f64);
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as u64)
}
