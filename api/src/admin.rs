//! The Admin service: timetable upserts, opening and closing train-dates, stats.

use crate::admission::{Admission, RpcClass};
use crate::booking::Call;
use crate::cluster::Cluster;
use crate::cluster::route::{self, Route};
use crate::pb::{self, admin_server};
use crate::status::{engine_status, invalid_argument};
use crate::{convert, observe};
use engine::catalog::UpsertOutcome;
use engine::facade::Engine;
use persistence::writer::WriterStats;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Most stations one UpsertStations call takes; the whole network has ~3,000.
const STATIONS_PER_UPSERT_MAX: usize = 10_000;
/// Default and largest ListTrainDates page, as admin.proto documents them.
const TRAIN_DATES_PAGE_DEFAULT: usize = 100;
const TRAIN_DATES_PAGE_MAX: usize = 1000;

pub struct AdminService {
    engine: Arc<Engine>,
    admission: Admission,
    /// The journal writer's counters, when the engine persists.
    writer_stats: Option<Arc<WriterStats>>,
    /// In a cluster: this node's part, for routing and announcing changes.
    cluster: Option<Arc<Cluster>>,
}

impl AdminService {
    pub fn new(engine: Arc<Engine>, admission: Admission, writer_stats: Option<Arc<WriterStats>>) -> Self {
        AdminService { engine, admission, writer_stats, cluster: None }
    }

    /// Serves as one node of `cluster`.
    pub fn in_cluster(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.cluster = cluster;
        self
    }

    /// Admits an admin call as its caller, by class; a call another member
    /// forwarded was admitted where it entered.
    fn admit<T>(&self, request: &Request<T>, class: RpcClass) -> Result<(), Status> {
        let call = Call::of(request)?;
        if self.cluster.as_ref().is_some_and(|cluster| cluster.forwarded_by_member(request)) {
            return Ok(());
        }
        self.admission.admit(&call.caller, &call.caller.user, call.peer, class)
    }

    /// After a saved admin change: tells the other nodes to load it.
    async fn announce(&self) -> Result<(), Status> {
        match &self.cluster {
            Some(cluster) => cluster.announce_change().await,
            None => Ok(()),
        }
    }

    /// The other members to ask for their share of a read across trains,
    /// unless this call is itself such a share.
    fn peers_to_ask<T>(&self, request: &Request<T>) -> Vec<(String, String)> {
        match &self.cluster {
            Some(cluster) if !route::local_scope(request) => cluster.peers(),
            _ => Vec::new(),
        }
    }
}

type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl admin_server::Admin for AdminService {
    async fn upsert_stations(&self, request: Request<pb::UpsertStationsRequest>) -> Reply<pb::UpsertStationsResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("UpsertStations", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let request = request.into_inner();
            if request.stations.is_empty() || request.stations.len() > STATIONS_PER_UPSERT_MAX {
                return Err(invalid_argument("stations", &format!("give 1 to {STATIONS_PER_UPSERT_MAX} stations")));
            }
            let stations: Vec<_> = request.stations.iter().map(convert::station_from_pb).collect();
            let upserted = self.engine.upsert_stations(&stations).await.map_err(engine_status)?;
            self.announce().await?;
            Ok(Response::new(pb::UpsertStationsResponse { upserted: upserted as u32 }))
        })
        .await
    }

    async fn upsert_train(&self, request: Request<pb::UpsertTrainRequest>) -> Reply<pb::UpsertTrainResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("UpsertTrain", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let train = request.into_inner().train.ok_or_else(|| invalid_argument("train", "is required"))?;
            let template = convert::train_from_pb(&train)?;
            let seat_count = template.seat_count();
            let outcome = match self.engine.upsert_train(template).await.map_err(engine_status)? {
                UpsertOutcome::Created => pb::upsert_train_response::Outcome::Created,
                UpsertOutcome::Updated => pb::upsert_train_response::Outcome::Updated,
                UpsertOutcome::Unchanged => pb::upsert_train_response::Outcome::Unchanged,
            };
            self.announce().await?;
            Ok(Response::new(pb::UpsertTrainResponse { outcome: outcome.into(), seat_count }))
        })
        .await
    }

    async fn open_train_date(&self, request: Request<pb::OpenTrainDateRequest>) -> Reply<pb::OpenTrainDateResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("OpenTrainDate", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let key = convert::train_date("train_date", request.into_inner().train_date.as_ref())?;
            let opened = self.engine.open_train_date(&key.train, key.date).await.map_err(engine_status)?;
            self.announce().await?;
            Ok(Response::new(pb::OpenTrainDateResponse { opened }))
        })
        .await
    }

    async fn open_train_dates(&self, request: Request<pb::OpenTrainDatesRequest>) -> Reply<pb::OpenTrainDatesResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("OpenTrainDates", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let request = request.into_inner();
            let first = convert::date("first_date", &request.first_date)?;
            let last = convert::date("last_date", &request.last_date)?;
            for (index, train) in request.trains.iter().enumerate() {
                convert::train_code(&format!("trains[{index}]"), train)?;
            }
            let summary = self.engine.open_train_dates(&request.trains, first, last).await.map_err(engine_status)?;
            self.announce().await?;
            Ok(Response::new(pb::OpenTrainDatesResponse {
                opened: summary.opened as u32,
                already_open: summary.already_open as u32,
                finished: summary.finished as u32,
            }))
        })
        .await
    }

    async fn close_sales(&self, request: Request<pb::CloseSalesRequest>) -> Reply<pb::CloseSalesResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("CloseSales", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let key = convert::train_date("train_date", request.get_ref().train_date.as_ref())?;
            if let Some(cluster) = &self.cluster {
                let forwarded = request.metadata().get(route::FORWARDED_HEADER).is_some();
                if let Route::Remote(address) = cluster.route(&key, forwarded).map_err(engine_status)? {
                    let deadline = crate::admission::deadline(&request)?;
                    let metadata = request.metadata().clone();
                    let onward = cluster.onward(&metadata, request.into_inner(), deadline, false);
                    return route::relayed(cluster.admin_client(&address)?.close_sales(onward).await);
                }
            }
            self.engine.close_sales(&key).await.map_err(engine_status)?;
            Ok(Response::new(pb::CloseSalesResponse {}))
        })
        .await
    }

    async fn list_train_dates(&self, request: Request<pb::ListTrainDatesRequest>) -> Reply<pb::ListTrainDatesResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("ListTrainDates", rpc, async move {
            self.admit(&request, RpcClass::Read)?;
            let peers = self.peers_to_ask(&request);
            let metadata = request.metadata().clone();
            let request = request.into_inner();
            let date = if request.date.is_empty() { None } else { Some(convert::date("date", &request.date)?) };
            let after = convert::train_dates_after("page_token", &request.page_token)?;
            let limit =
                convert::page_size("page_size", request.page_size, TRAIN_DATES_PAGE_DEFAULT, TRAIN_DATES_PAGE_MAX)?;
            let page = self.engine.list_train_dates(date, after.as_ref(), limit);
            let mut train_dates: Vec<pb::TrainDateInfo> =
                page.train_dates.iter().map(convert::train_date_info_pb).collect();
            let mut more = page.next_after.is_some();
            if let Some(cluster) = self.cluster.as_ref().filter(|_| !peers.is_empty()) {
                for (_, address) in &peers {
                    let onward = cluster.onward(&metadata, request.clone(), None, true);
                    let share = cluster.admin_client(address)?.list_train_dates(onward).await?.into_inner();
                    more |= !share.next_page_token.is_empty();
                    train_dates.extend(share.train_dates);
                }
                train_dates.sort_by_key(sort_key);
                train_dates.dedup_by(|a, b| sort_key(a) == sort_key(b));
                more |= train_dates.len() > limit;
                train_dates.truncate(limit);
            }
            let next_page_token = match train_dates.last() {
                Some(last) if more => {
                    convert::train_dates_page_token(&convert::train_date("train_date", last.train_date.as_ref())?)
                }
                _ => String::new(),
            };
            Ok(Response::new(pb::ListTrainDatesResponse { train_dates, next_page_token }))
        })
        .await
    }

    async fn stats(&self, _request: Request<pb::StatsRequest>) -> Reply<pb::StatsResponse> {
        let rpc = observe::rpc(&_request);
        observe::observed("Stats", rpc, async move {
            self.admit(&_request, RpcClass::Read)?;
            let mut stats = convert::stats_pb(&self.engine.stats());
            if let Some(writer) = &self.writer_stats {
                convert::add_journal_stats(&mut stats, writer);
            }
            let peers = self.peers_to_ask(&_request);
            if let Some(cluster) = self.cluster.as_ref().filter(|_| !peers.is_empty()) {
                for (_, address) in &peers {
                    let onward = cluster.onward(_request.metadata(), pb::StatsRequest {}, None, true);
                    let share = cluster.admin_client(address)?.stats(onward).await?.into_inner();
                    convert::add_stats(&mut stats, &share);
                }
            }
            Ok(Response::new(stats))
        })
        .await
    }

    async fn run_presale(&self, request: Request<pb::RunPresaleRequest>) -> Reply<pb::RunPresaleResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("RunPresale", rpc, async move {
            self.admit(&request, RpcClass::Write)?;
            let run = self.engine.run_presale().await.map_err(engine_status)?;
            self.announce().await?;
            Ok(Response::new(pb::RunPresaleResponse {
                opened: run.opened as u32,
                already_open: run.already_open as u32,
                retired: run.retired as u32,
            }))
        })
        .await
    }

    async fn cluster_status(&self, request: Request<pb::ClusterStatusRequest>) -> Reply<pb::ClusterStatusResponse> {
        let rpc = observe::rpc(&request);
        observe::observed("ClusterStatus", rpc, async move {
            self.admit(&request, RpcClass::Read)?;
            let Some(cluster) = &self.cluster else {
                return Err(crate::status::refusal(&crate::reasons::NOT_IN_CLUSTER, "this seatd runs alone"));
            };
            let key = match request.get_ref().train_date.as_ref() {
                Some(train_date) => Some(convert::train_date("train_date", Some(train_date))?),
                None => None,
            };
            Ok(Response::new(crate::convert::cluster_status_pb(cluster, key.as_ref())))
        })
        .await
    }
}

/// How train-dates sort in ListTrainDates: by date, then train.
fn sort_key(info: &pb::TrainDateInfo) -> (String, String) {
    info.train_date.as_ref().map(|key| (key.date.clone(), key.train.clone())).unwrap_or_default()
}
