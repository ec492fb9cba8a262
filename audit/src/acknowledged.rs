//! Every acknowledged order is stored as acknowledged.

use crate::report::AuditReport;
use std::fmt::{Debug, Display};

impl AuditReport {
    /// Checks that one acknowledged order is stored in a state it may be in.
    ///
    /// `acknowledged` lists those states: usually the one last acknowledged,
    /// more when a later request was sent but never answered (the crash
    /// tests' confirm or cancel cut off by a kill). A state is whatever the
    /// caller can compare: a status, or a status with the order's tickets.
    /// `stored` is what the store holds, `None` if it has no such order.
    pub fn check_acknowledged<State: PartialEq + Debug>(
        &mut self,
        order: impl Display,
        acknowledged: &[State],
        stored: Option<&State>,
    ) {
        self.acked_orders += 1;
        let told = match acknowledged {
            [only] => format!("{only:?}"),
            several => format!("one of {several:?}"),
        };
        match stored {
            Some(state) if acknowledged.contains(state) => {}
            Some(state) => self.problem(format!("{order} acknowledged {told} but stored {state:?}")),
            None => self.problem(format!("{order} acknowledged {told} but not stored")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_as_acknowledged_passes() {
        let mut report = AuditReport::default();
        report.check_acknowledged("order 1", &["held"], Some(&"held"));
        report.check_acknowledged("order 2", &["held", "confirmed"], Some(&"confirmed"));
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.acked_orders, 2);
    }

    #[test]
    fn changed_and_missing_orders_are_caught() {
        let mut report = AuditReport::default();
        report.check_acknowledged("order 1", &["held"], Some(&"cancelled"));
        report.check_acknowledged("order 2", &["held", "confirmed"], None);
        assert_eq!(
            report.problems,
            [
                "order 1 acknowledged \"held\" but stored \"cancelled\"",
                "order 2 acknowledged one of [\"held\", \"confirmed\"] but not stored"
            ]
        );
    }
}
