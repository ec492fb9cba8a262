-- Cluster fencing. Each slot's row holds the token (the etcd revision of the
-- claim) of the node that owns the slot now; it only ever rises. Every append
-- transaction takes a shared lock on the fence rows of the slots it writes and
-- commits only streams whose token is the one stored, so a node that lost its
-- slot can never commit again. A claim raises the row, waiting for appends
-- that already hold the lock. Single-node deployments leave the table empty.
CREATE TABLE slot_fence (
    slot          SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
    token         BIGINT UNSIGNED NOT NULL,
    owner         VARCHAR(64) NOT NULL,
    updated_at_ms BIGINT UNSIGNED NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
-- The token each event was committed under (NULL on a single node), so an
-- auditor can check that every commit carried its slot's current token.
ALTER TABLE events ADD COLUMN fence_token BIGINT UNSIGNED NULL;
