-- The event feed: a commit-ordered position for every stream's share of an
-- append, so consumers (StreamEvents, the NATS relay) read committed events
-- in one global order and resume from a number.
--
-- Why not an auto-increment id on events: ids are handed out when a row is
-- inserted, but up to four appends are in flight at once, so id 11 can commit
-- before id 10. A reader that saw 11 and moved on would skip 10 for ever.
--
-- Instead each append, as its last statements before COMMIT, raises the one
-- `feed_clock` row by the number of streams it commits and writes one
-- `feed_log` row per stream under the new positions. The clock row's
-- exclusive lock is held from that update to COMMIT, so the next append gets
-- its positions only after this one has committed: positions are handed out
-- in commit order, a reader that sees position N+1 also sees N, and a rolled
-- back append rolls back its positions too, leaving no gap. The lock is held
-- for one insert and the commit only, since every other write of the append
-- comes before it. The clock lives in the database, so positions are global
-- across cluster nodes and survive a train-date moving to another node.
--
-- Backfill: a journal written before this migration gets one feed_log row per
-- stream and fence token, in (train_date, seq) order, and the clock starts
-- after them, so its whole history is in the feed. Their commit instant is
-- unknown and stored as 0. This reads every event once.
CREATE TABLE feed_clock (
    id       TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    position BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per stream per committed append: the stream's events
-- first_seq..=last_seq took this position.
CREATE TABLE feed_log (
    position        BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    train_date      VARCHAR(24) NOT NULL,
    first_seq       BIGINT UNSIGNED NOT NULL,
    last_seq        BIGINT UNSIGNED NOT NULL,
    committed_at_ms BIGINT UNSIGNED NOT NULL,
    fence_token     BIGINT UNSIGNED NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO feed_log (position, train_date, first_seq, last_seq, committed_at_ms, fence_token)
SELECT ROW_NUMBER() OVER (ORDER BY train_date, MIN(seq)), train_date, MIN(seq), MAX(seq), 0, fence_token
FROM events
GROUP BY train_date, fence_token;

INSERT INTO feed_clock (id, position) SELECT 1, COUNT(*) FROM feed_log;
