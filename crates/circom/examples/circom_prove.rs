//! Times native proofs: `cargo run -p kalypso-circom --example circom_prove -- [--serve] [--out DIR] WASM ZKEY
//! INPUT_JSON`.
//!
//! Loads the circuit once and prints `load=<s> constraints=<n> vars=<n> domain=<n>`, then proves `INPUT_JSON`
//! and prints `witness=<s> prove=<s> total=<s>` (seconds; `prove` includes the check of the proof against the
//! zkey's verifying key, as [`kalypso_circom::CircomCircuit::prove`] does). With `--serve` it proves once per
//! line read from stdin (the loaded circuit is reused: `scripts/bench-circom.sh` interleaves these proofs with
//! snarkjs runs) until stdin closes. With `--out DIR` each proof is written as `DIR/proof.json` and
//! `DIR/public.json`, for `snarkjs groth16 verify`.

#![allow(clippy::print_stdout)]

use std::{
    io::{BufRead, Write},
    path::{Path, PathBuf},
    time::Instant,
};

use ark_ff::UniformRand;
use ark_groth16::Groth16;
use kalypso_circom::{Bn254, CircomCircuit, CircomReduction, Fr, Inputs, snarkjs};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const USAGE: &str = "usage: circom_prove [--serve] [--arkworks] [--out DIR] WASM ZKEY INPUT_JSON";

fn main() -> Result<()> {
    let mut serve = false;
    let mut arkworks = false;
    let mut out = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--serve" => serve = true,
            "--arkworks" => arkworks = true,
            "--out" => out = Some(PathBuf::from(args.next().ok_or(USAGE)?)),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown flag {flag}\n{USAGE}").into());
            }
            _ => files.push(arg),
        }
    }
    let [wasm, zkey, input] = files.as_slice() else {
        return Err(USAGE.into());
    };

    let started = Instant::now();
    let circuit = CircomCircuit::load(Path::new(wasm), Path::new(zkey))?;
    let loaded = started.elapsed();
    let inputs = Inputs::from_json_str(&std::fs::read_to_string(input)?)?;
    println!(
        "load={:.3} constraints={} vars={} domain={}",
        loaded.as_secs_f64(),
        circuit.zkey().num_constraints(),
        circuit.zkey().num_vars,
        circuit.zkey().domain_size,
    );

    if !serve {
        return prove_once(&circuit, &inputs, arkworks, out.as_deref());
    }
    std::io::stdout().flush()?;
    for line in std::io::stdin().lock().lines() {
        line?;
        prove_once(&circuit, &inputs, arkworks, out.as_deref())?;
        std::io::stdout().flush()?;
    }
    Ok(())
}

/// One witness and proof, timed separately; the proof is written to `out` when given.
fn prove_once(
    circuit: &CircomCircuit,
    inputs: &Inputs,
    arkworks: bool,
    out: Option<&Path>,
) -> Result<()> {
    let started = Instant::now();
    let witness = circuit.witness(inputs)?;
    let witnessed = started.elapsed();
    let started = Instant::now();
    let proof = if arkworks {
        let zkey = circuit.zkey();
        let mut rng = rand_core::OsRng;
        let proof = Groth16::<Bn254, CircomReduction>::create_proof_with_reduction_and_matrices(
            &zkey.proving_key,
            Fr::rand(&mut rng),
            Fr::rand(&mut rng),
            &zkey.matrices,
            zkey.num_public + 1,
            zkey.num_rows,
            &witness,
        )?;
        let public = &witness[1..=zkey.num_public];
        if !kalypso_circom::prover::verify(zkey.verifying_key(), public, &proof)? {
            return Err("arkworks' proof does not verify".into());
        }
        proof
    } else {
        kalypso_circom::prover::prove(circuit.zkey(), &witness, &mut rand_core::OsRng)?
    };
    let proved = started.elapsed();
    println!(
        "witness={:.3} prove={:.3} total={:.3}",
        witnessed.as_secs_f64(),
        proved.as_secs_f64(),
        (witnessed + proved).as_secs_f64()
    );
    if let Some(dir) = out {
        let public = &witness[1..=circuit.num_public()];
        std::fs::write(
            dir.join("proof.json"),
            snarkjs::proof_json(&proof).to_string(),
        )?;
        std::fs::write(
            dir.join("public.json"),
            snarkjs::public_signals_json(public).to_string(),
        )?;
    }
    Ok(())
}
