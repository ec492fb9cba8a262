//! Conformance of the event feed (`Journal::read_feed`, `feed_head`) on
//! SQLite and MySQL: positions in commit order with no gap, nothing for
//! fenced or failed appends, a reader following concurrent appends never
//! skips one, and migration 0005 backfills a journal written before it.

use crate::conformance;
use crate::support::world::{append, events, key};
use crate::support::{self, Raw};
use engine::slots::{SlotFence, slot_of};
use seat_persistence::codec::StoredEvent;
use seat_persistence::feed::FeedBatch;
use seat_persistence::journal::{Journal, StreamAppend, stream_id};
use std::collections::BTreeMap;

conformance!(
    positions_count_streams_per_append_with_no_gap,
    pages_resume_after_the_last_position,
    failed_and_fenced_appends_take_no_position,
    a_reader_following_concurrent_appends_misses_nothing,
);

async fn whole_feed(journal: &impl Journal) -> Vec<FeedBatch> {
    journal.read_feed(0, usize::MAX).await.expect("feed reads")
}

fn summary(batches: &[FeedBatch]) -> Vec<(u64, String, u64, u64)> {
    batches
        .iter()
        .map(|batch| {
            let seqs: Vec<u64> = batch.events.iter().map(|event| event.seq).collect();
            (batch.position, batch.stream.clone(), seqs[0], *seqs.last().unwrap())
        })
        .collect()
}

async fn positions_count_streams_per_append_with_no_gap(journal: &impl Journal, _: &Raw) {
    assert_eq!(journal.feed_head().await.unwrap(), 0);
    assert!(whole_feed(journal).await.is_empty());
    let (a, b, c) = (stream_id(&key("G1", 1)), stream_id(&key("G2", 1)), stream_id(&key("G3", 1)));
    journal.append(&[append(&a, 1..=3), append(&b, 1..=1)]).await.unwrap();
    // A stream named twice gets one position; one with no events gets none.
    journal.append(&[append(&c, 1..=2), append(&a, 4..=4), append(&b, []), append(&a, 5..=70)]).await.unwrap();
    journal.append(&[append(&b, 2..=2)]).await.unwrap();
    let feed = whole_feed(journal).await;
    assert_eq!(
        summary(&feed),
        [(1, a.clone(), 1, 3), (2, b.clone(), 1, 1), (3, c.clone(), 1, 2), (4, a.clone(), 4, 70), (5, b.clone(), 2, 2),]
    );
    assert_eq!(feed[3].events, events(4..=70), "every event of the position, bodies intact");
    assert!(feed.iter().all(|batch| batch.committed_at_ms > 1_700_000_000_000 && batch.fence_token.is_none()));
    assert_eq!(journal.feed_head().await.unwrap(), 5);
}

async fn pages_resume_after_the_last_position(journal: &impl Journal, _: &Raw) {
    // 70 streams in one append: more ranges than one events query holds.
    let streams: Vec<String> = (1..=70).map(|n| stream_id(&key(&format!("G{n}"), 2))).collect();
    let batch: Vec<StreamAppend> = streams.iter().map(|stream| append(stream, 1..=2)).collect();
    journal.append(&batch).await.unwrap();
    assert_eq!(whole_feed(journal).await.len(), 70);
    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = journal.read_feed(after, 16).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 16);
        after = page.last().unwrap().position;
        seen.extend(page);
    }
    assert_eq!(seen, whole_feed(journal).await);
    assert_eq!(seen.iter().map(|batch| batch.stream.clone()).collect::<Vec<_>>(), streams, "batch order");
    assert!(journal.read_feed(70, 10).await.unwrap().is_empty());
    assert!(journal.read_feed(1_000, 10).await.unwrap().is_empty());
}

async fn failed_and_fenced_appends_take_no_position(journal: &impl Journal, _: &Raw) {
    let a = key("G1", 1);
    let b = (2..200).map(|n| key(&format!("G{n}"), 1)).find(|other| slot_of(other) != slot_of(&a)).unwrap();
    let (sa, sb) = (stream_id(&a), stream_id(&b));
    journal.append(&[append(&sa, 1..=2)]).await.unwrap();
    // A gap fails the whole append: none of its positions remain.
    journal.append(&[append(&sb, 1..=1), append(&sa, 4..=4)]).await.unwrap_err();
    assert_eq!(journal.feed_head().await.unwrap(), 1);
    // A stale fence leaves its stream out, with no position.
    journal.advance_fences(&[SlotFence { slot: slot_of(&a), token: 9 }], "n2", 1).await.unwrap();
    journal.advance_fences(&[SlotFence { slot: slot_of(&b), token: 4 }], "n1", 1).await.unwrap();
    let fenced = |stream: &str, seqs, slot, token| StreamAppend {
        fence: Some(SlotFence { slot, token }),
        ..append(stream, seqs)
    };
    let outcome =
        journal.append(&[fenced(&sa, 3..=3, slot_of(&a), 8), fenced(&sb, 1..=1, slot_of(&b), 4)]).await.unwrap();
    assert_eq!(outcome.fenced.len(), 1);
    let feed = whole_feed(journal).await;
    assert_eq!(summary(&feed), [(1, sa.clone(), 1, 2), (2, sb.clone(), 1, 1)]);
    assert_eq!(feed[1].fence_token, Some(4));
    assert_eq!(journal.feed_head().await.unwrap(), 2);
}

/// Appends run from several tasks at once (MySQL runs them as concurrent
/// transactions) while a reader pages on from its last position. Under an
/// auto-increment id a late commit of a lower id would be skipped; here the
/// reader ends with every event exactly once, each stream in seq order.
async fn a_reader_following_concurrent_appends_misses_nothing(journal: &impl Journal, _: &Raw) {
    const WRITERS: u32 = 4;
    const APPENDS_EACH: u64 = 30;
    let writer = |n: u32| async move {
        let streams = [stream_id(&key(&format!("G{n}"), 3)), stream_id(&key(&format!("K{n}"), 3))];
        for round in 0..APPENDS_EACH {
            let seqs = round * 2 + 1..=round * 2 + 2;
            journal.append(&[append(&streams[0], seqs.clone()), append(&streams[1], seqs)]).await.unwrap();
        }
    };
    let writers = async {
        tokio::join!(writer(1), writer(2), writer(3), writer(4));
    };
    let reader = async {
        let mut after = 0;
        let mut seen: Vec<FeedBatch> = Vec::new();
        let total = u64::from(WRITERS) * APPENDS_EACH * 2;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        while after < total && tokio::time::Instant::now() < deadline {
            let page = journal.read_feed(after, 7).await.unwrap();
            for batch in page {
                assert_eq!(batch.position, after + 1, "positions arrive with no gap");
                after = batch.position;
                seen.push(batch);
            }
            tokio::task::yield_now().await;
        }
        seen
    };
    let ((), seen) = tokio::join!(writers, reader);
    let mut per_stream: BTreeMap<String, Vec<StoredEvent>> = BTreeMap::new();
    for batch in seen {
        per_stream.entry(batch.stream).or_default().extend(batch.events);
    }
    assert_eq!(per_stream.len(), 2 * WRITERS as usize);
    for (stream, stored) in per_stream {
        assert_eq!(stored, events(1..=APPENDS_EACH * 2), "{stream}: every event once, in seq order");
    }
}

/// Migrations 0005 and 0006 on a journal written before them: each stream's history
/// gets positions (per fence token, in seq order), the clock starts after
/// them, and new appends continue from there.
async fn backfill_feeds_history(journal: impl Journal, raw: Raw) {
    let feed = whole_feed(&journal).await;
    assert_eq!(
        summary(&feed),
        [
            (1, "2026-12-01/G1".to_owned(), 1, 3),
            (2, "2026-12-01/G1".to_owned(), 4, 5),
            (3, "2026-12-02/G1".to_owned(), 1, 1),
        ]
    );
    assert_eq!((feed[0].fence_token, feed[1].fence_token, feed[0].committed_at_ms), (None, Some(7), 0));
    assert_eq!(feed[0].events[2].body, r#"{"type":"sales_closed","at_ms":3}"#);
    assert_eq!(journal.feed_head().await.unwrap(), 3);
    journal.append(&[append("2026-12-02/G1", 2..=2)]).await.unwrap();
    assert_eq!(summary(&journal.read_feed(3, 10).await.unwrap()), [(4, "2026-12-02/G1".to_owned(), 2, 2)]);
    assert_eq!(raw.count("SELECT COUNT(*) FROM feed_commits").await, 4);
}

/// Rows a pre-0005 journal holds: two streams, one of them partly written
/// under a fence token.
const PRE_FEED_EVENTS: &str = "INSERT INTO events (train_date, seq, kind, version, body, fence_token) VALUES \
     ('2026-12-02/G1', 1, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":1}', NULL), \
     ('2026-12-01/G1', 1, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":1}', NULL), \
     ('2026-12-01/G1', 2, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":2}', NULL), \
     ('2026-12-01/G1', 3, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":3}', NULL), \
     ('2026-12-01/G1', 4, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":4}', 7), \
     ('2026-12-01/G1', 5, 'sales_closed', 1, '{\"type\":\"sales_closed\",\"at_ms\":5}', 7)";

fn before_feed(mut migrator: sqlx::migrate::Migrator) -> sqlx::migrate::Migrator {
    let earlier: Vec<_> = migrator.migrations.iter().filter(|migration| migration.version < 5).cloned().collect();
    migrator.migrations = earlier.into();
    migrator
}

mod backfill {
    use super::*;
    use seat_persistence::mysql::MySqlJournal;
    use seat_persistence::sqlite::SqliteJournal;

    #[tokio::test]
    async fn sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.db");
        let url = format!("sqlite://{}?mode=rwc", path.display());
        let raw = sqlx::sqlite::SqlitePool::connect(&url).await.unwrap();
        before_feed(sqlx::migrate!("./migrations/sqlite")).run(&raw).await.unwrap();
        sqlx::query(PRE_FEED_EVENTS).execute(&raw).await.unwrap();
        let journal = SqliteJournal::open(&path).await.expect("journal opens and migrates");
        backfill_feeds_history(journal, Raw::Sqlite(raw)).await;
    }

    #[tokio::test]
    async fn mysql() {
        let Some(db) = support::MySqlTestDb::create("feed_backfill").await else { return };
        let url = db.url.clone();
        let outcome = tokio::spawn(async move {
            let raw = sqlx::mysql::MySqlPool::connect(&url).await.unwrap();
            before_feed(sqlx::migrate!("./migrations/mysql")).run(&raw).await.unwrap();
            sqlx::query(PRE_FEED_EVENTS).execute(&raw).await.unwrap();
            let journal = MySqlJournal::connect(&url).await.expect("journal connects and migrates");
            backfill_feeds_history(journal, Raw::MySql(raw)).await;
        })
        .await;
        db.drop().await;
        if let Err(error) = outcome {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}
