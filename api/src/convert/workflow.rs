//! Waitlist requests and ticket changes, proto ↔ engine.

use super::{order_pb, passenger_name, resident_id, seat_class, seat_class_to_pb, train_date, train_date_pb};
use crate::pb;
use engine::actor::workflow::ChoiceStanding;
use engine::domain::seat_class::SeatClass;
use engine::domain::state::TrainDateKey;
use engine::domain::waitlist::{ChoiceEnd, WaitlistPassenger, WaitlistRequestId};
use engine::facade::{ChangeProgress, ChangeView, WaitlistView};
use engine::workflow::request::RequestStatus;
use tonic::Status;

pub fn waitlist_request_id(field: &str, text: &str) -> Result<WaitlistRequestId, Status> {
    uuid::Uuid::parse_str(text.trim())
        .map(WaitlistRequestId)
        .map_err(|_| crate::status::invalid_argument(field, "must be a request id SubmitWaitlist returned (a UUID)"))
}

pub fn waitlist_passengers(list: &[pb::WaitlistPassenger]) -> Result<Vec<WaitlistPassenger>, Status> {
    list.iter()
        .enumerate()
        .map(|(index, passenger)| {
            let field = |name: &str| format!("passengers[{index}].{name}");
            Ok(WaitlistPassenger {
                name: passenger_name(&field("name"), &passenger.name)?,
                id_number: resident_id(&field("id_number"), &passenger.id_number)?,
            })
        })
        .collect()
}

pub fn waitlist_choices(list: &[pb::RequestedChoice]) -> Result<Vec<(TrainDateKey, SeatClass)>, Status> {
    list.iter()
        .enumerate()
        .map(|(index, choice)| {
            let key = train_date(&format!("choices[{index}].train_date"), choice.train_date.as_ref())?;
            let class = seat_class(&format!("choices[{index}].seat_class"), choice.seat_class)?;
            Ok((key, class))
        })
        .collect()
}

pub fn waitlist_pb(view: &WaitlistView) -> pb::WaitlistRequest {
    let request = &view.request;
    let (status, refund_fen, order_id) = match request.status {
        RequestStatus::Submitted => (pb::WaitlistStatus::Submitted, 0, None),
        RequestStatus::Active => (pb::WaitlistStatus::Active, 0, None),
        RequestStatus::Granted { .. } => (pb::WaitlistStatus::Granted, 0, None),
        RequestStatus::Fulfilled { order_id, refund_fen, .. } => {
            (pb::WaitlistStatus::Fulfilled, refund_fen, Some(order_id))
        }
        RequestStatus::Cancelled { refund_fen } => (pb::WaitlistStatus::Cancelled, refund_fen, None),
        RequestStatus::Expired { refund_fen } => (pb::WaitlistStatus::Expired, refund_fen, None),
    };
    let choices = request
        .choices
        .iter()
        .zip(&view.choices)
        .map(|(choice, standing)| {
            let (state, ahead) = match standing {
                ChoiceStanding::NotJoined => (pb::ChoiceState::NotJoined, 0),
                ChoiceStanding::Waiting { ahead } => (pb::ChoiceState::Waiting, *ahead as u32),
                ChoiceStanding::Reserved => (pb::ChoiceState::Reserved, 0),
                ChoiceStanding::Ended(ChoiceEnd::Fulfilled { .. }) => (pb::ChoiceState::Fulfilled, 0),
                ChoiceStanding::Ended(ChoiceEnd::Lost) => (pb::ChoiceState::Lost, 0),
                ChoiceStanding::Ended(ChoiceEnd::Withdrawn) => (pb::ChoiceState::Withdrawn, 0),
                ChoiceStanding::Ended(ChoiceEnd::DeadlinePassed) => (pb::ChoiceState::DeadlinePassed, 0),
                ChoiceStanding::Ended(ChoiceEnd::SalesClosed) => (pb::ChoiceState::SalesClosed, 0),
            };
            pb::WaitlistChoiceStatus {
                train_date: Some(train_date_pb(&choice.train_date)),
                seat_class: seat_class_to_pb(choice.class).into(),
                from_station: choice.from_station.to_string(),
                to_station: choice.to_station.to_string(),
                fare_fen: choice.fare_fen,
                state: state.into(),
                ahead,
                order_id: choice.order_id.to_string(),
            }
        })
        .collect();
    pb::WaitlistRequest {
        request_id: request.id.to_string(),
        user_id: request.user_id.clone(),
        status: status.into(),
        choices,
        passenger_names: request.passengers.iter().map(|passenger| passenger.name.clone()).collect(),
        prepaid_fen: request.prepaid_fen,
        refund_fen,
        cutoff_ms: request.deadline_ms,
        submitted_at_ms: request.submitted_at_ms,
        activated_at_ms: request.activated_at_ms.unwrap_or(0),
        order_id: order_id.map(|order_id| order_id.to_string()).unwrap_or_default(),
    }
}

pub fn change_pb(view: &ChangeView) -> pb::ChangeOrderResponse {
    let outcome = match view.outcome {
        ChangeProgress::InFlight => pb::ChangeOutcome::InFlight,
        ChangeProgress::Committed => pb::ChangeOutcome::Committed,
        ChangeProgress::Aborted => pb::ChangeOutcome::Aborted,
    };
    pb::ChangeOrderResponse {
        change_id: view.change_id.to_string(),
        outcome: outcome.into(),
        old_order: Some(order_pb(&view.old_order)),
        new_order: view.new_order.as_ref().map(order_pb),
        new_order_id: view.new_order_id.to_string(),
    }
}
