//! Where train-date actors live: the arbiters they run on, the map from
//! train-date to address, and the global order indexes.

use crate::actor::TrainDateActor;
use crate::actor::view::TrainDateShared;
use crate::domain::order::OrderId;
use crate::domain::state::TrainDateKey;
use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};
use actix_rt::{Arbiter, ArbiterHandle, System};
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use thiserror::Error;

/// Global indexes so an order is found by id alone, and a user's orders are
/// listed without asking every actor.
#[derive(Default)]
pub struct OrderIndex {
    by_id: DashMap<OrderId, TrainDateKey>,
    /// A user's orders sorted by id. Ids are UUID v7, so this is creation
    /// order and new orders land at the end; a page starts after the last id
    /// of the one before, which stays right however orders come and go.
    by_user: DashMap<String, Vec<OrderId>>,
}

impl OrderIndex {
    pub fn record(&self, order_id: OrderId, key: &TrainDateKey, user_id: &str) {
        if self.by_id.insert(order_id, key.clone()).is_none() {
            let mut orders = self.by_user.entry(user_id.to_owned()).or_default();
            let position = orders.partition_point(|existing| *existing < order_id);
            orders.insert(position, order_id);
        }
    }

    /// Drops an order that was never made durable (its train-date rolled back).
    pub fn forget(&self, order_id: &OrderId, user_id: &str) {
        if self.by_id.remove(order_id).is_some()
            && let Some(mut orders) = self.by_user.get_mut(user_id)
        {
            orders.retain(|existing| existing != order_id);
        }
    }

    pub fn train_date_of(&self, order_id: &OrderId) -> Option<TrainDateKey> {
        self.by_id.get(order_id).map(|key| key.clone())
    }

    /// Up to `limit` of a user's order ids after `after` (from the first
    /// when None), whether more follow them, and the user's total.
    pub fn user_orders(&self, user_id: &str, after: Option<OrderId>, limit: usize) -> (Vec<OrderId>, bool, usize) {
        let Some(orders) = self.by_user.get(user_id) else { return (Vec::new(), false, 0) };
        let start = after.map_or(0, |after| orders.partition_point(|existing| *existing <= after));
        let page: Vec<OrderId> = orders[start..].iter().take(limit).copied().collect();
        let more = start + page.len() < orders.len();
        (page, more, orders.len())
    }

    /// Whether `user_id` has an order (in any status) on train-date `key`.
    pub fn user_has_order_on(&self, user_id: &str, key: &TrainDateKey) -> bool {
        let Some(orders) = self.by_user.get(user_id) else { return false };
        orders.iter().any(|order_id| self.by_id.get(order_id).is_some_and(|home| *home == *key))
    }

    pub fn order_count(&self) -> usize {
        self.by_id.len()
    }
}

/// The actix system and its arbiters, on threads of their own, so actors run
/// beside (not inside) the tokio runtime that serves gRPC.
pub struct ActorHost {
    system: System,
    arbiters: Vec<ArbiterHandle>,
    next_arbiter: AtomicUsize,
}

impl ActorHost {
    /// Starts `arbiter_count` arbiters (at least one), each a thread with its
    /// own event loop.
    pub fn start(arbiter_count: usize) -> Self {
        let arbiter_count = arbiter_count.max(1);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("actix-system".into())
            .spawn(move || {
                let system = actix_rt::System::new();
                let arbiters: Vec<Arbiter> = (0..arbiter_count).map(|_| Arbiter::new()).collect();
                let handles = arbiters.iter().map(Arbiter::handle).collect::<Vec<_>>();
                started_tx.send((System::current(), handles)).expect("host waits for arbiters");
                system.run().expect("actix system ran");
            })
            .expect("spawn actix system thread");
        let (system, arbiters) = started_rx.recv().expect("actix system started");
        ActorHost { system, arbiters, next_arbiter: AtomicUsize::new(0) }
    }

    pub fn arbiter_count(&self) -> usize {
        self.arbiters.len()
    }

    /// Arbiters in turn, so actors spread evenly over cores.
    pub fn next_arbiter(&self) -> &ArbiterHandle {
        let index = self.next_arbiter.fetch_add(1, Ordering::Relaxed) % self.arbiters.len();
        &self.arbiters[index]
    }
}

impl Drop for ActorHost {
    fn drop(&mut self) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
        self.system.stop();
    }
}

/// A running train-date: its address and what it publishes.
#[derive(Clone)]
pub struct TrainDateHandle {
    pub addr: Addr<TrainDateActor>,
    pub shared: Arc<TrainDateShared>,
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SendError {
    #[error("train-date {0} has {1} messages waiting; try again shortly")]
    MailboxFull(TrainDateKey, usize),
    #[error("train-date {0} is not running")]
    Stopped(TrainDateKey),
}

impl TrainDateHandle {
    /// Sends a message unless the mailbox is at its bound, and awaits the reply.
    pub async fn ask<M>(&self, key: &TrainDateKey, msg: M) -> Result<M::Result, SendError>
    where
        M: Message + Send + 'static,
        M::Result: Send,
        TrainDateActor: Handler<M>,
        <TrainDateActor as Actor>::Context: ToEnvelope<TrainDateActor, M>,
    {
        let pending = &self.shared.pending_messages;
        let bound = self.shared.mailbox_pending_max;
        if pending.fetch_add(1, Ordering::AcqRel) >= bound {
            pending.fetch_sub(1, Ordering::AcqRel);
            return Err(SendError::MailboxFull(key.clone(), bound));
        }
        self.addr.send(msg).await.map_err(|_| {
            // A stopped actor never handles the message, so it cannot count it out.
            pending.fetch_sub(1, Ordering::AcqRel);
            SendError::Stopped(key.clone())
        })
    }

    pub fn mailbox_depth(&self) -> usize {
        self.shared.pending_messages.load(Ordering::Relaxed)
    }
}

/// Open train-dates by key.
#[derive(Default)]
pub struct Registry {
    train_dates: DashMap<TrainDateKey, TrainDateHandle>,
}

impl Registry {
    pub fn get(&self, key: &TrainDateKey) -> Option<TrainDateHandle> {
        self.train_dates.get(key).map(|handle| handle.clone())
    }

    /// Inserts the handle `spawn` makes unless the key is already open;
    /// returns whether it spawned.
    pub fn open_with(&self, key: TrainDateKey, spawn: impl FnOnce() -> TrainDateHandle) -> bool {
        match self.train_dates.entry(key) {
            dashmap::Entry::Occupied(_) => false,
            dashmap::Entry::Vacant(vacant) => {
                vacant.insert(spawn());
                true
            }
        }
    }

    /// Takes a train-date out; its actor keeps running until told to stop.
    pub fn remove(&self, key: &TrainDateKey) -> Option<TrainDateHandle> {
        self.train_dates.remove(key).map(|(_, handle)| handle)
    }

    pub fn len(&self) -> usize {
        self.train_dates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.train_dates.is_empty()
    }

    /// Every open train-date's key, sorted by date then train.
    pub fn sorted_keys(&self) -> Vec<TrainDateKey> {
        let mut keys: Vec<TrainDateKey> = self.train_dates.iter().map(|entry| entry.key().clone()).collect();
        keys.sort();
        keys
    }

    /// Visits every handle; the visitor must not touch the registry.
    pub fn for_each(&self, mut visit: impl FnMut(&TrainDateKey, &TrainDateHandle)) {
        for entry in self.train_dates.iter() {
            visit(entry.key(), entry.value());
        }
    }
}
