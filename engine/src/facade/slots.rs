//! A cluster node taking over and giving up slots: adopting one raises its
//! fence in the database and recovers its train-dates from the journal;
//! releasing one stops its actors once what they applied is durable.

use super::{Engine, EngineError};
use crate::actor::Release;
use crate::domain::order::OrderId;
use crate::domain::state::TrainDateKey;
use crate::domain::timetable::TrainTemplate;
use crate::error::Unavailable;
use crate::slots::{SlotFence, SlotId, slot_of};
use std::collections::{HashMap, HashSet};
use std::time::Instant;
use tracing::info;

/// What adopting a batch of slots did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SlotAdoption {
    /// Slots now served here.
    pub adopted: Vec<SlotId>,
    /// Claims whose fence already held a newer token: another node owns
    /// those slots, and the claims should be given up.
    pub stale: Vec<SlotFence>,
    /// Train-dates recovered from the journal for them.
    pub train_dates: usize,
    /// Their keys: the workflow steps they owe are sent next (`resume_workflows`).
    pub keys: Vec<TrainDateKey>,
    /// Orders those train-dates hold.
    pub orders: usize,
    /// Time spent raising fences.
    pub fence_ms: u64,
    /// Time spent loading and checking train-dates.
    pub recovery_ms: u64,
}

impl Engine {
    /// Takes over `fences`' slots: raises each fence in the database (after
    /// which no older owner can commit to it), then recovers and starts every
    /// open train-date of those slots. A slot whose fence already holds a
    /// newer token is not adopted (`Fenced`); a database failure adopts none
    /// and may be retried.
    pub async fn adopt_slots(&self, fences: &[SlotFence], owner: &str) -> Result<SlotAdoption, EngineError> {
        let (Some(slots), Some(store)) = (self.slots.as_ref(), self.store().cloned()) else {
            return Err(EngineError::invalid("cluster", "this engine is not sharded"));
        };
        let started = Instant::now();
        let stored = store
            .advance_fences(fences.to_vec(), owner.to_owned())
            .await
            .map_err(|cause| EngineError::store("slot fence", cause))?;
        let stored: HashMap<SlotId, u64> = stored.into_iter().collect();
        // A newer owner got there first: that claim is stale; adopt the rest.
        let (fences, stale): (Vec<SlotFence>, Vec<SlotFence>) =
            fences.iter().partition(|fence| stored.get(&fence.slot).is_none_or(|token| *token <= fence.token));
        let fences = &fences[..];
        let fence_ms = started.elapsed().as_millis() as u64;
        let stored = store.load_train_dates().await.map_err(|cause| EngineError::store("train-dates", cause))?;
        let wanted: HashSet<SlotId> = fences.iter().map(|fence| fence.slot).collect();
        let train_dates: Vec<(TrainDateKey, TrainTemplate)> =
            stored.into_iter().filter(|(key, _)| wanted.contains(&slot_of(key))).collect();
        for fence in fences {
            slots.set(*fence);
        }
        let keys: Vec<TrainDateKey> = train_dates.iter().map(|(key, _)| key.clone()).collect();
        let (started_count, orders) = self.start_stored(train_dates).await?;
        for fence in fences {
            // Released meanwhile (a newer claim, or shutdown): stays unready.
            if slots.token(fence.slot) == Some(fence.token) {
                slots.mark_ready(fence.slot);
            }
        }
        let adoption = SlotAdoption {
            adopted: fences.iter().map(|fence| fence.slot).collect(),
            stale,
            train_dates: started_count,
            keys,
            orders,
            fence_ms,
            recovery_ms: started.elapsed().as_millis() as u64 - fence_ms,
        };
        info!(
            slots = adoption.adopted.len(),
            train_dates = started_count,
            orders,
            fence_ms,
            recovery_ms = adoption.recovery_ms,
            "slots adopted"
        );
        Ok(adoption)
    }

    /// Stops serving `slots`: new requests are refused at once, each actor
    /// stops once what it applied has been committed (or fenced), and its
    /// orders leave the local index. Returns the train-dates stopped.
    pub async fn release_slots(&self, slot_ids: &[SlotId]) -> usize {
        let Some(slots) = self.slots.as_ref() else { return 0 };
        for slot in slot_ids {
            slots.clear(*slot);
        }
        let released: HashSet<SlotId> = slot_ids.iter().copied().collect();
        let keys: Vec<TrainDateKey> =
            self.registry.sorted_keys().into_iter().filter(|key| released.contains(&slot_of(key))).collect();
        let mut stopping = Vec::with_capacity(keys.len());
        for key in &keys {
            if let Some(handle) = self.registry.remove(key) {
                // Counted in like every message (the actor counts it out),
                // but never refused for a full mailbox: a release must land.
                handle.shared.pending_messages.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
                stopping.push(handle.addr.send(Release));
            }
        }
        for stopped in futures_join(stopping).await {
            for (order_id, user) in stopped.unwrap_or_default() {
                self.orders.forget(&order_id, &user);
            }
        }
        keys.len()
    }

    /// The served slots whose fence in the database has moved past this
    /// node's token: another node claimed them, so they must be dropped.
    pub async fn fences_moved(&self) -> Result<Vec<SlotId>, EngineError> {
        let (Some(slots), Some(store)) = (self.slots.as_ref(), self.store()) else { return Ok(Vec::new()) };
        let served: HashMap<SlotId, u64> = slots.served().into_iter().map(|fence| (fence.slot, fence.token)).collect();
        if served.is_empty() {
            return Ok(Vec::new());
        }
        let stored = store
            .read_fences(served.keys().copied().collect())
            .await
            .map_err(|cause| EngineError::store("slot fences", cause))?;
        Ok(stored
            .into_iter()
            .filter(|(slot, token)| served.get(slot).is_some_and(|mine| token > mine))
            .map(|(slot, _)| slot)
            .collect())
    }

    /// Catches up with admin changes another node made: reloads stations and
    /// trains, starts the served slots' train-dates that were opened
    /// elsewhere, and stops the ones archived elsewhere. Returns how many
    /// started and stopped.
    pub async fn sync_with_store(&self) -> Result<(usize, usize), EngineError> {
        let Some(store) = self.store().cloned() else { return Ok((0, 0)) };
        let catalog = store.load_catalog().await.map_err(|cause| EngineError::store("catalog", cause))?;
        self.load_timetable(&catalog)?;
        let stored: HashSet<&TrainDateKey> = catalog.train_dates.iter().map(|(key, _)| key).collect();
        let archived: Vec<TrainDateKey> =
            self.registry.sorted_keys().into_iter().filter(|key| !stored.contains(key)).collect();
        for key in &archived {
            let Some(handle) = self.registry.remove(key) else { continue };
            if let Ok(orders) = handle.ask(key, crate::actor::Retire).await {
                for (order_id, user) in orders {
                    self.orders.forget(&order_id, &user);
                }
            }
        }
        let missing: Vec<(TrainDateKey, TrainTemplate)> =
            catalog.train_dates.iter().filter(|(key, _)| self.serves(key) && !self.is_running(key)).cloned().collect();
        let (started, _) = self.start_stored(missing).await?;
        Ok((started, archived.len()))
    }

    /// The train-date of an order: from this node's index, else (in a
    /// cluster) from the journal's order index.
    pub async fn locate_order(&self, order_id: OrderId) -> Result<Option<TrainDateKey>, EngineError> {
        if let Some(key) = self.orders.train_date_of(&order_id) {
            return Ok(Some(key));
        }
        match (self.slots.as_ref(), self.store()) {
            (Some(_), Some(store)) => {
                let home =
                    store.order_home(order_id).await.map_err(|cause| EngineError::store("order index", cause))?;
                Ok(home.map(|(key, _)| key))
            }
            _ => Ok(None),
        }
    }

    /// A page of a user's order ids from the journal's order index (every
    /// node's orders), whether more follow, and the user's total.
    pub async fn stored_user_orders(
        &self,
        user_id: &str,
        after: Option<OrderId>,
        limit: usize,
    ) -> Result<(Vec<OrderId>, bool, usize), EngineError> {
        let Some(store) = self.store() else { return Ok(self.orders.user_orders(user_id, after, limit)) };
        let limit = limit.clamp(1, super::booking::ORDERS_PER_PAGE_MAX);
        let (mut ids, total) = store
            .user_orders(user_id.to_owned(), after, limit + 1)
            .await
            .map_err(|cause| EngineError::store("order index", cause))?;
        let more = ids.len() > limit;
        ids.truncate(limit);
        Ok((ids, more, total))
    }

    /// SLOT_MOVED for a train-date this node does not serve now.
    pub fn slot_moved(&self, key: &TrainDateKey) -> EngineError {
        Unavailable::SlotMoved { key: key.clone(), slot: slot_of(key) }.into()
    }
}

/// Awaits every future, in order; a small stand-in for `join_all` so the
/// engine needs no futures crate. Each future is an actor's reply, so they
/// all make progress concurrently on their own arbiters while we wait.
async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut outputs = Vec::with_capacity(futures.len());
    for future in futures {
        outputs.push(future.await);
    }
    outputs
}
