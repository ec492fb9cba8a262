//! Allocation rules, one at a time, on hand-built inventories.
//!
//! Seats are named `carriage-rowLetter` (`2-01C`) so expectations read like tickets.

use super::{AllocationPolicy, Pick, SeatSearch, allocate_group, allocate_picks};
use crate::domain::inventory::SeatInventory;
use crate::domain::plan::{SeatIndex, TrainPlan};
use crate::domain::seat_class::SeatClass;

use AllocationPolicy::{FirstFit, TightestFit};
use SeatClass::{First, Second, SoftSleeper};

const POLICIES: [AllocationPolicy; 2] = [TightestFit, FirstFit];

use crate::test_fixtures::template;

/// A train-date's seats with some journeys already sold.
struct Given {
    plan: TrainPlan,
    inventory: SeatInventory,
}

impl Given {
    fn train(stop_count: usize, carriages: &[(SeatClass, u16, &str)]) -> Self {
        let plan = TrainPlan::new(template(stop_count, carriages));
        let inventory = SeatInventory::new(&plan);
        Given { plan, inventory }
    }

    /// `seat` is `carriage-rowLetter`, such as `1-01A`.
    fn seat(&self, seat: &str) -> SeatIndex {
        let (carriage, code) = seat.split_once('-').expect("seat names look like 1-01A");
        self.plan.parse_seat_code(carriage.parse().expect("carriage number"), code).expect("seat exists")
    }

    fn sold(mut self, seat: &str, from: usize, to: usize) -> Self {
        let index = self.seat(seat);
        self.inventory.take(index, from, to);
        self
    }

    /// Sells the whole route on every listed seat.
    fn sold_out(mut self, seats: &[&str]) -> Self {
        let last = self.plan.stop_count() - 1;
        for seat in seats {
            self = self.sold(seat, 0, last);
        }
        self
    }

    fn search(&self, from: usize, to: usize, policy: AllocationPolicy) -> SeatSearch<'_> {
        SeatSearch { plan: &self.plan, inventory: &self.inventory, from, to, policy }
    }

    fn group(
        &self,
        from: usize,
        to: usize,
        policy: AllocationPolicy,
        class: SeatClass,
        count: usize,
    ) -> Option<Vec<String>> {
        allocate_group(&self.search(from, to, policy), class, count, &[]).map(|seats| self.names(&seats))
    }

    fn picks(
        &self,
        from: usize,
        to: usize,
        policy: AllocationPolicy,
        class: SeatClass,
        picks: &str,
    ) -> Option<Vec<String>> {
        allocate_picks(&self.search(from, to, policy), class, &parse_picks(picks), &[]).map(|seats| self.names(&seats))
    }

    fn names(&self, seats: &[SeatIndex]) -> Vec<String> {
        seats
            .iter()
            .map(|seat| format!("{}-{}", self.plan.position(*seat).carriage, self.plan.seat_code(*seat)))
            .collect()
    }
}

/// `"A1,C2"` → picks A in relative row 1 and C in relative row 2.
fn parse_picks(text: &str) -> Vec<Pick> {
    text.split(',')
        .map(|pick| {
            let mut chars = pick.trim().chars();
            let letter = chars.next().expect("pick letter");
            let row = chars.as_str().parse().expect("pick row");
            Pick { letter, row }
        })
        .collect()
}

fn second_class(rows: u16) -> (SeatClass, u16, &'static str) {
    (Second, rows, "ABCDF")
}

// ---- seat cost ----

#[test]
fn tightest_fit_cost_is_the_free_run_the_journey_leaves_unused() {
    // stops 0..=5
    assert_eq!(TightestFit.cost(0, 3, 5, 5), 3, "a free seat leaves stops 0..3 unused");
    assert_eq!(TightestFit.cost(0b111, 3, 5, 5), 0, "segments 0..3 taken: the journey fills the gap");
    assert_eq!(TightestFit.cost(0b1, 3, 4, 5), 3, "run 1..5 around 3..4");
    assert_eq!(FirstFit.cost(0b1, 3, 4, 5), 0, "first-fit ranks by order alone");
}

// ---- tightest-fit and first-fit, one passenger ----

#[test]
fn tightest_fit_puts_a_journey_against_an_existing_sale() {
    // given 01C sold from stop 0 to 3
    let given = Given::train(6, &[second_class(2)]).sold("1-01C", 0, 3);
    // when one passenger travels 3 → 5
    let seats = given.group(3, 5, TightestFit, Second, 1);
    // then the journey continues 01C's sale instead of breaking a fresh seat
    assert_eq!(seats.unwrap(), ["1-01C"]);
}

#[test]
fn first_fit_takes_the_lowest_free_seat() {
    let given = Given::train(6, &[second_class(2)]).sold("1-01C", 0, 3);
    assert_eq!(given.group(3, 5, FirstFit, Second, 1).unwrap(), ["1-01A"]);

    // given 01A is taken over part of the journey, first-fit moves to 01B
    let given = given.sold("1-01A", 2, 4);
    assert_eq!(given.group(3, 5, FirstFit, Second, 1).unwrap(), ["1-01B"]);
}

#[test]
fn tightest_fit_prefers_the_shortest_free_gap_among_fragmented_seats() {
    // stops 0..=6; journey 2 → 4
    let given = Given::train(7, &[second_class(1)])
        .sold("1-01B", 0, 1) // free run 1..6: 3 stops unused
        .sold("1-01C", 0, 2) // free run 2..5: 1 stop unused
        .sold("1-01C", 5, 6)
        .sold("1-01D", 1, 3) // overlaps the journey
        .sold("1-01F", 4, 6); // free run 0..4: 2 stops unused
    assert_eq!(given.group(2, 4, TightestFit, Second, 1).unwrap(), ["1-01C"]);
    assert_eq!(given.group(2, 4, FirstFit, Second, 1).unwrap(), ["1-01A"]);
}

#[test]
fn tightest_fit_keeps_a_whole_route_seat_that_first_fit_fragments() {
    for (policy, whole_route_left) in [(TightestFit, true), (FirstFit, false)] {
        // given a two-berth compartment with 01B sold from stop 0 to 2
        let mut given = Given::train(6, &[(SoftSleeper, 1, "AB")]).sold("1-01B", 0, 2);
        // when a passenger travels 3 → 5
        let seat = allocate_group(&given.search(3, 5, policy), SoftSleeper, 1, &[]).unwrap()[0];
        given.inventory.take(seat, 3, 5);
        // then tightest-fit used 01B, so 0 → 5 is still sellable; first-fit broke 01A
        let whole_route = given.group(0, 5, policy, SoftSleeper, 1);
        assert_eq!(whole_route.is_some(), whole_route_left, "{policy:?}");
    }
}

// ---- groups without a seat choice ----

#[test]
fn a_group_sits_side_by_side_in_one_row() {
    // given row 1 has A and C taken: its free seats are B, D and F
    let given = Given::train(6, &[second_class(3)]).sold_out(&["1-01A", "1-01C"]);
    for policy in POLICIES {
        // a pair fits in row 1 (D and F are adjacent: second class has no E)
        assert_eq!(given.group(1, 3, policy, Second, 2).unwrap(), ["1-01D", "1-01F"], "{policy:?}");
        // three adjacent seats are first found in row 2
        assert_eq!(given.group(1, 3, policy, Second, 3).unwrap(), ["1-02A", "1-02B", "1-02C"], "{policy:?}");
        // five take a whole row
        assert_eq!(
            given.group(1, 3, policy, Second, 5).unwrap(),
            ["1-02A", "1-02B", "1-02C", "1-02D", "1-02F"],
            "{policy:?}"
        );
    }
}

#[test]
fn a_group_row_is_chosen_by_tightest_fit() {
    // given 02A and 02B are sold 0 → 2, and the pair travels 2 → 5
    let given = Given::train(6, &[second_class(2)]).sold("1-02A", 0, 2).sold("1-02B", 0, 2);
    assert_eq!(given.group(2, 5, TightestFit, Second, 2).unwrap(), ["1-02A", "1-02B"]);
    assert_eq!(given.group(2, 5, FirstFit, Second, 2).unwrap(), ["1-01A", "1-01B"]);
}

#[test]
fn a_group_falls_back_to_one_carriage_when_no_row_has_adjacent_room() {
    // given carriage 1 has two free seats and carriage 2 six, none of them adjacent
    let given = Given::train(6, &[second_class(2), second_class(2)])
        .sold_out(&["1-01B", "1-01C", "1-01D", "1-01F", "1-02A", "1-02B", "1-02C", "1-02D"])
        .sold_out(&["2-01B", "2-01D", "2-02B", "2-02D"]);
    for policy in POLICIES {
        // three do not fit in carriage 1, so all three sit in carriage 2
        assert_eq!(given.group(0, 5, policy, Second, 3).unwrap(), ["2-01A", "2-01C", "2-01F"], "{policy:?}");
        // a pair fits carriage 1's two seats, the first carriage with room
        assert_eq!(given.group(0, 5, policy, Second, 2).unwrap(), ["1-01A", "1-02F"], "{policy:?}");
    }
}

#[test]
fn a_group_in_one_carriage_takes_the_carriage_with_the_tightest_fit() {
    // given no row has two adjacent free seats, and carriage 2's free seats
    // are sold 0 → 2 so a 2 → 5 journey fills them exactly
    let given = Given::train(6, &[second_class(1), second_class(1)])
        .sold_out(&["1-01B", "1-01D", "2-01B", "2-01D"])
        .sold("2-01A", 0, 2)
        .sold("2-01C", 0, 2)
        .sold("2-01F", 0, 2);
    assert_eq!(given.group(2, 5, TightestFit, Second, 3).unwrap(), ["2-01A", "2-01C", "2-01F"]);
    assert_eq!(given.group(2, 5, FirstFit, Second, 3).unwrap(), ["1-01A", "1-01C", "1-01F"]);
}

#[test]
fn a_group_spreads_across_carriages_only_when_no_carriage_has_room() {
    // given two free seats in each carriage, none adjacent
    let given = Given::train(6, &[second_class(1), second_class(1)])
        .sold_out(&["1-01B", "1-01C", "1-01D", "2-01A", "2-01B", "2-01D"]);
    for policy in POLICIES {
        let seats = given.group(0, 5, policy, Second, 3).unwrap();
        assert_eq!(seats, ["1-01A", "1-01F", "2-01C"], "{policy:?}");
        assert_eq!(given.group(0, 5, policy, Second, 4).unwrap().len(), 4);
        assert_eq!(given.group(0, 5, policy, Second, 5), None, "only four seats are free");
    }
}

#[test]
fn a_group_wider_than_a_row_sits_in_one_carriage() {
    // first class has four letters, so five can never share a row
    let given =
        Given::train(6, &[(First, 2, "ACDF"), (First, 2, "ACDF")]).sold_out(&["1-01A", "1-02C", "1-02D", "1-02F"]);
    for policy in POLICIES {
        let seats = given.group(0, 5, policy, First, 5).unwrap();
        assert_eq!(seats, ["2-01A", "2-01C", "2-01D", "2-01F", "2-02A"], "{policy:?}");
    }
}

#[test]
fn a_group_only_takes_seats_of_its_class() {
    let given = Given::train(6, &[(First, 1, "ACDF"), second_class(1)]).sold_out(&["2-01A", "2-01B"]);
    for policy in POLICIES {
        assert_eq!(given.group(0, 5, policy, Second, 3).unwrap(), ["2-01C", "2-01D", "2-01F"]);
        assert_eq!(given.group(0, 5, policy, Second, 4), None, "first-class seats are no substitute");
        assert_eq!(given.group(0, 5, policy, First, 4).unwrap(), ["1-01A", "1-01C", "1-01D", "1-01F"]);
    }
}

#[test]
fn an_empty_group_needs_no_seats() {
    let given = Given::train(3, &[second_class(1)]).sold_out(&["1-01A", "1-01B", "1-01C", "1-01D", "1-01F"]);
    assert_eq!(given.group(0, 2, TightestFit, Second, 0), Some(vec![]));
    assert_eq!(given.group(0, 2, TightestFit, Second, 1), None);
}

// ---- 选座 picks ----

#[test]
fn picks_in_one_row_keep_their_letters() {
    let given = Given::train(6, &[second_class(3)]);
    for policy in POLICIES {
        assert_eq!(given.picks(0, 5, policy, Second, "A1,C1").unwrap(), ["1-01A", "1-01C"]);
        assert_eq!(given.picks(0, 5, policy, Second, "A1,B1,C1,D1,F1").unwrap().len(), 5);
    }
}

#[test]
fn picks_across_two_rows_keep_their_offsets() {
    let given = Given::train(6, &[second_class(3)]);
    assert_eq!(given.picks(0, 5, TightestFit, Second, "C1,D2").unwrap(), ["1-01C", "1-02D"]);
    // given 01C is taken, the block moves down a row and keeps its shape
    let given = given.sold("1-01C", 1, 2);
    assert_eq!(given.picks(0, 5, TightestFit, Second, "C1,D2").unwrap(), ["1-02C", "1-03D"]);
    // seats come back in the order of the picks
    assert_eq!(given.picks(0, 5, TightestFit, Second, "D2,C1").unwrap(), ["1-03D", "1-02C"]);
}

#[test]
fn picks_stay_in_one_carriage() {
    // given 02C is taken, carriage 1 has no free A-over-C block; carriage 2 is empty
    let given = Given::train(6, &[second_class(2), second_class(2)]).sold_out(&["1-02C"]);
    for policy in POLICIES {
        assert_eq!(given.picks(0, 5, policy, Second, "A1,C2").unwrap(), ["2-01A", "2-02C"], "{policy:?}");
    }
}

#[test]
fn picks_skip_a_carriage_without_the_letter() {
    // carriage 1 is a short second-class carriage with no D or F
    let given = Given::train(6, &[(Second, 2, "ABC"), second_class(2)]);
    assert_eq!(given.picks(0, 5, FirstFit, Second, "C1,D1").unwrap(), ["2-01C", "2-01D"]);
    assert_eq!(given.picks(0, 5, FirstFit, Second, "A1,B1").unwrap(), ["1-01A", "1-01B"]);
}

#[test]
fn picks_that_no_carriage_can_meet_return_none() {
    // a one-row carriage cannot seat a pick in row 2
    let given = Given::train(6, &[second_class(1)]);
    assert_eq!(given.picks(0, 5, TightestFit, Second, "A1,A2"), None);
    // every A seat overlaps the journey; other letters are still pickable
    let given = Given::train(6, &[second_class(2)]).sold("1-01A", 2, 3).sold("1-02A", 0, 4);
    assert_eq!(given.picks(1, 3, TightestFit, Second, "A1"), None);
    assert_eq!(given.picks(1, 3, TightestFit, Second, "B1").unwrap(), ["1-01B"]);
    // a letter the carriage does not have is never met
    let given = Given::train(6, &[(First, 2, "ACDF")]);
    assert_eq!(given.picks(1, 3, TightestFit, First, "B1"), None);
}

#[test]
fn picks_prefer_the_tightest_block() {
    let given = Given::train(6, &[second_class(2)]).sold("1-02A", 0, 2).sold("1-02C", 0, 2);
    assert_eq!(given.picks(2, 5, TightestFit, Second, "A1,C1").unwrap(), ["1-02A", "1-02C"]);
    assert_eq!(given.picks(2, 5, FirstFit, Second, "A1,C1").unwrap(), ["1-01A", "1-01C"]);
}

#[test]
fn picks_and_groups_leave_excluded_seats_alone() {
    let given = Given::train(6, &[second_class(2)]);
    let excluded = [given.seat("1-01A")];
    let search = given.search(0, 5, TightestFit);
    let picked = allocate_picks(&search, Second, &parse_picks("A1,C1"), &excluded).unwrap();
    assert_eq!(given.names(&picked), ["1-02A", "1-02C"]);
    let grouped = allocate_group(&search, Second, 2, &excluded).unwrap();
    assert_eq!(given.names(&grouped), ["1-01B", "1-01C"]);
}

// ---- safety over a fragmented inventory ----

/// A train with every seat fragmented in a different way.
fn fragmented() -> Given {
    let mut given = Given::train(7, &[(First, 2, "ACDF"), second_class(2), second_class(1)]);
    let journeys: [&[(usize, usize)]; 6] = [&[], &[(0, 2)], &[(2, 4), (5, 6)], &[(1, 6)], &[(0, 1), (3, 5)], &[(4, 6)]];
    for seat in 0..given.inventory.seat_count() as SeatIndex {
        for (from, to) in journeys[seat as usize * 7 % journeys.len()] {
            given.inventory.take(seat, *from, *to);
        }
    }
    given
}

#[test]
fn allocations_never_return_taken_or_excluded_seats() {
    let given = fragmented();
    let stop_count = given.plan.stop_count();
    let pick_sets = ["A1", "C1,D1", "A1,F2", "C2,D2,F1", "A1,C1,D1,F1,A2"];
    for policy in POLICIES {
        for from in 0..stop_count {
            for to in from + 1..stop_count {
                let search = given.search(from, to, policy);
                for class in [First, Second] {
                    let class_seats: Vec<SeatIndex> =
                        (0..given.plan.seat_count()).filter(|seat| given.plan.seat_class(*seat) == class).collect();
                    for excluded_count in [0, 1, 3] {
                        let excluded: Vec<SeatIndex> = class_seats
                            .iter()
                            .copied()
                            .filter(|seat| given.inventory.is_free(*seat, from, to))
                            .take(excluded_count)
                            .collect();
                        let usable = class_seats
                            .iter()
                            .filter(|seat| given.inventory.is_free(**seat, from, to) && !excluded.contains(seat))
                            .count();
                        let valid = |seats: &[SeatIndex], count: usize| {
                            let mut distinct = seats.to_vec();
                            distinct.sort_unstable();
                            distinct.dedup();
                            assert_eq!(distinct.len(), count, "{from}..{to}: seats repeat or are missing");
                            for seat in seats {
                                assert!(given.inventory.is_free(*seat, from, to), "seat {seat} taken for {from}..{to}");
                                assert!(!excluded.contains(seat), "excluded seat {seat} returned");
                                assert_eq!(given.plan.seat_class(*seat), class);
                            }
                        };
                        for count in 1..=5 {
                            match allocate_group(&search, class, count, &excluded) {
                                Some(seats) => valid(&seats, count),
                                None => {
                                    assert!(usable < count, "{from}..{to} {class}: {usable} usable, {count} refused")
                                }
                            }
                        }
                        for picks in pick_sets {
                            let picks = parse_picks(picks);
                            if let Some(seats) = allocate_picks(&search, class, &picks, &excluded) {
                                valid(&seats, picks.len());
                            }
                        }
                    }
                }
            }
        }
    }
}
