//! SIGTERM: seatd stops accepting, finishes in-flight work, flushes the
//! journal and exits 0; everything it acknowledged is there after a restart.

#[allow(dead_code)]
mod crash;

use api::pb::{self, SeatClass};
use crash::{Backend, Seatd};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_and_exits_zero() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = Backend::Sqlite(dir.path().to_owned());
    let seatd = Seatd::start(&backend).await;
    let mut client = seatd.client().await;
    let date = crash::load::date_ahead(1);
    let mut orders = Vec::new();
    for n in 0..20u64 {
        let request = pb::HoldRequest {
            request_id: format!("term{n}"),
            user_id: "terminator".into(),
            train_date: Some(pb::TrainDate { train: "G3".into(), date: date.clone() }),
            from_station: "VNP".into(),
            to_station: "AOH".into(),
            passengers: vec![pb::PassengerRequest {
                name: "Sarah Connor".into(),
                id_number: crash::load::passenger_id(n),
                seat_class: SeatClass::Second.into(),
                ..Default::default()
            }],
        };
        orders.push(client.hold(request).await.expect("hold").into_inner().order_id);
    }
    let status = seatd.terminate().await;
    assert!(status.success(), "seatd exits 0 on SIGTERM: {status:?}");

    let seatd = Seatd::start(&backend).await;
    let mut client = seatd.client().await;
    for order_id in orders {
        let request = pb::GetOrderRequest { order_id: order_id.clone(), ..Default::default() };
        client.get_order(request).await.unwrap_or_else(|status| panic!("order {order_id} lost: {status}"));
    }
    assert!(seatd.terminate().await.success());
}
