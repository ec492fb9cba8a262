//! StreamEvents on a real server: history then live in position order,
//! typed events, filters, resuming, and its refusals (a position ahead of
//! the feed, a malformed filter, too many streams).

use api::feed::FEED_STREAMS_MAX_DEFAULT;
use api::pb::feed_event::Event;
use api::pb::{self, SeatClass};
use seat_tests::{Feed, IDS, TOMORROW, TestServer, hold_request, reason, train_date};
use std::time::{Duration, Instant};
use tonic::Code;

/// Longest a followed commit may take to arrive: the proto promises at once
/// for this node's commits; this leaves room for a loaded test machine.
const LIVE_WITHIN: Duration = Duration::from_secs(2);

fn after(after_position: u64, follow: bool) -> pb::StreamEventsRequest {
    pb::StreamEventsRequest { after_position, follow, ..Default::default() }
}

async fn read_all(feed: &mut Feed, request: pb::StreamEventsRequest) -> Vec<pb::FeedEvent> {
    let mut stream = feed.stream_events(request).await.expect("stream opens").into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await.expect("stream reads") {
        events.push(event);
    }
    events
}

fn positions(events: &[pb::FeedEvent]) -> Vec<(u64, String, u64)> {
    events.iter().map(|event| (event.position, event.train_date.clone().unwrap().train, event.seq)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_then_live_in_position_order_with_typed_events() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut feed = server.feed().await;
    assert!(read_all(&mut feed, after(0, false)).await.is_empty(), "nothing committed yet");
    let g1 = booking.hold(hold_request("f1", "pat", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]])).await.unwrap();
    let g1 = g1.into_inner();
    booking.hold(hold_request("f2", "pat", "G3", "VNP", "AOH", SeatClass::First, &[IDS[1]])).await.unwrap();
    booking.confirm(pb::ConfirmRequest { order_id: g1.order_id.clone(), user_id: "pat".into() }).await.unwrap();

    let history = read_all(&mut feed, after(0, false)).await;
    assert_eq!(positions(&history), [(1, "G1".into(), 1), (2, "G3".into(), 1), (3, "G1".into(), 2)]);
    let Some(Event::SeatsHeld(held)) = &history[0].event else { panic!("a hold first: {:?}", history[0]) };
    assert_eq!((held.order_id.as_str(), held.user_id.as_str(), held.tickets.len()), (g1.order_id.as_str(), "pat", 1));
    assert_eq!(held.tickets[0].id_number, IDS[0], "the feed carries the full id number");
    assert_eq!(held.tickets[0].seat_class, SeatClass::Second as i32);
    assert!(matches!(&history[2].event, Some(Event::OrderConfirmed(confirmed)) if confirmed.order_id == g1.order_id));
    assert!(
        history.iter().all(|event| event.committed_at_ms > 0 && event.train_date.as_ref().unwrap().date == TOMORROW)
    );

    // Resuming: after a position, and inside one.
    assert_eq!(positions(&read_all(&mut feed, after(2, false)).await), [(3, "G1".into(), 2)]);
    let inside = pb::StreamEventsRequest { after_position: 3, after_seq: 2, ..Default::default() };
    assert!(read_all(&mut feed, inside).await.is_empty());
    // Filters.
    let g3 = pb::StreamEventsRequest { train_dates: vec![train_date("G3", TOMORROW).unwrap()], ..Default::default() };
    assert_eq!(positions(&read_all(&mut feed, g3).await), [(2, "G3".into(), 1)]);
    let other_day = pb::StreamEventsRequest { date: "2026-11-30".into(), ..Default::default() };
    assert!(read_all(&mut feed, other_day).await.is_empty());

    // Live: a follower caught up at 3 gets the next commit at once.
    let mut live = feed.stream_events(after(3, true)).await.unwrap().into_inner();
    booking.cancel(pb::CancelRequest { order_id: g1.order_id.clone(), user_id: "pat".into() }).await.unwrap();
    let committed = Instant::now();
    let next = tokio::time::timeout(LIVE_WITHIN, live.message()).await.expect("live in time").unwrap().unwrap();
    eprintln!("live event {} ms after the cancel was acknowledged", committed.elapsed().as_millis());
    assert_eq!((next.position, next.seq), (4, 3));
    assert!(matches!(next.event, Some(Event::TicketsRefunded(_))));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_their_reasons() {
    let server = TestServer::start().await;
    let mut feed = server.feed().await;
    let ahead = feed.stream_events(after(1, false)).await.unwrap_err();
    assert_eq!((ahead.code(), reason(&ahead)), (Code::OutOfRange, "FEED_POSITION_AHEAD".into()));
    let bad_date = pb::StreamEventsRequest { date: "2026-1-1".into(), ..Default::default() };
    let refused = feed.stream_events(bad_date).await.unwrap_err();
    assert_eq!((refused.code(), api::status::field_of(&refused)), (Code::InvalidArgument, Some("date".into())));

    // Every stream slot taken by followers; one more is refused until one leaves.
    let mut open = Vec::new();
    for _ in 0..FEED_STREAMS_MAX_DEFAULT {
        open.push(feed.stream_events(after(0, true)).await.expect("within the bound").into_inner());
    }
    let full = feed.stream_events(after(0, true)).await.unwrap_err();
    assert_eq!((full.code(), reason(&full)), (Code::ResourceExhausted, "FEED_STREAMS_FULL".into()));
    drop(open.pop());
    let deadline = Instant::now() + LIVE_WITHIN;
    loop {
        match feed.stream_events(after(0, true)).await {
            Ok(_) => break,
            Err(status) if status.code() == Code::ResourceExhausted && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(status) => panic!("a slot should have freed: {status:?}"),
        }
    }
    drop(open);
    server.stop().await;
}
