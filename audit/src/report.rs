//! What the audit checked and what it found.

use serde::Serialize;

/// Problems listed in full; beyond this only the count grows, so a badly
/// broken store cannot flood the report.
pub const PROBLEMS_LISTED_MAX: usize = 50;

/// What the audit found; `ok()` is the pass/fail a caller's exit code or
/// assertion follows. The checks are its methods (see `train_date` and
/// `acknowledged`), so every caller fills the same report.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditReport {
    /// Train-dates checked.
    pub train_dates: u64,
    /// Seats checked.
    pub seats: u64,
    /// Live tickets checked for overlap.
    pub live_tickets: u64,
    /// Remaining counts compared with a recount.
    pub counts: u64,
    /// Acknowledged orders looked up.
    pub acked_orders: u64,
    /// Every problem found.
    pub problem_count: u64,
    /// The first [`PROBLEMS_LISTED_MAX`] problems.
    pub problems: Vec<String>,
}

impl AuditReport {
    /// True when nothing was wrong.
    pub fn ok(&self) -> bool {
        self.problem_count == 0
    }

    /// Records a problem: the checks call this, and so may a caller for what
    /// only it can see (a read that failed, a retry that was not idempotent).
    pub fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_LISTED_MAX {
            self.problems.push(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_past_the_limit_are_counted_not_listed() {
        let mut report = AuditReport::default();
        assert!(report.ok());
        for index in 0..PROBLEMS_LISTED_MAX + 3 {
            report.problem(format!("problem {index}"));
        }
        assert!(!report.ok());
        assert_eq!(report.problem_count, PROBLEMS_LISTED_MAX as u64 + 3);
        assert_eq!(report.problems.len(), PROBLEMS_LISTED_MAX);
    }
}
