//! `kalypso prover ...`: the prover backends without a chain. Proving is CPU-bound, so it runs on the blocking
//! pool, never on the async workers.

use crate::{
    opts::{BackendArgs, CircuitArgs, InputsArgs, ProverCmd},
    output::{Output, fields},
};
use anyhow::{Context as _, bail};
use kalypso_provers::{
    CircuitSpec, Groth16Config, InputCheck, ProveRequest, Prover, ProverConfig, ProverInfo,
    ProverKind,
    bench::{self, BenchmarkReport, QuoteSuggestion},
    hex0x,
    server::{self, GatewayOptions},
    setup,
};
use serde::Serialize;
use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

pub(super) async fn run(out: Output, cmd: ProverCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProverCmd::Setup {
            circuit,
            out: dir,
            seed,
        } => {
            setup_keys(out, &circuit, dir, seed.map(|s| s.0)).await?;
        }
        ProverCmd::SampleInputs {
            circuit,
            invalid,
            seed,
        } => sample_inputs(out, &circuit, invalid, seed)?,
        ProverCmd::Check { backend, inputs } => return check(out, &backend, &inputs).await,
        ProverCmd::Prove { backend, inputs } => prove(out, &backend, &inputs).await?,
        ProverCmd::Serve {
            backend,
            listen,
            max_concurrent,
        } => serve(out, &backend, listen, max_concurrent).await?,
        ProverCmd::Benchmark {
            backend,
            runs,
            warmup,
            safety_factor,
            margin,
            inputs,
        } => {
            let inputs = inputs.map(|b| b.to_vec());
            benchmark(out, &backend, runs, warmup, safety_factor, margin, inputs).await?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn spec(args: &CircuitArgs) -> anyhow::Result<CircuitSpec> {
    Ok(args.size.spec(args.circuit)?)
}

/// Runs CPU-heavy work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("the prover thread panicked")?
}

/// The backend of `--config`, or the built-in circuit of `--circuit`/`--size`/`--keys`, with `--threads`.
pub(super) fn prover_config(args: &BackendArgs) -> anyhow::Result<ProverConfig> {
    let threads = args
        .threads
        .map(usize::try_from)
        .transpose()
        .context("--threads is too large")?;
    let mut config = match (&args.config, args.circuit, args.size) {
        (Some(path), _, _) => read_config(path)?,
        (None, Some(circuit), Some(size)) => {
            let spec = size.spec(circuit)?;
            ProverConfig::Groth16(Groth16Config {
                keys_dir: args.keys.clone(),
                ..Groth16Config::new(spec.kind(), spec.size())
            })
        }
        // clap requires --circuit and --size together unless --config is given.
        _ => bail!("pass --circuit and --size, or --config"),
    };
    if let Some(threads) = threads {
        match &mut config {
            ProverConfig::Groth16(c) => c.threads = Some(threads),
            _ => bail!("--threads applies to the built-in groth16 backend only"),
        }
    }
    Ok(config)
}

fn read_config(path: &Path) -> anyhow::Result<ProverConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the prover config {}", path.display()))?;
    let parsed = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(&text).map_err(anyhow::Error::from)
    } else {
        serde_json::from_str(&text).map_err(anyhow::Error::from)
    };
    parsed.with_context(|| {
        format!(
            "{} is not a prover config (expected backend = \"groth16\", \"command\" or \"webhook\" with its \
             fields)",
            path.display()
        )
    })
}

/// Builds the backend (Groth16 keys are loaded or made here, which can take a while).
async fn build(out: Output, args: &BackendArgs) -> anyhow::Result<Arc<dyn Prover>> {
    build_config(out, prover_config(args)?).await
}

/// Builds the backend of `config` on the blocking pool, with a spinner.
pub(super) async fn build_config(
    out: Output,
    config: ProverConfig,
) -> anyhow::Result<Arc<dyn Prover>> {
    let spinner = match &config {
        ProverConfig::Groth16(c) => out.spinner(format!(
            "loading keys of {}-{} (INSECURE seeded setup if missing)",
            c.circuit, c.size
        )),
        _ => out.spinner("preparing the prover"),
    };
    let prover = blocking(move || Ok(config.build()?))
        .await
        .context("cannot build the prover")?;
    spinner.finish_and_clear();
    Ok(prover)
}

fn read_inputs(args: &InputsArgs) -> anyhow::Result<Vec<u8>> {
    if let Some(bytes) = &args.inputs {
        return Ok(bytes.to_vec());
    }
    let path = args
        .inputs_file
        .as_ref()
        .context("pass --inputs or --inputs-file")?;
    crate::parse::file_bytes(path).map_err(anyhow::Error::msg)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SetupOutput {
    circuit: String,
    size: usize,
    constraints: usize,
    domain_size: usize,
    proving_key: PathBuf,
    proving_key_bytes: u64,
    verifier: PathBuf,
    #[serde(with = "hex0x")]
    setup_seed: Vec<u8>,
    seconds: f64,
    insecure: bool,
}

async fn setup_keys(
    out: Output,
    args: &CircuitArgs,
    dir: PathBuf,
    seed: Option<[u8; 32]>,
) -> anyhow::Result<()> {
    let spec = spec(args)?;
    let seed = seed.unwrap_or_else(|| setup::devnet_seed(&spec));
    let spinner = out.spinner(format!(
        "INSECURE setup of {spec} ({} constraints)",
        spec.num_constraints()
    ));
    let started = Instant::now();
    let files = blocking(move || {
        let keys = setup::insecure_setup(spec, seed)?;
        Ok(keys.save(&dir)?)
    })
    .await
    .with_context(|| format!("setup of {spec} failed"))?;
    spinner.finish_and_clear();
    let result = SetupOutput {
        circuit: spec.kind().as_str().to_owned(),
        size: spec.size(),
        constraints: spec.num_constraints(),
        domain_size: spec.domain_size(),
        proving_key_bytes: std::fs::metadata(&files.proving_key).map_or(0, |m| m.len()),
        proving_key: files.proving_key,
        verifier: files.verifier,
        setup_seed: seed.to_vec(),
        seconds: started.elapsed().as_secs_f64(),
        insecure: true,
    };
    out.print(&result, || {
        format!(
            "keys of {spec} written (INSECURE: the toxic waste comes from a public seed, devnets only)\n{}",
            fields([
                (
                    "constraints",
                    format!("{} (domain 2^{})", result.constraints, result.domain_size.ilog2())
                ),
                (
                    "proving key",
                    format!(
                        "{} ({:.1} MB)",
                        result.proving_key.display(),
                        result.proving_key_bytes as f64 / 1e6
                    )
                ),
                ("verifier data", result.verifier.display().to_string()),
                ("setup seed", hex0x::encode(&result.setup_seed)),
                ("took", format!("{:.1}s", result.seconds)),
                (
                    "deploy it",
                    format!("kalypso deploy --sample-market {}", result.verifier.display())
                ),
            ])
        )
    });
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SampleOutput {
    circuit: String,
    size: usize,
    #[serde(with = "hex0x")]
    inputs: Vec<u8>,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn sample_inputs(out: Output, args: &CircuitArgs, invalid: bool, seed: u64) -> anyhow::Result<()> {
    let spec = spec(args)?;
    let (inputs, reason) = if invalid {
        let (inputs, reason) = spec.invalid_sample_inputs();
        (inputs, Some(reason.to_owned()))
    } else {
        (spec.sample_inputs(seed), None)
    };
    let result = SampleOutput {
        circuit: spec.kind().as_str().to_owned(),
        size: spec.size(),
        inputs,
        valid: reason.is_none(),
        reason,
    };
    out.print(&result, || hex0x::encode(&result.inputs));
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CheckOutput {
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

async fn check(
    out: Output,
    backend: &BackendArgs,
    inputs: &InputsArgs,
) -> anyhow::Result<ExitCode> {
    let inputs = read_inputs(inputs)?;
    let prover = build(out, backend).await?;
    let verdict = blocking(move || Ok(prover.check_inputs(&inputs)?))
        .await
        .context("the input check failed")?;
    let result = match verdict {
        InputCheck::Valid => CheckOutput {
            valid: true,
            reason: None,
        },
        InputCheck::Invalid { reason } => CheckOutput {
            valid: false,
            reason: Some(reason),
        },
    };
    out.print(&result, || {
        result.reason.clone().unwrap_or_else(|| "valid".into())
    });
    Ok(if result.valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProveOutput {
    #[serde(with = "hex0x")]
    proof: Vec<u8>,
    proving_time_ms: u64,
    prover: ProverInfo,
}

async fn prove(out: Output, backend: &BackendArgs, inputs: &InputsArgs) -> anyhow::Result<()> {
    let inputs = read_inputs(inputs)?;
    let prover = build(out, backend).await?;
    let info = prover.describe();
    let spinner = out.spinner(format!("proving with {}", info.name));
    let started = Instant::now();
    let proof = blocking(move || Ok(prover.prove(&ProveRequest::new(inputs))?))
        .await
        .context("proving failed")?;
    spinner.finish_and_clear();
    let result = ProveOutput {
        proof: proof.into_bytes(),
        proving_time_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        prover: info,
    };
    out.print(&result, || hex0x::encode(&result.proof));
    Ok(())
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServeOutput {
    listening: String,
    prover: ProverInfo,
}

async fn serve(
    out: Output,
    backend: &BackendArgs,
    listen: std::net::SocketAddr,
    max_concurrent: usize,
) -> anyhow::Result<()> {
    let prover = build(out, backend).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let result = ServeOutput {
        listening: format!("http://{addr}"),
        prover: prover.describe(),
    };
    out.print(&result, || {
        format!(
            "prover gateway for {} listening on {} (Ctrl-C to stop)",
            result.prover.name, result.listening
        )
    });
    let options = GatewayOptions {
        max_concurrent: max_concurrent.max(1),
        ..GatewayOptions::default()
    };
    server::serve(listener, prover, options, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .context("the gateway stopped")
}

/// What a benchmark measured and suggests.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct BenchmarkOutput {
    pub(super) prover: ProverInfo,
    pub(super) warmup: u32,
    pub(super) report: BenchmarkReport,
    pub(super) threads_per_proof: ThreadsPerProof,
    pub(super) suggestion: QuoteSuggestion,
}

async fn benchmark(
    out: Output,
    backend: &BackendArgs,
    runs: u32,
    warmup: u32,
    safety_factor: f64,
    margin: Duration,
    inputs: Option<Vec<u8>>,
) -> anyhow::Result<()> {
    let config = prover_config(backend)?;
    let result = measure(out, config, runs, warmup, safety_factor, margin, inputs).await?;
    out.print(&result, || human_benchmark(&result, None));
    Ok(())
}

/// Benchmarks the backend of `config` (on `inputs`, else its sample inputs, else on the gateway) and
/// suggests a quote.
pub(super) async fn measure(
    out: Output,
    config: ProverConfig,
    runs: u32,
    warmup: u32,
    safety_factor: f64,
    margin: Duration,
    inputs: Option<Vec<u8>>,
) -> anyhow::Result<BenchmarkOutput> {
    if !(safety_factor.is_finite() && safety_factor >= 1.0) {
        bail!("--safety-factor must be at least 1, got {safety_factor}");
    }
    let prover = build_config(out, config).await?;
    let info = prover.describe();
    let request = match inputs {
        Some(inputs) => Some(ProveRequest::new(inputs)),
        None => prover.sample_request(),
    };
    let report = match request {
        Some(request) => {
            let bar = out.progress(u64::from(warmup + runs), format!("{}: warm-up", info.name));
            let name = info.name.clone();
            let progress = bar.clone();
            let report = blocking(move || {
                if let InputCheck::Invalid { reason } = prover.check_request(&request)? {
                    bail!("the benchmark inputs cannot be proven: {reason}");
                }
                for _ in 0..warmup {
                    prover.prove(&request)?;
                    progress.inc(1);
                }
                let mut on_run = |i: u32, took: Duration| {
                    progress.inc(1);
                    progress.set_message(format!(
                        "{name}: run {i}/{runs} took {:.2}s",
                        took.as_secs_f64()
                    ));
                };
                // A command's proofs run in child processes: their CPU time per wall-clock second is the
                // number of cores one proof keeps busy.
                let cpu_before = children_cpu();
                let started = Instant::now();
                let report = bench::run(prover.as_ref(), &request, 0, runs, &mut on_run)?;
                let wall = started.elapsed();
                let cpu = cpu_before
                    .zip(children_cpu())
                    .map(|(a, b)| b.saturating_sub(a));
                Ok((report, cpu.map(|cpu| (cpu, wall))))
            })
            .await
            .context("the benchmark failed")?;
            bar.finish_and_clear();
            report
        }
        None => {
            // A gateway benchmarks itself on its own sample inputs.
            let spinner = out.spinner(format!("{}: {runs} runs on the gateway", info.name));
            let report = blocking(move || Ok(prover.benchmark(runs)?))
                .await
                .context("the benchmark failed")?;
            spinner.finish_and_clear();
            (report, None)
        }
    };
    let (mut report, child_usage) = report;
    let threads = match (report.threads, info.kind, child_usage) {
        (Some(_), _, _) => ThreadsPerProof::Configured,
        (None, ProverKind::Command, Some((cpu, wall))) if !wall.is_zero() => {
            let busy = cpu.as_secs_f64() / wall.as_secs_f64();
            report.threads = Some((busy.round() as u64).max(1));
            ThreadsPerProof::Measured {
                child_cpu_secs: cpu.as_secs_f64(),
                wall_secs: wall.as_secs_f64(),
            }
        }
        (None, ProverKind::Webhook, _) => ThreadsPerProof::Assumed {
            why: "the gateway proves on its own machine; its threads are not visible from here"
                .into(),
        },
        (None, _, _) => ThreadsPerProof::Assumed {
            why: "the backend does not report its threads and its CPU time could not be measured"
                .into(),
        },
    };
    let suggestion =
        bench::suggest_quote(&report, safety_factor, margin, report.threads.unwrap_or(1));
    Ok(BenchmarkOutput {
        prover: info,
        warmup,
        report,
        threads_per_proof: threads,
        suggestion,
    })
}

/// Where a benchmark's threads per proof (and so the suggested computePerProof) come from.
#[derive(Debug, Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "source"
)]
pub(super) enum ThreadsPerProof {
    /// The backend's configuration (`--threads`, or all cores for the built-in prover).
    Configured,
    /// The command's CPU time over the wall-clock time of the timed runs, rounded (at least 1).
    Measured {
        /// CPU seconds (user + system) the command's processes used in the timed runs.
        child_cpu_secs: f64,
        /// Wall-clock seconds of the timed runs.
        wall_secs: f64,
    },
    /// Unknown: 1 is assumed.
    Assumed {
        /// Why it is unknown.
        why: String,
    },
}

/// User + system CPU time of this process's terminated, waited-for children (and theirs), or `None` where it
/// cannot be read.
fn children_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        // SAFETY: `getrusage` only writes the `rusage` it is given, which lives for the call; an all-zero
        // `rusage` is a valid value of this plain C struct.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &raw mut usage) };
        if rc != 0 {
            return None;
        }
        let time = |t: libc::timeval| {
            Duration::from_secs(u64::try_from(t.tv_sec).ok()?)
                .checked_add(Duration::from_micros(u64::try_from(t.tv_usec).ok()?))
        };
        time(usage.ru_utime)?.checked_add(time(usage.ru_stime)?)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Threads per proof and where the figure comes from.
fn threads_text(threads: Option<u64>, source: &ThreadsPerProof) -> String {
    let n = threads.unwrap_or(1);
    match source {
        ThreadsPerProof::Configured => format!("{n} (configured)"),
        ThreadsPerProof::Measured {
            child_cpu_secs,
            wall_secs,
        } => format!(
            "{n} (measured: the command used {child_cpu_secs:.2} CPU-seconds in {wall_secs:.2}s of proving, \
             {:.1} cores busy)",
            child_cpu_secs / wall_secs
        ),
        ThreadsPerProof::Assumed { why } => {
            format!("{n} assumed ({why}; pass the real figure as --compute-per-proof)")
        }
    }
}

/// The table of a benchmark and the `generator join` line it suggests (for `market` when known).
pub(super) fn human_benchmark(b: &BenchmarkOutput, market: Option<u64>) -> String {
    let r = &b.report;
    let s = &b.suggestion;
    let secs = |ms: f64| format!("{:.3}s", ms / 1e3);
    let mut rows = vec![("prover", b.prover.name.clone())];
    if let Some(constraints) = b.prover.constraints {
        rows.push(("constraints", constraints.to_string()));
    }
    rows.extend([
        (
            "threads per proof",
            threads_text(r.threads, &b.threads_per_proof),
        ),
        ("runs", format!("{} (+{} warm-up)", r.runs, b.warmup)),
        ("p50", secs(r.p50_ms)),
        ("p90", secs(r.p90_ms)),
        (
            "min / mean / max",
            format!(
                "{} / {} / {}",
                secs(r.min_ms),
                secs(r.mean_ms),
                secs(r.max_ms)
            ),
        ),
        (
            "suggested maxProofTime",
            format!(
                "{}s (p90 × {} + {}s margin, rounded up)",
                s.max_proof_time_secs, s.safety_factor, s.margin_secs
            ),
        ),
        ("suggested computePerProof", s.compute_per_proof.to_string()),
    ]);
    format!(
        "{}\njoin with: kalypso generator join {} --price <PRICE> --max-proof-time {}s --compute-per-proof {}",
        fields(rows),
        market.map_or_else(|| "<MARKET>".to_owned(), |m| m.to_string()),
        s.max_proof_time_secs,
        s.compute_per_proof
    )
}
