-- Timetable, open train-dates, the event journal, snapshots and the order index.

CREATE TABLE stations (
    code   TEXT PRIMARY KEY NOT NULL,
    name   TEXT NOT NULL,
    pinyin TEXT NOT NULL
);

CREATE TABLE trains (
    code          TEXT PRIMARY KEY NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

CREATE TABLE train_stops (
    train          TEXT NOT NULL REFERENCES trains(code),
    stop_index     INTEGER NOT NULL,
    station        TEXT NOT NULL,
    arrive_minutes INTEGER,
    depart_minutes INTEGER,
    distance_km    INTEGER NOT NULL,
    PRIMARY KEY (train, stop_index)
);

CREATE TABLE train_carriages (
    train   TEXT NOT NULL REFERENCES trains(code),
    number  INTEGER NOT NULL,
    class   TEXT NOT NULL,
    seat_rows INTEGER NOT NULL,
    letters TEXT NOT NULL,
    PRIMARY KEY (train, number)
);

-- One row per open train-date; `template` is the JSON TrainTemplate frozen
-- when it opened, so later template edits never change it.
CREATE TABLE train_dates (
    train_date   TEXT PRIMARY KEY NOT NULL,
    train        TEXT NOT NULL,
    service_date TEXT NOT NULL,
    template     TEXT NOT NULL,
    opened_at_ms INTEGER NOT NULL
);

-- The journal. The primary key makes a duplicate append fail; appends also
-- check that each stream continues from its last seq.
CREATE TABLE events (
    train_date     TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    kind           TEXT NOT NULL,
    version        INTEGER NOT NULL,
    body           TEXT NOT NULL,
    PRIMARY KEY (train_date, seq)
) WITHOUT ROWID;

CREATE TABLE snapshots (
    train_date TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (train_date, seq)
);

-- Order id → train-date, and the per-train-date idempotency key, so both
-- survive restarts without replaying every stream.
CREATE TABLE orders (
    order_id   TEXT PRIMARY KEY NOT NULL,
    train_date TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    request_id TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    UNIQUE (train_date, user_id, request_id)
);
CREATE INDEX orders_by_user ON orders (user_id, order_id);
