//! The run's results: built from the merged tally and the audit, printed,
//! and written as JSON with `--out`.

use crate::args::{Args, DemandKind, Target};
use crate::tally::Tally;
use seat_baselines::Layout;
use seat_baselines::audit::AuditReport;
use seat_benches::latency::LatencyMs;
use serde::Serialize;
use std::collections::BTreeMap;

/// A run's results, as printed and as written with `--out` (field order is the JSON's).
#[derive(Serialize)]
pub struct Report {
    target: Target,
    /// When the run ended (UTC, RFC 3339).
    date: String,
    /// The command line, to run it again.
    command: String,
    clients: usize,
    duration_secs: u64,
    /// How long the load really ran (clients finish their last request).
    elapsed_secs: f64,
    setup_secs: f64,
    train_dates: usize,
    stops: usize,
    seats_per_train_date: usize,
    demand: DemandKind,
    seed: u64,
    confirm_percent: u32,
    cancel_percent: u32,
    /// Every hold, confirm and cancel answered (refusals included), per second.
    requests_per_sec: f64,
    /// Hold requests answered (held, duplicate or sold out) per second.
    holds_per_sec: f64,
    /// Holds that took seats, per second.
    held_per_sec: f64,
    /// Acknowledged writes (held holds, confirms, cancels) per second; what
    /// seatbench calls durable writes.
    writes_ok_per_sec: f64,
    holds_answered: u64,
    held: u64,
    passengers_held: u64,
    sold_out: u64,
    errors: u64,
    error_samples: Vec<String>,
    outcomes: BTreeMap<String, u64>,
    /// Latency of acknowledged writes.
    write_latency_ms: LatencyMs,
    /// Latency of every answered hold, refusals included.
    hold_latency_ms: LatencyMs,
    /// The audit of the stored state and the acknowledged orders.
    audit: AuditReport,
    /// The target's settings that decide durability, read from the server.
    durability: serde_json::Value,
}

/// How long the run's two phases took.
pub struct Timings {
    /// Opening the train-dates.
    pub setup_secs: f64,
    /// The load, from the first client's start to the last one's end.
    pub elapsed_secs: f64,
}

impl Report {
    /// The report of a run of `args` over `train_dates` train-dates.
    pub fn new(
        args: &Args,
        layout: &Layout,
        train_dates: usize,
        timings: Timings,
        tally: &Tally,
        audit: AuditReport,
        durability: serde_json::Value,
    ) -> Report {
        let Timings { setup_secs, elapsed_secs } = timings;
        let holds_answered = tally.holds.len();
        let requests: u64 =
            tally.outcomes.iter().filter(|(outcome, _)| !outcome.ends_with("error")).map(|(_, n)| n).sum();
        Report {
            target: args.target,
            date: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            clients: args.clients,
            duration_secs: args.duration_secs,
            elapsed_secs,
            setup_secs,
            train_dates,
            stops: layout.stop_count(),
            seats_per_train_date: layout.seats().len(),
            demand: args.demand,
            seed: args.seed,
            confirm_percent: args.confirm_percent,
            cancel_percent: args.cancel_percent,
            requests_per_sec: requests as f64 / elapsed_secs,
            holds_per_sec: holds_answered as f64 / elapsed_secs,
            held_per_sec: tally.held as f64 / elapsed_secs,
            writes_ok_per_sec: tally.writes.len() as f64 / elapsed_secs,
            holds_answered,
            held: tally.held,
            passengers_held: tally.passengers_held,
            sold_out: tally.sold_out,
            errors: tally.errors,
            error_samples: tally.error_samples.clone(),
            outcomes: tally.outcomes.clone(),
            write_latency_ms: LatencyMs::of(&tally.writes),
            hold_latency_ms: LatencyMs::of(&tally.holds),
            audit,
            durability,
        }
    }

    /// Whether the audit passed.
    pub fn audit_ok(&self) -> bool {
        self.audit.ok()
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write_json(&self, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
        std::fs::write(path, serde_json::to_string_pretty(self)? + "\n")?;
        Ok(())
    }

    /// Prints the report for a person: load, latency, outcomes, durability, audit.
    pub fn print(&self) {
        self.print_load();
        self.print_latency();
        self.print_outcomes();
        println!("durability: {}", self.durability);
        self.print_audit();
    }

    fn print_load(&self) {
        println!(
            "basebench {:?}: {} clients for {:.1} s, {} train-dates × {} seats, {} stops, demand {:?}",
            self.target,
            self.clients,
            self.elapsed_secs,
            self.train_dates,
            self.seats_per_train_date,
            self.stops,
            self.demand
        );
        println!(
            "requests answered: {:.0}/s; holds answered {:.0}/s, held {:.0}/s ({} orders, {} passengers); \
             acknowledged writes {:.0}/s",
            self.requests_per_sec,
            self.holds_per_sec,
            self.held_per_sec,
            self.held,
            self.passengers_held,
            self.writes_ok_per_sec
        );
    }

    fn print_latency(&self) {
        for (name, latency) in [("acked write", &self.write_latency_ms), ("any hold", &self.hold_latency_ms)] {
            println!(
                "{name} latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  p999 {:.2}  max {:.2}  (n={})",
                latency.p50, latency.p90, latency.p99, latency.p999, latency.max, latency.count
            );
        }
    }

    fn print_outcomes(&self) {
        println!("outcomes:");
        for (outcome, count) in &self.outcomes {
            println!("  {outcome:<24} {count}");
        }
        for sample in &self.error_samples {
            println!("  error: {sample}");
        }
    }

    fn print_audit(&self) {
        let audit = &self.audit;
        println!(
            "audit: {} — {} train-dates, {} seats, {} live tickets, {} counts, {} acknowledged orders; {} problems",
            if audit.ok() { "OK" } else { "FAILED" },
            audit.train_dates,
            audit.seats,
            audit.live_tickets,
            audit.counts,
            audit.acked_orders,
            audit.problem_count
        );
        for problem in &audit.problems {
            println!("  {problem}");
        }
    }
}
