//! Where train-date actors live: the arbiters they run on, and the map from
//! train-date to address and published view.

use crate::actor::TrainDateActor;
use crate::actor::view::TrainDateShared;
use crate::domain::state::TrainDateKey;
use crate::error::{CommandError, Overload, Unavailable};
use actix::dev::ToEnvelope;
use actix::{Actor, Addr, Handler, Message};
use actix_rt::{Arbiter, ArbiterHandle, System};
use dashmap::DashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// Where its messages go; every change passes through this mailbox.
    pub addr: Addr<TrainDateActor>,
    /// What the actor publishes for reads that skip the mailbox.
    pub shared: Arc<TrainDateShared>,
}

impl TrainDateHandle {
    /// Sends a message unless the mailbox is at its bound, and awaits the reply.
    pub async fn ask<M>(&self, key: &TrainDateKey, msg: M) -> Result<M::Result, CommandError>
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
            return Err(Overload::MailboxFull { key: key.clone(), pending_max: bound }.into());
        }
        self.addr.send(msg).await.map_err(|_| {
            // A stopped actor never handles the message, so it cannot count it out.
            pending.fetch_sub(1, Ordering::AcqRel);
            Unavailable::Stopped { key: key.clone() }.into()
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
