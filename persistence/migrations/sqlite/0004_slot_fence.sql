-- Cluster fencing (see the MySQL migration of the same name). SQLite never
-- runs a cluster, but keeps the same schema so both backends share one
-- journal body and one conformance suite.
CREATE TABLE slot_fence (
    slot          INTEGER NOT NULL PRIMARY KEY,
    token         INTEGER NOT NULL,
    owner         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
ALTER TABLE events ADD COLUMN fence_token INTEGER NULL;
