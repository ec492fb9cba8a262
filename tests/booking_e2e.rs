//! Booking through the real gRPC server: search, hold, confirm, cancel,
//! expiry, idempotency, and the errors a frontend must be able to rely on.

use api::pb::{self, SeatClass};
use seat_tests::{IDS, TOMORROW, TestServer, hold_request, passenger, reason, remaining, train_date};
use tonic::Code;

#[tokio::test]
async fn search_lists_demo_trains_with_counts_and_prices() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let reply = booking
        .search_trains(pb::SearchTrainsRequest {
            date: TOMORROW.into(),
            from_station: "北京南".into(),
            to_station: "上海虹桥".into(),
        })
        .await
        .expect("search")
        .into_inner();
    let trains: Vec<&str> = reply.trains.iter().map(|t| t.train_date.as_ref().unwrap().train.as_str()).collect();
    assert_eq!(trains, ["G101", "G1", "G3", "G111", "G7", "D701"], "southbound trains by departure");
    let g1 = &reply.trains[1];
    assert_eq!((g1.depart_time.as_str(), g1.distance_km), ("07:00", 1318));
    let second = g1.classes.iter().find(|c| c.seat_class == SeatClass::Second as i32).unwrap();
    assert_eq!((second.remaining, second.fare_fen), (1010, 47_448), "1318 km × ¥0.30 × 1.2");
    assert!(g1.on_sale);
    server.stop().await;
}

#[tokio::test]
async fn search_by_pinyin_and_code_finds_partial_journeys() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let reply = booking
        .search_trains(pb::SearchTrainsRequest {
            date: TOMORROW.into(),
            from_station: "jinanxi".into(),
            to_station: "NKH".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(reply.trains.len() >= 6);
    assert!(reply.trains.iter().all(|t| t.from_station == "JGK" && t.to_station == "NKH"));
    server.stop().await;
}

#[tokio::test]
async fn five_passenger_hold_drops_count_by_five_and_cancel_restores_it() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let before = remaining(&mut booking, "G1", "北京南", "上海虹桥", SeatClass::Second).await;
    let order = booking
        .hold(hold_request("r1", "alice", "G1", "北京南", "上海虹桥", SeatClass::Second, &IDS[..5]))
        .await
        .expect("hold")
        .into_inner();
    assert_eq!(order.tickets.len(), 5);
    assert_eq!(order.status, pb::OrderStatus::Held as i32);
    assert_eq!(order.total_fare_fen, 5 * 47_448);
    let rows: Vec<_> = order.tickets.iter().map(|t| (t.carriage, t.seat[..2].to_owned())).collect();
    assert!(rows.windows(2).all(|pair| pair[0] == pair[1]), "a group of 5 sits in one row: {rows:?}");
    assert_eq!(remaining(&mut booking, "G1", "北京南", "上海虹桥", SeatClass::Second).await, before - 5);

    let cancelled = booking
        .cancel(pb::CancelRequest { order_id: order.order_id.clone(), user_id: "alice".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.status, pb::OrderStatus::Cancelled as i32);
    assert_eq!(remaining(&mut booking, "G1", "北京南", "上海虹桥", SeatClass::Second).await, before);
    server.stop().await;
}

#[tokio::test]
async fn sold_out_journey_is_failed_precondition() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    // G1 has 15 business seats.
    for round in 0..3 {
        let ids: Vec<String> = (0..5).map(|i| seat_tests::resident_id(round * 5 + i)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        booking
            .hold(hold_request(&format!("r{round}"), "alice", "G1", "VNP", "AOH", SeatClass::Business, &ids))
            .await
            .expect("fits");
    }
    let status = booking
        .hold(hold_request("last", "bob", "G1", "VNP", "JGK", SeatClass::Business, &[IDS[6]]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason(&status), "SOLD_OUT");
    assert!(status.message().contains("0 left"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn a_fragmented_refusal_says_the_segments_were_free() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    seat_tests::fragment_g1_business(&mut booking, "alice").await;
    let segments_free = |status: &tonic::Status| api::status::metadata_of(status, api::status::SEGMENTS_FREE);
    // bob has no order on G1, so the sold-out gate answers; alice's goes to the actor.
    for (user, at_gate) in [("bob", 2), ("alice", 0)] {
        let gate_before = server.engine.stats().sold_out_gate_rejections;
        let one = hold_request(&format!("{user}-one"), user, "G1", "VNP", "NKH", SeatClass::Business, &[IDS[6]]);
        let status = booking.hold(one).await.unwrap_err();
        assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SOLD_OUT"));
        assert_eq!(segments_free(&status).as_deref(), Some("true"), "{user}: {}", status.message());
        let two = hold_request(&format!("{user}-two"), user, "G1", "VNP", "NKH", SeatClass::Business, &IDS[5..7]);
        let status = booking.hold(two).await.unwrap_err();
        assert_eq!(segments_free(&status).as_deref(), Some("false"), "{user}: one seat per segment is not two");
        assert_eq!(server.engine.stats().sold_out_gate_rejections - gate_before, at_gate, "{user}");
    }
    server.stop().await;
}

#[tokio::test]
async fn segments_sell_twice_per_seat_without_overlap() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let beijing_nanjing = booking
        .hold(hold_request("a", "alice", "G1", "VNP", "NKH", SeatClass::Business, &[IDS[0]]))
        .await
        .unwrap()
        .into_inner();
    let nanjing_shanghai = booking
        .hold(hold_request("b", "bob", "G1", "NKH", "AOH", SeatClass::Business, &[IDS[1]]))
        .await
        .unwrap()
        .into_inner();
    let seat = |order: &pb::Order| (order.tickets[0].carriage, order.tickets[0].seat.clone());
    assert_eq!(seat(&beijing_nanjing), seat(&nanjing_shanghai), "tightest fit reuses the half-sold seat");
    assert_eq!(remaining(&mut booking, "G1", "VNP", "AOH", SeatClass::Business).await, 14);
    assert_eq!(remaining(&mut booking, "G1", "JGK", "NKH", SeatClass::Business).await, 14);
    // Refunding one leg frees only that leg.
    booking
        .confirm(pb::ConfirmRequest { order_id: beijing_nanjing.order_id.clone(), ..Default::default() })
        .await
        .unwrap();
    booking
        .cancel(pb::CancelRequest { order_id: beijing_nanjing.order_id.clone(), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(remaining(&mut booking, "G1", "VNP", "NKH", SeatClass::Business).await, 15);
    assert_eq!(remaining(&mut booking, "G1", "NKH", "AOH", SeatClass::Business).await, 14);
    server.stop().await;
}

#[tokio::test]
async fn repeated_request_id_returns_the_original_order() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let request = hold_request("same", "alice", "G3", "VNP", "AOH", SeatClass::First, &IDS[..2]);
    let first = booking.hold(request.clone()).await.unwrap().into_inner();
    let again = booking.hold(request.clone()).await.unwrap().into_inner();
    assert_eq!(first.order_id, again.order_id);
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::First).await, 58, "booked once");

    let mut changed = request;
    changed.to_station = "NKH".into();
    let status = booking.hold(changed).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::InvalidArgument, "REQUEST_ID_REUSED"));
    server.stop().await;
}

#[tokio::test]
async fn confirm_and_cancel_are_idempotent_and_refunds_release_seats() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let order = booking
        .hold(hold_request("r", "alice", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[0]]))
        .await
        .unwrap()
        .into_inner();
    let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id: "alice".into() };
    let confirmed = booking.confirm(confirm.clone()).await.unwrap().into_inner();
    assert_eq!(confirmed.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(booking.confirm(confirm.clone()).await.unwrap().into_inner().status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Second).await, 494);

    let cancel = pb::CancelRequest { order_id: order.order_id.clone(), user_id: "alice".into() };
    assert_eq!(booking.cancel(cancel.clone()).await.unwrap().into_inner().status, pb::OrderStatus::Refunded as i32);
    assert_eq!(booking.cancel(cancel).await.unwrap().into_inner().status, pb::OrderStatus::Refunded as i32);
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Second).await, 495);

    let status = booking.confirm(confirm).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "NOT_CONFIRMABLE"));
    server.stop().await;
}

#[tokio::test]
async fn other_users_orders_are_not_found() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let order = booking
        .hold(hold_request("r", "alice", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[0]]))
        .await
        .unwrap()
        .into_inner();
    let status = booking
        .cancel(pb::CancelRequest { order_id: order.order_id.clone(), user_id: "mallory".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let still = booking.get_order(pb::GetOrderRequest { order_id: order.order_id, user_id: "alice".into() }).await;
    assert_eq!(still.unwrap().into_inner().status, pb::OrderStatus::Held as i32);
    server.stop().await;
}

#[tokio::test]
async fn holds_expire_and_release_exactly_their_seats() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let order = booking
        .hold(hold_request("r", "alice", "G1", "VNP", "NKH", SeatClass::Business, &IDS[..2]))
        .await
        .unwrap()
        .into_inner();
    let keeper = booking
        .hold(hold_request("k", "bob", "G1", "NKH", "AOH", SeatClass::Business, &IDS[2..4]))
        .await
        .unwrap()
        .into_inner();
    booking.confirm(pb::ConfirmRequest { order_id: keeper.order_id.clone(), ..Default::default() }).await.unwrap();
    assert_eq!(order.expires_at_ms - order.held_at_ms, 10 * 60 * 1000, "default hold lasts 10 minutes");

    server.clock.advance_ms(10 * 60 * 1000 + 1);
    let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), ..Default::default() };
    let status = booking.confirm(confirm).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "HOLD_EXPIRED"));
    assert_eq!(server.engine.expire_due_now().await.unwrap(), 1, "only the unpaid hold expires");

    let expired = booking.get_order(pb::GetOrderRequest { order_id: order.order_id, ..Default::default() }).await;
    assert_eq!(expired.unwrap().into_inner().status, pb::OrderStatus::Expired as i32);
    assert_eq!(remaining(&mut booking, "G1", "VNP", "NKH", SeatClass::Business).await, 15);
    assert_eq!(remaining(&mut booking, "G1", "NKH", "AOH", SeatClass::Business).await, 13, "bob's seats stay sold");
    server.stop().await;
}

#[tokio::test]
async fn a_passenger_cannot_hold_overlapping_journeys() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    booking.hold(hold_request("a", "alice", "G101", "VNP", "JGK", SeatClass::Second, &[IDS[0]])).await.unwrap();
    let status =
        booking.hold(hold_request("b", "bob", "G101", "TIP", "NKH", SeatClass::Second, &[IDS[0]])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::AlreadyExists, "PASSENGER_OVERLAP"));
    // Back to back is fine.
    booking.hold(hold_request("c", "bob", "G101", "JGK", "NKH", SeatClass::Second, &[IDS[0]])).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn chosen_and_picked_seats() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut exact = hold_request("e", "alice", "G3", "VNP", "NKH", SeatClass::Second, &[IDS[0]]);
    exact.passengers[0].seat = Some(pb::ExactSeat { carriage: 5, seat: "07F".into() });
    let order = booking.hold(exact.clone()).await.unwrap().into_inner();
    assert_eq!((order.tickets[0].carriage, order.tickets[0].seat.as_str()), (5, "07F"));

    exact.request_id = "e2".into();
    exact.passengers[0] = passenger("另一人", IDS[1], SeatClass::Second);
    exact.passengers[0].seat = Some(pb::ExactSeat { carriage: 5, seat: "7F".into() });
    let status = booking.hold(exact).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SEAT_TAKEN"));

    let map = booking
        .get_seat_map(pb::GetSeatMapRequest {
            train_date: train_date("G3", TOMORROW),
            carriage: 5,
            from_station: "JGK".into(),
            to_station: "AOH".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(map.letters, "ABCDF");
    assert!(!map.rows[6].free[4], "07F is taken on JGK→AOH, which overlaps VNP→NKH");

    let mut picked = hold_request("p", "bob", "G3", "VNP", "AOH", SeatClass::First, &IDS[2..4]);
    picked.passengers[0].pick = "C1".into();
    picked.passengers[1].pick = "D2".into();
    let order = booking.hold(picked).await.unwrap().into_inner();
    let (first, second) = (&order.tickets[0], &order.tickets[1]);
    assert!(first.preference_met && second.preference_met);
    assert_eq!(first.carriage, second.carriage);
    assert!(first.seat.ends_with('C') && second.seat.ends_with('D'));
    let row = |seat: &str| seat[..2].parse::<u32>().unwrap();
    assert_eq!(row(&second.seat), row(&first.seat) + 1, "D2 is one row behind C1");
    server.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let cases: Vec<(pb::HoldRequest, Code, &str)> = vec![
        {
            let mut r = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
            r.passengers[0].id_number = "110105194912310021".into();
            (r, Code::InvalidArgument, "passengers[0].id_number")
        },
        (
            hold_request("r", "u", "G1", "NOWHERE", "AOH", SeatClass::Second, &[IDS[0]]),
            Code::InvalidArgument,
            "from_station",
        ),
        (hold_request("r", "u", "G1", "AOH", "VNP", SeatClass::Second, &[IDS[0]]), Code::InvalidArgument, "to_station"),
        (hold_request("r", "u", "G1", "VNP", "TIP", SeatClass::Second, &[IDS[0]]), Code::InvalidArgument, "to_station"),
        (hold_request("", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]), Code::InvalidArgument, "request_id"),
        (
            hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Unspecified, &[IDS[0]]),
            Code::InvalidArgument,
            "passengers[0].seat_class",
        ),
        (
            hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::HardSleeper, &[IDS[0]]),
            Code::InvalidArgument,
            "passengers[0].seat_class",
        ),
        (hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &IDS[..6]), Code::InvalidArgument, "passengers"),
        {
            let mut r = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
            r.passengers[0].pick = "Z9".into();
            (r, Code::InvalidArgument, "passengers[0].pick")
        },
        {
            let mut r = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
            r.train_date = train_date("G1", "2026-13-01");
            (r, Code::InvalidArgument, "train_date.date")
        },
        {
            let mut r = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
            r.passengers[0].name = "Robert'); DROP TABLE".into();
            (r, Code::InvalidArgument, "passengers[0].name")
        },
    ];
    for (request, code, field) in cases {
        let status = booking.hold(request).await.expect_err(field);
        assert_eq!(status.code(), code, "{field}: {}", status.message());
        assert_eq!(api::status::field_of(&status).as_deref(), Some(field), "{}", status.message());
    }
    let not_open = hold_request("r", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]]);
    let late = pb::HoldRequest { train_date: train_date("G1", "2027-06-01"), ..not_open.clone() };
    let status = booking.hold(late).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "beyond the presale window");
    assert_eq!(api::status::field_of(&status).as_deref(), Some("train_date.date"));
    // Inside the window (today + 15) but not opened by the demo (today + 14).
    let not_open = pb::HoldRequest { train_date: train_date("G1", "2026-12-09"), ..not_open };
    assert_eq!(booking.hold(not_open).await.unwrap_err().code(), Code::NotFound);
    let far =
        pb::SearchTrainsRequest { date: "2026-12-10".into(), from_station: "VNP".into(), to_station: "AOH".into() };
    let status = booking.search_trains(far).await.unwrap_err();
    assert_eq!(api::status::field_of(&status).as_deref(), Some("date"));
    let unknown = pb::GetOrderRequest { order_id: "01a20c11-65c9-7790-9810-647978db4d6f".into(), ..Default::default() };
    assert_eq!(booking.get_order(unknown).await.unwrap_err().code(), Code::NotFound);
    server.stop().await;
}

#[tokio::test]
async fn closed_and_departed_train_dates_refuse_holds() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut admin = server.admin().await;
    admin.close_sales(pb::CloseSalesRequest { train_date: train_date("G3", TOMORROW) }).await.unwrap();
    let status =
        booking.hold(hold_request("r", "u", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[0]])).await.unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "SALES_CLOSED"));

    // Today 09:00: G1 left Beijing at 07:00 but is yet to leave Nanjing (≈10:26).
    server.clock.advance_ms(3 * 3_600_000);
    let today = |mut request: pb::HoldRequest| {
        request.train_date = train_date("G1", seat_tests::TODAY);
        request
    };
    let status = booking
        .hold(today(hold_request("d", "u", "G1", "VNP", "AOH", SeatClass::Second, &[IDS[0]])))
        .await
        .unwrap_err();
    assert_eq!((status.code(), reason(&status).as_str()), (Code::FailedPrecondition, "DEPARTED"));
    booking.hold(today(hold_request("n", "u", "G1", "NKH", "AOH", SeatClass::Second, &[IDS[0]]))).await.unwrap();
    server.stop().await;
}

#[tokio::test]
async fn list_orders_pages_through_a_users_orders() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    for (index, train) in ["G1", "G3", "G7", "G101", "G111"].iter().enumerate() {
        booking
            .hold(hold_request(&format!("r{index}"), "carol", train, "VNP", "NKH", SeatClass::Second, &[IDS[0]]))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = booking
            .list_orders(pb::ListOrdersRequest { user_id: "carol".into(), page_size: 2, page_token: token })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page.total, 5);
        seen.extend(page.orders.into_iter().map(|order| order.train_date.unwrap().train));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, ["G1", "G3", "G7", "G101", "G111"]);
    server.stop().await;
}
