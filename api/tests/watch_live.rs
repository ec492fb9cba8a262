//! WatchAvailability against a real `seatd --demo`: a subscriber sees a
//! count drop right after an acknowledged hold; a subscriber that never
//! reads holds up neither bookings nor the others; the per-user bound holds;
//! open watches do not hold up a graceful shutdown.

#[allow(dead_code)] // Each test binary uses part of the shared support.
mod live;

use api::pb::{self, watch_availability_request::Target};
use live::{Seatd, hold_request, second_left, tomorrow, watch_search};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::Code;

/// Holds made while watching; enough to fill a non-reading client's
/// HTTP/2 window many times over with the wide watch below.
const HOLDS: u64 = 40;
/// The bound asserted per update: generous for a loaded CI box; the
/// measured latencies are printed (and benchmarked in docs/bench/watch.sh).
const UPDATE_WAIT_MAX: Duration = Duration::from_secs(1);
/// HTTP/2 window of the stalled client: the protocol's minimum default.
const STALLED_WINDOW_BYTES: u32 = 65_535;
/// The journey the stalled client lists this many times: every hold then
/// changes ~30 KB of its watch, far beyond one HTTP/2 window in a few holds.
const STALLED_WATCH_JOURNEYS: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_see_holds_at_once_and_a_stalled_one_holds_up_nobody() {
    let seatd = Seatd::start(&[]);
    let date = tomorrow();
    let mut agent = seatd.booking(&seatd.tokens.agent).await;

    // A client that asks for a wide watch and never reads a byte of it.
    let mut stalled_client =
        seatd.booking_with_window(&seatd.passenger_token("stalled"), Some(STALLED_WINDOW_BYTES)).await;
    let journey = pb::GetAvailabilityRequest {
        train_date: Some(pb::TrainDate { train: "G1".into(), date: date.clone() }),
        from_station: live::FROM.into(),
        to_station: live::TO.into(),
    };
    let stalled_request = pb::WatchAvailabilityRequest {
        target: Some(Target::Journeys(pb::WatchJourneys { journeys: vec![journey; STALLED_WATCH_JOURNEYS] })),
        coarse: false,
    };
    let mut stalled =
        stalled_client.watch_availability(stalled_request).await.expect("stalled watch opens").into_inner();

    let mut watcher = seatd.booking(&seatd.passenger_token("watcher")).await;
    let mut updates = watcher.watch_availability(watch_search(&date, false)).await.expect("watch opens").into_inner();
    let initial = updates.next().await.expect("initial update").expect("ok");
    assert!(initial.initial, "the first message is marked initial");
    let search =
        pb::SearchTrainsRequest { date: date.clone(), from_station: live::FROM.into(), to_station: live::TO.into() };
    let searched = agent.search_trains(search).await.expect("search").into_inner().trains;
    assert_eq!(initial.trains, searched, "the first message is what SearchTrains answers");
    let mut left = second_left(&initial, "G1").expect("G1 in the search");

    let mut latencies = Vec::new();
    let mut round_trips = Vec::new();
    for serial in 0..HOLDS {
        let sent = Instant::now();
        agent.hold(hold_request("G1", &date, serial)).await.expect("hold acknowledged");
        let acknowledged = Instant::now();
        // The view is published when the actor applies the hold, before the
        // journal commit acknowledges it, so the update may already be here.
        loop {
            let update = tokio::time::timeout(UPDATE_WAIT_MAX, updates.next())
                .await
                .unwrap_or_else(|_| panic!("no update within {UPDATE_WAIT_MAX:?} of hold {serial}"))
                .expect("stream open")
                .expect("update");
            assert!(!update.initial);
            if let Some(now_left) = second_left(&update, "G1") {
                assert!(now_left < left, "a count only moves down while only holds happen");
                left = now_left;
            }
            if left <= 1010 - 1 - serial as u32 {
                break;
            }
        }
        latencies.push(acknowledged.elapsed());
        round_trips.push(sent.elapsed());
    }
    let summary = |mut times: Vec<Duration>| {
        times.sort();
        let at = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        format!("p50 {:?}, p99 {:?}, max {:?}", at(50), at(99), times[times.len() - 1])
    };
    println!("over {HOLDS} holds, with a stalled subscriber open:");
    println!("  hold acknowledged -> update seen: {}", summary(latencies));
    println!("  hold sent -> ack and update both seen: {}", summary(round_trips));
    assert_eq!(left, 1010 - HOLDS as u32, "every hold was seen, none twice");

    // The stalled client, reading at last, finds what its window held and
    // then the newest counts in one conflated message, not one per hold.
    let mut messages = 0;
    loop {
        let update = tokio::time::timeout(UPDATE_WAIT_MAX, stalled.next())
            .await
            .expect("the stalled client's stream still serves")
            .expect("open")
            .expect("update");
        messages += 1;
        if second_left(&update, "G1") == Some(left) {
            break;
        }
    }
    println!("the stalled subscriber read {messages} messages for {HOLDS} holds");
    assert!(messages < HOLDS as usize / 2, "{messages} messages: the stalled stream was not conflated");

    // A subscriber that joins now starts from the current counts.
    let mut late = seatd.booking(&seatd.passenger_token("late")).await;
    let mut late_updates = late.watch_availability(watch_search(&date, false)).await.expect("opens").into_inner();
    let first = late_updates.next().await.expect("initial").expect("ok");
    assert_eq!(second_left(&first, "G1"), Some(left));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_per_user_are_bounded_and_a_closed_one_frees_its_place() {
    let seatd = Seatd::start(&["--watch-streams-per-user-max", "2"]);
    let date = tomorrow();
    let token = seatd.passenger_token("tabby");
    let mut client = seatd.booking(&token).await;
    let first = client.watch_availability(watch_search(&date, false)).await.expect("first watch");
    let _second = client.watch_availability(watch_search(&date, true)).await.expect("second watch");
    let refused = client.watch_availability(watch_search(&date, false)).await.expect_err("third is over the bound");
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(api::status::reason_of(&refused).as_deref(), Some("TOO_MANY_WATCHES"));
    // Another user is not affected.
    let mut other = seatd.booking(&seatd.passenger_token("other")).await;
    other.watch_availability(watch_search(&date, false)).await.expect("another user's watch");

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match client.watch_availability(watch_search(&date, false)).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("a closed watch did not free its place: {status}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coarse_watches_show_plenty_and_bad_targets_are_refused() {
    let seatd = Seatd::start(&[]);
    let date = tomorrow();
    let mut client = seatd.booking(&seatd.passenger_token("coarse")).await;
    let mut updates = client.watch_availability(watch_search(&date, true)).await.expect("opens").into_inner();
    let initial = updates.next().await.expect("initial").expect("ok");
    let g1 =
        initial.trains.iter().find(|offer| offer.train_date.as_ref().is_some_and(|key| key.train == "G1")).unwrap();
    for class in &g1.classes {
        // G1: 15 business seats (exact), 168 first and 1010 second (plenty).
        assert_eq!(class.plenty, class.remaining > 20, "{class:?}");
        assert!(class.remaining <= 21, "{class:?}");
    }
    // A sale among plenty of seats sends nothing to a coarse watcher.
    let mut agent = seatd.booking(&seatd.tokens.agent).await;
    agent.hold(hold_request("G1", &date, 1)).await.expect("hold");
    assert!(tokio::time::timeout(Duration::from_millis(300), updates.next()).await.is_err(), "no coarse change");

    let none = pb::WatchAvailabilityRequest { target: None, coarse: false };
    let refused = client.watch_availability(none).await.expect_err("no target");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let closed = pb::GetAvailabilityRequest {
        train_date: Some(pb::TrainDate { train: "G1".into(), date: "2020-01-01".into() }),
        from_station: live::FROM.into(),
        to_station: live::TO.into(),
    };
    let request = pb::WatchAvailabilityRequest {
        target: Some(Target::Journeys(pb::WatchJourneys { journeys: vec![closed] })),
        coarse: false,
    };
    let refused = client.watch_availability(request).await.expect_err("not open");
    assert_eq!(refused.code(), Code::NotFound);
    let empty = pb::WatchAvailabilityRequest {
        target: Some(Target::Journeys(pb::WatchJourneys { journeys: Vec::new() })),
        coarse: false,
    };
    assert_eq!(client.watch_availability(empty).await.expect_err("no journeys").code(), Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_watches_instead_of_waiting_for_them() {
    let mut seatd = Seatd::start(&[]);
    let date = tomorrow();
    let mut client = seatd.booking(&seatd.passenger_token("till-the-end")).await;
    let mut updates = client.watch_availability(watch_search(&date, false)).await.expect("opens").into_inner();
    updates.next().await.expect("initial").expect("ok");
    let status = tokio::task::block_in_place(|| seatd.terminate(Duration::from_secs(15)));
    assert!(status.success(), "seatd exits 0 after SIGTERM, not {status}");
    let ended = updates.next().await.expect("the stream ends with a status").expect_err("not an update");
    assert_eq!(ended.code(), Code::Unavailable, "{ended}");
    assert_eq!(api::status::reason_of(&ended).as_deref(), Some("TRAIN_DATE_STOPPED"));
}
