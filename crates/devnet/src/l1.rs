//! The L1 of a two-chain devnet: a second anvil (its own chain id) with the real Symbiotic core and Kalypso's
//! network middleware, deployed by a checkout's `contracts-l1/script/DeployL1.s.sol` through forge — Symbiotic's
//! BUSL-licensed sources are installed by `scripts/setup.sh` and built there, never built into this binary. Each
//! restaked generator is a Symbiotic operator with a vault of its own (`OperatorSpecificDelegator`, `VetoSlasher`),
//! the [relayer](Role::Relayer) is the committee and the [resolver](Role::Resolver) may veto slashes.

use crate::{
    accounts::Role,
    chain::{Anvil, free_port},
};
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
};
use anyhow::Context as _;
use kalypso_sdk::RestakingPoolConfig;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The L1's chain id (the L2 anvil keeps anvil's 31337).
pub const L1_CHAIN_ID: u64 = 31_338;

/// Time the middleware leaves between the last step of a vault's slash window and the end of the vault's epoch.
const EXECUTION_MARGIN: u64 = 10;

/// Seconds the L1 deployment is given before epoch 1 starts: epoch 1's capture must follow every deposit and
/// registration, and its snapshot is the first one the relayer can post (the middleware's epoch 0 started in the
/// past, so the restaked generators are live this long after the deployment began instead of a whole epoch).
const DEPLOY_TIME: u64 = 30;

/// Where the L1 project and forge are, and the epochs of the devnet's Symbiotic network.
#[derive(Debug, Clone)]
pub struct RestakingConfig {
    /// The forge executable.
    pub forge: PathBuf,
    /// The L1 Foundry project: `contracts-l1` of a checkout where `scripts/setup.sh` ran.
    pub project: PathBuf,
    /// The middleware's epoch, in seconds: a snapshot per epoch; an L2 task locked against epoch `e` may be due
    /// until `capture(e) + 1.5 epochs` ([`RestakingConfig::pool`]).
    pub epoch: u64,
    /// How long the resolver may veto a slash request before it can be executed, in seconds.
    pub veto_duration: u64,
}

impl RestakingConfig {
    /// The checkout at `root` (`.tools/bin/forge`, `contracts-l1`), 60-second epochs, a 10-second veto period.
    pub fn checkout(root: &Path) -> Self {
        Self {
            forge: root.join(".tools/bin/forge"),
            project: root.join("contracts-l1"),
            epoch: 60,
            veto_duration: 10,
        }
    }

    /// Whether the L1 project is there and built by `scripts/setup.sh` (Symbiotic installed).
    pub fn available(&self) -> bool {
        self.forge.exists()
            && self
                .project
                .join("node_modules/@symbioticfi/core/package.json")
                .exists()
    }

    /// The vaults' epoch: the middleware accepts a vault only if a slash requested at the end of its window (two
    /// network epochs after the capture) can still be vetoed and executed, with a margin, within the vault's epoch.
    pub fn vault_epoch(&self) -> u64 {
        2 * self.epoch + self.veto_duration + 2 * EXECUTION_MARGIN
    }

    /// The L2 pool for this network: snapshots apply a sixth of an epoch into the next one (the relayer's time
    /// to bridge), a slash has half an epoch from a missed deadline to its L1 request, and tasks may be due
    /// until the rest of the L1's two-epoch window (so a task locked at the end of a snapshot's life may take
    /// up to a third of an epoch); penalties of at least one staking token.
    pub fn pool(&self, epoch_start: u64) -> RestakingPoolConfig {
        let slash_latency = self.epoch / 2;
        RestakingPoolConfig {
            admin: Address::ZERO, // the protocol's admin, set by the deployment
            epoch_start,
            epoch_duration: self.epoch,
            offset: self.epoch / 6,
            slash_latency,
            slash_window: 2 * self.epoch - slash_latency,
            min_lock: 10u128.pow(18),
            committee: vec![Role::Relayer.signer().address()],
            threshold: 1,
        }
    }

    /// The longest proving time a restaked generator's quote may commit to and still be matched for as long as
    /// each snapshot applies.
    pub fn max_proof_time(&self) -> u64 {
        let pool = self.pool(0);
        pool.slash_window - pool.epoch_duration - pool.offset
    }
}

/// A vault of the devnet's network.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Vault {
    /// The operator it backs (a generator).
    pub operator: Address,
    /// The vault.
    pub vault: Address,
    /// Its `OperatorSpecificDelegator`.
    pub delegator: Address,
    /// Its `VetoSlasher`.
    pub slasher: Address,
}

/// What `DeployL1` wrote (the fields the devnet uses).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct L1Deployment {
    /// Kalypso's network middleware.
    pub middleware: Address,
    /// The vaults' collateral token ("POND").
    pub collateral: Address,
    /// Where slashed collateral goes.
    pub burner: Address,
    /// The veto resolver.
    pub resolver: Address,
    /// Capture timestamp of the middleware's epoch 0.
    pub epoch_start: u64,
    /// One vault per operator, in operator order.
    pub vaults: Vec<Vault>,
    /// The L1 block the deployment started at (the relayer looks for settled slashes from there).
    #[serde(default)]
    pub deploy_block: u64,
}

/// The running L1.
#[derive(Debug)]
pub struct L1 {
    /// The node.
    pub anvil: Anvil,
    /// Its JSON-RPC endpoint.
    pub url: String,
    /// What is deployed on it.
    pub deployment: L1Deployment,
}

/// Starts the L1 anvil in `dir` and deploys Symbiotic and the middleware on it with one vault per operator in
/// `operators` (a generator and its deposit, in staking-token units), then lets it mine a block a second (the
/// relayer reads the L1 clock; an idle anvil would stop it). Reports the deployment's steps to `on_step`.
pub async fn start(
    anvil: &Path,
    dir: &Path,
    config: &RestakingConfig,
    operators: &[(Role, U256)],
    mut on_step: impl FnMut(&str),
) -> anyhow::Result<L1> {
    anyhow::ensure!(
        !operators.is_empty(),
        "the L1 needs at least one restaked generator"
    );
    anyhow::ensure!(
        config.available(),
        "the L1 side needs a checkout's contracts-l1 with Symbiotic installed and forge ({} and {}): run \
         scripts/setup.sh there",
        config.project.display(),
        config.forge.display()
    );
    on_step("starting the L1 anvil");
    // A block per transaction while deploying (the script waits for each one), then one a second.
    let node = Anvil::start(
        anvil,
        dir,
        "anvil-l1",
        free_port()?,
        None,
        Some(L1_CHAIN_ID),
    )
    .await?;
    let url = node.http_url();
    let provider = ProviderBuilder::new().connect_http(url.parse()?);
    let deploy_block = provider.get_block_number().await?;
    let now = provider
        .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
        .await?
        .context("the L1 has no latest block")?
        .header
        .timestamp;

    on_step("building the L1 contracts (Symbiotic core, Kalypso middleware)");
    forge(config, &["build"], &[], "forge build").await?;

    on_step(
        "deploying Symbiotic, Kalypso's network middleware and the restaked generators' vaults on the L1",
    );
    let keys = |roles: &mut dyn Iterator<Item = Role>| {
        roles
            .map(|r| format!("0x{}", r.key_hex()))
            .collect::<Vec<_>>()
            .join(",")
    };
    let out_name = format!("devnet-{}.json", node.port());
    let env = [
        ("L1_NETWORK_EPOCH", config.epoch.to_string()),
        ("L1_VAULT_EPOCH", config.vault_epoch().to_string()),
        ("L1_VETO_DURATION", config.veto_duration.to_string()),
        ("L1_EXECUTION_MARGIN", EXECUTION_MARGIN.to_string()),
        (
            "L1_EPOCH_START",
            (now + DEPLOY_TIME)
                .checked_sub(config.epoch)
                .context("the L1 clock is before 1970")?
                .to_string(),
        ),
        (
            "L1_OPERATOR_KEYS",
            keys(&mut operators.iter().map(|(r, _)| *r)),
        ),
        (
            "L1_DEPOSITS",
            operators
                .iter()
                .map(|(_, d)| d.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("L1_DEPOSITOR_KEYS", keys(&mut std::iter::once(Role::Admin))),
        ("L1_COMMITTEE", Role::Relayer.signer().address().to_string()),
        ("L1_RESOLVER", Role::Resolver.signer().address().to_string()),
        ("L1_DEPLOYMENT_OUT", format!("deployments/{out_name}")),
        ("FOUNDRY_PROFILE", "harness".to_owned()),
    ];
    // The broadcaster's key is anvil's public dev key 0 (the network's admin and the vaults' curator).
    let admin_key = format!("0x{}", Role::Admin.key_hex());
    forge(
        config,
        &[
            "script",
            "script/DeployL1.s.sol:DeployL1",
            "--broadcast",
            "--slow",
            "--rpc-url",
            &url,
            "--private-key",
            &admin_key,
        ],
        &env,
        "DeployL1",
    )
    .await?;
    let written = config.project.join("deployments").join(&out_name);
    let text = std::fs::read_to_string(&written)
        .with_context(|| format!("DeployL1 wrote no {}", written.display()))?;
    std::fs::remove_file(&written).ok();
    let mut deployment: L1Deployment =
        serde_json::from_str(&text).context("DeployL1's output does not parse")?;
    deployment.deploy_block = deploy_block;
    let path = dir.join("l1-deployment.json");
    std::fs::write(&path, serde_json::to_string_pretty(&deployment)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    node.set_block_time(1).await?;
    Ok(L1 {
        anvil: node,
        url,
        deployment,
    })
}

alloy::sol! {
    /// Symbiotic's `VetoSlasher`, as its resolver uses it.
    #[sol(rpc)]
    interface IVetoSlasher {
        function vetoSlash(uint256 slashIndex, bytes calldata hints) external;
    }
}

/// Vetoes request `index` of `slasher` (a `VetoSlasher`) as the resolver `provider` signs for.
pub async fn veto(
    provider: &alloy::providers::DynProvider,
    slasher: Address,
    index: u64,
) -> anyhow::Result<()> {
    let receipt = IVetoSlasher::new(slasher, provider)
        .vetoSlash(U256::from(index), alloy::primitives::Bytes::new())
        .send()
        .await
        .with_context(|| format!("vetoing request {index} of slasher {slasher}"))?
        .get_receipt()
        .await?;
    anyhow::ensure!(
        receipt.status(),
        "the veto of request {index} of slasher {slasher} reverted"
    );
    Ok(())
}

/// Runs forge in the L1 project with `env`, failing with its output.
async fn forge(
    config: &RestakingConfig,
    args: &[&str],
    env: &[(&str, String)],
    what: &str,
) -> anyhow::Result<()> {
    // Absolute: forge runs in the project's directory.
    let program = std::path::absolute(&config.forge)?;
    let output = tokio::process::Command::new(program)
        .current_dir(&config.project)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {}", config.forge.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "{what} failed in {}:\n{}\n{}",
        config.project.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_devnet_geometry_fits_the_middleware_and_the_pool() {
        let config = RestakingConfig::checkout(Path::new("."));
        let pool = config.pool(1_000);
        // The pool's own bound (SlashWindowTooLong) and the middleware's vault bound.
        assert!(pool.slash_window + pool.slash_latency <= 2 * config.epoch);
        assert!(config.vault_epoch() >= 2 * config.epoch + config.veto_duration + EXECUTION_MARGIN);
        assert!(pool.offset < config.epoch);
        // The restaked generators' proving times (the demo's: 20 s and 12 s) fit a snapshot's whole life.
        assert!(config.max_proof_time() >= 20);
        assert!(DEPLOY_TIME < config.epoch);
    }
}
