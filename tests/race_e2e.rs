//! Many clients racing for the last seats through the real server: exactly the
//! free capacity succeeds, every other caller hears SOLD_OUT, and nothing is
//! sold twice.

use api::pb::{self, SeatClass};
use seat_tests::{TestServer, hold_request, reason, remaining, resident_id};
use std::collections::HashSet;
use tokio::task::JoinSet;
use tonic::Code;

/// Fires every request at once and returns each outcome in request order.
async fn race(server: &TestServer, requests: Vec<pb::HoldRequest>) -> Vec<Result<pb::Order, tonic::Status>> {
    let mut tasks = JoinSet::new();
    for (index, request) in requests.into_iter().enumerate() {
        let mut client = server.booking().await;
        tasks.spawn(async move { (index, client.hold(request).await.map(tonic::Response::into_inner)) });
    }
    let mut outcomes: Vec<_> = tasks.join_all().await;
    outcomes.sort_by_key(|(index, _)| *index);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

fn seats_of(orders: &[&pb::Order]) -> Vec<(u32, String)> {
    orders.iter().flat_map(|o| o.tickets.iter().map(|t| (t.carriage, t.seat.clone()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn exactly_the_free_capacity_succeeds() {
    let server = TestServer::start().await;
    // G3 carries 21 business seats.
    let requests = (0..100)
        .map(|n| {
            let id = resident_id(n);
            hold_request(&format!("r{n}"), &format!("user{n}"), "G3", "VNP", "AOH", SeatClass::Business, &[&id])
        })
        .collect();
    let outcomes = race(&server, requests).await;
    let won: Vec<&pb::Order> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 21);
    for lost in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!((lost.code(), reason(lost).as_str()), (Code::FailedPrecondition, "SOLD_OUT"));
    }
    let seats = seats_of(&won);
    assert_eq!(seats.iter().collect::<HashSet<_>>().len(), 21, "no seat sold twice");
    let mut booking = server.booking().await;
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Business).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_journeys_that_fit_the_free_segments_succeed() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    // Sell every G1 business seat (15) from Beijing to Nanjing.
    for round in 0..3u32 {
        let ids: Vec<String> = (0..5).map(|i| resident_id(1000 + round * 5 + i)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        booking
            .hold(hold_request(&format!("fill{round}"), "filler", "G1", "VNP", "NKH", SeatClass::Business, &ids))
            .await
            .expect("fill");
    }
    let mut requests = Vec::new();
    for n in 0..60u32 {
        let id = resident_id(n);
        let (from, to) = match n % 3 {
            0 => ("NKH", "AOH"),
            1 => ("VNP", "JGK"),
            _ => ("JGK", "AOH"),
        };
        requests.push(hold_request(&format!("r{n}"), &format!("u{n}"), "G1", from, to, SeatClass::Business, &[&id]));
    }
    let nanjing_shanghai = requests.iter().filter(|r| r.from_station == "NKH").count();
    assert_eq!(nanjing_shanghai, 20, "more NKH→AOH requests than its 15 free seats");
    let outcomes = race(&server, requests).await;
    let won: Vec<&pb::Order> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 15, "NKH→AOH had 15 seats free; nothing else fits");
    assert!(won.iter().all(|order| order.from_station == "NKH"));
    assert_eq!(remaining(&mut booking, "G1", "NKH", "AOH", SeatClass::Business).await, 0);
    assert_eq!(remaining(&mut booking, "G1", "VNP", "AOH", SeatClass::Business).await, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_groups_never_exceed_capacity() {
    let server = TestServer::start().await;
    // G7 carries 60 first-class seats; 40 groups of 1 to 5 want 120.
    let mut sizes = Vec::new();
    let requests = (0..40u32)
        .map(|n| {
            let size = (n % 5 + 1) as usize;
            sizes.push(size as u32);
            let ids: Vec<String> = (0..size as u32).map(|i| resident_id(n * 10 + i)).collect();
            let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
            hold_request(&format!("g{n}"), &format!("u{n}"), "G7", "VNP", "AOH", SeatClass::First, &ids)
        })
        .collect();
    let outcomes = race(&server, requests).await;
    let mut booking = server.booking().await;
    let left = remaining(&mut booking, "G7", "VNP", "AOH", SeatClass::First).await;
    let won: Vec<&pb::Order> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    let passengers_seated: u32 = won.iter().map(|order| order.tickets.len() as u32).sum();
    assert_eq!(passengers_seated + left, 60, "every seat is either sold once or still free");
    assert_eq!(seats_of(&won).iter().collect::<HashSet<_>>().len() as u32, passengers_seated);
    for (outcome, size) in outcomes.iter().zip(&sizes) {
        if let Err(status) = outcome {
            assert_eq!(reason(status), "SOLD_OUT");
            assert!(*size > left, "a group of {size} was refused while {left} seats stayed free");
        }
    }
    server.stop().await;
}
