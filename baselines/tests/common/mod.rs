//! Shared scenarios for every target: each test file connects its target
//! (when its server URL is set) and runs these, so all meet the same checks.

#![allow(dead_code)] // each test binary uses a different subset

use engine::domain::seat_class::SeatClass;
use engine::domain::timetable::{Carriage, Stop, TrainTemplate};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use seat_baselines::{AckedOrder, Baseline, CancelOutcome, ConfirmOutcome, HoldOutcome, HoldRequest, Layout};
use seat_baselines::{OrderStatus, Passenger};
use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

/// Stops on the test train.
pub const STOPS: usize = 4;
/// Second-class seats: one carriage of 2 rows × ABCDF.
pub const SECOND_SEATS: usize = 10;

/// 4 stops; carriage 1 second class (10 seats), carriage 2 first class with
/// one seat, so one-seat scenarios are exact.
pub fn small_layout() -> Layout {
    let stops = (0..STOPS)
        .map(|index| Stop {
            station: format!("S{index}"),
            arrive_minutes: (index > 0).then_some(600 + index as u32 * 30),
            depart_minutes: (index < STOPS - 1).then_some(602 + index as u32 * 30),
            distance_km: index as u32 * 100,
        })
        .collect();
    let carriages = vec![
        Carriage { number: 1, class: SeatClass::Second, rows: 2, letters: "ABCDF".into() },
        Carriage { number: 2, class: SeatClass::First, rows: 1, letters: "A".into() },
    ];
    Layout::from_template(&TrainTemplate { code: "G9".into(), stops, carriages })
}

/// A unique suffix for databases and key prefixes, so parallel tests and
/// parallel runs never share state.
pub fn unique_name(kind: &str) -> String {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").subsec_nanos();
    format!("{kind}_{}_{nanos}_{}", std::process::id(), SERIAL.fetch_add(1, Ordering::Relaxed))
}

/// Runs `body`, then `cleanup` whether or not the body panicked, then
/// re-raises the panic: state is removed even when a test fails.
pub async fn with_cleanup<B, C>(body: B, cleanup: C)
where
    B: Future<Output = ()> + Send + 'static,
    C: Future<Output = ()>,
{
    let outcome = tokio::spawn(body).await;
    cleanup.await;
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

/// A hold for `passengers` passengers of `class` on `from..to`. Each user's
/// passengers are their own people (the engine refuses one person on two
/// overlapping journeys), and the same for every repeat of the request.
pub fn hold(train_date: &str, class: SeatClass, from: usize, to: usize, passengers: usize, user: &str) -> HoldRequest {
    let person = |index: usize| {
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(user, index), &mut hasher);
        format!("{:018}", std::hash::Hasher::finish(&hasher) % 1_000_000_000_000_000_000)
    };
    HoldRequest {
        train_date: train_date.into(),
        from,
        to,
        class,
        passengers: (0..passengers)
            .map(|index| Passenger { name: format!("P{index}"), id_number: person(index) })
            .collect(),
        user_id: user.into(),
        request_id: format!("{user}-req"),
    }
}

fn held(outcome: &HoldOutcome) -> Option<(u64, Vec<u32>)> {
    match outcome {
        HoldOutcome::Held { order_id, seats } => Some((*order_id, seats.clone())),
        _ => None,
    }
}

async fn audit_ok(baseline: &Baseline, acked: &[AckedOrder]) {
    let report = baseline.audit(acked).await.expect("audit runs");
    assert!(report.ok(), "audit failed: {:#?}", report.problems);
    assert!(report.train_dates >= 1);
}

/// More racing single-seat holds than seats on one journey: exactly the
/// capacity succeeds, on distinct seats, and a full-route count reaches zero.
pub async fn racing_holds_sell_exactly_capacity(baseline: Baseline) {
    let train_date = "G9-2026-12-01";
    baseline.open_train_date(train_date, &small_layout()).await.expect("open");
    let mut tasks = tokio::task::JoinSet::new();
    for user in 0..3 * SECOND_SEATS {
        let baseline = baseline.clone();
        tasks.spawn(async move {
            baseline.hold(&hold(train_date, SeatClass::Second, 0, 3, 1, &format!("u{user}"))).await.expect("hold")
        });
    }
    let mut seats = HashSet::new();
    let mut acked = Vec::new();
    let mut sold_out = 0;
    while let Some(outcome) = tasks.join_next().await {
        let outcome = outcome.expect("task");
        match held(&outcome) {
            Some((order_id, taken)) => {
                assert_eq!(taken.len(), 1);
                assert!(seats.insert(taken[0]), "seat {} sold twice", taken[0]);
                acked.push(AckedOrder { train_date: train_date.into(), order_id, status: OrderStatus::Held });
            }
            None => {
                assert_eq!(outcome, HoldOutcome::SoldOut);
                sold_out += 1;
            }
        }
    }
    assert_eq!(seats.len(), SECOND_SEATS);
    assert_eq!(sold_out, 2 * SECOND_SEATS);
    // Every shorter journey is sold out too.
    let late = baseline.hold(&hold(train_date, SeatClass::Second, 1, 2, 1, "late")).await.expect("hold");
    assert_eq!(late, HoldOutcome::SoldOut);
    audit_ok(&baseline, &acked).await;
}

/// Racing holds of random journeys, groups and classes, with cancels mixed
/// in: no segment is sold twice and every count equals a recount.
pub async fn random_racing_holds_never_double_sell(baseline: Baseline) {
    let layout = small_layout();
    let train_dates = ["G9-2026-12-01", "G9-2026-12-02"];
    for train_date in train_dates {
        baseline.open_train_date(train_date, &layout).await.expect("open");
    }
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..16u64 {
        let baseline = baseline.clone();
        tasks.spawn(async move {
            let mut rng = SmallRng::seed_from_u64(client);
            let mut acked = Vec::new();
            for attempt in 0..25 {
                let train_date = train_dates[rng.random_range(0..train_dates.len())];
                let from = rng.random_range(0..STOPS - 1);
                let to = rng.random_range(from + 1..STOPS);
                let class = if rng.random_range(0..5) == 0 { SeatClass::First } else { SeatClass::Second };
                let passengers = rng.random_range(1..=3);
                let request = hold(train_date, class, from, to, passengers, &format!("c{client}-{attempt}"));
                let outcome = baseline.hold(&request).await.expect("hold");
                let Some((order_id, seats)) = held(&outcome) else { continue };
                assert_eq!(seats.len(), passengers);
                let status = if rng.random_range(0..3) == 0 {
                    assert_eq!(baseline.cancel(train_date, order_id).await.expect("cancel"), CancelOutcome::Cancelled);
                    OrderStatus::Cancelled
                } else {
                    OrderStatus::Held
                };
                acked.push(AckedOrder { train_date: train_date.into(), order_id, status });
            }
            acked
        });
    }
    let mut acked = Vec::new();
    while let Some(orders) = tasks.join_next().await {
        acked.extend(orders.expect("task"));
    }
    assert!(acked.len() > 10, "only {} orders held", acked.len());
    audit_ok(&baseline, &acked).await;
}

/// On the one first-class seat: A takes 0..1, B takes 1..3; cancelling A
/// frees 0..1 only, so 0..2 stays sold out and 0..1 sells again.
pub async fn cancel_releases_only_its_own_bits(baseline: Baseline) {
    let train_date = "G9-2026-12-03";
    baseline.open_train_date(train_date, &small_layout()).await.expect("open");
    let first = |from, to, user: &str| hold(train_date, SeatClass::First, from, to, 1, user);
    let a = held(&baseline.hold(&first(0, 1, "a")).await.expect("hold a")).expect("a held");
    let b = held(&baseline.hold(&first(1, 3, "b")).await.expect("hold b")).expect("b held");
    assert_eq!(a.1, b.1, "both journeys fit the one seat");
    assert_eq!(baseline.hold(&first(0, 2, "c")).await.expect("hold c"), HoldOutcome::SoldOut);
    assert_eq!(baseline.cancel(train_date, a.0).await.expect("cancel a"), CancelOutcome::Cancelled);
    assert_eq!(baseline.cancel(train_date, a.0).await.expect("cancel a again"), CancelOutcome::AlreadyCancelled);
    assert_eq!(baseline.cancel(train_date, 999_999).await.expect("cancel unknown"), CancelOutcome::NotFound);
    assert_eq!(baseline.hold(&first(0, 2, "d")).await.expect("hold d"), HoldOutcome::SoldOut);
    assert_eq!(baseline.hold(&first(1, 2, "e")).await.expect("hold e"), HoldOutcome::SoldOut);
    let f = held(&baseline.hold(&first(0, 1, "f")).await.expect("hold f")).expect("f held");
    assert_eq!(f.1, a.1);
    let acked = [
        AckedOrder { train_date: train_date.into(), order_id: a.0, status: OrderStatus::Cancelled },
        AckedOrder { train_date: train_date.into(), order_id: b.0, status: OrderStatus::Held },
        AckedOrder { train_date: train_date.into(), order_id: f.0, status: OrderStatus::Held },
    ];
    audit_ok(&baseline, &acked).await;
}

/// A repeated request returns the first order and takes nothing, even when
/// the repeats race; confirm moves held to confirmed once.
pub async fn repeats_are_idempotent_and_confirm_once(baseline: Baseline) {
    let train_date = "G9-2026-12-04";
    baseline.open_train_date(train_date, &small_layout()).await.expect("open");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let baseline = baseline.clone();
        tasks.spawn(async move { baseline.hold(&hold(train_date, SeatClass::Second, 0, 2, 2, "same")).await });
    }
    let mut orders = Vec::new();
    let mut firsts = 0;
    while let Some(outcome) = tasks.join_next().await {
        match outcome.expect("task").expect("hold") {
            HoldOutcome::Held { order_id, .. } => {
                firsts += 1;
                orders.push(order_id);
            }
            HoldOutcome::Duplicate { order_id } => orders.push(order_id),
            HoldOutcome::SoldOut => panic!("sold out with 10 free seats"),
            HoldOutcome::Refused { reason } => panic!("refused: {reason}"),
        }
    }
    assert_eq!(firsts, 1);
    assert!(orders.iter().all(|order| *order == orders[0]), "{orders:?}");
    let order_id = orders[0];
    assert_eq!(baseline.confirm(train_date, order_id).await.expect("confirm"), ConfirmOutcome::Confirmed);
    assert_eq!(baseline.confirm(train_date, order_id).await.expect("confirm again"), ConfirmOutcome::NotHeld);
    assert_eq!(baseline.confirm(train_date, 999_999).await.expect("confirm unknown"), ConfirmOutcome::NotFound);
    // Eight seats are wholly free; five more on 0..2 leave three free on 1..3.
    let five = hold(train_date, SeatClass::Second, 0, 2, 5, "five");
    assert!(held(&baseline.hold(&five).await.expect("hold")).is_some());
    let four = hold(train_date, SeatClass::Second, 1, 3, 4, "four");
    assert_eq!(baseline.hold(&four).await.expect("hold"), HoldOutcome::SoldOut, "only 3 left on 1..3");
    let acked = [AckedOrder { train_date: train_date.into(), order_id, status: OrderStatus::Confirmed }];
    audit_ok(&baseline, &acked).await;
}
