//! The translation to the engine: keys, templates, clock and order book.

use super::*;

#[test]
fn train_date_names_parse() {
    let key = engine_key("G101-2026-12-03").expect("parses");
    assert_eq!(key.train, "G101");
    assert_eq!(key.date, NaiveDate::from_ymd_opt(2026, 12, 3).expect("date"));
    for bad in ["", "2026-12-03", "-2026-12-03", "G1_2026-12-03", "G1-2026-13-03"] {
        assert!(engine_key(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_bench_layout_round_trips_through_a_template() {
    for stops in [2, 4, 24] {
        let layout = Layout::sixteen_car(stops);
        let template = template_for("G1", &layout).expect("template");
        assert_eq!(Layout::from_template(&template), layout);
        assert_eq!(template.stops.len(), stops);
    }
}

#[test]
fn station_codes_are_distinct_and_valid() {
    let codes: std::collections::HashSet<String> = (0..crate::layout::STOPS_MAX).map(station_code).collect();
    assert_eq!(codes.len(), crate::layout::STOPS_MAX);
    for code in codes {
        let station = Station { code, name: "x".into(), pinyin: String::new() };
        engine::domain::timetable::validate_station(&station).expect("valid station");
    }
}

#[test]
fn the_shifted_clock_shows_the_chosen_date() {
    let today = NaiveDate::from_ymd_opt(2031, 3, 4).expect("date");
    assert_eq!(service_date_of(ShiftedClock::showing(today).now_ms()), today);
}

#[test]
fn the_order_book_numbers_each_order_once() {
    let mut book = OrderBook::default();
    let name: Arc<str> = Arc::from("G1-2026-12-01");
    let (a, b) = (OrderId::generate(), OrderId::generate());
    assert_eq!(book.number(&name, a), (1, true));
    assert_eq!(book.number(&name, b), (2, true));
    assert_eq!(book.number(&name, a), (1, false));
    assert!(book.get_mut("G1-2026-12-01", 2).is_some_and(|order| order.id == b));
    assert!(book.get_mut("G2-2026-12-01", 2).is_none());
    assert!(book.get_mut("G1-2026-12-01", 0).is_none());
    assert!(book.get_mut("G1-2026-12-01", 3).is_none());
}
