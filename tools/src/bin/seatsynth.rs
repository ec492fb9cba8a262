//! seatsynth: prints synthetic data for scale tests; needs no server.
//!
//! `seatsynth timetable` prints a timetable (TOML, the import format) of
//! 16-car trains on a ring of stations, for `seatctl import` and
//! `seatbench --synthetic-trains` (see BENCHMARKS.md, the whole-12306 test).

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "seatsynth", about = "Synthetic data for seatd scale tests")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a synthetic timetable (TOML) for scale tests: `trains` 16-car
    /// trains of `stops` stops over a ring of `stations` stations.
    Timetable {
        #[arg(long, default_value_t = 14_000)]
        trains: usize,
        #[arg(long, default_value_t = 24)]
        stops: usize,
        #[arg(long, default_value_t = 600)]
        stations: usize,
    },
}

fn main() {
    match Args::parse().command {
        Command::Timetable { trains, stops, stations } => {
            print!("{}", seat_tools::synthetic::timetable(trains, stops, stations));
        }
    }
}
