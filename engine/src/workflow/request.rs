//! A waitlist request's own record: its choices, its prepayment and the one
//! grant that decides which choice is fulfilled. Its own small state and
//! events, decided one command at a time like a train-date; it would be
//! journaled as its own stream.

use crate::domain::allocation_policy::AllocationPolicy;
use crate::domain::order::OrderId;
use crate::domain::seat_class::SeatClass;
use crate::domain::settings::WaitlistSettings;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::StationCode;
use crate::domain::waitlist::{ChoiceRef, WaitlistPassenger, WaitlistRequestId};
use crate::domain::workflow::JoinWaitlist;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// One (train-date, class) choice as the request names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestChoice {
    pub train_date: TrainDateKey,
    pub class: SeatClass,
    /// Boarding stop index on that train.
    pub from: u8,
    /// Alighting stop index on that train.
    pub to: u8,
    pub from_station: StationCode,
    pub to_station: StationCode,
    /// One ticket's fare on this choice, from the train-date's plan.
    pub fare_fen: u64,
    /// The order this choice becomes if fulfilled.
    pub order_id: OrderId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmitRequest {
    pub request_id: WaitlistRequestId,
    pub user_id: String,
    pub passengers: Vec<WaitlistPassenger>,
    pub choices: Vec<RequestChoice>,
    /// The cut-off the user picked; each train-date also checks it against
    /// the latest its departure allows.
    pub deadline_ms: u64,
    pub policy: AllocationPolicy,
    /// Requests the user has open now, counted by the caller from its user index.
    pub user_open_requests: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Awaiting payment.
    Submitted,
    /// Paid; its choices wait in their queues.
    Active,
    /// One choice won; its order is being confirmed.
    Granted {
        choice: u8,
    },
    Fulfilled {
        choice: u8,
        order_id: OrderId,
        refund_fen: u64,
    },
    Cancelled {
        refund_fen: u64,
    },
    Expired {
        refund_fen: u64,
    },
}

impl RequestStatus {
    /// Ended requests no longer count toward the user's open requests.
    pub fn is_open(self) -> bool {
        matches!(self, RequestStatus::Submitted | RequestStatus::Active | RequestStatus::Granted { .. })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistRequest {
    pub id: WaitlistRequestId,
    pub user_id: String,
    pub passengers: Vec<WaitlistPassenger>,
    pub choices: Vec<RequestChoice>,
    pub deadline_ms: u64,
    pub policy: AllocationPolicy,
    pub submitted_at_ms: u64,
    /// The highest fare among the choices (for all passengers), once paid.
    pub prepaid_fen: u64,
    /// Its place in every queue.
    pub activated_at_ms: Option<u64>,
    /// Choices whose train-date let them go (cut-off, sales closed, refused join).
    pub ended_choices: BTreeSet<u8>,
    pub status: RequestStatus,
}

impl WaitlistRequest {
    /// Whether a Submit of these contents repeats this request (a client's
    /// retry with the same key): same user, passengers, stations and
    /// (train-date, class) choices in order. The order ids a repeat picks
    /// afresh and today's fares do not count. Every choice runs between the
    /// same two stations (`StationsDiffer`), so the first one's stand for all.
    pub fn is_repeated_by<'a>(
        &self,
        user_id: &str,
        passengers: &[WaitlistPassenger],
        (from_station, to_station): (&StationCode, &StationCode),
        choices: impl ExactSizeIterator<Item = (&'a TrainDateKey, SeatClass)>,
    ) -> bool {
        let Some(first) = self.choices.first() else { return false };
        self.user_id == user_id
            && self.passengers == passengers
            && (&first.from_station, &first.to_station) == (from_station, to_station)
            && self.choices.len() == choices.len()
            && self
                .choices
                .iter()
                .zip(choices)
                .all(|(mine, (key, class))| (&mine.train_date, mine.class) == (key, class))
    }

    pub fn choice_ref(&self, index: u8) -> ChoiceRef {
        ChoiceRef { request_id: self.id, index }
    }

    /// What the prepayment must be: the dearest choice for every passenger.
    pub fn highest_fare_fen(&self) -> u64 {
        let passengers = self.passengers.len() as u64;
        self.choices.iter().map(|choice| choice.fare_fen * passengers).max().unwrap_or(0)
    }

    /// Step "join" of choice `index`, as activation and recovery send it.
    pub fn join_command(&self, index: u8) -> JoinWaitlist {
        let choice = &self.choices[usize::from(index)];
        JoinWaitlist {
            choice: self.choice_ref(index),
            activated_at_ms: self.activated_at_ms.expect("only an active request joins"),
            user_id: self.user_id.clone(),
            order_id: choice.order_id,
            class: choice.class,
            from: usize::from(choice.from),
            to: usize::from(choice.to),
            passengers: self.passengers.clone(),
            deadline_ms: self.deadline_ms,
            policy: self.policy,
        }
    }

    fn indices(&self) -> impl Iterator<Item = u8> + '_ {
        (0..self.choices.len()).map(|index| index as u8)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestCommand {
    Submit(SubmitRequest),
    /// The frontend reports the prepayment was made.
    Activate,
    /// A choice has seats reserved and asks to be the one fulfilled.
    AskGrant {
        choice: u8,
    },
    /// The granted choice's train-date confirmed its order.
    ConfirmFulfilled {
        choice: u8,
        order_id: OrderId,
        fare_fen: u64,
    },
    /// A choice's train-date let it go (cut-off, sales closed, refused join).
    ChoiceEnded {
        choice: u8,
    },
    Cancel,
    /// The cut-off passed.
    Expire,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestEvent {
    Submitted {
        request: WaitlistRequest,
    },
    Activated {
        prepaid_fen: u64,
        at_ms: u64,
    },
    Granted {
        choice: u8,
        at_ms: u64,
    },
    /// `refund_fen`: the prepayment less the order's fare.
    Fulfilled {
        choice: u8,
        order_id: OrderId,
        fare_fen: u64,
        refund_fen: u64,
        at_ms: u64,
    },
    ChoiceEnded {
        choice: u8,
        at_ms: u64,
    },
    /// `refund_fen`: everything paid.
    Cancelled {
        refund_fen: u64,
        at_ms: u64,
    },
    /// `refund_fen`: everything paid.
    Expired {
        refund_fen: u64,
        at_ms: u64,
    },
}

#[derive(Clone, Debug, Error, PartialEq, Eq, Serialize, Deserialize)]
pub enum RequestRejection {
    #[error("passengers: a waitlist request covers 1 to {max} passengers, got {count}")]
    PassengerCount { count: usize, max: usize },
    #[error("passengers[{passenger}].id_number: the same passenger appears twice")]
    DuplicatePassenger { passenger: usize },
    #[error("choices: at least one choice is needed")]
    NoChoices,
    #[error("choices: at most {max} departure dates, all adjacent")]
    Dates { max: usize },
    #[error("choices: at most {max} choices per date")]
    ChoicesPerDate { max: usize },
    #[error("choices[{choice}]: every choice must run between the same two stations")]
    StationsDiffer { choice: usize },
    #[error("deadline_ms: the cut-off has passed")]
    DeadlinePassed,
    #[error("user already has {open} open waitlist request(s); at most {max}")]
    OpenRequests { open: usize, max: usize },
    #[error("waitlist request {request_id} already exists with other contents")]
    RequestIdReused { request_id: WaitlistRequestId },
    #[error("waitlist request not found")]
    NotFound,
    #[error("waitlist request is {status:?}; this step needs it {expected}")]
    WrongStatus { status: RequestStatus, expected: String },
    #[error("choices[{choice}] does not exist")]
    NoSuchChoice { choice: u8 },
}

impl RequestRejection {
    pub fn reason_code(&self) -> &'static str {
        match self {
            RequestRejection::PassengerCount { .. } => "PASSENGER_COUNT",
            RequestRejection::DuplicatePassenger { .. } => "DUPLICATE_PASSENGER",
            RequestRejection::NoChoices => "WAITLIST_NO_CHOICES",
            RequestRejection::Dates { .. } => "WAITLIST_DATES",
            RequestRejection::ChoicesPerDate { .. } => "WAITLIST_CHOICES_PER_DATE",
            RequestRejection::StationsDiffer { .. } => "WAITLIST_STATIONS_DIFFER",
            RequestRejection::DeadlinePassed => "WAITLIST_DEADLINE_PASSED",
            RequestRejection::OpenRequests { .. } => "WAITLIST_OPEN_REQUESTS",
            RequestRejection::RequestIdReused { .. } => "REQUEST_ID_REUSED",
            RequestRejection::NotFound => "WAITLIST_REQUEST_NOT_FOUND",
            RequestRejection::WrongStatus { .. } => "WAITLIST_REQUEST_STATUS",
            RequestRejection::NoSuchChoice { .. } => "WAITLIST_CHOICE_NOT_FOUND",
        }
    }
}

/// Decides `command` against the record (`None` before it is submitted).
pub fn decide_request(
    record: Option<&WaitlistRequest>,
    command: &RequestCommand,
    settings: &WaitlistSettings,
    now_ms: u64,
) -> Result<Vec<RequestEvent>, RequestRejection> {
    let record = match (record, command) {
        (None, RequestCommand::Submit(submit)) => return decide_submit(submit, settings, now_ms),
        (Some(record), RequestCommand::Submit(submit)) => {
            let choices = submit.choices.iter().map(|choice| (&choice.train_date, choice.class));
            let repeated = submit.choices.first().is_some_and(|first| {
                let stations = (&first.from_station, &first.to_station);
                record.is_repeated_by(&submit.user_id, &submit.passengers, stations, choices)
            });
            return if repeated {
                Ok(Vec::new())
            } else {
                Err(RequestRejection::RequestIdReused { request_id: submit.request_id })
            };
        }
        (None, _) => return Err(RequestRejection::NotFound),
        (Some(record), _) => record,
    };
    let wrong =
        |expected: &str| Err(RequestRejection::WrongStatus { status: record.status, expected: expected.into() });
    match command {
        RequestCommand::Submit(_) => unreachable!("handled above"),
        RequestCommand::Activate => match record.status {
            RequestStatus::Submitted if now_ms >= record.deadline_ms => Err(RequestRejection::DeadlinePassed),
            RequestStatus::Submitted => {
                Ok(vec![RequestEvent::Activated { prepaid_fen: record.highest_fare_fen(), at_ms: now_ms }])
            }
            RequestStatus::Active | RequestStatus::Granted { .. } | RequestStatus::Fulfilled { .. } => Ok(Vec::new()),
            _ => wrong("submitted"),
        },
        RequestCommand::AskGrant { choice } => {
            check_choice(record, *choice)?;
            match record.status {
                // First come, first granted: whichever choice asks first wins.
                RequestStatus::Active => Ok(vec![RequestEvent::Granted { choice: *choice, at_ms: now_ms }]),
                // Answered by `grant_answer`: the winner again, or a loser.
                _ => Ok(Vec::new()),
            }
        }
        RequestCommand::ConfirmFulfilled { choice, order_id, fare_fen } => match record.status {
            RequestStatus::Granted { choice: granted } if granted == *choice => {
                let refund_fen = record.prepaid_fen.saturating_sub(*fare_fen);
                Ok(vec![RequestEvent::Fulfilled {
                    choice: *choice,
                    order_id: *order_id,
                    fare_fen: *fare_fen,
                    refund_fen,
                    at_ms: now_ms,
                }])
            }
            RequestStatus::Fulfilled { choice: fulfilled, .. } if fulfilled == *choice => Ok(Vec::new()),
            _ => wrong("granted to this choice"),
        },
        RequestCommand::ChoiceEnded { choice } => {
            check_choice(record, *choice)?;
            if record.ended_choices.contains(choice) || !matches!(record.status, RequestStatus::Active) {
                return Ok(Vec::new());
            }
            let mut events = vec![RequestEvent::ChoiceEnded { choice: *choice, at_ms: now_ms }];
            if record.ended_choices.len() + 1 == record.choices.len() {
                events.push(RequestEvent::Expired { refund_fen: record.prepaid_fen, at_ms: now_ms });
            }
            Ok(events)
        }
        RequestCommand::Cancel => match record.status {
            RequestStatus::Submitted | RequestStatus::Active => {
                Ok(vec![RequestEvent::Cancelled { refund_fen: record.prepaid_fen, at_ms: now_ms }])
            }
            RequestStatus::Cancelled { .. } => Ok(Vec::new()),
            _ => wrong("submitted or active"),
        },
        RequestCommand::Expire => match record.status {
            RequestStatus::Submitted | RequestStatus::Active if now_ms >= record.deadline_ms => {
                Ok(vec![RequestEvent::Expired { refund_fen: record.prepaid_fen, at_ms: now_ms }])
            }
            _ => Ok(Vec::new()),
        },
    }
}

fn check_choice(record: &WaitlistRequest, choice: u8) -> Result<(), RequestRejection> {
    if usize::from(choice) < record.choices.len() { Ok(()) } else { Err(RequestRejection::NoSuchChoice { choice }) }
}

fn decide_submit(
    submit: &SubmitRequest,
    settings: &WaitlistSettings,
    now_ms: u64,
) -> Result<Vec<RequestEvent>, RequestRejection> {
    let count = submit.passengers.len();
    if count == 0 || count > settings.passengers_max {
        return Err(RequestRejection::PassengerCount { count, max: settings.passengers_max });
    }
    for (index, passenger) in submit.passengers.iter().enumerate() {
        if submit.passengers[..index].iter().any(|earlier| earlier.id_number == passenger.id_number) {
            return Err(RequestRejection::DuplicatePassenger { passenger: index });
        }
    }
    let Some(first) = submit.choices.first() else { return Err(RequestRejection::NoChoices) };
    let dates: BTreeSet<_> = submit.choices.iter().map(|choice| choice.train_date.date).collect();
    let span_days = (*dates.last().expect("one date") - *dates.first().expect("one date")).num_days();
    if dates.len() > settings.dates_per_request_max || span_days >= dates.len() as i64 {
        return Err(RequestRejection::Dates { max: settings.dates_per_request_max });
    }
    let max_per_date = settings.choices_per_date_max;
    if dates
        .iter()
        .any(|date| submit.choices.iter().filter(|choice| choice.train_date.date == *date).count() > max_per_date)
    {
        return Err(RequestRejection::ChoicesPerDate { max: max_per_date });
    }
    let stations_differ =
        |choice: &RequestChoice| choice.from_station != first.from_station || choice.to_station != first.to_station;
    if let Some(choice) = submit.choices.iter().position(stations_differ) {
        return Err(RequestRejection::StationsDiffer { choice });
    }
    if now_ms >= submit.deadline_ms {
        return Err(RequestRejection::DeadlinePassed);
    }
    let max = settings.open_requests_per_user_max;
    if submit.user_open_requests >= max {
        return Err(RequestRejection::OpenRequests { open: submit.user_open_requests, max });
    }
    let request = WaitlistRequest {
        id: submit.request_id,
        user_id: submit.user_id.clone(),
        passengers: submit.passengers.clone(),
        choices: submit.choices.clone(),
        deadline_ms: submit.deadline_ms,
        policy: submit.policy,
        submitted_at_ms: now_ms,
        prepaid_fen: 0,
        activated_at_ms: None,
        ended_choices: BTreeSet::new(),
        status: RequestStatus::Submitted,
    };
    Ok(vec![RequestEvent::Submitted { request }])
}

/// Folds one event into the record.
///
/// Panics on an event that contradicts the record: a corrupt stream.
pub fn apply_request(record: &mut Option<WaitlistRequest>, event: &RequestEvent) {
    if let RequestEvent::Submitted { request } = event {
        assert!(record.is_none(), "request {} submitted twice", request.id);
        *record = Some(request.clone());
        return;
    }
    let record = record.as_mut().expect("request submitted before it changes");
    match event {
        RequestEvent::Submitted { .. } => unreachable!("handled above"),
        RequestEvent::Activated { prepaid_fen, at_ms } => {
            assert_eq!(record.status, RequestStatus::Submitted);
            record.prepaid_fen = *prepaid_fen;
            record.activated_at_ms = Some(*at_ms);
            record.status = RequestStatus::Active;
        }
        RequestEvent::Granted { choice, .. } => {
            assert_eq!(record.status, RequestStatus::Active, "request {} granted twice", record.id);
            record.status = RequestStatus::Granted { choice: *choice };
        }
        RequestEvent::Fulfilled { choice, order_id, refund_fen, .. } => {
            assert_eq!(record.status, RequestStatus::Granted { choice: *choice });
            record.status = RequestStatus::Fulfilled { choice: *choice, order_id: *order_id, refund_fen: *refund_fen };
        }
        RequestEvent::ChoiceEnded { choice, .. } => {
            assert!(record.ended_choices.insert(*choice));
        }
        RequestEvent::Cancelled { refund_fen, .. } => {
            assert!(matches!(record.status, RequestStatus::Submitted | RequestStatus::Active));
            record.status = RequestStatus::Cancelled { refund_fen: *refund_fen };
        }
        RequestEvent::Expired { refund_fen, .. } => {
            assert!(matches!(record.status, RequestStatus::Submitted | RequestStatus::Active));
            record.status = RequestStatus::Expired { refund_fen: *refund_fen };
        }
    }
}

/// How a choice that asked for the grant is answered: the winner is told
/// to confirm its order, any other choice to leave its queue.
pub fn grant_answer(record: &WaitlistRequest, choice: u8) -> GrantAnswer {
    match record.status {
        RequestStatus::Granted { choice: winner } | RequestStatus::Fulfilled { choice: winner, .. }
            if winner == choice =>
        {
            GrantAnswer::Fulfil
        }
        RequestStatus::Granted { .. } | RequestStatus::Fulfilled { .. } => {
            GrantAnswer::Leave(crate::domain::waitlist::ChoiceEnd::Lost)
        }
        _ => GrantAnswer::Leave(crate::domain::waitlist::ChoiceEnd::Withdrawn),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantAnswer {
    Fulfil,
    Leave(crate::domain::waitlist::ChoiceEnd),
}

/// The choices other than `winner`.
pub(crate) fn others(record: &WaitlistRequest, winner: u8) -> impl Iterator<Item = u8> + '_ {
    record.indices().filter(move |index| *index != winner)
}

pub(crate) fn all(record: &WaitlistRequest) -> impl Iterator<Item = u8> + '_ {
    record.indices()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::waitlist::ChoiceEnd;
    use chrono::NaiveDate;
    use uuid::Uuid;

    const NOW_MS: u64 = 1_000_000;

    fn choice(train: &str, day: u32, fare_fen: u64) -> RequestChoice {
        RequestChoice {
            train_date: TrainDateKey::new(train, NaiveDate::from_ymd_opt(2025, 3, day).expect("valid date")),
            class: SeatClass::Business,
            from: 0,
            to: 3,
            from_station: "VNP".into(),
            to_station: "AOH".into(),
            fare_fen,
            order_id: OrderId(Uuid::from_u128(u128::from(day) * 100 + fare_fen as u128)),
        }
    }

    fn submit(choices: Vec<RequestChoice>, people: usize) -> SubmitRequest {
        SubmitRequest {
            request_id: WaitlistRequestId(Uuid::from_u128(9)),
            user_id: "u1".into(),
            passengers: (0..people)
                .map(|n| WaitlistPassenger { name: format!("P{n}"), id_number: format!("ID{n}") })
                .collect(),
            choices,
            deadline_ms: NOW_MS + 1_000,
            policy: AllocationPolicy::TightestFit,
            user_open_requests: 0,
        }
    }

    /// Decides and applies; returns the events.
    fn run(
        record: &mut Option<WaitlistRequest>,
        command: RequestCommand,
    ) -> Result<Vec<RequestEvent>, RequestRejection> {
        let events = decide_request(record.as_ref(), &command, &WaitlistSettings::default(), NOW_MS)?;
        for event in &events {
            apply_request(record, event);
        }
        Ok(events)
    }

    fn refused(command: SubmitRequest) -> RequestRejection {
        decide_request(None, &RequestCommand::Submit(command), &WaitlistSettings::default(), NOW_MS).unwrap_err()
    }

    #[test]
    fn a_repeated_submit_changes_nothing_and_another_under_its_id_is_refused() {
        let mut record = None;
        run(&mut record, RequestCommand::Submit(submit(vec![choice("G1", 1, 100)], 1))).expect("recorded");
        // A retry picks its order ids afresh, and the fare may have moved.
        let mut retry = choice("G1", 1, 120);
        retry.order_id = OrderId(Uuid::from_u128(77));
        assert_eq!(run(&mut record, RequestCommand::Submit(submit(vec![retry], 1))), Ok(Vec::new()));
        let reused = RequestRejection::RequestIdReused { request_id: WaitlistRequestId(Uuid::from_u128(9)) };
        let other_train = submit(vec![choice("G3", 1, 100)], 1);
        assert_eq!(run(&mut record, RequestCommand::Submit(other_train)), Err(reused.clone()));
        assert_eq!(
            run(&mut record, RequestCommand::Submit(submit(vec![choice("G1", 1, 100)], 2))),
            Err(reused.clone())
        );
        let mut elsewhere = choice("G1", 1, 100);
        elsewhere.to_station = "NKH".into();
        assert_eq!(run(&mut record, RequestCommand::Submit(submit(vec![elsewhere], 1))), Err(reused));
    }

    #[test]
    fn a_submission_is_held_to_the_waitlist_limits() {
        let two_on_one_date = vec![choice("G1", 1, 100), choice("G3", 1, 100)];
        assert_eq!(refused(submit(two_on_one_date.clone(), 4)), RequestRejection::PassengerCount { count: 4, max: 3 });
        let three_on_one_date = vec![choice("G1", 1, 1), choice("G3", 1, 1), choice("G5", 1, 1)];
        assert_eq!(refused(submit(three_on_one_date, 1)), RequestRejection::ChoicesPerDate { max: 2 });
        let dates_apart = vec![choice("G1", 1, 1), choice("G1", 3, 1)];
        assert_eq!(refused(submit(dates_apart, 1)), RequestRejection::Dates { max: 2 });
        let mut elsewhere = choice("G3", 2, 1);
        elsewhere.to_station = "SHH".into();
        assert_eq!(
            refused(submit(vec![choice("G1", 1, 1), elsewhere], 1)),
            RequestRejection::StationsDiffer { choice: 1 }
        );
        let mut busy = submit(two_on_one_date.clone(), 1);
        busy.user_open_requests = 1;
        assert_eq!(refused(busy), RequestRejection::OpenRequests { open: 1, max: 1 });
        let mut record = None;
        assert!(
            run(&mut record, RequestCommand::Submit(submit(vec![choice("G1", 1, 1), choice("G1", 2, 1)], 3))).is_ok()
        );
    }

    #[test]
    fn the_first_choice_to_ask_wins_and_the_difference_is_refunded() {
        // given an active request for two passengers, prepaid at its dearest choice
        let mut record = None;
        run(&mut record, RequestCommand::Submit(submit(vec![choice("G1", 1, 500), choice("G3", 1, 400)], 2))).unwrap();
        let activated = run(&mut record, RequestCommand::Activate).unwrap();
        assert_eq!(activated, [RequestEvent::Activated { prepaid_fen: 1_000, at_ms: NOW_MS }]);
        // when the G3 choice asks first, it is granted; G1 asking after is told it lost
        run(&mut record, RequestCommand::AskGrant { choice: 1 }).unwrap();
        assert_eq!(run(&mut record, RequestCommand::AskGrant { choice: 0 }), Ok(vec![]));
        let granted = record.as_ref().unwrap();
        assert_eq!(grant_answer(granted, 1), GrantAnswer::Fulfil);
        assert_eq!(grant_answer(granted, 0), GrantAnswer::Leave(ChoiceEnd::Lost));
        assert!(matches!(run(&mut record, RequestCommand::Cancel), Err(RequestRejection::WrongStatus { .. })));
        // then fulfilment refunds the prepayment less the order's fare
        let order_id = OrderId(Uuid::from_u128(5));
        let confirm = RequestCommand::ConfirmFulfilled { choice: 1, order_id, fare_fen: 800 };
        run(&mut record, confirm.clone()).unwrap();
        assert_eq!(record.as_ref().unwrap().status, RequestStatus::Fulfilled { choice: 1, order_id, refund_fen: 200 });
        assert_eq!(run(&mut record, confirm), Ok(vec![]));
    }

    #[test]
    fn cancelling_or_losing_every_choice_refunds_everything() {
        let mut record = None;
        run(&mut record, RequestCommand::Submit(submit(vec![choice("G1", 1, 500), choice("G3", 1, 400)], 1))).unwrap();
        run(&mut record, RequestCommand::Activate).unwrap();
        let mut cancelled = record.clone();
        assert_eq!(
            run(&mut cancelled, RequestCommand::Cancel),
            Ok(vec![RequestEvent::Cancelled { refund_fen: 500, at_ms: NOW_MS }])
        );
        assert_eq!(grant_answer(cancelled.as_ref().unwrap(), 0), GrantAnswer::Leave(ChoiceEnd::Withdrawn));
        run(&mut record, RequestCommand::ChoiceEnded { choice: 0 }).unwrap();
        let last = run(&mut record, RequestCommand::ChoiceEnded { choice: 1 }).unwrap();
        assert_eq!(last[1], RequestEvent::Expired { refund_fen: 500, at_ms: NOW_MS });
    }
}
