//! Markets from circuit packages (feature `packages`): one call from a package directory to a live market.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
};
use kalypso_contracts::Groth16Verifier;
use kalypso_package::{CheckReport, Package};

use crate::{
    Error, Kalypso, MarketParams, Result, TxSummary, client::view, error::Target, types::MarketId,
};

/// The market terms of [`Kalypso::create_package_market`] (the verifier and the metadata come from the
/// package).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MarketTerms {
    /// Staking-token amount locked per task and slashed on a missed deadline (positive).
    pub slashing_penalty: U256,
    /// Total stake a generator needs to be assigned tasks (at least the penalty).
    pub min_stake: U256,
    /// Seconds an ask stays unassigned before eligible generators may take it themselves (0: never).
    pub fallback_delay: u64,
    /// Prover enclave image; zero for a public-input market.
    pub prover_image_id: B256,
    /// IVS enclave image; zero lets the creator add IVS keys directly.
    pub ivs_image_id: B256,
    /// A TEE market: proofs are the package's proofs signed by an enclave attested for `prover_image_id`
    /// (a `TeeVerifier`, cheap to verify on-chain) instead of Groth16 proofs checked against the package's key.
    pub tee: bool,
}

/// What [`Kalypso::create_package_market`] made.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageMarket {
    /// The new market.
    pub market: MarketId,
    /// Its verifier (deployed by the verifier factory for the package's key, or for the prover image of a TEE
    /// market).
    pub verifier: Address,
    /// The package's sha256 (of its `circuit.toml`), as the metadata carries it.
    pub package_sha256: String,
    /// Where generators fetch the package.
    pub package_url: String,
    /// The verifier deployment.
    pub verifier_tx: TxSummary,
    /// The market creation.
    pub market_tx: TxSummary,
}

/// Steps of [`Kalypso::create_package_market`], for progress output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackageMarketStep {
    /// Checking the package offline (hashes, key, sample proof).
    Checking,
    /// Deploying its verifier.
    DeployingVerifier,
    /// Creating the market.
    CreatingMarket,
}

impl<P: Provider> Kalypso<P> {
    /// Creates a market for a circuit package: checks it offline ([`Package::check`]: every hash, the
    /// sample proof against the key, the signal layout), deploys a `Groth16Verifier` for its key through the
    /// verifier factory (in the verifier's signal order, with the package's sample), and creates the market
    /// with metadata naming the package, its hash and `url` (where generators fetch it: `file://`,
    /// `http(s)://`, e.g. `kalypso circuit serve`). With [`MarketTerms::tee`] the verifier is a `TeeVerifier`
    /// for `prover_image_id` instead, with the package's sample as its own.
    pub async fn create_package_market(
        &self,
        package: &Package,
        url: &str,
        terms: MarketTerms,
        mut progress: impl FnMut(PackageMarketStep),
    ) -> Result<PackageMarket> {
        progress(PackageMarketStep::Checking);
        let checked = package.clone();
        let report: CheckReport = tokio::task::spawn_blocking(move || checked.check())
            .await
            .map_err(|e| Error::InvalidArgument {
                what: "package",
                reason: format!("the check panicked: {e}"),
            })?
            .map_err(|e| Error::InvalidArgument {
                what: "package",
                reason: e.to_string(),
            })?;
        let v = &report.verifier;
        progress(PackageMarketStep::DeployingVerifier);
        let (verifier, verifier_tx) = if terms.tee {
            // The enclave's output is the package's proof: the sample is the package's own.
            self.deploy_tee_verifier(
                terms.prover_image_id,
                Bytes::from(v.inputs.clone()),
                Bytes::from(v.proof.clone()),
            )
            .await?
        } else {
            self.deploy_groth16_verifier(
                Bytes::from(v.vk.clone()),
                v.num_inputs as u64,
                Bytes::from(v.inputs.clone()),
                Bytes::from(v.proof.clone()),
            )
            .await?
        };
        progress(PackageMarketStep::CreatingMarket);
        let metadata = package.metadata(url).to_string();
        let (market, market_tx) = self
            .create_market(MarketParams {
                verifier,
                prover_image_id: terms.prover_image_id,
                ivs_image_id: terms.ivs_image_id,
                slashing_penalty: terms.slashing_penalty,
                min_stake: terms.min_stake,
                fallback_delay: terms.fallback_delay,
                metadata: Bytes::from(metadata.into_bytes()),
            })
            .await?;
        Ok(PackageMarket {
            market,
            verifier,
            package_sha256: report.sha256,
            package_url: url.to_owned(),
            verifier_tx,
            market_tx,
        })
    }

    /// Whether `verifier` is a `Groth16Verifier` for exactly this package's key and input layout (what a
    /// generator checks before proving for a market whose metadata names the package: a metadata pointing at
    /// another circuit's package would make every proof fail).
    pub async fn verifier_matches_package(
        &self,
        verifier: Address,
        package: &Package,
    ) -> Result<bool> {
        let expected = package
            .verifier_key_bytes()
            .map_err(|e| Error::InvalidArgument {
                what: "package",
                reason: e.to_string(),
            })?;
        let v = Groth16Verifier::new(verifier, self.provider());
        // Not a Groth16Verifier (no such view): not this package's verifier.
        let Ok(key) = v.verifyingKey().call().await else {
            return Ok(false);
        };
        let num_inputs = view(v.numInputs(), Target::Groth16Verifier).await?;
        Ok(key.as_ref() == expected.as_slice()
            && num_inputs == U256::from(package.manifest().public.num_inputs()))
    }
}
