//! The async facade the gRPC layer calls. Reads go to published views; every
//! change goes through a train-date actor's mailbox.

mod admin;
mod booking;
pub mod catalogue;
mod change;
pub mod peers;
mod presale;
mod recovery;
mod search;
mod slots;
mod waitlist;
mod watch;
mod workflow;

pub use crate::error::EngineError;
pub use admin::{EngineStats, OpenSummary, TrainDatePage, TrainDateSummary};
pub use booking::{HoldInput, OrderPage};
pub use change::{CHANGE_WAIT_MS, ChangeInput, ChangeProgress, ChangeView};
pub use presale::{PresaleRun, RETIRE_AFTER_ARRIVAL_MS};
pub use recovery::RecoverySummary;
pub use search::{ClassOffer, TrainOffer};
pub use slots::SlotAdoption;
pub use waitlist::{ACTIVATE_WAIT_MS, WAITLIST_LIST_MAX, WaitlistIndex, WaitlistInput, WaitlistView};
pub use watch::{AvailabilityWatch, WATCH_TRAIN_DATES_MAX, WatchDisplay, WatchedJourney};
pub use workflow::{EFFECT_ATTEMPTS_MAX, EFFECT_DELIVERIES_IN_FLIGHT_MAX, EFFECT_RETRY_FIRST_MS};

use crate::actor::view::TrainDateShared;
use crate::actor::{ActorSettings, TrainDateActor};
use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::domain::plan::TrainPlan;
use crate::domain::settings::TicketRules;
use crate::domain::state::{TrainDateKey, TrainDateState};
use crate::durability::Persistence;
use crate::durability::{Store, StoreError};
use crate::error::NotFound;
use crate::orders::OrderIndex;
use crate::registry::{ActorHost, Registry, TrainDateHandle};
use crate::slots::SlotTable;
use actix::Actor;
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Threads running actors; one per core by default.
    pub arbiters: usize,
    /// Behaviour every train-date actor starts with.
    pub actor: ActorSettings,
    /// Sales open this many days ahead: searches and holds for later dates
    /// are refused, and the scheduler keeps today..today+presale_days open.
    pub presale_days: u64,
    /// Waitlist, change and refund rules every train-date decides by.
    pub rules: Arc<TicketRules>,
}

/// Default presale window: 12306 sells 15 days ahead.
pub const PRESALE_DAYS_DEFAULT: u64 = 15;

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            arbiters: std::thread::available_parallelism().map(usize::from).unwrap_or(1),
            actor: ActorSettings::default(),
            presale_days: PRESALE_DAYS_DEFAULT,
            rules: Arc::default(),
        }
    }
}

pub struct Engine {
    catalog: Catalog,
    registry: Registry,
    orders: Arc<OrderIndex>,
    clock: Arc<dyn Clock>,
    settings: EngineSettings,
    /// Journal and store; `None` keeps everything in memory (engine tests only).
    persistence: Option<Persistence>,
    /// Holds the sold-out gate refused without entering a mailbox.
    sold_out_gate_rejections: std::sync::atomic::AtomicU64,
    host: ActorHost,
    /// In a cluster, the slots this node serves and their fencing tokens:
    /// only their train-dates run here. `None` on a single node, which
    /// serves every train-date.
    slots: Option<Arc<SlotTable>>,
    /// Where actors hand the effects of durable workflow steps.
    effects: tokio::sync::mpsc::Sender<crate::workflow::Effect>,
    /// The driver's end of `effects`, taken by `start_workflows`.
    effects_inbox: std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<crate::workflow::Effect>>>,
    /// Waitlist request id → home train-date, user → requests.
    waitlist: WaitlistIndex,
    /// In a cluster, carries workflow steps and reads to the node serving
    /// a train-date this node does not (`peers`). Unset on a single node.
    peers: std::sync::OnceLock<Arc<dyn peers::Peers>>,
    /// Effects the driver could not deliver within its attempts (the
    /// state's node was down or moving), sent again every
    /// `PARKED_RETRY_MS` until delivered (`workflow`).
    parked: std::sync::Mutex<Vec<crate::workflow::Effect>>,
}

impl Engine {
    /// Starts the arbiters; nothing is open yet. With `persistence`, every
    /// change is journaled and `recover` restores what the store holds.
    pub fn start(settings: EngineSettings, clock: Arc<dyn Clock>, persistence: Option<Persistence>) -> Self {
        let (effects, effects_inbox) = workflow::effect_channel();
        Engine {
            effects,
            effects_inbox: std::sync::Mutex::new(Some(effects_inbox)),
            waitlist: WaitlistIndex::default(),
            peers: std::sync::OnceLock::new(),
            parked: std::sync::Mutex::new(Vec::new()),
            persistence,
            sold_out_gate_rejections: Default::default(),
            catalog: Catalog::default(),
            registry: Registry::default(),
            orders: Arc::new(OrderIndex::default()),
            clock,
            host: ActorHost::start(settings.arbiters),
            settings,
            slots: None,
        }
    }

    /// Makes this engine one node of a cluster: it serves only the slots the
    /// cluster layer adopts into the returned table, and every journal entry
    /// carries its slot's fencing token. Call before `recover`.
    pub fn sharded(mut self) -> (Self, Arc<SlotTable>) {
        let slots = Arc::new(SlotTable::default());
        self.slots = Some(Arc::clone(&slots));
        (self, slots)
    }

    /// The slot table, in a cluster.
    pub fn slots(&self) -> Option<&Arc<SlotTable>> {
        self.slots.as_ref()
    }

    /// Whether this node serves `key`'s train-date: always on a single node;
    /// in a cluster, while it holds the slot.
    pub fn serves(&self, key: &TrainDateKey) -> bool {
        self.slots.as_ref().is_none_or(|slots| slots.fence_of(key).is_some())
    }

    /// Whether a train-date is running here now.
    pub fn is_running(&self, key: &TrainDateKey) -> bool {
        self.registry.get(key).is_some()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Today in service time (UTC+8), by the engine's clock.
    pub fn today(&self) -> chrono::NaiveDate {
        crate::domain::state::service_date_of(self.now_ms())
    }

    /// INVALID_ARGUMENT unless `date` lies from `days_back` days before today
    /// to the end of the presale window.
    fn check_sales_window(&self, field: &str, date: chrono::NaiveDate, days_back: u64) -> Result<(), EngineError> {
        let today = self.today();
        let first = today - chrono::Days::new(days_back);
        let last = today + chrono::Days::new(self.settings.presale_days);
        if date < first || date > last {
            return Err(EngineError::invalid(field, format!("{date} is outside the sales window {first} to {last}")));
        }
        Ok(())
    }

    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// The running train-date, or NOT_FOUND naming it.
    fn handle(&self, key: &TrainDateKey) -> Result<TrainDateHandle, EngineError> {
        self.registry.get(key).ok_or_else(|| NotFound::TrainDate(key.clone()).into())
    }

    fn spawn(&self, key: TrainDateKey, plan: Arc<TrainPlan>) -> TrainDateHandle {
        self.spawn_state(TrainDateState::open(key, plan))
    }

    /// Starts the actor that owns `state`; its events up to `state.last_seq`
    /// are durable. It decides by the engine's rules (configuration, never
    /// stored with the state).
    fn spawn_state(&self, mut state: TrainDateState) -> TrainDateHandle {
        state.rules = Arc::clone(&self.settings.rules);
        let shared = Arc::new(TrainDateShared::new(&state, self.settings.actor.mailbox_pending_max));
        let actor_shared = Arc::clone(&shared);
        let orders = Arc::clone(&self.orders);
        let clock = Arc::clone(&self.clock);
        let settings = self.settings.actor;
        let persistence = self.persistence.clone();
        let fence = self.slots.as_ref().and_then(|slots| Some((slots.fence_of(&state.key)?, Arc::clone(slots))));
        let effects = self.effects.clone();
        let addr = TrainDateActor::start_in_arbiter(self.host.next_arbiter(), move |_| {
            let actor =
                TrainDateActor::new(state, actor_shared, orders, clock, settings, persistence).with_effects(effects);
            match fence {
                Some((fence, slots)) => actor.with_fence(fence, slots),
                None => actor,
            }
        });
        TrainDateHandle { addr, shared }
    }
}

impl Engine {
    /// The store, if this engine persists.
    fn store(&self) -> Option<&Arc<dyn Store>> {
        self.persistence.as_ref().map(|persistence| &persistence.store)
    }

    /// Runs `write` against the store when there is one; its failure is UNAVAILABLE.
    async fn persist(
        &self,
        what: &'static str,
        write: impl FnOnce(&Arc<dyn Store>) -> crate::durability::BoxFuture<Result<(), StoreError>>,
    ) -> Result<(), EngineError> {
        match self.store() {
            Some(store) => write(store).await.map_err(|cause| EngineError::store(what, cause)),
            None => Ok(()),
        }
    }
}
