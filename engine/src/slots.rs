//! Slots: how train-dates are sharded over the nodes of a cluster.
//!
//! Every train-date maps to one of `SLOT_COUNT` slots by a stable hash of its
//! key, and ownership moves by slot. Which node should own a slot follows
//! from the live members alone (rendezvous hashing), so no coordinator is
//! needed and a membership change moves only the slots of the node that came
//! or went. A node that owns a slot holds its fencing token: the etcd
//! revision of its claim, which the journal checks inside every append
//! transaction. This module is pure; the cluster layer in the API crate
//! talks to etcd and the database.

use crate::domain::state::TrainDateKey;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Slots in a cluster. Fixed for the life of a deployment: changing it would
/// move every train-date at once. 1,024 spreads 210,000 train-dates at about
/// 200 a slot, so a slot moves in well under a second, and is few enough that
/// a claim sweep over all of them is cheap.
pub const SLOT_COUNT: u16 = 1024;

/// A slot number, `0..SLOT_COUNT`.
pub type SlotId = u16;

/// The token a slot's owner writes with: the etcd revision of its claim.
/// Tokens only grow, so a later owner's token is always larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SlotFence {
    pub slot: SlotId,
    pub token: u64,
}

/// FNV-1a, 64 bits: stable across builds, platforms and releases (unlike
/// std's hasher, which is free to change), and spreads short keys well.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// A 64-bit finaliser (splitmix64), so nearby inputs land far apart.
fn mix(mut value: u64) -> u64 {
    value ^= value >> 30;
    value = value.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value ^= value >> 27;
    value = value.wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// The slot of a train-date: a hash of its key's one spelling, `YYYY-MM-DD/TRAIN`.
pub fn slot_of(key: &TrainDateKey) -> SlotId {
    let spelled = key.to_string();
    (mix(fnv1a(&[spelled.as_bytes()])) % u64::from(SLOT_COUNT)) as SlotId
}

/// The member that should own `slot`: the one with the highest hash of
/// (member, slot). Adding a member moves to it only the slots it now wins;
/// removing one moves only its slots. `None` when there are no members.
pub fn rendezvous_owner<'a>(slot: SlotId, members: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    members.into_iter().max_by_key(|member| (mix(fnv1a(&[member.as_bytes(), &slot.to_be_bytes()])), *member))
}

/// The slots this node serves and their tokens, shared by the engine (which
/// stamps every journal entry with its slot's token) and the cluster layer
/// (which claims and releases). A token of 0 means "not served here".
pub struct SlotTable {
    tokens: Box<[AtomicU64]>,
    /// Set once a slot's train-dates have all been recovered and started:
    /// until then a request for it is SLOT_MOVED (retry), not NOT_FOUND.
    ready: Box<[AtomicBool]>,
    /// Slots whose appends came back fenced: another node owns them now. The
    /// cluster layer drains this and stops serving them.
    fenced: Mutex<Vec<SlotId>>,
    /// Wakes the cluster layer when a slot is fenced.
    pub fenced_notify: tokio::sync::Notify,
}

impl Default for SlotTable {
    fn default() -> Self {
        SlotTable {
            tokens: (0..SLOT_COUNT).map(|_| AtomicU64::new(0)).collect(),
            ready: (0..SLOT_COUNT).map(|_| AtomicBool::new(false)).collect(),
            fenced: Mutex::new(Vec::new()),
            fenced_notify: tokio::sync::Notify::new(),
        }
    }
}

impl SlotTable {
    /// The token this node holds for `slot`, if it serves it.
    pub fn token(&self, slot: SlotId) -> Option<u64> {
        let token = self.tokens[usize::from(slot)].load(Ordering::Acquire);
        (token != 0).then_some(token)
    }

    /// The fence of `key`'s slot, if this node serves it.
    pub fn fence_of(&self, key: &TrainDateKey) -> Option<SlotFence> {
        let slot = slot_of(key);
        self.token(slot).map(|token| SlotFence { slot, token })
    }

    pub fn set(&self, fence: SlotFence) {
        assert!(fence.token != 0, "a fencing token is an etcd revision, never 0");
        self.tokens[usize::from(fence.slot)].store(fence.token, Ordering::Release);
    }

    /// Marks `slot` recovered: its train-dates are all running here.
    pub fn mark_ready(&self, slot: SlotId) {
        assert!(self.token(slot).is_some(), "only a served slot becomes ready");
        self.ready[usize::from(slot)].store(true, Ordering::Release);
    }

    /// Whether `slot` is served here and recovered.
    pub fn is_ready(&self, slot: SlotId) -> bool {
        self.ready[usize::from(slot)].load(Ordering::Acquire) && self.token(slot).is_some()
    }

    /// Stops serving `slot`; returns the token it had.
    pub fn clear(&self, slot: SlotId) -> Option<u64> {
        self.ready[usize::from(slot)].store(false, Ordering::Release);
        let token = self.tokens[usize::from(slot)].swap(0, Ordering::AcqRel);
        (token != 0).then_some(token)
    }

    /// Every slot served here with its token, in slot order.
    pub fn served(&self) -> Vec<SlotFence> {
        (0..SLOT_COUNT).filter_map(|slot| self.token(slot).map(|token| SlotFence { slot, token })).collect()
    }

    /// Records that `fence` was refused by the journal (called by actors).
    pub fn report_fenced(&self, fence: SlotFence) {
        let mut fenced = self.fenced.lock().expect("fenced list lock");
        // At most one entry per slot: the list stays bounded by SLOT_COUNT.
        if !fenced.contains(&fence.slot) {
            fenced.push(fence.slot);
        }
        drop(fenced);
        self.fenced_notify.notify_one();
    }

    /// The slots reported fenced since the last call.
    pub fn take_fenced(&self) -> Vec<SlotId> {
        std::mem::take(&mut *self.fenced.lock().expect("fenced list lock"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn key(train: &str, day: u32) -> TrainDateKey {
        TrainDateKey::new(train, NaiveDate::from_ymd_opt(2026, 11, day).unwrap())
    }

    #[test]
    fn slots_are_stable_and_in_range() {
        // Pinned: a changed hash would move every train-date of a running cluster.
        assert_eq!(slot_of(&key("G1", 25)), slot_of(&key("G1", 25)));
        let pinned = [slot_of(&key("G1", 25)), slot_of(&key("G3", 25)), slot_of(&key("G1", 26))];
        assert_eq!(pinned, [PINNED_G1_25, PINNED_G3_25, PINNED_G1_26]);
        for day in 1..=30 {
            for train in ["G1", "G3", "D701", "K1234"] {
                assert!(slot_of(&key(train, day)) < SLOT_COUNT);
            }
        }
    }

    const PINNED_G1_25: SlotId = 758;
    const PINNED_G3_25: SlotId = 289;
    const PINNED_G1_26: SlotId = 792;

    #[test]
    fn slots_spread_evenly() {
        let mut counts = vec![0u32; usize::from(SLOT_COUNT)];
        for train in 0..2000 {
            for day in 1..=15 {
                counts[usize::from(slot_of(&key(&format!("G{train}"), day)))] += 1;
            }
        }
        // 30,000 keys over 1,024 slots: about 29 each.
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(*min >= 8 && *max <= 60, "min {min} max {max}");
    }

    #[test]
    fn rendezvous_moves_only_the_slots_of_the_member_that_changed() {
        let three = ["a", "b", "c"];
        let two = ["a", "b"];
        let mut moved = 0;
        for slot in 0..SLOT_COUNT {
            let before = rendezvous_owner(slot, three).unwrap();
            let after = rendezvous_owner(slot, two).unwrap();
            if before != "c" {
                assert_eq!(before, after, "slot {slot} moved although its owner stayed");
            } else {
                moved += 1;
            }
        }
        // About a third of the slots were c's.
        assert!((250..=440).contains(&moved), "{moved} slots moved");
        assert_eq!(rendezvous_owner(7, std::iter::empty::<&str>()), None);
        // Order of the member list does not matter.
        assert_eq!(rendezvous_owner(7, ["c", "a", "b"]), rendezvous_owner(7, three));
    }

    #[test]
    fn table_serves_sets_clears_and_reports() {
        let table = SlotTable::default();
        assert_eq!(table.token(3), None);
        table.set(SlotFence { slot: 3, token: 41 });
        assert_eq!(table.fence_of(&key("G1", 25)).is_some(), slot_of(&key("G1", 25)) == 3);
        assert_eq!(table.served(), vec![SlotFence { slot: 3, token: 41 }]);
        table.report_fenced(SlotFence { slot: 3, token: 41 });
        table.report_fenced(SlotFence { slot: 3, token: 41 });
        assert_eq!(table.take_fenced(), vec![3]);
        assert_eq!(table.clear(3), Some(41));
        assert!(table.served().is_empty());
    }
}
