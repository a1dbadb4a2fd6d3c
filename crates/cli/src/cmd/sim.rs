//! `kalypso sim ...`: the market simulator (no chain). Scenarios are TOML files (see `scenarios/`); results
//! are JSON and SVG plots in `--out`. The simulation is CPU-bound and runs on the blocking pool.

use crate::output::{Output, table};
use anyhow::Context as _;
use clap::Subcommand;
use indicatif::ProgressBar;
use kalypso_sim::{Comparison, Mechanism, Report, Scenario, Simulation, plot};
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

/// `kalypso sim ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SimCmd {
    /// Simulate one mechanism on a scenario: writes DIR/results.json and SVG plots (time to proof, share
    /// proven per hour, Lorenz curve of generator revenue).
    Run {
        /// Scenario file (TOML; every field defaults to the 10,000-generator, 1,000,000-ask day).
        scenario: PathBuf,
        /// Directory for results.json and the plots (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// order-book, proof-race, round-robin, dutch-auction, sealed-first-price or sealed-second-price.
        #[arg(long, default_value = "order-book", value_parser = parse_mechanism)]
        mechanism: Mechanism,
        /// Number of largest generators (capacity x speed) that take tasks and withhold every proof.
        #[arg(long, default_value_t = 0)]
        withheld: usize,
        /// Seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
    },
    /// Run every mechanism on one scenario side by side, then again with the scenario's withholding_k largest
    /// generators colluding: writes DIR/comparison.json and SVG plots (those of `run` plus withholding and
    /// price against latency).
    Compare {
        /// Scenario file (TOML).
        scenario: PathBuf,
        /// Directory for comparison.json and the plots (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed instead of the scenario's.
        #[arg(long)]
        seed: Option<u64>,
    },
}

fn parse_mechanism(s: &str) -> Result<Mechanism, String> {
    s.parse().map_err(|e: kalypso_sim::Error| e.to_string())
}

pub(super) async fn run(out: Output, cmd: SimCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        SimCmd::Run {
            scenario,
            out: dir,
            mechanism,
            withheld,
            seed,
        } => {
            let sim = load(&scenario, seed, &dir)?;
            let bar = out.progress(sim.asks() as u64, format!("{mechanism}"));
            let started = Instant::now();
            let (report, files) = blocking(bar.clone(), move |bar| {
                let report = sim.run(mechanism, withheld, &mut |n, _| bar.set_position(n));
                let path = dir.join("results.json");
                write_json(&path, &report)?;
                let mut files = vec![path];
                files.extend(plot::runs(&dir, std::slice::from_ref(&report))?);
                Ok((report, files))
            })
            .await?;
            bar.finish_and_clear();
            let elapsed = started.elapsed().as_secs_f64();
            print_reports(out, &[&report], &files, elapsed);
        }
        SimCmd::Compare {
            scenario,
            out: dir,
            seed,
        } => {
            let sim = load(&scenario, seed, &dir)?;
            let runs = Mechanism::ALL.len()
                * (1 + sim
                    .scenario()
                    .withholding_k
                    .iter()
                    .filter(|&&k| k > 0)
                    .count());
            let bar = out.progress((sim.asks() * runs) as u64, format!("{runs} runs"));
            let started = Instant::now();
            let (comparison, files) = blocking(bar.clone(), move |bar| {
                let c = sim.compare(&mut |n, _| bar.set_position(n));
                let path = dir.join("comparison.json");
                write_json(&path, &c)?;
                let mut files = vec![path];
                files.extend(plot::comparison(&dir, &c)?);
                Ok((c, files))
            })
            .await?;
            bar.finish_and_clear();
            let elapsed = started.elapsed().as_secs_f64();
            print_comparison(out, &comparison, &files, elapsed);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads and validates the scenario, draws its world, and creates the output directory.
fn load(path: &Path, seed: Option<u64>, dir: &Path) -> anyhow::Result<Simulation> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read scenario {}", path.display()))?;
    let mut scenario =
        Scenario::from_toml(&text).with_context(|| format!("in {}", path.display()))?;
    if let Some(seed) = seed {
        scenario.seed = seed;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(Simulation::new(scenario)?)
}

async fn blocking<T: Send + 'static>(
    bar: ProgressBar,
    f: impl FnOnce(&ProgressBar) -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(move || f(&bar))
        .await
        .context("the simulation thread panicked")?
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))
}

/// What `sim run` prints with --json.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunOut<'a> {
    files: &'a [PathBuf],
    elapsed_seconds: f64,
    report: &'a Report,
}

/// What `sim compare` prints with --json.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CompareOut<'a> {
    files: &'a [PathBuf],
    elapsed_seconds: f64,
    comparison: &'a Comparison,
}

fn rows(reports: &[&Report]) -> String {
    table(
        [
            "mechanism",
            "proven in time",
            "price/proof",
            "p50 / p90 / p99 s",
            "slashes",
            "wasted",
            "util.",
            "gen. profit",
            "Gini",
            "top-10",
        ],
        reports.iter().map(|r| {
            [
                r.mechanism.name().to_owned(),
                format!("{:.2} %", r.served_share * 100.0),
                format!("{:.4}", r.cost_per_proof),
                format!(
                    "{:.0} / {:.0} / {:.0}",
                    r.time_to_proof.p50, r.time_to_proof.p90, r.time_to_proof.p99
                ),
                r.slashes.to_string(),
                format!("{:.1} %", r.wasted_compute_share * 100.0),
                format!("{:.1} %", r.utilisation * 100.0),
                format!("{:.0}", r.generator_profit),
                format!("{:.2}", r.gini),
                format!("{:.1} %", r.top10_share * 100.0),
            ]
        }),
    )
}

fn print_reports(out: Output, reports: &[&Report], files: &[PathBuf], elapsed: f64) {
    let value = RunOut {
        files,
        elapsed_seconds: elapsed,
        report: reports[0],
    };
    out.print(&value, || {
        let r = reports[0];
        format!(
            "{} asks, {} generators ({}, seed {}, {} withholding) in {elapsed:.1} s\n{}\nwrote {}",
            r.asks,
            r.generators,
            r.scenario,
            r.seed,
            r.withheld,
            rows(reports),
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
}

fn print_comparison(out: Output, c: &Comparison, files: &[PathBuf], elapsed: f64) {
    let value = CompareOut {
        files,
        elapsed_seconds: elapsed,
        comparison: c,
    };
    out.print(&value, || {
        let reports: Vec<&Report> = c.reports.iter().collect();
        let ks: Vec<usize> = {
            let mut k: Vec<usize> = c.withholding.iter().map(|p| p.k).collect();
            k.sort_unstable();
            k.dedup();
            k
        };
        let mut withholding =
            String::from("proven in time when the k largest generators withhold:\n");
        for m in Mechanism::ALL {
            let line: Vec<String> = ks
                .iter()
                .filter_map(|&k| {
                    c.withholding
                        .iter()
                        .find(|p| p.mechanism == m && p.k == k)
                        .map(|p| format!("k={k}: {:.2} %", p.served_share * 100.0))
                })
                .collect();
            withholding.push_str(&format!("  {:20} {}\n", m.name(), line.join("  ")));
        }
        format!(
            "{} ({} asks, seed {}) in {elapsed:.1} s\n{}\n{}wrote {}",
            c.scenario.name,
            reports.first().map_or(0, |r| r.asks),
            c.scenario.seed,
            rows(&reports),
            withholding,
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    });
}
