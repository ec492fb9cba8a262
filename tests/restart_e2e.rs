//! Restarts on the same SQLite journal: everything acknowledged comes back,
//! snapshots plus their tails equal the live state, and holds that fell due
//! while the server was down expire on recovery.

use api::pb::{self, SeatClass};
use engine::facade::EngineSettings;
use seat_tests::{IDS, TOMORROW, TestServer, hold_request, remaining, resident_id, train_date};
use std::time::Duration;

async fn order_status(server: &TestServer, order_id: &str) -> i32 {
    let mut booking = server.booking().await;
    let request = pb::GetOrderRequest { order_id: order_id.into(), ..Default::default() };
    booking.get_order(request).await.expect("order survives the restart").into_inner().status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_orders_survive_a_restart() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let held =
        booking.hold(hold_request("h", "alice", "G1", "VNP", "NKH", SeatClass::Second, &IDS[..3])).await.unwrap();
    let held = held.into_inner();
    let paid = booking.hold(hold_request("p", "bob", "G3", "JGK", "AOH", SeatClass::First, &[IDS[3]])).await.unwrap();
    let paid = paid.into_inner();
    booking.confirm(pb::ConfirmRequest { order_id: paid.order_id.clone(), ..Default::default() }).await.unwrap();
    let gone = booking.hold(hold_request("g", "carol", "G7", "VNP", "AOH", SeatClass::Business, &[IDS[4]])).await;
    let gone = gone.unwrap().into_inner();
    booking.cancel(pb::CancelRequest { order_id: gone.order_id.clone(), ..Default::default() }).await.unwrap();
    let before = remaining(&mut booking, "G1", "VNP", "AOH", SeatClass::Second).await;
    admin_close(&server, "G111").await;

    let (data_dir, clock) = server.stop().await;
    let server = TestServer::boot(EngineSettings::default(), data_dir, clock).await;
    let mut booking = server.booking().await;
    assert_eq!(order_status(&server, &held.order_id).await, pb::OrderStatus::Held as i32);
    assert_eq!(order_status(&server, &paid.order_id).await, pb::OrderStatus::Confirmed as i32);
    assert_eq!(order_status(&server, &gone.order_id).await, pb::OrderStatus::Cancelled as i32);
    assert_eq!(remaining(&mut booking, "G1", "VNP", "AOH", SeatClass::Second).await, before);
    let again = booking.hold(hold_request("h", "alice", "G1", "VNP", "NKH", SeatClass::Second, &IDS[..3])).await;
    assert_eq!(again.unwrap().into_inner().order_id, held.order_id, "an idempotent retry finds the original");
    let closed = booking.hold(hold_request("c", "dave", "G111", "VNP", "AOH", SeatClass::Second, &[IDS[5]])).await;
    assert_eq!(seat_tests::reason(&closed.unwrap_err()), "SALES_CLOSED", "closing sales is journaled too");
    let listed = booking
        .list_orders(pb::ListOrdersRequest { user_id: "alice".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.total, 1);
    server.stop().await;
}

async fn admin_close(server: &TestServer, train: &str) {
    let mut admin = server.admin().await;
    admin.close_sales(pb::CloseSalesRequest { train_date: train_date(train, TOMORROW) }).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_plus_tail_equals_the_live_state() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    // 130 events on one train-date: snapshots at 50 and 100, then a tail.
    let stations = ["VNP", "LJP", "TIP", "CBP", "DIP", "JGK", "TMK", "QAK", "UUH", "BMH", "NKH", "AOH"];
    let mut orders = Vec::new();
    for n in 0..130u32 {
        let from = (n as usize * 7) % (stations.len() - 1);
        let to = from + 1 + (n as usize % (stations.len() - 1 - from));
        let id = resident_id(n);
        let request =
            hold_request(&format!("r{n}"), "snap", "G101", stations[from], stations[to], SeatClass::Second, &[&id]);
        orders.push(booking.hold(request).await.unwrap().into_inner());
    }
    let mut before = Vec::new();
    for (from, to) in [("VNP", "AOH"), ("TIP", "NKH"), ("JGK", "UUH"), ("BMH", "AOH")] {
        before.push(remaining(&mut booking, "G101", from, to, SeatClass::Second).await);
    }
    let (data_dir, clock) = server.stop().await;
    let server = TestServer::boot(EngineSettings::default(), data_dir, clock).await;
    let mut booking = server.booking().await;
    let mut after = Vec::new();
    for (from, to) in [("VNP", "AOH"), ("TIP", "NKH"), ("JGK", "UUH"), ("BMH", "AOH")] {
        after.push(remaining(&mut booking, "G101", from, to, SeatClass::Second).await);
    }
    assert_eq!(before, after);
    for order in &orders {
        let request = pb::GetOrderRequest { order_id: order.order_id.clone(), ..Default::default() };
        let reread = booking.get_order(request).await.unwrap().into_inner();
        assert_eq!(reread.tickets, order.tickets, "same seats after snapshot + replay");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_due_while_down_expire_on_recovery() {
    let server = TestServer::start().await;
    let mut booking = server.booking().await;
    let order = booking.hold(hold_request("x", "erin", "G3", "VNP", "AOH", SeatClass::Business, &IDS[..2])).await;
    let order = order.unwrap().into_inner();
    let (data_dir, clock) = server.stop().await;
    clock.advance_ms(11 * 60 * 1000);
    let server = TestServer::boot(EngineSettings::default(), data_dir, clock).await;
    let mut status = 0;
    for _ in 0..50 {
        status = order_status(&server, &order.order_id).await;
        if status == pb::OrderStatus::Expired as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, pb::OrderStatus::Expired as i32);
    let mut booking = server.booking().await;
    assert_eq!(remaining(&mut booking, "G3", "VNP", "AOH", SeatClass::Business).await, 21);
    server.stop().await;
}
