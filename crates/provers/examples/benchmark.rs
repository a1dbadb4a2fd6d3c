//! Proving-time benchmark of the built-in circuits: the library code behind `kalypso prover benchmark`,
//! without the CLI's dependencies, so a release build is quick.
//!
//! ```text
//! cargo run --release -p kalypso-provers --example benchmark -- [--runs N] [--threads 1,2] [CIRCUIT:SIZE ...]
//! ```
//!
//! `SIZE` is a number (rounds, depth) or `2^K` (the largest size of a 2^K-point domain). Default: `mimc` and
//! `merkle` at 2^14, 2^16 and 2^18, 5 runs after one warm-up, 1 and 2 threads. Prints a Markdown table
//! (setup time, proving-key size, p50/p90 proving time, suggested maxProofTime) and the raw reports as JSON
//! lines on stderr.

use std::{io::Write, time::Instant};

use ark_serialize::CanonicalSerialize;
use kalypso_provers::{
    CircuitKind, CircuitSpec, Groth16Prover, ProveRequest, Prover, bench, setup,
};

type BoxError = Box<dyn std::error::Error>;

fn parse_spec(s: &str) -> Result<CircuitSpec, BoxError> {
    let (circuit, size) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not CIRCUIT:SIZE"))?;
    let kind: CircuitKind = circuit.parse()?;
    Ok(match size.strip_prefix("2^") {
        Some(k) => CircuitSpec::largest_in_domain(kind, k.parse()?)?,
        None => CircuitSpec::new(kind, size.parse()?)?,
    })
}

fn main() -> Result<(), BoxError> {
    let mut runs = 5u32;
    let mut threads = vec![1usize, 2];
    let mut specs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().ok_or("--runs N")?.parse()?,
            "--threads" => {
                threads = args
                    .next()
                    .ok_or("--threads T[,T...]")?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            spec => specs.push(parse_spec(spec)?),
        }
    }
    if specs.is_empty() {
        for kind in CircuitKind::ALL {
            for k in [14, 16, 18] {
                specs.push(CircuitSpec::largest_in_domain(kind, k)?);
            }
        }
    }

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "| circuit | constraints | domain | setup | pk | threads | p50 | p90 | min | max | maxProofTime |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    for spec in specs {
        let started = Instant::now();
        let keys = std::sync::Arc::new(setup::insecure_setup(spec, setup::devnet_seed(&spec))?);
        let setup_secs = started.elapsed().as_secs_f64();
        let pk_mb = keys.proving_key().uncompressed_size() as f64 / 1e6;
        let request = ProveRequest::new(spec.sample_inputs(0));
        for &t in &threads {
            let prover = Groth16Prover::new(keys.clone()).with_threads(t)?;
            let report = bench::run(&prover, &request, 1, runs, &mut |_, _| {})?;
            let quote =
                bench::suggest_quote(&report, 2.0, std::time::Duration::from_secs(30), t as u64);
            writeln!(
                out,
                "| {spec} | {} | 2^{} | {setup_secs:.1} s | {pk_mb:.0} MB | {t} | {:.2} s | {:.2} s | {:.2} s | {:.2} s | {} s |",
                spec.num_constraints(),
                spec.domain_size().ilog2(),
                report.p50_ms / 1e3,
                report.p90_ms / 1e3,
                report.min_ms / 1e3,
                report.max_ms / 1e3,
                quote.max_proof_time_secs,
            )?;
            out.flush()?;
            let info = prover.describe();
            writeln!(
                std::io::stderr(),
                "{}",
                serde_json::json!({ "prover": info, "setupSecs": setup_secs, "report": report, "suggestion": quote })
            )?;
        }
    }
    Ok(())
}
