-- Each distinct train template is stored once, keyed by the SHA-256 of its
-- JSON; a train-date names its template by hash instead of repeating ~2 KB in
-- every row (210,000 open train-dates share about 14,000 templates). Rows
-- written before this keep their template inline, with template_hash NULL.
CREATE TABLE train_templates (
    template_hash CHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    body          MEDIUMTEXT NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
ALTER TABLE train_dates ADD COLUMN template_hash CHAR(64) CHARACTER SET ascii NULL;
