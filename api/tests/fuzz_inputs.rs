//! Fuzzing with proptest, run briefly in every test run: arbitrary bytes as
//! every request message, arbitrary field values through validation, and
//! arbitrary or mutated timetable files through the importer. Nothing may
//! panic; everything must come back as a value or a clear error.
//!
//! `PROPTEST_CASES=100000 cargo test --release -p seat-api --test fuzz_inputs`
//! runs a long session.

use api::convert;
use api::pb;
use engine::domain::timetable_file::parse_timetable;
use proptest::prelude::*;
use prost::Message;

/// Decodes `bytes` as `M` and, if it decodes, runs the validation the
/// service would.
fn decode_and_validate<M: Message + Default>(bytes: &[u8], validate: impl Fn(&M)) {
    if let Ok(message) = M::decode(bytes) {
        validate(&message);
    }
}

fn validate_hold(request: &pb::HoldRequest) {
    let _ = convert::client_id("request_id", &request.request_id);
    let _ = convert::client_id("user_id", &request.user_id);
    let _ = convert::train_date("train_date", request.train_date.as_ref());
    let _ = convert::passengers(&request.passengers);
}

fn validate_train(request: &pb::UpsertTrainRequest) {
    if let Some(train) = &request.train
        && let Ok(template) = convert::train_from_pb(train)
    {
        let _ = template.validate(|_| true);
    }
}

/// 512 cases per property in the test suite; PROPTEST_CASES for long sessions.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn request_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        decode_and_validate::<pb::HoldRequest>(&bytes, validate_hold);
        decode_and_validate::<pb::UpsertTrainRequest>(&bytes, validate_train);
        decode_and_validate::<pb::SearchTrainsRequest>(&bytes, |r| { let _ = convert::date("date", &r.date); });
        decode_and_validate::<pb::ConfirmRequest>(&bytes, |r| { let _ = convert::order_id("order_id", &r.order_id); });
        decode_and_validate::<pb::GetSeatMapRequest>(&bytes, |r| { let _ = convert::train_date("train_date", r.train_date.as_ref()); });
        decode_and_validate::<pb::ListOrdersRequest>(&bytes, |r| { let _ = convert::orders_after("page_token", &r.page_token); });
        decode_and_validate::<pb::ListTrainDatesRequest>(&bytes, |r| { let _ = convert::train_dates_after("page_token", &r.page_token); });
        decode_and_validate::<pb::OpenTrainDatesRequest>(&bytes, |r| { let _ = convert::date("first_date", &r.first_date); });
        decode_and_validate::<pb::UpsertStationsRequest>(&bytes, |r| {
            for station in &r.stations {
                let _ = engine::domain::timetable::validate_station(&convert::station_from_pb(station));
            }
        });
    }

    #[test]
    fn passenger_fields_never_panic(
        name in ".{0,40}",
        id_number in "[0-9Xx]{0,20}|.{0,20}",
        class in -3i32..8,
        pick in ".{0,4}",
        carriage in any::<u32>(),
        seat in ".{0,6}",
    ) {
        let passenger = pb::PassengerRequest {
            name, id_number, seat_class: class, pick,
            seat: (carriage % 3 == 0).then_some(pb::ExactSeat { carriage, seat }),
        };
        let _ = convert::passengers(&[passenger]);
    }

    #[test]
    fn timetable_text_never_panics(text in ".{0,400}") {
        if let Ok(timetable) = parse_timetable(&text) {
            for train in &timetable.trains {
                let _ = train.validate(|_| true);
            }
        }
    }

    #[test]
    fn mutated_demo_timetable_never_panics(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = api::demo::DEMO_TIMETABLE.as_bytes().to_vec();
        for (position, value) in flips {
            let position = position % bytes.len();
            bytes[position] = value;
        }
        if let Ok(text) = String::from_utf8(bytes)
            && let Ok(timetable) = parse_timetable(&text)
        {
            for train in &timetable.trains {
                let _ = train.validate(|code| timetable.stations.iter().any(|s| s.code == code));
            }
        }
    }
}
