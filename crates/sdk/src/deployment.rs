//! The addresses of a deployed protocol, in the JSON shape `contracts/script/Deploy.s.sol` writes.

use alloy::primitives::Address;
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::{Error, Result, types::MarketId};

/// Where the protocol lives on one chain: the proxies users talk to, the tokens, and the sample market when
/// the deployment created one. Serialised exactly like `contracts/deployments/<chainId>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    /// Chain id the addresses belong to.
    pub chain_id: u64,
    /// A block at or before the deployment's first transaction: log queries start here instead of at genesis
    /// (some RPC providers cap the block range of `eth_getLogs`). Zero when unknown.
    #[serde(default)]
    pub deploy_block: u64,
    /// `ProofMarketplace` proxy.
    #[serde(serialize_with = "checksummed")]
    pub marketplace: Address,
    /// `GeneratorRegistry` proxy (also the native staking pool).
    #[serde(serialize_with = "checksummed")]
    pub generator_registry: Address,
    /// `EntityKeyRegistry` proxy.
    #[serde(serialize_with = "checksummed")]
    pub key_registry: Address,
    /// `AttestationVerifier` proxy.
    #[serde(serialize_with = "checksummed")]
    pub attestation_verifier: Address,
    /// Payment token (rewards, fees).
    #[serde(serialize_with = "checksummed")]
    pub payment_token: Address,
    /// Staking token (generator stake).
    #[serde(serialize_with = "checksummed")]
    pub staking_token: Address,
    /// `TimelockController` holding the admin role of every contract, when the deployment made one.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "checksummed_opt"
    )]
    pub timelock: Option<Address>,
    /// `Groth16Verifier` of the sample market, when one was created.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "checksummed_opt"
    )]
    pub sample_verifier: Option<Address>,
    /// The sample market, when one was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_market_id: Option<MarketId>,
    /// The registry's restaking pools (`GeneratorRegistry.collateralPools()`, in id order), whose events are
    /// protocol events too. Indexers read them from the registry ([`Kalypso::collateral_pools`](crate::Kalypso::collateral_pools)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restaking_pools: Vec<Address>,
}

impl Deployment {
    /// Reads a deployment file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })
    }

    /// Writes the deployment file (pretty JSON), creating its folder if needed.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let json = serde_json::to_string_pretty(self).map_err(|source| Error::Json {
            path: path.to_owned(),
            source,
        })?;
        std::fs::write(path, json + "\n").map_err(io)
    }
}

/// Addresses are written EIP-55 checksummed, like forge writes them, so rewriting a file does not churn it.
fn checksummed<S: serde::Serializer>(address: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&address.to_checksum(None))
}

fn checksummed_opt<S: serde::Serializer>(
    address: &Option<Address>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match address {
        Some(address) => checksummed(address, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file `forge script script/Deploy.s.sol` wrote for anvil (chain 31337).
    const FORGE_OUTPUT: &str = r#"{
  "attestationVerifier": "0xBb2180ebd78ce97360503434eD37fcf4a1Df61c3",
  "chainId": 31337,
  "deployBlock": 0,
  "generatorRegistry": "0x50EEf481cae4250d252Ae577A09bF514f224C6C4",
  "keyRegistry": "0xDEb1E9a6Be7Baf84208BB6E10aC9F9bbE1D70809",
  "marketplace": "0x4f559F30f5eB88D635FDe1548C4267DB8FaB0351",
  "paymentToken": "0x34A1D3fff3958843C43aD80F30b94c510645C316",
  "sampleMarketId": 1,
  "sampleVerifier": "0x978e3286EB805934215a88694d80b09aDed68D90",
  "stakingToken": "0x90193C961A926261B756D1E5bb255e67ff9498A1"
}"#;

    #[test]
    fn reads_what_the_forge_script_writes_and_round_trips() {
        let d: Deployment = serde_json::from_str(FORGE_OUTPUT).unwrap();
        assert_eq!(d.chain_id, 31337);
        assert_eq!(d.sample_market_id, Some(1));
        assert_eq!(
            d.marketplace,
            "0x4f559F30f5eB88D635FDe1548C4267DB8FaB0351"
                .parse::<Address>()
                .unwrap()
        );

        let dir = std::env::temp_dir().join(format!("kalypso-sdk-{}", std::process::id()));
        let path = dir.join("deployments/31337.json");
        d.save(&path).unwrap();
        assert_eq!(Deployment::load(&path).unwrap(), d);
        // Same keys, same values, same (checksummed) spelling as the forge script's file.
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            value,
            serde_json::from_str::<serde_json::Value>(FORGE_OUTPUT).unwrap()
        );
        std::fs::remove_dir_all(dir).unwrap();

        let without_sample = Deployment {
            sample_market_id: None,
            sample_verifier: None,
            ..d
        };
        let json = serde_json::to_string(&without_sample).unwrap();
        assert!(!json.contains("sample"), "{json}");
    }

    #[test]
    fn missing_and_malformed_files_name_the_path() {
        let err = Deployment::load("/nonexistent/31337.json").unwrap_err();
        assert!(err.to_string().starts_with("/nonexistent/31337.json"));
        let path =
            std::env::temp_dir().join(format!("kalypso-sdk-bad-{}.json", std::process::id()));
        std::fs::write(&path, "{\"chainId\": 1}").unwrap();
        let err = Deployment::load(&path).unwrap_err();
        assert!(matches!(err, Error::Json { .. }), "{err:?}");
        std::fs::remove_file(path).unwrap();
    }
}
