//! The committed Groth16 fixture `contracts/test/fixtures/groth16_mimc.json`: a real arkworks proof of a
//! [`MimcChain`] statement that the Solidity verifier tests load.
//!
//! Everything in it is derived from the constants below, so regenerating it is byte-for-byte
//! reproducible (`cargo run -p kalypso-provers --example groth16_fixture`); a test fails when the committed
//! file drifts from what this code produces.

use ark_groth16::{Proof, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::{
    Bn254, Fr, Result, evm,
    groth16::{check_circuit, insecure_devnet_setup, prove_seeded},
    mimc::MimcChain,
};

/// Path of the fixture relative to the workspace root.
pub const FIXTURE_PATH: &str = "contracts/test/fixtures/groth16_mimc.json";
/// Chain length of the fixture circuit (`3·64 + 1 = 193` constraints).
pub const FIXTURE_ROUNDS: usize = 64;
/// Seed of the INSECURE devnet setup of the fixture.
pub const FIXTURE_SETUP_SEED: [u8; 32] = *b"kalypso/fixture/groth16/setup/v1";
/// Seed of the fixture proof's blinding factors.
pub const FIXTURE_PROVE_SEED: [u8; 32] = *b"kalypso/fixture/groth16/prove/v1";
/// The fixture's public input `x` ("KALYPSO" in ASCII).
pub const FIXTURE_INPUT: u64 = 0x004b_414c_5950_534f;

/// The JSON document the Forge tests read; hex strings are `0x`-prefixed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Groth16Fixture {
    /// Human-readable provenance, including the INSECURE-setup warning.
    pub description: String,
    /// Circuit identifier.
    pub circuit: String,
    /// MiMC chain rounds.
    pub rounds: usize,
    /// R1CS constraints of the circuit.
    pub num_constraints: usize,
    /// Public signals (`numInputs` inputs followed by the outputs).
    pub num_public_signals: usize,
    /// Signals supplied by the requester in the ask's `inputs`.
    pub num_inputs: usize,
    /// Verifying key in the `Groth16Verifier` constructor layout.
    pub vk: String,
    /// The ask's `inputs`: the public input words.
    pub inputs: String,
    /// The public outputs, one 32-byte word each.
    pub outputs: Vec<String>,
    /// The submitted proof: 256-byte Groth16 proof followed by the output words.
    pub proof: String,
}

impl Groth16Fixture {
    /// Pretty JSON with a trailing newline, exactly as committed.
    pub fn to_json(&self) -> String {
        // Serializing a struct of strings and integers cannot fail.
        let mut json = serde_json::to_string_pretty(self).expect("plain struct serializes");
        json.push('\n');
        json
    }
}

/// A generated fixture together with the arkworks objects it encodes, for native checks.
#[derive(Clone, Debug)]
pub struct GeneratedFixture {
    /// The JSON document.
    pub fixture: Groth16Fixture,
    /// The verifying key.
    pub vk: VerifyingKey<Bn254>,
    /// The proof.
    pub proof: Proof<Bn254>,
    /// The public signals `[x, y]`.
    pub public_signals: Vec<Fr>,
}

/// Builds the committed fixture from the constants of this module.
pub fn mimc_fixture() -> Result<GeneratedFixture> {
    let chain = MimcChain::new(FIXTURE_ROUNDS);
    let circuit = chain.circuit(Fr::from(FIXTURE_INPUT));
    let stats = check_circuit(circuit.clone())?;
    let (pk, vk) = insecure_devnet_setup(circuit.clone(), FIXTURE_SETUP_SEED)?;
    let proof = prove_seeded(&pk, circuit.clone(), FIXTURE_PROVE_SEED)?;

    let public_signals = circuit.public_signals().to_vec();
    let (inputs, outputs) = public_signals.split_at(1);
    let fixture = Groth16Fixture {
        description: format!(
            "Groth16/BN254 proof of y = MiMC-5^{FIXTURE_ROUNDS}(x) from kalypso-provers. INSECURE devnet setup \
             (toxic waste derived from a public seed): test use only. Regenerate with `cargo run -p \
             kalypso-provers --example groth16_fixture`."
        ),
        circuit: "mimc5-chain".to_owned(),
        rounds: FIXTURE_ROUNDS,
        num_constraints: stats.num_constraints,
        num_public_signals: stats.num_public_signals,
        num_inputs: inputs.len(),
        vk: hex0x(&evm::encode_verifying_key(&vk)),
        inputs: hex0x(&evm::encode_inputs(inputs)),
        outputs: outputs.iter().map(|y| hex0x(&evm::encode_fr(y))).collect(),
        proof: hex0x(&evm::encode_proof_with_outputs(&proof, outputs)),
    };
    Ok(GeneratedFixture {
        fixture,
        vk,
        proof,
        public_signals,
    })
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}
