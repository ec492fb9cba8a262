//! Engine read models → proto replies.

use super::fields::{mask_id, seat_class_to_pb};
use crate::pb;
use engine::actor::replies::{OrderSnapshot, SeatMap};
use engine::catalog::Catalog;
use engine::domain::order::OrderStatus;
use engine::domain::state::{SERVICE_UTC_OFFSET_MINUTES, SalesStatus, TrainDateKey};
use engine::facade::{EngineStats, TrainDateSummary, TrainOffer};
use persistence::writer::WriterStats;
use std::sync::atomic::Ordering;

pub fn train_date_pb(key: &TrainDateKey) -> pb::TrainDate {
    pb::TrainDate { train: key.train.clone(), date: key.date.to_string() }
}

/// `HH:MM` in service time (UTC+8) of a Unix ms instant.
pub fn local_time(at_ms: u64) -> String {
    let minutes = (at_ms as i64 / 60_000 + SERVICE_UTC_OFFSET_MINUTES).rem_euclid(1440);
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

pub fn order_pb(snapshot: &OrderSnapshot) -> pb::Order {
    let order = &snapshot.order;
    let status = match order.status {
        OrderStatus::Held => pb::OrderStatus::Held,
        OrderStatus::Confirmed => pb::OrderStatus::Confirmed,
        OrderStatus::Cancelled => pb::OrderStatus::Cancelled,
        // A change's old order: its seats and fare moved to the new one.
        OrderStatus::Refunded if order.change.changed_to.is_some() => pb::OrderStatus::Changed,
        OrderStatus::Refunded => pb::OrderStatus::Refunded,
        OrderStatus::Expired => pb::OrderStatus::Expired,
    };
    pb::Order {
        order_id: order.id.to_string(),
        user_id: order.user_id.clone(),
        request_id: order.request_id.clone(),
        train_date: Some(train_date_pb(&snapshot.key)),
        from_station: snapshot.from_station.clone(),
        to_station: snapshot.to_station.clone(),
        depart_at_ms: snapshot.depart_at_ms,
        arrive_at_ms: snapshot.arrive_at_ms,
        status: status.into(),
        tickets: order
            .tickets
            .iter()
            .zip(&snapshot.seats)
            .map(|(ticket, (carriage, seat))| pb::Ticket {
                passenger_name: ticket.passenger_name.clone(),
                id_number_masked: mask_id(&ticket.id_number),
                seat_class: seat_class_to_pb(ticket.class).into(),
                carriage: u32::from(*carriage),
                seat: seat.clone(),
                fare_fen: ticket.fare_fen,
                preference_met: ticket.preference_met,
            })
            .collect(),
        total_fare_fen: order.total_fare_fen(),
        held_at_ms: order.held_at_ms,
        expires_at_ms: order.expires_at_ms,
        updated_at_ms: order.updated_at_ms,
        changed_to_order_id: order.change.changed_to.map(|order_id| order_id.to_string()).unwrap_or_default(),
    }
}

pub fn offer_pb(offer: &TrainOffer, catalog: &Catalog) -> pb::TrainOffer {
    let name = |code: &str| catalog.station(code).map(|station| station.name).unwrap_or_default();
    pb::TrainOffer {
        train_date: Some(train_date_pb(&offer.key)),
        from_station: offer.from_station.clone(),
        from_station_name: name(&offer.from_station),
        to_station: offer.to_station.clone(),
        to_station_name: name(&offer.to_station),
        from_stop: offer.from_stop as u32,
        to_stop: offer.to_stop as u32,
        depart_at_ms: offer.depart_at_ms,
        arrive_at_ms: offer.arrive_at_ms,
        depart_time: local_time(offer.depart_at_ms),
        arrive_time: local_time(offer.arrive_at_ms),
        distance_km: offer.distance_km,
        duration_minutes: (offer.arrive_at_ms.saturating_sub(offer.depart_at_ms) / 60_000) as u32,
        on_sale: offer.on_sale,
        classes: offer
            .classes
            .iter()
            .map(|class| pb::ClassOffer {
                seat_class: seat_class_to_pb(class.class).into(),
                remaining: class.remaining,
                fare_fen: class.fare_fen,
                plenty: false,
            })
            .collect(),
    }
}

pub fn seat_map_pb(key: &TrainDateKey, map: &SeatMap) -> pb::SeatMap {
    let letters = map.letters.len();
    pb::SeatMap {
        train_date: Some(train_date_pb(key)),
        carriage: u32::from(map.carriage),
        seat_class: seat_class_to_pb(map.class).into(),
        letters: map.letters.clone(),
        rows: map
            .free
            .chunks(letters)
            .enumerate()
            .map(|(index, free)| pb::SeatRow { row: index as u32 + 1, free: free.to_vec() })
            .collect(),
    }
}

pub fn train_date_info_pb(summary: &TrainDateSummary) -> pb::TrainDateInfo {
    pb::TrainDateInfo {
        train_date: Some(train_date_pb(&summary.key)),
        sales_open: summary.sales == SalesStatus::Open,
        seat_count: summary.seat_count,
        stop_count: summary.stop_count as u32,
        held_orders: summary.totals.held_orders,
        held_tickets: summary.totals.held_tickets,
        sold_tickets: summary.totals.sold_tickets,
        mailbox_depth: summary.mailbox_depth as u32,
    }
}

pub fn stats_pb(stats: &EngineStats) -> pb::StatsResponse {
    pb::StatsResponse {
        actors: stats.train_dates as u64,
        arbiters: stats.arbiters as u32,
        stations: stats.stations as u64,
        trains: stats.trains as u64,
        orders: stats.orders as u64,
        held_orders: stats.held_orders,
        held_tickets: stats.held_tickets,
        sold_tickets: stats.sold_tickets,
        mailbox_depth_total: stats.mailbox_depth_total,
        mailbox_depth_max: stats.mailbox_depth_max,
        busiest: stats.busiest.as_ref().map(train_date_pb),
        sold_out_gate_rejections: stats.sold_out_gate_rejections,
        waitlist_waiting: stats.waitlist_waiting,
        waitlist_queues: stats
            .waitlist_queues
            .iter()
            .map(|(key, class, waiting)| pb::WaitlistQueue {
                train_date: Some(train_date_pb(key)),
                seat_class: seat_class_to_pb(*class).into(),
                waiting: *waiting,
            })
            .collect(),
        ..Default::default()
    }
}

pub fn add_journal_stats(stats: &mut pb::StatsResponse, writer: &WriterStats) {
    let batches = writer.batches.load(Ordering::Relaxed);
    stats.journal_batches = batches;
    stats.journal_events = writer.events.load(Ordering::Relaxed);
    stats.journal_failed_batches = writer.failed_batches.load(Ordering::Relaxed);
    stats.journal_commit_micros_mean = writer.commit_micros_total.load(Ordering::Relaxed) / batches.max(1);
    stats.journal_batch_sizes = writer.batch_sizes.iter().map(|count| count.load(Ordering::Relaxed)).collect();
    while stats.journal_batch_sizes.last() == Some(&0) {
        stats.journal_batch_sizes.pop();
    }
}
