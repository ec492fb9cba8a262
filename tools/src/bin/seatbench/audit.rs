//! The end-of-run audit, seatbench's side: read every acknowledged order
//! back, and each booked train-date's seat maps and counts, over gRPC, and
//! hand them to the shared checks (`seat_audit`, the same code the crash
//! tests and the baselines run): every acknowledged order is there as
//! acknowledged, no seat segment is sold twice, every seat map agrees with
//! the tickets, counts equal a recount. Also the seat-km yield. A failed
//! audit fails the run.

use super::client::Booking;
use super::demand::{STATIONS, Synthetic};
use api::pb;
use seat_audit::{
    AuditReport, CarriageSeat, SeatMapSegment, StoredCount, StoredSeat, StoredTicket, add_seat_map_segment,
};
use std::collections::{BTreeMap, HashMap};

/// Most synthetic train-dates checked seat by seat: each costs a read of
/// every journey's counts (276 on 24 stops) and of every carriage's seat map
/// per segment, too many for a whole-network scale run, whose orders then
/// get the read-back check only.
const SYNTHETIC_TRAIN_DATES_CHECKED_MAX: usize = 200;

#[derive(Debug, Default, serde::Serialize)]
pub struct BenchAudit {
    /// What the shared checks checked and found.
    #[serde(flatten)]
    pub checks: AuditReport,
    /// Seat-km on active orders over seat-km the audited train-dates offer.
    pub seat_km_yield: f64,
    /// Why seats and counts were not checked, when they were not.
    pub skipped: Option<String>,
}

/// What an acknowledged order is compared on when read back.
#[derive(Debug, PartialEq)]
struct OrderState {
    status: pb::OrderStatus,
    tickets: Vec<pb::Ticket>,
}

impl OrderState {
    fn of(order: &pb::Order) -> Self {
        OrderState { status: order.status(), tickets: order.tickets.clone() }
    }
}

type Ticket = StoredTicket<CarriageSeat, String>;

/// The stations a train calls at that the bench books, in calling order:
/// the demo's four, or a synthetic train's whole route.
fn route(train: &str, synthetic: Option<Synthetic>) -> Vec<String> {
    let number = train.trim_start_matches(char::is_alphabetic).parse::<usize>().unwrap_or(0);
    if let Some(network) = synthetic {
        return network.route(number.saturating_sub(1));
    }
    let mut stations: Vec<String> = STATIONS.iter().map(|s| (*s).to_owned()).collect();
    if number % 2 == 0 {
        stations.reverse();
    }
    stations
}

/// Index of a station along a route.
fn stop_of(route: &[String], station: &str) -> usize {
    route.iter().position(|s| s == station).expect("bench stations only")
}

/// Audits `orders`, the acknowledged orders in their last acknowledged
/// state. Seats and counts are checked against a recount only when `fresh`
/// (these orders are all the server has); otherwise only that the orders
/// sell no segment twice.
pub async fn audit(
    booking: &mut Booking,
    orders: &[pb::Order],
    fresh: bool,
    synthetic: Option<Synthetic>,
) -> BenchAudit {
    let mut audit = BenchAudit::default();
    read_back(booking, orders, &mut audit.checks).await;
    let active = [pb::OrderStatus::Held as i32, pb::OrderStatus::Confirmed as i32];
    let mut by_train_date: BTreeMap<(String, String), Vec<&pb::Order>> = BTreeMap::new();
    for order in orders.iter().filter(|order| active.contains(&order.status)) {
        let td = order.train_date.clone().unwrap_or_default();
        by_train_date.entry((td.train, td.date)).or_default().push(order);
    }
    if synthetic.is_some() && by_train_date.len() > SYNTHETIC_TRAIN_DATES_CHECKED_MAX {
        let count = by_train_date.len();
        audit.skipped = Some(format!("{count} train-dates, over {SYNTHETIC_TRAIN_DATES_CHECKED_MAX}"));
        return audit;
    }
    let (mut sold_seat_km, mut offered_seat_km) = (0.0, 0.0);
    for ((train, date), orders) in &by_train_date {
        let route = route(train, synthetic);
        let name = format!("{train}/{date}");
        let tickets = tickets(&route, orders);
        if !fresh {
            audit.checks.check_sold_once(&name, route.len(), &tickets);
            continue;
        }
        let offers = offers(booking, train, date, &route).await;
        let seats = seats(booking, train, date, &route, &mut audit.checks).await;
        let counts: Vec<StoredCount<i32>> = offers
            .iter()
            .flat_map(|((from, to), offer)| {
                offer.classes.iter().map(|class| (class.seat_class, *from, *to, i64::from(class.remaining)))
            })
            .collect();
        audit.checks.check_train_date(&name, route.len(), &seats, &counts, &tickets);
        let km = |journey: (usize, usize)| f64::from(offers.get(&journey).map_or(0, |offer| offer.distance_km));
        sold_seat_km += tickets.iter().map(|ticket| km((ticket.from, ticket.to))).sum::<f64>();
        offered_seat_km += km((0, route.len() - 1)) * seats.len() as f64;
    }
    audit.seat_km_yield = if offered_seat_km > 0.0 { sold_seat_km / offered_seat_km } else { 0.0 };
    audit
}

/// Reads every acknowledged order back and checks it is stored as acknowledged.
async fn read_back(booking: &mut Booking, orders: &[pb::Order], report: &mut AuditReport) {
    for order in orders {
        let request = pb::GetOrderRequest { order_id: order.order_id.clone(), user_id: order.user_id.clone() };
        let stored = match booking.get_order(request).await {
            Ok(stored) => Some(OrderState::of(stored.get_ref())),
            Err(status) if status.code() == tonic::Code::NotFound => None,
            Err(status) => {
                report.problem(format!("acknowledged order {} could not be read back: {status}", order.order_id));
                continue;
            }
        };
        let name = format!("order {}", order.order_id);
        report.check_acknowledged(name, &[OrderState::of(order)], stored.as_ref());
    }
}

/// The tickets of one train-date's active orders, by stop index on `route`.
fn tickets(route: &[String], orders: &[&pb::Order]) -> Vec<Ticket> {
    let mut tickets = Vec::new();
    for order in orders {
        let (from, to) = (stop_of(route, &order.from_station), stop_of(route, &order.to_station));
        tickets.extend(order.tickets.iter().map(|ticket| StoredTicket {
            order_id: order.order_id.clone(),
            seat: CarriageSeat { carriage: ticket.carriage, seat: ticket.seat.clone() },
            from,
            to,
        }));
    }
    tickets
}

/// The train-date's offer for every journey along the route, by stop indexes.
async fn offers(
    booking: &mut Booking,
    train: &str,
    date: &str,
    route: &[String],
) -> HashMap<(usize, usize), pb::TrainOffer> {
    let mut offers = HashMap::new();
    for (from, from_station) in route.iter().enumerate() {
        for (to, to_station) in route.iter().enumerate().skip(from + 1) {
            let request = pb::GetAvailabilityRequest {
                train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
                from_station: from_station.clone(),
                to_station: to_station.clone(),
            };
            if let Ok(offer) = booking.get_availability(request).await {
                offers.insert((from, to), offer.into_inner());
            }
        }
    }
    offers
}

/// Every seat with its taken segments along `route`, from one seat map per
/// carriage and segment; carriages are read until one is refused.
async fn seats(
    booking: &mut Booking,
    train: &str,
    date: &str,
    route: &[String],
    report: &mut AuditReport,
) -> Vec<StoredSeat<CarriageSeat, i32>> {
    let mut seats = Vec::new();
    for carriage in 1.. {
        let first_seat = seats.len();
        for segment in 0..route.len() - 1 {
            let request = pb::GetSeatMapRequest {
                train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
                carriage,
                from_station: route[segment].clone(),
                to_station: route[segment + 1].clone(),
            };
            let map = match booking.get_seat_map(request).await {
                Ok(map) => map.into_inner(),
                Err(_) if segment == 0 => return seats,
                Err(status) => {
                    report.problem(format!("{train}/{date} carriage {carriage} segment {segment}: {status}"));
                    continue;
                }
            };
            let rows = map.rows.iter().map(|row| (row.row, row.free.as_slice()));
            let letters = &map.letters;
            let map = SeatMapSegment { carriage, class: map.seat_class, letters, rows, segment };
            add_seat_map_segment(&mut seats, first_seat, map);
        }
    }
    seats
}
