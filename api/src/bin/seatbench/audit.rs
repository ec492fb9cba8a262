//! The end-of-run audit: every acknowledged order is there as acknowledged,
//! no seat segment is sold twice, counts equal a recount, and the seat-km
//! yield. A failed audit fails the run.

use super::client::Booking;
use super::demand::STATIONS;
use api::pb;
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default, serde::Serialize)]
pub struct AuditReport {
    pub orders_checked: usize,
    pub train_dates_checked: usize,
    pub counts_checked: usize,
    /// Seat-km on active orders over seat-km the audited train-dates offer.
    pub seat_km_yield: f64,
    pub failures: Vec<String>,
}

/// Index of a station along a train's direction of travel.
fn stop_of(train: &str, station: &str) -> usize {
    let southbound = train.trim_start_matches(char::is_alphabetic).parse::<u32>().is_ok_and(|n| n % 2 == 1);
    let index = STATIONS.iter().position(|s| *s == station).expect("bench stations only");
    if southbound { index } else { STATIONS.len() - 1 - index }
}

pub async fn audit(booking: &mut Booking, orders: &[pb::Order], recount: bool) -> AuditReport {
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
    // Seat and count checks know the demo network's stations; synthetic runs
    // get the read-back check only.
    let on_demo_network = |order: &&pb::Order| STATIONS.contains(&order.from_station.as_str());
    for order in orders.iter().filter(|order| active.contains(&order.status)).filter(on_demo_network) {
        let td = order.train_date.clone().unwrap_or_default();
        by_train_date.entry((td.train, td.date)).or_default().push(order);
    }
    let (mut sold_seat_km, mut offered_seat_km) = (0.0, 0.0);
    for ((train, date), orders) in &by_train_date {
        let seats = holders(train, orders, &mut report);
        let offers = offers(booking, train, date).await;
        let Some(whole) = offers.get(&(0, STATIONS.len() - 1)) else { continue };
        for order in orders {
            let km = offers
                .get(&(stop_of(train, &order.from_station), stop_of(train, &order.to_station)))
                .map_or(0, |o| o.distance_km);
            sold_seat_km += f64::from(km) * order.tickets.len() as f64;
        }
        report.train_dates_checked += 1;
        if !recount {
            continue;
        }
        let totals = class_totals(booking, train, date).await;
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
fn holders(train: &str, orders: &[&pb::Order], report: &mut AuditReport) -> Holders {
    let mut seats = Holders::new();
    for order in orders {
        let journey = (stop_of(train, &order.from_station), stop_of(train, &order.to_station));
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

/// The train-date's offer for every journey between the bench stations.
async fn offers(booking: &mut Booking, train: &str, date: &str) -> HashMap<(usize, usize), pb::TrainOffer> {
    let mut offers = HashMap::new();
    for (from, a) in STATIONS.iter().enumerate() {
        for b in STATIONS.iter().skip(from + 1) {
            let (from_station, to_station) = if stop_of(train, a) < stop_of(train, b) { (*a, *b) } else { (*b, *a) };
            let request = pb::GetAvailabilityRequest {
                train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
                from_station: from_station.into(),
                to_station: to_station.into(),
            };
            if let Ok(offer) = booking.get_availability(request).await {
                offers.insert((stop_of(train, from_station), stop_of(train, to_station)), offer.into_inner());
            }
        }
    }
    offers
}

/// Seats per class, counted from the seat maps.
async fn class_totals(booking: &mut Booking, train: &str, date: &str) -> HashMap<i32, u32> {
    let (first, last) =
        if stop_of(train, STATIONS[0]) == 0 { (STATIONS[0], STATIONS[3]) } else { (STATIONS[3], STATIONS[0]) };
    let mut totals = HashMap::new();
    for carriage in 1.. {
        let request = pb::GetSeatMapRequest {
            train_date: Some(pb::TrainDate { train: train.into(), date: date.into() }),
            carriage,
            from_station: first.into(),
            to_station: last.into(),
        };
        let Ok(map) = booking.get_seat_map(request).await else { break };
        let map = map.into_inner();
        *totals.entry(map.seat_class).or_insert(0) += map.rows.iter().map(|row| row.free.len() as u32).sum::<u32>();
    }
    totals
}
