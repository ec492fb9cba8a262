//! Admission: per-user and per-peer rate limits (a flood from one user is
//! throttled while another still books), the sold-out gate answering without
//! the actor, bounded mailboxes, and expired deadlines.

use api::admission::RateLimits;
use api::auth::Role;
use api::boot::Database;
use api::pb::{self, SeatClass};
use engine::actor::ActorSettings;
use engine::facade::{EngineError, EngineSettings, HoldInput};
use seat_tests::{IDS, TOMORROW, TestServer, hold_request, reason, remaining, resident_id, start_clock};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;
use tonic::Code;
use tonic_types::StatusExt;

async fn start(settings: EngineSettings, limits: RateLimits) -> TestServer {
    let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let database = Database::Sqlite { data_dir: data_dir.path().to_owned() };
    TestServer::boot_limited(settings, database, data_dir, start_clock(), limits).await
}

const TIGHT: RateLimits = RateLimits {
    user_reads_per_sec: 1,
    user_read_burst: 3,
    user_writes_per_sec: 1,
    user_write_burst: 3,
    peer_requests_per_sec: 1,
    peer_burst: 6,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_user_is_throttled_while_another_still_books() {
    let server = start(EngineSettings::default(), TIGHT).await;
    let mut frontend = server.booking_as(Role::Agent, "frontend").await;
    let mut throttled = 0;
    for n in 0..10u32 {
        let id = resident_id(n);
        let request = hold_request(&format!("flood{n}"), "flooder", "G1", "VNP", "AOH", SeatClass::Second, &[&id]);
        if let Err(status) = frontend.hold(request).await {
            assert_eq!((status.code(), reason(&status).as_str()), (Code::ResourceExhausted, "RATE_LIMITED"));
            let delay = status.get_details_retry_info().and_then(|info| info.retry_delay).expect("retry delay given");
            assert!(delay > Duration::ZERO && delay <= Duration::from_secs(1), "{delay:?}");
            throttled += 1;
        }
    }
    assert_eq!(throttled, 7, "a burst of 3 and then nothing within the second");
    let calm = hold_request("calm", "calm-user", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
    frontend.hold(calm).await.expect("another user still books through the same frontend");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passenger_tokens_are_also_limited_per_address() {
    let server = start(EngineSettings::default(), RateLimits { user_read_burst: 100, ..TIGHT }).await;
    let mut refused = 0;
    for n in 0..10 {
        // A new passenger each time: only the shared address can trip the limit.
        let mut booking = server.booking_as(Role::Passenger, &format!("p{n}")).await;
        let search =
            pb::SearchTrainsRequest { date: TOMORROW.into(), from_station: "VNP".into(), to_station: "AOH".into() };
        if let Err(status) = booking.search_trains(search).await {
            assert_eq!(status.code(), Code::ResourceExhausted);
            refused += 1;
        }
    }
    assert_eq!(refused, 4, "burst of 6 per address");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sold_out_gate_answers_without_the_actor() {
    let server = start(EngineSettings::default(), seat_tests::TEST_RATE_LIMITS).await;
    let mut booking = server.booking().await;
    // G1 has 15 business seats; sell them.
    let mut sold = Vec::new();
    for round in 0..3u32 {
        let ids: Vec<String> = (0..5).map(|i| resident_id(round * 5 + i)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let request = hold_request(
            &format!("fill{round}"),
            &format!("filler{round}"),
            "G1",
            "VNP",
            "AOH",
            SeatClass::Business,
            &ids,
        );
        sold.push((request.clone(), booking.hold(request).await.unwrap().into_inner().order_id));
    }
    let before = server.engine.stats().sold_out_gate_rejections;
    let late = hold_request("late", "latecomer", "G1", "JGK", "NKH", SeatClass::Business, &[IDS[6]]);
    let status = booking.hold(late).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SOLD_OUT"));
    assert_eq!(server.engine.stats().sold_out_gate_rejections, before + 1, "refused at the gate");
    // A retry of an accepted hold still reaches the actor and gets its order back.
    let (request, order_id) = &sold[0];
    assert_eq!(&booking.hold(request.clone()).await.unwrap().into_inner().order_id, order_id);
    assert_eq!(server.engine.stats().sold_out_gate_rejections, before + 1);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_mailbox_answers_resource_exhausted_at_once() {
    let settings = EngineSettings {
        actor: ActorSettings { mailbox_pending_max: 2, ..ActorSettings::default() },
        ..EngineSettings::default()
    };
    let server = start(settings, seat_tests::TEST_RATE_LIMITS).await;
    let mut calls = JoinSet::new();
    for n in 0..300u32 {
        let mut booking = server.booking().await;
        calls.spawn(async move {
            let id = resident_id(n);
            booking
                .hold(hold_request(&format!("r{n}"), &format!("u{n}"), "G101", "VNP", "AOH", SeatClass::Second, &[&id]))
                .await
        });
    }
    let outcomes = calls.join_all().await;
    let full = outcomes.iter().filter(|o| o.as_ref().err().is_some_and(|s| reason(s) == "MAILBOX_FULL")).count();
    let booked = outcomes.iter().filter(|o| o.is_ok()).count();
    assert!(full > 0, "some holds found the mailbox full");
    assert_eq!(full + booked, 300, "every call was either booked or refused at once");
    for status in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(status.code(), Code::ResourceExhausted);
    }
    let mut booking = server.booking().await;
    assert_eq!(remaining(&mut booking, "G101", "VNP", "AOH", SeatClass::Second).await, 1010 - booked as u32);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_deadline_is_dropped_unprocessed() {
    let server = start(EngineSettings::default(), seat_tests::TEST_RATE_LIMITS).await;
    let passenger = engine::domain::command::PassengerRequest {
        name: "张三".into(),
        id_number: IDS[0].into(),
        class: engine::domain::seat_class::SeatClass::Second,
        choice: engine::domain::command::SeatChoice::Any,
    };
    let input = HoldInput {
        deadline: Some(Instant::now() - Duration::from_millis(1)),
        request_id: "late".into(),
        user_id: "u".into(),
        key: engine::domain::state::TrainDateKey::new("G1", TOMORROW.parse().unwrap()),
        from_station: "VNP".into(),
        to_station: "AOH".into(),
        passengers: vec![passenger],
    };
    assert_eq!(server.engine.hold(input.clone()).await.unwrap_err(), EngineError::DeadlineExceeded);
    let fresh = server.engine.hold(HoldInput { deadline: None, ..input }).await.expect("the same request, now in time");
    assert_eq!(fresh.order.status, engine::domain::order::OrderStatus::Held, "the late one booked nothing");

    // Through gRPC: a deadline already gone when the server sees it books nothing.
    let mut booking = server.booking().await;
    let before = remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Second).await;
    let mut request = tonic::Request::new(hold_request("t", "u2", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[1]]));
    request.set_timeout(Duration::from_nanos(1));
    let status = booking.hold(request).await.unwrap_err();
    assert!([Code::DeadlineExceeded, Code::Cancelled].contains(&status.code()), "{status:?}");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Second).await, before);
    server.stop().await;
}
