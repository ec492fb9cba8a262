//! The Booking service: validate, convert, call the engine, map errors.

use crate::admission::{Admission, RpcClass};
use crate::pb::{self, booking_server};
use crate::status::{engine_status, invalid_argument};
use crate::{auth, convert, observe};
use engine::facade::{Engine, HoldInput};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Default and largest ListOrders page, as booking.proto documents them.
const ORDERS_PAGE_DEFAULT: usize = 20;
const ORDERS_PAGE_MAX: usize = 100;

pub struct BookingService {
    engine: Arc<Engine>,
    admission: Admission,
}

impl BookingService {
    pub fn new(engine: Arc<Engine>, admission: Admission) -> Self {
        BookingService { engine, admission }
    }

    /// Parses the order a confirm or cancel targets and admits it as a write
    /// by the user it acts for; the order id and the user the lookup is limited to.
    fn admit_order_write(
        &self,
        call: &Call,
        order_id: &str,
        user_id: &str,
    ) -> Result<(engine::domain::order::OrderId, Option<String>), Status> {
        let order_id = convert::order_id("order_id", order_id)?;
        let user = auth::order_scope(&call.caller, user_id)?;
        let limited_as = user.as_deref().unwrap_or(&call.caller.user);
        self.admission.admit(&call.caller, limited_as, call.peer, RpcClass::Write)?;
        Ok((order_id, user))
    }

    /// Admits a read: by the user it names (an agent reading a user's
    /// orders), else by the caller. Agents and admins reading without naming
    /// a user are trusted frontends serving many people; passengers are
    /// always limited, per user and per address.
    fn admit_read<T>(&self, request: &Request<T>, named_user: Option<&str>) -> Result<(), Status> {
        let call = Call::of(request)?;
        match named_user {
            Some(user) => self.admission.admit(&call.caller, user, call.peer, RpcClass::Read),
            None if call.caller.role == auth::Role::Passenger => {
                self.admission.admit(&call.caller, &call.caller.user, call.peer, RpcClass::Read)
            }
            None => Ok(()),
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl booking_server::Booking for BookingService {
    async fn search_trains(&self, request: Request<pb::SearchTrainsRequest>) -> Reply<pb::SearchTrainsResponse> {
        let span = observe::span("SearchTrains", &request);
        observe::observed("SearchTrains", span, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let date = convert::date("date", &request.date)?;
            let offers = self.engine.search(date, &request.from_station, &request.to_station).map_err(engine_status)?;
            let trains = offers.iter().map(|offer| convert::offer_pb(offer, self.engine.catalog())).collect();
            Ok(Response::new(pb::SearchTrainsResponse { trains }))
        })
        .await
    }

    async fn get_availability(&self, request: Request<pb::GetAvailabilityRequest>) -> Reply<pb::TrainOffer> {
        let span = observe::span("GetAvailability", &request);
        observe::observed("GetAvailability", span, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let key = convert::train_date("train_date", request.train_date.as_ref())?;
            let offer =
                self.engine.availability(&key, &request.from_station, &request.to_station).map_err(engine_status)?;
            Ok(Response::new(convert::offer_pb(&offer, self.engine.catalog())))
        })
        .await
    }

    async fn get_seat_map(&self, request: Request<pb::GetSeatMapRequest>) -> Reply<pb::SeatMap> {
        let span = observe::span("GetSeatMap", &request);
        observe::observed("GetSeatMap", span, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let key = convert::train_date("train_date", request.train_date.as_ref())?;
            let carriage = u8::try_from(request.carriage)
                .ok()
                .filter(|number| *number > 0)
                .ok_or_else(|| invalid_argument("carriage", "must be a carriage number from 1"))?;
            let map = self
                .engine
                .seat_map(&key, carriage, &request.from_station, &request.to_station)
                .await
                .map_err(engine_status)?;
            Ok(Response::new(convert::seat_map_pb(&key, &map)))
        })
        .await
    }

    async fn hold(&self, request: Request<pb::HoldRequest>) -> Reply<pb::Order> {
        let span = observe::span("Hold", &request);
        observe::observed("Hold", span, async move {
            let call = Call::of(&request)?;
            let request = request.into_inner();
            let user_id = auth::acting_user(&call.caller, &request.user_id)?;
            self.admission.admit(&call.caller, &user_id, call.peer, RpcClass::Write)?;
            let passengers = request.passengers.len();
            let input = HoldInput {
                deadline: call.deadline,
                request_id: convert::client_id("request_id", &request.request_id)?,
                user_id,
                key: convert::train_date("train_date", request.train_date.as_ref())?,
                from_station: request.from_station,
                to_station: request.to_station,
                passengers: convert::passengers(&request.passengers)?,
            };
            observe::record("train_date", &input.key.to_string());
            let order = self
                .engine
                .hold(input)
                .await
                .map_err(engine_status)
                .inspect_err(|status| observe::note_hold_refusal(status, passengers))?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn confirm(&self, request: Request<pb::ConfirmRequest>) -> Reply<pb::Order> {
        let span = observe::span("Confirm", &request);
        observe::observed("Confirm", span, async move {
            let call = Call::of(&request)?;
            let request = request.into_inner();
            let (order_id, user) = self.admit_order_write(&call, &request.order_id, &request.user_id)?;
            let order = self.engine.confirm(order_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Reply<pb::Order> {
        let span = observe::span("Cancel", &request);
        observe::observed("Cancel", span, async move {
            let call = Call::of(&request)?;
            let request = request.into_inner();
            let (order_id, user) = self.admit_order_write(&call, &request.order_id, &request.user_id)?;
            let order = self.engine.cancel(order_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Reply<pb::Order> {
        let span = observe::span("GetOrder", &request);
        observe::observed("GetOrder", span, async move {
            let caller = auth::caller(&request)?;
            let user = auth::order_scope(&caller, &request.get_ref().user_id)?;
            self.admit_read(&request, user.as_deref())?;
            let request = request.into_inner();
            let order_id = convert::order_id("order_id", &request.order_id)?;
            let order = self.engine.get_order(order_id, user.as_deref()).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn list_orders(&self, request: Request<pb::ListOrdersRequest>) -> Reply<pb::ListOrdersResponse> {
        let span = observe::span("ListOrders", &request);
        observe::observed("ListOrders", span, async move {
            let caller = auth::caller(&request)?;
            let user = auth::acting_user(&caller, &request.get_ref().user_id)?;
            self.admit_read(&request, Some(&user))?;
            let request = request.into_inner();
            let limit = convert::page_size("page_size", request.page_size, ORDERS_PAGE_DEFAULT, ORDERS_PAGE_MAX)?;
            let after = convert::orders_after("page_token", &request.page_token)?;
            let page = self.engine.list_orders(&user, after, limit).await.map_err(engine_status)?;
            Ok(Response::new(pb::ListOrdersResponse {
                orders: page.orders.iter().map(convert::order_pb).collect(),
                next_page_token: page.next_after.as_ref().map(convert::orders_page_token).unwrap_or_default(),
                total: page.total as u32,
            }))
        })
        .await
    }

    async fn list_stations(&self, request: Request<pb::ListStationsRequest>) -> Reply<pb::ListStationsResponse> {
        let span = observe::span("ListStations", &request);
        observe::observed("ListStations", span, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let limit = convert::stations_page_size("page_size", request.page_size)?;
            let prefix = convert::station_prefix("prefix", &request.prefix)?;
            let after = convert::station_cursor("page_token", &request.page_token)?;
            let page = self.engine.list_stations(prefix, after.as_deref(), limit);
            Ok(Response::new(convert::station_page_pb(&page)))
        })
        .await
    }

    async fn get_train(&self, request: Request<pb::GetTrainRequest>) -> Reply<pb::TrainDetail> {
        let span = observe::span("GetTrain", &request);
        observe::observed("GetTrain", span, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let key = convert::train_date("train_date", request.train_date.as_ref())?;
            observe::record("train_date", &key.to_string());
            let detail = self.engine.train_date_detail(&key).map_err(engine_status)?;
            Ok(Response::new(convert::train_detail_pb(&detail, self.engine.catalog())))
        })
        .await
    }
}

/// What admission needs to know about a call before its body is read.
pub(crate) struct Call {
    pub caller: auth::Caller,
    pub peer: Option<std::net::IpAddr>,
    pub deadline: Option<std::time::Instant>,
}

impl Call {
    pub(crate) fn of<T>(request: &Request<T>) -> Result<Call, Status> {
        let caller = auth::caller(request)?;
        observe::record("user", &caller.user);
        Ok(Call {
            caller,
            peer: request.remote_addr().map(|address| address.ip()),
            deadline: crate::admission::deadline(request)?,
        })
    }
}
