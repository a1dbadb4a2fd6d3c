//! The portal in a real headless Chromium (Debian's `chromium`, installed by `scripts/setup.sh`; driven by
//! `portal/tests/browser.mjs` with playwright-core) against a devnet this test starts: the markets page matches the
//! engine's API, a new ask appears live, an ask created through the wallet flow (an injected EIP-1193 provider
//! backed by anvil's dev account) is matched and proven and its timeline shows every step, an unknown ask shows the
//! not-found page, and the page says so while the engine or the chain's RPC is stopped and recovers when it is back.
//!
//! `cargo test -p kalypso-cli --test portal`; with `UPDATE_SCREENSHOTS=1` it also writes each page's screenshot to
//! `docs/portal/`.

use kalypso_devnet::{
    Devnet, DevnetConfig, Expected, GeneratorProfile, Progress, ProgressMode, Role, demo_plan,
};
use kalypso_test_utils::{anvil_path, repo_root};
use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

fn quiet() -> Progress {
    Progress::new(ProgressMode::Quiet, &[])
}

/// `node portal/tests/browser.mjs <phase>` with the devnet's endpoints.
fn browser(devnet: &Devnet, phase: &str) -> Command {
    let market = &devnet.provisioned.markets[0];
    let mut command = Command::new("node");
    command
        .current_dir(repo_root())
        .arg("portal/tests/browser.mjs")
        .arg(phase)
        .env("PORTAL_URL", &devnet.portal_url)
        .env("RPC_URL", devnet.rpc_url())
        .env("REQUESTER", Role::Requester.signer().address().to_string())
        .env("ASK_MARKET", market.id.to_string())
        .env(
            "ASK_INPUTS",
            format!(
                "0x{}",
                alloy::hex::encode(market.circuit.sample_inputs(90_000))
            ),
        );
    if std::env::var_os("UPDATE_SCREENSHOTS").is_some() {
        command.env("SCREENSHOTS", repo_root().join("docs/portal"));
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // the figures it measures, for docs/benchmarks.md
async fn the_portal_in_chromium() {
    let dir = tempfile::Builder::new()
        .prefix("kalypso-portal-")
        .tempdir()
        .expect("temp dir");
    let mut config = DevnetConfig::demo(
        PathBuf::from(env!("CARGO_BIN_EXE_kalypso")),
        anvil_path(),
        dir.path().to_owned(),
    );
    config.generators = GeneratorProfile::demo()
        .into_iter()
        .filter(|g| g.runs_node)
        .collect();
    let devnet = Devnet::start(config, &quiet())
        .await
        .expect("the devnet starts");
    // Some history first, so the markets have figures.
    let plan: Vec<_> = demo_plan(&devnet.provisioned.markets, 5)
        .into_iter()
        .filter(|p| p.expected == Expected::Proof)
        .collect();
    let report = devnet
        .run_workload(&plan, 2.0, Duration::from_secs(180), &quiet())
        .await
        .expect("the workload finishes");
    assert!(report.problems().is_empty(), "{:?}", report.problems());

    let output = browser(&devnet, "pages").output().expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "browser test (pages) failed:\n{stdout}\n{}\nportal log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        kalypso_devnet::tail(&dir.path().join("portal.log"), 20)
    );
    // The figures (first paint, live-feed delay) for docs/benchmarks.md, shown with --nocapture.
    eprintln!("portal findings: {}", stdout.trim());

    // The engine stops: the page says so; it comes back: the page recovers. The same for the chain's RPC.
    devnet.stop("engine").await.expect("stop the engine");
    outage(&devnet, "engine-down", "ENGINE_DOWN_SEEN", async || {
        devnet.restart("engine").await.expect("restart the engine");
    })
    .await;
    devnet.stop_chain().await.expect("stop the chain");
    outage(&devnet, "rpc-down", "RPC_DOWN_SEEN", async || {
        devnet.resume_chain().await.expect("resume the chain");
    })
    .await;
    devnet.shutdown().await;
}

/// Runs the browser `phase` while something is down: once it prints `marker` (the page said so), `back` brings it
/// back and the phase must see the page recover.
async fn outage(devnet: &Devnet, phase: &str, marker: &str, back: impl AsyncFnOnce()) {
    let mut child = browser(devnet, phase)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node");
    let stdout = child.stdout.take().expect("piped");
    let (seen_tx, seen_rx) = std::sync::mpsc::channel();
    let wanted = marker.to_owned();
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains(&wanted) {
                let _ = seen_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let seen = tokio::task::spawn_blocking(move || seen_rx.recv_timeout(Duration::from_secs(60)))
        .await
        .expect("join");
    back().await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("join")
        .expect("node exits");
    let lines = reader.join().expect("reader");
    assert!(seen.is_ok(), "{phase}: the page never said so: {lines:?}");
    assert!(status.success(), "browser test ({phase}) failed: {lines:?}");
}
