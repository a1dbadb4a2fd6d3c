//! `kalypso sim ...`: runs and comparisons write their JSON and SVG plots; bad input gets a clear error.

use assert_cmd::Command;
use kalypso_test_utils::repo_root;
use predicates::prelude::*;
use serde_json::Value;

fn kalypso() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kalypso"));
    cmd.env_remove("KALYPSO_LOG");
    cmd
}

fn smoke() -> std::path::PathBuf {
    repo_root().join("scenarios/smoke.toml")
}

fn json(cmd: &mut Command) -> Value {
    let output = cmd.arg("--json").output().expect("kalypso runs");
    assert!(
        output.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

fn assert_svg(path: &std::path::Path) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        text.starts_with("<svg") && text.contains("</svg>"),
        "{} is not an SVG",
        path.display()
    );
}

#[test]
fn run_writes_results_and_plots() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = json(
        kalypso()
            .args([
                "sim",
                "run",
                "--mechanism",
                "dutch-auction",
                "--withheld",
                "2",
                "--out",
            ])
            .arg(dir.path())
            .arg(smoke()),
    );
    let report = &out["report"];
    assert_eq!(report["mechanism"], "dutch-auction");
    assert_eq!(report["withheld"], 2);
    assert!(report["asks"].as_u64().expect("asks") > 100);
    assert_eq!(report["capacity_violations"], 0);
    assert_eq!(report["money"]["conserved"], true);
    // The file holds the same report (without the run's wall time).
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("results.json")).expect("results.json"),
    )
    .expect("JSON file");
    assert_eq!(&file, report);
    for name in [
        "time-to-proof.svg",
        "served-per-hour.svg",
        "earnings-lorenz.svg",
    ] {
        assert_svg(&dir.path().join(name));
    }
}

#[test]
fn compare_runs_every_mechanism_with_and_without_withholding() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = json(
        kalypso()
            .args(["sim", "compare", "--out"])
            .arg(dir.path())
            .arg(smoke()),
    );
    let c = &out["comparison"];
    let names: Vec<&str> = c["reports"]
        .as_array()
        .expect("reports")
        .iter()
        .map(|r| r["mechanism"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        [
            "order-book",
            "proof-race",
            "round-robin",
            "dutch-auction",
            "sealed-first-price",
            "sealed-second-price"
        ]
    );
    // withholding_k = [0, 3]: two points per mechanism.
    assert_eq!(c["withholding"].as_array().expect("points").len(), 12);
    for name in [
        "withholding.svg",
        "cost-vs-latency.svg",
        "time-to-proof.svg",
    ] {
        assert_svg(&dir.path().join(name));
    }
    assert!(dir.path().join("comparison.json").is_file());
    // Human output: one table row per mechanism.
    kalypso()
        .args(["sim", "compare", "--out"])
        .arg(dir.path())
        .arg(smoke())
        .assert()
        .success()
        .stdout(
            predicate::str::contains("sealed-second-price").and(predicate::str::contains("k=3")),
        );
}

#[test]
fn bad_scenarios_and_mechanisms_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[generators]\ncount = 0\n").expect("write");
    kalypso()
        .args(["sim", "run", "--out"])
        .arg(dir.path())
        .arg(&bad)
        .assert()
        .failure()
        .stderr(predicate::str::contains(
            "generators.count: must be between 1 and 1,000,000",
        ));
    kalypso()
        .args(["sim", "run", "--mechanism", "lottery", "--out"])
        .arg(dir.path())
        .arg(smoke())
        .assert()
        .failure()
        .stderr(predicate::str::contains("unknown mechanism \"lottery\""));
    kalypso()
        .args(["sim", "compare", "--out"])
        .arg(dir.path())
        .arg(dir.path().join("missing.toml"))
        .assert()
        .failure()
        .stderr(predicate::str::contains("cannot read scenario"));
}
