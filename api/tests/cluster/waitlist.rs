//! Waitlist (候补) and ticket change (改签) across cluster nodes, for
//! `cluster_e2e::waitlist_fulfilment_survives_the_kill_of_its_records_node`:
//! selling a train-date's business class out, a waitlist client of a node,
//! and polling a request until it reaches a state.

use super::booking_load::passenger_id;
use super::seatd::{Bearer, NodeClients};
use api::pb::ticket_change_client::TicketChangeClient;
use api::pb::waitlist_client::WaitlistClient;
use api::pb::{self, SeatClass};
use std::time::{Duration, Instant};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

/// The journey every call here books: the whole Beijing–Shanghai line.
pub const FROM: &str = "VNP";
pub const TO: &str = "AOH";
/// Most holds selling one train-date's business class out takes: the demo
/// has 15 business seats per train, sold 1 to 5 at a time.
const SELL_OUT_HOLDS_MAX: usize = 20;
/// Bound on one call: past a peer call's own timeout (5 s), so a call that
/// waits on a stopped node ends with that node's answer, not ours.
const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// Pause between two polls of a request.
const POLL: Duration = Duration::from_millis(50);

pub type Waitlist = WaitlistClient<InterceptedService<Channel, Bearer>>;
pub type Change = TicketChangeClient<InterceptedService<Channel, Bearer>>;

/// Waitlist and TicketChange clients of `node`, with the agent token (it
/// acts for the user each call names).
pub fn clients(node: &NodeClients, agent: Bearer) -> (Waitlist, Change) {
    let channel =
        Endpoint::from_shared(format!("http://{}", node.address)).expect("uri").timeout(CALL_TIMEOUT).connect_lazy();
    (
        WaitlistClient::with_interceptor(channel.clone(), agent.clone()),
        TicketChangeClient::with_interceptor(channel, agent),
    )
}

/// Business seats left on `train_date` for the whole line.
pub async fn business_left(via: &NodeClients, train_date: &pb::TrainDate) -> u32 {
    let mut booking = via.booking.clone();
    let request = pb::GetAvailabilityRequest {
        train_date: Some(train_date.clone()),
        from_station: FROM.into(),
        to_station: TO.into(),
    };
    let offer = booking.get_availability(request).await.expect("availability").into_inner();
    offer.classes.iter().find(|class| class.seat_class == SeatClass::Business as i32).map_or(0, |class| class.remaining)
}

/// Holds and pays every business seat of `train_date` for user `seller`;
/// the orders, oldest first. `serial` numbers the passengers.
pub async fn sell_out(via: &NodeClients, train_date: &pb::TrainDate, seller: &str, serial: &mut u64) -> Vec<pb::Order> {
    let mut booking = via.booking.clone();
    let mut orders = Vec::new();
    for round in 0..SELL_OUT_HOLDS_MAX {
        let left = business_left(via, train_date).await;
        if left == 0 {
            return orders;
        }
        let passengers = (0..left.min(5))
            .map(|_| {
                *serial += 1;
                pb::PassengerRequest {
                    name: "候补测试".into(),
                    id_number: passenger_id(*serial),
                    seat_class: SeatClass::Business.into(),
                    ..Default::default()
                }
            })
            .collect();
        let hold = pb::HoldRequest {
            request_id: format!("{seller}-{}-{round}", train_date.train),
            user_id: seller.into(),
            train_date: Some(train_date.clone()),
            from_station: FROM.into(),
            to_station: TO.into(),
            passengers,
        };
        let order = booking.hold(hold).await.expect("business seats left").into_inner();
        let confirm = pb::ConfirmRequest { order_id: order.order_id, user_id: seller.into() };
        orders.push(booking.confirm(confirm).await.expect("pays").into_inner());
    }
    panic!("{train_date:?} business did not sell out in {SELL_OUT_HOLDS_MAX} holds");
}

/// The state of each of a request's choices.
pub fn states(request: &pb::WaitlistRequest) -> Vec<pb::ChoiceState> {
    request.choices.iter().map(|choice| pb::ChoiceState::try_from(choice.state).expect("known state")).collect()
}

/// Reads the request through `waitlist` until `done` holds or `within`
/// passes; a refusal while slots move is read again. The last read.
pub async fn poll_request(
    waitlist: &mut Waitlist,
    reference: &pb::WaitlistRequestRef,
    within: Duration,
    done: impl Fn(&pb::WaitlistRequest) -> bool,
) -> pb::WaitlistRequest {
    let started = Instant::now();
    loop {
        let last = match waitlist.get_waitlist(reference.clone()).await {
            Ok(reply) => {
                let request = reply.into_inner();
                if done(&request) {
                    return request;
                }
                format!("{request:?}")
            }
            Err(status) => format!("{status:?}"),
        };
        assert!(started.elapsed() < within, "the request did not get there within {within:?}; last read: {last}");
        tokio::time::sleep(POLL).await;
    }
}
