//! The scenario's start on a fresh seatd: business class sold out end to end
//! on every waited train-date, in confirmed orders of one to three
//! passengers, and waitlist requests queued on them.

use super::{FROM, Sent, SharedLedger, TO, TicketOrder, WaitRequest, waited_train_dates};
use crate::crash::{Client, Seatd, WaitlistClient};
use api::pb::{self, SeatClass};

/// Sellers the sold orders are spread over (any number would do; a few keep
/// each user's order list short).
const SELLERS: usize = 4;
/// Holds that sell out one train-date's business class: its seats (at most
/// 21) one at a time at worst.
const HOLDS_PER_TRAIN_DATE_MAX: usize = 32;

/// Free seats of `class` on `train_date` end to end.
pub async fn remaining(booking: &mut Client, train_date: &pb::TrainDate, class: SeatClass) -> u32 {
    let request = pb::GetAvailabilityRequest {
        train_date: Some(train_date.clone()),
        from_station: FROM.into(),
        to_station: TO.into(),
    };
    let offer = booking.get_availability(request).await.expect("availability").into_inner();
    offer.classes.iter().find(|offer| offer.seat_class == class as i32).map_or(0, |offer| offer.remaining)
}

/// Holds and pays every business seat of the waited train-dates that is
/// free (between rounds, with the workflows settled, no waiting party fits
/// the free seats, so selling them passes nobody over).
pub async fn sell_out(seatd: &Seatd, ledger: &SharedLedger) {
    let mut booking = seatd.client().await;
    for train_date in waited_train_dates() {
        for hold in 0..HOLDS_PER_TRAIN_DATE_MAX {
            let left = remaining(&mut booking, &train_date, SeatClass::Business).await;
            if left == 0 {
                break;
            }
            let party = (1 + rand::random::<u32>() % 3).min(left) as usize;
            let (user_id, passengers) = {
                let mut ledger = ledger.lock().unwrap();
                let user = format!("wf-seller-{}", hold % SELLERS);
                ledger.users.insert(user.clone());
                (user, ledger.new_passengers(party))
            };
            let request = pb::HoldRequest {
                // Passengers are new each time, so the first one's ID number keys the hold.
                request_id: format!("sell-{}", passengers[0].1),
                user_id: user_id.clone(),
                train_date: Some(train_date.clone()),
                from_station: FROM.into(),
                to_station: TO.into(),
                passengers: passengers
                    .iter()
                    .map(|(name, id_number)| pb::PassengerRequest {
                        name: name.clone(),
                        id_number: id_number.clone(),
                        seat_class: SeatClass::Business.into(),
                        ..Default::default()
                    })
                    .collect(),
            };
            let order = booking.hold(request).await.expect("business seats left").into_inner();
            let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id: user_id.clone() };
            booking.confirm(confirm).await.expect("pays");
            let sold = TicketOrder {
                user_id,
                train_date: train_date.clone(),
                passengers: passengers.into_iter().map(|(name, _)| name).collect(),
                refund: Sent::Not,
                change: None,
            };
            ledger.lock().unwrap().orders.insert(order.order_id, sold);
        }
        let left = remaining(&mut booking, &train_date, SeatClass::Business).await;
        assert_eq!(left, 0, "{train_date:?} business sold out in {HOLDS_PER_TRAIN_DATE_MAX} holds");
    }
}

/// Queues `count` requests, each submitted and activated.
pub async fn queue_requests(seatd: &Seatd, ledger: &SharedLedger, count: usize) {
    let mut waitlist = seatd.waitlist_client().await;
    for _ in 0..count {
        let (submitted, activated) = submit_and_activate(&mut waitlist, ledger).await;
        assert_eq!((submitted, activated), (Sent::Acknowledged, Sent::Acknowledged), "queueing a request");
    }
}

/// Submits a request for a new user (one open request per user) naming one
/// or two waited train-dates in business, for one to three new passengers,
/// and, once submitted, activates it. Answers how each call went.
pub async fn submit_and_activate(waitlist: &mut WaitlistClient, ledger: &SharedLedger) -> (Sent, Sent) {
    let (user_id, passengers) = {
        let mut ledger = ledger.lock().unwrap();
        let user = ledger.new_user("waiter");
        (user, ledger.new_passengers(1 + rand::random::<u32>() as usize % 3))
    };
    let mut offered = waited_train_dates();
    let first = offered.remove(rand::random::<u32>() as usize % offered.len());
    let second = (!rand::random::<u8>().is_multiple_of(3))
        .then(|| offered.remove(rand::random::<u32>() as usize % offered.len()));
    let choices = [Some(first), second]
        .into_iter()
        .flatten()
        .map(|train_date| pb::RequestedChoice { train_date: Some(train_date), seat_class: SeatClass::Business.into() })
        .collect();
    let request = pb::SubmitWaitlistRequest {
        user_id: user_id.clone(),
        passengers: passengers
            .iter()
            .map(|(name, id_number)| pb::WaitlistPassenger { name: name.clone(), id_number: id_number.clone() })
            .collect(),
        from_station: FROM.into(),
        to_station: TO.into(),
        choices,
        cutoff_ms: 0,
        // One request per user: the key need only be the same when repeated.
        client_request_id: "wf-request".into(),
    };
    ledger.lock().unwrap().submissions.insert(user_id.clone(), request.clone());
    let reply = waitlist.submit_waitlist(request).await;
    let submitted = Sent::of(&reply);
    let Ok(reply) = reply else { return (submitted, Sent::Not) };
    let request_id = reply.into_inner().request_id;
    let record = WaitRequest {
        user_id: user_id.clone(),
        passengers: passengers.into_iter().map(|(name, _)| name).collect(),
        activate: Sent::Unanswered,
        cancel: Sent::Not,
    };
    ledger.lock().unwrap().requests.insert(request_id.clone(), record);
    let reference = pb::WaitlistRequestRef { request_id: request_id.clone(), user_id };
    let activated = Sent::of(&waitlist.activate_waitlist(reference).await);
    if let Some(record) = ledger.lock().unwrap().requests.get_mut(&request_id) {
        record.activate = activated;
    }
    (submitted, activated)
}
