//! Engine microbenchmarks on a 16-car, 1,193-seat, 24-stop train:
//! - holds from empty to sold out under realistic demand, tightest-fit vs first-fit;
//! - availability reads;
//! - a search over every train serving one station pair (200 trains).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engine::allocation::AllocationPolicy;
use engine::domain::command::{Command, HoldSeats};
use engine::domain::event::{EVENT_SCHEMA_VERSION, EventRecord};
use engine::domain::seat_class::SeatClass;
use engine::domain::state::TrainDateState;
use engine::{apply, decide};
use seat_benches::demand::Demand;
use seat_benches::fixtures::{BENCH_STOPS, fresh_train_date};
use std::hint::black_box;

/// Enough holds to sell the train out several times over.
const HOLDS_PER_RUN: usize = 4000;
/// Share of accepted holds cancelled again, as real buyers do.
const CANCEL_PERCENT: u32 = 5;
/// Benchmark clock: well before the 07:00 departure.
const NOW_MS: u64 = 1_796_000_000_000;

enum Step {
    Hold(HoldSeats),
    CancelLatest,
}

fn demand_steps(policy: AllocationPolicy) -> Vec<Step> {
    let mut demand = Demand::new(7, BENCH_STOPS);
    let mut steps = Vec::with_capacity(HOLDS_PER_RUN * 2);
    for _ in 0..HOLDS_PER_RUN {
        steps.push(Step::Hold(demand.hold(policy)));
        if demand.chance(CANCEL_PERCENT) {
            steps.push(Step::CancelLatest);
        }
    }
    steps
}

fn execute(state: &mut TrainDateState, command: &Command) -> bool {
    match decide(state, command, NOW_MS) {
        Ok(events) => {
            for event in events {
                let record = EventRecord { seq: state.last_seq + 1, version: EVENT_SCHEMA_VERSION, event };
                apply(state, &record);
            }
            true
        }
        Err(_) => false,
    }
}

/// Runs the demand; returns accepted holds.
fn run(state: &mut TrainDateState, steps: &[Step]) -> usize {
    let mut accepted = 0;
    let mut latest = None;
    for step in steps {
        match step {
            Step::Hold(hold) => {
                if execute(state, &Command::HoldSeats(hold.clone())) {
                    accepted += 1;
                    latest = Some(hold.order_id);
                }
            }
            Step::CancelLatest => {
                if let Some(order_id) = latest.take() {
                    execute(state, &Command::CancelOrder { order_id, user_id: None });
                }
            }
        }
    }
    accepted
}

/// Seat-km sold over seat-km offered once demand is exhausted.
fn seat_km_yield(state: &TrainDateState) -> f64 {
    let plan = &state.plan;
    let line_km = f64::from(plan.distance_km(0, plan.stop_count() - 1));
    let sold: f64 = state
        .orders
        .values()
        .filter(|order| order.status.holds_seats())
        .map(|order| order.tickets.len() as f64 * f64::from(plan.distance_km(order.from.into(), order.to.into())))
        .sum();
    sold / (f64::from(plan.seat_count()) * line_km)
}

fn holds_until_sold_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("holds_until_sold_out");
    for policy in [AllocationPolicy::TightestFit, AllocationPolicy::FirstFit] {
        let steps = demand_steps(policy);
        let mut probe = fresh_train_date();
        let accepted = run(&mut probe, &steps);
        probe.verify_invariants().expect("invariants hold after the run");
        eprintln!(
            "{policy:?}: {accepted} of {HOLDS_PER_RUN} holds accepted, seat-km yield {:.1}%",
            seat_km_yield(&probe) * 100.0
        );
        group.throughput(Throughput::Elements(steps.len() as u64));
        group.bench_function(format!("{policy:?}"), |bencher| {
            bencher.iter_batched(
                fresh_train_date,
                |mut state| black_box(run(&mut state, &steps)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn availability_reads(c: &mut Criterion) {
    let mut state = fresh_train_date();
    run(&mut state, &demand_steps(AllocationPolicy::TightestFit)[..400]);
    let view = engine::actor::view::AvailabilityView::of(&state);
    let mut demand = Demand::new(11, BENCH_STOPS);
    let journeys: Vec<(usize, usize)> = (0..1024).map(|_| demand.journey()).collect();
    let mut group = c.benchmark_group("availability_read");
    group.throughput(Throughput::Elements(journeys.len() as u64));
    group.bench_function("published_view", |bencher| {
        bencher.iter(|| {
            let mut total = 0u32;
            for (from, to) in &journeys {
                total += view.remaining(SeatClass::Second, *from, *to);
            }
            black_box(total)
        })
    });
    group.finish();
}

/// Trains serving the benchmarked station pair: Beijing–Shanghai has about
/// 200 services a day.
const TRAINS_SERVING_PAIR: usize = 200;

fn search_one_station_pair(c: &mut Criterion) {
    use engine::clock::ManualClock;
    use engine::domain::timetable::Station;
    use engine::engine::{Engine, EngineSettings};
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("date");
    let clock = std::sync::Arc::new(ManualClock::new(engine::domain::state::service_day_start_ms(date)));
    let engine = Engine::start(EngineSettings::default(), clock, None);
    runtime.block_on(async {
        let stations: Vec<Station> = (0..BENCH_STOPS)
            .map(|index| Station {
                code: format!("S{}", (b'A' + index as u8) as char),
                name: format!("站{index}"),
                pinyin: String::new(),
            })
            .collect();
        engine.upsert_stations(&stations).await.expect("stations");
        for train in 0..TRAINS_SERVING_PAIR {
            let mut template = seat_benches::fixtures::sixteen_car_train(&format!("G{}", train + 1));
            for (stop, station) in template.stops.iter_mut().zip(&stations) {
                stop.station = station.code.clone();
            }
            engine.upsert_train(template).await.expect("train");
        }
        engine.open_train_dates(&[], date, date).await.expect("open");
    });
    let (from, to) = ("SA", "SX");
    assert_eq!(engine.search(date, from, to).expect("search").len(), TRAINS_SERVING_PAIR);
    let mut group = c.benchmark_group("search");
    group.throughput(Throughput::Elements(TRAINS_SERVING_PAIR as u64));
    group.bench_function("one_station_pair_200_trains", |bencher| {
        bencher.iter(|| black_box(engine.search(date, from, to).expect("search").len()))
    });
    group.finish();
}

criterion_group!(benches, holds_until_sold_out, availability_reads, search_one_station_pair);
criterion_main!(benches);
