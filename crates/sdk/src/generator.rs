//! Generators: registration, stake, quotes per market, and the registry's views.

use alloy::{
    primitives::{Address, Bytes, U256},
    providers::Provider,
};
use kalypso_contracts::generator_registry::GeneratorRegistry;

use crate::{
    Error, GeneratorInfo, Kalypso, Quote, Registration, Result, StakePosition, TxSummary,
    client::view, error::Target, tx, types::MarketId,
};

impl<P: Provider> Kalypso<P> {
    /// Registers the sender as a generator with its reward address and total declared compute.
    pub async fn register(
        &self,
        reward_address: Address,
        declared_compute: u64,
        metadata: Bytes,
    ) -> Result<TxSummary> {
        nonzero(declared_compute, "declared compute")?;
        let r = self.registry();
        let receipt = self
            .send(
                r.register(reward_address, U256::from(declared_compute), metadata),
                Target::Registry,
                "register",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Changes where the sender's earnings are credited.
    pub async fn update_reward_address(&self, reward_address: Address) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(
                r.updateRewardAddress(reward_address),
                Target::Registry,
                "updateRewardAddress",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Changes the sender's declared compute (not below what its tasks consume).
    pub async fn update_declared_compute(&self, declared_compute: u64) -> Result<TxSummary> {
        nonzero(declared_compute, "declared compute")?;
        let r = self.registry();
        let receipt = self
            .send(
                r.updateDeclaredCompute(U256::from(declared_compute)),
                Target::Registry,
                "updateDeclaredCompute",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Removes the sender's registration (it must have left every market and settled every task).
    pub async fn deregister(&self) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(r.deregister(), Target::Registry, "deregister")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Adds `amount` of the staking token to the sender's stake, approving the registry first if needed.
    pub async fn stake(&self, amount: U256) -> Result<TxSummary> {
        if amount.is_zero() {
            return Err(Error::ZeroAmount("stake amount"));
        }
        self.ensure_allowance(
            self.deployment().staking_token,
            self.deployment().generator_registry,
            amount,
        )
        .await?;
        let r = self.registry();
        let receipt = self
            .send(r.stake(amount), Target::Registry, "stake")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Moves `amount` of free stake to pending withdrawal; it can be withdrawn with [`unstake`](Self::unstake)
    /// after the withdrawal delay.
    pub async fn request_unstake(&self, amount: U256) -> Result<TxSummary> {
        if amount.is_zero() {
            return Err(Error::ZeroAmount("unstake amount"));
        }
        let r = self.registry();
        let receipt = self
            .send(r.requestUnstake(amount), Target::Registry, "requestUnstake")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Returns all pending stake to the sender's stake.
    pub async fn cancel_unstake(&self) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(r.cancelUnstake(), Target::Registry, "cancelUnstake")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Withdraws all pending stake to `to` once the withdrawal delay has passed; returns the amount.
    pub async fn unstake(&self, to: Address) -> Result<(U256, TxSummary)> {
        let r = self.registry();
        let receipt = self
            .send(r.unstake(to), Target::Registry, "unstake")
            .await?;
        let unstaked: GeneratorRegistry::Unstaked =
            tx::event(&receipt, self.deployment().generator_registry)?;
        Ok((unstaked.amount, TxSummary::from(&receipt)))
    }

    /// Withdraws `amount` of slashed stake credited to the sender (compensation, keeper reward, treasury share).
    pub async fn withdraw_payout(&self, to: Address, amount: U256) -> Result<TxSummary> {
        if amount.is_zero() {
            return Err(Error::ZeroAmount("payout amount"));
        }
        let r = self.registry();
        let receipt = self
            .send(
                r.withdrawPayout(to, amount),
                Target::Registry,
                "withdrawPayout",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Joins a market with a quote.
    pub async fn join_market(&self, market: MarketId, quote: Quote) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(
                r.joinMarket(
                    U256::from(market),
                    U256::from(quote.compute_per_proof),
                    quote.price_per_proof,
                    U256::from(quote.max_proof_time),
                ),
                Target::Registry,
                "joinMarket",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Changes the sender's quote in a market it joined (assigned tasks keep their terms).
    pub async fn update_quote(&self, market: MarketId, quote: Quote) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(
                r.updateQuote(
                    U256::from(market),
                    U256::from(quote.compute_per_proof),
                    quote.price_per_proof,
                    U256::from(quote.max_proof_time),
                ),
                Target::Registry,
                "updateQuote",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Leaves a market at once (assigned tasks stay binding).
    pub async fn leave_market(&self, market: MarketId) -> Result<TxSummary> {
        let r = self.registry();
        let receipt = self
            .send(
                r.leaveMarket(U256::from(market)),
                Target::Registry,
                "leaveMarket",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// A generator's registration and stake, and its quote in each of `markets`.
    pub async fn generator(&self, address: Address, markets: &[MarketId]) -> Result<GeneratorInfo> {
        let r = self.registry();
        let g = view(r.generatorOf(address), Target::Registry).await?;
        let p = view(r.positionOf(address), Target::Registry).await?;
        let free_stake = view(r.freeStake(address), Target::Registry).await?;
        let mut quotes = Vec::with_capacity(markets.len());
        for &market in markets {
            quotes.push((market, self.quote(market, address).await?));
        }
        Ok(GeneratorInfo {
            address,
            registration: (g.rewardAddress != Address::ZERO).then(|| Registration {
                reward_address: g.rewardAddress,
                declared_compute: g.declaredCompute.to(),
                consumed_compute: g.consumedCompute.to(),
                markets_joined: u64::from(g.marketsJoined),
            }),
            position: StakePosition {
                stake: U256::from(p.stake),
                locked: U256::from(p.locked),
                pending: U256::from(p.pending),
                unlock_at: p.unlockAt.to(),
            },
            free_stake,
            quotes,
        })
    }

    /// A generator's quote in a market; `None` when it has not joined.
    pub async fn quote(&self, market: MarketId, generator: Address) -> Result<Option<Quote>> {
        let r = self.registry();
        let q = view(r.quoteOf(U256::from(market), generator), Target::Registry).await?;
        Ok(Quote::from_abi(&q))
    }

    /// Slashed stake credited to `account` in the registry (withdrawn with
    /// [`withdraw_payout`](Self::withdraw_payout)).
    pub async fn payout(&self, account: Address) -> Result<U256> {
        let r = self.registry();
        view(r.payoutOf(account), Target::Registry).await
    }
}

fn nonzero(value: u64, what: &'static str) -> Result<()> {
    if value == 0 {
        return Err(Error::ZeroAmount(what));
    }
    Ok(())
}
