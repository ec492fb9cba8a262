//! The seats and stops of one train-date, in the flat form both baselines store.

use engine::domain::plan::TrainPlan;
use engine::domain::seat_class::SeatClass;
use engine::domain::timetable::TrainTemplate;

/// Most stops a MySQL baseline train may have: `sold_mask` is a BIGINT
/// UNSIGNED, one bit per segment, and the engine's own limit is the same.
pub const STOPS_MAX: usize = 64;

/// One seat as both baselines store it; its seat id is its position in
/// [`Layout::seats`], the engine's seat index for the same template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeatSpec {
    /// Seat class; one carriage carries one class.
    pub class: SeatClass,
    /// 1-based carriage number, printed on the ticket.
    pub carriage: u8,
    /// `12F`-style seat code within the carriage, printed on the ticket.
    pub code: String,
}

/// Seats and stop count of a train, so a baseline can open train-dates of
/// any composition, not just the benchmark's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    stop_count: usize,
    seats: Vec<SeatSpec>,
    classes: Vec<SeatClass>,
}

impl Layout {
    /// The layout of a timetable template, seats numbered as the engine numbers
    /// them (carriage, row, letter), so a seat id means the same seat in both.
    pub fn from_template(template: &TrainTemplate) -> Self {
        let plan = TrainPlan::new(template.clone());
        let seats = (0..plan.seat_count())
            .map(|seat| SeatSpec {
                class: plan.seat_class(seat),
                carriage: plan.position(seat).carriage,
                code: plan.seat_code(seat),
            })
            .collect();
        let layout = Layout { stop_count: plan.stop_count(), seats, classes: plan.classes().to_vec() };
        assert!((2..=STOPS_MAX).contains(&layout.stop_count), "a train needs 2 to {STOPS_MAX} stops");
        layout
    }

    /// The benchmark train (16 cars, 1,193 seats, as in `seat_benches::fixtures`)
    /// calling at its first `stop_count` stops, so the load driver can match the
    /// engine benchmarks (24 stops) or the shorter demo trains.
    pub fn sixteen_car(stop_count: usize) -> Self {
        let mut template = seat_benches::fixtures::sixteen_car_train("G1");
        assert!(
            (2..=template.stops.len()).contains(&stop_count),
            "the benchmark train has 2 to {} stops",
            template.stops.len()
        );
        template.stops.truncate(stop_count);
        if let Some(last) = template.stops.last_mut() {
            last.depart_minutes = None;
        }
        Layout::from_template(&template)
    }

    /// Stops the train calls at; journeys run between stop indexes `0..stop_count`.
    pub fn stop_count(&self) -> usize {
        self.stop_count
    }

    /// Index of the terminus, the end of every free run.
    pub fn last_stop(&self) -> usize {
        self.stop_count - 1
    }

    /// Every seat, indexed by seat id.
    pub fn seats(&self) -> &[SeatSpec] {
        &self.seats
    }

    /// The classes this train carries, in `SeatClass` order.
    pub fn classes(&self) -> &[SeatClass] {
        &self.classes
    }

    /// Seat ids of one class in seat-id order: the scan order of first-fit in
    /// both baselines, and the Redis baseline's class-local index order.
    pub fn class_seats(&self, class: SeatClass) -> Vec<u32> {
        (0..self.seats.len() as u32).filter(|seat| self.seats[*seat as usize].class == class).collect()
    }
}

/// The stored code of a seat class (its position in `SeatClass::ALL`), a
/// TINYINT in MySQL and part of key names in Redis.
pub fn class_code(class: SeatClass) -> u8 {
    SeatClass::ALL.iter().position(|c| *c == class).expect("every class is in ALL") as u8
}

/// The class a stored code names, if any.
pub fn class_from_code(code: u8) -> Option<SeatClass> {
    SeatClass::ALL.get(usize::from(code)).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_car_matches_the_bench_fixture() {
        let layout = Layout::sixteen_car(24);
        assert_eq!(layout.seats().len(), 1193);
        assert_eq!(layout.class_seats(SeatClass::Business).len(), 15);
        assert_eq!(layout.class_seats(SeatClass::First).len(), 168);
        assert_eq!(layout.class_seats(SeatClass::Second).len(), 1010);
        assert_eq!(layout.seats()[0].code, "01A");
        assert_eq!(Layout::sixteen_car(4).stop_count(), 4);
    }

    #[test]
    fn class_codes_round_trip() {
        for class in SeatClass::ALL {
            assert_eq!(class_from_code(class_code(class)), Some(class));
        }
        assert_eq!(class_from_code(9), None);
    }
}
