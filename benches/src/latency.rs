//! The latency summary every load tool writes to its JSON results and the
//! plots read back, so every target is drawn from the same quantiles.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Latency in milliseconds, from a histogram recorded in microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LatencyMs {
    /// Samples; absent from results written before it was recorded.
    #[serde(default)]
    pub count: u64,
    #[serde(default)]
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    /// (quantile, ms) at each of `CDF_QUANTILES`; absent from older results.
    #[serde(default)]
    pub cdf: Vec<(f64, f64)>,
}

impl LatencyMs {
    pub fn of(histogram_us: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        LatencyMs {
            count: histogram_us.len(),
            mean: histogram_us.mean() / 1000.0,
            p50: ms(histogram_us.value_at_quantile(0.5)),
            p90: ms(histogram_us.value_at_quantile(0.9)),
            p99: ms(histogram_us.value_at_quantile(0.99)),
            p999: ms(histogram_us.value_at_quantile(0.999)),
            max: ms(histogram_us.max()),
            cdf: cdf_ms(histogram_us),
        }
    }
}

/// Quantiles of the CDF: every tenth, then finer in the tail where the
/// targets differ most.
pub const CDF_QUANTILES: [f64; 20] =
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999, 1.0];

/// (quantile, milliseconds) at each of `CDF_QUANTILES`, from a histogram
/// recorded in microseconds.
pub fn cdf_ms(histogram_us: &Histogram<u64>) -> Vec<(f64, f64)> {
    CDF_QUANTILES
        .iter()
        .map(|quantile| (*quantile, histogram_us.value_at_quantile(*quantile) as f64 / 1000.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cdf_rises_with_the_quantile_and_ends_at_the_maximum() {
        let mut histogram = Histogram::<u64>::new(3).unwrap();
        for micros in 1..=10_000 {
            histogram.record(micros).unwrap();
        }
        let cdf = cdf_ms(&histogram);
        assert!(cdf.windows(2).all(|pair| pair[0].1 <= pair[1].1 && pair[0].0 < pair[1].0));
        assert_eq!(cdf.last().unwrap().1, histogram.max() as f64 / 1000.0);
    }
}
