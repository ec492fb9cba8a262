-- The event feed: a commit-ordered position for every stream's share of an
-- append (see the MySQL migration of the same name for why a position is
-- handed out by the one `feed_clock` row as the last write before COMMIT,
-- and not by an auto-increment id). SQLite has one writer at a time, so
-- commit order is already serial; it keeps the same schema so both backends
-- share one journal body and one conformance suite.
--
-- Backfill: a journal written before this migration gets one feed_log row per
-- stream and fence token, in (train_date, seq) order, and the clock starts
-- after them, so its whole history is in the feed. Their commit instant is
-- unknown and stored as 0.
CREATE TABLE feed_clock (
    id       INTEGER NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE feed_log (
    position        INTEGER NOT NULL PRIMARY KEY,
    train_date      TEXT NOT NULL,
    first_seq       INTEGER NOT NULL,
    last_seq        INTEGER NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    fence_token     INTEGER NULL
);

INSERT INTO feed_log (position, train_date, first_seq, last_seq, committed_at_ms, fence_token)
SELECT ROW_NUMBER() OVER (ORDER BY train_date, MIN(seq)), train_date, MIN(seq), MAX(seq), 0, fence_token
FROM events
GROUP BY train_date, fence_token;

INSERT INTO feed_clock (id, position) SELECT 1, COUNT(*) FROM feed_log;
