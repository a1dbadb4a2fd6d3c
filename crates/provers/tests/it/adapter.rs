//! The example adapter of `docs/adapters.md` (`examples/adapters/snarkjs_groth16.py` with the prover config
//! `examples/adapters/snarkjs-chain.toml`) run through the command backend: input checks, a proof whose
//! output is the chain of the input, verified natively against snarkjs's own verification key and by the
//! `Groth16Verifier` contract deployed from the adapter's artifact, and the secret-input path. Skipped, with
//! a note, where python3 or snarkjs (`scripts/setup.sh`) is missing.
#![cfg(unix)]

use std::{
    path::{Path, PathBuf},
    process::Command,
    str::FromStr,
};

use alloy::primitives::{Bytes, U256};
use ark_bn254::{Fq, Fq2, G1Affine, G2Affine};
use ark_groth16::{VerifyingKey, prepare_verifying_key};
use kalypso_contracts::Groth16Verifier;
use kalypso_provers::{
    Bn254, Fr, InputCheck, ProveRequest, ProverConfig, ProverError, evm, groth16::Bn254Groth16,
};
use kalypso_test_utils::Chain;

/// Rounds of the committed chain circuit.
const ROUNDS: u64 = 16;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// snarkjs from `$KALYPSO_NODE_BIN` or the pinned toolchain, and whether python3 runs.
fn tools() -> Result<PathBuf, String> {
    let bin = std::env::var_os("KALYPSO_NODE_BIN")
        .map_or_else(|| root().join(".tools/node_modules/.bin"), PathBuf::from);
    let snarkjs = bin.join("snarkjs");
    if !snarkjs.exists() {
        return Err(format!(
            "no snarkjs at {} (scripts/setup.sh)",
            snarkjs.display()
        ));
    }
    match Command::new("python3").arg("--version").output() {
        Ok(out) if out.status.success() => Ok(snarkjs),
        _ => Err("no python3".into()),
    }
}

/// The example config: its `key = value` lines hold JSON values (strings, string arrays, numbers), the
/// subset of TOML the example keeps to, so the test runs exactly the commands the file names.
fn example_config(snarkjs: &Path) -> ProverConfig {
    let path = root().join("examples/adapters/snarkjs-chain.toml");
    let text = std::fs::read_to_string(&path).expect("the example config");
    let mut fields = serde_json::Map::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once(" = ")
            .unwrap_or_else(|| panic!("not a `key = value` line: {line}"));
        let value: serde_json::Value =
            serde_json::from_str(value).unwrap_or_else(|e| panic!("{key}: {e}"));
        fields.insert(key.to_owned(), value);
    }
    let mut config: ProverConfig =
        serde_json::from_value(fields.into()).expect("a command prover config");
    let ProverConfig::Command(command) = &mut config else {
        panic!("the example is a command backend: {config:?}")
    };
    // Paths in the file are relative to the checkout.
    command.working_dir = Some(root());
    command
        .env
        .insert("SNARKJS".into(), snarkjs.display().to_string());
    config
}

fn word(x: u64) -> Vec<u8> {
    evm::encode_inputs(&[Fr::from(x)])
}

/// The chain computed directly: `s ↦ (s + i² + 7)⁵` for `ROUNDS` rounds.
fn chain(x: Fr) -> Fr {
    (0..ROUNDS).fold(x, |s, i| {
        let t = s + Fr::from(i * i + 7);
        let t2 = t * t;
        t2 * t2 * t
    })
}

/// snarkjs's `verification_key.json` read independently of the adapter, IC reordered to the market's
/// statement (circom lists outputs first: `[1, y, x]` becomes `[1, x, y]`).
fn market_order_key() -> VerifyingKey<Bn254> {
    let text = std::fs::read_to_string(root().join("circuits/chain/fixture/verification_key.json"))
        .expect("verification_key.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("json");
    let fq = |v: &serde_json::Value| {
        Fq::from_str(v.as_str().expect("a decimal string")).expect("a field element")
    };
    let g1 = |p: &serde_json::Value| G1Affine::new(fq(&p[0]), fq(&p[1]));
    let g2 = |p: &serde_json::Value| {
        G2Affine::new(
            Fq2::new(fq(&p[0][0]), fq(&p[0][1])),
            Fq2::new(fq(&p[1][0]), fq(&p[1][1])),
        )
    };
    let ic = json["IC"].as_array().expect("IC");
    assert_eq!(ic.len(), 3);
    VerifyingKey {
        alpha_g1: g1(&json["vk_alpha_1"]),
        beta_g2: g2(&json["vk_beta_2"]),
        gamma_g2: g2(&json["vk_gamma_2"]),
        delta_g2: g2(&json["vk_delta_2"]),
        gamma_abc_g1: vec![g1(&ic[0]), g1(&ic[2]), g1(&ic[1])],
    }
}

#[tokio::test]
#[allow(clippy::print_stderr, reason = "the note of a skipped test")]
async fn the_snarkjs_adapter_proves_through_the_command_backend() {
    let snarkjs = match tools() {
        Ok(snarkjs) => snarkjs,
        Err(missing) => {
            eprintln!("skipping the snarkjs adapter test: {missing}");
            return;
        }
    };
    let config = example_config(&snarkjs);
    let prover = config.build().expect("the example config builds");
    assert_eq!(prover.describe().name, "circom-chain (snarkjs adapter)");

    // Input checks: valid, unprovable (x = 0 fails `x * xInv === 1`), too short.
    let sample = prover.sample_inputs().expect("the config has a sample");
    assert_eq!(sample, word(5));
    assert_eq!(
        prover.check_inputs(&sample).expect("runs"),
        InputCheck::Valid
    );
    let InputCheck::Invalid { reason } = prover.check_inputs(&word(0)).expect("runs") else {
        panic!("x = 0 cannot be proven")
    };
    assert!(
        reason.contains("a constraint of the circuit fails"),
        "{reason}"
    );
    assert!(matches!(
        prover.check_inputs(&[1, 2, 3]).expect("runs"),
        InputCheck::Invalid { reason } if reason.contains("takes 1 words of 32")
    ));

    // A proof of x = 9: A ‖ B ‖ C ‖ y with y = chain(9).
    let inputs = word(9);
    let submitted = prover
        .prove(&ProveRequest::new(inputs.clone()))
        .expect("proves")
        .into_bytes();
    let (proof, outputs) = evm::decode_proof_with_outputs(&submitted, 1).expect("A ‖ B ‖ C ‖ y");
    let y = chain(Fr::from(9u64));
    assert_eq!(outputs, [y]);
    let pvk = prepare_verifying_key(&market_order_key());
    let verify = |signals: &[Fr]| Bn254Groth16::verify_proof(&pvk, &proof, signals).expect("runs");
    assert!(verify(&[Fr::from(9u64), y]));
    assert!(!verify(&[Fr::from(9u64), y + Fr::from(1u64)]));

    // An unprovable statement reaching `prove`: a failure with the adapter's reason.
    let err = prover
        .prove(&ProveRequest::new(word(0)))
        .expect_err("x = 0");
    assert!(
        matches!(&err, ProverError::Failed { message } if message.contains("exited with code 2") && message.contains("constraint")),
        "{err:?}"
    );
    // The secret reaches the adapter: one that sets a public input is refused.
    let with_secret = ProveRequest {
        secret: Some(br#"{"x": "4"}"#.to_vec()),
        ..ProveRequest::new(inputs.clone())
    };
    let err = prover.prove(&with_secret).expect_err("clashing secret");
    assert!(
        err.to_string()
            .contains("the secret sets public inputs: ['x']"),
        "{err}"
    );

    // The market's verifier from the adapter's artifact accepts the command backend's proof.
    let out = Command::new("python3")
        .current_dir(root())
        .env("SNARKJS", &snarkjs)
        .args([
            "examples/adapters/snarkjs_groth16.py",
            "artifact",
            "--vk",
            "circuits/chain/fixture/verification_key.json",
            "--wasm",
            "circuits/chain/fixture/chain.wasm",
            "--zkey",
            "circuits/chain/fixture/chain.zkey",
            "--inputs",
            "x",
            "--outputs",
            "1",
            "--sample",
        ])
        .arg(kalypso_provers::hex0x::encode(&sample))
        .output()
        .expect("runs the adapter");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let artifact: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let hex = |k: &str| {
        kalypso_provers::hex0x::decode(artifact[k].as_str().expect("hex string")).expect("hex")
    };
    assert_eq!(hex("vk"), evm::encode_verifying_key(&market_order_key()));
    assert_eq!(artifact["numInputs"], 1);
    assert_eq!(hex("inputs"), sample);

    let chain = Chain::spawn();
    let verifier = Groth16Verifier::deploy(
        chain.provider.clone(),
        hex("vk").into(),
        U256::from(1),
        hex("inputs").into(),
        hex("proof").into(),
    )
    .await
    .expect("deploy the verifier of the artifact");
    assert!(
        verifier
            .checkSampleInputsAndProof()
            .call()
            .await
            .expect("self-check")
    );
    let on_chain = |inputs: Vec<u8>, proof: Vec<u8>| {
        let verifier = &verifier;
        async move {
            verifier
                .verify(Bytes::from(inputs), Bytes::from(proof))
                .call()
                .await
                .expect("verify")
        }
    };
    assert!(on_chain(inputs, submitted.clone()).await);
    assert!(!on_chain(word(10), submitted).await);
}
