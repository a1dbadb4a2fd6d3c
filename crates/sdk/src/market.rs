//! Markets: creation (paying the creation cost), views, freezing, extra enclave images.

use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
};
use kalypso_contracts::{VerifierFactory, marketplace::ProofMarketplace};

use crate::{
    Error, Kalypso, MarketInfo, MarketParams, Result, TxSummary,
    client::view,
    error::Target,
    tx,
    types::{MarketId, to_u64},
};

impl<P: Provider> Kalypso<P> {
    /// Creates a market, approving the payment token for the creation cost first if the allowance is short.
    /// Returns the new market's id.
    pub async fn create_market(&self, params: MarketParams) -> Result<(MarketId, TxSummary)> {
        let cost = self.params().await?.market_creation_cost;
        if !cost.is_zero() {
            self.ensure_allowance(
                self.deployment().payment_token,
                self.deployment().marketplace,
                cost,
            )
            .await?;
        }
        let m = self.marketplace();
        let receipt = self
            .send(
                m.createMarket(
                    params.verifier,
                    params.prover_image_id,
                    params.ivs_image_id,
                    params.slashing_penalty,
                    params.min_stake,
                    U256::from(params.fallback_delay),
                    params.metadata,
                ),
                Target::Marketplace,
                "createMarket",
            )
            .await?;
        let created: ProofMarketplace::MarketCreated =
            tx::event(&receipt, self.deployment().marketplace)?;
        Ok((
            to_u64(created.marketId, "market id")?,
            TxSummary::from(&receipt),
        ))
    }

    /// Deploys a `Groth16Verifier` for a circuit through the protocol's verifier factory (the only verifiers
    /// markets accept: their code cannot change). `vk` is the verifying key in the verifier's layout,
    /// `num_inputs` (at least one) how many public signals the ask's inputs supply, `inputs`/`proof` a sample
    /// statement and its proof (the factory refuses a sample that does not verify). Returns the verifier.
    pub async fn deploy_groth16_verifier(
        &self,
        vk: Bytes,
        num_inputs: u64,
        inputs: Bytes,
        proof: Bytes,
    ) -> Result<(Address, TxSummary)> {
        let factory = self.verifier_factory().await?;
        let receipt = self
            .send_with_gas_margin(
                factory.deployGroth16(vk, U256::from(num_inputs), inputs, proof),
                Target::VerifierFactory,
                "deployGroth16",
            )
            .await?;
        let deployed: VerifierFactory::VerifierDeployed = tx::event(&receipt, *factory.address())?;
        Ok((deployed.verifier, TxSummary::from(&receipt)))
    }

    /// The market's record; [`Error::MarketNotFound`] if there is none.
    pub async fn market(&self, id: MarketId) -> Result<MarketInfo> {
        let m = self.marketplace();
        let record = view(m.marketOf(U256::from(id)), Target::Marketplace).await?;
        if record.activationTime == 0 {
            return Err(Error::MarketNotFound(id));
        }
        Ok(MarketInfo::from_abi(id, &record))
    }

    /// The creator's description of a market (`metadata` of its `MarketCreated` event: one topic-filtered
    /// `eth_getLogs`); [`Error::MarketNotFound`] if there is no such event.
    pub async fn market_metadata(&self, id: MarketId) -> Result<Bytes> {
        let created: ProofMarketplace::MarketCreated =
            self.ask_event(id).await?.ok_or(Error::MarketNotFound(id))?;
        Ok(created.metadata)
    }

    /// Every market, in id order (`1..=marketCount`).
    pub async fn markets(&self) -> Result<Vec<MarketInfo>> {
        let m = self.marketplace();
        let count = to_u64(
            view(m.marketCount(), Target::Marketplace).await?,
            "market count",
        )?;
        let mut markets = Vec::with_capacity(usize::try_from(count).unwrap_or_default());
        for id in 1..=count {
            markets.push(self.market(id).await?);
        }
        Ok(markets)
    }

    /// Freezes (no new asks or assignments; open tasks still settle) or unfreezes a market (creator or admin).
    pub async fn set_market_frozen(&self, id: MarketId, frozen: bool) -> Result<TxSummary> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.setMarketFrozen(U256::from(id), frozen),
                Target::Marketplace,
                "setMarketFrozen",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Allows another prover enclave image in a confidential market (creator only).
    pub async fn add_extra_image(&self, id: MarketId, image_id: B256) -> Result<TxSummary> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.addExtraImage(U256::from(id), image_id),
                Target::Marketplace,
                "addExtraImage",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Removes an extra prover enclave image (creator only).
    pub async fn remove_extra_image(&self, id: MarketId, image_id: B256) -> Result<TxSummary> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.removeExtraImage(U256::from(id), image_id),
                Target::Marketplace,
                "removeExtraImage",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }
}
