-- Train-dates the presale scheduler retired after their run; recovery skips them.
ALTER TABLE train_dates ADD COLUMN archived_at_ms INTEGER NULL;
