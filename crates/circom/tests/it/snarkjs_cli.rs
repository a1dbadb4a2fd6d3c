//! snarkjs itself, from `$KALYPSO_NODE_BIN` or the pinned toolchain (`scripts/setup.sh`).

use std::{
    path::{Path, PathBuf},
    process::Command,
};

/// The snarkjs CLI.
pub(crate) fn snarkjs() -> PathBuf {
    let bin = std::env::var_os("KALYPSO_NODE_BIN").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/node_modules/.bin"),
        PathBuf::from,
    );
    bin.join("snarkjs")
}

/// Runs `snarkjs groth16 verify` on the three documents; returns whether it accepted and its output.
pub(crate) fn groth16_verify(
    dir: &Path,
    vk: &serde_json::Value,
    public: &serde_json::Value,
    proof: &serde_json::Value,
) -> (bool, String) {
    let write = |name: &str, v: &serde_json::Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(v).expect("json")).expect("write");
        path
    };
    let (vk, public, proof) = (
        write("vk.json", vk),
        write("public.json", public),
        write("proof.json", proof),
    );
    let (ok, text) = run_snarkjs(&[
        "groth16".as_ref(),
        "verify".as_ref(),
        vk.as_os_str(),
        public.as_os_str(),
        proof.as_os_str(),
    ]);
    // snarkjs prints `OK!` and exits 0 only for a valid proof.
    (ok && text.contains("OK!"), text)
}

/// Runs snarkjs with `args`; returns whether it exited 0 and its stdout and stderr.
pub(crate) fn run_snarkjs(args: &[&std::ffi::OsStr]) -> (bool, String) {
    let snarkjs = snarkjs();
    let out = Command::new(&snarkjs)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (run scripts/setup.sh): {e}",
                snarkjs.display()
            )
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}
