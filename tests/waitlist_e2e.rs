//! The waitlist (候补) and ticket change (改签) walkthrough through the real
//! gRPC server: sell out G1 and G3 business tomorrow, waitlist both, refund
//! one G1 order and see the waiting passenger confirmed and the G3 choice
//! withdrawn; then change a confirmed G1 ticket to G7 the same day.

use api::auth::Role;
use api::pb::ticket_change_client::TicketChangeClient;
use api::pb::waitlist_client::WaitlistClient;
use api::pb::{self, SeatClass};
use engine::clock::Clock;
use engine::domain::settings::{TicketRules, WaitlistSettings};
use engine::facade::EngineSettings;
use seat_tests::{Bearer, TOMORROW, TestServer, hold_request, remaining, resident_id, token, train_date};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FROM: &str = "VNP";
const TO: &str = "AOH";

/// Holds and pays every business seat of `train` tomorrow, at most 5 a
/// hold; returns the orders, each with its passengers' ID numbers.
async fn sell_out(booking: &mut seat_tests::Booking, train: &str, serial: &mut u32) -> Vec<pb::Order> {
    let mut orders = Vec::new();
    for round in 0..20 {
        let left = remaining(booking, train, FROM, TO, SeatClass::Business).await;
        if left == 0 {
            return orders;
        }
        let ids: Vec<String> = (0..left.min(5)).map(|_| next_id(serial)).collect();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let request = hold_request(&format!("{train}-{round}"), "seller", train, FROM, TO, SeatClass::Business, &ids);
        let order = booking.hold(request).await.expect("seats left").into_inner();
        let confirm = pb::ConfirmRequest { order_id: order.order_id.clone(), user_id: "seller".into() };
        orders.push(booking.confirm(confirm).await.expect("pays").into_inner());
    }
    panic!("{train} business did not sell out in 20 holds");
}

/// A Submit for one passenger of `train`'s business class tomorrow, over
/// the whole line; callers change what their case needs.
fn business_waitlist(train: &str, name: &str, id_number: String) -> pb::SubmitWaitlistRequest {
    pb::SubmitWaitlistRequest {
        passengers: vec![pb::WaitlistPassenger { name: name.into(), id_number }],
        from_station: FROM.into(),
        to_station: TO.into(),
        choices: vec![pb::RequestedChoice {
            train_date: train_date(train, TOMORROW),
            seat_class: SeatClass::Business.into(),
        }],
        ..Default::default()
    }
}

fn next_id(serial: &mut u32) -> String {
    *serial += 1;
    resident_id(*serial)
}

fn states(request: &pb::WaitlistRequest) -> Vec<pb::ChoiceState> {
    request.choices.iter().map(|choice| pb::ChoiceState::try_from(choice.state).expect("known state")).collect()
}

#[tokio::test]
async fn a_refund_serves_the_waitlist_and_a_change_moves_a_ticket_to_another_train() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let bearer = Bearer::new(&token(Role::Passenger, "waiting-user"));
    let mut waitlist = WaitlistClient::with_interceptor(server.channel().await, bearer.clone());
    let mut change = TicketChangeClient::with_interceptor(server.channel().await, bearer);
    let mut serial = 500;

    // given G1 and G3 business sold out tomorrow
    let g1_orders = sell_out(&mut booking, "G1", &mut serial).await;
    sell_out(&mut booking, "G3", &mut serial).await;
    let choice = |train: &str| pb::RequestedChoice {
        train_date: train_date(train, TOMORROW),
        seat_class: SeatClass::Business.into(),
    };
    let passenger = pb::WaitlistPassenger { name: "王五".into(), id_number: next_id(&mut serial) };

    // when a passenger waitlists both and pays
    let submitted = waitlist
        .submit_waitlist(pb::SubmitWaitlistRequest {
            user_id: String::new(),
            passengers: vec![passenger.clone()],
            from_station: "北京南".into(),
            to_station: "上海虹桥".into(),
            choices: vec![choice("G1"), choice("G3")],
            cutoff_ms: 0,
            client_request_id: String::new(),
        })
        .await
        .expect("both choices are sold out")
        .into_inner();
    assert_eq!(submitted.status, pb::WaitlistStatus::Submitted as i32);
    assert_eq!(states(&submitted), [pb::ChoiceState::NotJoined, pb::ChoiceState::NotJoined]);
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id.clone(), user_id: String::new() };
    let active = waitlist.activate_waitlist(reference.clone()).await.expect("activates").into_inner();
    assert_eq!(active.status, pb::WaitlistStatus::Active as i32);
    let dearest = submitted.choices.iter().map(|choice| choice.fare_fen).max().expect("two choices");
    assert_eq!(active.prepaid_fen, dearest, "one passenger prepays the dearest choice");
    let waiting = poll(&mut waitlist, &reference, |request| {
        states(request) == [pb::ChoiceState::Waiting, pb::ChoiceState::Waiting]
    })
    .await;
    assert!(waiting.choices.iter().all(|choice| choice.ahead == 0), "nobody is ahead: {waiting:?}");
    let stats = server.admin().await.stats(pb::StatsRequest {}).await.expect("stats").into_inner();
    assert_eq!(stats.waitlist_waiting, 2, "one choice in each of two queues");
    let queues: Vec<_> = stats.waitlist_queues.iter().map(|queue| (queue.train_date.clone(), queue.waiting)).collect();
    assert_eq!(queues, [(train_date("G1", TOMORROW), 1), (train_date("G3", TOMORROW), 1)]);
    // a seat that is waitlisted cannot be waitlisted twice by the same user
    let again = waitlist
        .submit_waitlist(business_waitlist("G1", "赵六", next_id(&mut serial)))
        .await
        .expect_err("one open request per user");
    assert_eq!(seat_tests::reason(&again), "WAITLIST_OPEN_REQUESTS");

    // and one G1 business order is refunded
    let refunded = &g1_orders[0];
    let cancel = pb::CancelRequest { order_id: refunded.order_id.clone(), user_id: "seller".into() };
    let refund_at = Instant::now();
    booking.cancel(cancel).await.expect("refunds");

    // then within a second the waiting passenger has a confirmed G1 seat and the G3 choice is withdrawn
    let fulfilled =
        poll(&mut waitlist, &reference, |request| request.status == pb::WaitlistStatus::Fulfilled as i32).await;
    let waited = refund_at.elapsed();
    assert!(waited < Duration::from_secs(1), "fulfilled {waited:?} after the refund");
    assert_eq!(states(&fulfilled), [pb::ChoiceState::Fulfilled, pb::ChoiceState::Lost]);
    assert_eq!(fulfilled.refund_fen, fulfilled.prepaid_fen - fulfilled.choices[0].fare_fen);
    let order_request = pb::GetOrderRequest { order_id: fulfilled.order_id.clone(), user_id: "waiting-user".into() };
    let order = booking.get_order(order_request).await.expect("the order exists").into_inner();
    assert_eq!(order.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(order.train_date, train_date("G1", TOMORROW));
    assert_eq!(order.tickets.len(), 1);
    assert_eq!(remaining(&mut booking, "G1", FROM, TO, SeatClass::Business).await, refunded.tickets.len() as u32 - 1);
    assert_eq!(remaining(&mut booking, "G3", FROM, TO, SeatClass::Business).await, 0, "G3 kept nothing reserved");
    // the feed carries every step, the request record's among them, as typed messages
    let g1_only =
        pb::StreamEventsRequest { train_dates: vec![train_date("G1", TOMORROW).unwrap()], ..Default::default() };
    let mut stream = server.feed().await.stream_events(g1_only).await.expect("feed opens").into_inner();
    let mut kinds = Vec::new();
    while let Some(event) = stream.message().await.expect("feed reads") {
        assert!(event.event.is_some(), "{} has its typed message", event.kind);
        kinds.push(event.kind);
    }
    for kind in ["waitlist_request", "waitlist_joined", "waitlist_seats_reserved", "waitlist_fulfilled"] {
        assert!(kinds.iter().any(|seen| seen == kind), "{kind} in the feed: {kinds:?}");
    }

    // when that ticket is changed to G7 the same day
    let g1_free_before = remaining(&mut booking, "G1", FROM, TO, SeatClass::Business).await;
    let g7_free_before = remaining(&mut booking, "G7", FROM, TO, SeatClass::Business).await;
    let changed = change
        .change_order(pb::ChangeOrderRequest {
            order_id: order.order_id.clone(),
            train_date: train_date("G7", TOMORROW),
            ..Default::default()
        })
        .await
        .expect("G7 has business seats")
        .into_inner();

    // then the new order is confirmed on G7, the old one shows CHANGED, and its seat is free again
    assert_eq!(changed.outcome, pb::ChangeOutcome::Committed as i32, "{changed:?}");
    let new_order = changed.new_order.expect("confirmed new order");
    assert_eq!(new_order.status, pb::OrderStatus::Confirmed as i32);
    assert_eq!(new_order.train_date, train_date("G7", TOMORROW));
    assert_eq!(new_order.tickets.len(), 1);
    let old = booking
        .get_order(pb::GetOrderRequest { order_id: order.order_id.clone(), user_id: "waiting-user".into() })
        .await
        .expect("old order")
        .into_inner();
    assert_eq!(old.status, pb::OrderStatus::Changed as i32);
    assert_eq!(old.changed_to_order_id, new_order.order_id);
    assert_eq!(remaining(&mut booking, "G1", FROM, TO, SeatClass::Business).await, g1_free_before + 1);
    assert_eq!(remaining(&mut booking, "G7", FROM, TO, SeatClass::Business).await, g7_free_before - 1);
    server.stop().await;
}

#[tokio::test]
async fn a_choice_that_can_be_booked_is_refused_and_a_cancel_refunds_everything() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let bearer = Bearer::new(&token(Role::Passenger, "someone"));
    let mut waitlist = WaitlistClient::with_interceptor(server.channel().await, bearer);
    let mut serial = 700;
    let submit = |train: &str, id_number: String| business_waitlist(train, "张三", id_number);
    let refused = waitlist.submit_waitlist(submit("G1", next_id(&mut serial))).await.expect_err("G1 has seats");
    assert_eq!(seat_tests::reason(&refused), "BOOK_NORMALLY");

    sell_out(&mut booking, "G1", &mut serial).await;
    let submitted = waitlist.submit_waitlist(submit("G1", next_id(&mut serial))).await.expect("sold out").into_inner();
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id.clone(), user_id: String::new() };
    let active = waitlist.activate_waitlist(reference.clone()).await.expect("activates").into_inner();
    poll(&mut waitlist, &reference, |request| states(request) == [pb::ChoiceState::Waiting]).await;
    let cancelled = waitlist.cancel_waitlist(reference.clone()).await.expect("cancels").into_inner();
    assert_eq!(cancelled.status, pb::WaitlistStatus::Cancelled as i32);
    assert_eq!(cancelled.refund_fen, active.prepaid_fen);
    poll(&mut waitlist, &reference, |request| states(request) == [pb::ChoiceState::Withdrawn]).await;
    let listed = waitlist.list_waitlist(pb::ListWaitlistRequest::default()).await.expect("lists").into_inner();
    assert_eq!(listed.requests.len(), 1);
    let stranger = pb::WaitlistRequestRef { request_id: submitted.request_id.clone(), user_id: String::new() };
    let mut other =
        WaitlistClient::with_interceptor(server.channel().await, Bearer::new(&token(Role::Passenger, "somebody-else")));
    let hidden = other.get_waitlist(stranger).await.expect_err("another user's request");
    assert_eq!(seat_tests::reason(&hidden), "WAITLIST_REQUEST_NOT_FOUND");
    server.stop().await;
}

#[tokio::test]
async fn a_repeated_submit_with_the_same_client_request_id_records_one_request() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut waitlist =
        WaitlistClient::with_interceptor(server.channel().await, Bearer::new(&token(Role::Passenger, "retrying")));
    let mut serial = 900;
    sell_out(&mut booking, "G1", &mut serial).await;
    let passenger = pb::WaitlistPassenger { name: "李四".into(), id_number: next_id(&mut serial) };
    let submit = |key: &str, class: SeatClass| {
        let mut submit = business_waitlist("G1", &passenger.name, passenger.id_number.clone());
        submit.choices[0].seat_class = class.into();
        submit.client_request_id = key.into();
        submit
    };
    let first = waitlist.submit_waitlist(submit("k-1", SeatClass::Business)).await.expect("sold out").into_inner();

    // a retry of the same Submit (its answer lost) answers the same request
    let again = waitlist.submit_waitlist(submit("k-1", SeatClass::Business)).await.expect("a repeat").into_inner();
    assert_eq!(again.request_id, first.request_id);
    assert_eq!(again.submitted_at_ms, first.submitted_at_ms);
    let listed = waitlist.list_waitlist(pb::ListWaitlistRequest::default()).await.expect("lists").into_inner();
    assert_eq!(listed.requests.len(), 1, "one request recorded");

    // the same key for another request is refused, naming the field
    let reused = waitlist.submit_waitlist(submit("k-1", SeatClass::First)).await.expect_err("another request");
    assert_eq!(seat_tests::reason(&reused), "REQUEST_ID_REUSED");
    assert_eq!(reused.code(), tonic::Code::InvalidArgument);
    assert_eq!(api::status::field_of(&reused).as_deref(), Some("client_request_id"));
    let bad = waitlist.submit_waitlist(submit(&"x".repeat(65), SeatClass::Business)).await.expect_err("too long");
    assert_eq!(seat_tests::reason(&bad), "INVALID_ARGUMENT");
    server.stop().await;
}

/// Reads the request until `done` holds, for at most 2 s.
async fn poll(
    waitlist: &mut WaitlistClient<tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>>,
    reference: &pb::WaitlistRequestRef,
    done: impl Fn(&pb::WaitlistRequest) -> bool,
) -> pb::WaitlistRequest {
    let started = Instant::now();
    loop {
        let request = waitlist.get_waitlist(reference.clone()).await.expect("reads").into_inner();
        if done(&request) {
            return request;
        }
        assert!(started.elapsed() < Duration::from_secs(2), "still {request:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_survives_a_restart_and_is_served_after_it() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let bearer = Bearer::new(&token(Role::Passenger, "patient"));
    let mut waitlist = WaitlistClient::with_interceptor(server.channel().await, bearer.clone());
    let mut serial = 800;
    let g1_orders = sell_out(&mut booking, "G1", &mut serial).await;
    let submitted = waitlist
        .submit_waitlist(business_waitlist("G1", "李四", next_id(&mut serial)))
        .await
        .expect("sold out")
        .into_inner();
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id.clone(), user_id: String::new() };
    waitlist.activate_waitlist(reference.clone()).await.expect("activates");
    poll(&mut waitlist, &reference, |request| states(request) == [pb::ChoiceState::Waiting]).await;

    let (data_dir, clock) = server.stop().await;
    let server = TestServer::boot(engine::facade::EngineSettings::default(), data_dir, clock).await;
    let mut booking = server.booking().await;
    let mut waitlist = WaitlistClient::with_interceptor(server.channel().await, bearer);
    let recovered = waitlist.get_waitlist(reference.clone()).await.expect("the record is journaled").into_inner();
    assert_eq!(recovered.status, pb::WaitlistStatus::Active as i32);
    assert_eq!(states(&recovered), [pb::ChoiceState::Waiting]);

    let cancel = pb::CancelRequest { order_id: g1_orders[1].order_id.clone(), user_id: "seller".into() };
    booking.cancel(cancel).await.expect("refunds");
    let fulfilled =
        poll(&mut waitlist, &reference, |request| request.status == pb::WaitlistStatus::Fulfilled as i32).await;
    assert_eq!(states(&fulfilled), [pb::ChoiceState::Fulfilled]);
    server.stop().await;
}

#[tokio::test]
async fn a_queue_holds_as_many_choices_as_the_engine_is_set_to() {
    let waitlist_settings = WaitlistSettings { queue_per_class_max: 1, ..WaitlistSettings::default() };
    let rules = TicketRules { waitlist: waitlist_settings, ..TicketRules::default() };
    let server = TestServer::start_with(EngineSettings { rules: Arc::new(rules), ..EngineSettings::default() }).await;
    let mut booking = server.booking().await;
    let mut serial = 700;
    sell_out(&mut booking, "G1", &mut serial).await;
    let agent = Bearer::new(&token(Role::Agent, "frontend"));
    let mut waitlist = WaitlistClient::with_interceptor(server.channel().await, agent);
    let mut submit = |user: &str| pb::SubmitWaitlistRequest {
        user_id: user.into(),
        ..business_waitlist("G1", "王五", next_id(&mut serial))
    };
    // given a queue set to hold one choice, and one user's choice in it
    let (first, second) = (submit("first"), submit("second"));
    let submitted = waitlist.submit_waitlist(first).await.expect("the queue has room").into_inner();
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id, user_id: "first".into() };
    waitlist.activate_waitlist(reference).await.expect("activates");
    // when another user waitlists the same class, then the queue is full
    let refused = waitlist.submit_waitlist(second).await.expect_err("the queue is at its bound");
    assert_eq!(seat_tests::reason(&refused), "WAITLIST_FULL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unpaid_request_expires_by_itself_at_its_cut_off() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let mut waitlist =
        WaitlistClient::with_interceptor(server.channel().await, Bearer::new(&token(Role::Passenger, "hopeful")));
    let mut serial = 900;
    sell_out(&mut booking, "G1", &mut serial).await;
    // given a request never paid (none of its choices queued), its cut-off a millisecond away
    let cutoff_ms = server.clock.now_ms() + 1;
    let submitted = waitlist
        .submit_waitlist(pb::SubmitWaitlistRequest {
            cutoff_ms,
            ..business_waitlist("G1", "赵六", next_id(&mut serial))
        })
        .await
        .expect("sold out")
        .into_inner();
    assert_eq!(submitted.status, pb::WaitlistStatus::Submitted as i32);
    // when the cut-off passes, then its home train-date's timer expires it
    server.clock.advance_ms(1_000);
    let reference = pb::WaitlistRequestRef { request_id: submitted.request_id, user_id: String::new() };
    let expired = poll(&mut waitlist, &reference, |request| request.status == pb::WaitlistStatus::Expired as i32).await;
    assert_eq!(expired.refund_fen, 0, "nothing was paid");
    server.stop().await;
}
