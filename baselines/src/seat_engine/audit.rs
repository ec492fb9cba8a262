//! The seat-engine target's audit: restart from the journal, then read back
//! orders, seat maps and counts and hand them to the shared checks.

use super::{OpenTrainDate, SeatEngine, failed, lock, station_code};
use crate::audit::{AuditReport, StoredSeat, StoredTicket};
use crate::layout::class_code;
use crate::model::{AckedOrder, BaselineError, OrderStatus};
use engine::domain::order::{OrderId, OrderStatus as EngineStatus};
use engine::facade::{Engine, EngineError};
use std::collections::HashMap;
use std::sync::Arc;

impl SeatEngine {
    /// Restarts the engine from its journal, then audits every train-date
    /// opened here and every order in `acked` (see the module docs).
    pub async fn audit(&self, acked: &[AckedOrder]) -> Result<AuditReport, BaselineError> {
        self.restart().await?;
        let engine = self.engine()?;
        let mut report = AuditReport::default();
        if let Err(error) = engine.verify_all().await {
            report.problem(format!("engine recount: {error}"));
        }
        let mut train_dates: Vec<Arc<OpenTrainDate>> = {
            let open = self.inner.train_dates.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            open.values().cloned().collect()
        };
        train_dates.sort_by(|a, b| a.name.cmp(&b.name));
        let mut orders_by_train_date: HashMap<Arc<str>, Vec<(u64, OrderId)>> = HashMap::new();
        for (index, order) in lock(&self.inner.book).orders.iter().enumerate() {
            orders_by_train_date.entry(Arc::clone(&order.train_date)).or_default().push((index as u64 + 1, order.id));
        }
        let mut stored = HashMap::new();
        for open in &train_dates {
            let orders = orders_by_train_date.remove(&open.name).unwrap_or_default();
            let tickets = read_orders(&engine, open, &orders, &mut stored, &mut report).await?;
            let seats = read_seats(&engine, open, &mut report).await?;
            let counts = read_counts(&engine, open)?;
            report.check_train_date(&open.name, open.layout.stop_count(), &seats, &counts, &tickets);
        }
        for (train_date, orders) in orders_by_train_date {
            report.problem(format!("{} orders on {train_date}, which was never opened", orders.len()));
        }
        crate::audit::check_acked(&mut report, &stored, acked);
        Ok(report)
    }
}

/// Reads back every booked order of one train-date: its stored status goes
/// into `stored`, and the tickets of those still holding seats are returned.
async fn read_orders(
    engine: &Engine,
    open: &OpenTrainDate,
    orders: &[(u64, OrderId)],
    stored: &mut HashMap<(String, u64), OrderStatus>,
    report: &mut AuditReport,
) -> Result<Vec<StoredTicket>, BaselineError> {
    let mut tickets = Vec::new();
    for (number, id) in orders {
        let snapshot = match engine.get_order(*id, None).await {
            Ok(snapshot) => snapshot,
            // The acknowledged-order check reports it if it was acknowledged.
            Err(EngineError::NotFound(_)) => continue,
            Err(error) => return Err(failed(error)),
        };
        if snapshot.key != open.key {
            report.problem(format!("{} order {number} ({id}) is stored on {}", open.name, snapshot.key));
            continue;
        }
        let order = &snapshot.order;
        let status = match order.status {
            EngineStatus::Held => OrderStatus::Held,
            EngineStatus::Confirmed => OrderStatus::Confirmed,
            EngineStatus::Cancelled | EngineStatus::Refunded | EngineStatus::Expired => OrderStatus::Cancelled,
        };
        stored.insert((open.name.to_string(), *number), status);
        if status.holds_seats() {
            let (from, to) = order.journey();
            tickets.extend(order.tickets.iter().map(|ticket| StoredTicket {
                order_id: *number,
                seat: ticket.seat,
                from,
                to,
            }));
        }
    }
    Ok(tickets)
}

/// Every seat's taken segments, from one seat map per carriage and segment.
async fn read_seats(
    engine: &Engine,
    open: &OpenTrainDate,
    report: &mut AuditReport,
) -> Result<Vec<StoredSeat>, BaselineError> {
    let layout = &open.layout;
    let mut seats: Vec<StoredSeat> = layout
        .seats()
        .iter()
        .enumerate()
        .map(|(seat, spec)| StoredSeat { seat: seat as u32, class: class_code(spec.class), mask: 0 })
        .collect();
    let mut first_seat = 0usize;
    while first_seat < layout.seats().len() {
        let carriage = layout.seats()[first_seat].carriage;
        let seat_count = layout.seats()[first_seat..].iter().take_while(|seat| seat.carriage == carriage).count();
        for segment in 0..layout.last_stop() {
            let map = engine
                .seat_map(&open.key, carriage, &station_code(segment), &station_code(segment + 1))
                .await
                .map_err(failed)?;
            if map.free.len() != seat_count {
                report.problem(format!(
                    "{}: carriage {carriage} has {} seats in the engine, {seat_count} in the layout",
                    open.name,
                    map.free.len()
                ));
            }
            for (offset, free) in map.free.iter().take(seat_count).enumerate() {
                if !free {
                    seats[first_seat + offset].mask |= 1 << segment;
                }
            }
        }
        first_seat += seat_count;
    }
    Ok(seats)
}

/// Every (class, from, to) remaining count, as searches see it.
fn read_counts(engine: &Engine, open: &OpenTrainDate) -> Result<Vec<(u8, usize, usize, i64)>, BaselineError> {
    let stop_count = open.layout.stop_count();
    let mut counts = Vec::new();
    for from in 0..stop_count {
        for to in from + 1..stop_count {
            let offer = engine.availability(&open.key, &station_code(from), &station_code(to)).map_err(failed)?;
            counts.extend(
                offer.classes.iter().map(|class| (class_code(class.class), from, to, i64::from(class.remaining))),
            );
        }
    }
    Ok(counts)
}
