//! benchplot: SVG plots from load-run JSON results (seatbench --out, basebench --out).
//!
//! Each result needs `label` (or `target`), `clients`, `writes_per_sec` (or
//! `writes_ok_per_sec`) and `latency_ms` (or `write_latency_ms`) with
//! p50/p90/p99/p999/max. Runs are grouped by label:
//! one line per label in throughput-vs-concurrency, and for each label the
//! latency distribution of its highest-concurrency run.

use clap::Parser;
use plotters::prelude::*;
use seat_benches::latency::LatencyMs;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "benchplot", about = "SVG plots from seatbench/basebench JSON results")]
struct Args {
    /// Where to write throughput.svg and latency.svg.
    #[arg(long, default_value = "docs/bench")]
    out_dir: PathBuf,
    /// JSON result files.
    #[arg(required = true)]
    results: Vec<PathBuf>,
}

/// A run's figures; seatbench and basebench name some fields differently.
#[derive(Deserialize)]
struct Run {
    #[serde(alias = "target")]
    label: String,
    clients: usize,
    #[serde(alias = "writes_ok_per_sec")]
    writes_per_sec: f64,
    #[serde(alias = "write_latency_ms")]
    latency_ms: LatencyMs,
}

/// Lines cycle through these so labels stay distinguishable in print.
const COLOURS: [RGBColor; 6] = [BLUE, RED, GREEN, MAGENTA, CYAN, BLACK];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut by_label: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for path in &args.results {
        let run: Run =
            serde_json::from_str(&std::fs::read_to_string(path)?).map_err(|e| format!("{}: {e}", path.display()))?;
        by_label.entry(run.label.clone()).or_default().push(run);
    }
    for runs in by_label.values_mut() {
        runs.sort_by_key(|run| run.clients);
    }
    std::fs::create_dir_all(&args.out_dir)?;
    throughput(&args.out_dir.join("throughput.svg"), &by_label)?;
    latency(&args.out_dir.join("latency.svg"), &by_label)?;
    println!(
        "wrote {} and {}",
        args.out_dir.join("throughput.svg").display(),
        args.out_dir.join("latency.svg").display()
    );
    Ok(())
}

fn throughput(path: &PathBuf, by_label: &BTreeMap<String, Vec<Run>>) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_clients = by_label.values().flatten().map(|run| run.clients).max().unwrap_or(1) as f64;
    let max_rate = by_label.values().flatten().map(|run| run.writes_per_sec).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Durable writes per second vs concurrency", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..max_clients * 1.05, 0f64..max_rate * 1.15)?;
    chart.configure_mesh().x_desc("concurrent clients").y_desc("acknowledged writes / s").draw()?;
    for (index, (label, runs)) in by_label.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let points: Vec<(f64, f64)> = runs.iter().map(|run| (run.clients as f64, run.writes_per_sec)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|point| Circle::new(point, 3, colour.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn latency(path: &PathBuf, by_label: &BTreeMap<String, Vec<Run>>) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let max_ms = by_label.values().flatten().map(|run| run.latency_ms.max).fold(1.0, f64::max);
    let mut chart = ChartBuilder::on(&root)
        .caption("Write latency CDF (highest concurrency of each)", ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((0.1f64..max_ms * 1.2).log_scale(), 0f64..100.5)?;
    chart.configure_mesh().x_desc("latency, ms (log)").y_desc("percent of writes at or below").draw()?;
    for (index, (label, runs)) in by_label.iter().enumerate() {
        let Some(run) = runs.last() else { continue };
        let colour = COLOURS[index % COLOURS.len()];
        let l = &run.latency_ms;
        // The log axis starts at 0.1 ms, so faster points sit on its edge.
        let points: Vec<(f64, f64)> = if l.cdf.is_empty() {
            vec![(l.p50, 50.0), (l.p90, 90.0), (l.p99, 99.0), (l.p999, 99.9), (l.max, 100.0)]
        } else {
            l.cdf.iter().map(|(quantile, ms)| (ms.max(0.1), quantile * 100.0)).collect()
        };
        chart
            .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
            .label(format!("{label} ({} clients)", run.clients))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|point| Circle::new(point, 3, colour.filled())))?;
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
