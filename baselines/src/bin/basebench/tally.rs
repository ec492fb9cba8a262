//! What the clients saw: latencies, outcomes and the acknowledged orders.

use hdrhistogram::Histogram;
use seat_baselines::AckedOrder;
use std::collections::BTreeMap;

/// Error messages kept verbatim for the report; the rest are only counted.
const ERRORS_LISTED_MAX: usize = 10;

/// One client's tally, merged at the end.
pub struct Tally {
    /// Every hold answered (held, duplicate or sold out), in µs.
    pub holds: Histogram<u64>,
    /// Every acknowledged write (hold held, confirm, cancel), in µs.
    pub writes: Histogram<u64>,
    /// Requests by outcome (`hold held`, `confirm ok`, `cancel error`, ...).
    pub outcomes: BTreeMap<String, u64>,
    /// Every order the target acknowledged, in its last acknowledged state, for the audit.
    pub acked: Vec<AckedOrder>,
    /// Holds that took seats.
    pub held: u64,
    /// Seats those holds took.
    pub passengers_held: u64,
    /// Holds refused for want of seats.
    pub sold_out: u64,
    /// Requests that failed with an error rather than an answer.
    pub errors: u64,
    /// The first [`ERRORS_LISTED_MAX`] error messages.
    pub error_samples: Vec<String>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Self {
        Tally {
            holds: Histogram::new(3).expect("histogram"),
            writes: Histogram::new(3).expect("histogram"),
            outcomes: BTreeMap::new(),
            acked: Vec::new(),
            held: 0,
            passengers_held: 0,
            sold_out: 0,
            errors: 0,
            error_samples: Vec::new(),
        }
    }

    /// Counts one request with this outcome.
    pub fn count(&mut self, outcome: &str) {
        *self.outcomes.entry(outcome.to_owned()).or_insert(0) += 1;
    }

    /// Counts one failed request, keeping its message while there is room.
    pub fn error(&mut self, what: &str, error: &seat_baselines::BaselineError) {
        self.errors += 1;
        self.count(&format!("{what} error"));
        if self.error_samples.len() < ERRORS_LISTED_MAX {
            self.error_samples.push(format!("{what}: {error}"));
        }
    }

    /// Adds another client's tally to this one.
    pub fn merge(&mut self, other: Tally) {
        self.holds.add(&other.holds).expect("same histogram shape");
        self.writes.add(&other.writes).expect("same histogram shape");
        for (outcome, count) in other.outcomes {
            *self.outcomes.entry(outcome).or_insert(0) += count;
        }
        self.acked.extend(other.acked);
        self.held += other.held;
        self.passengers_held += other.passengers_held;
        self.sold_out += other.sold_out;
        self.errors += other.errors;
        for sample in other.error_samples {
            if self.error_samples.len() < ERRORS_LISTED_MAX {
                self.error_samples.push(sample);
            }
        }
    }
}
