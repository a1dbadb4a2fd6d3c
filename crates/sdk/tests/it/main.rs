//! The SDK against the real contracts on a fresh anvil per test: deployment, markets, generators, the ask
//! lifecycle with a real Groth16 proof, slashing, invalid-input attestations, refunds, typed failures, fee
//! bumps of lingering transactions and new-head notifications.

mod asks;
mod confidential;
mod deploy;
mod enclave_keys;
mod failures;
mod generators;
mod heads;
mod markets;
mod pending;

use alloy::{
    network::EthereumWallet,
    primitives::{Address, Bytes, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use kalypso_contracts::TestToken;
use kalypso_sdk::{DeployConfig, DeployProgress, Deployment, Kalypso, Quote, SampleMarket};
use kalypso_test_utils::{Chain, Groth16Fixture};

/// One unit of the payment token (6 decimals).
const USDC: u64 = 1_000_000;

/// `n` staking tokens (18 decimals).
fn pond(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// A deployed protocol with the sample Groth16 market (id 1, created by the admin) and named actors, each an
/// anvil account the provider's wallet signs for (one provider, one nonce manager per account).
struct Env {
    /// Keeps anvil running.
    _chain: Chain,
    provider: DynProvider,
    deployment: Deployment,
    fixture: Groth16Fixture,
    progress: Vec<DeployProgress>,
    /// Account 0: deployer, admin, treasury, creator of the sample market.
    admin: Address,
    /// Account 1: the Matching Engine key.
    me: PrivateKeySigner,
    /// Account 2.
    requester: Address,
    /// Account 3.
    generator: Address,
    /// Account 4: relays batches, slashes.
    keeper: Address,
    /// Account 5: an IVS key (signs only).
    ivs: PrivateKeySigner,
    /// Account 6.
    other: Address,
}

const SAMPLE_MARKET: u64 = 1;

impl Env {
    async fn new() -> Self {
        // `RUST_LOG=kalypso::sdk=debug` shows every transaction of a test.
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let chain = Chain::spawn();
        let accounts: Vec<PrivateKeySigner> = (0..7).map(|i| chain.account(i)).collect();
        let mut wallet = EthereumWallet::new(accounts[0].clone());
        for signer in &accounts[1..] {
            wallet.register_signer(signer.clone());
        }
        let provider = ProviderBuilder::new()
            .wallet(wallet)
            .connect_http(chain.anvil.endpoint_url())
            .erased();
        let fixture = Groth16Fixture::load();
        let admin = accounts[0].address();
        let me = accounts[1].clone();

        let mut progress = Vec::new();
        let config = DeployConfig {
            matching_engine_key: Some(pubkey(&me)),
            sample_market: Some(SampleMarket::groth16(
                fixture.vk.clone(),
                fixture.num_inputs,
                fixture.inputs.clone(),
                fixture.proof.clone(),
            )),
            ..DeployConfig::devnet(admin)
        };
        let deployment =
            kalypso_sdk::deploy_with_progress(&provider, config, |p| progress.push(*p))
                .await
                .expect("deploy");

        Self {
            _chain: chain,
            provider,
            deployment,
            fixture,
            progress,
            admin,
            me,
            requester: accounts[2].address(),
            generator: accounts[3].address(),
            keeper: accounts[4].address(),
            ivs: accounts[5].clone(),
            other: accounts[6].address(),
        }
    }

    /// A client sending from `sender`.
    fn client(&self, sender: Address) -> Kalypso<DynProvider> {
        Kalypso::new(self.provider.clone(), self.deployment.clone(), sender)
    }

    async fn mint(&self, token: Address, to: Address, amount: U256) {
        TestToken::new(token, &self.provider)
            .mint(to, amount)
            .from(self.admin)
            .send()
            .await
            .expect("mint")
            .get_receipt()
            .await
            .expect("mint receipt");
    }

    async fn balance(&self, token: Address, of: Address) -> U256 {
        TestToken::new(token, &self.provider)
            .balanceOf(of)
            .call()
            .await
            .expect("balance")
    }

    /// Registers `generator` (reward address = itself, 4 units of compute), stakes 100 tokens and joins the
    /// sample market with `quote`.
    async fn onboard(&self, generator: Address, quote: Quote) -> Kalypso<DynProvider> {
        self.mint(self.deployment.staking_token, generator, pond(100))
            .await;
        let g = self.client(generator);
        g.register(generator, 4, Bytes::from_static(b"gpu-box"))
            .await
            .expect("register");
        g.stake(pond(100)).await.expect("stake");
        g.join_market(SAMPLE_MARKET, quote).await.expect("join");
        g
    }

    /// A requester client with `amount` payment tokens.
    async fn funded_requester(&self, amount: U256) -> Kalypso<DynProvider> {
        self.mint(self.deployment.payment_token, self.requester, amount)
            .await;
        self.client(self.requester)
    }

    /// Moves chain time forward by `seconds` and mines a block.
    async fn advance(&self, seconds: u64) {
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_increaseTime".into(), (seconds,))
            .await
            .expect("evm_increaseTime");
        let _: serde_json::Value = self
            .provider
            .raw_request("evm_mine".into(), ())
            .await
            .expect("evm_mine");
    }
}

/// A quote: `price` payment-token units per proof, `time` seconds, one unit of compute.
fn quote(price: u64, time: u64) -> Quote {
    Quote {
        price_per_proof: U256::from(price),
        max_proof_time: time,
        compute_per_proof: 1,
    }
}

/// The 64-byte `x ‖ y` public key the key registry takes.
fn pubkey(signer: &PrivateKeySigner) -> Bytes {
    Bytes::copy_from_slice(signer.public_key().as_slice())
}
