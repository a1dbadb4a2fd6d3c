//! From the framework's order of public signals to the verifier's.
//!
//! `Groth16Verifier` reads the ask's input words first and the proof's outputs after them; frameworks order
//! public signals their own way (snarkjs: the outputs of `main`, then its public inputs). A verifying key
//! only pairs each public signal with one `IC` point, so permuting the signals and the `IC` points the same
//! way gives a key for the verifier's order that accepts exactly the same proofs.

use ark_bn254::{Bn254, Fr};
use ark_groth16::{Proof, VerifyingKey};
use kalypso_provers::{PublicSignal, SignalSource, VerifierArtifact, evm};

use crate::{Error, Result};

/// Positions (in the framework's order) of the input signals, then of the output signals: the verifier's
/// order.
pub fn verifier_order(signals: &[PublicSignal]) -> Vec<usize> {
    let of = |source| {
        signals
            .iter()
            .enumerate()
            .filter(move |(_, s)| s.source == source)
            .map(|(i, _)| i)
    };
    of(SignalSource::Input)
        .chain(of(SignalSource::Output))
        .collect()
}

/// The verifying key with its `IC` points in the verifier's order.
pub fn verifier_key(
    vk: &VerifyingKey<Bn254>,
    signals: &[PublicSignal],
) -> Result<VerifyingKey<Bn254>> {
    let public = vk.gamma_abc_g1.len().saturating_sub(1);
    if public != signals.len() {
        return Err(Error::manifest(format!(
            "public.signals lists {} signals but the verifying key has {public}",
            signals.len()
        )));
    }
    let mut permuted = vk.clone();
    permuted.gamma_abc_g1 = std::iter::once(vk.gamma_abc_g1[0])
        .chain(
            verifier_order(signals)
                .into_iter()
                .map(|i| vk.gamma_abc_g1[i + 1]),
        )
        .collect();
    Ok(permuted)
}

/// Splits public signal values (framework order) into the ask's inputs and the proof's outputs.
pub fn split(signals: &[PublicSignal], values: &[Fr]) -> Result<(Vec<Fr>, Vec<Fr>)> {
    if values.len() != signals.len() {
        return Err(Error::manifest(format!(
            "public.signals lists {} signals but {} values were given",
            signals.len(),
            values.len()
        )));
    }
    let pick = |source| {
        signals
            .iter()
            .zip(values)
            .filter(|(s, _)| s.source == source)
            .map(|(_, v)| *v)
            .collect()
    };
    Ok((pick(SignalSource::Input), pick(SignalSource::Output)))
}

/// The `Groth16Verifier` constructor arguments of a package: its key in the verifier's order and its sample
/// as prover data (`inputs` words ‖ `private_tail`) and proof (`A‖B‖C` ‖ output words).
pub fn verifier_artifact(
    name: &str,
    vk: &VerifyingKey<Bn254>,
    signals: &[PublicSignal],
    sample_public: &[Fr],
    sample_proof: &Proof<Bn254>,
    private_tail: &[u8],
) -> Result<VerifierArtifact> {
    let key = verifier_key(vk, signals)?;
    let (inputs, outputs) = split(signals, sample_public)?;
    let mut prover_data = evm::encode_inputs(&inputs);
    prover_data.extend_from_slice(private_tail);
    Ok(VerifierArtifact {
        description: format!("circuit package {name}"),
        circuit: name.to_owned(),
        size: 0,
        num_constraints: 0,
        num_public_signals: signals.len(),
        num_inputs: inputs.len(),
        vk: evm::encode_verifying_key(&key),
        inputs: prover_data,
        outputs: outputs
            .iter()
            .map(|o| format!("0x{}", hex::encode(evm::encode_fr(o))))
            .collect(),
        proof: evm::encode_proof_with_outputs(sample_proof, &outputs),
        setup_seed: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ec::AffineRepr;

    fn signal(name: &str, source: SignalSource) -> PublicSignal {
        PublicSignal {
            name: name.into(),
            source,
        }
    }

    #[test]
    fn inputs_come_first_in_listed_order() {
        let signals = [
            signal("o1", SignalSource::Output),
            signal("a", SignalSource::Input),
            signal("o2", SignalSource::Output),
            signal("b", SignalSource::Input),
        ];
        assert_eq!(verifier_order(&signals), [1, 3, 0, 2]);
        let values: Vec<Fr> = (10u64..14).map(Fr::from).collect();
        let (inputs, outputs) = split(&signals, &values).expect("lengths match");
        assert_eq!(inputs, [Fr::from(11u64), Fr::from(13u64)]);
        assert_eq!(outputs, [Fr::from(10u64), Fr::from(12u64)]);

        let g = ark_bn254::G1Affine::generator();
        let points: Vec<_> = (1u64..=5)
            .map(|k| (g * Fr::from(k)).into())
            .collect::<Vec<ark_bn254::G1Affine>>();
        let vk = VerifyingKey::<Bn254> {
            gamma_abc_g1: points.clone(),
            ..VerifyingKey::default()
        };
        let permuted = verifier_key(&vk, &signals).expect("sizes match");
        assert_eq!(
            permuted.gamma_abc_g1,
            [points[0], points[2], points[4], points[1], points[3]]
        );
        assert!(verifier_key(&vk, &signals[..3]).is_err());
        assert!(split(&signals, &values[..3]).is_err());
    }
}
