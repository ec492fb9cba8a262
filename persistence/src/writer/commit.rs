//! Committing one batch: the append with retries for transient errors.

use super::WriterConfig;
use super::batch::Batch;
use crate::journal::{AppendOutcome, Journal, JournalError, StreamAppend};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::warn;

/// A batch back from the database, with what became of it.
pub(super) struct Committed {
    pub(super) batch: Batch,
    pub(super) result: Result<AppendOutcome, JournalError>,
    pub(super) elapsed: Duration,
}

/// Writes `batch` and hands it back; run as its own task so several batches
/// for disjoint train-dates can be in the database at once.
pub(super) async fn commit<J: Journal>(journal: Arc<J>, mut batch: Batch, config: WriterConfig) -> Committed {
    let appends = batch.take_appends();
    let started = Instant::now();
    let result = append_with_retries(&*journal, &appends, &config).await;
    Committed { batch, result, elapsed: started.elapsed() }
}

async fn append_with_retries<J: Journal>(
    journal: &J,
    appends: &[StreamAppend],
    config: &WriterConfig,
) -> Result<AppendOutcome, JournalError> {
    let mut backoff = config.retry_backoff;
    let mut attempt = 1;
    loop {
        match journal.append(appends).await {
            Ok(outcome) => return Ok(outcome),
            // Sequence and constraint errors will not go away by retrying; the rebuild sorts them out.
            Err(error) if error.is_permanent() => return Err(error),
            Err(error) if attempt >= config.commit_attempts.max(1) => return Err(error),
            Err(error) => {
                warn!(attempt, %error, "journal append failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}
