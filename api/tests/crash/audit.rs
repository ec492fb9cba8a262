//! After a restart, the crash test's side of the shared audit (`seat_audit`,
//! the same checks seatbench and the baselines run): read back over gRPC
//! what the ledger says was acknowledged, every order of the load's users,
//! and each train-date's seat maps and counts, and hand them over. The
//! checks: every acknowledged reply is there, no seat segment is sold twice,
//! the seat maps agree with the orders, and counts equal a recount. Checked
//! here only: retries return the original orders, and the seats are the
//! demo compositions'.

use super::load::{Acknowledged, DAYS_AHEAD, Ledger, STATIONS, TRAINS, date_ahead};
use super::{Client, Seatd};
use api::pb::{self, SeatClass};
use seat_audit::{
    AuditReport, CarriageSeat, SeatMapSegment, StoredCount, StoredSeat, StoredTicket, add_seat_map_segment,
};
use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Audit {
    pub acknowledged_orders: usize,
    pub orders_on_server: usize,
    pub journeys_checked: usize,
}

/// What an acknowledged order is compared on when read back.
#[derive(Debug, PartialEq)]
struct OrderState {
    status: pb::OrderStatus,
    tickets: Vec<pb::Ticket>,
}

type Seat = StoredSeat<CarriageSeat, i32>;

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

/// Audits the restarted server; panics listing every problem found.
pub async fn audit(seatd: &Seatd, ledger: &Ledger) -> Audit {
    let mut booking = seatd.client().await;
    let mut report = AuditReport::default();
    let acknowledged = ledger.orders.lock().unwrap().clone();
    for (order_id, ack) in &acknowledged {
        check_acknowledged(&mut booking, order_id, ack, &mut report).await;
    }
    let users = ledger.users.lock().unwrap().clone();
    let orders = all_orders(&mut booking, &users).await;
    let train_dates: Vec<(&str, String)> =
        TRAINS.iter().flat_map(|train| DAYS_AHEAD.map(|days| (*train, date_ahead(days)))).collect();
    check_train_dates(&mut booking, &train_dates, &orders, &mut report).await;
    assert!(
        report.ok(),
        "audit after kill -9 found {} problems:\n{}",
        report.problem_count,
        report.problems.join("\n")
    );
    Audit {
        acknowledged_orders: acknowledged.len(),
        orders_on_server: orders.len(),
        journeys_checked: report.counts as usize,
    }
}

/// The order is stored in a state its replies allow, and retrying its hold
/// returns it rather than booking again.
async fn check_acknowledged(booking: &mut Client, order_id: &str, ack: &Acknowledged, report: &mut AuditReport) {
    let request = pb::GetOrderRequest { order_id: order_id.to_owned(), ..Default::default() };
    let stored = match booking.get_order(request).await {
        Ok(stored) => Some(stored.into_inner()),
        Err(status) if status.code() == tonic::Code::NotFound => None,
        Err(status) => panic!("reading acknowledged order {order_id} back after kill -9: {status}"),
    };
    let stored = stored.map(|order| OrderState {
        status: pb::OrderStatus::try_from(order.status).expect("status"),
        tickets: order.tickets,
    });
    let allowed: Vec<OrderState> =
        allowed(ack).into_iter().map(|status| OrderState { status, tickets: ack.order.tickets.clone() }).collect();
    report.check_acknowledged(format!("order {order_id}"), &allowed, stored.as_ref());
    let retried = booking.hold(ack.request.clone()).await.expect("retry of an acknowledged hold").into_inner();
    if retried.order_id != order_id {
        report.problem(format!("retrying order {order_id}'s hold booked {} instead", retried.order_id));
    }
}

/// The statuses an order may have given what was acknowledged and what was
/// sent without an answer.
fn allowed(ack: &Acknowledged) -> Vec<pb::OrderStatus> {
    use pb::OrderStatus::*;
    let mut allowed = vec![ack.status];
    if ack.confirm_unknown && ack.status == Held {
        allowed.push(Confirmed);
    }
    if ack.cancel_unknown {
        allowed.extend([Cancelled, Refunded]);
    }
    allowed
}

/// Seats, seat maps and counts of each (train, date) read back and checked
/// against `orders`, which must hold every order on them: nothing sold
/// twice, every taken seat a live ticket's, counts equal a recount.
pub async fn check_train_dates(
    booking: &mut Client,
    train_dates: &[(&str, String)],
    orders: &[pb::Order],
    report: &mut AuditReport,
) {
    for (train, date) in train_dates {
        let seats = seats(booking, train, date).await;
        check_compositions(train, &seats, report);
        let counts = counts(booking, train, date).await;
        let tickets = tickets(train, date, orders);
        report.check_train_date(&format!("{train}/{date}"), STATIONS.len(), &seats, &counts, &tickets);
    }
}

/// Every order of `users`, page by page.
pub async fn all_orders(booking: &mut Client, users: &[String]) -> Vec<pb::Order> {
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

/// The tickets of the active orders on one train-date, by index into `STATIONS`.
fn tickets(train: &str, date: &str, orders: &[pb::Order]) -> Vec<StoredTicket<CarriageSeat, String>> {
    let stop_of = |station: &str| STATIONS.iter().position(|code| *code == station).expect("load stations only");
    let active = [pb::OrderStatus::Held as i32, pb::OrderStatus::Confirmed as i32];
    let on_train =
        |order: &&pb::Order| order.train_date.as_ref().is_some_and(|td| td.train == train && td.date == date);
    let mut tickets = Vec::new();
    for order in orders.iter().filter(on_train).filter(|order| active.contains(&order.status)) {
        let (from, to) = (stop_of(&order.from_station), stop_of(&order.to_station));
        tickets.extend(order.tickets.iter().map(|ticket| StoredTicket {
            order_id: order.order_id.clone(),
            seat: CarriageSeat { carriage: ticket.carriage, seat: ticket.seat.clone() },
            from,
            to,
        }));
    }
    tickets
}

/// Every (class, from, to) remaining count, as searches see it.
async fn counts(booking: &mut Client, train: &str, date: &str) -> Vec<StoredCount<i32>> {
    let mut counts = Vec::new();
    for (from, from_station) in STATIONS.iter().enumerate() {
        for (to, to_station) in STATIONS.iter().enumerate().skip(from + 1) {
            let request = pb::GetAvailabilityRequest {
                train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
                from_station: (*from_station).into(),
                to_station: (*to_station).into(),
            };
            let offer = booking.get_availability(request).await.expect("availability").into_inner();
            counts.extend(offer.classes.iter().map(|class| (class.seat_class, from, to, i64::from(class.remaining))));
        }
    }
    counts
}

/// Every seat with its taken segments, from one seat map per carriage and
/// segment between `STATIONS`; carriages are read until one is refused.
async fn seats(booking: &mut Client, train: &str, date: &str) -> Vec<Seat> {
    let mut seats = Vec::new();
    for carriage in 1.. {
        let first_seat = seats.len();
        for segment in 0..STATIONS.len() - 1 {
            let request = pb::GetSeatMapRequest {
                train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
                carriage,
                from_station: STATIONS[segment].into(),
                to_station: STATIONS[segment + 1].into(),
            };
            let map = match booking.get_seat_map(request).await {
                Ok(map) => map.into_inner(),
                Err(status) if segment == 0 && status.code() == tonic::Code::InvalidArgument => return seats,
                Err(status) => panic!("{train}/{date} carriage {carriage} segment {segment} seat map: {status}"),
            };
            let rows = map.rows.iter().map(|row| (row.row, row.free.as_slice()));
            let letters = &map.letters;
            let map = SeatMapSegment { carriage, class: map.seat_class, letters, rows, segment };
            add_seat_map_segment(&mut seats, first_seat, map);
        }
    }
    seats
}

/// The seat maps hold the demo compositions' seats, class by class.
fn check_compositions(train: &str, seats: &[Seat], report: &mut AuditReport) {
    let mut per_class: HashMap<i32, u32> = HashMap::new();
    for seat in seats {
        *per_class.entry(seat.class).or_default() += 1;
    }
    for class in [SeatClass::Business, SeatClass::First, SeatClass::Second] {
        let found = per_class.remove(&(class as i32)).unwrap_or(0);
        if found != class_seats(train, class) {
            report.problem(format!(
                "{train} {class:?}: {found} seats in the maps, {} in the demo",
                class_seats(train, class)
            ));
        }
    }
    for (class, found) in per_class {
        report.problem(format!("{train}: {found} seats of class {class}, which the demo does not have"));
    }
}
