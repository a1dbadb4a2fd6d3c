//! Writes an INSECURE prepared powers of tau for snarkjs (`kalypso_circom::ptau`): τ, α and β come from a public
//! seed, so anyone can forge proofs for keys set up from it — benchmarks and throw-away circuits only.
//!
//! `cargo run --example insecure_ptau -- POWER OUT [SEED_HEX]` (SEED_HEX: 32 bytes, default all zeros). Then
//! `snarkjs groth16 setup circuit.r1cs OUT circuit.zkey` as with a ceremony's file.

#![allow(clippy::print_stderr)]

use std::{fs::File, io::BufWriter, path::Path, time::Instant};

use kalypso_circom::ptau::InsecureTau;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: insecure_ptau POWER OUT [SEED_HEX]";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (power, out, seed) = match args.as_slice() {
        [power, out] => (power, out, None),
        [power, out, seed] => (power, out, Some(seed)),
        _ => return Err(USAGE.into()),
    };
    let power: u32 = power
        .parse()
        .map_err(|_| format!("POWER must be an integer, got '{power}'\n{USAGE}"))?;
    let mut seed_bytes = [0u8; 32];
    if let Some(hex) = seed {
        let hex = hex.strip_prefix("0x").unwrap_or(hex);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("SEED_HEX must be 32 bytes of hex, got '{hex}'").into());
        }
        for (byte, pair) in seed_bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
            *byte = u8::from_str_radix(std::str::from_utf8(pair)?, 16)?;
        }
    }
    let out = Path::new(out);
    let tmp = out.with_extension("ptau.tmp");
    let started = Instant::now();
    let mut file = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
    let mut last = 0;
    InsecureTau::from_seed(seed_bytes).write_ptau(power, &mut file, |done, total| {
        let percent = done * 100 / total;
        if percent >= last + 10 {
            last = percent;
            eprintln!(
                "insecure_ptau: {percent}% ({done}/{total} points, {:.1} s)",
                started.elapsed().as_secs_f64()
            );
        }
    })?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, out)?;
    eprintln!(
        "insecure_ptau: wrote {} (power {power}, INSECURE: τ from a public seed) in {:.1} s",
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
