//! Workflow steps and reads between nodes (proto/seat/v1/peer.proto): the
//! engine's `Peers` carrier, which sends a `PeerCall` to the node owning
//! its slot, and the `Peer` service, which answers calls from members.
//!
//! A call for a slot this node owns is answered here without the network.
//! A slot with no live owner, a dead owner, or a call that times out is a
//! `Peer` unavailability: the engine's effect driver retries it and then
//! parks it until the slot has a new owner.

use super::Cluster;
use super::route::{FORWARD_TIMEOUT, FORWARDED_HEADER, Route};
use crate::pb::peer_client::PeerClient;
use crate::pb::{PeerCallReply, PeerCallRequest, peer_server};
use crate::reasons;
use crate::status::refusal;
use engine::facade::EngineError;
use engine::facade::peers::{PeerAnswer, PeerCall, PeerFailure, PeerFuture, Peers, moved};
use engine::slots::SlotId;
use std::sync::Weak;
use tonic::{Request, Response, Status};

/// Largest Peer.Call message: a step carries at most a request's few
/// choices and passengers, and an answer at most one order (a few KiB).
pub const PEER_MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// The engine's carrier: holds the cluster weakly, since the cluster holds the engine.
pub struct ClusterPeers {
    cluster: Weak<Cluster>,
}

impl ClusterPeers {
    pub fn new(cluster: Weak<Cluster>) -> Self {
        ClusterPeers { cluster }
    }
}

impl Peers for ClusterPeers {
    fn call(&self, slot: SlotId, call: PeerCall) -> PeerFuture<'_, Result<PeerAnswer, EngineError>> {
        Box::pin(async move {
            let Some(cluster) = self.cluster.upgrade() else { return Err(moved(&call, "the node is stopping")) };
            match cluster.route_slot(slot, false) {
                Ok(Route::Local) => cluster.engine.answer_peer(call).await,
                Ok(Route::Remote(address)) => cluster.carry(&address, call).await,
                Err(slot) => Err(moved(&call, format!("slot {slot} has no live owner"))),
            }
        })
    }

    fn call_others(&self, call: PeerCall) -> PeerFuture<'_, Vec<Result<PeerAnswer, EngineError>>> {
        Box::pin(async move {
            let Some(cluster) = self.cluster.upgrade() else { return Vec::new() };
            let mut answers = Vec::new();
            for (_, address) in cluster.peers() {
                answers.push(cluster.carry(&address, call.clone()).await);
            }
            answers
        })
    }
}

impl Cluster {
    /// Sends `call` to the node at `address` and reads its outcome.
    async fn carry(&self, address: &str, call: PeerCall) -> Result<PeerAnswer, EngineError> {
        let encoded = serde_json::to_vec(&call).map_err(|error| moved(&call, error.to_string()))?;
        let mut request = Request::new(PeerCallRequest { call_json: encoded });
        if let Ok(node) = self.node_id().parse() {
            request.metadata_mut().insert(FORWARDED_HEADER, node);
        }
        request.set_timeout(FORWARD_TIMEOUT);
        let channel = self.channels.get(address).map_err(|status| moved(&call, status.message()))?;
        let mut client = PeerClient::new(channel).max_decoding_message_size(PEER_MESSAGE_BYTES_MAX);
        let reply = client.call(request).await.map_err(|status| moved(&call, status.message()))?;
        let outcome: Result<PeerAnswer, PeerFailure> = serde_json::from_slice(&reply.into_inner().outcome_json)
            .map_err(|error| moved(&call, format!("undecodable answer: {error}")))?;
        outcome.map_err(|failure| failure.into_error(&call))
    }
}

/// Answers members' calls from this node's train-dates.
pub struct PeerService {
    cluster: Weak<Cluster>,
}

impl PeerService {
    pub fn new(cluster: Weak<Cluster>) -> Self {
        PeerService { cluster }
    }
}

#[tonic::async_trait]
impl peer_server::Peer for PeerService {
    async fn call(&self, request: Request<PeerCallRequest>) -> Result<Response<PeerCallReply>, Status> {
        let Some(cluster) = self.cluster.upgrade() else {
            return Err(refusal(&reasons::SLOT_MOVED, "this node is stopping"));
        };
        if !cluster.forwarded_by_member(&request) {
            return Err(refusal(&reasons::PERMISSION_DENIED, "Peer.Call is for the nodes of this cluster only"));
        }
        let call: PeerCall = serde_json::from_slice(&request.get_ref().call_json).map_err(|error| {
            refusal(&reasons::MALFORMED_REQUEST, format!("call_json is not a call this node knows: {error}"))
        })?;
        let outcome = cluster.engine.answer_peer(call).await.map_err(PeerFailure::of);
        let outcome_json = serde_json::to_vec(&outcome)
            .map_err(|error| Status::internal(format!("the answer did not encode: {error}")))?;
        Ok(Response::new(PeerCallReply { outcome_json }))
    }
}
