//! The engine target against a real MySQL journal; runs when MYSQL_URL is
//! set, fails under `CI=true` when it is not (each test creates and drops its own database). Every audit restarts
//! the engine from the journal first, so passing one means the acknowledged
//! writes were committed.

mod common;

use persistence::test_env::{MYSQL_URL, service_url};

use common::{SECOND_SEATS, hold, small_layout};
use engine::domain::seat_class::SeatClass;
use seat_baselines::mysql_classic;
use seat_baselines::seat_engine::{SeatEngine, SeatEngineConfig};
use seat_baselines::{AckedOrder, Baseline, BaselineError, CancelOutcome, ConfirmOutcome, HoldOutcome, OrderStatus};
use std::future::Future;

async fn run<F, Fut>(scenario: F)
where
    F: FnOnce(SeatEngine) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(server_url) = service_url(MYSQL_URL, "this engine-target test") else { return };
    let name = common::unique_name("baselines_engine_test");
    mysql_classic::create_database(&server_url, &name).await.expect("create database");
    let url = mysql_classic::database_url(&server_url, &name);
    let engine = match SeatEngine::start(SeatEngineConfig::new(&url)).await {
        Ok(engine) => engine,
        Err(error) => {
            mysql_classic::drop_database(&server_url, &name).await.expect("drop database");
            panic!("starting the engine on {name}: {error}");
        }
    };
    let stopper = engine.clone();
    common::with_cleanup(scenario(engine), async {
        if let Err(error) = stopper.stop().await {
            eprintln!("stopping the engine: {error}");
        }
        mysql_classic::drop_database(&server_url, &name).await.expect("drop database");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_holds_sell_exactly_capacity() {
    run(|engine| common::racing_holds_sell_exactly_capacity(Baseline::SeatEngine(engine))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_racing_holds_never_double_sell() {
    run(|engine| common::random_racing_holds_never_double_sell(Baseline::SeatEngine(engine))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_releases_only_its_own_bits() {
    run(|engine| common::cancel_releases_only_its_own_bits(Baseline::SeatEngine(engine))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn repeats_are_idempotent_and_confirm_once() {
    run(|engine| common::repeats_are_idempotent_and_confirm_once(Baseline::SeatEngine(engine))).await;
}

fn held(outcome: HoldOutcome) -> (u64, Vec<u32>) {
    match outcome {
        HoldOutcome::Held { order_id, seats } => (order_id, seats),
        other => panic!("expected a hold, got {other:?}"),
    }
}

/// Orders hold, confirm and cancel; the engine restarts from its journal;
/// the same order numbers still work, selling goes on, and the audit passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_survive_a_restart() {
    run(|engine| async move {
        let train_date = "G9-2026-12-05";
        engine.open_train_date(train_date, &small_layout()).await.expect("open");
        let a = held(engine.hold(&hold(train_date, SeatClass::Second, 0, 2, 2, "a")).await.expect("hold a"));
        let b = held(engine.hold(&hold(train_date, SeatClass::First, 0, 3, 1, "b")).await.expect("hold b"));
        let c = held(engine.hold(&hold(train_date, SeatClass::Second, 1, 3, 3, "c")).await.expect("hold c"));
        assert_eq!(a.1.len(), 2);
        assert_eq!(engine.confirm(train_date, a.0).await.expect("confirm a"), ConfirmOutcome::Confirmed);
        assert_eq!(engine.cancel(train_date, c.0).await.expect("cancel c"), CancelOutcome::Cancelled);

        let recovery = engine.restart().await.expect("restart");
        assert_eq!((recovery.train_dates, recovery.orders), (1, 3));
        assert_eq!(engine.confirm(train_date, a.0).await.expect("confirm a again"), ConfirmOutcome::NotHeld);
        assert_eq!(engine.confirm(train_date, b.0).await.expect("confirm b"), ConfirmOutcome::Confirmed);
        assert_eq!(engine.cancel(train_date, c.0).await.expect("cancel c again"), CancelOutcome::AlreadyCancelled);
        assert_eq!(engine.confirm(train_date, c.0).await.expect("confirm c"), ConfirmOutcome::NotHeld);
        // The one first-class seat is b's for the whole route.
        let late = hold(train_date, SeatClass::First, 1, 2, 1, "late");
        assert_eq!(engine.hold(&late).await.expect("hold late"), HoldOutcome::SoldOut);
        // c's three seats came back: all ten second-class seats are free on
        // 2..3, and 1..3 has the eight a does not use.
        let d = held(engine.hold(&hold(train_date, SeatClass::Second, 1, 3, 5, "d")).await.expect("hold d"));
        let e = hold(train_date, SeatClass::Second, 1, 3, 4, "e");
        assert_eq!(engine.hold(&e).await.expect("hold e"), HoldOutcome::SoldOut, "3 left on 1..3");
        assert_eq!(d.0, 4, "order numbers go on after the restart");
        assert_eq!(engine.cancel(train_date, b.0).await.expect("refund b"), CancelOutcome::Cancelled);

        let acked = [
            AckedOrder { train_date: train_date.into(), order_id: a.0, status: OrderStatus::Confirmed },
            AckedOrder { train_date: train_date.into(), order_id: b.0, status: OrderStatus::Cancelled },
            AckedOrder { train_date: train_date.into(), order_id: c.0, status: OrderStatus::Cancelled },
            AckedOrder { train_date: train_date.into(), order_id: d.0, status: OrderStatus::Held },
        ];
        let report = engine.audit(&acked).await.expect("audit");
        assert!(report.ok(), "audit failed: {:#?}", report.problems);
        assert_eq!((report.train_dates, report.acked_orders), (1, 4));
        assert_eq!(report.live_tickets, 2 + 5);
        assert_eq!(report.seats, SECOND_SEATS as u64 + 1);
        let recovery = engine.last_recovery().expect("recovered for the audit");
        assert_eq!(recovery.orders, 4);
    })
    .await;
}

/// What the engine says that the baselines never do, and what it refuses.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn engine_rules_map_onto_the_model() {
    run(|engine| async move {
        let train_date = "G9-2026-12-06";
        engine.open_train_date(train_date, &small_layout()).await.expect("open");
        let first = hold(train_date, SeatClass::Second, 0, 2, 1, "same-person");
        let first_order = held(engine.hold(&first).await.expect("hold")).0;
        // The same passenger on an overlapping journey, under another request.
        let mut again = hold(train_date, SeatClass::Second, 1, 3, 1, "same-person");
        again.request_id = "another-request".into();
        assert_eq!(
            engine.hold(&again).await.expect("hold again"),
            HoldOutcome::Refused { reason: "PASSENGER_OVERLAP".into() }
        );
        // A journey that does not overlap is fine.
        again.from = 2;
        again.request_id = "a-third-request".into();
        held(engine.hold(&again).await.expect("hold after"));

        assert!(matches!(
            engine.hold(&hold("G9-2026-12-07", SeatClass::Second, 0, 1, 1, "x")).await,
            Err(BaselineError::UnknownTrainDate(_))
        ));
        assert!(matches!(
            engine.open_train_date("not a train-date", &small_layout()).await,
            Err(BaselineError::Invalid(_))
        ));
        // An order is known only on its own train-date.
        assert_eq!(engine.confirm("G9-2026-12-07", first_order).await.expect("confirm"), ConfirmOutcome::NotFound);
        assert_eq!(engine.cancel(train_date, 0).await.expect("cancel"), CancelOutcome::NotFound);
        let acked = [AckedOrder { train_date: train_date.into(), order_id: first_order, status: OrderStatus::Held }];
        let report = engine.audit(&acked).await.expect("audit");
        assert!(report.ok(), "audit failed: {:#?}", report.problems);
        // The audit does catch an acknowledgement the journal does not back.
        let wrong = [
            AckedOrder { train_date: train_date.into(), order_id: first_order, status: OrderStatus::Confirmed },
            AckedOrder { train_date: train_date.into(), order_id: 99, status: OrderStatus::Held },
        ];
        let report = engine.audit(&wrong).await.expect("audit");
        assert_eq!(report.problem_count, 2, "{:#?}", report.problems);
    })
    .await;
}
