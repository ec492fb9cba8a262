-- One feed row per committed append instead of one per stream (see the
-- MySQL migration of the same name for why and for the `spans` format).
-- One-way: each feed_log row becomes a one-position row, then feed_log goes.
CREATE TABLE feed_commits (
    last_position   INTEGER NOT NULL PRIMARY KEY,
    first_position  INTEGER NOT NULL,
    committed_at_ms INTEGER NOT NULL,
    spans           TEXT NOT NULL
);

INSERT INTO feed_commits (last_position, first_position, committed_at_ms, spans)
SELECT position, position, committed_at_ms,
       train_date || ' ' || first_seq || ' ' || last_seq || ' ' || COALESCE(CAST(fence_token AS TEXT), '-')
FROM feed_log;

DROP TABLE feed_log;
