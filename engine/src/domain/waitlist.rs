//! The waitlist (候补) queue of one train-date: the choices of active
//! requests that name this train-date, per seat class, in the order their
//! requests became active. Changed only by `apply`.
//!
//! A choice is *waiting* until seats free up that fit all its passengers;
//! then the decision that freed them *reserves* the seats for it (they are
//! taken in the inventory like a hold's, but belong to no order yet). The
//! request's record then grants one choice: the winner's reservation becomes
//! a confirmed order, the others leave the queue. See `crate::workflow`.
//!
//! Waiting choices are also kept in fit groups (`FitGroup`): choices of one
//! class, journey and party size need the same free seats, so a release
//! tests each group's room once and reads only the heads of groups with room
//! (`crate::decide::serve`), instead of every waiting choice. The groups are
//! derived from the choices and rebuilt by `insert` on replay and restore;
//! snapshots and the journal do not carry them.

use super::allocation_policy::AllocationPolicy;
use super::order::{OrderId, Ticket};
use super::seat_class::SeatClass;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use uuid::Uuid;

/// The UUID v5 namespace of keyed request ids (`WaitlistRequestId::keyed`):
/// fixed forever, or a repeated Submit would make a new request.
const KEYED_REQUEST_NAMESPACE: Uuid = Uuid::from_u128(0x5ea7_0c1d_14e5_4a6b_9c3e_77a0_b1d2_e3f4);

/// Globally unique waitlist request id (UUID v7, chosen by the caller).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WaitlistRequestId(pub Uuid);

impl WaitlistRequestId {
    /// A new id for a request whose record lives in slot `home_slot`: a UUID
    /// v7 whose 12 bits after the version (random in v7) carry the slot.
    /// Any node can then route a call that names only the id to the node
    /// serving its record, without a lookup; the timestamp and the 62
    /// random bits after the variant keep ids unique and time-ordered.
    pub fn homed(uuid_v7: Uuid, home_slot: crate::slots::SlotId) -> Self {
        const { assert!(crate::slots::SLOT_COUNT <= 1 << 12, "a slot must fit v7's 12-bit rand_a") };
        let mut bytes = *uuid_v7.as_bytes();
        bytes[6] = (bytes[6] & 0xf0) | ((home_slot >> 8) as u8 & 0x0f);
        bytes[7] = (home_slot & 0xff) as u8;
        WaitlistRequestId(Uuid::from_bytes(bytes))
    }

    /// The id of the request a client keys with `client_request_id`: a UUID
    /// v5 of (user, key), so a repeated Submit names the same request and
    /// the record answers it (idempotent), carrying the home slot as
    /// `homed` does. Not time-ordered.
    pub fn keyed(user_id: &str, client_request_id: &str, home_slot: crate::slots::SlotId) -> Self {
        // The user id's length first, so ("ab", "c") and ("a", "bc") differ.
        let name = format!("{}:{user_id}{client_request_id}", user_id.len());
        let hashed = Uuid::new_v5(&KEYED_REQUEST_NAMESPACE, name.as_bytes());
        let WaitlistRequestId(uuid) = Self::homed(hashed, home_slot);
        WaitlistRequestId(uuid)
    }

    /// The slot this request's record lives in (see `homed`).
    pub fn home_slot(&self) -> crate::slots::SlotId {
        let bytes = self.0.as_bytes();
        ((u16::from(bytes[6] & 0x0f) << 8) | u16::from(bytes[7])) % crate::slots::SLOT_COUNT
    }
}

impl fmt::Display for WaitlistRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One (train-date, class) choice of a request: the request and the
/// choice's index in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ChoiceRef {
    pub request_id: WaitlistRequestId,
    pub index: u8,
}

impl fmt::Display for ChoiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.request_id, self.index)
    }
}

/// A choice's place in its queue: requests are served in the order they
/// became active (the request record's activation time, ties broken by id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QueuePosition {
    pub activated_at_ms: u64,
    pub choice: ChoiceRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistPassenger {
    pub name: String,
    /// The passenger-overlap rule is per ID number, as for holds.
    pub id_number: String,
}

/// A choice in the queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitingChoice {
    pub position: QueuePosition,
    pub user_id: String,
    /// The order a fulfilled choice becomes, chosen by the caller so decide
    /// stays deterministic.
    pub order_id: OrderId,
    pub class: SeatClass,
    /// Boarding stop index.
    pub from: u8,
    /// Alighting stop index.
    pub to: u8,
    pub passengers: Vec<WaitlistPassenger>,
    /// Unix ms past which the choice no longer waits (the request's cut-off).
    pub deadline_ms: u64,
    /// How seats are ranked when it is served; configuration carried in.
    pub policy: AllocationPolicy,
    /// Seats reserved for it, awaiting the request record's grant.
    pub reserved: Option<Vec<Ticket>>,
}

impl WaitingChoice {
    pub fn journey(&self) -> (usize, usize) {
        (usize::from(self.from), usize::from(self.to))
    }

    /// Idempotency key of the order a fulfilled choice becomes.
    pub fn order_request_id(&self) -> String {
        format!("waitlist:{}", self.position.choice)
    }
}

/// What decides alike, for every waiting choice that shares it, whether
/// free seats fit: the journey and the party size (the class is the key
/// above it). Allocation needs nothing else: any `passengers` seats of the
/// class free over `from..to` seat the party. A choice's own cut-off and
/// passengers (the overlap rule) are checked one by one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FitGroup {
    pub from: u8,
    pub to: u8,
    pub passengers: u8,
}

impl FitGroup {
    pub fn of(choice: &WaitingChoice) -> Self {
        let passengers =
            u8::try_from(choice.passengers.len()).expect("a party fits in a u8 (3 at most by the settings)");
        FitGroup { from: choice.from, to: choice.to, passengers }
    }

    pub fn journey(&self) -> (usize, usize) {
        (usize::from(self.from), usize::from(self.to))
    }
}

/// Why a choice left the queue (or never could join it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChoiceEnd {
    /// Granted: its reservation became this confirmed order.
    Fulfilled { order_id: OrderId },
    /// Another choice of its request won.
    Lost,
    /// The request was cancelled (or expired) by its record.
    Withdrawn,
    /// Its cut-off passed before seats came free. A cut-off is never later
    /// than the settings allow, which is before departure, so a departure
    /// ends choices this way too.
    DeadlinePassed,
    /// An operator closed sales on the train-date.
    SalesClosed,
}

/// Every choice of the train-date, waiting, reserved or ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrainDateWaitlist {
    /// Live choices (waiting or reserved) per class, in queue order.
    queues: BTreeMap<SeatClass, BTreeMap<QueuePosition, WaitingChoice>>,
    /// Live choice → its class and position.
    positions: BTreeMap<ChoiceRef, (SeatClass, QueuePosition)>,
    /// Waiting (unreserved) choices per class and fit group, each group in
    /// queue order: what serving reads. Derived; empty groups are removed.
    waiting_groups: BTreeMap<SeatClass, BTreeMap<FitGroup, BTreeSet<QueuePosition>>>,
    /// Waiting (unreserved) choices by cut-off, so the sweep never scans.
    deadlines: BTreeSet<(u64, ChoiceRef)>,
    /// Choices that left, so a repeated join or leave changes nothing.
    ended: BTreeMap<ChoiceRef, ChoiceEnd>,
    /// Live choices holding a reservation.
    reserved_count: usize,
}

impl TrainDateWaitlist {
    /// No choice waits: what the seat-release path checks before anything else.
    pub fn has_waiting(&self) -> bool {
        !self.deadlines.is_empty()
    }

    /// The earliest cut-off of a waiting choice: when the expiry sweep is next due.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.deadlines.first().map(|(deadline_ms, _)| *deadline_ms)
    }

    pub fn choice(&self, choice: &ChoiceRef) -> Option<&WaitingChoice> {
        let (class, position) = self.positions.get(choice)?;
        self.queues.get(class)?.get(position)
    }

    pub fn ended(&self, choice: &ChoiceRef) -> Option<ChoiceEnd> {
        self.ended.get(choice).copied()
    }

    pub fn ended_choices(&self) -> impl Iterator<Item = (&ChoiceRef, &ChoiceEnd)> {
        self.ended.iter()
    }

    /// Live choices of `class` (waiting and reserved) in queue order.
    pub fn queue(&self, class: SeatClass) -> impl Iterator<Item = &WaitingChoice> {
        self.queues.get(&class).into_iter().flat_map(|queue| queue.values())
    }

    /// Every live choice, class by class.
    pub fn live(&self) -> impl Iterator<Item = &WaitingChoice> {
        self.queues.values().flat_map(|queue| queue.values())
    }

    /// Live choices of `class`: what the queue cap counts and stats show.
    pub fn len(&self, class: SeatClass) -> usize {
        self.queues.get(&class).map_or(0, BTreeMap::len)
    }

    pub fn reserved_count(&self) -> usize {
        self.reserved_count
    }

    /// Waiting choices ahead of `choice` in its queue: what a waiting user
    /// sees. Counts from whichever end of the queue is nearer, so asking
    /// about the newest choice (as every activation does) costs little
    /// however long the queue.
    pub fn ahead_of(&self, choice: &ChoiceRef) -> Option<usize> {
        let (class, position) = self.positions.get(choice)?;
        let queue = &self.queues[class];
        let waiting = |(_, entry): &(&QueuePosition, &WaitingChoice)| entry.reserved.is_none();
        let mut ahead = queue.range(..position).rev().filter(waiting);
        let mut behind = queue.range(position..).skip(1).filter(waiting);
        let mut counted = 0;
        loop {
            match (ahead.next(), behind.next()) {
                (None, _) => return Some(counted),
                (Some(_), None) => {
                    let waiting_in_class = self.waiting_count(*class);
                    let this_one = usize::from(queue[position].reserved.is_none());
                    return Some(waiting_in_class - counted - this_one);
                }
                (Some(_), Some(_)) => counted += 1,
            }
        }
    }

    /// Waiting (unreserved) choices of `class`.
    pub fn waiting_count(&self, class: SeatClass) -> usize {
        self.waiting_groups.get(&class).map_or(0, |groups| groups.values().map(BTreeSet::len).sum())
    }

    /// The fit groups of `class` with waiting choices, each with its
    /// choices' positions in queue order.
    pub fn waiting_groups(
        &self,
        class: SeatClass,
    ) -> impl ExactSizeIterator<Item = (FitGroup, &BTreeSet<QueuePosition>)> {
        let groups = self.waiting_groups.get(&class).map(BTreeMap::iter).unwrap_or_default();
        groups.map(|(group, positions)| (*group, positions))
    }

    /// The live choice of `class` at `position`.
    pub fn at(&self, class: SeatClass, position: &QueuePosition) -> Option<&WaitingChoice> {
        self.queues.get(&class)?.get(position)
    }

    /// Waiting choices whose cut-off is at or before `now_ms`, earliest first.
    pub fn due(&self, now_ms: u64) -> impl Iterator<Item = ChoiceRef> + '_ {
        self.deadlines.iter().take_while(move |(deadline, _)| *deadline <= now_ms).map(|(_, choice)| *choice)
    }

    /// Every waiting (unreserved) choice.
    pub fn waiting(&self) -> impl Iterator<Item = ChoiceRef> + '_ {
        self.deadlines.iter().map(|(_, choice)| *choice)
    }

    pub(crate) fn insert(&mut self, choice: WaitingChoice) {
        let key = choice.position.choice;
        assert!(!self.ended.contains_key(&key), "choice {key} joined after it ended");
        let previous = self.positions.insert(key, (choice.class, choice.position));
        assert!(previous.is_none(), "choice {key} joined twice");
        if choice.reserved.is_some() {
            self.reserved_count += 1;
        } else {
            self.deadlines.insert((choice.deadline_ms, key));
            self.group_insert(&choice);
        }
        self.queues.entry(choice.class).or_default().insert(choice.position, choice);
    }

    /// Marks `choice` reserved with `tickets`.
    pub(crate) fn reserve(&mut self, choice: &ChoiceRef, tickets: Vec<Ticket>) -> &WaitingChoice {
        let (class, position) = self.positions[choice];
        let entry = self.queues.get_mut(&class).and_then(|queue| queue.get_mut(&position)).expect("choice queued");
        assert!(entry.reserved.is_none(), "choice {choice} reserved twice");
        assert!(self.deadlines.remove(&(entry.deadline_ms, *choice)));
        entry.reserved = Some(tickets);
        self.reserved_count += 1;
        Self::group_remove(&mut self.waiting_groups, class, FitGroup::of(entry), &position);
        entry
    }

    /// Takes `choice` out of the queue, recording how it ended.
    pub(crate) fn remove(&mut self, choice: &ChoiceRef, end: ChoiceEnd) -> WaitingChoice {
        let (class, position) = self.positions.remove(choice).expect("choice queued");
        let queue = self.queues.get_mut(&class).expect("class queue exists");
        let entry = queue.remove(&position).expect("choice queued");
        if queue.is_empty() {
            self.queues.remove(&class);
        }
        if entry.reserved.is_some() {
            self.reserved_count -= 1;
        } else {
            assert!(self.deadlines.remove(&(entry.deadline_ms, *choice)));
            Self::group_remove(&mut self.waiting_groups, class, FitGroup::of(&entry), &position);
        }
        self.ended.insert(*choice, end);
        entry
    }

    fn group_insert(&mut self, choice: &WaitingChoice) {
        let group = self.waiting_groups.entry(choice.class).or_default().entry(FitGroup::of(choice)).or_default();
        assert!(group.insert(choice.position), "choice {} grouped twice", choice.position.choice);
    }

    /// Takes a choice out of its group, dropping the group (and the class)
    /// once empty so equal queues give equal groups.
    fn group_remove(
        groups: &mut BTreeMap<SeatClass, BTreeMap<FitGroup, BTreeSet<QueuePosition>>>,
        class: SeatClass,
        group: FitGroup,
        position: &QueuePosition,
    ) {
        let class_groups = groups.get_mut(&class).expect("a waiting choice's class has groups");
        let members = class_groups.get_mut(&group).expect("a waiting choice has a group");
        assert!(members.remove(position), "choice {} was not in its group", position.choice);
        if members.is_empty() {
            class_groups.remove(&group);
        }
        if class_groups.is_empty() {
            groups.remove(&class);
        }
    }

    /// Records that `choice` ended without ever joining (a refused join is
    /// not recorded; this is for restore only).
    pub(crate) fn restore_ended(&mut self, choice: ChoiceRef, end: ChoiceEnd) {
        self.ended.insert(choice, end);
    }
}

#[cfg(test)]
mod tests {
    use super::WaitlistRequestId;
    use crate::slots::SLOT_COUNT;
    use uuid::Uuid;

    #[test]
    fn a_homed_id_carries_its_slot_and_stays_a_v7_uuid() {
        for slot in [0, 1, 255, 256, 777, SLOT_COUNT - 1] {
            let raw = Uuid::now_v7();
            let id = WaitlistRequestId::homed(raw, slot);
            assert_eq!(id.home_slot(), slot);
            assert_eq!(id.0.get_version_num(), 7);
            assert_eq!(id.0.get_variant(), raw.get_variant());
            assert_eq!(id.0.get_timestamp(), raw.get_timestamp(), "the time order is kept");
        }
    }

    #[test]
    fn a_keyed_id_is_the_same_for_the_same_user_and_key_only() {
        let id = WaitlistRequestId::keyed("alice", "k1", 42);
        assert_eq!(id, WaitlistRequestId::keyed("alice", "k1", 42));
        assert_eq!(id.home_slot(), 42);
        assert_ne!(id, WaitlistRequestId::keyed("alice", "k2", 42));
        assert_ne!(id, WaitlistRequestId::keyed("bob", "k1", 42));
        assert_ne!(WaitlistRequestId::keyed("ab", "c", 1), WaitlistRequestId::keyed("a", "bc", 1));
    }
}
