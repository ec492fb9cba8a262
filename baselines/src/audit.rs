//! The baselines' side of the shared end-of-run audit ([`seat_audit`]): the
//! stored-state types as the baselines fill them, and the lookup of their
//! acknowledged orders. The checks themselves (no seat segment sold twice,
//! every seat's mask equal to its live tickets, every remaining count equal
//! to a recount from the masks, every acknowledged order stored) are
//! `seat_audit`'s, the same code seatbench and the crash tests run.
//!
//! Every target reads its state out and hands it here.

use crate::model::{AckedOrder, OrderStatus};
use std::collections::HashMap;

pub use seat_audit::{AuditReport, PROBLEMS_LISTED_MAX};

/// One seat as stored: seat id (the Redis baseline uses class code × 65,536
/// + class-local index), class code (`layout::class_code`), taken segments.
pub type StoredSeat = seat_audit::StoredSeat<u32, u8>;

/// One live ticket (its order not cancelled) as stored: order number, seat
/// id as in [`StoredSeat`], boarding and alighting stop.
pub type StoredTicket = seat_audit::StoredTicket<u32, u64>;

/// Checks every acknowledged order is stored with the state last
/// acknowledged; `stored` maps (train-date, order number) to its stored state.
pub fn check_acked(report: &mut AuditReport, stored: &HashMap<(String, u64), OrderStatus>, acked: &[AckedOrder]) {
    for order in acked {
        let found = stored.get(&(order.train_date.clone(), order.order_id));
        report.check_acknowledged(format!("{} order {}", order.train_date, order.order_id), &[order.status], found);
    }
}
