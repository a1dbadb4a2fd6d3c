//! Proofs of both circuits checked by the `Groth16Verifier` contract on a fresh anvil, deployed with the
//! verifier artifact of the seeded setup.

use alloy::primitives::{Bytes, U256};
use kalypso_contracts::Groth16Verifier;
use kalypso_provers::{CircuitKind, CircuitSpec, Groth16Prover, ProveRequest, Prover, evm, setup};
use kalypso_test_utils::Chain;

#[tokio::test]
async fn proofs_of_both_circuits_verify_on_chain() {
    let chain = Chain::spawn();
    for (kind, size) in [(CircuitKind::Merkle, 5), (CircuitKind::Mimc, 32)] {
        let spec = CircuitSpec::new(kind, size).expect("valid size");
        let keys = setup::load_or_setup(None, spec, None).expect("keys");
        let artifact = keys.verifier_artifact().clone();
        let verifier = Groth16Verifier::deploy(
            chain.provider.clone(),
            artifact.vk.clone().into(),
            U256::from(artifact.num_inputs),
            artifact.inputs.clone().into(),
            artifact.proof.clone().into(),
        )
        .await
        .unwrap_or_else(|e| panic!("deploy the {spec} verifier: {e}"));
        assert!(
            verifier
                .checkSampleInputsAndProof()
                .call()
                .await
                .expect("self-check"),
            "{spec}"
        );
        assert_eq!(
            verifier.numInputs().call().await.expect("numInputs"),
            U256::from(kind.num_inputs())
        );

        let prover = Groth16Prover::new(keys.clone());
        let inputs = spec.sample_inputs(11);
        let proof = prover
            .prove(&ProveRequest::new(inputs.clone()))
            .expect("proves")
            .into_bytes();
        let verify = |inputs: Vec<u8>, proof: Vec<u8>| {
            let verifier = &verifier;
            async move {
                verifier
                    .verify(Bytes::from(inputs), Bytes::from(proof))
                    .call()
                    .await
            }
        };
        assert!(
            verify(inputs.clone(), proof.clone()).await.expect("verify"),
            "{spec}"
        );
        assert!(
            verifier
                .verifyInputs(inputs.clone().into())
                .call()
                .await
                .expect("verifyInputs"),
            "{spec}"
        );
        // Too short: the verifier says which rule failed (`InputsTooShort`), which `createAsk` passes on.
        let err = verifier
            .verifyInputs(inputs[..31].to_vec().into())
            .call()
            .await
            .expect_err("too-short inputs are refused");
        let reason = err
            .as_decoded_interface_error::<Groth16Verifier::Groth16VerifierErrors>()
            .expect("a Groth16Verifier error");
        assert!(
            matches!(reason, Groth16Verifier::Groth16VerifierErrors::InputsTooShort(ref e) if e.length == U256::from(31)),
            "{spec}: {reason:?}"
        );

        // A flipped bit in C: not a curve point any more, so false (or a revert), never true.
        let mut tampered = proof.clone();
        tampered[evm::PROOF_LEN - 1] ^= 1;
        assert!(
            !verify(inputs.clone(), tampered).await.unwrap_or(false),
            "{spec}"
        );
        // The proof of one statement does not prove another.
        let other = spec.sample_inputs(12);
        assert!(
            !verify(other, proof.clone()).await.unwrap_or(false),
            "{spec}"
        );
        if kind == CircuitKind::Mimc {
            // A wrong public output y.
            let mut wrong_output = proof.clone();
            wrong_output[evm::PROOF_LEN + 31] ^= 1;
            assert!(!verify(inputs.clone(), wrong_output).await.unwrap_or(false));
        }
    }
}

#[tokio::test]
async fn a_false_merkle_statement_passes_the_format_check_but_cannot_be_proven() {
    let chain = Chain::spawn();
    let spec = CircuitSpec::new(CircuitKind::Merkle, 3).expect("valid size");
    let keys = setup::load_or_setup(None, spec, None).expect("keys");
    let artifact = keys.verifier_artifact();
    let verifier = Groth16Verifier::deploy(
        chain.provider.clone(),
        artifact.vk.clone().into(),
        U256::from(artifact.num_inputs),
        artifact.inputs.clone().into(),
        artifact.proof.clone().into(),
    )
    .await
    .expect("deploy");
    let (bad, _) = spec.invalid_sample_inputs();
    // The marketplace accepts the ask (its verifier's format check passes)...
    assert!(
        verifier
            .verifyInputs(bad.clone().into())
            .call()
            .await
            .expect("verifyInputs")
    );
    // ...but no prover can prove it: this is what the IVS attests.
    let prover = Groth16Prover::new(keys.clone());
    assert!(!prover.check_inputs(&bad).expect("check runs").is_valid());
    // Nor does a proof of the true statement with the same leaf pass for it.
    let sample_proof = artifact.proof.clone();
    assert!(
        !verifier
            .verify(bad.into(), sample_proof.into())
            .call()
            .await
            .unwrap_or(false)
    );
}
