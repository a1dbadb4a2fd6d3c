//! What every command needs: a provider (with the signing key when one is given), the deployment, and how to
//! print.

use crate::{opts::GlobalArgs, output::Output, parse::Amount};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use anyhow::{Context as _, bail};
use kalypso_sdk::{Deployment, Kalypso};
use std::path::PathBuf;

/// A connected command context.
pub(crate) struct Ctx {
    /// The SDK client (sender = the signing account, or zero when none was given).
    pub(crate) client: Kalypso<DynProvider>,
    /// Output mode.
    pub(crate) out: Output,
    signer: Option<Address>,
}

/// A provider for `--rpc-url`, signing with `--private-key` when given, and the signer's address.
pub(crate) async fn connect(
    global: &GlobalArgs,
) -> anyhow::Result<(DynProvider, Option<Address>, u64)> {
    connect_with(global, signer(global)?).await
}

/// A provider for `--rpc-url` signing with `signer` when given, and the signer's address.
pub(crate) async fn connect_with(
    global: &GlobalArgs,
    signer: Option<PrivateKeySigner>,
) -> anyhow::Result<(DynProvider, Option<Address>, u64)> {
    connect_url(&global.rpc_url, "--rpc-url", signer).await
}

/// A provider for `url` (given as the flag `flag`) signing with `signer` when given, the signer's address and
/// the chain id.
pub(crate) async fn connect_url(
    url: &str,
    flag: &str,
    signer: Option<PrivateKeySigner>,
) -> anyhow::Result<(DynProvider, Option<Address>, u64)> {
    let parsed = url.parse().with_context(|| {
        format!("{flag} '{url}' is not a URL (expected e.g. http://127.0.0.1:8545)")
    })?;
    let (provider, signer) = match signer {
        Some(signer) => {
            let address = signer.address();
            let provider = ProviderBuilder::new()
                .wallet(EthereumWallet::from(signer))
                .connect_http(parsed)
                .erased();
            (provider, Some(address))
        }
        None => (ProviderBuilder::new().connect_http(parsed).erased(), None),
    };
    let chain_id = provider
        .get_chain_id()
        .await
        .with_context(|| format!("cannot reach the chain at {url} (is the node running?)"))?;
    Ok((provider, signer, chain_id))
}

/// The signing key: `--private-key`, or `--keystore` decrypted with `KALYPSO_KEYSTORE_PASSWORD`.
pub(crate) fn signer(global: &GlobalArgs) -> anyhow::Result<Option<PrivateKeySigner>> {
    if let Some(key) = &global.private_key {
        return key
            .0
            .parse()
            .map(Some)
            .context("--private-key is not a valid secp256k1 key");
    }
    let Some(path) = &global.keystore else {
        return Ok(None);
    };
    let password = std::env::var("KALYPSO_KEYSTORE_PASSWORD")
        .context("--keystore needs its password in KALYPSO_KEYSTORE_PASSWORD")?;
    PrivateKeySigner::decrypt_keystore(path, password)
        .map(Some)
        .with_context(|| {
            format!(
                "cannot decrypt the keystore {} (wrong password?)",
                path.display()
            )
        })
}

/// Where the deployment of `chain_id` is read from and written to.
pub(crate) fn deployment_path(global: &GlobalArgs, chain_id: u64) -> PathBuf {
    global
        .deployment
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("contracts/deployments/{chain_id}.json")))
}

impl Ctx {
    /// Connects and loads the deployment.
    pub(crate) async fn new(global: &GlobalArgs) -> anyhow::Result<Self> {
        let (provider, signer, chain_id) = connect(global).await?;
        let path = deployment_path(global, chain_id);
        if !path.exists() {
            bail!(
                "no deployment at {} for chain {chain_id}: run `kalypso deploy` or pass --deployment <file>",
                path.display()
            );
        }
        let deployment =
            Deployment::load(&path).with_context(|| format!("cannot read {}", path.display()))?;
        if deployment.chain_id != chain_id {
            bail!(
                "{} is a deployment on chain {}, but --rpc-url is chain {chain_id}",
                path.display(),
                deployment.chain_id
            );
        }
        let client = Kalypso::new(provider, deployment, signer.unwrap_or(Address::ZERO));
        Ok(Self {
            client,
            out: Output::new(global.json),
            signer,
        })
    }

    /// The signing account, for commands that send transactions.
    pub(crate) fn signer(&self) -> anyhow::Result<Address> {
        self.signer.context(
            "this command sends a transaction: set KALYPSO_PRIVATE_KEY, or KALYPSO_KEYSTORE and \
             KALYPSO_KEYSTORE_PASSWORD, to the signing key",
        )
    }

    /// The signing account, or `given` for read-only commands about another account.
    pub(crate) fn account_or_signer(&self, given: Option<Address>) -> anyhow::Result<Address> {
        given.map_or_else(|| self.signer(), Ok)
    }

    /// Decimals of an ERC-20 token.
    pub(crate) async fn decimals(&self, token: Address) -> anyhow::Result<u8> {
        kalypso_contracts::TestToken::new(token, self.client.provider().clone())
            .decimals()
            .call()
            .await
            .with_context(|| format!("cannot read the decimals of token {token}"))
    }

    /// Decimals and symbol of an ERC-20 token (the symbol falls back to the token's address when it has
    /// none).
    pub(crate) async fn token(&self, token: Address) -> anyhow::Result<Token> {
        let decimals = self.decimals(token).await?;
        let symbol = kalypso_contracts::TestToken::new(token, self.client.provider().clone())
            .symbol()
            .call()
            .await
            .unwrap_or_else(|_| token.to_string());
        Ok(Token { decimals, symbol })
    }

    /// `amount` in base units of the payment token.
    pub(crate) async fn payment(&self, amount: &Amount) -> anyhow::Result<U256> {
        let decimals = self
            .decimals(self.client.deployment().payment_token)
            .await?;
        amount.to_base_units(decimals).map_err(anyhow::Error::msg)
    }

    /// `amount` in base units of the staking token.
    pub(crate) async fn staking(&self, amount: &Amount) -> anyhow::Result<U256> {
        let decimals = self
            .decimals(self.client.deployment().staking_token)
            .await?;
        amount.to_base_units(decimals).map_err(anyhow::Error::msg)
    }
}

/// How to print amounts of a token.
pub(crate) struct Token {
    /// Its decimals.
    pub(crate) decimals: u8,
    /// Its symbol (`tUSDC`).
    pub(crate) symbol: String,
}

impl Token {
    /// `amount` base units in tokens with the symbol: `1.5 tUSDC`.
    pub(crate) fn format(&self, amount: U256) -> String {
        format!(
            "{} {}",
            crate::cmd::units(amount, self.decimals),
            self.symbol
        )
    }
}
