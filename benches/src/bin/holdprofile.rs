//! Runs the criterion hold stream a fixed number of times, for instruction
//! counts under `valgrind --tool=callgrind`: on a shared, noisy machine an
//! instruction count repeats where a wall-clock time does not.
//!
//! ```text
//! valgrind --tool=callgrind --toggle-collect='seat_benches::holds::run' \
//!     target/release/holdprofile --policy tightest-fit --runs 3
//! ```
//! Instructions per command = the reported total ÷ (runs × commands).
//! `--accepted-only` profiles just the holds that take seats (see
//! `holds::effective_steps`).

use clap::Parser;
use engine::allocation::AllocationPolicy;
use seat_benches::fixtures::fresh_train_date;
use seat_benches::holds::{demand_steps, effective_steps, run, seat_km_yield};
use std::hint::black_box;

/// The same allocator as seatd, so the counts are the server's.
#[global_allocator]
static GLOBAL_ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(name = "holdprofile", about = "Hold stream from empty to sold out, for instruction counts")]
struct Args {
    #[arg(long, default_value = "tightest-fit")]
    policy: AllocationPolicy,
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Only the holds that take seats and the cancels that free them.
    #[arg(long)]
    accepted_only: bool,
}

fn main() {
    let args = Args::parse();
    let mut steps = demand_steps(args.policy);
    if args.accepted_only {
        steps = effective_steps(&steps);
    }
    let mut accepted = 0;
    let mut last_yield = 0.0;
    for _ in 0..args.runs {
        let mut state = fresh_train_date();
        accepted = black_box(run(&mut state, steps.clone()));
        last_yield = seat_km_yield(&state);
    }
    println!(
        "{:?}: {} commands per run × {} runs, {accepted} holds accepted per run, seat-km yield {:.1}%",
        args.policy,
        steps.len(),
        args.runs,
        last_yield * 100.0
    );
}
