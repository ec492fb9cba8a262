//! The presale scheduler on an injected clock: it opens the window's new
//! days, retires train-dates whose run is over (and they stay retired after
//! a restart), and sales close per journey at departure on their own.

use api::pb::{self, SeatClass};
use engine::facade::EngineSettings;
use seat_tests::{IDS, TODAY, TOMORROW, TestServer, hold_request, reason, train_date};
use tonic::Code;

const HOUR_MS: u64 = 3_600_000;

async fn is_open(server: &TestServer, train: &str, date: &str) -> bool {
    let mut booking = server.booking().await;
    let request = pb::GetAvailabilityRequest {
        train_date: train_date(train, date),
        from_station: "VNP".into(),
        to_station: "AOH".into(),
    };
    match booking.get_availability(request.clone()).await {
        Ok(_) => true,
        Err(status) if status.code() == Code::NotFound => false,
        Err(_) => {
            // Northbound trains run AOH → VNP.
            let reversed =
                pb::GetAvailabilityRequest { from_station: "AOH".into(), to_station: "VNP".into(), ..request };
            booking.get_availability(reversed).await.is_ok()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_opens_the_window_and_retires_finished_runs() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    // 06:00 on TODAY: the demo opened TODAY..TODAY+14; the window reaches +15.
    let run = admin.run_presale(pb::RunPresaleRequest {}).await.unwrap().into_inner();
    assert_eq!((run.opened, run.already_open, run.retired), (12, 180, 0));
    assert!(is_open(&server, "G1", "2026-12-09").await);

    // 23:30 TODAY: the G trains that arrived by 17:30 (G1–G4, G101, G102,
    // G111, G112) finished more than 6 h ago; G7/G8 arrive at 21:27, and the
    // overnight D701/D702 are still running.
    server.clock.advance_ms(17 * HOUR_MS + 30 * 60_000);
    let run = admin.run_presale(pb::RunPresaleRequest {}).await.unwrap().into_inner();
    assert_eq!(run.retired, 8);
    assert!(!is_open(&server, "G1", TODAY).await);
    assert!(is_open(&server, "D701", TODAY).await);
    assert!(is_open(&server, "G7", TODAY).await);
    assert!(is_open(&server, "G1", TOMORROW).await);

    let (data_dir, clock) = server.stop().await;
    let server = TestServer::boot(EngineSettings::default(), data_dir, clock).await;
    assert!(!is_open(&server, "G1", TODAY).await, "retired train-dates are not recovered");
    assert!(is_open(&server, "D701", TODAY).await);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_close_per_journey_at_departure_from_the_boarding_station() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    // 10:00 TODAY: G1 left Beijing (07:00) and Jinan (~08:33) but not Nanjing (~10:26).
    server.clock.advance_ms(4 * HOUR_MS);
    let today = |mut request: pb::HoldRequest| {
        request.train_date = train_date("G1", TODAY);
        request
    };
    let from_jinan =
        booking.hold(today(hold_request("j", "u", "G1", "JGK", "AOH", SeatClass::Second, &[IDS[0]]))).await;
    assert_eq!(reason(&from_jinan.unwrap_err()), "DEPARTED");
    booking.hold(today(hold_request("n", "u", "G1", "NKH", "AOH", SeatClass::Second, &[IDS[0]]))).await.unwrap();
    server.stop().await;
}
