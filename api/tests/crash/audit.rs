//! After a restart: every acknowledged reply is there, nothing is sold
//! twice, counts equal a recount, and retries return the original orders.

use super::Seatd;
use super::load::{DAYS_AHEAD, Ledger, STATIONS, TRAINS, date_ahead};
use api::pb::{self, SeatClass};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Audit {
    pub acknowledged_orders: usize,
    pub orders_on_server: usize,
    pub journeys_checked: usize,
}

/// Seats per class on the demo compositions: 16-car G1/G101, 8-car otherwise.
fn class_seats(train: &str, class: SeatClass) -> u32 {
    let sixteen_car = matches!(train, "G1" | "G101");
    match (class, sixteen_car) {
        (SeatClass::Business, true) => 15,
        (SeatClass::First, true) => 168,
        (SeatClass::Second, true) => 1010,
        (SeatClass::Business, false) => 21,
        (SeatClass::First, false) => 60,
        (SeatClass::Second, false) => 495,
        _ => 0,
    }
}

pub async fn audit(seatd: &Seatd, ledger: &Ledger) -> Audit {
    let mut booking = seatd.client().await;
    let acknowledged = ledger.orders.lock().unwrap().clone();
    for (order_id, ack) in &acknowledged {
        let stored = booking
            .get_order(pb::GetOrderRequest { order_id: order_id.clone(), ..Default::default() })
            .await
            .unwrap_or_else(|status| panic!("acknowledged order {order_id} lost after kill -9: {status}"))
            .into_inner();
        assert_eq!(stored.tickets, ack.order.tickets, "order {order_id} changed seats");
        let status = pb::OrderStatus::try_from(stored.status).expect("status");
        assert!(allowed(ack, status), "order {order_id}: acknowledged {:?}, found {status:?} ({ack:?})", ack.status);
        let retried = booking.hold(ack.request.clone()).await.expect("retry of an acknowledged hold").into_inner();
        assert_eq!(retried.order_id, *order_id, "an idempotent retry returns the original order");
    }
    let orders = all_orders(&mut booking, ledger).await;
    let journeys_checked = check_no_double_sale_and_counts(&mut booking, &orders).await;
    Audit { acknowledged_orders: acknowledged.len(), orders_on_server: orders.len(), journeys_checked }
}

/// The statuses an order may have given what was acknowledged and what was
/// sent without an answer.
fn allowed(ack: &super::load::Acknowledged, found: pb::OrderStatus) -> bool {
    use pb::OrderStatus::*;
    let mut allowed = vec![ack.status];
    if ack.confirm_unknown && ack.status == Held {
        allowed.push(Confirmed);
    }
    if ack.cancel_unknown {
        allowed.extend([Cancelled, Refunded]);
    }
    allowed.contains(&found)
}

async fn all_orders(booking: &mut super::Client, ledger: &Ledger) -> Vec<pb::Order> {
    let users = ledger.users.lock().unwrap().clone();
    let mut orders = Vec::new();
    for user in users {
        let mut token = String::new();
        loop {
            let request = pb::ListOrdersRequest { user_id: user.clone(), page_size: 100, page_token: token };
            let page = booking.list_orders(request).await.expect("list orders").into_inner();
            orders.extend(page.orders);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
    }
    orders
}

/// A seat (class, carriage, seat code) → the journeys holding it, as
/// (from, to) indices into `STATIONS` with the order id.
type SeatHolders = HashMap<(i32, u32, String), Vec<(usize, usize, String)>>;

/// For every train and journey: active orders never share a segment of a
/// seat, and the server's remaining count equals seats minus seats in use.
async fn check_no_double_sale_and_counts(booking: &mut super::Client, orders: &[pb::Order]) -> usize {
    let mut checked = 0;
    for (train, date) in TRAINS.iter().flat_map(|train| DAYS_AHEAD.map(|days| (*train, date_ahead(days)))) {
        let seats = seat_holders(train, &date, orders);
        for (from, from_station) in STATIONS.iter().enumerate() {
            for (to, to_station) in STATIONS.iter().enumerate().skip(from + 1) {
                let offer = booking
                    .get_availability(pb::GetAvailabilityRequest {
                        train_date: Some(pb::TrainDate { train: train.into(), date: date.clone() }),
                        from_station: (*from_station).into(),
                        to_station: (*to_station).into(),
                    })
                    .await
                    .expect("availability")
                    .into_inner();
                for class in [SeatClass::Business, SeatClass::First, SeatClass::Second] {
                    let in_use = seats
                        .iter()
                        .filter(|((seat_class, _, _), journeys)| {
                            *seat_class == class as i32 && journeys.iter().any(|(f, t, _)| *f < to && from < *t)
                        })
                        .count() as u32;
                    let remaining =
                        offer.classes.iter().find(|c| c.seat_class == class as i32).expect("class").remaining;
                    assert_eq!(
                        remaining,
                        class_seats(train, class) - in_use,
                        "{train} {class:?} {from_station}->{to_station}: count differs from a recount"
                    );
                    checked += 1;
                }
            }
        }
    }
    checked
}

/// Who holds each seat of one train-date, asserting no two active orders
/// share a segment.
fn seat_holders(train: &str, date: &str, orders: &[pb::Order]) -> SeatHolders {
    let stop_of: HashMap<&str, usize> = STATIONS.iter().enumerate().map(|(index, code)| (*code, index)).collect();
    let active = [pb::OrderStatus::Held as i32, pb::OrderStatus::Confirmed as i32];
    let mut seats = SeatHolders::new();
    let on_train =
        |order: &&pb::Order| order.train_date.as_ref().is_some_and(|td| td.train == train && td.date == date);
    for order in orders.iter().filter(on_train).filter(|order| active.contains(&order.status)) {
        let (from, to) = (stop_of[order.from_station.as_str()], stop_of[order.to_station.as_str()]);
        for ticket in &order.tickets {
            let holders = seats.entry((ticket.seat_class, ticket.carriage, ticket.seat.clone())).or_default();
            for (held_from, held_to, other) in holders.iter() {
                assert!(
                    to <= *held_from || *held_to <= from,
                    "{train} carriage {} seat {} sold twice: orders {other} and {}",
                    ticket.carriage,
                    ticket.seat,
                    order.order_id
                );
            }
            holders.push((from, to, order.order_id.clone()));
        }
    }
    seats
}
