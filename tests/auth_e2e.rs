//! The auth matrix: every Booking, Admin and Feed RPC with no token, a bad
//! signature, an expired token, the wrong role, and the right role.

use api::auth::{Claims, Role, mint_hs256, unix_now_secs};
use api::pb::admin_client::AdminClient;
use api::pb::booking_client::BookingClient;
use api::pb::feed_client::FeedClient;
use api::pb::{self, SeatClass};
use seat_tests::{Bearer, IDS, TEST_JWT_SECRET, TOMORROW, TestServer, hold_request, train_date};
use tonic::Code;
use tonic::transport::Channel;

#[derive(Clone, Copy, Debug)]
enum Rpc {
    SearchTrains,
    GetAvailability,
    GetSeatMap,
    Hold,
    Confirm,
    Cancel,
    GetOrder,
    ListOrders,
    UpsertStations,
    UpsertTrain,
    OpenTrainDate,
    OpenTrainDates,
    CloseSales,
    ListTrainDates,
    Stats,
    StreamEvents,
}

const BOOKING: [Rpc; 8] = [
    Rpc::SearchTrains,
    Rpc::GetAvailability,
    Rpc::GetSeatMap,
    Rpc::Hold,
    Rpc::Confirm,
    Rpc::Cancel,
    Rpc::GetOrder,
    Rpc::ListOrders,
];
const ADMIN: [Rpc; 7] = [
    Rpc::UpsertStations,
    Rpc::UpsertTrain,
    Rpc::OpenTrainDate,
    Rpc::OpenTrainDates,
    Rpc::CloseSales,
    Rpc::ListTrainDates,
    Rpc::Stats,
];
const FEED: [Rpc; 1] = [Rpc::StreamEvents];

/// Calls `rpc` with `bearer`; `user` is the user_id the request names
/// (empty: none). Returns the status code (Ok for success).
async fn call(channel: &Channel, bearer: Bearer, rpc: Rpc, user: &str, order_id: &str) -> Code {
    let mut booking = BookingClient::with_interceptor(channel.clone(), bearer.clone());
    let mut admin = AdminClient::with_interceptor(channel.clone(), bearer.clone());
    let mut feed = FeedClient::with_interceptor(channel.clone(), bearer);
    let user = user.to_owned();
    let order = order_id.to_owned();
    let result = match rpc {
        Rpc::SearchTrains => booking
            .search_trains(pb::SearchTrainsRequest {
                date: TOMORROW.into(),
                from_station: "VNP".into(),
                to_station: "AOH".into(),
            })
            .await
            .map(|_| ()),
        Rpc::GetAvailability => booking
            .get_availability(pb::GetAvailabilityRequest {
                train_date: train_date("G1", TOMORROW),
                from_station: "VNP".into(),
                to_station: "AOH".into(),
            })
            .await
            .map(|_| ()),
        Rpc::GetSeatMap => booking
            .get_seat_map(pb::GetSeatMapRequest {
                train_date: train_date("G1", TOMORROW),
                carriage: 1,
                from_station: "VNP".into(),
                to_station: "AOH".into(),
            })
            .await
            .map(|_| ()),
        Rpc::Hold => {
            let request_id = format!("auth-{}", rand_id());
            booking
                .hold(hold_request(&request_id, &user, "G1", "VNP", "AOH", SeatClass::Second, &[IDS[6]]))
                .await
                .map(|_| ())
        }
        Rpc::Confirm => booking.confirm(pb::ConfirmRequest { order_id: order, user_id: user }).await.map(|_| ()),
        Rpc::Cancel => booking.cancel(pb::CancelRequest { order_id: order, user_id: user }).await.map(|_| ()),
        Rpc::GetOrder => booking.get_order(pb::GetOrderRequest { order_id: order, user_id: user }).await.map(|_| ()),
        Rpc::ListOrders => {
            booking.list_orders(pb::ListOrdersRequest { user_id: user, ..Default::default() }).await.map(|_| ())
        }
        Rpc::UpsertStations => admin
            .upsert_stations(pb::UpsertStationsRequest {
                stations: vec![pb::Station {
                    code: "VNP".into(), name: "北京南".into(), pinyin: "beijingnan".into()
                }],
            })
            .await
            .map(|_| ()),
        Rpc::UpsertTrain => admin.upsert_train(pb::UpsertTrainRequest { train: None }).await.map(|_| ()),
        Rpc::OpenTrainDate => {
            admin.open_train_date(pb::OpenTrainDateRequest { train_date: train_date("G1", TOMORROW) }).await.map(|_| ())
        }
        Rpc::OpenTrainDates => admin
            .open_train_dates(pb::OpenTrainDatesRequest {
                trains: vec!["G1".into()],
                first_date: TOMORROW.into(),
                last_date: TOMORROW.into(),
            })
            .await
            .map(|_| ()),
        Rpc::CloseSales => {
            admin.close_sales(pb::CloseSalesRequest { train_date: train_date("G111", "2026-12-08") }).await.map(|_| ())
        }
        Rpc::ListTrainDates => admin.list_train_dates(pb::ListTrainDatesRequest::default()).await.map(|_| ()),
        Rpc::Stats => admin.stats(pb::StatsRequest {}).await.map(|_| ()),
        Rpc::StreamEvents => feed.stream_events(pb::StreamEventsRequest::default()).await.map(|_| ()),
    };
    result.err().map_or(Code::Ok, |status| status.code())
}

fn rand_id() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn bearer(role: Role, sub: &str) -> Bearer {
    Bearer::new(&mint_hs256(TEST_JWT_SECRET, sub, role, unix_now_secs(), 600))
}

fn expired(role: Role) -> Bearer {
    Bearer::new(&mint_hs256(TEST_JWT_SECRET, "late", role, unix_now_secs() - 7200, 600))
}

fn bad_signature(role: Role) -> Bearer {
    Bearer::new(&mint_hs256(b"not-the-server-secret-0123456789abcdef", "forger", role, unix_now_secs(), 600))
}

fn not_yet_valid(role: Role) -> Bearer {
    let now = unix_now_secs();
    let claims = Claims { sub: "early".into(), role, exp: now + 7200, nbf: Some(now + 3600), iat: now };
    let key = jsonwebtoken::EncodingKey::from_secret(TEST_JWT_SECRET);
    Bearer::new(&jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_checks_token_and_role() {
    let server = TestServer::start().await;
    let channel = server.channel().await;
    // An order owned by "pat", made by the passenger themself.
    let mut pat = server.booking_as(Role::Passenger, "pat").await;
    let order = pat.hold(hold_request("mine", "", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[0]])).await.unwrap();
    let order = order.into_inner();
    assert_eq!(order.user_id, "pat", "a passenger books as the token's subject");

    for rpc in BOOKING.into_iter().chain(ADMIN).chain(FEED) {
        for (what, credentials) in [
            ("no token", Bearer::none()),
            ("bad signature", bad_signature(Role::Admin)),
            ("expired", expired(Role::Admin)),
            ("not yet valid", not_yet_valid(Role::Admin)),
            ("garbage", Bearer::new("not.a.jwt")),
        ] {
            let code = call(&channel, credentials, rpc, "pat", &order.order_id).await;
            assert_eq!(code, Code::Unauthenticated, "{rpc:?} with {what}");
        }
    }
    for rpc in ADMIN {
        for role in [Role::Passenger, Role::Agent] {
            let code = call(&channel, bearer(role, "pat"), rpc, "", &order.order_id).await;
            assert_eq!(code, Code::PermissionDenied, "{rpc:?} as {role:?}");
        }
        let code = call(&channel, bearer(Role::Admin, "ops"), rpc, "", &order.order_id).await;
        assert!(![Code::Unauthenticated, Code::PermissionDenied].contains(&code), "{rpc:?} as admin: {code:?}");
    }
    // The feed is for downstream systems and operators; a feed token reads nothing else.
    for rpc in FEED {
        for role in [Role::Passenger, Role::Agent] {
            let code = call(&channel, bearer(role, "pat"), rpc, "", &order.order_id).await;
            assert_eq!(code, Code::PermissionDenied, "{rpc:?} as {role:?}");
        }
        for role in [Role::Feed, Role::Admin] {
            assert_eq!(
                call(&channel, bearer(role, "ops"), rpc, "", &order.order_id).await,
                Code::Ok,
                "{rpc:?} as {role:?}"
            );
        }
    }
    for rpc in BOOKING.into_iter().chain(ADMIN) {
        let code = call(&channel, bearer(Role::Feed, "payments"), rpc, "pat", &order.order_id).await;
        assert_eq!(code, Code::PermissionDenied, "{rpc:?} as Feed");
    }
    for rpc in [Rpc::Hold, Rpc::Confirm, Rpc::Cancel, Rpc::GetOrder, Rpc::ListOrders] {
        let code = call(&channel, bearer(Role::Passenger, "mallory"), rpc, "pat", &order.order_id).await;
        assert_eq!(code, Code::PermissionDenied, "{rpc:?}: a passenger naming another user");
    }
    for rpc in BOOKING {
        for (role, sub, user) in
            [(Role::Passenger, "pat", ""), (Role::Agent, "frontend", "pat"), (Role::Admin, "ops", "pat")]
        {
            let code = call(&channel, bearer(role, sub), rpc, user, &order.order_id).await;
            assert!(![Code::Unauthenticated, Code::PermissionDenied].contains(&code), "{rpc:?} as {role:?}: {code:?}");
        }
    }
    // A passenger cannot see another passenger's order, even by id.
    let code = call(&channel, bearer(Role::Passenger, "mallory"), Rpc::GetOrder, "", &order.order_id).await;
    assert_eq!(code, Code::NotFound);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_reflection_need_no_token() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let server = TestServer::start().await;
    let mut health = HealthClient::new(server.channel().await);
    health.check(HealthCheckRequest { service: String::new() }).await.expect("health answers without a token");
    server.stop().await;
}

/// What an order call answered, with the order id it named blanked out.
fn answer(result: Result<tonic::Response<pb::Order>, tonic::Status>, order_id: &str) -> (Code, String, String) {
    let status = result.expect_err("refused");
    (status.code(), seat_tests::reason(&status), status.message().replace(order_id, "<id>"))
}

/// Confirm, Cancel and GetOrder on another user's order answer exactly as on
/// an id no order has, for a passenger and for an agent naming the user:
/// nobody learns whether someone else's order exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn others_orders_are_indistinguishable_from_missing_ones() {
    let server = TestServer::start().await;
    let mut pat = server.booking_as(Role::Passenger, "pat").await;
    let theirs = pat.hold(hold_request("theirs", "", "G3", "VNP", "AOH", SeatClass::Second, &[IDS[0]])).await;
    let theirs = theirs.unwrap().into_inner().order_id;
    let missing = engine::domain::order::OrderId::generate().to_string();
    let mut mallory = server.booking_as(Role::Passenger, "mallory").await;
    let mut agent = server.booking_as(Role::Agent, "frontend").await;
    for (who, client, user) in [("passenger", &mut mallory, ""), ("agent", &mut agent, "mallory")] {
        for rpc in ["Confirm", "Cancel", "GetOrder"] {
            let mut ask = async |order_id: &str| {
                let (order_id, user_id) = (order_id.to_owned(), user.to_owned());
                let result = match rpc {
                    "Confirm" => client.confirm(pb::ConfirmRequest { order_id: order_id.clone(), user_id }).await,
                    "Cancel" => client.cancel(pb::CancelRequest { order_id: order_id.clone(), user_id }).await,
                    _ => client.get_order(pb::GetOrderRequest { order_id: order_id.clone(), user_id }).await,
                };
                answer(result, &order_id)
            };
            let for_theirs = ask(&theirs).await;
            let for_missing = ask(&missing).await;
            assert_eq!(for_theirs, for_missing, "{rpc} as {who}");
            assert_eq!((for_theirs.0, for_theirs.1.as_str()), (Code::NotFound, "ORDER_NOT_FOUND"), "{rpc} as {who}");
        }
    }
    let order = pat.get_order(pb::GetOrderRequest { order_id: theirs, user_id: String::new() }).await.unwrap();
    assert_eq!(order.into_inner().status, pb::OrderStatus::Held as i32, "the refused calls changed nothing");
    server.stop().await;
}
