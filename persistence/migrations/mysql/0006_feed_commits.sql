-- One feed row per committed append instead of one per stream.
--
-- 0005 wrote a feed_log row for every stream an append committed: on a
-- spread load that is about one more row per booking (A/B in BENCHMARKS.md,
-- "Event feed and NATS relay": rows written per write 1.58 -> 2.52). An
-- append still takes one position per stream from feed_clock, but records
-- them in one row: the range first_position..=last_position and, in
-- `spans`, one line per position in order, "train_date first_seq last_seq
-- fence_token" (fence_token "-" when none). Stream ids are
-- `YYYY-MM-DD/TRAIN`, with no space or newline.
--
-- One-way: each feed_log row becomes a one-position row, then feed_log goes.
CREATE TABLE feed_commits (
    last_position   BIGINT UNSIGNED NOT NULL PRIMARY KEY,
    first_position  BIGINT UNSIGNED NOT NULL,
    committed_at_ms BIGINT UNSIGNED NOT NULL,
    spans           MEDIUMTEXT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

INSERT INTO feed_commits (last_position, first_position, committed_at_ms, spans)
SELECT position, position, committed_at_ms,
       CONCAT(train_date, ' ', first_seq, ' ', last_seq, ' ', COALESCE(CAST(fence_token AS CHAR), '-'))
FROM feed_log;

DROP TABLE feed_log;
