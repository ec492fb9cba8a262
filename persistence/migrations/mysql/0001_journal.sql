-- Timetable, open train-dates, the event journal, snapshots and the order index.

CREATE TABLE stations (
    code   VARCHAR(8) NOT NULL PRIMARY KEY,
    name   VARCHAR(64) NOT NULL,
    pinyin VARCHAR(64) NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE trains (
    code          VARCHAR(8) NOT NULL PRIMARY KEY,
    updated_at_ms BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE train_stops (
    train          VARCHAR(8) NOT NULL,
    stop_index     SMALLINT UNSIGNED NOT NULL,
    station        VARCHAR(8) NOT NULL,
    arrive_minutes INT UNSIGNED NULL,
    depart_minutes INT UNSIGNED NULL,
    distance_km    INT UNSIGNED NOT NULL,
    PRIMARY KEY (train, stop_index)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE train_carriages (
    train     VARCHAR(8) NOT NULL,
    number    SMALLINT UNSIGNED NOT NULL,
    class     VARCHAR(16) NOT NULL,
    seat_rows SMALLINT UNSIGNED NOT NULL,
    letters   VARCHAR(8) NOT NULL,
    PRIMARY KEY (train, number)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per open train-date; `template` is the JSON TrainTemplate frozen
-- when it opened, so later template edits never change it.
CREATE TABLE train_dates (
    train_date   VARCHAR(24) NOT NULL PRIMARY KEY,
    train        VARCHAR(8) NOT NULL,
    service_date DATE NOT NULL,
    template     MEDIUMTEXT NOT NULL,
    opened_at_ms BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The journal. The primary key makes a duplicate append fail; appends also
-- check that each stream continues from its last seq.
CREATE TABLE events (
    train_date VARCHAR(24) NOT NULL,
    seq        BIGINT UNSIGNED NOT NULL,
    kind       VARCHAR(32) NOT NULL,
    version    SMALLINT UNSIGNED NOT NULL,
    body       MEDIUMTEXT NOT NULL,
    PRIMARY KEY (train_date, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE snapshots (
    train_date VARCHAR(24) NOT NULL,
    seq        BIGINT UNSIGNED NOT NULL,
    version    SMALLINT UNSIGNED NOT NULL,
    body       LONGTEXT NOT NULL,
    PRIMARY KEY (train_date, seq)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Order id → train-date, and the per-train-date idempotency key, so both
-- survive restarts without replaying every stream.
CREATE TABLE orders (
    order_id   CHAR(36) NOT NULL PRIMARY KEY,
    train_date VARCHAR(24) NOT NULL,
    user_id    VARCHAR(64) NOT NULL,
    request_id VARCHAR(64) NOT NULL,
    seq        BIGINT UNSIGNED NOT NULL,
    UNIQUE KEY orders_by_request (train_date, user_id, request_id),
    KEY orders_by_user (user_id, order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
