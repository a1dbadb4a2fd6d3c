//! Writes the Groth16 fixture the Solidity verifier tests load.
//!
//! `cargo run -p kalypso-provers --example groth16_fixture [OUT]` (default: the committed
//! `contracts/test/fixtures/groth16_mimc.json` of this workspace).

use std::{io::Write, path::PathBuf};

use kalypso_provers::fixture::{FIXTURE_PATH, mimc_fixture};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(FIXTURE_PATH)
        });
    let generated = mimc_fixture()?;
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, generated.fixture.to_json())?;
    writeln!(
        std::io::stderr(),
        "wrote {} ({} rounds, {} constraints)",
        out.display(),
        generated.fixture.rounds,
        generated.fixture.num_constraints
    )?;
    Ok(())
}
