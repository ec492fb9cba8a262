//! The Booking service: validate, convert, call the engine, map errors.

use crate::admission::{Admission, RpcClass};
use crate::cluster::Cluster;
use crate::cluster::route::{self, Route, forward};
use crate::pb::watch_availability_request::Target;
use crate::pb::{self, booking_server};
use crate::status::{engine_status, invalid_argument, refusal};
use crate::watch::{PLENTY_ABOVE_SEATS, UpdateStream, WatchGate, WatchLimits};
use crate::{auth, convert, observe, watch};
use engine::domain::state::TrainDateKey;
use engine::facade::{Engine, HoldInput, WatchDisplay, WatchedJourney};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Default and largest ListOrders page, as booking.proto documents them.
const ORDERS_PAGE_DEFAULT: usize = 20;
const ORDERS_PAGE_MAX: usize = 100;

pub struct BookingService {
    engine: Arc<Engine>,
    admission: Admission,
    /// In a cluster: this node's part, to route train-dates served elsewhere.
    cluster: Option<Arc<Cluster>>,
    /// Counts open WatchAvailability streams against their limits.
    watches: WatchGate,
}

impl BookingService {
    pub fn new(engine: Arc<Engine>, admission: Admission) -> Self {
        let never_closing = tokio::sync::watch::channel(false).1;
        BookingService {
            engine,
            admission,
            cluster: None,
            watches: WatchGate::new(WatchLimits::default(), never_closing),
        }
    }

    /// Counts WatchAvailability streams with `watches`, which bounds them and
    /// ends them at shutdown.
    pub fn with_watches(mut self, watches: WatchGate) -> Self {
        self.watches = watches;
        self
    }

    /// Serves as one node of `cluster`.
    pub fn in_cluster(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.cluster = cluster;
        self
    }

    /// The call's caller, peer and deadline; in a cluster, whether another
    /// member forwarded it (then it was admitted where it entered).
    fn call<T>(&self, request: &Request<T>) -> Result<Call, Status> {
        Call::in_cluster(request, self.cluster.as_ref())
    }

    fn admit(&self, call: &Call, user: &str, class: RpcClass) -> Result<(), Status> {
        call.admit(&self.admission, user, class)
    }

    fn elsewhere<T>(&self, key: &TrainDateKey, request: &Request<T>) -> Result<Option<(&Cluster, String)>, Status> {
        route::elsewhere(self.cluster.as_deref(), key, request)
    }

    async fn order_elsewhere<T>(
        &self,
        order_id: &str,
        request: &Request<T>,
    ) -> Result<Option<(&Cluster, String)>, Status> {
        if self.cluster.is_none() {
            return Ok(None);
        }
        let order_id = convert::order_id("order_id", order_id)?;
        route::order_elsewhere(self.cluster.as_deref(), order_id, request).await
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
        self.admit(call, limited_as, RpcClass::Write)?;
        Ok((order_id, user))
    }

    /// Admits a read: by the user it names (an agent reading a user's
    /// orders), else by the caller. Agents and admins reading without naming
    /// a user are trusted frontends serving many people; passengers are
    /// always limited, per user and per address.
    fn admit_read<T>(&self, request: &Request<T>, named_user: Option<&str>) -> Result<(), Status> {
        let call = self.call(request)?;
        match named_user {
            Some(user) => self.admit(&call, user, RpcClass::Read),
            None if call.caller.role == auth::Role::Passenger => self.admit(&call, &call.caller.user, RpcClass::Read),
            None => Ok(()),
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl booking_server::Booking for BookingService {
    async fn search_trains(&self, request: Request<pb::SearchTrainsRequest>) -> Reply<pb::SearchTrainsResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("SearchTrains", rpc, async move {
            self.admit_read(&request, None)?;
            let peers = match &self.cluster {
                Some(cluster) if !route::local_scope(&request) => cluster.peers(),
                _ => Vec::new(),
            };
            let metadata = request.metadata().clone();
            let request = request.into_inner();
            let date = convert::date("date", &request.date)?;
            let offers = self.engine.search(date, &request.from_station, &request.to_station).map_err(engine_status)?;
            let mut trains: Vec<pb::TrainOffer> =
                offers.iter().map(|offer| convert::offer_pb(offer, self.engine.catalog())).collect();
            if let Some(cluster) = self.cluster.as_ref().filter(|_| !peers.is_empty()) {
                trains.extend(gather_searches(cluster, &peers, &metadata, &request).await);
                // The order one node answers in: by departure, then train.
                let train_of = |offer: &pb::TrainOffer| offer.train_date.as_ref().map(|key| key.train.clone());
                trains.sort_by_key(|offer| (offer.depart_at_ms, train_of(offer)));
                trains.dedup_by(|a, b| a.train_date == b.train_date);
            }
            Ok(Response::new(pb::SearchTrainsResponse { trains }))
        })
        .await
    }

    async fn get_availability(&self, request: Request<pb::GetAvailabilityRequest>) -> Reply<pb::TrainOffer> {
        let rpc = observe::rpc(&request);
        observe::observed("GetAvailability", rpc, async move {
            self.admit_read(&request, None)?;
            let key = convert::train_date("train_date", request.get_ref().train_date.as_ref())?;
            if let Some((cluster, address)) = self.elsewhere(&key, &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.get_availability(onward).await);
            }
            let request = request.into_inner();
            let offer =
                self.engine.availability(&key, &request.from_station, &request.to_station).map_err(engine_status)?;
            Ok(Response::new(convert::offer_pb(&offer, self.engine.catalog())))
        })
        .await
    }

    type WatchAvailabilityStream = UpdateStream;

    async fn watch_availability(
        &self,
        request: Request<pb::WatchAvailabilityRequest>,
    ) -> Reply<Self::WatchAvailabilityStream> {
        let rpc = observe::rpc(&request);
        observe::observed("WatchAvailability", rpc, async move {
            self.admit_read(&request, None)?;
            let call = self.call(&request)?;
            let journeys = match &request.get_ref().target {
                None => return Err(invalid_argument("target", "is required: search or journeys")),
                Some(Target::Search(_)) => None,
                Some(Target::Journeys(list)) => Some(watched_journeys(list)?),
            };
            let ticket = self.watches.enter(&call.caller, call.peer, !call.forwarded)?;
            if let Some((cluster, address)) = self.watch_elsewhere(journeys.as_deref(), &request)? {
                let onward = forward(cluster, request)?;
                let updates = route::relayed(cluster.booking_client(&address)?.watch_availability(onward).await)?;
                return Ok(Response::new(watch::proxied(updates.into_inner(), ticket)));
            }
            let request = request.into_inner();
            let display = WatchDisplay { plenty_above: request.coarse.then_some(PLENTY_ABOVE_SEATS) };
            let watched = match (&request.target, &journeys) {
                (_, Some(journeys)) => self.engine.watch_journeys(journeys, display),
                (Some(Target::Search(search)), None) => {
                    let date = convert::date("search.date", &search.date)?;
                    self.engine.watch_search(date, &search.from_station, &search.to_station, display)
                }
                (_, None) => unreachable!("a target without journeys is a search"),
            }
            .map_err(engine_status)?;
            Ok(Response::new(watch::stream_updates(Arc::clone(&self.engine), watched, request.coarse, ticket)))
        })
        .await
    }

    async fn get_seat_map(&self, request: Request<pb::GetSeatMapRequest>) -> Reply<pb::SeatMap> {
        let rpc = observe::rpc(&request);
        observe::observed("GetSeatMap", rpc, async move {
            self.admit_read(&request, None)?;
            let key = convert::train_date("train_date", request.get_ref().train_date.as_ref())?;
            if let Some((cluster, address)) = self.elsewhere(&key, &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.get_seat_map(onward).await);
            }
            let request = request.into_inner();
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
        let rpc = observe::rpc(&request);
        observe::observed("Hold", rpc, async move {
            let call = self.call(&request)?;
            let user_id = auth::acting_user(&call.caller, &request.get_ref().user_id)?;
            self.admit(&call, &user_id, RpcClass::Write)?;
            let key = convert::train_date("train_date", request.get_ref().train_date.as_ref())?;
            if let Some((cluster, address)) = self.elsewhere(&key, &request)? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.hold(onward).await);
            }
            let request = request.into_inner();
            let passengers = request.passengers.len();
            let input = HoldInput {
                deadline: call.deadline,
                request_id: convert::client_id("request_id", &request.request_id)?,
                user_id,
                key,
                from_station: request.from_station,
                to_station: request.to_station,
                passengers: convert::passengers(&request.passengers)?,
            };
            observe::record_train_date(&input.key);
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
        let rpc = observe::rpc(&request);
        observe::observed("Confirm", rpc, async move {
            let call = self.call(&request)?;
            let (order_id, user) =
                self.admit_order_write(&call, &request.get_ref().order_id, &request.get_ref().user_id)?;
            if let Some((cluster, address)) = self.order_elsewhere(&request.get_ref().order_id, &request).await? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.confirm(onward).await);
            }
            let order = self.engine.confirm(order_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn cancel(&self, request: Request<pb::CancelRequest>) -> Reply<pb::Order> {
        let rpc = observe::rpc(&request);
        observe::observed("Cancel", rpc, async move {
            let call = self.call(&request)?;
            let (order_id, user) =
                self.admit_order_write(&call, &request.get_ref().order_id, &request.get_ref().user_id)?;
            if let Some((cluster, address)) = self.order_elsewhere(&request.get_ref().order_id, &request).await? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.cancel(onward).await);
            }
            let order = self.engine.cancel(order_id, user.as_deref(), call.deadline).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn get_order(&self, request: Request<pb::GetOrderRequest>) -> Reply<pb::Order> {
        let rpc = observe::rpc(&request);
        observe::observed("GetOrder", rpc, async move {
            let caller = auth::caller(&request)?;
            let user = auth::order_scope(&caller, &request.get_ref().user_id)?;
            self.admit_read(&request, user.as_deref())?;
            let order_id = convert::order_id("order_id", &request.get_ref().order_id)?;
            if let Some((cluster, address)) = self.order_elsewhere(&request.get_ref().order_id, &request).await? {
                let onward = forward(cluster, request)?;
                return route::relayed(cluster.booking_client(&address)?.get_order(onward).await);
            }
            let order = self.engine.get_order(order_id, user.as_deref()).await.map_err(engine_status)?;
            Ok(Response::new(convert::order_pb(&order)))
        })
        .await
    }

    async fn list_orders(&self, request: Request<pb::ListOrdersRequest>) -> Reply<pb::ListOrdersResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("ListOrders", rpc, async move {
            let caller = auth::caller(&request)?;
            let user = auth::acting_user(&caller, &request.get_ref().user_id)?;
            self.admit_read(&request, Some(&user))?;
            let metadata = request.metadata().clone();
            let request = request.into_inner();
            let limit = convert::page_size("page_size", request.page_size, ORDERS_PAGE_DEFAULT, ORDERS_PAGE_MAX)?;
            let after = convert::orders_after("page_token", &request.page_token)?;
            if let Some(cluster) = &self.cluster {
                return self.list_orders_in_cluster(cluster, &metadata, &user, after, limit).await.map(Response::new);
            }
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
        let rpc = observe::rpc(&request);
        observe::observed("ListStations", rpc, async move {
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
        let rpc = observe::rpc(&request);
        observe::observed("GetTrain", rpc, async move {
            self.admit_read(&request, None)?;
            let request = request.into_inner();
            let key = convert::train_date("train_date", request.train_date.as_ref())?;
            observe::record_train_date(&key);
            let detail = self.engine.train_date_detail(&key).map_err(engine_status)?;
            Ok(Response::new(convert::train_detail_pb(&detail, self.engine.catalog())))
        })
        .await
    }
}

impl BookingService {
    /// In a cluster, where a watch is served: here (`None`), or the one
    /// other node serving every listed journey. A search spans nodes, as do
    /// journeys on train-dates of different nodes: WATCH_SPANS_NODES.
    fn watch_elsewhere<T>(
        &self,
        journeys: Option<&[WatchedJourney]>,
        request: &Request<T>,
    ) -> Result<Option<(&Cluster, String)>, Status> {
        if self.cluster.is_none() || route::local_scope(request) {
            return Ok(None);
        }
        let Some(journeys) = journeys else {
            return Err(refusal(
                &crate::reasons::WATCH_SPANS_NODES,
                "a search's train-dates are spread over the cluster's nodes: search, then watch its journeys",
            ));
        };
        let mut serving: Option<Option<(&Cluster, String)>> = None;
        for journey in journeys {
            let here = self.elsewhere(&journey.key, request)?;
            let same = |known: &Option<(&Cluster, String)>| {
                known.as_ref().map(|(_, address)| address) == here.as_ref().map(|(_, address)| address)
            };
            match &serving {
                None => serving = Some(here),
                Some(known) if same(known) => {}
                Some(_) => {
                    return Err(refusal(
                        &crate::reasons::WATCH_SPANS_NODES,
                        "the journeys' train-dates are served by different nodes: watch each node's journeys apart",
                    ));
                }
            }
        }
        Ok(serving.flatten())
    }

    /// A user's orders from the journal's order index, each read from the
    /// node that serves its train-date.
    async fn list_orders_in_cluster(
        &self,
        cluster: &Cluster,
        metadata: &tonic::metadata::MetadataMap,
        user: &str,
        after: Option<engine::domain::order::OrderId>,
        limit: usize,
    ) -> Result<pb::ListOrdersResponse, Status> {
        let (order_ids, more, total) =
            self.engine.stored_user_orders(user, after, limit).await.map_err(engine_status)?;
        let mut orders = Vec::with_capacity(order_ids.len());
        for order_id in &order_ids {
            let home = self.engine.locate_order(*order_id).await.map_err(engine_status)?;
            let remote = match &home {
                Some(key) => match cluster.route(key, false).map_err(engine_status)? {
                    Route::Local => None,
                    Route::Remote(address) => Some(address),
                },
                None => None,
            };
            let order = match remote {
                Some(address) => {
                    let ask = pb::GetOrderRequest { order_id: order_id.to_string(), user_id: user.to_owned() };
                    let onward = cluster.onward(metadata, ask, None, false);
                    route::relayed(cluster.booking_client(&address)?.get_order(onward).await)?.into_inner()
                }
                None => convert::order_pb(&self.engine.get_order(*order_id, Some(user)).await.map_err(engine_status)?),
            };
            orders.push(order);
        }
        let next_page_token = match order_ids.last() {
            Some(last) if more => convert::orders_page_token(last),
            _ => String::new(),
        };
        Ok(pb::ListOrdersResponse { orders, next_page_token, total: total as u32 })
    }
}

/// The journeys of a watch, validated as GetAvailability validates its request.
fn watched_journeys(list: &pb::WatchJourneys) -> Result<Vec<WatchedJourney>, Status> {
    list.journeys
        .iter()
        .map(|journey| {
            Ok(WatchedJourney {
                key: convert::train_date("journeys.train_date", journey.train_date.as_ref())?,
                from_station: journey.from_station.clone(),
                to_station: journey.to_station.clone(),
            })
        })
        .collect()
}

/// Asks every other member for its share of a search; a member that does
/// not answer leaves its trains out (its slots move to the others within a
/// lease) rather than failing everyone's search.
async fn gather_searches(
    cluster: &Cluster,
    peers: &[(String, String)],
    metadata: &tonic::metadata::MetadataMap,
    request: &pb::SearchTrainsRequest,
) -> Vec<pb::TrainOffer> {
    let mut asking = tokio::task::JoinSet::new();
    for (node, address) in peers {
        let onward = cluster.onward(metadata, request.clone(), None, true);
        let client = cluster.booking_client(address);
        let node = node.clone();
        asking.spawn(async move {
            let answered = match client {
                Ok(mut client) => client.search_trains(onward).await,
                Err(status) => Err(status),
            };
            (node, answered)
        });
    }
    let mut trains = Vec::new();
    while let Some(joined) = asking.join_next().await {
        match joined {
            Ok((_, Ok(reply))) => trains.extend(reply.into_inner().trains),
            Ok((node, Err(status))) => {
                metrics::counter!("seat_cluster_partial_searches_total").increment(1);
                tracing::warn!(%node, %status, "a node did not answer its share of a search");
            }
            Err(_) => {}
        }
    }
    trains
}

/// What admission needs to know about a call before its body is read.
pub(crate) struct Call {
    pub caller: auth::Caller,
    pub peer: Option<std::net::IpAddr>,
    pub deadline: Option<std::time::Instant>,
    /// Forwarded by another member of the cluster, which admitted it.
    pub forwarded: bool,
}

impl Call {
    /// The call as a node of `cluster` (if any) sees it: whether another
    /// member forwarded it (then it was admitted where it entered).
    pub(crate) fn in_cluster<T>(request: &Request<T>, cluster: Option<&Arc<Cluster>>) -> Result<Call, Status> {
        let mut call = Call::of(request)?;
        call.forwarded = cluster.is_some_and(|cluster| cluster.forwarded_by_member(request));
        Ok(call)
    }

    /// Admits the call as `user`'s, of `class`; a forwarded call was
    /// admitted by the member it entered.
    pub(crate) fn admit(&self, admission: &Admission, user: &str, class: RpcClass) -> Result<(), Status> {
        if self.forwarded {
            return Ok(());
        }
        admission.admit(&self.caller, user, self.peer, class)
    }

    pub(crate) fn of<T>(request: &Request<T>) -> Result<Call, Status> {
        let caller = auth::caller(request)?;
        observe::record_user(&caller.user);
        Ok(Call {
            caller,
            peer: request.remote_addr().map(|address| address.ip()),
            deadline: crate::admission::deadline(request)?,
            forwarded: false,
        })
    }
}
