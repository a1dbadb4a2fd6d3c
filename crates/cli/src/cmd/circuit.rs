//! `kalypso circuit ...`: circuit packages (no chain needed).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Instant,
};

use anyhow::Context as _;
use clap::Subcommand;
use kalypso_package::{Package, PackageRef, server};
use kalypso_provers::PrivateInputs;

use crate::output::{Output, fields, table};

/// `kalypso circuit ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum CircuitCmd {
    /// Write circuit.toml for a circom/snarkjs build directory: one .wasm and one .zkey,
    /// verification_key.json, and a sample (input.json, proof.json, public.json from `snarkjs groth16
    /// fullprove`). Name the circuit's public inputs in declaration order; the other public signals (first
    /// in snarkjs's order) become outputs out0, out1, ... Then `circuit check` and `circuit pack`.
    Init {
        /// The build directory (the package).
        dir: PathBuf,
        /// The package's name [default: the directory's name].
        #[arg(long)]
        name: Option<String>,
        /// A public input signal the ask supplies (repeat, in declaration order; `a[0]` for array elements).
        #[arg(long = "public-input", value_name = "SIGNAL", required = true)]
        public_inputs: Vec<String>,
        /// The ask's prover data carries the circuit's private inputs as a JSON object after the public
        /// words (else the circuit may have no private inputs).
        #[arg(long)]
        private_json: bool,
        /// The circuit's private inputs are the ask's secret (a confidential market): a JSON object that only
        /// the requester and the assigned generator's enclave see; the prover data holds the public words
        /// only.
        #[arg(long, conflicts_with = "private_json")]
        private_secret: bool,
    },
    /// Check a package offline: every file's sha256, the sample proof against the verifying key, the public
    /// signal layout against the sample, and (circom) that the wasm, the zkey and the key belong together.
    Check {
        /// The package directory.
        dir: PathBuf,
        /// Also prove the sample natively and verify the proof in the verifier's layout (circom).
        #[arg(long)]
        prove: bool,
    },
    /// Write the sha256 of every file into circuit.toml's [files] table and print the package's hash (the
    /// sha256 of circuit.toml, which markets carry).
    Pack {
        /// The package directory.
        dir: PathBuf,
    },
    /// Serve packages by hash over HTTP for generators and IVSs: GET /packages/<sha256>/<file>. Prints each
    /// package's URL for `market create --circuit DIR --url URL`.
    Serve {
        /// Package directories (each checked at start).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8790")]
        listen: SocketAddr,
    },
    /// Encode a snarkjs input.json as an ask's prover data for the package (hex, for `ask create --inputs
    /// @FILE`): the public inputs as 32-byte words, then the private inputs as JSON when the package takes
    /// them.
    Inputs {
        /// The package directory.
        dir: PathBuf,
        /// The input JSON (signal name → value).
        input: PathBuf,
    },
    /// Fetch a package the way generators do (from a market's metadata URL and hash: file:// or http(s)://),
    /// check every hash and cache it; prints where it is cached.
    Fetch {
        /// The package's URL (the directory holding circuit.toml).
        url: String,
        /// The sha256 of its circuit.toml.
        #[arg(long)]
        sha256: String,
    },
}

pub(crate) async fn run(out: Output, cmd: CircuitCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        CircuitCmd::Init {
            dir,
            name,
            public_inputs,
            private_json,
            private_secret,
        } => {
            let name = match name {
                Some(n) => n,
                None => dir_name(&dir)?,
            };
            let private = match (private_json, private_secret) {
                (true, _) => PrivateInputs::Json,
                (_, true) => PrivateInputs::Secret,
                _ => PrivateInputs::None,
            };
            let path = kalypso_package::init(&dir, &name, &public_inputs, private)?;
            out.print(&serde_json::json!({ "manifest": path }), || {
                format!(
                    "wrote {}\nnext: kalypso circuit check {d} && kalypso circuit pack {d}",
                    path.display(),
                    d = dir.display()
                )
            });
        }
        CircuitCmd::Pack { dir } => {
            let package = blocking(move || Ok(kalypso_package::pack(&dir)?)).await?;
            let files = package.verify_files()?;
            out.print(
                &serde_json::json!({
                    "name": package.manifest().name,
                    "sha256": package.sha256_hex(),
                    "files": files,
                }),
                || {
                    let rows = files
                        .iter()
                        .map(|f| [f.path.clone(), f.size.to_string(), f.sha256.clone()]);
                    format!(
                        "{}\npackage {} sha256 {}",
                        table(["file", "bytes", "sha256"], rows),
                        package.manifest().name,
                        package.sha256_hex()
                    )
                },
            );
        }
        CircuitCmd::Check { dir, prove } => {
            let spinner = out.spinner("checking the package (hashes, key, sample proof)");
            let checked = blocking(move || {
                let package = Package::open(&dir)?;
                let report = package.check()?;
                let proved = if prove {
                    Some(prove_sample(&package)?)
                } else {
                    None
                };
                anyhow::Ok((package, report, proved))
            })
            .await;
            spinner.finish_and_clear();
            let (package, report, proved) = checked?;
            let mut json = serde_json::to_value(&report)?;
            json["verifier"] = serde_json::json!({
                "numInputs": report.verifier.num_inputs,
                "vkBytes": report.verifier.vk.len(),
                "sampleInputBytes": report.verifier.inputs.len(),
            });
            if let Some(secs) = proved {
                json["sampleProvedSecs"] = secs.into();
            }
            out.print(&json, || {
                let mut rows = vec![
                    ("package", report.name.clone()),
                    ("sha256", report.sha256.clone()),
                    ("framework", report.framework.to_string()),
                    (
                        "public signals",
                        format!(
                            "{} ({} from the ask, {} from the proof)",
                            report.num_public_signals, report.num_inputs, report.num_outputs
                        ),
                    ),
                    (
                        "private inputs",
                        format!("{:?}", package.manifest().public.private_inputs).to_lowercase(),
                    ),
                ];
                if let Some(c) = report.constraints {
                    rows.push(("constraints", c.to_string()));
                }
                rows.push((
                    "files",
                    format!("{} (every sha256 matches)", report.files.len()),
                ));
                rows.push(("sample proof", "verifies".into()));
                if let Some(secs) = proved {
                    rows.push((
                        "native proof",
                        format!("{secs:.2}s, verifies in the verifier's layout"),
                    ));
                }
                format!("{}\nok", fields(rows))
            });
        }
        CircuitCmd::Serve { dirs, listen } => {
            let packages = dirs
                .iter()
                .map(|d| Package::open(d))
                .collect::<Result<Vec<_>, _>>()?;
            let (router, served) = server::router(packages)?;
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            let addr = listener.local_addr()?;
            for s in &served {
                out.note(&format!(
                    "serving {} at http://{addr}{} (sha256 {})",
                    s.name, s.path, s.sha256
                ));
            }
            tracing::info!(target: "kalypso::package", %addr, packages = served.len(), "serving circuit packages");
            server::serve(listener, router, super::shutdown_signal()).await?;
        }
        CircuitCmd::Inputs { dir, input } => {
            let package = Package::open(&dir)?;
            let json: serde_json::Value = serde_json::from_slice(
                &std::fs::read(&input)
                    .with_context(|| format!("cannot read {}", input.display()))?,
            )
            .with_context(|| format!("{} is not JSON", input.display()))?;
            let data = package.prover_data(&json)?;
            let hex = format!("0x{}", hex::encode(&data));
            out.print(&serde_json::json!({ "proverData": hex }), || hex.clone());
        }
        CircuitCmd::Fetch { url, sha256 } => {
            let metadata = serde_json::json!({ "package": { "sha256": sha256, "url": url } });
            let r = PackageRef::from_metadata(metadata.to_string().as_bytes())
                .context("not a package reference")??;
            let package = fetch(out, r).await?;
            out.print(
                &serde_json::json!({
                    "name": package.manifest().name,
                    "sha256": package.sha256_hex(),
                    "dir": package.dir(),
                }),
                || {
                    format!(
                        "{} cached at {}",
                        package.manifest().name,
                        package.dir().display()
                    )
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Resolves a package through the default cache, showing each fetched file.
pub(crate) async fn fetch(out: Output, r: PackageRef) -> anyhow::Result<Package> {
    let spinner = out.spinner(format!("fetching package {}", r.url));
    let progress_bar = spinner.clone();
    let url = r.url.clone();
    let package = blocking(move || {
        let cache = kalypso_package::Cache::default_location();
        cache
            .resolve(&r, &mut |file, bytes| {
                progress_bar.set_message(format!("fetched {file} ({bytes} bytes)"));
            })
            .map_err(anyhow::Error::from)
    })
    .await;
    spinner.finish_and_clear();
    package.with_context(|| format!("the market's circuit package at {url}"))
}

/// Proves the package's sample with the package's prover and verifies it as the market's verifier would;
/// returns the seconds.
fn prove_sample(package: &Package) -> anyhow::Result<f64> {
    let prover = package.prover_config()?.build()?;
    let request = prover
        .sample_request()
        .context("the package's prover has no sample inputs")?;
    let started = Instant::now();
    let proof = prover.prove(&request)?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        package.verify_submission(&request.prover_data, proof.as_bytes())?,
        "the native proof of the sample does not verify in the verifier's layout"
    );
    Ok(secs)
}

fn dir_name(dir: &Path) -> anyhow::Result<String> {
    let abs = std::fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
    abs.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .context("name the package with --name")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> anyhow::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .context("the package task panicked")?
}
