//! The relay's publisher against a real nats-server: a stale second
//! publisher (an old cluster leader that has not noticed a failover) is
//! refused by the expected-sequence headers, the subject's alone refuses
//! it too, and it resumes correctly from what the broker holds; a deleted
//! stream is made again.

#[path = "relay/nats.rs"]
mod nats;

use nats::{NatsServer, nats_server_bin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_second_publisher_is_refused_and_resumes_from_the_broker() {
    use api::relay::RelayError;
    use api::relay::broker::{Broker, BrokerSettings, Mark};
    use api::relay::session::Session;
    let Some(binary) = nats_server_bin("the stale publisher test") else { return };
    let nats = NatsServer::start(&binary).await;
    let settings = BrokerSettings { url: nats.url(), stream: "STALE_TEST".into(), replicas: 1 };
    let old_leader = Broker::connect(&settings).await.expect("connect");
    let new_leader = Broker::connect(&settings).await.expect("connect");

    let (mut stale, mark) = Session::begin(&old_leader).await.expect("begin");
    assert_eq!(mark, None, "a new stream");
    stale.publish(event(1)).await.expect("publish");
    stale.drain().await.expect("stored");

    // A failover: the new leader resumes after what the broker holds.
    let (mut current, mark) = Session::begin(&new_leader).await.expect("begin");
    assert_eq!(mark, Some(Mark { position: 1, train_date: TRAIN_DATE.into(), seq: 1 }));
    current.publish(event(2)).await.expect("publish");
    current.publish(event(3)).await.expect("publish");
    current.drain().await.expect("stored");

    // The old leader still believes the subject ends at its own publish.
    stale.publish(event(4)).await.expect("sent");
    match stale.drain().await {
        Err(RelayError::Refused { .. }) => {}
        other => panic!("a stale publisher must be refused, got {other:?}"),
    }

    // The subject's expected sequence alone refuses it too.
    let raw = async_nats::jetstream::new(async_nats::connect(nats.url()).await.expect("connect"));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", format!("{TRAIN_DATE}:4").as_str());
    headers.insert("Nats-Expected-Last-Subject-Sequence", "1");
    let refused = raw.publish_with_headers(SUBJECT, headers, "stale".into()).await.expect("sent").await;
    assert_eq!(
        refused.expect_err("refused").kind(),
        async_nats::jetstream::context::PublishErrorKind::WrongLastSequence
    );

    // Starting again from the broker, the old leader continues correctly.
    let (mut resumed, mark) = Session::begin(&old_leader).await.expect("begin");
    assert_eq!(mark, Some(Mark { position: 3, train_date: TRAIN_DATE.into(), seq: 3 }));
    resumed.publish(event(4)).await.expect("publish");
    resumed.drain().await.expect("stored");
    let mut stream = raw.get_stream("STALE_TEST").await.expect("stream");
    let state = stream.info().await.expect("info").state.clone();
    assert_eq!((state.messages, state.last_sequence), (4, 4), "events 1 to 4, once each");

    // An operator deletes the stream: the next session makes it again and
    // starts from the beginning of the feed.
    raw.delete_stream("STALE_TEST").await.expect("delete the stream");
    let (mut fresh, mark) = Session::begin(&old_leader).await.expect("begin on a deleted stream");
    assert_eq!(mark, None, "the stream is new again");
    fresh.publish(event(1)).await.expect("publish");
    fresh.drain().await.expect("stored");
}

const TRAIN_DATE: &str = "2026-11-25/G1";
const SUBJECT: &str = "seat.events.2026-11-25.G1";

/// Event `seq` of the test train-date, alone in its feed position.
fn event(seq: u64) -> api::relay::broker::Outgoing {
    api::relay::broker::Outgoing {
        train_date: TRAIN_DATE.into(),
        subject: SUBJECT.into(),
        message_id: format!("{TRAIN_DATE}:{seq}"),
        position: seq,
        seq,
        committed_at_ms: 1,
        payload: format!("event {seq}").into_bytes().into(),
    }
}
