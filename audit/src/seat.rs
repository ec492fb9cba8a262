//! Seats as the booking API names and maps them, for callers that read a
//! train-date back over gRPC rather than by stored seat ids.

use crate::train_date::StoredSeat;
use std::fmt;

/// A seat by carriage and `12F`-style code, unique within a train-date.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CarriageSeat {
    /// 1-based carriage number.
    pub carriage: u32,
    /// Row and letter within the carriage, as tickets print it (`01A`).
    pub seat: String,
}

impl fmt::Display for CarriageSeat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.carriage, self.seat)
    }
}

/// One carriage's seat map for one segment, as the booking API returns it.
pub struct SeatMapSegment<'a, Class, Rows> {
    /// 1-based carriage number.
    pub carriage: u32,
    /// The carriage's class.
    pub class: Class,
    /// Column letters in seating order (`ABCDF`).
    pub letters: &'a str,
    /// (1-based row number, free flag per letter) front to back.
    pub rows: Rows,
    /// The segment mapped: from stop `segment` to the next.
    pub segment: usize,
}

/// Adds a carriage's seat map for one segment to `seats`, whose entries from
/// `first_seat` on are that carriage's: the first map read of a carriage adds
/// its seats (named as tickets name them), and every map sets its segment's
/// bit on the seats it shows taken. Reading each segment of each carriage
/// gives every seat's taken segments.
pub fn add_seat_map_segment<'a, Class, Rows>(
    seats: &mut Vec<StoredSeat<CarriageSeat, Class>>,
    first_seat: usize,
    map: SeatMapSegment<'a, Class, Rows>,
) where
    Class: Copy,
    Rows: IntoIterator<Item = (u32, &'a [bool])>,
{
    let letters: Vec<char> = map.letters.chars().collect();
    let mut index = first_seat;
    for (row, free) in map.rows {
        for (letter, free) in letters.iter().zip(free) {
            if index == seats.len() {
                let seat = CarriageSeat { carriage: map.carriage, seat: format!("{row:02}{letter}") };
                seats.push(StoredSeat { seat, class: map.class, mask: 0 });
            }
            if !free {
                seats[index].mask |= 1 << map.segment;
            }
            index += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_maps_build_seats_and_masks() {
        let mut seats = Vec::new();
        let rows: [(u32, &[bool]); 2] = [(1, &[true, false]), (2, &[true, true])];
        add_seat_map_segment(&mut seats, 0, SeatMapSegment { carriage: 3, class: 2, letters: "AF", rows, segment: 0 });
        let rows: [(u32, &[bool]); 2] = [(1, &[false, true]), (2, &[true, true])];
        add_seat_map_segment(&mut seats, 0, SeatMapSegment { carriage: 3, class: 2, letters: "AF", rows, segment: 1 });
        let named: Vec<(String, u64)> = seats.iter().map(|seat| (seat.seat.to_string(), seat.mask)).collect();
        let expected = [("3/01A", 0b10), ("3/01F", 0b01), ("3/02A", 0), ("3/02F", 0)];
        assert_eq!(named, expected.map(|(seat, mask)| (seat.to_owned(), mask)));
    }
}
