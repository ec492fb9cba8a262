//! The Prometheus endpoint shows the counters moving as bookings happen.
//! (Its own test binary: the metrics recorder is process-wide.)

use api::pb::SeatClass;
use seat_tests::{IDS, TestServer, hold_request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn scrape(address: std::net::SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.expect("metrics endpoint answers");
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut body = String::new();
    stream.read_to_string(&mut body).await.unwrap();
    body
}

fn counter(text: &str, series: &str) -> f64 {
    text.lines()
        .find(|line| line.starts_with(series))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_with_bookings() {
    let address = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    api::observe::install_prometheus(address).expect("metrics endpoint starts");
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let ok_holds = r#"seat_holds_total{outcome="ok"}"#;
    let before = counter(&scrape(address).await, ok_holds);
    for (n, id) in IDS.iter().take(3).enumerate() {
        let request = hold_request(&format!("m{n}"), "metrics-user", "G1", "VNP", "AOH", SeatClass::Second, &[id]);
        booking.hold(request).await.unwrap();
    }
    let duplicate = hold_request("dup", "metrics-user", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
    booking.hold(duplicate).await.unwrap_err();
    let text = scrape(address).await;
    assert_eq!(counter(&text, ok_holds) - before, 3.0, "{text}");
    assert_eq!(counter(&text, r#"seat_holds_total{outcome="passenger_overlap"}"#), 1.0);
    assert!(text.contains("seat_rpc_duration_seconds_bucket{method=\"Hold\""), "latency histogram exported");
    // A passenger refused on fragmented seats counts; a pair refused because
    // each segment has one seat left does not.
    let fragmented = "seat_sold_out_segments_free_passengers_total";
    let before = counter(&text, fragmented);
    seat_tests::fragment_g1_business(&mut booking, "fragmenter").await;
    let one = hold_request("one", "metrics-one", "G1", "VNP", "NKH", SeatClass::Business, &[IDS[5]]);
    booking.hold(one).await.unwrap_err();
    let pair = hold_request("pair", "metrics-pair", "G1", "VNP", "NKH", SeatClass::Business, &IDS[5..7]);
    booking.hold(pair).await.unwrap_err();
    assert_eq!(counter(&scrape(address).await, fragmented) - before, 1.0);
    assert!(text.contains("seat_journal_commit_seconds"), "journal latency exported");

    // The feed: an open follower counts while it is open; events sent count.
    let mut feed = server.feed().await;
    let follow = api::pb::StreamEventsRequest { follow: true, ..Default::default() };
    let mut stream = feed.stream_events(follow).await.unwrap().into_inner();
    for _ in 0..3 {
        stream.message().await.unwrap().expect("the three holds");
    }
    let text = scrape(address).await;
    assert_eq!(counter(&text, "seat_feed_streams_open"), 1.0, "{text}");
    assert!(counter(&text, "seat_feed_events_sent_total") >= 3.0, "{text}");
    drop(stream);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while counter(&scrape(address).await, "seat_feed_streams_open") != 0.0 {
        assert!(std::time::Instant::now() < deadline, "a closed stream stops counting as open");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.stop().await;
}
