//! Times a native proof: `cargo run -p kalypso-circom --example circom_prove -- WASM ZKEY INPUT_JSON`.
//! Prints the load, witness and proving times (the proof is checked against the zkey's key).

#![allow(clippy::print_stdout)]

use std::{path::Path, time::Instant};

use kalypso_circom::{CircomCircuit, Inputs};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [wasm, zkey, input] = args.as_slice() else {
        return Err("usage: circom_prove WASM ZKEY INPUT_JSON".into());
    };
    let started = Instant::now();
    let circuit = CircomCircuit::load(Path::new(wasm), Path::new(zkey))?;
    let loaded = started.elapsed();
    let inputs = Inputs::from_json_str(&std::fs::read_to_string(input)?)?;
    let started = Instant::now();
    let witness = circuit.witness(&inputs)?;
    let witnessed = started.elapsed();
    let started = Instant::now();
    let _proof = kalypso_circom::prover::prove(circuit.zkey(), &witness, &mut rand_core::OsRng)?;
    let proved = started.elapsed();
    println!(
        "constraints={} load={:.3}s witness={:.3}s prove={:.3}s total(witness+prove)={:.3}s",
        circuit.zkey().num_constraints(),
        loaded.as_secs_f64(),
        witnessed.as_secs_f64(),
        proved.as_secs_f64(),
        (witnessed + proved).as_secs_f64()
    );
    Ok(())
}
