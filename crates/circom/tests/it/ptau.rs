//! An insecure powers of tau from `kalypso_circom::ptau` is a file snarkjs sets a circuit up from: `snarkjs
//! groth16 setup` on it, then snarkjs's own proof and the native prover's proof both verify with snarkjs.

use std::path::Path;

use kalypso_circom::{CircomCircuit, Inputs, ptau::InsecureTau, snarkjs};
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

use crate::{fixture_dir, snarkjs_cli};

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_ref()).collect();
    let (ok, text) = snarkjs_cli::run_snarkjs(&args);
    assert!(ok, "snarkjs {args:?} failed: {text}");
    text
}

#[test]
fn snarkjs_sets_up_a_circuit_from_an_insecure_ptau() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // The fixture's 49 constraints and 3 public rows fill a 2^6 domain: power 6 makes snarkjs take the
    // quotient's points from the 2^7 Lagrange level, the largest the file has.
    let ptau = d.join("pot6.ptau");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&ptau).expect("create"));
    InsecureTau::from_seed([3; 32])
        .write_ptau(6, &mut file, |_, _| {})
        .expect("write");
    drop(file);

    let fixture = fixture_dir();
    let (r1cs, wasm) = (fixture.join("chain.r1cs"), fixture.join("chain.wasm"));
    let (zkey, vk) = (d.join("chain.zkey"), d.join("vk.json"));
    run(&[&"groth16", &"setup", &r1cs, &ptau, &zkey]);
    run(&[&"zkey", &"export", &"verificationkey", &zkey, &vk]);
    let input = d.join("input.json");
    std::fs::write(&input, r#"{"x": "5"}"#).expect("write");
    let (proof, public) = (d.join("proof.json"), d.join("public.json"));
    run(&[
        &"groth16",
        &"fullprove",
        &input,
        &wasm,
        &zkey,
        &proof,
        &public,
    ]);
    assert!(run(&[&"groth16", &"verify", &vk, &public, &proof]).contains("OK!"));

    // The native prover with the new zkey: snarkjs accepts its proof too.
    let circuit = CircomCircuit::load(Path::new(&wasm), &zkey).expect("loads");
    let mut rng = ChaCha20Rng::from_seed([4; 32]);
    let (native, signals) = circuit
        .prove(
            &Inputs::from_json_str(r#"{"x": "5"}"#).expect("json"),
            &mut rng,
        )
        .expect("proves");
    let vk_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&vk).expect("vk")).expect("json");
    let (ok, text) = snarkjs_cli::groth16_verify(
        d,
        &vk_json,
        &snarkjs::public_signals_json(&signals),
        &snarkjs::proof_json(&native),
    );
    assert!(ok, "snarkjs rejects the native proof: {text}");
}
