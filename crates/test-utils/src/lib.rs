#![doc = include_str!("../README.md")]

use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use std::path::PathBuf;

/// The repository root (tests run from their crate's folder).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The pinned anvil: `$KALYPSO_ANVIL`, else `.tools/bin/anvil` from `scripts/setup.sh`.
pub fn anvil_path() -> PathBuf {
    std::env::var_os("KALYPSO_ANVIL")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".tools/bin/anvil"))
}

/// A fresh anvil and a provider signing with its first account. Dropping it stops the node.
pub struct Chain {
    /// The running node (killed on drop).
    pub anvil: AnvilInstance,
    /// HTTP provider with anvil's first key as wallet.
    pub provider: DynProvider,
    /// The signer of `provider`.
    pub signer: PrivateKeySigner,
}

impl Chain {
    /// Spawns anvil on a free loopback port.
    ///
    /// # Panics
    /// If anvil cannot be started (run `scripts/setup.sh` first).
    pub fn spawn() -> Self {
        let path = anvil_path();
        let anvil = Anvil::new().path(&path).try_spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start anvil at {} (run scripts/setup.sh): {e}",
                path.display()
            )
        });
        let signer: PrivateKeySigner = anvil.keys()[0].clone().into();
        let provider = ProviderBuilder::new()
            .wallet(signer.clone())
            .connect_http(anvil.endpoint_url())
            .erased();
        Self {
            anvil,
            provider,
            signer,
        }
    }

    /// A signer for anvil's `i`-th funded account.
    ///
    /// # Panics
    /// If `i` is out of the node's key range (10 by default).
    pub fn account(&self, i: usize) -> PrivateKeySigner {
        self.anvil.keys()[i].clone().into()
    }
}

/// The committed Groth16 fixture (`contracts/test/fixtures/groth16_mimc.json`): a real proof of the MiMC
/// hash-chain circuit produced by `kalypso-provers`.
#[derive(Debug, Clone)]
pub struct Groth16Fixture {
    /// Verifying key in the Groth16Verifier constructor layout.
    pub vk: Bytes,
    /// Number of public inputs the requester supplies.
    pub num_inputs: U256,
    /// The ask's prover data (the public input x).
    pub inputs: Bytes,
    /// The proof followed by the public output y.
    pub proof: Bytes,
}

impl Groth16Fixture {
    /// Reads the fixture from the repository.
    ///
    /// # Panics
    /// If the file is missing or malformed (it is committed; a panic means a broken checkout).
    pub fn load() -> Self {
        let path = repo_root().join("contracts/test/fixtures/groth16_mimc.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let json: serde_json::Value = serde_json::from_str(&text).expect("fixture is JSON");
        let bytes = |k: &str| -> Bytes {
            json[k]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("fixture field {k}"))
        };
        Self {
            vk: bytes("vk"),
            num_inputs: U256::from(json["numInputs"].as_u64().expect("fixture field numInputs")),
            inputs: bytes("inputs"),
            proof: bytes("proof"),
        }
    }
}
