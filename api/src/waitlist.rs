//! The Waitlist and TicketChange services: validate, convert, call the
//! engine, map errors, as `booking` does. Served by the node a call reaches:
//! in a cluster, the request's or order's train-dates must be served there.

use crate::admission::{Admission, RpcClass};
use crate::booking::Call;
use crate::pb::{self, ticket_change_server, waitlist_server};
use crate::status::engine_status;
use crate::{auth, convert, observe};
use engine::facade::{ChangeInput, Engine, WaitlistInput};
use std::sync::Arc;
use tonic::{Request, Response, Status};

type Reply<T> = Result<Response<T>, Status>;

pub struct WaitlistService {
    engine: Arc<Engine>,
    admission: Admission,
}

impl WaitlistService {
    pub fn new(engine: Arc<Engine>, admission: Admission) -> Self {
        WaitlistService { engine, admission }
    }

    /// Admits a write by the user it acts for (the caller, or whom an agent names).
    fn admit_write(&self, call: &Call, user: Option<&str>) -> Result<(), Status> {
        self.admission.admit(&call.caller, user.unwrap_or(&call.caller.user), call.peer, RpcClass::Write)
    }

    fn admit_read(&self, call: &Call, user: Option<&str>) -> Result<(), Status> {
        self.admission.admit(&call.caller, user.unwrap_or(&call.caller.user), call.peer, RpcClass::Read)
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
        let span = observe::span("SubmitWaitlist", &request);
        observe::observed("SubmitWaitlist", span, async move {
            let call = Call::of(&request)?;
            let user_id = auth::acting_user(&call.caller, &request.get_ref().user_id)?;
            self.admit_write(&call, Some(&user_id))?;
            let request = request.into_inner();
            let input = WaitlistInput {
                deadline: call.deadline,
                user_id,
                passengers: convert::waitlist_passengers(&request.passengers)?,
                from_station: request.from_station,
                to_station: request.to_station,
                choices: convert::waitlist_choices(&request.choices)?,
                cutoff_ms: (request.cutoff_ms > 0).then_some(request.cutoff_ms),
            };
            let view = self.engine.submit_waitlist(input).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn activate_waitlist(&self, request: Request<pb::WaitlistRequestRef>) -> Reply<pb::WaitlistRequest> {
        let span = observe::span("ActivateWaitlist", &request);
        observe::observed("ActivateWaitlist", span, async move {
            let call = Call::of(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_write(&call, user.as_deref())?;
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
        let span = observe::span("CancelWaitlist", &request);
        observe::observed("CancelWaitlist", span, async move {
            let call = Call::of(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_write(&call, user.as_deref())?;
            let view =
                self.engine.cancel_waitlist(request_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn get_waitlist(&self, request: Request<pb::WaitlistRequestRef>) -> Reply<pb::WaitlistRequest> {
        let span = observe::span("GetWaitlist", &request);
        observe::observed("GetWaitlist", span, async move {
            let call = Call::of(&request)?;
            let (request_id, user) = self.request_ref(&call, request.get_ref())?;
            self.admit_read(&call, user.as_deref())?;
            let view = self.engine.get_waitlist(request_id, user.as_deref()).await.map_err(engine_status)?;
            Ok(Response::new(convert::waitlist_pb(&view)))
        })
        .await
    }

    async fn list_waitlist(&self, request: Request<pb::ListWaitlistRequest>) -> Reply<pb::ListWaitlistResponse> {
        let span = observe::span("ListWaitlist", &request);
        observe::observed("ListWaitlist", span, async move {
            let call = Call::of(&request)?;
            let user = auth::acting_user(&call.caller, &request.get_ref().user_id)?;
            self.admit_read(&call, Some(&user))?;
            let views = self.engine.list_waitlist(&user).await.map_err(engine_status)?;
            Ok(Response::new(pb::ListWaitlistResponse { requests: views.iter().map(convert::waitlist_pb).collect() }))
        })
        .await
    }
}

#[tonic::async_trait]
impl ticket_change_server::TicketChange for WaitlistService {
    async fn change_order(&self, request: Request<pb::ChangeOrderRequest>) -> Reply<pb::ChangeOrderResponse> {
        let span = observe::span("ChangeOrder", &request);
        observe::observed("ChangeOrder", span, async move {
            let call = Call::of(&request)?;
            let order_id = convert::order_id("order_id", &request.get_ref().order_id)?;
            let user = auth::order_scope(&call.caller, &request.get_ref().user_id)?;
            self.admit_write(&call, user.as_deref())?;
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
