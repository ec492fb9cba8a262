//! Cluster replies: the sum of every node's Stats, and ClusterStatus.

use crate::cluster::Cluster;
use crate::pb;
use engine::domain::state::TrainDateKey;
use engine::slots::{SLOT_COUNT, slot_of};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

/// Adds another node's Stats to this node's: counts add up, the deepest
/// mailbox wins, `stations`, `trains` and `arbiters` are per node and stay.
pub fn add_stats(total: &mut pb::StatsResponse, share: &pb::StatsResponse) {
    total.actors += share.actors;
    total.orders += share.orders;
    total.held_orders += share.held_orders;
    total.held_tickets += share.held_tickets;
    total.sold_tickets += share.sold_tickets;
    total.mailbox_depth_total += share.mailbox_depth_total;
    if share.mailbox_depth_max > total.mailbox_depth_max {
        total.mailbox_depth_max = share.mailbox_depth_max;
        total.busiest = share.busiest.clone();
    }
    let batches = total.journal_batches + share.journal_batches;
    let commit_micros = total.journal_commit_micros_mean * total.journal_batches
        + share.journal_commit_micros_mean * share.journal_batches;
    total.journal_commit_micros_mean = commit_micros / batches.max(1);
    total.journal_batches = batches;
    total.journal_events += share.journal_events;
    total.journal_failed_batches += share.journal_failed_batches;
    if total.journal_batch_sizes.len() < share.journal_batch_sizes.len() {
        total.journal_batch_sizes.resize(share.journal_batch_sizes.len(), 0);
    }
    for (sum, count) in total.journal_batch_sizes.iter_mut().zip(&share.journal_batch_sizes) {
        *sum += count;
    }
    total.sold_out_gate_rejections += share.sold_out_gate_rejections;
    total.waitlist_waiting += share.waitlist_waiting;
    total.waitlist_queues.extend(share.waitlist_queues.iter().cloned());
}

pub fn cluster_status_pb(cluster: &Cluster, key: Option<&TrainDateKey>) -> pb::ClusterStatusResponse {
    let view = cluster.view.load();
    let mut owned: BTreeMap<&str, u32> = BTreeMap::new();
    let mut unowned = 0;
    for owner in &view.owners {
        match owner {
            Some(owner) => *owned.entry(owner.node.as_str()).or_default() += 1,
            None => unowned += 1,
        }
    }
    let nodes = view
        .members
        .iter()
        .map(|(node, advertise)| pb::ClusterNode {
            node_id: node.clone(),
            advertise: advertise.clone(),
            slots_owned: owned.get(node.as_str()).copied().unwrap_or(0),
        })
        .collect();
    let counters = &cluster.counters;
    let mut status = pb::ClusterStatusResponse {
        node_id: cluster.node_id().to_owned(),
        nodes,
        slot_count: u32::from(SLOT_COUNT),
        slots_unowned: unowned,
        slots_served_here: (0..SLOT_COUNT).filter(|slot| cluster.slots.is_ready(*slot)).count() as u32,
        slots_claimed: counters.slots_claimed.load(Ordering::Relaxed),
        handoffs: counters.handoffs.load(Ordering::Relaxed),
        slots_dropped: counters.slots_dropped.load(Ordering::Relaxed),
        forwarded_calls: counters.forwarded_calls.load(Ordering::Relaxed),
        etcd_seen_at_ms: cluster.etcd_seen_at_ms.load(Ordering::Relaxed),
        ..Default::default()
    };
    if let Some(key) = key {
        let slot = slot_of(key);
        status.train_date_slot = u32::from(slot);
        if let Some(owner) = view.owner(slot) {
            status.train_date_owner = owner.node.clone();
            status.train_date_token = owner.token;
        }
    }
    status
}
