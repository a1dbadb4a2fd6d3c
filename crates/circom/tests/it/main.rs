//! The committed chain circuit (`circuits/chain/fixture`, made by `scripts/circom-circuit.sh`): native
//! witness and proof, checked by snarkjs itself, and the errors of bad inputs and damaged artifacts.

mod native_field;
mod ptau;
mod snarkjs_cli;

use std::path::PathBuf;

use kalypso_circom::{CircomCircuit, Error, Fr, Inputs, WitnessCalculator, Zkey, prover, snarkjs};
use rand_chacha::{ChaCha20Rng, rand_core::SeedableRng};

/// Rounds of the committed fixture.
const ROUNDS: u64 = 16;

pub(crate) fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../circuits/chain/fixture")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn circuit() -> CircomCircuit {
    CircomCircuit::load(
        &fixture_dir().join("chain.wasm"),
        &fixture_dir().join("chain.zkey"),
    )
    .expect("the fixture loads")
}

/// The chain computed directly: `s ↦ (s + i² + 7)⁵` for `ROUNDS` rounds.
fn chain(x: Fr) -> Fr {
    (0..ROUNDS).fold(x, |s, i| {
        let t = s + Fr::from(i * i + 7);
        let t2 = t * t;
        t2 * t2 * t
    })
}

fn inputs(x: u64) -> Inputs {
    let mut inputs = Inputs::new();
    inputs.set("x", [Fr::from(x)]).expect("fresh");
    inputs
}

#[test]
fn witness_matches_the_circuit_and_snarkjs() {
    let circuit = circuit();
    let wc = circuit.witness_calculator();
    assert_eq!(wc.input_size(), 1);
    assert_eq!(wc.input_signal_size("x").expect("runs"), Some(1));
    assert_eq!(wc.input_signal_size("nope").expect("runs"), None);
    assert!(wc.circom_version().0 >= 2);

    let witness = circuit.witness(&inputs(5)).expect("witness");
    assert_eq!(witness.len(), circuit.zkey().num_vars);
    // 1, y (output), x (public input), …
    assert_eq!(witness[0], Fr::from(1u64));
    assert_eq!(witness[1], chain(Fr::from(5u64)));
    assert_eq!(witness[2], Fr::from(5u64));
    // snarkjs's own sample run of input.json ({"x": "5"}) has the same public signals.
    assert_eq!(
        snarkjs::parse_public_signals(&json("public.json")).expect("public.json"),
        witness[1..=2].to_vec()
    );
}

#[test]
fn zkey_matches_snarkjs_verification_key_and_proves() {
    let circuit = circuit();
    let zkey = circuit.zkey();
    assert_eq!(zkey.num_public, 2);
    assert_eq!(zkey.num_constraints(), 3 * ROUNDS as usize + 1);
    let exported = snarkjs::parse_verification_key(&json("verification_key.json")).expect("vk");
    assert_eq!(zkey.verifying_key(), &exported);

    // snarkjs's own proof verifies natively against the zkey's key.
    let theirs = snarkjs::parse_proof(&json("proof.json")).expect("proof.json");
    let public = snarkjs::parse_public_signals(&json("public.json")).expect("public.json");
    assert!(prover::verify(&exported, &public, &theirs).expect("verify"));

    let mut rng = ChaCha20Rng::from_seed([7; 32]);
    let (proof, signals) = circuit.prove(&inputs(9), &mut rng).expect("proves");
    assert_eq!(signals, vec![chain(Fr::from(9u64)), Fr::from(9u64)]);
    assert!(prover::verify(&exported, &signals, &proof).expect("verify"));
    assert!(
        !prover::verify(
            &exported,
            &[signals[0] + Fr::from(1u64), signals[1]],
            &proof
        )
        .expect("verify")
    );
}

#[test]
fn snarkjs_accepts_native_proofs() {
    let circuit = circuit();
    let mut rng = ChaCha20Rng::from_seed([8; 32]);
    let (proof, signals) = circuit
        .prove(&inputs(123_456_789), &mut rng)
        .expect("proves");
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, out) = snarkjs_cli::groth16_verify(
        dir.path(),
        &json("verification_key.json"),
        &snarkjs::public_signals_json(&signals),
        &snarkjs::proof_json(&proof),
    );
    assert!(
        ok,
        "snarkjs groth16 verify rejected the native proof:\n{out}"
    );

    // The same proof for another statement: snarkjs says no (the check can fail).
    let wrong = [signals[0], signals[1] + Fr::from(1u64)];
    let (ok, out) = snarkjs_cli::groth16_verify(
        dir.path(),
        &json("verification_key.json"),
        &snarkjs::public_signals_json(&wrong),
        &snarkjs::proof_json(&proof),
    );
    assert!(!ok, "snarkjs accepted a proof of another statement:\n{out}");
}

#[test]
fn bad_inputs_get_clear_errors() {
    let circuit = circuit();
    let mut rng = ChaCha20Rng::from_seed([9; 32]);
    // x = 0 fails `x * xInv === 1`: the circuit rejects it, naming the template and line.
    let err = circuit
        .prove(&inputs(0), &mut rng)
        .expect_err("x = 0 is invalid");
    assert!(err.is_input_error(), "{err}");
    let message = err.to_string();
    assert!(
        message.contains("assert failed") && message.contains("Chain"),
        "{message}"
    );

    let err = circuit
        .witness(&Inputs::from_json_str(r#"{"y": "1"}"#).expect("json"))
        .expect_err("y is an output");
    assert!(
        matches!(&err, Error::Input(m) if m.contains("no input signal `y`")),
        "{err}"
    );
    let err = circuit.witness(&Inputs::new()).expect_err("nothing set");
    assert!(
        matches!(&err, Error::Input(m) if m.contains("only 0 of the circuit's 1")),
        "{err}"
    );
    let err = circuit
        .witness(&Inputs::from_json_str(r#"{"x": ["1", "2"]}"#).expect("json"))
        .expect_err("x is a scalar");
    assert!(
        matches!(&err, Error::Input(m) if m.contains("takes 1 value(s), got 2")),
        "{err}"
    );
}

#[test]
fn damaged_artifacts_get_clear_errors() {
    let wasm = read("chain.wasm");
    let zkey = read("chain.zkey");

    // A truncated wasm is not a module; a wasm with a damaged body fails validation or instantiation.
    let err = WitnessCalculator::new(&wasm[..wasm.len() / 2]).expect_err("truncated");
    assert!(
        matches!(&err, Error::Wasm(m) if m.contains("not a valid WebAssembly module")),
        "{err}"
    );

    let err = Zkey::from_bytes(&zkey[..zkey.len() - 100]).expect_err("truncated");
    assert!(
        matches!(&err, Error::Zkey(m) if m.contains("past the end")),
        "{err}"
    );
    let err = Zkey::from_bytes(b"wtns\x01\x00\x00\x00").expect_err("not a zkey");
    assert!(
        matches!(&err, Error::Zkey(m) if m.contains("magic")),
        "{err}"
    );

    // A flipped bit in a point of section A: off the curve.
    let (a_start, _) = section(&zkey, 5);
    let mut bad = zkey.clone();
    bad[a_start + 64 + 5] ^= 1;
    let err = Zkey::from_bytes(&bad).expect_err("off the curve");
    assert!(
        matches!(&err, Error::Zkey(m) if m.contains("section A") && m.contains("curve")),
        "{err}"
    );

    // A changed coefficient still parses, but its proofs do not verify: refused, never returned.
    let (coef_start, _) = section(&zkey, 4);
    let mut bad = zkey.clone();
    bad[coef_start + 4 + 12] ^= 1;
    let damaged = CircomCircuit::new(
        WitnessCalculator::new(&wasm).expect("wasm"),
        Zkey::from_bytes(&bad).expect("parses"),
    )
    .expect("same sizes");
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let err = damaged
        .prove(&inputs(5), &mut rng)
        .expect_err("damaged key");
    assert!(matches!(err, Error::Unsatisfied), "{err}");

    // A file path is named in the error.
    let path = std::env::temp_dir().join("kalypso-circom-missing.zkey");
    let err = Zkey::from_file(&path).expect_err("missing");
    assert!(
        err.to_string().contains("kalypso-circom-missing.zkey"),
        "{err}"
    );
}

/// Byte offset and length of section `id` of a zkey.
fn section(zkey: &[u8], id: u32) -> (usize, usize) {
    let u32_at = |at: usize| u32::from_le_bytes(zkey[at..at + 4].try_into().expect("4 bytes"));
    let mut at = 12;
    for _ in 0..u32_at(8) {
        let len = u64::from_le_bytes(zkey[at + 4..at + 12].try_into().expect("8 bytes")) as usize;
        if u32_at(at) == id {
            return (at + 12, len);
        }
        at += 12 + len;
    }
    panic!("no section {id}")
}
