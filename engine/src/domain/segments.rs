//! Segment bit arithmetic: a journey from stop `from` to stop `to` takes
//! segments `from..to`, bit k of a seat's mask being segment k.

/// Bits of segments `from..to`. `to - from` is at most 63 because a train has
/// at most 64 stops.
#[inline]
pub fn journey_bits(from: usize, to: usize) -> u64 {
    debug_assert!(from < to && to < 64, "journey {from}..{to} out of range");
    ((1u64 << (to - from)) - 1) << from
}

/// The free run of stops around a journey on a seat whose mask leaves the
/// journey free: the widest `[start, end]` of stops the seat could sell as one
/// ticket that contains `from..to`.
#[inline]
pub fn free_run(mask: u64, from: usize, to: usize, last_stop: usize) -> (usize, usize) {
    let below = mask & ((1u64 << from) - 1);
    let start = if below == 0 { 0 } else { 64 - below.leading_zeros() as usize };
    let above = mask >> to;
    let end = if above == 0 { last_stop } else { to + above.trailing_zeros() as usize };
    (start, end)
}

/// Number of (from, to) pairs on a train with `stop_count` stops.
#[inline]
pub fn pair_count(stop_count: usize) -> usize {
    stop_count * (stop_count - 1) / 2
}

/// Position of the pair (from, to) in a row-major upper-triangular table.
#[inline]
pub fn pair_index(stop_count: usize, from: usize, to: usize) -> usize {
    debug_assert!(from < to && to < stop_count);
    from * (2 * stop_count - from - 1) / 2 + (to - from - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_index_is_dense_and_ordered() {
        for stop_count in 2..=64 {
            let mut expected = 0;
            for from in 0..stop_count {
                for to in from + 1..stop_count {
                    assert_eq!(pair_index(stop_count, from, to), expected);
                    expected += 1;
                }
            }
            assert_eq!(expected, pair_count(stop_count));
        }
    }

    #[test]
    fn free_run_stops_at_neighbouring_taken_segments() {
        // stops 0..=10; segments 1 and 7 taken
        let mask = (1 << 1) | (1 << 7);
        assert_eq!(free_run(mask, 3, 5, 10), (2, 7));
        assert_eq!(free_run(0, 3, 5, 10), (0, 10));
        assert_eq!(free_run(mask, 8, 10, 10), (8, 10));
    }

    #[test]
    fn journey_bits_cover_the_longest_route() {
        assert_eq!(journey_bits(0, 63), u64::MAX >> 1);
        assert_eq!(journey_bits(2, 4), 0b1100);
    }
}
