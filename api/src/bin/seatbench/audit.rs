//! The end-of-run audit: every acknowledged order is there as acknowledged,
//! no seat segment is sold twice, counts equal a recount, and the seat-km
//! yield. A failed audit fails the run.

use super::client::Booking;
use super::demand::{STATIONS, Synthetic};
use api::pb;
use std::collections::{BTreeMap, HashMap};

/// Most synthetic train-dates checked seat by seat: each costs a read of
/// every journey's counts (276 on 24 stops), too many for a whole-network
/// scale run, whose orders then get the read-back check only.
const SYNTHETIC_TRAIN_DATES_CHECKED_MAX: usize = 200;

#[derive(Debug, Default, serde::Serialize)]
pub struct AuditReport {
    pub orders_checked: usize,
    pub train_dates_checked: usize,
    pub counts_checked: usize,
    /// Seat-km on active orders over seat-km the audited train-dates offer.
    pub seat_km_yield: f64,
    /// Why seats and counts were not checked, when they were not.
    pub skipped: Option<String>,
    pub failures: Vec<String>,
}

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

pub async fn audit(
    booking: &mut Booking,
    orders: &[pb::Order],
    recount: bool,
    synthetic: Option<Synthetic>,
) -> AuditReport {
    let mut report = AuditReport::default();
    for order in orders {
        let request = pb::GetOrderRequest { order_id: order.order_id.clone(), user_id: order.user_id.clone() };
        match booking.get_order(request).await {
            Ok(stored) if stored.get_ref().status == order.status && stored.get_ref().tickets == order.tickets => {}
            Ok(stored) => report.failures.push(format!(
                "order {} differs from what was acknowledged: {:?}",
                order.order_id,
                stored.get_ref().status
            )),
            Err(status) => report.failures.push(format!("acknowledged order {} missing: {status}", order.order_id)),
        }
        report.orders_checked += 1;
    }
    let active = [pb::OrderStatus::Held as i32, pb::OrderStatus::Confirmed as i32];
    let mut by_train_date: BTreeMap<(String, String), Vec<&pb::Order>> = BTreeMap::new();
    for order in orders.iter().filter(|order| active.contains(&order.status)) {
        let td = order.train_date.clone().unwrap_or_default();
        by_train_date.entry((td.train, td.date)).or_default().push(order);
    }
    if synthetic.is_some() && by_train_date.len() > SYNTHETIC_TRAIN_DATES_CHECKED_MAX {
        let count = by_train_date.len();
        report.skipped = Some(format!("{count} train-dates, over {SYNTHETIC_TRAIN_DATES_CHECKED_MAX}"));
        return report;
    }
    let (mut sold_seat_km, mut offered_seat_km) = (0.0, 0.0);
    for ((train, date), orders) in &by_train_date {
        let route = route(train, synthetic);
        let seats = holders(train, &route, orders, &mut report);
        let offers = offers(booking, train, date, &route).await;
        let Some(whole) = offers.get(&(0, route.len() - 1)) else { continue };
        for order in orders {
            let journey = (stop_of(&route, &order.from_station), stop_of(&route, &order.to_station));
            let km = offers.get(&journey).map_or(0, |o| o.distance_km);
            sold_seat_km += f64::from(km) * order.tickets.len() as f64;
        }
        report.train_dates_checked += 1;
        if !recount {
            continue;
        }
        let totals = class_totals(booking, train, date, &route).await;
        offered_seat_km += f64::from(whole.distance_km) * totals.values().sum::<u32>() as f64;
        for ((from, to), offer) in &offers {
            for class_offer in &offer.classes {
                let in_use = seats
                    .iter()
                    .filter(|((class, _, _), held)| {
                        *class == class_offer.seat_class && held.iter().any(|(f, t)| f < to && from < t)
                    })
                    .count() as u32;
                let expected = totals.get(&class_offer.seat_class).copied().unwrap_or(0) - in_use;
                if class_offer.remaining != expected {
                    report.failures.push(format!(
                        "{train}/{date} {from}->{to} class {}: count {} ≠ recount {expected}",
                        class_offer.seat_class, class_offer.remaining
                    ));
                }
                report.counts_checked += 1;
            }
        }
    }
    report.seat_km_yield = if offered_seat_km > 0.0 { sold_seat_km / offered_seat_km } else { 0.0 };
    report
}

type Holders = HashMap<(i32, u32, String), Vec<(usize, usize)>>;

/// Who holds each seat; records a failure for any segment held twice.
fn holders(train: &str, route: &[String], orders: &[&pb::Order], report: &mut AuditReport) -> Holders {
    let mut seats = Holders::new();
    for order in orders {
        let journey = (stop_of(route, &order.from_station), stop_of(route, &order.to_station));
        for ticket in &order.tickets {
            let held = seats.entry((ticket.seat_class, ticket.carriage, ticket.seat.clone())).or_default();
            if held.iter().any(|(f, t)| journey.0 < *t && *f < journey.1) {
                report.failures.push(format!(
                    "{train} carriage {} seat {} sold twice (order {})",
                    ticket.carriage, ticket.seat, order.order_id
                ));
            }
            held.push(journey);
        }
    }
    seats
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

/// Seats per class, counted from the seat maps over the whole route.
async fn class_totals(booking: &mut Booking, train: &str, date: &str, route: &[String]) -> HashMap<i32, u32> {
    let mut totals = HashMap::new();
    for carriage in 1.. {
        let request = pb::GetSeatMapRequest {
            train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
            carriage,
            from_station: route[0].clone(),
            to_station: route[route.len() - 1].clone(),
        };
        let Ok(map) = booking.get_seat_map(request).await else { break };
        let map = map.into_inner();
        *totals.entry(map.seat_class).or_insert(0) += map.rows.iter().map(|row| row.free.len() as u32).sum::<u32>();
    }
    totals
}
