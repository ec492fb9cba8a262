//! The NATS relay in a cluster: exactly one node relays at a time, the
//! leader of an etcd election of its own, held under the node's lease (as
//! the presale scheduler's). A node that loses its lease stops relaying; the
//! next leader resumes from what the broker holds. Two relays overlapping
//! for a moment cannot both write: every publish carries the sequences it
//! expects, so the second one's is refused and it re-reads the broker.

use super::Cluster;
use super::lease::Lease;
use crate::relay::Relay;
use etcd_client::Client;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How often a leader checks that its lease (and so its leadership) holds;
/// also the pause after a failed campaign.
const LEADERSHIP_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Campaigns for the relay election, and while leading runs the relay.
pub async fn lead(cluster: Arc<Cluster>, mut client: Client, lease: Arc<Lease>, relay: Relay) {
    loop {
        let Some(lease_id) = lease.id() else {
            tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
            continue;
        };
        if let Err(error) = client.campaign(cluster.keys.relay_election(), cluster.node_id(), lease_id).await {
            warn!(%error, "relay election campaign failed; trying again");
            tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
            continue;
        }
        info!("this node leads the NATS relay");
        tokio::select! {
            () = relay.clone().run() => {}
            () = lease_lost(&lease, lease_id) => info!("relay leadership ended with the lease"),
        }
    }
}

async fn lease_lost(lease: &Lease, lease_id: i64) {
    while lease.id() == Some(lease_id) {
        tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
    }
}
