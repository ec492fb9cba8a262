//! Admin through the real server: timetable upserts, opening, closing,
//! listing and stats; plus health and reflection for generic clients.

use api::pb::{self, SeatClass};
use seat_tests::{IDS, TOMORROW, TestServer, hold_request, remaining, train_date};
use tonic::Code;

fn small_train(code: &str, stations: &[&str]) -> pb::Train {
    let last = stations.len() - 1;
    pb::Train {
        code: code.into(),
        stops: stations
            .iter()
            .enumerate()
            .map(|(index, station)| pb::Stop {
                station: (*station).into(),
                arrive_minutes: (index > 0).then_some(600 + index as u32 * 30),
                depart_minutes: (index < last).then_some(602 + index as u32 * 30),
                distance_km: index as u32 * 50,
            })
            .collect(),
        carriages: vec![pb::Carriage {
            number: 1,
            seat_class: SeatClass::Second.into(),
            rows: 2,
            letters: String::new(),
        }],
    }
}

#[tokio::test]
async fn a_new_train_opens_and_sells() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let reply = admin
        .upsert_train(pb::UpsertTrainRequest { train: Some(small_train("C2001", &["VNP", "LJP", "TIP"])) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.outcome, pb::upsert_train_response::Outcome::Created as i32);
    assert_eq!(reply.seat_count, 10);
    let open = pb::OpenTrainDateRequest { train_date: train_date("C2001", TOMORROW) };
    assert!(admin.open_train_date(open.clone()).await.unwrap().into_inner().opened);
    assert!(!admin.open_train_date(open).await.unwrap().into_inner().opened, "opening twice is a no-op");

    let mut booking = server.booking().await;
    assert_eq!(remaining(&mut booking, "C2001", "VNP", "TIP", SeatClass::Second).await, 10);
    booking.hold(hold_request("r", "u", "C2001", "LJP", "TIP", SeatClass::Second, &[IDS[0]])).await.unwrap();
    assert_eq!(remaining(&mut booking, "C2001", "VNP", "TIP", SeatClass::Second).await, 9);
    assert_eq!(remaining(&mut booking, "C2001", "VNP", "LJP", SeatClass::Second).await, 10);
    server.stop().await;
}

#[tokio::test]
async fn template_edits_leave_open_train_dates_unchanged() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    admin.upsert_train(pb::UpsertTrainRequest { train: Some(small_train("C2002", &["VNP", "TIP"])) }).await.unwrap();
    admin.open_train_date(pb::OpenTrainDateRequest { train_date: train_date("C2002", TOMORROW) }).await.unwrap();
    let mut bigger = small_train("C2002", &["VNP", "LJP", "TIP"]);
    bigger.carriages[0].rows = 4;
    let reply = admin.upsert_train(pb::UpsertTrainRequest { train: Some(bigger) }).await.unwrap().into_inner();
    assert_eq!(reply.outcome, pb::upsert_train_response::Outcome::Updated as i32);
    admin.open_train_date(pb::OpenTrainDateRequest { train_date: train_date("C2002", "2026-11-26") }).await.unwrap();

    let mut booking = server.booking().await;
    assert_eq!(remaining(&mut booking, "C2002", "VNP", "TIP", SeatClass::Second).await, 10, "old template kept");
    let offer = booking
        .get_availability(pb::GetAvailabilityRequest {
            train_date: train_date("C2002", "2026-11-26"),
            from_station: "LJP".into(),
            to_station: "TIP".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(offer.classes[0].remaining, 20, "new train-date uses the new template");
    server.stop().await;
}

#[tokio::test]
async fn invalid_templates_are_refused_with_the_field() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let stations: Vec<pb::Station> = (0..70)
        .map(|n| pb::Station {
            code: format!("ZZ{}", (b'A' + (n / 26) as u8) as char).to_string()
                + &((b'A' + (n % 26) as u8) as char).to_string(),
            name: format!("测试站{}", ["甲", "乙", "丙", "丁", "戊", "己", "庚"][n as usize % 7]) + &n.to_string(),
            pinyin: String::new(),
        })
        .collect();
    admin.upsert_stations(pb::UpsertStationsRequest { stations: stations.clone() }).await.unwrap();
    let codes: Vec<&str> = stations.iter().map(|s| s.code.as_str()).collect();

    let too_long = small_train("K9999", &codes[..65]);
    let status = admin.upsert_train(pb::UpsertTrainRequest { train: Some(too_long) }).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(api::status::field_of(&status).as_deref(), Some("train.stops"));
    assert!(status.message().contains("64"), "{}", status.message());
    admin
        .upsert_train(pb::UpsertTrainRequest { train: Some(small_train("K9998", &codes[..64])) })
        .await
        .expect("64 stops fit");

    let mut backwards = small_train("K9997", &codes[..3]);
    backwards.stops[2].distance_km = 10;
    let status = admin.upsert_train(pb::UpsertTrainRequest { train: Some(backwards) }).await.unwrap_err();
    assert_eq!(api::status::field_of(&status).as_deref(), Some("train.stops[2].distance_km"));

    let mut bad_letters = small_train("K9996", &codes[..3]);
    bad_letters.carriages[0].letters = "AZ".into();
    let status = admin.upsert_train(pb::UpsertTrainRequest { train: Some(bad_letters) }).await.unwrap_err();
    assert_eq!(api::status::field_of(&status).as_deref(), Some("train.carriages[0].letters"));

    let unknown = small_train("K9995", &["VNP", "NOPE"]);
    let status = admin.upsert_train(pb::UpsertTrainRequest { train: Some(unknown) }).await.unwrap_err();
    assert_eq!(api::status::field_of(&status).as_deref(), Some("train.stops[1].station"));

    let status = admin
        .upsert_stations(pb::UpsertStationsRequest {
            stations: vec![pb::Station { code: "bad".into(), name: "x".into(), pinyin: String::new() }],
        })
        .await
        .unwrap_err();
    assert_eq!(api::status::field_of(&status).as_deref(), Some("stations[0].code"));
    let missing = admin.open_train_date(pb::OpenTrainDateRequest { train_date: train_date("G999", TOMORROW) }).await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn list_train_dates_pages_and_stats_count() {
    let server = TestServer::start().await;
    let mut admin = server.admin().await;
    let mut listed = 0;
    let mut token = String::new();
    loop {
        let page = admin
            .list_train_dates(pb::ListTrainDatesRequest { date: TOMORROW.into(), page_size: 5, page_token: token })
            .await
            .unwrap()
            .into_inner();
        assert!(page.train_dates.iter().all(|info| info.train_date.as_ref().unwrap().date == TOMORROW));
        listed += page.train_dates.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(listed, 12, "12 demo trains on one date");

    let mut booking = server.booking().await;
    booking.hold(hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &IDS[..3])).await.unwrap();
    let stats = admin.stats(pb::StatsRequest {}).await.unwrap().into_inner();
    assert_eq!(stats.actors, 12 * 15);
    assert_eq!((stats.held_orders, stats.held_tickets, stats.sold_tickets), (1, 3, 0));
    assert_eq!((stats.stations, stats.trains), (23, 12));

    let opened = admin
        .open_train_dates(pb::OpenTrainDatesRequest {
            trains: vec!["G1".into(), "G2".into()],
            first_date: "2026-12-08".into(),
            last_date: "2026-12-12".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((opened.opened, opened.already_open), (2 * 4, 2), "Dec 8 is the last demo date");
    server.stop().await;
}

#[tokio::test]
async fn health_and_reflection_answer_generic_clients() {
    use tonic_health::pb::health_client::HealthClient;
    use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    let reply = health.check(HealthCheckRequest { service: "seat.v1.Booking".into() }).await.unwrap().into_inner();
    assert_eq!(reply.status, ServingStatus::Serving as i32);

    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let reply = replies.message().await.unwrap().expect("one reply");
    let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else { panic!("services listed") };
    let names: Vec<String> = list.service.into_iter().map(|service| service.name).collect();
    assert!(
        names.contains(&"seat.v1.Booking".to_string()) && names.contains(&"seat.v1.Admin".to_string()),
        "{names:?}"
    );
    server.stop().await;
}
