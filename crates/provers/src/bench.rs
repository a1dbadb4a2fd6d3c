//! Benchmarks of a prover and the quote they suggest: seed 004's benchmark step, which tells a generator
//! what `maxProofTime` to commit to and what `computePerProof` one proof occupies.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::prover::{ProveRequest, Prover, ProverError};

/// Proving times of repeated runs of one request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BenchmarkReport {
    /// Timed runs.
    pub runs: u32,
    /// Each run's wall-clock proving time, in milliseconds, in run order.
    pub times_ms: Vec<f64>,
    /// Fastest run.
    pub min_ms: f64,
    /// Median (nearest rank).
    pub p50_ms: f64,
    /// 90th percentile (nearest rank): with few runs, the slowest.
    pub p90_ms: f64,
    /// Slowest run.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Threads one proof used, when the backend knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u64>,
}

impl BenchmarkReport {
    /// The statistics of `times` (at least one).
    pub fn from_times(times: &[Duration], threads: Option<u64>) -> Self {
        let times_ms: Vec<f64> = times.iter().map(|t| t.as_secs_f64() * 1e3).collect();
        let mut sorted = times_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let rank = |p: f64| {
            // Nearest rank: the smallest value with at least p of the runs at or below it.
            let k = (p * n as f64).ceil() as usize;
            sorted.get(k.clamp(1, n.max(1)) - 1).copied().unwrap_or(0.0)
        };
        Self {
            runs: u32::try_from(n).unwrap_or(u32::MAX),
            min_ms: sorted.first().copied().unwrap_or(0.0),
            p50_ms: rank(0.5),
            p90_ms: rank(0.9),
            max_ms: sorted.last().copied().unwrap_or(0.0),
            mean_ms: if n == 0 {
                0.0
            } else {
                times_ms.iter().sum::<f64>() / n as f64
            },
            times_ms,
            threads,
        }
    }
}

/// Proves `request` `warmup` times untimed, then `runs` times timed (at least once), calling `on_run` with
/// the 1-based index and duration of each timed run.
pub fn run<P: Prover + ?Sized>(
    prover: &P,
    request: &ProveRequest,
    warmup: u32,
    runs: u32,
    on_run: &mut dyn FnMut(u32, Duration),
) -> Result<BenchmarkReport, ProverError> {
    for _ in 0..warmup {
        prover.prove(request)?;
    }
    let mut times = Vec::with_capacity(runs.max(1) as usize);
    for i in 1..=runs.max(1) {
        let started = Instant::now();
        prover.prove(request)?;
        let took = started.elapsed();
        times.push(took);
        on_run(i, took);
    }
    Ok(BenchmarkReport::from_times(
        &times,
        prover.describe().threads,
    ))
}

/// The quote a benchmark suggests for `joinMarket`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteSuggestion {
    /// `⌈p90 × safety factor + margin⌉` in seconds: the deadline to commit to (missing it is slashed).
    pub max_proof_time_secs: u64,
    /// Compute units one proof occupies (the threads it used).
    pub compute_per_proof: u64,
    /// The factor applied to p90.
    pub safety_factor: f64,
    /// Seconds added for fetching inputs and submitting the proof on-chain.
    pub margin_secs: u64,
}

/// Suggests `maxProofTime = ⌈p90 × safety_factor + margin⌉` seconds (at least 1) and
/// `computePerProof = compute_per_proof`.
pub fn suggest_quote(
    report: &BenchmarkReport,
    safety_factor: f64,
    margin: Duration,
    compute_per_proof: u64,
) -> QuoteSuggestion {
    let secs = report.p90_ms * safety_factor.max(1.0) / 1e3 + margin.as_secs_f64();
    QuoteSuggestion {
        max_proof_time_secs: (secs.ceil() as u64).max(1),
        compute_per_proof: compute_per_proof.max(1),
        safety_factor,
        margin_secs: margin.as_secs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn percentiles_use_nearest_rank() {
        let r =
            BenchmarkReport::from_times(&ms(&[50, 10, 40, 20, 30, 60, 70, 80, 90, 100]), Some(2));
        assert_eq!(
            (r.min_ms, r.p50_ms, r.p90_ms, r.max_ms),
            (10.0, 50.0, 90.0, 100.0)
        );
        assert_eq!(r.mean_ms, 55.0);
        assert_eq!(r.times_ms[0], 50.0);
        assert_eq!(r.runs, 10);

        let one = BenchmarkReport::from_times(&ms(&[7]), None);
        assert_eq!((one.p50_ms, one.p90_ms), (7.0, 7.0));
        let three = BenchmarkReport::from_times(&ms(&[3, 1, 2]), None);
        assert_eq!((three.p50_ms, three.p90_ms), (2.0, 3.0));
    }

    #[test]
    fn quote_rounds_up_and_adds_margin() {
        let r = BenchmarkReport::from_times(&ms(&[1_200, 2_100]), Some(4));
        let q = suggest_quote(&r, 2.0, Duration::from_secs(30), 4);
        // 2.1 s × 2 + 30 s = 34.2 s → 35 s.
        assert_eq!(q.max_proof_time_secs, 35);
        assert_eq!(q.compute_per_proof, 4);
        let tiny = BenchmarkReport::from_times(&ms(&[1]), None);
        assert_eq!(
            suggest_quote(&tiny, 1.0, Duration::ZERO, 0).max_proof_time_secs,
            1
        );
    }
}
