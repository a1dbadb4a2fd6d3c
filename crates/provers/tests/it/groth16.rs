//! The built-in Groth16 backend through the `Prover` trait.

use std::sync::Arc;

use kalypso_provers::{
    CircuitKind, CircuitSpec, Groth16Config, Groth16Prover, InputCheck, ProveRequest, Prover,
    ProverConfig, ProverError, ProverKind, setup,
};

fn prover(kind: CircuitKind, size: usize) -> (Arc<dyn Prover>, CircuitSpec) {
    let config = ProverConfig::Groth16(Groth16Config::new(kind, size));
    let prover = config.build().expect("built-in prover builds");
    (prover, CircuitSpec::new(kind, size).expect("valid size"))
}

#[test]
fn both_circuits_prove_what_the_verifier_accepts() {
    for (kind, size) in [(CircuitKind::Mimc, 16), (CircuitKind::Merkle, 4)] {
        let (prover, spec) = prover(kind, size);
        let info = prover.describe();
        assert_eq!(info.kind, ProverKind::Groth16);
        assert_eq!(info.circuit.as_deref(), Some(kind.as_str()));
        assert_eq!(info.constraints, Some(spec.num_constraints() as u64));

        let inputs = spec.sample_inputs(3);
        assert_eq!(
            prover.check_inputs(&inputs).expect("check runs"),
            InputCheck::Valid
        );
        let proof = prover
            .prove(&ProveRequest::new(inputs.clone()))
            .expect("valid inputs prove");
        assert_eq!(proof.as_bytes().len(), spec.proof_len(), "{spec}");

        // The same keys (cached: no second setup) verify it the way the contract does.
        let keys = setup::load_or_setup(None, spec, None).expect("cached keys");
        assert!(
            keys.verify_submission(&inputs, proof.as_bytes())
                .expect("parses")
        );
        // Fresh blinding per proof: a second proof differs and verifies too.
        let again = prover
            .prove(&ProveRequest::new(inputs.clone()))
            .expect("proves again");
        assert_ne!(again, proof);
        assert!(
            keys.verify_submission(&inputs, again.as_bytes())
                .expect("parses")
        );
        // The proof is bound to its statement.
        let other = spec.sample_inputs(4);
        assert!(
            !keys
                .verify_submission(&other, proof.as_bytes())
                .expect("parses")
        );
    }
}

#[test]
fn invalid_inputs_and_secrets_are_refused_before_proving() {
    for (kind, size) in [(CircuitKind::Mimc, 8), (CircuitKind::Merkle, 2)] {
        let (prover, spec) = prover(kind, size);
        let (bad, reason) = spec.invalid_sample_inputs();
        let InputCheck::Invalid { reason: said } = prover.check_inputs(&bad).expect("check runs")
        else {
            panic!("{spec}: invalid sample accepted");
        };
        match kind {
            CircuitKind::Mimc => assert!(said.contains("not a BN254 scalar"), "{said}"),
            CircuitKind::Merkle => assert_eq!(said, reason),
        }
        match prover.prove(&ProveRequest::new(bad)) {
            Err(ProverError::InvalidInput { reason: r }) => assert_eq!(r, said),
            other => panic!("{spec}: expected InvalidInput, got {other:?}"),
        }
        assert!(matches!(
            prover.prove(&ProveRequest::new(vec![1, 2, 3])),
            Err(ProverError::InvalidInput { .. })
        ));
        let with_secret = ProveRequest {
            secret: Some(vec![1]),
            ..ProveRequest::new(spec.sample_inputs(0))
        };
        assert!(matches!(
            prover.prove(&with_secret),
            Err(ProverError::InvalidInput { reason }) if reason.contains("no secret")
        ));
        // An empty secret is what a public market stores: accepted.
        let empty_secret = ProveRequest {
            secret: Some(Vec::new()),
            ..ProveRequest::new(spec.sample_inputs(0))
        };
        assert!(prover.prove(&empty_secret).is_ok());
    }
}

#[test]
fn a_dedicated_pool_sets_the_threads_per_proof() {
    let spec = CircuitSpec::new(CircuitKind::Mimc, 12).expect("valid size");
    let keys = setup::load_or_setup(None, spec, None).expect("keys");
    let prover = Groth16Prover::new(keys.clone())
        .with_threads(1)
        .expect("one thread");
    assert_eq!(prover.describe().threads, Some(1));
    let inputs = spec.sample_inputs(0);
    let proof = prover
        .prove(&ProveRequest::new(inputs.clone()))
        .expect("proves");
    assert!(
        keys.verify_submission(&inputs, proof.as_bytes())
            .expect("parses")
    );
    assert!(matches!(
        Groth16Prover::new(keys).with_threads(0),
        Err(ProverError::Config { .. })
    ));
}

#[test]
fn benchmark_of_a_built_in_prover_times_its_sample() {
    let (prover, _) = prover(CircuitKind::Merkle, 2);
    let report = prover.benchmark(3).expect("benchmark runs");
    assert_eq!(report.runs, 3);
    assert_eq!(report.times_ms.len(), 3);
    assert!(report.min_ms > 0.0 && report.min_ms <= report.p50_ms);
    assert!(report.p50_ms <= report.p90_ms && report.p90_ms <= report.max_ms);
    assert!(report.threads.is_some_and(|t| t >= 1));
}
