//! Waitlist (候补) requests as the API sees them: submit, activate once
//! paid, cancel, read and list. Each request's record lives in its home
//! train-date (its first choice's), found through `WaitlistIndex`.

use super::peers::{PeerAnswer, PeerCall, unexpected};
use super::search::journey_stops;
use super::{Engine, EngineError};
use crate::actor::Read;
use crate::actor::workflow::{ChoiceFacts, ChoiceStanding, RequestQuery, Step, WaitlistableQuery};
use crate::domain::order::OrderId;
use crate::domain::seat_class::SeatClass;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::StationCode;
use crate::domain::waitlist::{ChoiceRef, WaitlistPassenger, WaitlistRequestId};
use crate::domain::workflow::JoinWaitlist;
use crate::error::{NotFound, Unavailable};
use crate::slots::slot_of;
use crate::workflow::request::{
    RequestChoice, RequestCommand, RequestRejection, RequestStatus, SubmitRequest, WaitlistRequest,
};
use dashmap::DashMap;
use std::time::Instant;
use uuid::Uuid;

/// Longest ActivateWaitlist waits for the choices to join their queues, and
/// GetWaitlist for reserved seats to become the request's order, so answers
/// show where the request stands rather than a step in between; each takes
/// milliseconds, and past it the caller reads the request again.
pub const ACTIVATE_WAIT_MS: u64 = 1_000;
/// How often that wait looks.
const ACTIVATE_POLL_MS: u64 = 5;

/// Most requests ListWaitlist returns: a user has at most a handful open,
/// and ended ones stay only while their home train-date runs.
pub const WAITLIST_LIST_MAX: usize = 100;

/// Request id → home train-date, and user → request ids, so a request is
/// found by id alone and a user's are listed without asking every actor.
#[derive(Default)]
pub struct WaitlistIndex {
    homes: DashMap<WaitlistRequestId, TrainDateKey>,
    by_user: DashMap<String, Vec<WaitlistRequestId>>,
}

impl WaitlistIndex {
    pub fn record(&self, record: &WaitlistRequest) {
        let Some(home) = record.choices.first() else { return };
        if self.homes.insert(record.id, home.train_date.clone()).is_none() {
            self.by_user.entry(record.user_id.clone()).or_default().push(record.id);
        }
    }

    pub fn home_of(&self, request_id: &WaitlistRequestId) -> Option<TrainDateKey> {
        self.homes.get(request_id).map(|key| key.clone())
    }

    fn of_user(&self, user_id: &str) -> Vec<WaitlistRequestId> {
        self.by_user.get(user_id).map(|ids| ids.clone()).unwrap_or_default()
    }
}

/// A submission as the API receives it, stations as the user typed them.
#[derive(Clone, Debug)]
pub struct WaitlistInput {
    pub deadline: Option<Instant>,
    pub user_id: String,
    pub passengers: Vec<WaitlistPassenger>,
    pub from_station: String,
    pub to_station: String,
    /// (train-date, class), in the user's order of preference.
    pub choices: Vec<(TrainDateKey, SeatClass)>,
    /// The user's cut-off; `None`: the latest every choice allows.
    pub cutoff_ms: Option<u64>,
    /// The client's idempotency key: a repeat with the same key (and user)
    /// answers the request the first one recorded.
    pub client_request_id: Option<String>,
}

/// A request with where each of its choices stands.
#[derive(Clone, Debug)]
pub struct WaitlistView {
    pub request: WaitlistRequest,
    /// In choice order.
    pub choices: Vec<ChoiceStanding>,
}

impl Engine {
    pub async fn submit_waitlist(&self, input: WaitlistInput) -> Result<WaitlistView, EngineError> {
        if input.choices.is_empty() {
            return Err(EngineError::invalid("choices", "at least one (train-date, class) choice is needed"));
        }
        let from = self.resolve_station("from_station", &input.from_station)?;
        let to = self.resolve_station("to_station", &input.to_station)?;
        let home_slot = slot_of(&input.choices[0].0);
        let request_id = match &input.client_request_id {
            Some(key) => WaitlistRequestId::keyed(&input.user_id, key, home_slot),
            None => WaitlistRequestId::homed(Uuid::now_v7(), home_slot),
        };
        if input.client_request_id.is_some()
            && let Some(existing) = self.repeated_submit(request_id, &input, (&from, &to)).await?
        {
            return Ok(existing);
        }
        let now_ms = self.now_ms();
        for (index, (key, _)) in input.choices.iter().enumerate() {
            self.check_sales_window(&format!("choices[{index}].train_date.date"), key.date, 0)?;
        }
        let mut choices = Vec::with_capacity(input.choices.len());
        let mut latest_ms = u64::MAX;
        for (index, (key, class)) in input.choices.iter().enumerate() {
            let join = JoinWaitlist {
                choice: ChoiceRef { request_id, index: index as u8 },
                activated_at_ms: now_ms,
                user_id: input.user_id.clone(),
                order_id: OrderId::generate(),
                class: *class,
                // The train-date fills in its stops for the journey.
                from: 0,
                to: 0,
                passengers: input.passengers.clone(),
                deadline_ms: input.cutoff_ms.unwrap_or(0),
                policy: self.settings.actor.policy,
            };
            let order_id = join.order_id;
            let (from, to, facts) = self.choice_facts(key, &from, &to, join, now_ms).await?;
            latest_ms = latest_ms.min(facts.latest_deadline_ms);
            choices.push(RequestChoice {
                train_date: key.clone(),
                class: *class,
                from: from as u8,
                to: to as u8,
                from_station: facts.from_station,
                to_station: facts.to_station,
                fare_fen: facts.fare_fen,
                order_id,
            });
        }
        let deadline_ms = input.cutoff_ms.unwrap_or(latest_ms);
        if deadline_ms > latest_ms {
            let reason = format!("the cut-off may be no later than {latest_ms} (Unix ms) for these choices");
            return Err(EngineError::invalid("cutoff_ms", reason));
        }
        let user_open_requests =
            self.local_open_requests(&input.user_id).await? + self.open_requests_elsewhere(&input.user_id).await?;
        let submit = SubmitRequest {
            request_id,
            user_id: input.user_id,
            passengers: input.passengers,
            choices,
            deadline_ms,
            policy: self.settings.actor.policy,
            user_open_requests,
        };
        let home = submit.choices[0].train_date.clone();
        let step = Step::Request { request_id, command: RequestCommand::Submit(submit) };
        let done = self.step(&home, step, input.deadline).await?;
        let request = done.request.expect("a request step answers its record");
        self.waitlist.record(&request);
        self.waitlist_view(request).await
    }

    /// The frontend reports the prepayment was made: the request's choices join their queues.
    pub async fn activate_waitlist(
        &self,
        request_id: WaitlistRequestId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<WaitlistView, EngineError> {
        let started = Instant::now();
        let mut view = self.request_step(request_id, user_id, RequestCommand::Activate, deadline).await?;
        while view.request.status == RequestStatus::Active
            && view.choices.contains(&ChoiceStanding::NotJoined)
            && started.elapsed() < std::time::Duration::from_millis(ACTIVATE_WAIT_MS)
        {
            tokio::time::sleep(std::time::Duration::from_millis(ACTIVATE_POLL_MS)).await;
            view = self.waitlist_view(view.request).await?;
        }
        Ok(view)
    }

    pub async fn cancel_waitlist(
        &self,
        request_id: WaitlistRequestId,
        user_id: Option<&str>,
        deadline: Option<Instant>,
    ) -> Result<WaitlistView, EngineError> {
        self.request_step(request_id, user_id, RequestCommand::Cancel, deadline).await
    }

    pub async fn get_waitlist(
        &self,
        request_id: WaitlistRequestId,
        user_id: Option<&str>,
    ) -> Result<WaitlistView, EngineError> {
        let started = Instant::now();
        loop {
            let request = self.owned_request(request_id, user_id).await?;
            let view = self.waitlist_view(request).await?;
            // Seats reserved or granted become an order within milliseconds:
            // answer with the outcome rather than the step in between.
            let deciding = matches!(view.request.status, RequestStatus::Granted { .. })
                || view.choices.contains(&ChoiceStanding::Reserved);
            if !deciding || started.elapsed() >= std::time::Duration::from_millis(ACTIVATE_WAIT_MS) {
                return Ok(view);
            }
            tokio::time::sleep(std::time::Duration::from_millis(ACTIVATE_POLL_MS)).await;
        }
    }

    /// A user's requests, oldest first, up to `WAITLIST_LIST_MAX`.
    pub async fn list_waitlist(&self, user_id: &str) -> Result<Vec<WaitlistView>, EngineError> {
        let mut views = Vec::new();
        for request_id in self.waitlist.of_user(user_id).into_iter().take(WAITLIST_LIST_MAX) {
            match self.get_waitlist(request_id, Some(user_id)).await {
                Ok(view) => views.push(view),
                // Its home train-date was archived since.
                Err(EngineError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(views)
    }

    async fn request_step(
        &self,
        request_id: WaitlistRequestId,
        user_id: Option<&str>,
        command: RequestCommand,
        deadline: Option<Instant>,
    ) -> Result<WaitlistView, EngineError> {
        let request = self.owned_request(request_id, user_id).await?;
        let home = request.choices[0].train_date.clone();
        let done = self.step(&home, Step::Request { request_id, command }, deadline).await?;
        self.waitlist_view(done.request.unwrap_or(request)).await
    }

    /// The request, if it exists and (when a user is named) is theirs.
    async fn owned_request(
        &self,
        request_id: WaitlistRequestId,
        user_id: Option<&str>,
    ) -> Result<WaitlistRequest, EngineError> {
        let not_found = || EngineError::from(NotFound::WaitlistRequest(request_id));
        let home = self.waitlist.home_of(&request_id).ok_or_else(not_found)?;
        let handle = self.handle(&home).map_err(|_| not_found())?;
        let request = handle.ask(&home, Read(RequestQuery(request_id))).await??;
        request.filter(|request| user_id.is_none_or(|user| request.user_id == user)).ok_or_else(not_found)
    }

    /// The request a keyed Submit recorded before, if this one repeats it:
    /// answered before any choice is checked again, since seats may have
    /// freed up since (the first Submit's answer stands). REQUEST_ID_REUSED
    /// when the key named another request.
    async fn repeated_submit(
        &self,
        request_id: WaitlistRequestId,
        input: &WaitlistInput,
        stations: (&StationCode, &StationCode),
    ) -> Result<Option<WaitlistView>, EngineError> {
        let record = match self.owned_request(request_id, Some(&input.user_id)).await {
            Ok(record) => record,
            Err(EngineError::NotFound(_)) => return Ok(None),
            Err(error) => return Err(error),
        };
        let choices = input.choices.iter().map(|(key, class)| (key, *class));
        if !record.is_repeated_by(&input.user_id, &input.passengers, stations, choices) {
            return Err(RequestRejection::RequestIdReused { request_id }.into());
        }
        self.waitlist_view(record).await.map(Some)
    }

    /// Facts of one choice from its train-date, here or on its node, with
    /// the journey's stops there; refused unless it may be waitlisted now.
    async fn choice_facts(
        &self,
        key: &TrainDateKey,
        from_station: &StationCode,
        to_station: &StationCode,
        join: JoinWaitlist,
        now_ms: u64,
    ) -> Result<(usize, usize, ChoiceFacts), EngineError> {
        let call = PeerCall::Waitlistable {
            key: key.clone(),
            from_station: from_station.clone(),
            to_station: to_station.clone(),
            join,
            now_ms,
        };
        match self.peer(call).await? {
            PeerAnswer::Waitlistable { from, to, facts } => Ok((from, to, facts)),
            other => Err(unexpected(other)),
        }
    }

    pub(super) async fn local_choice_facts(
        &self,
        key: &TrainDateKey,
        from_station: &StationCode,
        to_station: &StationCode,
        mut join: JoinWaitlist,
        now_ms: u64,
    ) -> Result<(usize, usize, ChoiceFacts), EngineError> {
        let handle = self.handle(key)?;
        let (from, to) = journey_stops(&handle.shared.view.load_full(), from_station, to_station)?;
        join.from = from;
        join.to = to;
        let facts = handle.ask(key, Read(WaitlistableQuery { join, now_ms })).await??.map_err(EngineError::from)?;
        Ok((from, to, facts))
    }

    /// Open requests of `user_id` homed on this node.
    pub(super) async fn local_open_requests(&self, user_id: &str) -> Result<usize, EngineError> {
        let mut open = 0;
        for request_id in self.waitlist.of_user(user_id) {
            match self.owned_request(request_id, Some(user_id)).await {
                Ok(request) if request.status.is_open() => open += 1,
                Ok(_) | Err(EngineError::NotFound(_)) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(open)
    }

    async fn waitlist_view(&self, request: WaitlistRequest) -> Result<WaitlistView, EngineError> {
        let mut choices = Vec::with_capacity(request.choices.len());
        for (index, choice) in request.choices.iter().enumerate() {
            let call = PeerCall::Standing { key: choice.train_date.clone(), choice: request.choice_ref(index as u8) };
            let standing = match self.peer(call).await {
                Ok(PeerAnswer::Standing(standing)) => standing,
                // Not open here any more, or its node is moving: shown as
                // not joined until it answers.
                Err(EngineError::NotFound(_) | EngineError::Unavailable(Unavailable::Peer { .. })) => {
                    ChoiceStanding::NotJoined
                }
                Ok(other) => return Err(unexpected(other)),
                Err(error) => return Err(error),
            };
            choices.push(standing);
        }
        Ok(WaitlistView { request, choices })
    }
}
