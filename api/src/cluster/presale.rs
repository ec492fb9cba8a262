//! The presale scheduler in a cluster: exactly one node runs it at a time,
//! the leader of an etcd election held under the node's lease. It opens and
//! archives train-dates in the shared database for every slot, then tells
//! the other nodes to load the change.

use super::Cluster;
use super::etcd;
use super::lease::Lease;
use etcd_client::Client;
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// How often a leader checks that its lease (and so its leadership) holds
/// while it waits for the next run; also the pause after a failed campaign.
const LEADERSHIP_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Campaigns for the presale election, and while leading runs the
/// scheduler now and then daily at the configured time.
pub async fn lead(cluster: Arc<Cluster>, mut client: Client, lease: Arc<Lease>) {
    loop {
        let Some(lease_id) = lease.id() else {
            tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
            continue;
        };
        let election = cluster.keys.presale_election();
        if let Err(error) = client.campaign(election, cluster.node_id(), lease_id).await {
            warn!(%error, "presale election campaign failed; trying again");
            tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL).await;
            continue;
        }
        info!("this node leads the presale scheduler");
        while lease.id() == Some(lease_id) {
            run_once(&cluster, &mut client).await;
            let next = crate::scheduler::until_next(cluster.engine.now_ms(), cluster.config.presale_run_at);
            let due = tokio::time::Instant::now() + next;
            while lease.id() == Some(lease_id) && tokio::time::Instant::now() < due {
                tokio::time::sleep(LEADERSHIP_CHECK_INTERVAL.min(due - tokio::time::Instant::now())).await;
            }
        }
        info!("presale leadership ended with the lease");
    }
}

async fn run_once(cluster: &Cluster, client: &mut Client) {
    match cluster.engine.run_presale().await {
        Ok(run) => {
            info!(opened_here = run.opened, already_open = run.already_open, retired = run.retired, "presale run");
            if let Err(error) = etcd::announce_change(client, &cluster.keys, cluster.node_id()).await {
                warn!(%error, "could not announce the presale run; the other nodes load it with the next change");
            }
        }
        Err(error) => warn!(%error, "presale run failed; next attempt at the next scheduled time"),
    }
}
