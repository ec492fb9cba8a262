//! The event feed across kill -9: a consumer follows StreamEvents on a real
//! seatd while clients book, confirm and cancel; seatd is SIGKILLed in the
//! middle of the load and restarted on the same database, and the consumer
//! resumes from the last event it handled. At the end the consumer holds
//! every event of the journal's events table exactly once, in seq order per
//! train-date with no gap, and nothing that was never committed.
//!
//! SQLite always runs; MySQL runs when MYSQL_URL is set (its own database),
//! and fails under `CI=true` when it is not. Each run is bounded: a few
//! rounds of under 1.5 s of load, and a deadline for the consumer to catch up.

#[allow(dead_code)] // the harness also serves the crash and shutdown tests
mod crash;

use api::pb;
use crash::{Backend, Seatd, feed_client, load};
use persistence::test_env::{MYSQL_URL, service_url};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Load → kill -9 → restart rounds.
const ROUNDS: usize = 3;
/// Longest the consumer may take to read everything once the load stops.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(20);
/// Pause before the consumer tries a seatd that is down again.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_feed_survives_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = dir.path().join(api::boot::SQLITE_FILE_NAME);
    let stored = run(Backend::Sqlite(dir.path().to_owned())).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", database.display())).await.expect("open journal");
    let rows: Vec<(String, i64, String)> =
        sqlx::query_as(EVENTS).fetch_all(&pool).await.expect("read the events table");
    check(stored, rows);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_feed_survives_kill_9() {
    let Some(server_url) = service_url(MYSQL_URL, "the MySQL feed crash test") else { return };
    let name = format!("seat_feed_crash_{}_{}", std::process::id(), rand::random::<u32>());
    persistence::test_support::create_database(&server_url, &name).await.expect("create test database");
    let url = persistence::test_support::database_url(&server_url, &name);
    let dir = tempfile::tempdir().expect("temp dir");
    let stored = run(Backend::MySql(url.clone(), dir.path().to_owned())).await;
    let pool = sqlx::MySqlPool::connect(&url).await.expect("connect");
    let rows: Vec<(String, u64, String)> =
        sqlx::query_as(EVENTS).fetch_all(&pool).await.expect("read the events table");
    pool.close().await;
    persistence::test_support::drop_database(&server_url, &name).await.expect("drop test database");
    check(stored, rows.into_iter().map(|(stream, seq, kind)| (stream, seq as i64, kind)).collect());
}

const EVENTS: &str = "SELECT train_date, seq, kind FROM events ORDER BY train_date, seq";

/// One event as the consumer received it.
#[derive(Clone, Debug)]
struct Received {
    stream: String,
    seq: u64,
    kind: String,
    position: u64,
}

/// Rounds of load and kill -9 with a consumer following throughout; returns
/// what the consumer received once it has caught up with the last seatd.
async fn run(backend: Backend) -> Vec<Received> {
    let ledger = load::Ledger::default();
    let mut seatd = Seatd::start(&backend).await;
    let (address, addresses) = watch::channel(seatd.address.clone());
    let received = Arc::new(Mutex::new(Vec::new()));
    let (stop, stopped) = watch::channel(false);
    let consumer = tokio::spawn(consume(addresses, seatd.feed_token.clone(), Arc::clone(&received), stopped));
    for round in 0..ROUNDS {
        let (restarted, load_ms, stats) = crash::load_then_kill(&backend, seatd, &ledger, round).await;
        seatd = restarted;
        address.send_replace(seatd.address.clone());
        let seen = received.lock().unwrap().len();
        eprintln!("{backend:?} round {round}: load {load_ms} ms, {stats:?}; consumer has {seen} events");
    }
    // A last burst on the final seatd, so the live hand-over is exercised too.
    let running = load::start(&seatd, &ledger, ROUNDS).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.finish().await;
    let head = feed_head(&seatd).await;
    let caught_up = tokio::time::timeout(CATCH_UP_TIMEOUT, async {
        while received.lock().unwrap().last().map_or(0, |event| event.position) < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    stop.send_replace(true);
    consumer.await.expect("consumer task");
    seatd.kill().await;
    assert!(caught_up.is_ok(), "the consumer did not reach position {head} within {CATCH_UP_TIMEOUT:?}");
    received.lock().unwrap().clone()
}

/// The newest feed position, as a non-following read sees it.
async fn feed_head(seatd: &Seatd) -> u64 {
    let mut client = feed_client(&seatd.address, &seatd.feed_token).await.expect("connect");
    let mut stream = client.stream_events(pb::StreamEventsRequest::default()).await.expect("feed").into_inner();
    let mut head = 0;
    while let Some(event) = stream.message().await.expect("feed reads") {
        head = event.position;
    }
    head
}

/// Follows the feed on whichever seatd is current, resuming after the last
/// event received (position and seq) whenever its stream breaks.
async fn consume(
    addresses: watch::Receiver<String>,
    token: String,
    received: Arc<Mutex<Vec<Received>>>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut cursor = (0, 0);
    while !*stopped.borrow() {
        let address = addresses.borrow().clone();
        let Ok(mut client) = feed_client(&address, &token).await else {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        let request = pb::StreamEventsRequest {
            after_position: cursor.0,
            after_seq: cursor.1,
            follow: true,
            ..Default::default()
        };
        let Ok(stream) = client.stream_events(request).await else {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        let mut stream = stream.into_inner();
        loop {
            tokio::select! {
                message = stream.message() => match message {
                    Ok(Some(event)) => {
                        cursor = (event.position, event.seq);
                        let train_date = event.train_date.clone().expect("train_date");
                        received.lock().unwrap().push(Received {
                            stream: format!("{}/{}", train_date.date, train_date.train),
                            seq: event.seq,
                            kind: event.kind.clone(),
                            position: event.position,
                        });
                    }
                    // The seatd died (or ended the stream): resume on the next one.
                    _ => break,
                },
                _ = stopped.changed() => return,
            }
        }
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

/// The consumer's events equal the events table: each once, per train-date
/// in seq order from 1 with no gap, positions never going back.
fn check(received: Vec<Received>, stored: Vec<(String, i64, String)>) {
    assert!(received.windows(2).all(|pair| pair[0].position <= pair[1].position), "positions never go back");
    let mut per_stream: BTreeMap<String, Vec<(u64, String)>> = BTreeMap::new();
    for event in &received {
        per_stream.entry(event.stream.clone()).or_default().push((event.seq, event.kind.clone()));
    }
    for (stream, events) in &per_stream {
        let seqs: Vec<u64> = events.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "{stream}: every seq once, in order");
    }
    let consumed: Vec<(String, i64, String)> = per_stream
        .into_iter()
        .flat_map(|(stream, events)| events.into_iter().map(move |(seq, kind)| (stream.clone(), seq as i64, kind)))
        .collect();
    assert!(stored.len() > 50, "the load committed only {} events", stored.len());
    assert_eq!(consumed.len(), stored.len(), "the consumer has as many events as the journal");
    assert_eq!(consumed, stored, "the consumer has exactly the journal's events");
    eprintln!("the consumer received all {} committed events exactly once, in order", stored.len());
}
