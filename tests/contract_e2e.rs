//! The API contract as a client in another language sees it: undecodable
//! bytes, oversized values, documented limits, reason codes and field names,
//! strict dates and opaque page tokens, reflection and message sizes. Each
//! refusal must have the status, reason and field the .proto documents.

use api::auth::Role;
use api::pb::{self, SeatClass};
use prost::Message;
use seat_tests::raw::{self, assert_documented_refusal, trailer_bytes};
use seat_tests::{IDS, TODAY, TOMORROW, TestServer, hold_request, reason, token, train_date};
use tonic::Code;

/// Every Booking, Admin, Waitlist and TicketChange method.
const METHODS: [&str; 25] = [
    "/seat.v1.Booking/SearchTrains",
    "/seat.v1.Booking/GetAvailability",
    "/seat.v1.Booking/WatchAvailability",
    "/seat.v1.Booking/GetSeatMap",
    "/seat.v1.Booking/Hold",
    "/seat.v1.Booking/Confirm",
    "/seat.v1.Booking/Cancel",
    "/seat.v1.Booking/GetOrder",
    "/seat.v1.Booking/ListOrders",
    "/seat.v1.Booking/ListStations",
    "/seat.v1.Booking/GetTrain",
    "/seat.v1.Admin/UpsertStations",
    "/seat.v1.Admin/UpsertTrain",
    "/seat.v1.Admin/OpenTrainDate",
    "/seat.v1.Admin/OpenTrainDates",
    "/seat.v1.Admin/CloseSales",
    "/seat.v1.Admin/ListTrainDates",
    "/seat.v1.Admin/Stats",
    "/seat.v1.Admin/RunPresale",
    "/seat.v1.Waitlist/SubmitWaitlist",
    "/seat.v1.Waitlist/ActivateWaitlist",
    "/seat.v1.Waitlist/CancelWaitlist",
    "/seat.v1.Waitlist/GetWaitlist",
    "/seat.v1.Waitlist/ListWaitlist",
    "/seat.v1.TicketChange/ChangeOrder",
];
/// Methods whose request message has no fields.
const FIELDLESS: [&str; 2] = ["/seat.v1.Admin/Stats", "/seat.v1.Admin/RunPresale"];

/// A change to a valid train template that breaks one rule.
type TrainEdit = fn(&mut pb::Train);

fn search(from: &str, to: &str) -> pb::SearchTrainsRequest {
    pb::SearchTrainsRequest { date: TOMORROW.into(), from_station: from.into(), to_station: to.into() }
}

fn admin_token() -> String {
    token(Role::Admin, "contract-admin")
}

fn field(status: &tonic::Status) -> String {
    api::status::field_of(status).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_requests_are_invalid_argument_on_every_rpc() {
    let server = TestServer::start().await;
    let channel = server.channel().await;
    // A bad varint; a length running past the end; a field number 0; and
    // field 1 holding bytes that are not UTF-8 (a string or a message with a
    // string first in every request that has fields; Stats and RunPresale
    // have none, and skip unknown fields as protobuf requires).
    let garbage: [&[u8]; 4] = [&[0xff], &[0x0a, 0x10, b'a'], &[0x00, 0x01], &[0x0a, 0x02, 0xff, 0xfe]];
    for method in METHODS {
        let garbage = if FIELDLESS.contains(&method) { &garbage[..3] } else { &garbage[..] };
        for &bytes in garbage {
            let status = raw::call(&channel, &admin_token(), method, bytes.to_vec()).await.expect_err(method);
            assert_eq!(status.code(), Code::InvalidArgument, "{method} {bytes:02x?}: {}", status.message());
            assert_eq!(reason(&status), "MALFORMED_REQUEST", "{method}");
            assert_documented_refusal(&status, method);
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoed_values_are_capped_whatever_their_size() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    let long_code = "G".repeat(20_000);
    let status = admin.close_sales(pb::CloseSalesRequest { train_date: train_date(&long_code, TOMORROW) }).await;
    let status = status.unwrap_err();
    assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "train_date.train"));
    assert!(status.message().contains("GGGG") && status.message().contains('…'), "{}", status.message());
    assert_documented_refusal(&status, "CloseSales with a 20,000-character train");

    for station in ["北".repeat(20_000), "x".repeat(30_000), "\u{202e}".repeat(10_000)] {
        let status = booking.search_trains(search(&station, "AOH")).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "from_station"));
        assert!(status.message().len() <= api::status::MESSAGE_BYTES_MAX, "{}", status.message());
        assert_documented_refusal(&status, "SearchTrains with a long station");
    }

    let huge_name = pb::Station { code: "ZZA".into(), name: "站".repeat(500_000), pinyin: String::new() };
    let status = admin.upsert_stations(pb::UpsertStationsRequest { stations: vec![huge_name] }).await.unwrap_err();
    assert_eq!(field(&status), "stations[0].name");
    assert_documented_refusal(&status, "UpsertStations with a 1.5 MB name");
    let huge_code = pb::Station { code: "Z".repeat(1_000_000), name: "站".into(), pinyin: String::new() };
    let status = admin.upsert_stations(pb::UpsertStationsRequest { stations: vec![huge_code] }).await.unwrap_err();
    assert_eq!(field(&status), "stations[0].code");
    assert!(trailer_bytes(&status) < 2048, "{} bytes", trailer_bytes(&status));
    assert_documented_refusal(&status, "UpsertStations with a 1 MB code");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sizes_are_enforced_as_documented() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    let orders = |page_size| pb::ListOrdersRequest { user_id: "u".into(), page_size, page_token: String::new() };
    for page_size in [0, 1, 100] {
        booking.list_orders(orders(page_size)).await.unwrap_or_else(|status| panic!("{page_size}: {status:?}"));
    }
    for page_size in [101, 4_294_967_295] {
        let status = booking.list_orders(orders(page_size)).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "page_size"), "{page_size}");
    }
    let train_dates = |page_size| pb::ListTrainDatesRequest { page_size, ..Default::default() };
    for page_size in [0, 1, 1000] {
        admin.list_train_dates(train_dates(page_size)).await.unwrap_or_else(|status| panic!("{page_size}: {status:?}"));
    }
    for page_size in [1001, 4_294_967_295] {
        let status = admin.list_train_dates(train_dates(page_size)).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "page_size"), "{page_size}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn station_names_must_be_printable() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let upsert = |name: &str| pb::UpsertStationsRequest {
        stations: vec![pb::Station { code: "ZZP".into(), name: name.into(), pinyin: String::new() }],
    };
    for name in ["站", "Beijing South", &"站".repeat(32)] {
        admin.upsert_stations(upsert(name)).await.unwrap_or_else(|status| panic!("{name:?}: {status:?}"));
    }
    for name in ["", &"站".repeat(33), "\u{200d}\u{200b}", "\u{feff}", "\u{202e}RTL", "\u{10ffff}", "\u{e000}", " 站"]
    {
        let status = admin.upsert_stations(upsert(name)).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "stations[0].name"), "{name:?}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasons_and_fields_are_the_protos() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    for ids in [&IDS[..6], &[][..]] {
        let status = booking.hold(hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, ids)).await;
        let status = status.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "PASSENGER_COUNT"));
        assert_eq!(field(&status), "passengers");
    }

    let same = booking.search_trains(search("VNP", "北京南")).await.unwrap_err();
    let backwards = booking
        .get_availability(pb::GetAvailabilityRequest {
            train_date: train_date("G1", TOMORROW),
            from_station: "AOH".into(),
            to_station: "VNP".into(),
        })
        .await
        .unwrap_err();
    let same_hold =
        booking.hold(hold_request("r", "u", "G1", "VNP", "VNP", SeatClass::Second, &[IDS[0]])).await.unwrap_err();
    let backwards_hold =
        booking.hold(hold_request("r", "u", "G1", "AOH", "NKH", SeatClass::Second, &[IDS[0]])).await.unwrap_err();
    for status in [same, backwards, same_hold, backwards_hold] {
        assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "INVALID_JOURNEY"));
        assert!(!status.message().contains("reaches"), "{}", status.message());
    }
    let same = booking.hold(hold_request("r", "u", "G1", "NKH", "NKH", SeatClass::Second, &[IDS[0]])).await;
    assert!(same.unwrap_err().message().contains("both NKH"));

    let train = |edit: TrainEdit| {
        let mut train = pb::Train {
            code: "C3001".into(),
            stops: vec![
                pb::Stop { station: "VNP".into(), arrive_minutes: None, depart_minutes: Some(600), distance_km: 0 },
                pb::Stop { station: "TIP".into(), arrive_minutes: Some(630), depart_minutes: None, distance_km: 120 },
            ],
            carriages: vec![pb::Carriage {
                number: 1,
                seat_class: SeatClass::Second.into(),
                rows: 2,
                letters: "".into(),
            }],
        };
        edit(&mut train);
        pb::UpsertTrainRequest { train: Some(train) }
    };
    let cases: [(TrainEdit, &str); 4] = [
        (|train| train.stops[0].distance_km = 5, "train.stops[0].distance_km"),
        (|train| train.stops[0].depart_minutes = None, "train.stops[0].depart_minutes"),
        (|train| train.stops[1].arrive_minutes = None, "train.stops[1].arrive_minutes"),
        (|train| train.stops[1].arrive_minutes = Some(500), "train.stops[1].arrive_minutes"),
    ];
    for (edit, expected) in cases {
        let status = admin.upsert_train(train(edit)).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, expected));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_are_strict_and_opening_has_one_window() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    for date in ["2026-11-25 ", "2026-12-3", "2026-1-1", "0000-01-01", "+2026-11-25", "20261-01-01"] {
        let request = pb::SearchTrainsRequest { date: date.into(), ..search("VNP", "AOH") };
        let status = booking.search_trains(request).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "date"), "{date:?}");
        let open =
            pb::OpenTrainDatesRequest { trains: vec!["G1".into()], first_date: date.into(), last_date: TODAY.into() };
        let status = admin.open_train_dates(open).await.unwrap_err();
        assert_eq!(field(&status), "first_date", "{date:?}");
        let open = pb::OpenTrainDateRequest { train_date: train_date("G1", date) };
        let status = admin.open_train_date(open).await.unwrap_err();
        assert_eq!(field(&status), "train_date.date", "{date:?}");
    }
    // TODAY is 2026-11-24: 90 days ahead is 2027-02-22.
    let open = |date: &str| pb::OpenTrainDateRequest { train_date: train_date("G1", date) };
    assert!(admin.open_train_date(open("2027-02-22")).await.unwrap().into_inner().opened);
    for date in ["2027-02-23", "9999-12-31"] {
        let status = admin.open_train_date(open(date)).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "train_date.date"), "{date}");
        let range =
            pb::OpenTrainDatesRequest { trains: vec!["G1".into()], first_date: date.into(), last_date: date.into() };
        let status = admin.open_train_dates(range).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "last_date"), "{date}");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_tokens_are_opaque_keyset_cursors() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    let hold = |index: usize, train: &str| {
        hold_request(&format!("k{index}"), "dana", train, "VNP", "NKH", SeatClass::Second, &[IDS[index % 7]])
    };
    for (index, train) in ["G1", "G3", "G7"].into_iter().enumerate() {
        booking.hold(hold(index, train)).await.unwrap();
    }
    let page = |token: String| pb::ListOrdersRequest { user_id: "dana".into(), page_size: 2, page_token: token };
    let first = booking.list_orders(page(String::new())).await.unwrap().into_inner();
    assert_eq!(first.orders.len(), 2);
    assert!(first.next_page_token.parse::<u64>().is_err(), "not an offset: {}", first.next_page_token);
    // Orders made between pages come after the cursor; none repeats.
    booking.hold(hold(3, "G101")).await.unwrap();
    let second = booking.list_orders(page(first.next_page_token.clone())).await.unwrap().into_inner();
    let trains: Vec<String> =
        first.orders.iter().chain(&second.orders).map(|o| o.train_date.clone().unwrap().train).collect();
    assert_eq!(trains, ["G1", "G3", "G7", "G101"]);
    assert_eq!(second.total, 4);

    let forged = ["2", "20", &"0".repeat(34), "not-a-token", &first.next_page_token.to_uppercase()];
    for token in forged {
        let status = booking.list_orders(page(token.to_owned())).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "page_token"), "{token}");
        let listing = pb::ListTrainDatesRequest { page_token: token.to_owned(), ..Default::default() };
        let status = admin.list_train_dates(listing).await.unwrap_err();
        assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "page_token"), "{token}");
    }
    let listing = pb::ListTrainDatesRequest { date: TOMORROW.into(), page_size: 3, page_token: String::new() };
    let page = admin.list_train_dates(listing).await.unwrap().into_inner();
    let old_style = format!("{TOMORROW}|G1");
    for token in [old_style, first.next_page_token] {
        let listing = pb::ListTrainDatesRequest { page_token: token.clone(), ..Default::default() };
        let status = admin.list_train_dates(listing).await.unwrap_err();
        assert_eq!(field(&status), "page_token", "{token}");
    }
    let next = pb::ListTrainDatesRequest { date: TOMORROW.into(), page_size: 3, page_token: page.next_page_token };
    let next = admin.list_train_dates(next).await.unwrap().into_inner();
    let keys = |infos: &[pb::TrainDateInfo]| -> Vec<pb::TrainDate> {
        infos.iter().filter_map(|info| info.train_date.clone()).collect()
    };
    let (first_keys, next_keys) = (keys(&page.train_dates), keys(&next.train_dates));
    assert_eq!(next_keys.len(), 3);
    assert!(next_keys.iter().all(|key| !first_keys.contains(key)), "pages do not overlap");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_user_id_means_the_passenger_and_agents_must_name_one() {
    let server = TestServer::start().await;
    let mut passenger = server.booking_as(Role::Passenger, "erin").await;
    let order = passenger.hold(hold_request("e1", "", "G1", "VNP", "NKH", SeatClass::Second, &[IDS[1]])).await;
    assert_eq!(order.unwrap().into_inner().user_id, "erin");
    let listed = passenger.list_orders(pb::ListOrdersRequest::default()).await.unwrap().into_inner();
    assert_eq!(listed.total, 1);

    let mut agent = server.booking_as(Role::Agent, "frontend").await;
    let status =
        agent.hold(hold_request("e2", "", "G1", "VNP", "NKH", SeatClass::Second, &[IDS[2]])).await.unwrap_err();
    assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "user_id"));
    let status = agent.list_orders(pb::ListOrdersRequest::default()).await.unwrap_err();
    assert_eq!((status.code(), field(&status).as_str()), (Code::InvalidArgument, "user_id"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflection_lists_the_health_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let server = TestServer::start().await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let reply = replies.message().await.unwrap().expect("a reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else { panic!("{reply:?}") };
    let names: Vec<String> = list.service.into_iter().map(|service| service.name).collect();
    for expected in ["grpc.health.v1.Health", "seat.v1.Booking", "seat.v1.Admin"] {
        assert!(names.iter().any(|name| name == expected), "{expected} missing from {names:?}");
    }
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::FileContainingSymbol("grpc.health.v1.Health".into())),
    };
    let mut replies = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let reply = replies.message().await.unwrap().expect("a reply");
    assert!(matches!(reply.message_response, Some(MessageResponse::FileDescriptorResponse(_))), "{reply:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_sizes_follow_one_documented_policy() {
    let server = TestServer::start().await;
    let channel = server.channel().await;
    let station = |size: usize| search(&"x".repeat(size), "AOH").encode_to_vec();
    let status = raw::call(&channel, &admin_token(), "/seat.v1.Booking/SearchTrains", station(60 * 1024)).await;
    assert_eq!(field(&status.unwrap_err()), "from_station", "under 64 KiB is read");
    let status = raw::call(&channel, &admin_token(), "/seat.v1.Booking/SearchTrains", station(65 * 1024)).await;
    let status = status.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::OutOfRange, "MESSAGE_TOO_LARGE"));
    assert_documented_refusal(&status, "a 65 KiB booking request");

    let stations = |count: usize| {
        let stations = (0..count)
            .map(|n| pb::Station { code: "bad".into(), name: format!("站{n}"), pinyin: "x".repeat(200) })
            .collect();
        pb::UpsertStationsRequest { stations }.encode_to_vec()
    };
    let under = stations(9_000);
    assert!(under.len() > 1024 * 1024 && under.len() < 4 * 1024 * 1024);
    let status = raw::call(&channel, &admin_token(), "/seat.v1.Admin/UpsertStations", under).await.unwrap_err();
    assert_eq!(field(&status), "stations[0].code", "under 4 MiB is read");
    let over = stations(24_000);
    assert!(over.len() > 4 * 1024 * 1024);
    let status = raw::call(&channel, &admin_token(), "/seat.v1.Admin/UpsertStations", over).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::OutOfRange, "MESSAGE_TOO_LARGE"));
    assert_documented_refusal(&status, "a 4 MiB admin request");
    server.stop().await;
}
