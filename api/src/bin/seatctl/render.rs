//! seatctl output: readable tables by default, JSON with --json.

use api::pb;
use serde::Serialize;
use serde_json::Value;

pub struct Output {
    pub json: bool,
}

impl Output {
    fn print_json<T: Serialize>(&self, value: &T) {
        let mut value = serde_json::to_value(value).expect("replies serialise");
        name_enums(&mut value);
        println!("{}", serde_json::to_string_pretty(&value).expect("json prints"));
    }

    pub fn status_error(&self, status: &tonic::Status) {
        let reason = api::status::reason_of(status).unwrap_or_default();
        let field = api::status::field_of(status).unwrap_or_default();
        if self.json {
            let error = serde_json::json!({
                "error": { "code": format!("{:?}", status.code()), "message": status.message(), "reason": reason, "field": field }
            });
            println!("{}", serde_json::to_string_pretty(&error).expect("json prints"));
        } else {
            eprintln!("error: {:?}: {} [{reason}]", status.code(), status.message());
        }
    }

    pub fn usage_error(&self, message: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "error": { "code": "Usage", "message": message } }));
        } else {
            eprintln!("error: {message}");
        }
    }

    pub fn token(&self, token: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "token": token }));
        } else {
            println!("{token}");
        }
    }

    pub fn done(&self, message: &str) {
        if self.json {
            println!("{}", serde_json::json!({ "ok": message }));
        } else {
            println!("{message}");
        }
    }

    pub fn imported(&self, stations: u32, trains: &[(String, pb::UpsertTrainResponse)]) {
        if self.json {
            let trains: Vec<Value> = trains
                .iter()
                .map(|(code, reply)| serde_json::json!({ "train": code, "outcome": outcome_name(reply.outcome), "seat_count": reply.seat_count }))
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "stations": stations, "trains": trains }))
                    .expect("json")
            );
            return;
        }
        println!("{stations} stations upserted");
        for (code, reply) in trains {
            println!("  {code:<8} {:<10} {} seats", outcome_name(reply.outcome), reply.seat_count);
        }
    }

    pub fn cluster(&self, status: &pb::ClusterStatusResponse, asked: Option<&pb::TrainDate>) {
        if self.json {
            return self.print_json(status);
        }
        println!(
            "{} nodes, {} slots, {} unowned (answered by {}, serving {})",
            status.nodes.len(),
            status.slot_count,
            status.slots_unowned,
            status.node_id,
            status.slots_served_here
        );
        println!("node             advertise              slots");
        for node in &status.nodes {
            println!("{:<16} {:<22} {:>5}", node.node_id, node.advertise, node.slots_owned);
        }
        if let Some(asked) = asked {
            let owner =
                if status.train_date_owner.is_empty() { "(nobody yet)" } else { status.train_date_owner.as_str() };
            println!(
                "{} {}: slot {}, served by {} (fencing token {})",
                asked.train, asked.date, status.train_date_slot, owner, status.train_date_token
            );
        }
    }

    pub fn presale(&self, reply: &pb::RunPresaleResponse) {
        if self.json {
            return self.print_json(reply);
        }
        println!("{} train-dates opened, {} already open, {} retired", reply.opened, reply.already_open, reply.retired);
    }

    pub fn opened(&self, reply: &pb::OpenTrainDatesResponse) {
        if self.json {
            return self.print_json(reply);
        }
        println!("{} train-dates opened, {} already open", reply.opened, reply.already_open);
    }

    pub fn offers(&self, offers: &[pb::TrainOffer]) {
        if self.json {
            return self.print_json(&serde_json::json!({ "trains": offers }));
        }
        if offers.is_empty() {
            println!("no open train-dates for this journey");
            return;
        }
        println!(
            "{:<6} {:<10} {:<12} {:>5} {:<12} {:>5} {:>7}  seats left (fare)",
            "train", "date", "from", "dep", "to", "arr", "km"
        );
        for offer in offers {
            let train_date = offer.train_date.clone().unwrap_or_default();
            let classes: Vec<String> = offer
                .classes
                .iter()
                .map(|class| {
                    format!("{} {} (¥{})", class_label(class.seat_class), class.remaining, yuan(class.fare_fen))
                })
                .collect();
            println!(
                "{:<6} {:<10} {} {:>5} {} {:>7} {:>5}  {}{}",
                train_date.train,
                train_date.date,
                pad(&offer.from_station_name, 12),
                offer.depart_time,
                pad(&offer.to_station_name, 12),
                format!("{}{}", offer.arrive_time, day_suffix(offer.depart_at_ms, offer.arrive_at_ms)),
                offer.distance_km,
                classes.join("  "),
                if offer.on_sale { "" } else { "  [not on sale]" },
            );
        }
    }

    pub fn seat_map(&self, map: &pb::SeatMap, from: &str, to: &str) {
        if self.json {
            return self.print_json(map);
        }
        let train_date = map.train_date.clone().unwrap_or_default();
        let free: usize = map.rows.iter().map(|row| row.free.iter().filter(|free| **free).count()).sum();
        println!(
            "{} {} carriage {:02} ({}) {from} → {to}: {free} free   □ free  ■ taken",
            train_date.train,
            train_date.date,
            map.carriage,
            class_label(map.seat_class)
        );
        let aisle = aisle_before(&map.letters);
        let mut header = String::from("     ");
        for (index, letter) in map.letters.chars().enumerate() {
            if Some(index) == aisle {
                header.push_str("   ");
            }
            header.push_str(&format!(" {letter} "));
        }
        println!("{header}");
        for row in &map.rows {
            let mut line = format!("  {:02} ", row.row);
            for (index, free) in row.free.iter().enumerate() {
                if Some(index) == aisle {
                    line.push_str("   ");
                }
                line.push_str(if *free { " □ " } else { " ■ " });
            }
            println!("{line}");
        }
    }

    pub fn order(&self, order: &pb::Order) {
        if self.json {
            return self.print_json(order);
        }
        let train_date = order.train_date.clone().unwrap_or_default();
        let status = pb::OrderStatus::try_from(order.status).map(|s| s.as_str_name()).unwrap_or("?");
        println!("order {}  {}", order.order_id, status.trim_start_matches("ORDER_STATUS_"));
        println!(
            "  {} {}  {} {} → {} {}  total ¥{}",
            train_date.train,
            train_date.date,
            order.from_station,
            api::convert::local_time(order.depart_at_ms),
            order.to_station,
            api::convert::local_time(order.arrive_at_ms),
            yuan(order.total_fare_fen)
        );
        if status == "ORDER_STATUS_HELD" {
            println!("  pay by {} (UTC+8)", api::convert::local_time(order.expires_at_ms));
        }
        for ticket in &order.tickets {
            println!(
                "  {:<10} {}  {:<12} carriage {:02} seat {:<4} ¥{}{}",
                ticket.passenger_name,
                ticket.id_number_masked,
                class_label(ticket.seat_class),
                ticket.carriage,
                ticket.seat,
                yuan(ticket.fare_fen),
                if ticket.preference_met { "" } else { "  (pick not available)" }
            );
        }
    }

    pub fn orders(&self, reply: &pb::ListOrdersResponse) {
        if self.json {
            return self.print_json(reply);
        }
        println!("{} orders in all", reply.total);
        for order in &reply.orders {
            self.order(order);
        }
        if !reply.next_page_token.is_empty() {
            println!("more: --page-token {}", reply.next_page_token);
        }
    }

    pub fn stations(&self, reply: &pb::ListStationsResponse) {
        if self.json {
            return self.print_json(reply);
        }
        if reply.stations.is_empty() {
            println!("no stations match");
            return;
        }
        println!("{:<8} {} pinyin", "code", pad("name", 12));
        for station in &reply.stations {
            println!("{:<8} {} {}", station.code, pad(&station.name, 12), station.pinyin);
        }
        if !reply.next_page_token.is_empty() {
            println!("more: --page-token {}", reply.next_page_token);
        }
    }

    pub fn train(&self, detail: &pb::TrainDetail) {
        if self.json {
            return self.print_json(detail);
        }
        let train_date = detail.train_date.clone().unwrap_or_default();
        println!(
            "{} {}  {} stops, {} carriages, {} seats, sales {}",
            train_date.train,
            train_date.date,
            detail.stops.len(),
            detail.carriages.len(),
            detail.seat_count,
            if detail.sales_open { "open" } else { "closed" }
        );
        let origin_ms = detail.stops.first().and_then(|stop| stop.depart_at_ms).unwrap_or_default();
        let time = |at_ms: Option<u64>, shown: &str| match at_ms {
            Some(at_ms) => format!("{shown}{}", day_suffix(origin_ms, at_ms)),
            None => String::new(),
        };
        println!("{:>4}  {} {:<7} {:<7} {:>5}", "stop", pad("station", 17), "arrive", "depart", "km");
        for stop in &detail.stops {
            println!(
                "{:>4}  {} {:<7} {:<7} {:>5}",
                stop.index,
                pad(&format!("{} {}", stop.station_name, stop.station), 17),
                time(stop.arrive_at_ms, &stop.arrive_time),
                time(stop.depart_at_ms, &stop.depart_time),
                stop.distance_km
            );
        }
        println!("{:>4}  {:<12} {:>4} {:<7} {:>5}", "car", "class", "rows", "letters", "seats");
        for carriage in &detail.carriages {
            println!(
                "{:>4}  {:<12} {:>4} {:<7} {:>5}",
                format!("{:02}", carriage.number),
                class_label(carriage.seat_class),
                carriage.rows,
                carriage.letters,
                carriage.seat_count
            );
        }
    }

    pub fn train_dates(&self, reply: &pb::ListTrainDatesResponse) {
        if self.json {
            return self.print_json(reply);
        }
        println!(
            "{:<8} {:<10} {:>5} {:>6} {:>6} {:>6} {:>7}  sales",
            "train", "date", "stops", "seats", "held", "sold", "mailbox"
        );
        for info in &reply.train_dates {
            let train_date = info.train_date.clone().unwrap_or_default();
            println!(
                "{:<8} {:<10} {:>5} {:>6} {:>6} {:>6} {:>7}  {}",
                train_date.train,
                train_date.date,
                info.stop_count,
                info.seat_count,
                info.held_tickets,
                info.sold_tickets,
                info.mailbox_depth,
                if info.sales_open { "open" } else { "closed" }
            );
        }
        if !reply.next_page_token.is_empty() {
            println!("more: --page-token '{}'", reply.next_page_token);
        }
    }

    pub fn stats(&self, stats: &pb::StatsResponse) {
        if self.json {
            return self.print_json(stats);
        }
        println!("actors (open train-dates) {}", stats.actors);
        println!("arbiters                  {}", stats.arbiters);
        println!("stations / trains         {} / {}", stats.stations, stats.trains);
        println!("orders                    {}", stats.orders);
        println!("held orders / tickets     {} / {}", stats.held_orders, stats.held_tickets);
        println!("sold tickets              {}", stats.sold_tickets);
        println!("mailbox depth total / max {} / {}", stats.mailbox_depth_total, stats.mailbox_depth_max);
        println!(
            "journal batches / events   {} / {} ({} failed, mean commit {} µs)",
            stats.journal_batches, stats.journal_events, stats.journal_failed_batches, stats.journal_commit_micros_mean
        );
        let sizes: Vec<String> = stats
            .journal_batch_sizes
            .iter()
            .enumerate()
            .filter(|(_, count)| **count > 0)
            .map(|(bucket, count)| format!("{}-{}: {count}", 1u64 << bucket, (1u64 << (bucket + 1)) - 1))
            .collect();
        if !sizes.is_empty() {
            println!("batch sizes (events)      {}", sizes.join(", "));
        }
    }
}

impl Output {
    /// One feed event: `POSITION  TRAIN DATE  seq N  KIND  COMMITTED  WHAT`,
    /// or one JSON object per line.
    pub fn feed_event(&self, event: &pb::FeedEvent) {
        if self.json {
            let mut value = serde_json::to_value(event).expect("events serialise");
            name_enums(&mut value);
            println!("{value}");
            return;
        }
        let train_date = event.train_date.clone().unwrap_or_default();
        println!(
            "{:>6}  {} {}  seq {:<5} {:<17} {}  {}",
            event.position,
            train_date.train,
            train_date.date,
            event.seq,
            event.kind,
            committed_at(event.committed_at_ms),
            feed_summary(event)
        );
    }
}

/// `YYYY-MM-DD HH:MM:SS.mmm` in service time (UTC+8); "-" when unknown
/// (history from before the feed).
fn committed_at(at_ms: u64) -> String {
    if at_ms == 0 {
        return "-".into();
    }
    let local = chrono::DateTime::from_timestamp_millis(at_ms as i64 + 8 * 3_600_000).unwrap_or_default();
    local.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// The event's gist: its order, and for a hold who and what.
fn feed_summary(event: &pb::FeedEvent) -> String {
    use pb::feed_event::Event;
    match &event.event {
        Some(Event::SeatsHeld(held)) => {
            let fare: u64 = held.tickets.iter().map(|ticket| ticket.fare_fen).sum();
            let stops = format!("stops {}→{}", held.from_stop_index, held.to_stop_index);
            format!(
                "order {}  {}  {} tickets  {stops}  ¥{}",
                held.order_id,
                held.user_id,
                held.tickets.len(),
                yuan(fare)
            )
        }
        Some(Event::OrderConfirmed(event)) => format!("order {}", event.order_id),
        Some(Event::HoldCancelled(event)) => format!("order {}", event.order_id),
        Some(Event::TicketsRefunded(event)) => format!("order {}", event.order_id),
        Some(Event::HoldExpired(event)) => format!("order {}", event.order_id),
        Some(Event::WaitlistJoined(joined)) => {
            let choice = joined.choice.clone().unwrap_or_default();
            format!("waitlist {}#{}  {}  order {}", choice.request_id, choice.index, joined.user_id, joined.order_id)
        }
        Some(Event::WaitlistSeatsReserved(reserved)) => {
            let choice = reserved.choice.clone().unwrap_or_default();
            format!("waitlist {}#{}  {} tickets", choice.request_id, choice.index, reserved.tickets.len())
        }
        Some(Event::WaitlistFulfilled(fulfilled)) => {
            let choice = fulfilled.choice.clone().unwrap_or_default();
            format!("waitlist {}#{}", choice.request_id, choice.index)
        }
        Some(Event::WaitlistLeft(left)) => {
            let choice = left.choice.clone().unwrap_or_default();
            let end = pb::WaitlistEnd::try_from(left.end).map(|end| end.as_str_name()).unwrap_or("?");
            format!(
                "waitlist {}#{}  {}",
                choice.request_id,
                choice.index,
                end.trim_start_matches("WAITLIST_END_").to_ascii_lowercase()
            )
        }
        Some(Event::ChangeStarted(change)) => format!("change {}  order {}", change.change_id, change.order_id),
        Some(Event::ChangeSeatsTaken(change)) => format!("change {}  order {}", change.change_id, change.new_order_id),
        Some(Event::ChangeCommitted(change)) => format!("change {}", change.change_id),
        Some(Event::ChangeAborted(change)) => format!("change {}", change.change_id),
        Some(Event::ChangeSeatsReleased(change)) => format!("change {}", change.change_id),
        Some(Event::ChangeCompleted(change)) => format!("change {}", change.change_id),
        Some(Event::TicketsChangedInPlace(change)) => {
            format!("change {}  order {} → {}", change.change_id, change.order_id, change.new_order_id)
        }
        Some(Event::WaitlistRequest(request)) => format!("waitlist {}", request.request_id),
        Some(Event::SalesClosed(_)) | None => String::new(),
    }
}

/// Replaces enum numbers with their names, so JSON output is self-explaining.
pub(crate) fn name_enums(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, entry) in map.iter_mut() {
                let Some(number) = entry.as_i64() else {
                    name_enums(entry);
                    continue;
                };
                let number = number as i32;
                let name = match key.as_str() {
                    "seat_class" => {
                        pb::SeatClass::try_from(number).ok().map(|c| c.as_str_name().trim_start_matches("SEAT_CLASS_"))
                    }
                    "end" => pb::WaitlistEnd::try_from(number)
                        .ok()
                        .map(|end| end.as_str_name().trim_start_matches("WAITLIST_END_")),
                    "status" => pb::OrderStatus::try_from(number)
                        .ok()
                        .map(|s| s.as_str_name().trim_start_matches("ORDER_STATUS_")),
                    _ => None,
                };
                if let Some(name) = name {
                    *entry = Value::String(name.to_ascii_lowercase());
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(name_enums),
        _ => {}
    }
}

fn outcome_name(outcome: i32) -> &'static str {
    match pb::upsert_train_response::Outcome::try_from(outcome) {
        Ok(pb::upsert_train_response::Outcome::Created) => "created",
        Ok(pb::upsert_train_response::Outcome::Updated) => "updated",
        Ok(pb::upsert_train_response::Outcome::Unchanged) => "unchanged",
        _ => "?",
    }
}

fn class_label(class: i32) -> &'static str {
    match pb::SeatClass::try_from(class) {
        Ok(pb::SeatClass::Business) => "business",
        Ok(pb::SeatClass::First) => "first",
        Ok(pb::SeatClass::Second) => "second",
        Ok(pb::SeatClass::SoftSleeper) => "soft-sleeper",
        Ok(pb::SeatClass::HardSleeper) => "hard-sleeper",
        _ => "?",
    }
}

/// `+N` when arrival is N service days after departure.
fn day_suffix(depart_at_ms: u64, arrive_at_ms: u64) -> String {
    use engine::domain::state::service_date_of;
    let days = (service_date_of(arrive_at_ms) - service_date_of(depart_at_ms)).num_days();
    if days > 0 { format!("+{days}") } else { String::new() }
}

fn yuan(fen: u64) -> String {
    format!("{}.{:02}", fen / 100, fen % 100)
}

/// Pads by display width, counting CJK characters as two columns.
fn pad(text: &str, width: usize) -> String {
    let shown: usize = text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum();
    format!("{text}{}", " ".repeat(width.saturating_sub(shown)))
}

/// Column index the aisle comes before: D where there is one, else F.
fn aisle_before(letters: &str) -> Option<usize> {
    letters.find('D').or_else(|| if letters.len() > 2 { letters.find('F') } else { None })
}
