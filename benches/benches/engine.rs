//! Engine microbenchmarks on a 16-car, 1,193-seat, 24-stop train:
//! - holds from empty to sold out under realistic demand, tightest-fit vs first-fit,
//!   and the same sale with the refused requests left out (every command takes or frees seats);
//! - availability reads;
//! - a search over every train serving one station pair (200 trains);
//! - the change signal an actor gives live watchers on every publish, with
//!   nobody watching and with a watcher (the cost WatchAvailability adds to
//!   the booking hot path).

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engine::allocation::AllocationPolicy;
use engine::domain::seat_class::SeatClass;
use seat_benches::demand::Demand;
use seat_benches::fixtures::{BENCH_STOPS, fresh_train_date};
use seat_benches::holds::{HOLDS_PER_RUN, demand_steps, effective_steps, run, seat_km_yield};
use std::hint::black_box;

/// The same allocator as seatd, so the figures are the server's.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn holds_until_sold_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("holds_until_sold_out");
    for policy in [AllocationPolicy::TightestFit, AllocationPolicy::FirstFit] {
        let steps = demand_steps(policy);
        let mut probe = fresh_train_date();
        let accepted = run(&mut probe, steps.clone());
        probe.verify_invariants().expect("invariants hold after the run");
        eprintln!(
            "{policy:?}: {accepted} of {HOLDS_PER_RUN} holds accepted, seat-km yield {:.1}%",
            seat_km_yield(&probe) * 100.0
        );
        group.throughput(Throughput::Elements(steps.len() as u64));
        group.bench_function(format!("{policy:?}"), |bencher| {
            bencher.iter_batched(
                || (fresh_train_date(), steps.clone()),
                |(mut state, steps)| black_box(run(&mut state, steps)),
                BatchSize::LargeInput,
            )
        });
        // The same sale with the refused requests left out: every command
        // here takes or frees seats.
        let effective = effective_steps(&steps);
        group.throughput(Throughput::Elements(effective.len() as u64));
        group.bench_function(format!("{policy:?}/accepted_only"), |bencher| {
            bencher.iter_batched(
                || (fresh_train_date(), effective.clone()),
                |(mut state, steps)| black_box(run(&mut state, steps)),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

fn availability_reads(c: &mut Criterion) {
    let mut state = fresh_train_date();
    run(&mut state, demand_steps(AllocationPolicy::TightestFit)[..400].to_vec());
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
    use engine::facade::{Engine, EngineSettings};
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

fn change_signal(c: &mut Criterion) {
    use engine::actor::changes::ChangeSignal;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let signal = std::sync::Arc::new(ChangeSignal::new());
    let mut group = c.benchmark_group("change_signal");
    group.bench_function("published_unwatched", |bencher| bencher.iter(|| signal.published()));
    // A watcher registered: every publish pokes the relay (a stored permit
    // while the relay is busy, so most pokes are one atomic exchange).
    let watcher = runtime.block_on(async { ChangeSignal::watch(&signal) });
    group.bench_function("published_watched", |bencher| bencher.iter(|| signal.published()));
    drop(watcher);
    group.finish();
}

criterion_group!(benches, holds_until_sold_out, availability_reads, search_one_station_pair, change_signal);
criterion_main!(benches);
