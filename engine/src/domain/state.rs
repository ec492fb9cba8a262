//! One train-date's whole state, owned by its actor and changed only by `apply`.

use super::change::{IncomingStatus, TrainDateChanges};
use super::inventory::SeatInventory;
use super::order::{Order, OrderId, OrderStatus};
use super::plan::TrainPlan;
use super::settings::TicketRules;
use super::timetable::StationCode;
use super::waitlist::{TrainDateWaitlist, WaitlistRequestId};
use crate::workflow::request::{RequestStatus, WaitlistRequest};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The maps every hold reads and writes. SipHash was an eighth of a hold's
/// instructions; foldhash is several times cheaper and, seeded at random per
/// map, still gives no outside caller a way to aim collisions at one bucket.
pub type StateMap<K, V> = HashMap<K, V, foldhash::quality::RandomState>;
use std::fmt;
use std::sync::Arc;

/// One run of a train on one departure date. Spelled `2026-11-25/G1`
/// everywhere (messages, logs, the journal's stream ids), so keys sort by
/// date as they do in memory.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TrainDateKey {
    /// Departure date of the run from its first stop (service time, UTC+8).
    pub date: NaiveDate,
    /// Train code, such as `G1`.
    pub train: String,
}

impl TrainDateKey {
    pub fn new(train: impl Into<String>, date: NaiveDate) -> Self {
        TrainDateKey { date, train: train.into() }
    }
}

impl fmt::Display for TrainDateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.date, self.train)
    }
}

impl std::str::FromStr for TrainDateKey {
    type Err = chrono::ParseError;

    /// Parses the spelling `Display` writes: `YYYY-MM-DD/TRAIN`.
    fn from_str(spelled: &str) -> Result<Self, Self::Err> {
        let (date, train) = spelled.split_once('/').unwrap_or((spelled, ""));
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")?;
        Ok(TrainDateKey::new(train, date))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SalesStatus {
    Open,
    /// Closed by an operator (or the scheduler) at `at_ms`.
    Closed {
        at_ms: u64,
    },
}

/// (user id, request id) as the requests map is keyed, so a lookup can
/// borrow both strings instead of allocating a key on every hold.
pub trait RequestKey {
    fn user_id(&self) -> &str;
    fn request_id(&self) -> &str;
}

impl RequestKey for (String, String) {
    fn user_id(&self) -> &str {
        &self.0
    }
    fn request_id(&self) -> &str {
        &self.1
    }
}

impl RequestKey for (&str, &str) {
    fn user_id(&self) -> &str {
        self.0
    }
    fn request_id(&self) -> &str {
        self.1
    }
}

impl<'a> std::borrow::Borrow<dyn RequestKey + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn RequestKey + 'a) {
        self
    }
}

/// Hashes as `(String, String)` does (field by field), as `Borrow` requires.
impl std::hash::Hash for dyn RequestKey + '_ {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.user_id().hash(state);
        self.request_id().hash(state);
    }
}

impl PartialEq for dyn RequestKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.user_id() == other.user_id() && self.request_id() == other.request_id()
    }
}

impl Eq for dyn RequestKey + '_ {}

/// A journey a passenger holds on this train-date, for the overlap rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassengerJourney {
    /// The order the journey belongs to, named in PASSENGER_OVERLAP.
    pub order_id: OrderId,
    /// Boarding stop index.
    pub from: u8,
    /// Alighting stop index.
    pub to: u8,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainDateState {
    pub key: TrainDateKey,
    pub plan: Arc<TrainPlan>,
    /// Unix ms of midnight, service time zone, on the departure date; stop
    /// times count from here.
    pub service_day_start_ms: u64,
    /// Seat masks and exact remaining counts.
    pub inventory: SeatInventory,
    /// Every order of the train-date, in any status.
    pub orders: StateMap<OrderId, Order>,
    /// (user id, request id) → the order that request made.
    pub requests: StateMap<(String, String), OrderId>,
    /// ID number → journeys that passenger holds seats for.
    pub passenger_journeys: StateMap<String, Vec<PassengerJourney>>,
    /// Held orders by expiry time, so expiry never scans all orders.
    pub hold_expiries: BTreeSet<(u64, OrderId)>,
    pub sales: SalesStatus,
    /// Seq of the last applied event; 0 for a new train-date.
    pub last_seq: u64,
    /// Running totals, kept so stats never scan orders.
    pub totals: TrainDateTotals,
    /// Fee tables and waitlist / change limits decide reads; configuration,
    /// not state, so never stored: every fee decided is in its event.
    #[serde(skip)]
    pub rules: Arc<TicketRules>,
    /// Waitlist choices naming this train-date; snapshots carry it as a list.
    #[serde(skip)]
    pub waitlist: TrainDateWaitlist,
    /// Ticket changes out of and into this train-date; snapshots carry them as lists.
    #[serde(skip)]
    pub changes: TrainDateChanges,
    /// Waitlist requests whose home (first choice) is this train-date, by id;
    /// snapshots carry them as a list. Changed through `put_request` and
    /// `take_request` only, which keep `request_deadlines` in step.
    #[serde(skip)]
    pub waitlist_requests: BTreeMap<WaitlistRequestId, WaitlistRequest>,
    /// Requests homed here that may still expire (submitted or active), by
    /// cut-off, so the expiry timer never scans the records. Derived.
    #[serde(skip)]
    request_deadlines: BTreeSet<(u64, WaitlistRequestId)>,
}

/// Counters a monitoring call reads without scanning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrainDateTotals {
    /// Orders currently Held.
    pub held_orders: u32,
    /// Tickets on Held orders.
    pub held_tickets: u32,
    /// Tickets on Confirmed orders.
    pub sold_tickets: u32,
}

/// Submitted or active: a cut-off can still expire it (a granted one
/// finishes its grant).
fn may_expire(record: &WaitlistRequest) -> bool {
    matches!(record.status, RequestStatus::Submitted | RequestStatus::Active)
}

/// Service time zone of every timetable: China Standard Time, UTC+8, no DST.
pub const SERVICE_UTC_OFFSET_MINUTES: i64 = 8 * 60;

/// Unix ms of midnight (service time) at the start of `date`.
pub fn service_day_start_ms(date: NaiveDate) -> u64 {
    let midnight_utc = date.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc().timestamp_millis();
    (midnight_utc - SERVICE_UTC_OFFSET_MINUTES * 60_000).max(0) as u64
}

/// The service date (UTC+8) that contains the Unix time `now_ms`.
pub fn service_date_of(now_ms: u64) -> NaiveDate {
    let shifted_ms = now_ms as i64 + SERVICE_UTC_OFFSET_MINUTES * 60_000;
    chrono::DateTime::from_timestamp_millis(shifted_ms).expect("time in range").date_naive()
}

impl TrainDateState {
    /// A freshly opened train-date: every seat free, sales open.
    pub fn open(key: TrainDateKey, plan: Arc<TrainPlan>) -> Self {
        let inventory = SeatInventory::new(&plan);
        TrainDateState {
            service_day_start_ms: service_day_start_ms(key.date),
            key,
            plan,
            inventory,
            orders: StateMap::default(),
            requests: StateMap::default(),
            passenger_journeys: StateMap::default(),
            hold_expiries: BTreeSet::new(),
            sales: SalesStatus::Open,
            last_seq: 0,
            totals: TrainDateTotals::default(),
            rules: Arc::default(),
            waitlist: TrainDateWaitlist::default(),
            changes: TrainDateChanges::default(),
            waitlist_requests: BTreeMap::new(),
            request_deadlines: BTreeSet::new(),
        }
    }

    /// Unix ms at which the train leaves stop `stop` (or reaches it, at the terminus).
    pub fn departure_ms(&self, stop: usize) -> u64 {
        self.service_day_start_ms + u64::from(self.plan.template.stops[stop].time_minutes()) * 60_000
    }

    pub fn stop_station(&self, stop: usize) -> &StationCode {
        &self.plan.template.stops[stop].station
    }

    pub fn order(&self, order_id: &OrderId) -> Option<&Order> {
        self.orders.get(order_id)
    }

    /// Stores a request record homed here.
    pub(crate) fn put_request(&mut self, record: WaitlistRequest) {
        if let Some(previous) = self.waitlist_requests.get(&record.id) {
            self.request_deadlines.remove(&(previous.deadline_ms, previous.id));
        }
        if may_expire(&record) {
            self.request_deadlines.insert((record.deadline_ms, record.id));
        }
        self.waitlist_requests.insert(record.id, record);
    }

    /// Takes a request record out, to change it and put it back.
    pub(crate) fn take_request(&mut self, request_id: &WaitlistRequestId) -> Option<WaitlistRequest> {
        let record = self.waitlist_requests.remove(request_id)?;
        self.request_deadlines.remove(&(record.deadline_ms, record.id));
        Some(record)
    }

    /// The earliest cut-off of a request homed here that may still expire.
    pub fn next_request_deadline_ms(&self) -> Option<u64> {
        self.request_deadlines.first().map(|(deadline_ms, _)| *deadline_ms)
    }

    /// Requests homed here whose cut-off is at or before `now_ms`, and that
    /// may still expire, earliest first.
    pub fn requests_due(&self, now_ms: u64) -> impl Iterator<Item = WaitlistRequestId> + '_ {
        self.request_deadlines.iter().take_while(move |(deadline_ms, _)| *deadline_ms <= now_ms).map(|(_, id)| *id)
    }

    pub fn order_for_request(&self, user_id: &str, request_id: &str) -> Option<&Order> {
        let order_id = self.requests.get(&(user_id, request_id) as &dyn RequestKey)?;
        self.orders.get(order_id)
    }

    /// Checks every derived structure against the orders and masks: counts
    /// equal a recount, no segment is taken twice, masks match the orders,
    /// totals match, waitlist reservations included. O(seats × pairs); run
    /// after replay and in tests.
    pub fn verify_invariants(&self) -> Result<(), String> {
        if self.inventory.remaining_table() != self.inventory.recount().as_slice() {
            return Err(format!("{}: remaining counts differ from a recount", self.key));
        }
        if !self.inventory.patterns_match_masks() {
            return Err(format!("{}: mask patterns differ from the seat masks", self.key));
        }
        let mut expected_masks = vec![0u64; self.inventory.seat_count()];
        let mut totals = TrainDateTotals::default();
        for order in self.orders.values() {
            match order.status {
                OrderStatus::Held => {
                    totals.held_orders += 1;
                    totals.held_tickets += order.tickets.len() as u32;
                    if !self.hold_expiries.contains(&(order.expires_at_ms, order.id)) {
                        return Err(format!("{}: held order {} has no expiry entry", self.key, order.id));
                    }
                }
                OrderStatus::Confirmed => totals.sold_tickets += order.tickets.len() as u32,
                _ => continue,
            }
            let bits = super::segments::journey_bits(usize::from(order.from), usize::from(order.to));
            for ticket in &order.tickets {
                let mask = &mut expected_masks[ticket.seat as usize];
                if *mask & bits != 0 {
                    return Err(format!("{}: seat {} segments sold twice", self.key, ticket.seat));
                }
                *mask |= bits;
            }
        }
        for choice in self.waitlist.live() {
            let Some(tickets) = &choice.reserved else { continue };
            let (from, to) = choice.journey();
            for ticket in tickets {
                let mask = &mut expected_masks[ticket.seat as usize];
                if *mask & super::segments::journey_bits(from, to) != 0 {
                    return Err(format!(
                        "{}: seat {} reserved for {} is taken",
                        self.key, ticket.seat, choice.position.choice
                    ));
                }
                *mask |= super::segments::journey_bits(from, to);
            }
        }
        for incoming in self.changes.incoming.values().filter(|incoming| incoming.status == IncomingStatus::Pending) {
            let bits = super::segments::journey_bits(usize::from(incoming.from), usize::from(incoming.to));
            for ticket in &incoming.tickets {
                let mask = &mut expected_masks[ticket.seat as usize];
                if *mask & bits != 0 {
                    return Err(format!(
                        "{}: seat {} taken for change {} is taken",
                        self.key, ticket.seat, incoming.change_id
                    ));
                }
                *mask |= bits;
            }
        }
        for (seat, expected) in expected_masks.iter().enumerate() {
            if self.inventory.mask(seat as u32) != *expected {
                return Err(format!("{}: seat {seat} mask differs from its orders", self.key));
            }
        }
        if self.totals != totals || self.hold_expiries.len() as u32 != totals.held_orders {
            return Err(format!("{}: running totals differ from the orders", self.key));
        }
        Ok(())
    }
}
