//! Conformance: every behaviour of the `Journal` contract, run unchanged on
//! SQLite (always) and on MySQL/MariaDB (when `MYSQL_URL` names a server, e.g.
//! `mysql://root@127.0.0.1:3306/test`; each test gets its own database).

/// The event feed's part of the contract.
#[path = "conformance/feed.rs"]
mod feed;
mod support;

use engine::domain::snapshot::SNAPSHOT_SCHEMA_VERSION;
use engine::domain::timetable::TrainTemplate;
use engine::slots::{SlotFence, slot_of};
use seat_persistence::codec::{StoredEvent, decode};
use seat_persistence::journal::{Journal, JournalError, StoredSnapshot, StoredTrainDate, StreamAppend, stream_id};
use seat_persistence::store;
use std::sync::Arc;
use support::Raw;
use support::world::{self, append, events, key, order, snapshot, station, template};

conformance!(
    appends_read_back_in_every_chunk_shape,
    reads_page_by_seq,
    empty_appends_touch_nothing,
    a_repeated_seq_is_rejected_and_the_batch_writes_nothing,
    a_gap_is_rejected,
    replay_reproduces_the_live_state,
    snapshot_and_tail_reproduce_the_live_state,
    snapshots_keep_the_newest_two,
    timetable_round_trips_and_upserts_replace,
    train_dates_insert_once_and_keep_their_template,
    archived_train_dates_are_not_loaded_or_revived,
    templates_are_stored_once_and_inline_rows_still_load,
    orders_round_trip_and_a_repeated_request_fails_the_append,
    corrupt_rows_are_reported_by_name,
    a_stale_fence_refuses_only_its_own_streams,
    fences_only_rise,
    the_order_index_answers_by_id_and_by_user,
    batch_loads_equal_one_by_one_loads,
);

fn out_of_sequence<T: std::fmt::Debug>(result: Result<T, JournalError>) -> (String, u64, u64) {
    match result {
        Err(JournalError::OutOfSequence { stream, first_seq, stored_seq }) => (stream, first_seq, stored_seq),
        other => panic!("expected OutOfSequence, got {other:?}"),
    }
}

async fn all_events(journal: &impl Journal, stream: &str) -> Vec<StoredEvent> {
    journal.read_events(stream, 0, usize::MAX).await.expect("events read")
}

async fn appends_read_back_in_every_chunk_shape(journal: &impl Journal, _: &Raw) {
    // 253 events, then 18: between them every row shape (64, 32, 16, 8, 4, 2, 1) is used.
    let sizes = [1u64, 5, 16, 17, 64, 150];
    let streams: Vec<String> = (1..=sizes.len() as u32).map(|day| stream_id(&key("G1", day))).collect();
    let batch: Vec<StreamAppend> = streams.iter().zip(sizes).map(|(stream, size)| append(stream, 1..=size)).collect();
    journal.append(&batch).await.expect("first batch appends");
    let more: Vec<StreamAppend> =
        streams.iter().zip(sizes).map(|(stream, size)| append(stream, size + 1..=size + 3)).collect();
    journal.append(&more).await.expect("second batch appends");
    for (stream, size) in streams.iter().zip(sizes) {
        assert_eq!(all_events(journal, stream).await, events(1..=size + 3), "{stream}");
        assert_eq!(journal.last_seq(stream).await.unwrap(), size + 3);
    }
    assert_eq!(journal.last_seq("2026-12-31/G404").await.unwrap(), 0);
    assert!(all_events(journal, "2026-12-31/G404").await.is_empty());
}

async fn reads_page_by_seq(journal: &impl Journal, _: &Raw) {
    let stream = stream_id(&key("D701", 1));
    journal.append(&[append(&stream, 1..=10)]).await.unwrap();
    assert_eq!(journal.read_events(&stream, 3, 4).await.unwrap(), events(4..=7));
    assert_eq!(journal.read_events(&stream, 8, 100).await.unwrap(), events(9..=10));
    assert!(journal.read_events(&stream, 10, 100).await.unwrap().is_empty());
    assert!(journal.read_events(&stream, 0, 0).await.unwrap().is_empty());
}

async fn empty_appends_touch_nothing(journal: &impl Journal, raw: &Raw) {
    let stream = stream_id(&key("G1", 1));
    journal.append(&[]).await.expect("empty batch");
    journal.append(&[append(&stream, [])]).await.expect("stream with nothing new");
    assert_eq!(journal.last_seq(&stream).await.unwrap(), 0);
    journal.append(&[append(&stream, 1..=2)]).await.unwrap();
    let only_snapshot = StreamAppend { snapshot: Some(snapshot(2)), ..append(&stream, []) };
    journal.append(&[only_snapshot]).await.expect("a snapshot at the stored seq needs no events");
    assert_eq!(journal.latest_snapshot(&stream).await.unwrap(), Some(snapshot(2)));
    assert_eq!(raw.snapshot_seqs(&stream).await, [2]);
    let ahead = StreamAppend { snapshot: Some(snapshot(3)), ..append(&stream, []) };
    assert_eq!(out_of_sequence(journal.append(&[ahead]).await), (stream.clone(), 3, 2));
}

async fn a_repeated_seq_is_rejected_and_the_batch_writes_nothing(journal: &impl Journal, _: &Raw) {
    let (a, b) = (stream_id(&key("G1", 1)), stream_id(&key("G2", 1)));
    journal.append(&[append(&a, 1..=3)]).await.unwrap();
    assert_eq!(out_of_sequence(journal.append(&[append(&a, 3..=4)]).await), (a.clone(), 3, 3));
    let mut good = append(&b, 1..=70);
    good.new_orders.push(order(&b, "alice", "r1", 1));
    good.snapshot = Some(snapshot(70));
    let result = journal.append(&[good, append(&a, 2..=5)]).await;
    assert_eq!(out_of_sequence(result), (a.clone(), 2, 3));
    assert_eq!(all_events(journal, &a).await, events(1..=3));
    assert_eq!(journal.last_seq(&b).await.unwrap(), 0, "the good stream of a failed batch is not written");
    assert_eq!(journal.latest_snapshot(&b).await.unwrap(), None);
    assert!(journal.load_orders().await.unwrap().is_empty());
}

async fn a_gap_is_rejected(journal: &impl Journal, _: &Raw) {
    let stream = stream_id(&key("G1", 1));
    journal.append(&[append(&stream, 1..=3)]).await.unwrap();
    assert_eq!(out_of_sequence(journal.append(&[append(&stream, [5])]).await), (stream.clone(), 5, 3));
    assert_eq!(out_of_sequence(journal.append(&[append(&stream, [4, 5, 7])]).await), (stream.clone(), 7, 5));
    let fresh = stream_id(&key("G9", 1));
    assert_eq!(out_of_sequence(journal.append(&[append(&fresh, [2])]).await), (fresh.clone(), 2, 0));
    assert_eq!(journal.last_seq(&stream).await.unwrap(), 3);
    journal.append(&[append(&stream, [4])]).await.expect("the right seq still appends");
}

async fn replay_reproduces_the_live_state(journal: &impl Journal, _: &Raw) {
    let key = key("G7", 3);
    let stream = stream_id(&key);
    let live = world::live_run(&key);
    for batch in live.stored().chunks(7) {
        journal
            .append(&[StreamAppend { stream: stream.clone(), events: batch.to_vec(), ..Default::default() }])
            .await
            .unwrap();
    }
    let records: Vec<_> = all_events(journal, &stream).await.iter().map(|stored| decode(stored).unwrap()).collect();
    assert_eq!(records, live.records);
    let replayed = world::replay(world::fresh_state(&key), &records);
    replayed.verify_invariants().unwrap();
    assert_eq!(replayed, live.state);
}

async fn snapshot_and_tail_reproduce_the_live_state(journal: &impl Journal, _: &Raw) {
    let key = key("G7", 4);
    let stream = stream_id(&key);
    let live = world::live_run(&key);
    let stored = live.stored();
    let cut = stored.len() / 2;
    let at_cut = world::replay(world::fresh_state(&key), &live.records[..cut]);
    let mut head = append(&stream, []);
    head.events = stored[..cut].to_vec();
    head.snapshot =
        Some(StoredSnapshot { seq: cut as u64, version: SNAPSHOT_SCHEMA_VERSION, body: world::snapshot_body(&at_cut) });
    let tail = StreamAppend { stream: stream.clone(), events: stored[cut..].to_vec(), ..Default::default() };
    journal.append(&[head]).await.unwrap();
    journal.append(&[tail]).await.unwrap();

    let snapshot = journal.latest_snapshot(&stream).await.unwrap().expect("snapshot stored");
    let after: Vec<_> = journal.read_events(&stream, snapshot.seq, usize::MAX).await.unwrap();
    let after: Vec<_> = after.iter().map(|stored| decode(stored).unwrap()).collect();
    let recovered = world::replay(world::restore(&snapshot.body, &key), &after);
    recovered.verify_invariants().unwrap();
    assert_eq!(recovered, live.state);
}

async fn snapshots_keep_the_newest_two(journal: &impl Journal, raw: &Raw) {
    let (a, b) = (stream_id(&key("G1", 1)), stream_id(&key("G2", 1)));
    for seq in 1..=5 {
        let with_snapshot = |stream: &str| StreamAppend { snapshot: Some(snapshot(seq)), ..append(stream, [seq]) };
        journal.append(&[with_snapshot(&a), with_snapshot(&b)]).await.unwrap();
        assert_eq!(journal.latest_snapshot(&a).await.unwrap(), Some(snapshot(seq)));
    }
    assert_eq!(raw.snapshot_seqs(&a).await, [4, 5]);
    assert_eq!(raw.snapshot_seqs(&b).await, [4, 5]);
    let older = StreamAppend { snapshot: Some(snapshot(3)), ..append(&a, [6]) };
    journal.append(&[older]).await.unwrap();
    assert_eq!(journal.latest_snapshot(&a).await.unwrap(), Some(snapshot(5)), "the highest seq wins");
    assert_eq!(raw.snapshot_seqs(&a).await, [4, 5]);
    let mut again = snapshot(6);
    journal.append(&[StreamAppend { snapshot: Some(again.clone()), ..append(&a, []) }]).await.unwrap();
    again.body = r#"{"at":6,"format":2}"#.into();
    again.version = 2;
    journal.append(&[StreamAppend { snapshot: Some(again.clone()), ..append(&a, []) }]).await.expect("same seq again");
    assert_eq!(journal.latest_snapshot(&a).await.unwrap(), Some(again), "a snapshot at the same seq replaces it");
    assert_eq!(raw.snapshot_seqs(&a).await, [5, 6]);
    assert_eq!(journal.latest_snapshot("2026-12-31/G404").await.unwrap(), None);
}

async fn timetable_round_trips_and_upserts_replace(journal: &impl Journal, _: &Raw) {
    let mut stations: Vec<_> = (0..20).map(|index| station(&format!("S{index:02}"), &format!("站{index}"))).collect();
    journal.upsert_stations(&stations).await.unwrap();
    stations[3].name = "北京南".into();
    stations.push(station("AA", "安阳"));
    journal.upsert_stations(&stations[3..]).await.unwrap();
    stations.sort_by(|a, b| a.code.cmp(&b.code));
    assert_eq!(journal.load_stations().await.unwrap(), stations);

    let (g2, d1) = (template("G2", 5, 4), template("D1", 3, 2));
    journal.upsert_train(&g2, 1).await.unwrap();
    journal.upsert_train(&d1, 2).await.unwrap();
    assert_eq!(journal.load_trains().await.unwrap(), [d1.clone(), g2]);
    let mut g2 = template("G2", 64, 40);
    g2.carriages.truncate(1);
    g2.stops[0].arrive_minutes = None;
    journal.upsert_train(&g2, 3).await.unwrap();
    assert_eq!(journal.load_trains().await.unwrap(), [d1, g2]);
}

async fn train_dates_insert_once_and_keep_their_template(journal: &impl Journal, _: &Raw) {
    let train_date = |train: &str, day: u32, template: &TrainTemplate| StoredTrainDate {
        key: key(train, day),
        template: template.clone(),
        opened_at_ms: u64::from(day) * 1_000,
    };
    let g1 = template("G1", 4, 2);
    let mut opened: Vec<_> = (0..300).map(|n| train_date(&format!("G{}", n / 30 + 1), n % 30 + 1, &g1)).collect();
    journal.insert_train_dates(&opened).await.unwrap();
    journal.upsert_train(&template("G1", 6, 3), 1).await.unwrap();
    let reopened: Vec<_> = (0..20).map(|day| train_date("G1", day + 1, &template("G1", 6, 3))).collect();
    journal.insert_train_dates(&reopened).await.expect("reinserting open train-dates is harmless");
    journal.insert_train_dates(&[]).await.unwrap();
    let extra = train_date("K9", 2, &template("K9", 2, 1));
    journal.insert_train_dates(std::slice::from_ref(&extra)).await.unwrap();
    opened.push(extra);
    opened.sort_by_key(|stored| stream_id(&stored.key));
    assert_eq!(journal.load_train_dates().await.unwrap(), opened);
}

async fn templates_are_stored_once_and_inline_rows_still_load(journal: &impl Journal, raw: &Raw) {
    let (g1, k9) = (template("G1", 4, 2), template("K9", 3, 1));
    let stored = |train: &str, day: u32, template: &TrainTemplate| StoredTrainDate {
        key: key(train, day),
        template: template.clone(),
        opened_at_ms: 7,
    };
    let mut opened: Vec<_> = (1..=30).map(|day| stored("G1", day, &g1)).collect();
    opened.extend((1..=30).map(|day| stored("K9", day, &k9)));
    journal.insert_train_dates(&opened).await.unwrap();
    journal.insert_train_dates(&opened[..5]).await.unwrap();
    assert_eq!(raw.count("SELECT COUNT(*) FROM train_templates").await, 2, "one row per distinct template");
    assert_eq!(raw.count("SELECT COUNT(*) FROM train_dates WHERE template <> ''").await, 0, "no inline copies");

    // A row from before the templates table carries its template inline.
    let inline = serde_json::to_string(&k9).unwrap().replace('\'', "''");
    let statement = format!(
        "INSERT INTO train_dates (train_date, train, service_date, template, opened_at_ms) \
         VALUES ('2026-12-31/K9', 'K9', '2026-12-31', '{inline}', 7)"
    );
    raw.execute_built(statement).await;
    opened.push(stored("K9", 31, &k9));
    opened.sort_by_key(|stored| stream_id(&stored.key));
    assert_eq!(journal.load_train_dates().await.unwrap(), opened);
}

async fn archived_train_dates_are_not_loaded_or_revived(journal: &impl Journal, _: &Raw) {
    let g1 = template("G1", 4, 2);
    let stored = |day: u32| StoredTrainDate { key: key("G1", day), template: g1.clone(), opened_at_ms: 1 };
    journal.insert_train_dates(&[stored(1), stored(2), stored(3)]).await.unwrap();
    journal.archive_train_dates(&[stream_id(&key("G1", 1)), stream_id(&key("G1", 3))], 99).await.unwrap();
    journal.archive_train_dates(&[stream_id(&key("G1", 1))], 100).await.expect("archiving twice is harmless");
    journal.insert_train_dates(&[stored(1)]).await.expect("reinserting an archived train-date is a no-op");
    assert_eq!(journal.load_train_dates().await.unwrap(), vec![stored(2)]);
}

async fn orders_round_trip_and_a_repeated_request_fails_the_append(journal: &impl Journal, _: &Raw) {
    let (a, b) = (stream_id(&key("G1", 1)), stream_id(&key("G2", 1)));
    let mut orders = Vec::new();
    let mut batch = vec![append(&a, 1..=40), append(&b, 1..=40)];
    for (index, part) in batch.iter_mut().enumerate() {
        for seq in 1..=40 {
            part.new_orders.push(order(&part.stream, &format!("user-{}", seq % 7), &format!("r{index}-{seq}"), seq));
        }
        orders.extend(part.new_orders.clone());
    }
    journal.append(&batch).await.unwrap();
    orders.sort_by(|x, y| (&x.user_id, &x.order_id).cmp(&(&y.user_id, &y.order_id)));
    assert_eq!(journal.load_orders().await.unwrap(), orders);

    let mut repeat = append(&a, [41]);
    repeat.new_orders.push(order(&a, "user-1", "r0-1", 41));
    let error = journal.append(&[repeat]).await.expect_err("a repeated (train_date, user, request) fails");
    assert!(error.is_permanent(), "{error}");
    assert_eq!(journal.last_seq(&a).await.unwrap(), 40, "nothing of the failed append is written");
    let mut same_request_other_stream = append(&b, [41]);
    same_request_other_stream.new_orders.push(order(&b, "user-1", "r0-1", 41));
    journal.append(&[same_request_other_stream]).await.expect("request ids are per train-date");
}

async fn corrupt_rows_are_reported_by_name(journal: &impl Journal, raw: &Raw) {
    journal.upsert_train(&template("G5", 3, 2), 1).await.unwrap();
    raw.execute(
        "INSERT INTO train_carriages (train, number, class, seat_rows, letters) VALUES ('G5', 9, 'deluxe', 1, 'A')",
    )
    .await;
    let error = journal.load_trains().await.expect_err("unknown class");
    assert!(
        matches!(&error, JournalError::Corrupt(text) if text.contains("G5/9") && text.contains("deluxe")),
        "{error}"
    );

    raw.execute(
        "INSERT INTO train_dates (train_date, train, service_date, template, opened_at_ms) \
         VALUES ('2026-12-01/G5', 'G5', '2026-12-01', '{not json', 1)",
    )
    .await;
    let error = journal.load_train_dates().await.expect_err("bad template");
    assert!(matches!(&error, JournalError::Corrupt(text) if text.contains("2026-12-01/G5")), "{error}");
}

/// Two train-dates in different slots, and a third in the first one's slot.
fn fenced_keys() -> (engine::domain::state::TrainDateKey, engine::domain::state::TrainDateKey) {
    let a = key("G1", 1);
    let b = (2..200).map(|n| key(&format!("G{n}"), 1)).find(|other| slot_of(other) != slot_of(&a)).unwrap();
    (a, b)
}

async fn a_stale_fence_refuses_only_its_own_streams(journal: &impl Journal, raw: &Raw) {
    let (a, b) = fenced_keys();
    let (slot_a, slot_b) = (slot_of(&a), slot_of(&b));
    assert_eq!(journal.advance_fences(&[SlotFence { slot: slot_a, token: 10 }], "n1", 1).await.unwrap()[0].1, 10);
    assert_eq!(journal.advance_fences(&[SlotFence { slot: slot_b, token: 11 }], "n1", 1).await.unwrap()[0].1, 11);
    let fenced = |stream: &str, seqs, slot, token| StreamAppend {
        fence: Some(SlotFence { slot, token }),
        ..append(stream, seqs)
    };
    let (sa, sb) = (stream_id(&a), stream_id(&b));
    let outcome = journal.append(&[fenced(&sa, 1..=2, slot_a, 10), fenced(&sb, 1..=2, slot_b, 11)]).await.unwrap();
    assert!(outcome.fenced.is_empty(), "current tokens commit: {outcome:?}");

    // Another node claims slot a with a newer token.
    assert_eq!(journal.advance_fences(&[SlotFence { slot: slot_a, token: 20 }], "n2", 2).await.unwrap()[0].1, 20);
    let outcome = journal.append(&[fenced(&sa, 3..=4, slot_a, 10), fenced(&sb, 3..=4, slot_b, 11)]).await.unwrap();
    assert_eq!(outcome.fenced.len(), 1, "{outcome:?}");
    assert_eq!((outcome.fenced[0].stream.as_str(), outcome.fenced[0].current), (sa.as_str(), 20));
    assert_eq!(journal.last_seq(&sa).await.unwrap(), 2, "the stale stream wrote nothing");
    assert_eq!(journal.last_seq(&sb).await.unwrap(), 4, "the other stream of the batch committed");
    // The new owner continues the stream; every event says which token wrote it.
    journal.append(&[fenced(&sa, 3..=3, slot_a, 20)]).await.unwrap();
    assert_eq!(raw.count("SELECT COUNT(*) FROM events WHERE fence_token = 20").await, 1);
    assert_eq!(raw.count("SELECT COUNT(*) FROM events WHERE fence_token = 10").await, 2);
    // A slot with no fence row refuses fenced streams too.
    let unclaimed =
        (200..400).map(|n| key(&format!("G{n}"), 1)).find(|k| ![slot_a, slot_b].contains(&slot_of(k))).unwrap();
    let outcome = journal.append(&[fenced(&stream_id(&unclaimed), 1..=1, slot_of(&unclaimed), 5)]).await.unwrap();
    assert_eq!(outcome.fenced[0].current, 0);
}

async fn fences_only_rise(journal: &impl Journal, _: &Raw) {
    let slot = 7;
    assert_eq!(journal.advance_fences(&[SlotFence { slot, token: 30 }], "n1", 1).await.unwrap()[0].1, 30);
    let older = journal.advance_fences(&[SlotFence { slot, token: 25 }], "n2", 2).await.unwrap();
    assert_eq!(older, vec![(slot, 30)], "an older claim loses");
    let again = journal.advance_fences(&[SlotFence { slot, token: 30 }], "n1", 3).await.unwrap();
    assert_eq!(again, vec![(slot, 30)], "idempotent");
    // Many slots in one transaction, every row shape: each keeps the larger token.
    let many: Vec<SlotFence> = (100..170).map(|slot| SlotFence { slot, token: 40 + u64::from(slot % 3) }).collect();
    journal.advance_fences(&many, "n3", 5).await.unwrap();
    let raised: Vec<SlotFence> = (100..170).map(|slot| SlotFence { slot, token: 41 }).collect();
    let stored = journal.advance_fences(&raised, "n4", 6).await.unwrap();
    assert_eq!(stored.len(), 70);
    assert!(stored.iter().all(|(slot, token)| *token == 41u64.max(40 + u64::from(slot % 3))), "{stored:?}");
    assert_eq!(journal.advance_fences(&[SlotFence { slot, token: 31 }], "n2", 4).await.unwrap()[0].1, 31);
    assert_eq!(journal.read_fences(&[slot, 8]).await.unwrap(), vec![(slot, 31)]);
}

async fn the_order_index_answers_by_id_and_by_user(journal: &impl Journal, _: &Raw) {
    let stream = stream_id(&key("G1", 1));
    let mut part = append(&stream, 1..=5);
    let mut ids = Vec::new();
    for seq in 1..=5 {
        let row = order(&stream, if seq == 3 { "bob" } else { "alice" }, &format!("r{seq}"), seq);
        ids.push(row.order_id.clone());
        part.new_orders.push(row);
    }
    journal.append(&[part]).await.unwrap();
    assert_eq!(journal.order_home(&ids[2]).await.unwrap(), Some((stream.clone(), "bob".to_owned())));
    assert_eq!(journal.order_home("00000000-0000-0000-0000-000000000000").await.unwrap(), None);
    let mut alice: Vec<String> = ids.iter().enumerate().filter(|(i, _)| *i != 2).map(|(_, id)| id.clone()).collect();
    alice.sort();
    let (first, total) = journal.user_orders("alice", None, 3).await.unwrap();
    assert_eq!((first.as_slice(), total), (&alice[..3], 4));
    let (rest, _) = journal.user_orders("alice", Some(&first[2]), 3).await.unwrap();
    assert_eq!(rest, alice[3..].to_vec());
    assert_eq!(journal.user_orders("nobody", None, 3).await.unwrap(), (Vec::new(), 0));
}

/// Recovery's batch load gives each train-date the state its own load gives:
/// from a snapshot and tail, from events alone, and with nothing stored;
/// with one page for the whole batch and with pages so small that every
/// stream is finished on its own.
async fn batch_loads_equal_one_by_one_loads(journal: &impl Journal, _: &Raw) {
    let keys: Vec<_> = (10..14).map(|day| key("G9", day)).collect();
    let mut expected = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let stream = stream_id(key);
        let live = world::live_run(key);
        let stored = live.stored();
        match index {
            0 => {
                let cut = stored.len() / 2;
                let at_cut = world::replay(world::fresh_state(key), &live.records[..cut]);
                let mut head = append(&stream, []);
                head.events = stored[..cut].to_vec();
                head.snapshot = Some(StoredSnapshot {
                    seq: cut as u64,
                    version: SNAPSHOT_SCHEMA_VERSION,
                    body: world::snapshot_body(&at_cut),
                });
                journal.append(&[head]).await.unwrap();
                let tail = StreamAppend { stream, events: stored[cut..].to_vec(), ..Default::default() };
                journal.append(&[tail]).await.unwrap();
            }
            2 => {
                expected.push(world::fresh_state(key));
                continue;
            }
            _ => {
                journal.append(&[StreamAppend { stream, events: stored, ..Default::default() }]).await.unwrap();
            }
        }
        expected.push(live.state);
    }
    let plans = || keys.iter().map(|key| (key.clone(), Arc::clone(&world::fresh_state(key).plan))).collect::<Vec<_>>();
    for page_events in [store::REPLAY_PAGE_EVENTS, 5] {
        let states = store::load_batch_paged(journal, plans(), page_events).await.unwrap();
        assert_eq!(states, expected, "pages of {page_events} events");
    }
    for ((key, plan), expected) in plans().into_iter().zip(&expected) {
        assert_eq!(&store::load(journal, key, plan).await.unwrap(), expected);
    }
}
