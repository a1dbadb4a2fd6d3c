//! The circom backend on the committed fixtures: `circuits/chain` (public input x, public output y) and
//! `circuits/factors` (public input n, private inputs p and q in the prover data's JSON tail, or in the
//! ask's secret for a confidential market). Proofs are checked natively with the reordered key, by the
//! `Groth16Verifier` deployed through the `VerifierFactory` on anvil, and by snarkjs.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use alloy::primitives::{Address, Bytes, U256};
use ark_groth16::{Groth16, Proof, VerifyingKey, prepare_verifying_key};
use kalypso_circom::snarkjs;
use kalypso_contracts::{Groth16Verifier, VerifierFactory};
use kalypso_provers::{
    Bn254, CircomConfig, CircomProver, Fr, InputCheck, PrivateInputs, ProveRequest, Prover,
    ProverConfig, ProverError, ProverKind, PublicSignal, VerifierArtifact,
    backend::circom::{self, market_signals, market_verifying_key},
    evm,
};
use kalypso_test_utils::{Chain, repo_root};
use serde_json::{Value, json};

/// Rounds of the committed chain fixture.
const CHAIN_ROUNDS: u64 = 16;

fn fixture(circuit: &str) -> PathBuf {
    repo_root().join("circuits").join(circuit).join("fixture")
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn snarkjs_vk(circuit: &str) -> VerifyingKey<Bn254> {
    snarkjs::parse_verification_key(&read_json(&fixture(circuit).join("verification_key.json")))
        .expect("verification_key.json")
}

/// The chain circuit's config as a node's config file would hold it (JSON).
fn chain_config_json() -> Value {
    let dir = fixture("chain");
    json!({
        "backend": "circom",
        "wasm": dir.join("chain.wasm"),
        "zkey": dir.join("chain.zkey"),
        "public": [{"name": "y", "source": "output"}, {"name": "x", "source": "input"}],
        "sample": dir.join("input.json"),
        "threads": 1,
    })
}

fn chain_config() -> CircomConfig {
    let dir = fixture("chain");
    CircomConfig {
        sample: Some(dir.join("input.json")),
        ..CircomConfig::new(
            dir.join("chain.wasm"),
            dir.join("chain.zkey"),
            vec![PublicSignal::output("y"), PublicSignal::input("x")],
        )
    }
}

fn factors_config() -> CircomConfig {
    let dir = fixture("factors");
    CircomConfig {
        private_inputs: PrivateInputs::Json,
        sample: Some(dir.join("input.json")),
        ..CircomConfig::new(
            dir.join("factors.wasm"),
            dir.join("factors.zkey"),
            vec![PublicSignal::input("n")],
        )
    }
}

/// The factors circuit for a confidential market: p and q come from the ask's secret.
fn factors_secret_config() -> CircomConfig {
    CircomConfig {
        private_inputs: PrivateInputs::Secret,
        ..factors_config()
    }
}

/// A request for `prover_data` with `secret`.
fn with_secret(prover_data: Vec<u8>, secret: &[u8]) -> ProveRequest {
    ProveRequest {
        secret: Some(secret.to_vec()),
        ..ProveRequest::new(prover_data)
    }
}

/// The chain computed directly: `s ↦ (s + i² + 7)⁵` for `CHAIN_ROUNDS` rounds.
fn chain(x: Fr) -> Fr {
    (0..CHAIN_ROUNDS).fold(x, |s, i| {
        let t = s + Fr::from(i * i + 7);
        let t2 = t * t;
        t2 * t2 * t
    })
}

fn word(v: u64) -> Vec<u8> {
    evm::encode_fr(&Fr::from(v)).to_vec()
}

/// Factors prover data: the word n, then the JSON tail.
fn factors_data(n: u64, tail: &str) -> Vec<u8> {
    let mut data = word(n);
    data.extend_from_slice(tail.as_bytes());
    data
}

fn verify(vk: &VerifyingKey<Bn254>, signals: &[Fr], proof: &Proof<Bn254>) -> bool {
    Groth16::<Bn254>::verify_proof(&prepare_verifying_key(vk), proof, signals).expect("verifies")
}

fn invalid_reason(check: InputCheck) -> String {
    match check {
        InputCheck::Invalid { reason } => reason,
        InputCheck::Valid => panic!("accepted invalid inputs"),
    }
}

#[test]
fn chain_proves_through_the_config_and_verifies_with_the_reordered_key() {
    let config: ProverConfig =
        serde_json::from_value(chain_config_json()).expect("a circom prover config");
    let prover = config.build().expect("builds");
    let info = prover.describe();
    assert_eq!(info.kind, ProverKind::Circom);
    assert_eq!(info.name, "circom/chain");
    assert_eq!(info.circuit.as_deref(), Some("chain"));
    assert_eq!(info.constraints, Some(3 * CHAIN_ROUNDS + 1));
    assert_eq!(info.threads, Some(1));

    // The sample is input.json ({"x": "5"}): one word.
    assert_eq!(prover.sample_inputs(), Some(word(5)));
    assert!(prover.check_inputs(&word(9)).expect("checks").is_valid());

    let bytes = prover
        .prove(&ProveRequest::new(word(9)))
        .expect("proves")
        .into_bytes();
    let (proof, outputs) = evm::decode_proof_with_outputs(&bytes, 1).expect("proof ‖ y");
    let y = chain(Fr::from(9u64));
    assert_eq!(outputs, [y]);

    // The market's key takes [x, y]; snarkjs's own takes [y, x]: the same proof, reordered signals.
    let vk = snarkjs_vk("chain");
    let market_vk = market_verifying_key(&chain_config(), &vk).expect("reorders");
    assert_eq!(market_vk.gamma_abc_g1[0], vk.gamma_abc_g1[0]);
    assert_eq!(
        market_vk.gamma_abc_g1[1..],
        [vk.gamma_abc_g1[2], vk.gamma_abc_g1[1]]
    );
    assert!(verify(&market_vk, &[Fr::from(9u64), y], &proof));
    assert!(verify(&vk, &[y, Fr::from(9u64)], &proof));
    assert!(!verify(&market_vk, &[y, Fr::from(9u64)], &proof));
    assert!(!verify(
        &market_vk,
        &[Fr::from(9u64), y + Fr::from(1u64)],
        &proof
    ));
    assert_eq!(
        market_signals(&chain_config(), &[y, Fr::from(9u64)]).expect("splits"),
        (vec![Fr::from(9u64)], vec![y])
    );

    // The prover's own check of a submission, as the contract reads it.
    let native = CircomProver::new(&chain_config()).expect("builds");
    assert_eq!(native.market_verifying_key(), &market_vk);
    assert!(native.verify_submission(&word(9), &bytes).expect("parses"));
    assert!(!native.verify_submission(&word(10), &bytes).expect("parses"));
}

#[test]
fn snarkjs_sample_proof_makes_the_verifier_artifact() {
    let dir = fixture("chain");
    let public =
        snarkjs::parse_public_signals(&read_json(&dir.join("public.json"))).expect("public.json");
    let proof = snarkjs::parse_proof(&read_json(&dir.join("proof.json"))).expect("proof.json");
    let config = chain_config();
    let artifact = circom::verifier_artifact(&config, &snarkjs_vk("chain"), &public, &proof, None)
        .expect("the committed snarkjs proof verifies");
    assert_eq!(artifact.circuit, "chain");
    assert_eq!((artifact.num_inputs, artifact.num_public_signals), (1, 2));
    assert_eq!(artifact.inputs, word(5));
    assert_eq!(
        artifact.outputs,
        [kalypso_provers::hex0x::encode(evm::encode_fr(&public[0]))]
    );
    let prover = CircomProver::new(&config).expect("builds");
    assert_eq!(
        artifact.vk,
        evm::encode_verifying_key(prover.market_verifying_key())
    );
    assert!(
        prover
            .verify_submission(&artifact.inputs, &artifact.proof)
            .expect("parses")
    );
    // The artifact file round-trips as the built-in circuits' does.
    let parsed: VerifierArtifact = serde_json::from_str(&artifact.to_json()).expect("json");
    assert_eq!(parsed, artifact);

    // Signals in the wrong order do not verify: refused with a clear message.
    let swapped = [public[1], public[0]];
    let err = circom::verifier_artifact(&config, &snarkjs_vk("chain"), &swapped, &proof, None)
        .expect_err("wrong order");
    assert!(
        matches!(&err, ProverError::Config { message } if message.contains("does not verify")),
        "{err}"
    );
    // A key of another circuit.
    let err = circom::verifier_artifact(&config, &snarkjs_vk("factors"), &public, &proof, None)
        .expect_err("other key");
    assert!(
        matches!(&err, ProverError::Config { message } if message.contains("lists 2 public signals but the verifying key has 1")),
        "{err}"
    );
}

#[test]
fn bad_configs_are_refused_with_specific_messages() {
    let dir = fixture("chain");
    let with = |public: Vec<PublicSignal>| {
        CircomConfig::new(dir.join("chain.wasm"), dir.join("chain.zkey"), public)
    };
    let message = |config: CircomConfig| match CircomProver::new(&config) {
        Err(ProverError::Config { message }) => message,
        other => panic!("expected a config error, got {other:?}"),
    };
    for (public, needle) in [
        (
            vec![PublicSignal::input("x")],
            "the config lists 1 public signals but",
        ),
        (
            vec![PublicSignal::output("y"), PublicSignal::output("x")],
            "no public signal has source \"input\"",
        ),
        (
            vec![PublicSignal::input("x"), PublicSignal::input("x")],
            "public signal `x` is listed twice",
        ),
        (
            vec![PublicSignal::output("y"), PublicSignal::input("z")],
            "has no input signal `z`",
        ),
        (
            vec![PublicSignal::input("x"), PublicSignal::output("y")],
            "output `y` is listed after an input",
        ),
        (
            vec![PublicSignal::output("y"), PublicSignal::input("x[1]")],
            "in index order from `x[0]`",
        ),
        (
            vec![PublicSignal::output("y"), PublicSignal::input("x[a]")],
            "the index is not a number",
        ),
        (
            vec![
                PublicSignal::output("y"),
                PublicSignal::input("x[0]"),
                PublicSignal::input("w"),
                PublicSignal::input("x[1]"),
            ],
            "the elements of `x` must be listed together",
        ),
        (
            vec![PublicSignal::output(""), PublicSignal::input("x")],
            "has an empty name",
        ),
    ] {
        let got = message(with(public.clone()));
        assert!(got.contains(needle), "{public:?}: {got}");
    }
    // An element name for a scalar signal: the circuit's x has one element, x[0] is accepted as it.
    assert!(
        CircomProver::new(&with(vec![
            PublicSignal::output("y"),
            PublicSignal::input("x[0]")
        ]))
        .is_ok()
    );
    let got = message(CircomConfig {
        threads: Some(0),
        ..chain_config()
    });
    assert!(got.contains("threads must be at least 1"), "{got}");
    // Paths relative to a config file's folder.
    let relative = CircomConfig {
        sample: Some("input.json".into()),
        ..CircomConfig::new("chain.wasm", "chain.zkey", chain_config().public)
    }
    .relative_to(&dir);
    assert_eq!(relative, chain_config());
    assert!(CircomProver::new(&relative).is_ok());
    let got = message(CircomConfig::new(
        "/nonexistent/chain.wasm",
        dir.join("chain.zkey"),
        vec![PublicSignal::output("y"), PublicSignal::input("x")],
    ));
    assert!(got.contains("/nonexistent/chain.wasm"), "{got}");
    // The factors zkey with the chain wasm: not the same circuit.
    let got = message(CircomConfig::new(
        dir.join("chain.wasm"),
        fixture("factors").join("factors.zkey"),
        vec![PublicSignal::input("x")],
    ));
    assert!(got.contains("not the same circuit"), "{got}");
    // A sample that the circuit rejects.
    let tmp = tempfile::tempdir().expect("tempdir");
    let sample = tmp.path().join("input.json");
    std::fs::write(&sample, r#"{"x": "0"}"#).expect("write");
    let got = message(CircomConfig {
        sample: Some(sample),
        ..chain_config()
    });
    assert!(got.contains("assert failed"), "{got}");
}

#[test]
fn bad_chain_inputs_are_invalid_with_reasons() {
    let prover = CircomProver::new(&chain_config()).expect("builds");
    let reason = |data: &[u8]| invalid_reason(prover.check_inputs(data).expect("check runs"));
    assert!(reason(&[0; 31]).contains("expected 32 bytes (1 input word(s): x), got 31"));
    // No private inputs: nothing may follow the word.
    assert!(reason(&[0; 33]).contains("got 33"));
    let r_word = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
        .expect("hex");
    assert!(
        reason(&r_word).contains("input `x` 0x30644e72"),
        "{}",
        reason(&r_word)
    );
    assert!(reason(&r_word).contains("not a BN254 scalar"));
    // x = 0 fails the circuit's `x * xInv === 1`.
    let zero = reason(&word(0));
    assert!(
        zero.contains("assert failed") && zero.contains("Chain"),
        "{zero}"
    );

    let err = prover
        .prove(&ProveRequest::new(word(0)))
        .expect_err("x = 0 cannot be proven");
    assert!(
        matches!(&err, ProverError::InvalidInput { reason } if reason.contains("assert failed")),
        "{err}"
    );
    assert!(!err.is_retryable());
    let err = prover
        .prove(&ProveRequest::new(r_word))
        .expect_err("not a scalar");
    assert!(matches!(err, ProverError::InvalidInput { .. }), "{err}");
    let err = prover
        .prove(&ProveRequest {
            secret: Some(b"{}".to_vec()),
            ..ProveRequest::new(word(3))
        })
        .expect_err("no secrets");
    assert!(matches!(err, ProverError::InvalidInput { .. }), "{err}");
}

#[test]
fn factors_take_private_inputs_from_the_json_tail() {
    let prover = CircomProver::new(&factors_config()).expect("builds");
    assert_eq!(prover.describe().constraints, Some(135));
    // The sample (input.json: n = 221 = 13·17) as prover data: the word n, then the private inputs.
    let sample = prover.sample_inputs().expect("a sample");
    assert_eq!(sample[..32], word(221));
    assert_eq!(
        serde_json::from_slice::<Value>(&sample[32..]).expect("json tail"),
        json!({"p": "13", "q": "17"})
    );
    assert_eq!(
        circom::prover_data(
            &factors_config(),
            &read_json(&fixture("factors").join("input.json"))
        )
        .expect("encodes"),
        sample
    );
    assert!(prover.check_inputs(&sample).expect("checks").is_valid());

    let data = factors_data(35, r#"{"p": 5, "q": "7"}"#);
    assert!(prover.check_inputs(&data).expect("checks").is_valid());
    let bytes = prover
        .prove(&ProveRequest::new(data))
        .expect("proves")
        .into_bytes();
    // No public outputs: the bare 256-byte proof.
    assert_eq!(bytes.len(), evm::PROOF_LEN);
    let proof = evm::decode_proof(&bytes).expect("a proof");
    assert!(verify(&snarkjs_vk("factors"), &[Fr::from(35u64)], &proof));
    assert!(!verify(&snarkjs_vk("factors"), &[Fr::from(36u64)], &proof));
    // The verifier reads the word only: the proof verifies with or without the tail.
    assert!(prover.verify_submission(&word(35), &bytes).expect("parses"));

    let reason = |data: &[u8]| invalid_reason(prover.check_inputs(data).expect("check runs"));
    for (data, needle) in [
        (factors_data(35, r#"{"p": 5, "q": "#), "not JSON"),
        (factors_data(35, "[5, 7]"), "JSON object"),
        (
            factors_data(35, r#"{"p": 5, "q": 7, "n": 35}"#),
            "set the public input `n`",
        ),
        (factors_data(35, r#"{"p": 5}"#), "only 2 of the circuit's 3"),
        (
            factors_data(35, r#"{"p": 5, "q": 7, "r": 1}"#),
            "no input signal `r`",
        ),
        (factors_data(35, r#"{"p": 5, "q": 8}"#), "assert failed"),
        // A factor 1, a factor of 64 bits or more.
        (factors_data(35, r#"{"p": 1, "q": 35}"#), "AtLeastTwo"),
        (
            factors_data(36, r#"{"p": "18446744073709551616", "q": "0x0"}"#),
            "assert failed",
        ),
        (factors_data(35, ""), "only 1 of the circuit's 3"),
        ([word(35), vec![0xff, 0xfe]].concat(), "not UTF-8"),
        (word(35)[..20].to_vec(), "expected at least 32 bytes"),
    ] {
        let got = reason(&data);
        assert!(
            got.contains(needle),
            "{}: {got}",
            String::from_utf8_lossy(&data[data.len().min(32)..])
        );
    }
    let err = prover
        .prove(&ProveRequest::new(factors_data(35, r#"{"p": 1, "q": 35}"#)))
        .expect_err("a trivial factor");
    assert!(matches!(err, ProverError::InvalidInput { .. }), "{err}");
}

#[test]
fn prover_data_splits_an_input_json() {
    let config = factors_config();
    let data =
        circom::prover_data(&config, &json!({"q": "17", "n": 221, "p": "0xd"})).expect("encodes");
    assert_eq!(data[..32], word(221));
    assert_eq!(
        serde_json::from_slice::<Value>(&data[32..]).expect("json"),
        json!({"p": "0xd", "q": "17"})
    );
    let (public, private) = circom::split_input_json(&config, &json!({"n": "7"})).expect("splits");
    assert_eq!((public, private), (vec![Fr::from(7u64)], None));
    let err = |config: &CircomConfig, input: Value| {
        circom::prover_data(config, &input)
            .expect_err("refused")
            .to_string()
    };
    assert!(err(&config, json!({"p": 1})).contains("do not set the public input `n`"));
    assert!(err(&config, json!([1])).contains("JSON object"));
    assert!(err(&config, json!({"n": [1, 2]})).contains("has 2 value(s)"));
    // The chain config has no private inputs.
    let got = err(&chain_config(), json!({"x": 1, "extra": 2}));
    assert!(got.contains("private_inputs = \"none\""), "{got}");
    assert_eq!(
        circom::encode_prover_data(&chain_config(), &[Fr::from(3u64)], None).expect("encodes"),
        word(3)
    );
    assert!(
        circom::encode_prover_data(&config, &[], None)
            .expect_err("one input")
            .to_string()
            .contains("0 public input value(s) for a config that lists 1")
    );
}

#[test]
fn secret_market_proves_factors_from_the_secret() {
    // `private_inputs = "secret"` as a node's config file holds it.
    let dir = fixture("factors");
    let config: ProverConfig = serde_json::from_value(json!({
        "backend": "circom",
        "wasm": dir.join("factors.wasm"),
        "zkey": dir.join("factors.zkey"),
        "public": [{"name": "n", "source": "input"}],
        "private_inputs": "secret",
        "sample": dir.join("input.json"),
    }))
    .expect("a circom prover config");
    assert_eq!(config, ProverConfig::Circom(factors_secret_config()));
    let prover = config.build().expect("builds");

    // The sample (input.json: n = 221 = 13·17) splits into the word n and the secret {p, q}.
    assert_eq!(prover.sample_inputs(), Some(word(221)));
    let native = CircomProver::new(&factors_secret_config()).expect("builds");
    assert_eq!(
        serde_json::from_slice::<Value>(native.sample_secret().expect("a sample secret"))
            .expect("json"),
        json!({"p": "13", "q": "17"})
    );

    let request = with_secret(word(221), br#"{"p":"13","q":"17"}"#);
    assert_eq!(
        prover.check_request(&request).expect("checks"),
        InputCheck::Valid
    );
    // The public part alone: the word is a scalar, nothing follows it.
    assert!(prover.check_inputs(&word(221)).expect("checks").is_valid());
    let bytes = prover.prove(&request).expect("proves").into_bytes();
    assert_eq!(bytes.len(), evm::PROOF_LEN);
    let proof = evm::decode_proof(&bytes).expect("a proof");
    assert!(verify(&snarkjs_vk("factors"), &[Fr::from(221u64)], &proof));
    assert!(!verify(&snarkjs_vk("factors"), &[Fr::from(222u64)], &proof));
    // The verifier reads the prover data: the word n, never the secret.
    assert!(
        native
            .verify_submission(&word(221), &bytes)
            .expect("parses")
    );

    // The verifier's sample input is public: the word alone, the sample's p and q stay out of it.
    let artifact = native.sample_verifier_artifact().expect("artifact");
    assert_eq!(artifact.inputs, word(221));
    assert!(
        native
            .verify_submission(&artifact.inputs, &artifact.proof)
            .expect("parses")
    );
    // The benchmark proves the sample with its secret.
    assert_eq!(prover.benchmark(1).expect("benchmarks").runs, 1);
}

#[test]
fn secret_market_rejects_wrong_malformed_and_missing_secrets() {
    let prover = CircomProver::new(&factors_secret_config()).expect("builds");
    let reason =
        |request: &ProveRequest| invalid_reason(prover.check_request(request).expect("check runs"));
    let prove_reason = |request: &ProveRequest| match prover.prove(request) {
        Err(ProverError::InvalidInput { reason }) => reason,
        other => panic!("expected invalid input, got {other:?}"),
    };

    // Wrong factors: circom's own reason, from the check and from the prover.
    for (secret, needle) in [
        (&br#"{"p":"13","q":"18"}"#[..], "assert failed"),
        (br#"{"p":"1","q":"221"}"#, "AtLeastTwo"),
        (br#"{"p":"13"}"#, "only 2 of the circuit's 3"),
        (br#"{"p":"13","q":"17","r":"1"}"#, "no input signal `r`"),
    ] {
        let request = with_secret(word(221), secret);
        let got = reason(&request);
        assert!(
            got.contains(needle),
            "{}: {got}",
            String::from_utf8_lossy(secret)
        );
        let got = prove_reason(&request);
        assert!(
            got.contains(needle),
            "{}: {got}",
            String::from_utf8_lossy(secret)
        );
        // The public part alone is fine: only the secret shows the inputs are wrong.
        assert!(
            prover
                .check_inputs(&request.prover_data)
                .expect("checks")
                .is_valid()
        );
    }

    // A secret that is not the private inputs: a reason naming the secret.
    for (secret, needle) in [
        (&br#"{"p": 13, "q": "#[..], "not JSON"),
        (&[0xff, 0xfe, b'{', b'}'], "not UTF-8"),
        (b"[13, 17]", "JSON object"),
        (
            br#"{"p":"13","q":"17","n":"221"}"#,
            "set the public input `n`",
        ),
    ] {
        let request = with_secret(word(221), secret);
        for got in [reason(&request), prove_reason(&request)] {
            assert!(
                got.contains(needle) && got.contains("the secret"),
                "{}: {got}",
                String::from_utf8_lossy(secret)
            );
        }
    }

    // No secret (or an empty one, as public markets store it).
    for request in [ProveRequest::new(word(221)), with_secret(word(221), b"")] {
        let got = reason(&request);
        assert!(got.contains("the ask has no secret inputs"), "{got}");
        let got = prove_reason(&request);
        assert!(
            got.contains("takes its private inputs from the ask's secret"),
            "{got}"
        );
    }

    // The prover data is the word alone: a JSON tail (the "json" layout) is a length error, checked with
    // or without the secret.
    let tailed = factors_data(221, r#"{"p":"13","q":"17"}"#);
    let expected = format!(
        "expected 32 bytes (1 input word(s): n; the private inputs come from the ask's secret), got {}",
        tailed.len()
    );
    let request = with_secret(tailed.clone(), br#"{"p":"13","q":"17"}"#);
    for got in [
        reason(&request),
        prove_reason(&request),
        invalid_reason(prover.check_inputs(&tailed).expect("check runs")),
    ] {
        assert!(got.contains(&expected), "{got}");
    }
    // The words are still checked: short, or not a scalar.
    let short = invalid_reason(prover.check_inputs(&word(221)[..20]).expect("check runs"));
    assert!(short.contains("expected 32 bytes"), "{short}");
    let r_word = hex::decode("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001")
        .expect("hex");
    let got = reason(&with_secret(r_word.clone(), br#"{"p":"13","q":"17"}"#));
    assert!(got.contains("input `n` 0x30644e72"), "{got}");
    assert!(!prover.check_inputs(&r_word).expect("check runs").is_valid());
}

#[test]
fn json_market_rejects_a_secret() {
    let prover = CircomProver::new(&factors_config()).expect("builds");
    let request = with_secret(
        factors_data(221, r#"{"p":"13","q":"17"}"#),
        br#"{"p":"13","q":"17"}"#,
    );
    let err = prover.prove(&request).expect_err("no secrets");
    assert!(
        matches!(&err, ProverError::InvalidInput { reason } if reason.contains("not from a secret")),
        "{err}"
    );
    let got = invalid_reason(prover.check_request(&request).expect("check runs"));
    assert!(got.contains("not from a secret"), "{got}");
    // Without the secret the same ask is valid, by either check.
    let request = ProveRequest::new(request.prover_data);
    assert!(prover.check_request(&request).expect("checks").is_valid());
    assert!(
        prover
            .check_inputs(&request.prover_data)
            .expect("checks")
            .is_valid()
    );

    // A circuit without private inputs takes no secret either.
    let chain = CircomProver::new(&chain_config()).expect("builds");
    let got = invalid_reason(
        chain
            .check_request(&with_secret(word(3), b"{}"))
            .expect("check runs"),
    );
    assert!(got.contains("takes no private inputs"), "{got}");
}

#[test]
fn secret_market_splits_an_input_json_into_prover_data_and_secret() {
    let config = factors_secret_config();
    let input = read_json(&fixture("factors").join("input.json"));
    let err = circom::prover_data(&config, &input)
        .expect_err("p and q may not be public")
        .to_string();
    assert!(
        err.contains(
            "this market takes private inputs from the ask's secret: pass them with --secret-file, never \
             in the public inputs"
        ),
        "{err}"
    );
    let secret = circom::secret_inputs(&config, &input)
        .expect("splits")
        .expect("a secret");
    assert_eq!(
        serde_json::from_slice::<Value>(&secret).expect("json"),
        json!({"p": "13", "q": "17"})
    );
    assert!(!secret.contains(&b' '), "compact JSON");
    // The public part alone is the prover data; it has no secret.
    let public = json!({"n": "221"});
    assert_eq!(
        circom::prover_data(&config, &public).expect("encodes"),
        word(221)
    );
    assert_eq!(
        circom::secret_inputs(&config, &public).expect("splits"),
        None
    );
    // The two halves make a provable ask.
    let prover = CircomProver::new(&config).expect("builds");
    assert!(
        prover
            .check_request(&with_secret(word(221), &secret))
            .expect("checks")
            .is_valid()
    );
    // Private inputs given as values are refused the same way.
    let err = circom::encode_prover_data(&config, &[Fr::from(221u64)], Some(&json!({"p": "13"})))
        .expect_err("refused")
        .to_string();
    assert!(err.contains("--secret-file"), "{err}");
    // The split still checks the inputs: the public input must be set.
    let err = circom::secret_inputs(&config, &json!({"p": "13", "q": "17"}))
        .expect_err("no n")
        .to_string();
    assert!(err.contains("do not set the public input `n`"), "{err}");
    // A "json" market keeps its private inputs in the prover data: no secret.
    assert_eq!(
        circom::secret_inputs(&factors_config(), &input).expect("splits"),
        None
    );
    // A "none" market has no private inputs to put anywhere.
    let err = circom::secret_inputs(&chain_config(), &json!({"x": 1, "extra": 2}))
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("private_inputs = \"none\"") && err.contains("\"secret\""),
        "{err}"
    );
}

/// Deploys a `Groth16Verifier` for `artifact` through a fresh `VerifierFactory`.
async fn deploy_through_factory(
    chain: &Chain,
    artifact: &VerifierArtifact,
) -> Groth16Verifier::Groth16VerifierInstance<alloy::providers::DynProvider> {
    // Groth16 verifiers need no key registry: any non-zero address stands in for it.
    let factory = VerifierFactory::deploy(chain.provider.clone(), Address::repeat_byte(0x01))
        .await
        .expect("deploy the factory");
    let address: Address = factory.nextVerifier().call().await.expect("nextVerifier");
    let receipt = factory
        .deployGroth16(
            artifact.vk.clone().into(),
            U256::from(artifact.num_inputs),
            artifact.inputs.clone().into(),
            artifact.proof.clone().into(),
        )
        .send()
        .await
        .expect("deployGroth16 sent")
        .get_receipt()
        .await
        .expect("receipt");
    assert!(receipt.status(), "deployGroth16 reverted");
    assert!(
        factory
            .isVerifier(address)
            .call()
            .await
            .expect("isVerifier")
    );
    Groth16Verifier::new(address, chain.provider.clone())
}

#[tokio::test]
async fn circom_proofs_verify_on_chain() {
    let chain = Chain::spawn();

    // chain: the verifier made from snarkjs's own sample proof; a fresh native proof verifies.
    let dir = fixture("chain");
    let artifact = circom::verifier_artifact(
        &chain_config(),
        &snarkjs_vk("chain"),
        &snarkjs::parse_public_signals(&read_json(&dir.join("public.json"))).expect("public"),
        &snarkjs::parse_proof(&read_json(&dir.join("proof.json"))).expect("proof"),
        None,
    )
    .expect("artifact");
    let verifier = deploy_through_factory(&chain, &artifact).await;
    assert_eq!(
        verifier.numInputs().call().await.expect("numInputs"),
        U256::from(1)
    );
    let prover = CircomProver::new(&chain_config()).expect("builds");
    let proof = prover
        .prove(&ProveRequest::new(word(77)))
        .expect("proves")
        .into_bytes();
    let on_chain = |inputs: Vec<u8>, proof: Vec<u8>| {
        let verifier = &verifier;
        async move {
            verifier
                .verify(Bytes::from(inputs), Bytes::from(proof))
                .call()
                .await
                .unwrap_or(false)
        }
    };
    assert!(on_chain(word(77), proof.clone()).await);
    let mut tampered = proof.clone();
    tampered[evm::PROOF_LEN + 31] ^= 1;
    assert!(!on_chain(word(77), tampered).await, "a wrong output y");
    assert!(!on_chain(word(78), proof.clone()).await, "another x");

    // factors: the artifact from a fresh sample proof with the private tail in the sample input.
    let prover = CircomProver::new(&factors_config()).expect("builds");
    let artifact = prover.sample_verifier_artifact().expect("artifact");
    assert_eq!(artifact.num_constraints, 135);
    assert_eq!(artifact.inputs, prover.sample_inputs().expect("sample"));
    assert!(artifact.outputs.is_empty());
    let verifier = deploy_through_factory(&chain, &artifact).await;
    assert!(
        verifier
            .checkSampleInputsAndProof()
            .call()
            .await
            .expect("self-check")
    );
    let data = factors_data(143, r#"{"p": "11", "q": "13"}"#);
    let proof = prover
        .prove(&ProveRequest::new(data.clone()))
        .expect("proves")
        .into_bytes();
    let on_chain = |inputs: Vec<u8>, proof: Vec<u8>| {
        let verifier = &verifier;
        async move {
            verifier
                .verify(Bytes::from(inputs), Bytes::from(proof))
                .call()
                .await
                .unwrap_or(false)
        }
    };
    assert!(on_chain(data, proof.clone()).await);
    assert!(
        on_chain(word(143), proof.clone()).await,
        "the tail is ignored"
    );
    assert!(!on_chain(word(144), proof.clone()).await, "another n");
    let mut tampered = proof;
    tampered[evm::PROOF_LEN - 1] ^= 1;
    assert!(!on_chain(word(143), tampered).await);
}

/// The snarkjs CLI, from `$KALYPSO_NODE_BIN` or the pinned toolchain (`scripts/setup.sh`).
fn snarkjs_groth16_verify(dir: &Path, vk: &Value, public: &Value, proof: &Value) -> (bool, String) {
    let bin = std::env::var_os("KALYPSO_NODE_BIN").map_or_else(
        || repo_root().join(".tools/node_modules/.bin"),
        PathBuf::from,
    );
    let write = |name: &str, v: &Value| {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_vec(v).expect("json")).expect("write");
        path
    };
    let files = [
        write("vk.json", vk),
        write("public.json", public),
        write("proof.json", proof),
    ];
    let snarkjs = bin.join("snarkjs");
    let out = Command::new(&snarkjs)
        .args(["groth16", "verify"])
        .args(&files)
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
    // snarkjs prints `OK!` and exits 0 only for a valid proof.
    (out.status.success() && text.contains("OK!"), text)
}

#[test]
fn snarkjs_accepts_a_factors_proof_of_the_backend() {
    let prover = CircomProver::new(&factors_config()).expect("builds");
    let bytes = prover
        .prove(&ProveRequest::new(factors_data(
            4_294_967_297,
            r#"{"p": "641", "q": "6700417"}"#,
        )))
        .expect("proves F5")
        .into_bytes();
    let proof = evm::decode_proof(&bytes).expect("a proof");
    let tmp = tempfile::tempdir().expect("tempdir");
    let vk = read_json(&fixture("factors").join("verification_key.json"));
    let (ok, out) = snarkjs_groth16_verify(
        tmp.path(),
        &vk,
        &snarkjs::public_signals_json(&[Fr::from(4_294_967_297u64)]),
        &snarkjs::proof_json(&proof),
    );
    assert!(ok, "snarkjs rejected the proof:\n{out}");
    let (ok, out) = snarkjs_groth16_verify(
        tmp.path(),
        &vk,
        &snarkjs::public_signals_json(&[Fr::from(4_294_967_298u64)]),
        &snarkjs::proof_json(&proof),
    );
    assert!(!ok, "snarkjs accepted the proof for another n:\n{out}");
}
