//! `kalypso devnet`: the whole marketplace on this machine, a stream of asks through it, a report per ask.

use crate::{
    opts::{DevnetArgs, GlobalArgs},
    output::{Output, fields},
};
use anyhow::Context as _;
use kalypso_devnet::{Circuits, Devnet, DevnetConfig, Progress, ProgressMode, Report, demo_plan};
use kalypso_provers::{CircuitKind, CircuitSpec};
use serde::Serialize;
use std::{path::PathBuf, process::ExitCode};

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
    let problems = report.problems();
    out.print(
        &DevnetRun {
            dir: dir.clone(),
            rpc_url: devnet.rpc_url(),
            engine_url: &devnet.engine_url,
            markets: &devnet.provisioned.markets,
            generators: &devnet.config().generators,
            report: &report,
            problems: problems.clone(),
        },
        || {
            let mut text = report.render(devnet.provisioned.payment_decimals);
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
        if !global.json {
            out.print_line(&format!(
                "devnet running; Ctrl-C stops it\n{}\ntry: KALYPSO_RPC_URL={} KALYPSO_DEPLOYMENT={} kalypso market list",
                fields(rows),
                devnet.rpc_url(),
                dir.join("deployment.json").display()
            ));
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
