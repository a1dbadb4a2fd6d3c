//! `kalypso devnet`: the whole marketplace on this machine, a stream of asks through it, a report per ask.

use crate::{
    opts::{DevnetArgs, GlobalArgs},
    output::{Output, fields},
};
use anyhow::Context as _;
use kalypso_devnet::{
    Circuits, Devnet, DevnetConfig, Progress, ProgressMode, Report, RestakedSlash, RestakingConfig,
    demo_plan,
};
use kalypso_provers::{CircuitKind, CircuitSpec};
use serde::Serialize;
use std::{path::PathBuf, process::ExitCode, time::Duration};

/// `kalypso devnet --json`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DevnetRun<'a> {
    dir: PathBuf,
    rpc_url: &'a str,
    engine_url: &'a str,
    markets: &'a [kalypso_devnet::DevnetMarket],
    generators: &'a [kalypso_devnet::GeneratorProfile],
    report: &'a Report,
    /// Slashes of restaked collateral and their status on the L1 (with restaking).
    restaked_slashes: &'a [RestakedSlash],
    problems: Vec<String>,
}

pub(super) async fn run(global: &GlobalArgs, args: DevnetArgs) -> anyhow::Result<ExitCode> {
    // Checked before anything starts: a bad size would otherwise fail after anvil and the deployment.
    CircuitSpec::new(CircuitKind::Mimc, args.mimc_rounds).context("--mimc-rounds")?;
    CircuitSpec::new(CircuitKind::Merkle, args.merkle_depth).context("--merkle-depth")?;
    let out = Output::new(global.json);
    // A temporary directory is removed after a clean run (kept with --keep, on failure, or when given).
    let temporary = args.dir.is_none() && !args.keep;
    let dir = match args.dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!(
            "kalypso-devnet-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        )),
    };
    let anvil = args.anvil.unwrap_or_else(|| {
        let pinned = PathBuf::from(".tools/bin/anvil");
        if pinned.exists() {
            pinned
        } else {
            PathBuf::from("anvil")
        }
    });
    let kalypso = std::env::current_exe().context("cannot find the kalypso executable")?;
    let mut config = DevnetConfig::demo(kalypso, anvil, dir.clone());
    let mut restaking_note = None;
    if !args.no_restaking {
        let mut restaking = RestakingConfig::checkout(std::path::Path::new("."));
        if let Some(project) = args.l1_project {
            restaking.project = project;
        }
        if let Some(forge) = args.forge {
            restaking.forge = forge;
        }
        restaking.epoch = args.l1_epoch;
        if restaking.available() {
            config = config.with_restaking(restaking);
        } else {
            restaking_note = Some(format!(
                "restaking off: no L1 project with Symbiotic at {} or no forge at {} (run from a checkout after \
                 scripts/setup.sh, or pass --l1-project and --forge)",
                restaking.project.display(),
                restaking.forge.display()
            ));
        }
    }
    config.rpc_url = args.node;
    config.block_time = args.block_time;
    config.fallback_delay = args.fallback_delay;
    config.circuits = Circuits {
        mimc_rounds: args.mimc_rounds,
        merkle_depth: args.merkle_depth,
    };
    let mode = if global.json {
        ProgressMode::Quiet
    } else {
        ProgressMode::Auto
    };
    let startup = Progress::new(mode, &[]);
    startup.step(&format!("working directory {}", dir.display()));
    if let Some(note) = &restaking_note {
        startup.note(note);
    }

    let devnet = tokio::select! {
        devnet = Devnet::start(config, &startup) => devnet?,
        () = super::shutdown_signal() => {
            startup.note("devnet: interrupted during start-up");
            return Ok(ExitCode::from(130));
        }
    };
    let plan = demo_plan(&devnet.provisioned.markets, args.asks as usize);
    let planned: Vec<(String, u64)> = devnet
        .provisioned
        .markets
        .iter()
        .enumerate()
        .map(|(i, m)| {
            (
                m.name.clone(),
                plan.iter().filter(|p| p.market == i).count() as u64,
            )
        })
        .collect();
    let progress = Progress::new(mode, &planned);
    progress.step(&format!(
        "placing {} asks at {}/s (engine API {})",
        plan.len(),
        args.rate,
        devnet.engine_url
    ));
    let report = tokio::select! {
        report = devnet.run_workload(&plan, args.rate, args.timeout, &progress) => report,
        () = super::shutdown_signal() => {
            progress.finish();
            progress.note("devnet: interrupted; stopping the services");
            devnet.shutdown().await;
            return Ok(ExitCode::from(130));
        }
    };
    progress.finish();
    let report = match report {
        Ok(report) => report,
        Err(e) => {
            let logs = devnet.services.list().await;
            devnet.shutdown().await;
            let logs: Vec<String> = logs
                .into_iter()
                .map(|(name, _, restarts, log)| {
                    format!("  {name}: {} (restarts: {restarts})", log.display())
                })
                .collect();
            return Err(e.context(format!(
                "the demo failed; service logs:\n{}",
                logs.join("\n")
            )));
        }
    };
    let mut problems = report.problems();
    // Slashes of restaked collateral end on the L1: executed after the veto period.
    let restaked_slashes = match devnet.restaking() {
        None => Vec::new(),
        Some(_) => {
            let veto = devnet
                .config()
                .restaking
                .as_ref()
                .map_or(0, |r| r.veto_duration);
            progress.step("waiting for the restaked slashes to be executed on the L1");
            match devnet
                .wait_restaked_slashes_closed(Duration::from_secs(veto + 60))
                .await
            {
                Ok(slashes) => slashes,
                Err(e) => {
                    problems.push(format!("{e:#}"));
                    devnet.restaked_slashes().await.unwrap_or_default()
                }
            }
        }
    };
    out.print(
        &DevnetRun {
            dir: dir.clone(),
            rpc_url: devnet.rpc_url(),
            engine_url: &devnet.engine_url,
            markets: &devnet.provisioned.markets,
            generators: &devnet.config().generators,
            report: &report,
            restaked_slashes: &restaked_slashes,
            problems: problems.clone(),
        },
        || {
            let mut text = report.render(devnet.provisioned.payment_decimals);
            if !restaked_slashes.is_empty() {
                text.push_str("\nslashes of restaked collateral, bridged to the L1:\n");
                text.push_str(&crate::output::table(
                    [
                        "slash",
                        "generator",
                        "task",
                        "amount",
                        "capture",
                        "on the L1",
                    ],
                    restaked_slashes.iter().map(|s| {
                        [
                            s.slash.slash_id.to_string(),
                            s.generator.clone(),
                            s.slash.task.to_string(),
                            format!(
                                "{} POND",
                                kalypso_devnet::report::tokens(
                                    alloy::primitives::U256::from(s.slash.amount),
                                    18
                                )
                            ),
                            s.slash.capture_timestamp.to_string(),
                            format!("{:?}", s.l1_status).to_lowercase(),
                        ]
                    }),
                ));
            }
            if problems.is_empty() {
                text.push_str("\n✓ every ask ended as expected");
            } else {
                text.push_str(&format!(
                    "\n✗ {} ask(s) did not end as expected:\n  {}",
                    problems.len(),
                    problems.join("\n  ")
                ));
            }
            text
        },
    );

    if args.keep {
        let mut rows = vec![
            ("portal (browser)", devnet.portal_url.clone()),
            ("chain (JSON-RPC)", devnet.rpc_url().to_owned()),
            ("matching engine API", devnet.engine_url.clone()),
            (
                "  events (websocket)",
                format!("{}/v1/events", devnet.engine_url.replace("http", "ws")),
            ),
            ("  metrics", format!("{}/metrics", devnet.engine_url)),
            ("IVS (Merkle market)", devnet.ivs_url.clone()),
            (
                "circuit packages",
                format!("{}/packages", devnet.packages_url),
            ),
            (
                "deployment file",
                dir.join("deployment.json").display().to_string(),
            ),
            ("logs and databases", dir.display().to_string()),
        ];
        for (name, market, url) in &devnet.confidential_ivs {
            rows.push((
                "IVS (confidential)",
                format!("{name} (market {market}): {url}"),
            ));
        }
        for (name, url) in &devnet.generator_urls {
            rows.push(("generator node", format!("{name}: {url}/v1/tasks")));
        }
        if let Some(r) = devnet.restaking() {
            rows.push(("L1 (JSON-RPC)", r.l1_rpc_url.to_owned()));
            rows.push(("  Kalypso middleware", r.l1.middleware.to_string()));
            rows.push((
                "  L1 deployment file",
                dir.join("l1-deployment.json").display().to_string(),
            ));
            rows.push(("restaking pool (L2)", r.pool.to_string()));
        }
        if !global.json {
            let env = format!(
                "KALYPSO_RPC_URL={} KALYPSO_DEPLOYMENT={}",
                devnet.rpc_url(),
                dir.join("deployment.json").display()
            );
            let mut text = format!(
                "devnet running; Ctrl-C stops it\n{}\ntry: {env} kalypso market list",
                fields(rows)
            );
            if let Some(r) = devnet.restaking() {
                text.push_str(&format!(
                    "\n     {env} kalypso restaking status --generator {} --l1-rpc-url {} --l1-middleware {}",
                    r.l1.vaults.first().map(|v| v.operator).unwrap_or_default(),
                    r.l1_rpc_url,
                    r.l1.middleware
                ));
            }
            out.print_line(&text);
        }
        super::shutdown_signal().await;
    }
    devnet.shutdown().await;
    if temporary && problems.is_empty() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
