//! The Waitlist and TicketChange services: validate, convert, call the
//! engine, map errors, as `booking` does. In a cluster a call is forwarded
//! to the node serving its request's record (the slot the request id names,
//! or the first choice's train-date for a new one) or its order's
//! train-date; that node's engine carries the workflow's steps to the nodes
//! serving the other train-dates (`cluster::peers`). ListWaitlist gathers
//! every node's share.

use crate::admission::{Admission, RpcClass};
use crate::booking::Call;
use crate::cluster::Cluster;
use crate::cluster::route::{self, Route, forward};
use crate::pb::{self, ticket_change_server, waitlist_server};
use crate::status::{engine_status, refusal};
use crate::{auth, convert, observe, reasons};
use engine::facade::{ChangeInput, Engine, WAITLIST_LIST_MAX, WaitlistInput};
use engine::slots::{SlotId, slot_of};
use std::sync::Arc;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

pub struct WaitlistService {
    engine: Arc<Engine>,
    admission: Admission,
    /// In a cluster: this node's part, to forward calls to the node serving them.
    cluster: Option<Arc<Cluster>>,
}

impl WaitlistService {
    pub fn new(engine: Arc<Engine>, admission: Admission) -> Self {
        WaitlistService { engine, admission, cluster: None }
    }

    pub fn in_cluster(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.cluster = cluster;
        self
    }

    fn call<T>(&self, request: &Request<T>) -> Result<Call, Status> {
        Call::in_cluster(request, self.cluster.as_ref())
    }

    /// Admits a write by the user it acts for (the caller, or whom an agent names).
    fn admit_write(&self, call: &Call, user: Option<&str>) -> Result<(), Status> {
        call.admit(&self.admission, user.unwrap_or(&call.caller.user), RpcClass::Write)
    }

    fn admit_read(&self, call: &Call, user: Option<&str>) -> Result<(), Status> {
        call.admit(&self.admission, user.unwrap_or(&call.caller.user), RpcClass::Read)
    }

    /// The node serving `slot`, if not this one: the cluster and its address.
    fn slot_elsewhere<T>(&self, slot: SlotId, request: &Request<T>) -> Result<Option<(&Cluster, String)>, Status> {
        let Some(cluster) = &self.cluster else { return Ok(None) };
        let forwarded = request.metadata().get(route::FORWARDED_HEADER).is_some();
        match cluster.route_slot(slot, forwarded) {
            Ok(Route::Local) => Ok(None),
            Ok(Route::Remote(address)) => Ok(Some((cluster, address))),
            Err(slot) => Err(refusal(
                &reasons::SLOT_MOVED,
                format!("the node serving this request (slot {slot}) is changing; retry"),
            )),
        }
    }

    /// The request a call names and the user its lookup is limited to.
    fn request_ref(
        &self,
        call: &Call,
        request: &pb::WaitlistRequestRef,
    ) -> Result<(engine::domain::waitlist::WaitlistRequestId, Option<String>), Status> {
        let request_id = convert::waitlist_request_id("request_id", &request.request_id)?;
        let user = auth::order_scope(&call.caller, &request.user_id)?;
        Ok((request_id, user))
    }
}

#[tonic::async_trait]
impl waitlist_server::Waitlist for WaitlistService {
    async fn submit_waitlist(&self, request: Request<pb::SubmitWaitlistRequest>) -> Reply<pb::WaitlistRequest> {
        let rpc = observe::rpc(&request);
        observe::observed("SubmitWaitlist", rpc, async move {
            let call = self.call(&request)?;
            let user_id = auth::acting_user(&call.caller, &request.get_ref().user_id)?;
            self.admit_write(&call, Some(&user_id))?;
            if let Some(first) = request.get_ref().choices.first() {
                let home = convert::train_date("choices[0].train_date", first.train_date.as_ref())?;
                if let Some((cluster, address)) = self.slot_elsewhere(slot_of(&home), &request)? {
                    let onward = forward(cluster, request)?;
                    return route::relayed(cluster.waitlist_client(&address)?.submit_waitlist(onward).await);
                }
            }
            let request = request.into_inner();
            let input = WaitlistInput {
                deadline: call.deadline,
                user_id,
                passengers: convert::waitlist_passengers(&request.passengers)?,
                from_station: request.from_station,
                to_station: request.to_station,
                choices: convert::waitlist_choices(&request.choices)?,
                cutoff_ms: (request.cutoff_ms > 0).then_some(request.cutoff_ms),
                client_request_id: match request.client_request_id.as_str() {
                    "" => None,
                    key => Some(convert::client_id("client_request_id", key)?),
                },
            };
            let view = self.engine.submit_waitlist(input).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn activate_waitlist(&self, request: Request<pb::WaitlistRequestRef>) -> Reply<pb::WaitlistRequest> {
        let rpc = observe::rpc(&request);
        observe::observed("ActivateWaitlist", rpc, async move {
            let call = self.call(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_write(&call, user.as_deref())?;
            if let Some((cluster, address)) = self.slot_elsewhere(request_id.home_slot(), &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.waitlist_client(&address)?.activate_waitlist(onward).await);
            }
            let view = self
                .engine
                .activate_waitlist(request_id, user.as_deref(), call.deadline)
                .await
                .map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn cancel_waitlist(&self, request: Request<pb::WaitlistRequestRef>) -> Reply<pb::WaitlistRequest> {
        let rpc = observe::rpc(&request);
        observe::observed("CancelWaitlist", rpc, async move {
            let call = self.call(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_write(&call, user.as_deref())?;
            if let Some((cluster, address)) = self.slot_elsewhere(request_id.home_slot(), &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.waitlist_client(&address)?.cancel_waitlist(onward).await);
            }
            let view =
                self.engine.cancel_waitlist(request_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn get_waitlist(&self, request: Request<pb::WaitlistRequestRef>) -> Reply<pb::WaitlistRequest> {
        let rpc = observe::rpc(&request);
        observe::observed("GetWaitlist", rpc, async move {
            let call = self.call(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_read(&call, user.as_deref())?;
            if let Some((cluster, address)) = self.slot_elsewhere(request_id.home_slot(), &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.waitlist_client(&address)?.get_waitlist(onward).await);
            }
            let view = self.engine.get_waitlist(request_id, user.as_deref()).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn list_waitlist(&self, request: Request<pb::ListWaitlistRequest>) -> Reply<pb::ListWaitlistResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("ListWaitlist", rpc, async move {
            let call = self.call(&request)?;
            let user = auth::acting_user(&call.caller, &request.get_ref().user_id)?;
            self.admit_read(&call, Some(&user))?;
            let views = self.engine.list_waitlist(&user).await.map_err(engine_status)?;
            let mut requests: Vec<pb::WaitlistRequest> = views.iter().map(convert::waitlist_pb).collect();
            if let Some(cluster) = self.cluster.as_ref().filter(|_| !route::local_scope(&request)) {
                requests.extend(gather_lists(cluster, &request).await?);
                // Oldest first, as one node answers.
                requests.sort_by(|a, b| (a.submitted_at_ms, &a.request_id).cmp(&(b.submitted_at_ms, &b.request_id)));
                requests.truncate(WAITLIST_LIST_MAX);
            }
            Ok(Response::new(pb::ListWaitlistResponse { requests }))
        })
        .await
    }
}

#[tonic::async_trait]
impl ticket_change_server::TicketChange for WaitlistService {
    async fn change_order(&self, request: Request<pb::ChangeOrderRequest>) -> Reply<pb::ChangeOrderResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("ChangeOrder", rpc, async move {
            let call = self.call(&request)?;
            let order_id = convert::order_id("order_id", &request.get_ref().order_id)?;
            let user = auth::order_scope(&call.caller, &request.get_ref().user_id)?;
            self.admit_write(&call, user.as_deref())?;
            if let Some((cluster, address)) =
                route::order_elsewhere(self.cluster.as_deref(), order_id, &request).await?
            {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.ticket_change_client(&address)?.change_order(onward).await);
            }
            let request = request.into_inner();
            let target = convert::train_date("train_date", request.train_date.as_ref())?;
            let class = match request.seat_class {
                0 => None,
                value => Some(convert::seat_class("seat_class", value)?),
            };
            let optional = |text: String| (!text.trim().is_empty()).then_some(text);
            let input = ChangeInput {
                deadline: call.deadline,
                order_id,
                user_id: user,
                target,
                class,
                from_station: optional(request.from_station),
                to_station: optional(request.to_station),
            };
            let view = self.engine.change_order(input).await.map_err(engine_status)?;
            Ok(Response::new(convert::change_pb(&view)))
        })
        .await
    }
}

/// Every other member's share of a user's requests. A member that does not
/// answer fails the call (UNAVAILABLE, SLOT_MOVED): a list missing an open
/// request would tell the user it is gone.
async fn gather_lists(
    cluster: &Cluster,
    request: &Request<pb::ListWaitlistRequest>,
) -> Result<Vec<pb::WaitlistRequest>, Status> {
    let deadline = crate::admission::deadline(request)?;
    let mut requests = Vec::new();
    for (_, address) in cluster.peers() {
        let onward = cluster.onward(request.metadata(), request.get_ref().clone(), deadline, true);
        let reply = route::relayed(cluster.waitlist_client(&address)?.list_waitlist(onward).await)?;
        requests.extend(reply.into_inner().requests);
    }
    Ok(requests)
}
