//! The live board page in headless Chromium against a real `seatd --demo`:
//! the page's hand-written protobuf codec agrees with prost, it shows the
//! counts, a booking made through the gRPC API drops the count on the page
//! without a reload, and a train's seat map opens on click.

#[allow(dead_code)] // Each test binary uses part of the shared support.
mod live;

use api::pb::{self};
use live::webdriver::{Browser, program};
use live::{Seatd, hold_request, tomorrow, watch_search};
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_stream::StreamExt;

const TEST: &str = "board_browser";
/// How long the page may take to show a count, or a change of one: the
/// page loads and opens its watch over gRPC-Web in well under a second.
const PAGE_WAIT_MAX: Duration = Duration::from_secs(15);

/// The G1 second-class count cell's remaining seats, or null.
const G1_SECOND_LEFT: &str =
    "const cell = document.querySelector('td.count[data-train=\"G1\"][data-class=\"second\"]');
     return cell ? Number(cell.dataset.remaining) : null;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_shows_counts_and_a_booking_drops_one_live() {
    let Some(chromium) = program("CHROMIUM", &["chromium", "chromium-browser", "google-chrome"], TEST) else { return };
    let Some(chromedriver) = program("CHROMEDRIVER", &["chromedriver"], TEST) else { return };
    let seatd = Seatd::start(&[]);
    let date = tomorrow();
    let browser = tokio::task::block_in_place(|| Browser::start(&chromedriver, &chromium));
    let url = format!("http://{}/board?from={}&to={}&date={date}", seatd.address, live::FROM, live::TO);
    tokio::task::block_in_place(|| browser.navigate(&url));

    let (shown, waited) = tokio::task::block_in_place(|| browser.wait_for(G1_SECOND_LEFT, vec![], PAGE_WAIT_MAX));
    let before = shown.as_u64().expect("a count") as u32;
    println!("the page showed G1 second class: {before} left, {waited:?} after loading");
    let mut agent = seatd.booking(&seatd.tokens.agent).await;
    let search =
        pb::SearchTrainsRequest { date: date.clone(), from_station: live::FROM.into(), to_station: live::TO.into() };
    let searched = agent.search_trains(search).await.expect("search").into_inner();
    let rows = tokio::task::block_in_place(|| {
        browser.execute("return document.querySelectorAll('#trains tbody tr').length;", vec![])
    });
    assert_eq!(rows.as_u64(), Some(searched.trains.len() as u64), "one row per train the search finds");

    check_codec_against_prost(&browser, &seatd, &date).await;

    agent.hold(hold_request("G1", &date, 7)).await.expect("hold acknowledged");
    let dropped = format!("{G1_SECOND_LEFT_FN} return left({before}) === {} ? true : null;", before - 1);
    let (_, waited) = tokio::task::block_in_place(|| browser.wait_for(&dropped, vec![], PAGE_WAIT_MAX));
    println!("the page showed the drop to {} {waited:?} after the hold was acknowledged", before - 1);

    tokio::task::block_in_place(|| {
        browser.click("#trains tbody tr");
        let (free, waited) = browser.wait_for(
            "return document.querySelector('#carriage')?.dataset.free ?? null;",
            vec![],
            PAGE_WAIT_MAX,
        );
        println!("the seat map of the first carriage opened on click: {free} free, after {waited:?}");
        let screenshot = browser.screenshot();
        assert!(screenshot.starts_with(b"\x89PNG"), "a PNG");
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("board.png");
        std::fs::write(&path, screenshot).expect("screenshot written");
        println!("screenshot: {}", path.display());
    });
}

/// Reads the G1 second-class count as a function, for scripts that compare it.
const G1_SECOND_LEFT_FN: &str = "const left = () => { const cell = document.querySelector(
     'td.count[data-train=\"G1\"][data-class=\"second\"]'); return cell ? Number(cell.dataset.remaining) : null; };";

/// The page's encoders produce prost's bytes, and its decoder reads what
/// seatd really sends.
async fn check_codec_against_prost(browser: &Browser, seatd: &Seatd, date: &str) {
    let encoded = tokio::task::block_in_place(|| {
        browser.execute(
            "return Array.from(seatBoard.encode.watchSearch({date: arguments[0], from: arguments[1], to: arguments[2], coarse: true}));",
            vec![json!(date), json!(live::FROM), json!(live::TO)],
        )
    });
    assert_eq!(bytes_of(&encoded), watch_search(date, true).encode_to_vec(), "WatchAvailabilityRequest");
    let seat_map = pb::GetSeatMapRequest {
        train_date: Some(pb::TrainDate { train: "G1".into(), date: date.into() }),
        carriage: 4,
        from_station: "VNP".into(),
        to_station: "AOH".into(),
    };
    let encoded = tokio::task::block_in_place(|| {
        browser.execute(
            "return Array.from(seatBoard.encode.seatMap({train: 'G1', date: arguments[0], carriage: 4, from: 'VNP', to: 'AOH'}));",
            vec![json!(date)],
        )
    });
    assert_eq!(bytes_of(&encoded), seat_map.encode_to_vec(), "GetSeatMapRequest");

    let mut client = seatd.booking(&seatd.tokens.passenger).await;
    let mut updates = client.watch_availability(watch_search(date, true)).await.expect("watch").into_inner();
    let update = updates.next().await.expect("initial").expect("ok");
    let decoded = tokio::task::block_in_place(|| {
        browser.execute(
            "return seatBoard.decode.availabilityUpdate(Uint8Array.from(arguments[0]));",
            vec![json!(update.encode_to_vec())],
        )
    });
    assert_eq!(decoded["initial"], Value::Bool(true));
    let trains = decoded["trains"].as_array().expect("trains");
    assert_eq!(trains.len(), update.trains.len());
    for (page, sent) in trains.iter().zip(&update.trains) {
        assert_eq!(page["trainDate"]["train"], json!(sent.train_date.as_ref().expect("key").train));
        assert_eq!(page["departTime"], json!(sent.depart_time));
        assert_eq!(page["fromStationName"], json!(sent.from_station_name));
        let classes = page["classes"].as_array().expect("classes");
        for (page_class, sent_class) in classes.iter().zip(&sent.classes) {
            assert_eq!(page_class["remaining"], json!(sent_class.remaining));
            assert_eq!(page_class["fareFen"], json!(sent_class.fare_fen));
            assert_eq!(page_class["plenty"], json!(sent_class.plenty));
        }
    }
    let map = client.get_seat_map(seat_map).await.expect("seat map").into_inner();
    let decoded = tokio::task::block_in_place(|| {
        browser.execute(
            "return seatBoard.decode.seatMap(Uint8Array.from(arguments[0]));",
            vec![json!(map.encode_to_vec())],
        )
    });
    assert_eq!(decoded["letters"], json!(map.letters));
    let rows = decoded["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), map.rows.len());
    assert_eq!(rows[0]["free"], json!(map.rows[0].free));
}

fn bytes_of(value: &Value) -> Vec<u8> {
    value.as_array().expect("byte array").iter().map(|byte| byte.as_u64().expect("byte") as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_demo_page_carries_a_token() {
    let demo = Seatd::start(&[]);
    let page = http_get(&demo.address, "/board");
    assert!(page.contains(&format!("content=\"{}\"", demo.tokens.passenger)), "the demo page works on opening");

    let plain = Seatd::start_without_demo();
    let page = http_get(&plain.address, "/board");
    assert!(page.contains("<meta name=\"seat-demo-token\" content=\"\">"), "no token outside demo mode");
    assert!(page.contains("Content-Security-Policy") || page.to_ascii_lowercase().contains("content-security-policy"));
}

/// The reply (head and body) of a plain HTTP/1.1 GET.
fn http_get(address: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n").expect("request");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("reply");
    reply
}
