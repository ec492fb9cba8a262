//! The catalogue RPCs through the real gRPC server: ListStations for a
//! station picker (prefixes, keyset pages, documented page sizes) and
//! GetTrain (a train-date's stops and carriages as it opened).

use api::auth::Role;
use api::pb::{self, SeatClass};
use seat_tests::{Bearer, TOMORROW, TestServer, reason, train_date};
use tonic::Code;

fn stations(prefix: &str, page_size: u32, page_token: &str) -> pb::ListStationsRequest {
    pb::ListStationsRequest { prefix: prefix.into(), page_size, page_token: page_token.into() }
}

fn codes(reply: &pb::ListStationsResponse) -> Vec<&str> {
    reply.stations.iter().map(|station| station.code.as_str()).collect()
}

#[tokio::test]
async fn stations_page_through_the_whole_catalogue_in_code_order() {
    let server = TestServer::start().await;
    let mut booking = server.booking_as(Role::Passenger, "picker").await;
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let reply = booking.list_stations(stations("", 5, &token)).await.expect("a page").into_inner();
        assert!(reply.stations.len() <= 5);
        seen.extend(reply.stations.iter().map(|station| station.code.clone()));
        if reply.next_page_token.is_empty() {
            break;
        }
        token = reply.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted, "in code order, none twice");
    assert_eq!(seen.len(), server.engine.catalog().station_count(), "every station");
    server.stop().await;
}

#[tokio::test]
async fn prefixes_match_code_name_or_pinyin() {
    let server = TestServer::start().await;
    let mut booking = server.booking_as(Role::Passenger, "picker").await;
    for (prefix, expected) in [
        ("VN", vec!["VNP"]),
        ("vnp", vec!["VNP"]),
        ("北京", vec!["VNP"]),
        ("南京", vec!["NKH"]),
        ("su", vec!["OHH", "SRH"]),
    ] {
        let reply = booking.list_stations(stations(prefix, 100, "")).await.expect("matches").into_inner();
        assert_eq!(codes(&reply), expected, "prefix {prefix:?}");
    }
    let beijing = booking.list_stations(stations("BeiJingNan", 1, "")).await.expect("pinyin").into_inner();
    assert_eq!(
        beijing.stations,
        [pb::Station { code: "VNP".into(), name: "北京南".into(), pinyin: "beijingnan".into() }]
    );
    assert!(beijing.next_page_token.is_empty(), "one match, one page");
    let none = booking.list_stations(stations("zzz", 10, "")).await.expect("no match is no error").into_inner();
    assert!(none.stations.is_empty() && none.next_page_token.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_station_added_between_pages_neither_repeats_nor_shifts_them() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let first = booking.list_stations(stations("", 3, "")).await.expect("first page").into_inner();
    let mut admin = server.admin().await;
    let early = pb::Station { code: "AAA".into(), name: "甲".into(), pinyin: "jia".into() };
    admin.upsert_stations(pb::UpsertStationsRequest { stations: vec![early] }).await.expect("upsert");
    let second = booking.list_stations(stations("", 3, &first.next_page_token)).await.expect("second").into_inner();
    let all = booking.list_stations(stations("", 100, "")).await.expect("all").into_inner();
    let all = codes(&all);
    assert_eq!(all[0], "AAA", "the new station sorts first");
    assert_eq!([codes(&first), codes(&second)].concat(), all[1..7], "the pages continue where they stopped");
    server.stop().await;
}

#[tokio::test]
async fn list_stations_refuses_what_the_proto_does_not_allow() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let long_prefix = "b".repeat(65);
    for (request, field) in [
        (stations("", 0, ""), "page_size"),
        (stations("", 101, ""), "page_size"),
        (stations("", u32::MAX, ""), "page_size"),
        (stations(&long_prefix, 10, ""), "prefix"),
        (stations("", 10, "20"), "page_token"),
        (stations("", 10, "st1.zz"), "page_token"),
    ] {
        let status = booking.list_stations(request).await.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(reason(&status), "INVALID_ARGUMENT");
        assert_eq!(api::status::field_of(&status).as_deref(), Some(field));
        assert!(status.message().len() < 200, "the message does not echo the input");
    }
    for page_size in [1, 100] {
        booking.list_stations(stations("", page_size, "")).await.expect("the documented edges are accepted");
    }
    server.stop().await;
}

#[tokio::test]
async fn get_train_gives_stops_with_times_and_km_and_carriages_with_layout() {
    let server = TestServer::start().await;
    let mut booking = server.booking_as(Role::Passenger, "viewer").await;
    let detail = booking
        .get_train(pb::GetTrainRequest { train_date: train_date("G1", TOMORROW) })
        .await
        .expect("G1 is open tomorrow")
        .into_inner();
    assert_eq!(detail.train_date, train_date("G1", TOMORROW));
    assert!(detail.sales_open);
    let stops: Vec<(&str, &str, &str, &str, u32)> = detail
        .stops
        .iter()
        .map(|s| {
            (s.station.as_str(), s.station_name.as_str(), s.arrive_time.as_str(), s.depart_time.as_str(), s.distance_km)
        })
        .collect();
    assert_eq!(
        stops,
        [
            ("VNP", "北京南", "", "07:00", 0),
            ("JGK", "济南西", "08:21", "08:23", 406),
            ("NKH", "南京南", "10:26", "10:28", 1023),
            ("AOH", "上海虹桥", "11:27", "", 1318),
        ]
    );
    let (origin, terminus) = (&detail.stops[0], &detail.stops[3]);
    assert_eq!((origin.arrive_at_ms, terminus.depart_at_ms), (None, None), "absent at the ends");
    let depart_ms = origin.depart_at_ms.expect("the origin has a departure");
    assert_eq!(terminus.arrive_at_ms, Some(depart_ms + (4 * 60 + 27) * 60_000), "07:00 → 11:27");
    assert!(detail.stops.iter().enumerate().all(|(index, stop)| stop.index == index as u32 && stop.day_offset == 0));
    let numbers: Vec<u32> = detail.carriages.iter().map(|c| c.number).collect();
    assert_eq!(numbers, (1..=16).collect::<Vec<u32>>());
    let business = &detail.carriages[0];
    assert_eq!(
        (business.seat_class, business.rows, business.letters.as_str(), business.seat_count),
        (SeatClass::Business as i32, 5, "ACF", 15)
    );
    assert_eq!(detail.seat_count, 1193);
    assert_eq!(detail.seat_count, detail.carriages.iter().map(|c| c.seat_count).sum::<u32>());
    server.stop().await;
}

#[tokio::test]
async fn get_train_shows_the_plan_the_train_date_opened_with() {
    let server = TestServer::start().await;
    let mut template = api::demo::demo_timetable().trains.into_iter().find(|t| t.code == "G1").expect("G1");
    template.carriages.truncate(8);
    let mut admin = server.admin().await;
    let request = pb::UpsertTrainRequest { train: Some(api::convert::train_pb(&template)) };
    admin.upsert_train(request).await.expect("a shorter G1 from now on");
    let mut booking = server.booking().await;
    let detail = booking
        .get_train(pb::GetTrainRequest { train_date: train_date("G1", TOMORROW) })
        .await
        .expect("open")
        .into_inner();
    assert_eq!(detail.carriages.len(), 16, "opened with 16 carriages; the new template is for later dates");
    server.stop().await;
}

#[tokio::test]
async fn get_train_refuses_bad_and_unknown_train_dates() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    for (train_date, field) in [
        (None, "train_date"),
        (train_date("g 1", TOMORROW), "train_date.train"),
        (train_date("G1", "2026-13-01"), "train_date.date"),
    ] {
        let status = booking.get_train(pb::GetTrainRequest { train_date }).await.expect_err("malformed");
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(api::status::field_of(&status).as_deref(), Some(field));
    }
    for (train, date) in [("G9999", TOMORROW), ("G1", "2030-01-01")] {
        let request = pb::GetTrainRequest { train_date: train_date(train, date) };
        let status = booking.get_train(request).await.expect_err("not open");
        assert_eq!(status.code(), Code::NotFound, "{train} {date}: {status:?}");
        assert_eq!(reason(&status), "TRAIN_DATE_NOT_FOUND");
    }
    server.stop().await;
}

#[tokio::test]
async fn the_catalogue_needs_a_token() {
    let server = TestServer::start().await;
    let mut booking = api::pb::booking_client::BookingClient::with_interceptor(server.channel().await, Bearer::none());
    let status = booking.list_stations(stations("", 10, "")).await.expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status =
        booking.get_train(pb::GetTrainRequest { train_date: train_date("G1", TOMORROW) }).await.expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);
    server.stop().await;
}
