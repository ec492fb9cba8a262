//! The journal behind seatd, read directly: every scenario train-date's
//! state (snapshot plus replayed events, as recovery loads it) and its whole
//! event history. The checks here are the test's own reading of those
//! records, not the engine's recovery rules (`workflow::pending_*`), so a
//! step those rules forget shows up as a workflow that never settles.
//!
//! - `owed`: every workflow step still owed (`unsettled`): seats reserved
//!   for a waitlist choice, a request granted but not fulfilled, a choice
//!   still queued for a request that ended, a change not ended or whose new
//!   seats are pending, and records of one workflow that disagree.
//! - `history`: the streams' events: the state recovery loads (snapshot
//!   plus tail) equal to a replay of the whole stream, each request
//!   fulfilled at most once, every queue served in order.
//! - `audit` (here): once settled, all of that and each train-date's own
//!   invariants (no seat sold twice, counts equal a recount).

mod history;
mod owed;

pub use owed::unsettled;

use super::Backend;
use engine::domain::change::ChangeOutcome;
use engine::domain::event::EventRecord;
use engine::domain::plan::TrainPlan;
use engine::domain::state::{TrainDateKey, TrainDateState};
use persistence::journal::{Journal, stream_id};
use persistence::mysql::MySqlJournal;
use persistence::sqlite::SqliteJournal;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Events read per query; a scenario stream holds a few hundred.
const PAGE_EVENTS: usize = 10_000;
/// Most events read of one stream: far above what the scenario writes.
const EVENTS_PER_STREAM_MAX: usize = 1_000_000;
/// How often `wait_settled` looks again.
const SETTLE_POLL: Duration = Duration::from_millis(50);

pub(super) type States = BTreeMap<TrainDateKey, TrainDateState>;
pub(super) type Histories = BTreeMap<TrainDateKey, Vec<EventRecord>>;

/// A reader of the journal seatd writes, on either backend.
pub enum Reader {
    Sqlite(SqliteJournal),
    MySql(MySqlJournal),
}

impl Reader {
    /// Opens the journal of a seatd started on `backend` (its schema is there).
    pub async fn open(backend: &Backend) -> Reader {
        match backend {
            Backend::Sqlite(dir) => {
                let path = dir.join(api::boot::SQLITE_FILE_NAME);
                Reader::Sqlite(SqliteJournal::open(&path).await.expect("open the SQLite journal"))
            }
            Backend::MySql(url, _) => {
                Reader::MySql(MySqlJournal::connect(url).await.expect("connect to the MySQL journal"))
            }
        }
    }

    /// The scenario's train-dates as stored now.
    pub async fn states(&self) -> States {
        match self {
            Reader::Sqlite(journal) => states(journal).await,
            Reader::MySql(journal) => states(journal).await,
        }
    }

    /// Every stored event of each scenario train-date, in seq order.
    async fn histories(&self) -> Histories {
        match self {
            Reader::Sqlite(journal) => histories(journal).await,
            Reader::MySql(journal) => histories(journal).await,
        }
    }
}

fn scenario_keys() -> Vec<TrainDateKey> {
    super::train_dates()
        .into_iter()
        .map(|(train, date)| TrainDateKey::new(train, date.parse().expect("service date")))
        .collect()
}

async fn states<J: Journal>(journal: &J) -> States {
    let keys = scenario_keys();
    let stored = journal.load_train_dates().await.expect("read the open train-dates");
    let mut states = BTreeMap::new();
    for train_date in stored.into_iter().filter(|stored| keys.contains(&stored.key)) {
        let plan = Arc::new(TrainPlan::new(train_date.template));
        let state = persistence::store::load(journal, train_date.key.clone(), plan).await.expect("load a train-date");
        states.insert(train_date.key, state);
    }
    assert_eq!(states.len(), keys.len(), "every scenario train-date is stored");
    states
}

async fn histories<J: Journal>(journal: &J) -> Histories {
    let mut histories = BTreeMap::new();
    for key in scenario_keys() {
        let stream = stream_id(&key);
        let mut events = Vec::new();
        while events.len() < EVENTS_PER_STREAM_MAX {
            let page = journal.read_events(&stream, events.len() as u64, PAGE_EVENTS).await.expect("read events");
            if page.is_empty() {
                break;
            }
            for stored in &page {
                events.push(persistence::codec::decode(stored).expect("a stored event decodes"));
            }
        }
        histories.insert(key, events);
    }
    histories
}

/// Polls the journal until no workflow step is owed; panics listing what is
/// still owed after `timeout`. Answers how long it took.
pub async fn wait_settled(reader: &Reader, timeout: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let owed = unsettled(&reader.states().await);
        if owed.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < timeout,
            "{} workflow steps still owed {timeout:?} after the restart (recovery did not finish or undo them):\n{}",
            owed.len(),
            owed.join("\n")
        );
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

/// What the journal audit counted.
pub struct Checked {
    events: usize,
    fulfilled: usize,
    committed: usize,
    aborted: usize,
}

impl fmt::Display for Checked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} events, {} requests fulfilled once each and in queue order, changes across train-dates ended on \
             both sides: {} committed, {} aborted",
            self.events, self.fulfilled, self.committed, self.aborted
        )
    }
}

/// Once settled: each state's invariants, fulfilment at most once, and
/// every queue served in order. Panics listing every problem.
pub async fn audit(reader: &Reader) -> Checked {
    let states = reader.states().await;
    let histories = reader.histories().await;
    let mut problems: Vec<String> = states.values().filter_map(|state| state.verify_invariants().err()).collect();
    problems.extend(unsettled(&states));
    for state in states.values() {
        history::replays_to(state, &histories[&state.key], &mut problems);
    }
    let fulfilled = history::fulfilled_at_most_once(&states, &histories, &mut problems);
    for (key, records) in &histories {
        history::served_in_order(key, records.iter().map(|record| &record.event), &mut problems);
    }
    let changes: Vec<_> =
        states.values().flat_map(|state| state.changes.outgoing.values().map(|change| change.outcome)).collect();
    assert!(
        problems.is_empty(),
        "the journal after kill -9 shows {} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    Checked {
        events: histories.values().map(Vec::len).sum(),
        fulfilled,
        committed: changes.iter().filter(|outcome| matches!(outcome, Some(ChangeOutcome::Committed { .. }))).count(),
        aborted: changes.iter().filter(|outcome| matches!(outcome, Some(ChangeOutcome::Aborted { .. }))).count(),
    }
}
