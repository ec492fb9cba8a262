//! Cluster mode: train-dates sharded over seatd nodes by slot, ownership in
//! etcd, the fence in the MySQL journal.
//!
//! - `etcd`: the keys the cluster keeps in etcd and its transactions there.
//! - `lease`: the node's lease, kept alive, and when it must have expired.
//! - `peers`: workflow steps and reads carried to the node serving them.
//! - `coordinator`: the loop that claims, hands off and drops slots as the
//!   membership changes, and self-fences when the lease is lost.
//! - `presale`: the presale scheduler, run by the leader of an etcd election.
//! - `relay`: the NATS relay, run by the leader of an etcd election of its own.
//! - `route`: where a request for a train-date goes, and forwarding it.
//!
//! Safety comes from the fence alone: every journal append share-locks its
//! slots' fence rows and commits only streams carrying the stored token, and
//! a claim raises the token before the new owner recovers. etcd decides who
//! should own what, so nodes move slots quickly and rarely waste work.

pub mod coordinator;
pub mod etcd;
pub mod lease;
pub mod peers;
pub mod presale;
pub mod relay;
pub mod route;

use arc_swap::ArcSwap;
use engine::facade::Engine;
use engine::slots::SlotTable;
use etcd::{ClusterView, Keys};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How this node joins its cluster.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub etcd_endpoints: Vec<String>,
    pub node_id: String,
    /// host:port the other nodes reach this node's gRPC on.
    pub advertise: String,
    pub lease_ttl: Duration,
    pub prefix: String,
    /// Service time of the daily presale run, for the node that leads it.
    pub presale_run_at: chrono::NaiveTime,
}

/// Counters for `seatctl cluster`, Stats and Prometheus.
#[derive(Debug, Default)]
pub struct ClusterCounters {
    pub slots_claimed: AtomicU64,
    pub handoffs: AtomicU64,
    pub slots_dropped: AtomicU64,
    pub forwarded_calls: AtomicU64,
    pub lease_losses: AtomicU64,
}

/// One node's part in the cluster, shared by the coordinator (which
/// writes the view) and the services (which route by it).
pub struct Cluster {
    pub config: ClusterConfig,
    pub keys: Keys,
    pub engine: Arc<Engine>,
    pub slots: Arc<SlotTable>,
    /// The newest view read from etcd.
    pub view: ArcSwap<ClusterView>,
    pub counters: ClusterCounters,
    pub channels: route::Channels,
    /// Unix ms of the last successful etcd read, for `seatctl cluster`.
    pub etcd_seen_at_ms: AtomicU64,
    /// The etcd client, once the node has joined; the services announce
    /// admin changes through it.
    pub etcd: std::sync::OnceLock<etcd_client::Client>,
}

impl Cluster {
    /// The node's part, installed as its engine's carrier of workflow
    /// steps to other nodes (`peers`).
    pub fn new(config: ClusterConfig, engine: Arc<Engine>, slots: Arc<SlotTable>) -> Arc<Self> {
        let cluster = Arc::new(Cluster {
            keys: Keys::new(&config.prefix),
            config,
            engine,
            slots,
            view: ArcSwap::from_pointee(ClusterView::default()),
            counters: ClusterCounters::default(),
            channels: route::Channels::default(),
            etcd_seen_at_ms: AtomicU64::new(0),
            etcd: std::sync::OnceLock::new(),
        });
        cluster.engine.set_peers(Arc::new(peers::ClusterPeers::new(Arc::downgrade(&cluster))));
        cluster
    }

    pub fn node_id(&self) -> &str {
        &self.config.node_id
    }

    /// The advertised address of every other live member, by node id.
    pub fn peers(&self) -> Vec<(String, String)> {
        let view = self.view.load();
        view.members
            .iter()
            .filter(|(node, _)| node.as_str() != self.node_id())
            .map(|(node, address)| (node.clone(), address.clone()))
            .collect()
    }

    /// Tells the other nodes to load an admin change this node saved. A
    /// failure is the caller's UNAVAILABLE: the change is stored, and
    /// repeating the (idempotent) call announces it again.
    pub async fn announce_change(&self) -> Result<(), tonic::Status> {
        let Some(client) = self.etcd.get() else { return Ok(()) };
        let mut client = client.clone();
        let announced = tokio::time::timeout(
            etcd::ETCD_CALL_TIMEOUT,
            etcd::announce_change(&mut client, &self.keys, self.node_id()),
        )
        .await;
        match announced {
            Ok(Ok(())) => Ok(()),
            _ => Err(crate::status::refusal(
                &crate::reasons::STORE_UNAVAILABLE,
                "saved, but the other nodes could not be told (etcd unreachable); repeat the call",
            )),
        }
    }

    pub fn note_etcd_seen(&self, now_ms: u64) {
        self.etcd_seen_at_ms.store(now_ms, Ordering::Relaxed);
    }
}
