//! Waitlist (候补), ticket change (改签) and refund rules: every limit a
//! named setting with the published default, and the pure rules that read them.

use super::fees::FeeTable;
use super::state::{service_date_of, service_day_start_ms};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

const MINUTE_MS: u64 = 60_000;
const HOUR_MS: u64 = 60 * MINUTE_MS;

/// Every rule a train-date and a waitlist request read when they decide.
/// Decisions record the fees and deadlines they computed, so changing a
/// setting never changes what replay rebuilds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketRules {
    pub waitlist: WaitlistSettings,
    pub change: ChangeSettings,
    /// Fee on a refund of a paid ticket.
    pub refund_fees: FeeTable,
}

/// Limits of 候补 at launch (Spring Festival 2019); 12306 has raised them since.
/// seatd reads them from its `[waitlist]` table; a key left out keeps its default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaitlistSettings {
    /// Departure dates one request may name (adjacent dates).
    pub dates_per_request_max: usize,
    /// (train, class) choices per date.
    pub choices_per_date_max: usize,
    /// Passengers on one request.
    pub passengers_max: usize,
    /// Requests a user may have open (submitted or active, not yet ended).
    pub open_requests_per_user_max: usize,
    /// Choices one (train-date, class) queue holds, waiting or reserved: the
    /// queue lives in the train-date's memory and snapshots. A seat release
    /// reads the queue's fit groups, not every choice (`decide::serve`).
    pub queue_per_class_max: usize,
    pub deadline: WaitlistDeadline,
}

impl Default for WaitlistSettings {
    fn default() -> Self {
        WaitlistSettings {
            dates_per_request_max: 2,
            choices_per_date_max: 2,
            passengers_max: 3,
            open_requests_per_user_max: 1,
            queue_per_class_max: 10_000,
            deadline: WaitlistDeadline::default(),
        }
    }
}

impl WaitlistSettings {
    /// Settings the waitlist can run with: every limit at least 1, a party
    /// no larger than an order, a request's choices numbered in a byte,
    /// cut-off times within the day.
    pub fn check(&self) -> Result<(), String> {
        let limits = [
            ("dates_per_request_max", self.dates_per_request_max),
            ("choices_per_date_max", self.choices_per_date_max),
            ("open_requests_per_user_max", self.open_requests_per_user_max),
            ("queue_per_class_max", self.queue_per_class_max),
        ];
        if let Some((name, _)) = limits.iter().find(|(_, value)| *value == 0) {
            return Err(format!("waitlist.{name} must be at least 1"));
        }
        let order_max = super::command::PASSENGERS_PER_ORDER_MAX;
        if !(1..=order_max).contains(&self.passengers_max) {
            return Err(format!(
                "waitlist.passengers_max {}: from 1 to {order_max}, the most one order seats",
                self.passengers_max
            ));
        }
        if self.dates_per_request_max.saturating_mul(self.choices_per_date_max) > usize::from(u8::MAX) {
            return Err(
                "waitlist: dates_per_request_max × choices_per_date_max at most 255 (choices are numbered in a byte)"
                    .into(),
            );
        }
        let day_minutes = 24 * 60;
        let deadline = &self.deadline;
        if deadline.close_at_minutes >= day_minutes || deadline.early_departure_before_minutes >= day_minutes {
            return Err("waitlist.deadline: close_at_minutes and early_departure_before_minutes below 1440".into());
        }
        Ok(())
    }
}

/// The latest cut-off a request may pick: at `close_at_minutes` (service
/// time, UTC+8) some days before the departure from the boarding station.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WaitlistDeadline {
    /// Departures before this time of day (minutes after midnight) count as early.
    pub early_departure_before_minutes: u32,
    /// Cut-off time of day, minutes after midnight.
    pub close_at_minutes: u32,
    /// Days before the departure date an early departure closes.
    pub early_days_before: u32,
    /// Days before the departure date any other departure closes.
    pub days_before: u32,
}

impl Default for WaitlistDeadline {
    /// 00:00–05:59 departures close at 19:00 two days before, others at 19:00 the day before.
    fn default() -> Self {
        WaitlistDeadline {
            early_departure_before_minutes: 6 * 60,
            close_at_minutes: 19 * 60,
            early_days_before: 2,
            days_before: 1,
        }
    }
}

impl WaitlistDeadline {
    /// Unix ms of the latest cut-off for a departure at `departure_ms`.
    pub fn latest_ms(&self, departure_ms: u64) -> u64 {
        let departure_date = service_date_of(departure_ms);
        let minute_of_day = (departure_ms - service_day_start_ms(departure_date)) / MINUTE_MS;
        let days_before = if minute_of_day < u64::from(self.early_departure_before_minutes) {
            self.early_days_before
        } else {
            self.days_before
        };
        let close_date = departure_date - Duration::days(i64::from(days_before));
        service_day_start_ms(close_date) + u64::from(self.close_at_minutes) * MINUTE_MS
    }
}

/// Rules of 改签 since 2024-01-15.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeSettings {
    /// Changes one ticket may go through.
    pub changes_per_ticket_max: u32,
    /// Whether a ticket born of a change of destination (变更到站) may change again.
    pub change_after_destination_change: bool,
    /// Days ahead the target train may run: the presale window.
    pub presale_days: u32,
    /// After departure a ticket may still change, to a train of the same day only.
    pub after_departure_same_day_only: bool,
    /// A change to a later date this close to departure (or after it) pays the tier fee.
    pub later_date_fee_within_ms: u64,
    pub fees: FeeTable,
}

impl Default for ChangeSettings {
    fn default() -> Self {
        ChangeSettings {
            changes_per_ticket_max: 1,
            change_after_destination_change: false,
            presale_days: 15,
            after_departure_same_day_only: true,
            later_date_fee_within_ms: 48 * HOUR_MS,
            fees: FeeTable::default(),
        }
    }
}

/// Why a change is refused by the window rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChangeWindow {
    /// The target date is past the presale window or before today.
    OutsidePresale,
    /// The ticket's train has left and the target is not on the same day.
    DepartedNotSameDay,
}

impl ChangeSettings {
    /// Whether a ticket leaving at `departure_ms` may change, at `now_ms`, to
    /// a train on `target_date`; the target's own departure is checked when
    /// its seats are taken.
    pub fn check_window(&self, departure_ms: u64, target_date: NaiveDate, now_ms: u64) -> Result<(), ChangeWindow> {
        let today = service_date_of(now_ms);
        if target_date < today || target_date > today + Duration::days(i64::from(self.presale_days)) {
            return Err(ChangeWindow::OutsidePresale);
        }
        let departed = now_ms >= departure_ms;
        if departed && self.after_departure_same_day_only && target_date != service_date_of(departure_ms) {
            return Err(ChangeWindow::DepartedNotSameDay);
        }
        Ok(())
    }

    /// The fee for changing a ticket of `fare_fen` leaving at `departure_ms`
    /// (on `ticket_date`) to a train on `target_date`, decided at `now_ms`:
    /// free to the same or an earlier date, or when far enough ahead;
    /// otherwise the tier fee.
    pub fn fee_fen(
        &self,
        fare_fen: u64,
        departure_ms: u64,
        ticket_date: NaiveDate,
        target_date: NaiveDate,
        now_ms: u64,
    ) -> u64 {
        let close = departure_ms.saturating_sub(now_ms) < self.later_date_fee_within_ms;
        if target_date > ticket_date && close { self.fees.fee_fen(fare_fen, departure_ms, now_ms) } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, day).expect("valid date")
    }

    /// Unix ms of `hour:minute` service time on 2025-03-`day`.
    fn at(day: u32, hour: u64, minute: u64) -> u64 {
        service_day_start_ms(date(day)) + hour * HOUR_MS + minute * MINUTE_MS
    }

    #[test]
    fn a_daytime_departure_closes_its_waitlist_at_19_the_day_before() {
        let deadline = WaitlistDeadline::default();
        assert_eq!(deadline.latest_ms(at(10, 6, 0)), at(9, 19, 0));
        assert_eq!(deadline.latest_ms(at(10, 23, 59)), at(9, 19, 0));
    }

    #[test]
    fn an_early_morning_departure_closes_at_19_two_days_before() {
        let deadline = WaitlistDeadline::default();
        assert_eq!(deadline.latest_ms(at(10, 0, 0)), at(8, 19, 0));
        assert_eq!(deadline.latest_ms(at(10, 5, 59)), at(8, 19, 0));
    }

    #[test]
    fn the_waitlist_limits_default_to_the_launch_figures() {
        let settings = WaitlistSettings::default();
        let limits = (
            settings.dates_per_request_max,
            settings.choices_per_date_max,
            settings.passengers_max,
            settings.open_requests_per_user_max,
        );
        assert_eq!(limits, (2, 2, 3, 1));
    }

    #[test]
    fn unworkable_waitlist_settings_are_refused_by_name() {
        assert_eq!(WaitlistSettings::default().check(), Ok(()));
        let refused = |settings: WaitlistSettings| settings.check().unwrap_err();
        assert!(
            refused(WaitlistSettings { queue_per_class_max: 0, ..Default::default() }).contains("queue_per_class_max")
        );
        assert!(refused(WaitlistSettings { passengers_max: 6, ..Default::default() }).contains("passengers_max"));
        let late = WaitlistDeadline { close_at_minutes: 24 * 60, ..Default::default() };
        assert!(refused(WaitlistSettings { deadline: late, ..Default::default() }).contains("close_at_minutes"));
    }

    #[test]
    fn before_departure_any_date_in_the_presale_window_is_open() {
        let change = ChangeSettings::default();
        let now = at(1, 8, 0);
        let departure = at(3, 9, 0);
        assert_eq!(change.check_window(departure, date(1), now), Ok(()));
        assert_eq!(change.check_window(departure, date(16), now), Ok(()));
        assert_eq!(change.check_window(departure, date(17), now), Err(ChangeWindow::OutsidePresale));
    }

    #[test]
    fn after_departure_only_the_same_day_is_open() {
        let change = ChangeSettings::default();
        let departure = at(3, 9, 0);
        let now = at(3, 10, 0);
        assert_eq!(change.check_window(departure, date(3), now), Ok(()));
        assert_eq!(change.check_window(departure, date(4), now), Err(ChangeWindow::DepartedNotSameDay));
        assert_eq!(change.check_window(departure, date(2), now), Err(ChangeWindow::OutsidePresale));
    }

    #[test]
    fn a_change_is_free_far_ahead_or_to_an_earlier_date_and_pays_the_tier_close_to_a_later_one() {
        let change = ChangeSettings::default();
        let departure = at(10, 9, 0);
        // given a 100-yuan ticket on the 10th
        let fee = |now, target| change.fee_fen(10_000, departure, date(10), date(target), now);
        // when changed three days ahead to a later date: free (the 48 h rule)
        assert_eq!(fee(at(7, 9, 0), 11), 0);
        // when changed 30 h ahead: to the same or an earlier date free, to a later one 10%
        assert_eq!(fee(at(9, 3, 0), 10), 0);
        assert_eq!(fee(at(9, 3, 0), 9), 0);
        assert_eq!(fee(at(9, 3, 0), 11), 1_000);
        // and after departure, to a later date: the last tier, 20%
        assert_eq!(fee(at(10, 10, 0), 11), 2_000);
    }
}
