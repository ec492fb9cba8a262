-- Each distinct train template is stored once, keyed by the SHA-256 of its
-- JSON; a train-date names its template by hash instead of repeating ~2 KB in
-- every row (210,000 open train-dates share about 14,000 templates). Rows
-- written before this keep their template inline, with template_hash NULL.
CREATE TABLE train_templates (
    template_hash TEXT PRIMARY KEY NOT NULL,
    body          TEXT NOT NULL
);
ALTER TABLE train_dates ADD COLUMN template_hash TEXT NULL;
