//! Fuzzing the real server over gRPC, on every Booking and Admin method:
//! random bytes as the request, and valid requests with one field (at any
//! depth) replaced, dropped, duplicated or given another wire type. Every
//! refusal must be documented: never INTERNAL or UNKNOWN, trailers under
//! 8 KiB, and an ErrorInfo reason from the table with the table's status.
//!
//! Cases are bounded so a debug run stays well under a minute;
//! `PROPTEST_CASES=5000 cargo test -p seat-tests --test fuzz_e2e` runs longer.

use api::auth::Role;
use api::pb::{self, SeatClass};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use prost::Message;
use seat_tests::raw::{self, TRAILER_BYTES_MAX, trailer_bytes};
use seat_tests::{IDS, TOMORROW, TestServer, hold_request, token, train_date};
use tonic::transport::Channel;

/// Cases per property unless PROPTEST_CASES says otherwise.
const CASES_DEFAULT: u32 = 512;
/// Deepest nested message a mutation descends into (HoldRequest →
/// passengers → seat is 3).
const MUTATION_DEPTH_MAX: usize = 4;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(CASES_DEFAULT)
}

/// Every method with a valid request, built against the demo on `server`.
async fn valid_requests(server: &TestServer) -> Vec<(&'static str, Vec<u8>)> {
    let mut booking = server.booking().await;
    let order = booking
        .hold(hold_request("fuzz-seed", "fuzz", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]))
        .await
        .expect("the seed order holds")
        .into_inner();
    let mut admin = server.admin().await;
    let first_page = pb::ListTrainDatesRequest { date: TOMORROW.into(), page_size: 2, page_token: String::new() };
    let page = admin.list_train_dates(first_page).await.expect("lists").into_inner();
    let template = server.engine.catalog().train("G1").expect("the demo has G1").template.clone();
    let key = || train_date("G1", TOMORROW);
    let order_id = order.order_id;
    vec![
        (
            "/seat.v1.Booking/SearchTrains",
            pb::SearchTrainsRequest { date: TOMORROW.into(), from_station: "VNP".into(), to_station: "AOH".into() }
                .encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/GetAvailability",
            pb::GetAvailabilityRequest {
                train_date: key(), from_station: "北京南".into(), to_station: "AOH".into()
            }
            .encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/WatchAvailability",
            pb::WatchAvailabilityRequest {
                target: Some(pb::watch_availability_request::Target::Journeys(pb::WatchJourneys {
                    journeys: vec![pb::GetAvailabilityRequest {
                        train_date: key(),
                        from_station: "VNP".into(),
                        to_station: "NKH".into(),
                    }],
                })),
                coarse: true,
            }
            .encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/WatchAvailability",
            pb::WatchAvailabilityRequest {
                target: Some(pb::watch_availability_request::Target::Search(pb::SearchTrainsRequest {
                    date: TOMORROW.into(),
                    from_station: "VNP".into(),
                    to_station: "AOH".into(),
                })),
                coarse: false,
            }
            .encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/GetSeatMap",
            pb::GetSeatMapRequest {
                train_date: key(),
                carriage: 3,
                from_station: "VNP".into(),
                to_station: "NKH".into(),
            }
            .encode_to_vec(),
        ),
        ("/seat.v1.Booking/Hold", {
            let mut hold = hold_request("fuzz-hold", "fuzz", "G1", "VNP", "NKH", SeatClass::Second, &IDS[1..3]);
            hold.passengers[0].pick = "A1".into();
            hold.passengers[1].seat = Some(pb::ExactSeat { carriage: 5, seat: "02F".into() });
            hold.encode_to_vec()
        }),
        (
            "/seat.v1.Booking/Confirm",
            pb::ConfirmRequest { order_id: order_id.clone(), user_id: "fuzz".into() }.encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/Cancel",
            pb::CancelRequest { order_id: order_id.clone(), user_id: "fuzz".into() }.encode_to_vec(),
        ),
        ("/seat.v1.Booking/GetOrder", pb::GetOrderRequest { order_id, user_id: "fuzz".into() }.encode_to_vec()),
        (
            "/seat.v1.Booking/ListOrders",
            pb::ListOrdersRequest { user_id: "fuzz".into(), page_size: 1, page_token: String::new() }.encode_to_vec(),
        ),
        (
            "/seat.v1.Booking/ListStations",
            pb::ListStationsRequest { prefix: "bei".into(), page_size: 5, page_token: String::new() }.encode_to_vec(),
        ),
        ("/seat.v1.Booking/GetTrain", pb::GetTrainRequest { train_date: key() }.encode_to_vec()),
        (
            "/seat.v1.Admin/UpsertStations",
            pb::UpsertStationsRequest {
                stations: vec![pb::Station { code: "ZZF".into(), name: "测试".into(), pinyin: "ceshi".into() }],
            }
            .encode_to_vec(),
        ),
        (
            "/seat.v1.Admin/UpsertTrain",
            pb::UpsertTrainRequest { train: Some(api::convert::train_pb(&template)) }.encode_to_vec(),
        ),
        ("/seat.v1.Admin/OpenTrainDate", pb::OpenTrainDateRequest { train_date: key() }.encode_to_vec()),
        (
            "/seat.v1.Admin/OpenTrainDates",
            pb::OpenTrainDatesRequest {
                trains: vec!["G1".into(), "G3".into()],
                first_date: TOMORROW.into(),
                last_date: TOMORROW.into(),
            }
            .encode_to_vec(),
        ),
        ("/seat.v1.Admin/CloseSales", pb::CloseSalesRequest { train_date: train_date("G7", TOMORROW) }.encode_to_vec()),
        (
            "/seat.v1.Admin/ListTrainDates",
            pb::ListTrainDatesRequest { date: TOMORROW.into(), page_size: 2, page_token: page.next_page_token }
                .encode_to_vec(),
        ),
        ("/seat.v1.Admin/Stats", pb::StatsRequest::default().encode_to_vec()),
        ("/seat.v1.Admin/RunPresale", pb::RunPresaleRequest::default().encode_to_vec()),
    ]
}

/// One field of a message on the wire.
#[derive(Clone, Debug)]
enum Wire {
    Varint(u64),
    Fixed64(u64),
    Bytes(Vec<u8>),
    Fixed32(u32),
}

fn read_varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first()?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of a message, or None if `bytes` is not one.
fn parse(mut bytes: &[u8]) -> Option<Vec<(u32, Wire)>> {
    let mut fields = Vec::new();
    while !bytes.is_empty() {
        let key = read_varint(&mut bytes)?;
        let number = u32::try_from(key >> 3).ok().filter(|number| *number > 0)?;
        let wire = match key & 7 {
            0 => Wire::Varint(read_varint(&mut bytes)?),
            1 => {
                let (value, rest) = bytes.split_first_chunk::<8>()?;
                bytes = rest;
                Wire::Fixed64(u64::from_le_bytes(*value))
            }
            2 => {
                let length = usize::try_from(read_varint(&mut bytes)?).ok()?;
                let (value, rest) = bytes.split_at_checked(length)?;
                bytes = rest;
                Wire::Bytes(value.to_vec())
            }
            5 => {
                let (value, rest) = bytes.split_first_chunk::<4>()?;
                bytes = rest;
                Wire::Fixed32(u32::from_le_bytes(*value))
            }
            _ => return None,
        };
        fields.push((number, wire));
    }
    Some(fields)
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn encode(fields: &[(u32, Wire)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (number, wire) in fields {
        let wire_type = match wire {
            Wire::Varint(_) => 0,
            Wire::Fixed64(_) => 1,
            Wire::Bytes(_) => 2,
            Wire::Fixed32(_) => 5,
        };
        write_varint(&mut out, u64::from(*number) << 3 | wire_type);
        match wire {
            Wire::Varint(value) => write_varint(&mut out, *value),
            Wire::Fixed64(value) => out.extend_from_slice(&value.to_le_bytes()),
            Wire::Bytes(value) => {
                write_varint(&mut out, value.len() as u64);
                out.extend_from_slice(value);
            }
            Wire::Fixed32(value) => out.extend_from_slice(&value.to_le_bytes()),
        }
    }
    out
}

/// What happens to the one field a mutation picks.
#[derive(Clone, Debug)]
enum Change {
    /// Its value becomes this (keeping the field number).
    Set(Wire),
    Drop,
    Duplicate,
    /// An unknown field number is added beside it.
    AddUnknown(Wire),
}

/// Applies `change` to one field of `message`, picked by `path`: at each
/// level `path` picks a field, and a nested message is descended into while
/// `path` says so and the depth allows.
fn mutate(message: &[u8], path: &[u16], change: &Change) -> Vec<u8> {
    let Some(mut fields) = parse(message) else { return message.to_vec() };
    let Some((&pick, deeper)) = path.split_first() else { return message.to_vec() };
    if fields.is_empty() {
        fields.push((1, Wire::Varint(0)));
    }
    let index = usize::from(pick) % fields.len();
    let descend = pick % 3 != 0 && !deeper.is_empty();
    if descend
        && let Wire::Bytes(inner) = &fields[index].1
        && parse(inner).is_some_and(|inner_fields| !inner_fields.is_empty())
    {
        let mutated = mutate(inner, deeper, change);
        fields[index].1 = Wire::Bytes(mutated);
        return encode(&fields);
    }
    match change.clone() {
        Change::Set(wire) => fields[index].1 = wire,
        Change::Drop => {
            fields.remove(index);
        }
        Change::Duplicate => fields.insert(index, fields[index].clone()),
        Change::AddUnknown(wire) => fields.insert(index, (1000 + u32::from(pick), wire)),
    }
    encode(&fields)
}

/// Strings a client might send: edges of every documented limit, Unicode
/// that hides or reorders text, loose dates, huge values.
fn text() -> impl Strategy<Value = Vec<u8>> {
    let crafted = prop::sample::select(vec![
        "",
        " ",
        "0",
        "-1",
        "G1",
        "VNP",
        "北京南",
        "beijingnan",
        "2026-11-25",
        "2026-1-1",
        "2026-12-3",
        "0000-01-01",
        "9999-12-31",
        "2026-02-30",
        "\u{200d}\u{200b}",
        "\u{feff}",
        "\u{202e}RTL",
        "\u{10ffff}",
        "\u{0}",
        "A1",
        "Z9",
        "01A",
        "99Z",
        "11010519491231002X",
        "0190b5c0-0000-7000-8000-000000000000",
        "6f",
        "74",
        "%",
        "\r\n",
        "' OR 1=1 --",
        "G99999999",
    ])
    .prop_map(|text: &str| text.as_bytes().to_vec());
    let long = (prop::sample::select(vec!["x", "北", "\u{202e}", "%", "\"", "G"]), 1usize..30_000)
        .prop_map(|(unit, count)| unit.repeat(count).into_bytes());
    prop_oneof![
        4 => crafted,
        2 => "\\PC{0,40}".prop_map(String::into_bytes),
        2 => long,
        1 => proptest::collection::vec(any::<u8>(), 0..64),
    ]
}

fn wire() -> impl Strategy<Value = Wire> {
    let edges = prop::sample::select(vec![
        0u64,
        1,
        2,
        5,
        6,
        20,
        40,
        41,
        64,
        100,
        101,
        1000,
        1001,
        1440,
        u64::from(u32::MAX),
        u64::MAX,
        (-1i64) as u64,
    ]);
    prop_oneof![
        3 => edges.prop_map(Wire::Varint),
        1 => any::<u64>().prop_map(Wire::Varint),
        4 => text().prop_map(Wire::Bytes),
        1 => any::<u64>().prop_map(Wire::Fixed64),
        1 => any::<u32>().prop_map(Wire::Fixed32),
    ]
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        6 => wire().prop_map(Change::Set),
        1 => Just(Change::Drop),
        1 => Just(Change::Duplicate),
        1 => wire().prop_map(Change::AddUnknown),
    ]
}

/// Sends `message` to `method` and checks any refusal is a documented one.
async fn check(channel: &Channel, bearer: &str, method: &str, message: Vec<u8>) -> Result<(), TestCaseError> {
    let Err(status) = raw::call(channel, bearer, method, message).await else { return Ok(()) };
    let what = format!("{method}: {:?} {:?}", status.code(), status.message());
    prop_assert!(![tonic::Code::Internal, tonic::Code::Unknown].contains(&status.code()), "{}", what);
    prop_assert!(trailer_bytes(&status) < TRAILER_BYTES_MAX, "{}: {} bytes of trailers", what, trailer_bytes(&status));
    let reason = api::status::reason_of(&status);
    let documented = reason.as_deref().and_then(api::reasons::named);
    prop_assert!(documented.is_some(), "{}: reason {:?} is not in the table", what, reason);
    prop_assert_eq!(documented.map(|reason| reason.code), Some(status.code()), "{}", what);
    Ok(())
}

/// Runs, against one server on its own runtime, cases of a method and a
/// value from `strategy`, sending `property(valid request, value)`.
fn fuzz<S: Strategy>(strategy: impl Fn(usize) -> S, property: impl Fn(&[u8], S::Value) -> Vec<u8>)
where
    S::Value: std::fmt::Debug,
{
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let channel = runtime.block_on(server.channel());
    let requests = runtime.block_on(valid_requests(&server));
    let bearer = token(Role::Admin, "fuzz-admin");
    let mut runner = TestRunner::new(Config { cases: cases(), failure_persistence: None, ..Config::default() });
    let picks = (0..requests.len()).prop_flat_map(|method| (Just(method), strategy(method)));
    let outcome = runner.run(&picks, |(method, value)| {
        let (path, valid) = &requests[method];
        let message = property(valid, value);
        runtime.block_on(check(&channel, &bearer, path, message))
    });
    runtime.block_on(server.stop());
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[test]
fn random_bytes_on_every_rpc_get_documented_refusals() {
    fuzz(|_| proptest::collection::vec(any::<u8>(), 0..300), |_, bytes| bytes);
}

#[test]
fn single_field_mutations_on_every_rpc_get_documented_refusals() {
    let path = proptest::collection::vec(any::<u16>(), 1..=MUTATION_DEPTH_MAX);
    fuzz(move |_| (path.clone(), change()), |valid, (path, change)| mutate(valid, &path, &change));
}

#[test]
fn mutations_reach_nested_fields() {
    let hold = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]).encode_to_vec();
    let renamed = mutate(&hold, &[5, 0, 0], &Change::Set(Wire::Bytes(b"X".to_vec())));
    let renamed = pb::HoldRequest::decode(renamed.as_slice()).expect("still a hold");
    assert_eq!(renamed.passengers[0].name, "X", "passengers (field 6, index 5) → name (field 1, index 0)");
    let dropped = mutate(&hold, &[3], &Change::Drop);
    assert!(pb::HoldRequest::decode(dropped.as_slice()).expect("still a hold").from_station.is_empty());
}
