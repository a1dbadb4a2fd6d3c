//! The relayer between two real chains: Symbiotic core and Kalypso's middleware on an L1 anvil (deployed by
//! `contracts-l1/script/DeployL1.s.sol`), a `RestakingPool` on an L2 anvil. The pool's registry is a test
//! account, which locks and slashes as the GeneratorRegistry would. Both clocks are moved together.

use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256, address},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    signers::local::PrivateKeySigner,
    sol,
};
use kalypso_contracts::{KalypsoMiddleware, RestakingPool, TestToken};
use kalypso_restaking::{Error, RelayConfig, Relayer};
use kalypso_sdk::{Deployment, Kalypso, L1SlashStatus, SymbioticNetwork};
use kalypso_test_utils::{Chain, repo_root};
use std::process::Command;

sol! {
    #[sol(rpc)]
    interface IVetoSlasher {
        function vetoSlash(uint256 slashIndex, bytes calldata hints) external;
    }
}

const EPOCH: u64 = 20;
const VETO: u64 = 20;
const OFFSET: u64 = 10;
const SLASH_WINDOW: u64 = 35;
const POND: u128 = 1_000_000_000_000_000_000;

struct L1 {
    middleware: Address,
    collateral: Address,
    /// Each operator's vault slasher, by vault.
    slashers: Vec<(Address, Address)>,
    resolver: PrivateKeySigner,
    epoch_start: u64,
}

/// Deploys Symbiotic and the middleware on `chain` with `committee` as the committee (threshold 1), anvil
/// accounts 1 and 2 as operators (a vault each, 500 POND deposited in each by account 3) and account 4 as the
/// resolver.
fn deploy_l1(chain: &Chain, committee: Address) -> L1 {
    let root = repo_root();
    let url = chain.anvil.endpoint();
    let out = format!("deployments/it-{}.json", chain.anvil.port());
    let key = |i: usize| format!("0x{}", alloy::hex::encode(chain.anvil.keys()[i].to_bytes()));
    let resolver = chain.account(4);
    let output = Command::new(root.join(".tools/bin/forge"))
        .current_dir(root.join("contracts-l1"))
        .env("FOUNDRY_PROFILE", "harness")
        .env("L1_NETWORK_EPOCH", EPOCH.to_string())
        .env("L1_VETO_DURATION", VETO.to_string())
        .env("L1_OPERATOR_KEYS", format!("{},{}", key(1), key(2)))
        .env("L1_DEPOSITOR_KEYS", key(3))
        .env("L1_COMMITTEE", committee.to_string())
        .env("L1_RESOLVER", resolver.address().to_string())
        .env("L1_DEPLOYMENT_OUT", &out)
        .args([
            "script",
            "script/DeployL1.s.sol:DeployL1",
            "--broadcast",
            "--slow",
        ])
        .args(["--rpc-url", &url, "--private-key", &key(0)])
        .output()
        .expect("run forge (scripts/setup.sh installs it)");
    assert!(
        output.status.success(),
        "DeployL1 failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let path = root.join("contracts-l1").join(&out);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("deployment JSON"))
            .expect("deployment JSON parses");
    std::fs::remove_file(&path).ok();
    let addr = |k: &str| {
        json[k]
            .as_str()
            .and_then(|a| a.parse::<Address>().ok())
            .unwrap_or_else(|| panic!("deployment JSON field {k}"))
    };
    let slashers = json["vaults"]
        .as_array()
        .expect("deployment JSON field vaults")
        .iter()
        .map(|v| {
            let a = |k: &str| {
                v[k].as_str()
                    .and_then(|a| a.parse::<Address>().ok())
                    .unwrap_or_else(|| panic!("deployment JSON vault field {k}"))
            };
            (a("vault"), a("slasher"))
        })
        .collect();
    L1 {
        middleware: addr("middleware"),
        collateral: addr("collateral"),
        slashers,
        resolver,
        epoch_start: json["epochStart"]
            .as_u64()
            .expect("deployment JSON field epochStart"),
    }
}

fn provider(chain: &Chain, signer: &PrivateKeySigner) -> DynProvider {
    ProviderBuilder::new()
        .wallet(EthereumWallet::from(signer.clone()))
        .connect_http(chain.anvil.endpoint_url())
        .erased()
}

/// Sets both chains' next block time to `at` and mines a block on each.
async fn warp(chains: [&Chain; 2], at: u64) {
    for chain in chains {
        chain
            .provider
            .anvil_set_next_block_timestamp(at)
            .await
            .expect("chain call");
        chain.provider.evm_mine(None).await.expect("chain call");
    }
}

struct World {
    l1_chain: Chain,
    l2_chain: Chain,
    l1: L1,
    pool: Address,
    relayer_key: PrivateKeySigner,
    /// The pool's registry: a test account locking and slashing as the GeneratorRegistry would.
    registry: PrivateKeySigner,
    operators: [Address; 2],
}

impl World {
    async fn new() -> Self {
        let l1_chain = Chain::spawn();
        let l2_chain = Chain::spawn();
        let relayer_key = l1_chain.account(5);
        let l1 = deploy_l1(&l1_chain, relayer_key.address());
        let registry = l2_chain.account(6);
        let params = kalypso_contracts::restaking_pool::IRestakingPool::Params {
            epochStart: l1.epoch_start,
            epochDuration: EPOCH,
            offset: OFFSET,
            slashLatency: 2 * EPOCH - SLASH_WINDOW,
            slashWindow: SLASH_WINDOW,
            minLock: alloy::primitives::Uint::from(POND),
        };
        let pool = RestakingPool::deploy(
            l2_chain.provider.clone(),
            registry.address(),
            l2_chain.signer.address(),
            params,
            vec![relayer_key.address()],
            U256::from(1),
        )
        .await
        .expect("deploy the pool");
        let operators = [l1_chain.account(1).address(), l1_chain.account(2).address()];
        Self {
            l1_chain,
            l2_chain,
            l1,
            pool: *pool.address(),
            relayer_key,
            registry,
            operators,
        }
    }

    fn chains(&self) -> [&Chain; 2] {
        [&self.l1_chain, &self.l2_chain]
    }

    async fn warp(&self, offset_from_epoch_start: u64) {
        warp(self.chains(), self.l1.epoch_start + offset_from_epoch_start).await;
    }

    async fn relayer(&self, committee: Vec<PrivateKeySigner>) -> Relayer<DynProvider, DynProvider> {
        self.try_relayer(committee).await.expect("relayer")
    }

    async fn try_relayer(
        &self,
        committee: Vec<PrivateKeySigner>,
    ) -> Result<Relayer<DynProvider, DynProvider>, Error> {
        let l1 = SymbioticNetwork::connect(
            provider(&self.l1_chain, &self.relayer_key),
            self.l1.middleware,
            self.relayer_key.address(),
        )
        .await
        .expect("chain call");
        let l2 = Kalypso::new(
            provider(&self.l2_chain, &self.relayer_key),
            l2_deployment(self.l2_chain.anvil.chain_id()),
            self.relayer_key.address(),
        );
        Relayer::new(l1, l2, RelayConfig::new(self.pool, committee)).await
    }

    fn pool(&self) -> RestakingPool::RestakingPoolInstance<DynProvider> {
        RestakingPool::new(self.pool, provider(&self.l2_chain, &self.registry))
    }

    async fn lock(&self, operator: Address, task: u64, amount: u128, deadline: u64) {
        let pool = self.pool();
        let call = pool.tryLock(
            operator,
            U256::from(task),
            U256::from(amount),
            U256::ZERO,
            U256::from(deadline),
        );
        let result = call.call().await.expect("chain call");
        assert_eq!(result, 0, "Locked");
        call.send()
            .await
            .expect("chain call")
            .get_receipt()
            .await
            .expect("chain call");
    }

    async fn slash(&self, operator: Address, task: u64, amount: u128) {
        self.pool()
            .slash(operator, U256::from(task), U256::from(amount))
            .send()
            .await
            .expect("chain call")
            .get_receipt()
            .await
            .expect("chain call");
    }

    async fn operator(&self, operator: Address) -> (u128, u64, u128, u128) {
        let o = self
            .pool()
            .operatorOf(operator)
            .call()
            .await
            .expect("chain call");
        (o.stake.to(), o.epoch, o.locked.to(), o.pendingSlash.to())
    }

    fn key(&self, slash_id: u64) -> alloy::primitives::B256 {
        kalypso_sdk::slash_key(self.l2_chain.anvil.chain_id(), self.pool, slash_id)
    }

    async fn l1_status(&self, slash_id: u64) -> u8 {
        KalypsoMiddleware::new(self.l1.middleware, &self.l1_chain.provider)
            .slashStatus(self.key(slash_id))
            .call()
            .await
            .expect("chain call")
    }
}

/// The relayer uses the pool's own views and `eip712` domain; the marketplace contracts are not involved.
fn l2_deployment(chain_id: u64) -> Deployment {
    serde_json::from_value(serde_json::json!({
        "chainId": chain_id,
        "marketplace": Address::ZERO,
        "generatorRegistry": Address::ZERO,
        "keyRegistry": Address::ZERO,
        "attestationVerifier": Address::ZERO,
        "paymentToken": Address::ZERO,
        "stakingToken": Address::ZERO,
    }))
    .expect("deployment")
}

/// Snapshots each epoch; an epoch rollover mid-task; a slash requested, executed after the veto period and
/// settled by a later snapshot; a vetoed slash; the relayer down for two epochs; a snapshot signed by a key
/// outside the committee.
#[tokio::test]
async fn relays_snapshots_and_slashes_between_two_chains() {
    let w = World::new().await;
    let [op1, op2] = w.operators;
    assert!(matches!(
        w.try_relayer(Vec::new()).await,
        Err(Error::NoCommitteeKey)
    ));
    let mut relayer = w.relayer(vec![w.relayer_key.clone()]).await;
    let stake = 500 * POND;

    // Epoch 1: the first snapshot.
    w.warp(EPOCH + 1).await;
    let tick = relayer.tick().await.expect("chain call");
    assert_eq!(tick.snapshot.map(|s| s.0), Some(1));
    assert_eq!(w.operator(op1).await, (stake, 1, 0, 0));
    assert_eq!(w.operator(op2).await, (stake, 1, 0, 0));
    assert!(
        relayer.tick().await.expect("chain call").snapshot.is_none(),
        "one snapshot per epoch"
    );

    // A task locks against epoch 1; epoch 2's snapshot arrives while it is in flight.
    w.lock(op1, 1, 100 * POND, w.l1.epoch_start + EPOCH + 30)
        .await;
    w.warp(2 * EPOCH + 1).await;
    assert_eq!(
        relayer
            .tick()
            .await
            .expect("chain call")
            .snapshot
            .map(|s| s.0),
        Some(2)
    );
    assert_eq!(w.operator(op1).await, (stake, 2, 100 * POND, 0));

    // The task is slashed: the request names epoch 1's capture and executes after the veto period.
    w.slash(op1, 1, 100 * POND).await;
    assert_eq!(w.operator(op1).await, (stake, 2, 0, 100 * POND));
    w.warp(2 * EPOCH + 2).await;
    assert_eq!(relayer.tick().await.expect("chain call").requested, vec![0]);
    assert_eq!(w.l1_status(0).await, 1, "Requested");
    assert!(
        relayer
            .tick()
            .await
            .expect("chain call")
            .requested
            .is_empty(),
        "requested once"
    );
    w.warp(2 * EPOCH + 2 + VETO + 1).await;
    let tick = relayer.tick().await.expect("chain call");
    assert_eq!(tick.executed, vec![0]);
    assert_eq!(w.l1_status(0).await, 2, "Executed");
    let burned = TestToken::new(w.l1.collateral, &w.l1_chain.provider)
        .balanceOf(address!("0x000000000000000000000000000000000000dEaD"))
        .call()
        .await
        .expect("chain call");
    assert_eq!(
        burned,
        U256::from(100 * POND),
        "the vault's burner received the slashed collateral"
    );
    // Epoch 3's capture (S+60) came before the execution (S+63): still pending on the L2.
    assert_eq!(tick.snapshot.map(|s| s.0), Some(3));
    assert_eq!(w.operator(op1).await, (stake, 3, 0, 100 * POND));

    // A second slash, vetoed by the resolver: closed as vetoed, nothing taken.
    w.lock(op2, 2, 50 * POND, w.l1.epoch_start + 3 * EPOCH + 30)
        .await;
    w.slash(op2, 2, 50 * POND).await;
    assert_eq!(relayer.tick().await.expect("chain call").requested, vec![1]);
    let parts = KalypsoMiddleware::new(w.l1.middleware, &w.l1_chain.provider)
        .slashParts(w.key(1))
        .call()
        .await
        .expect("chain call");
    let slasher =
        w.l1.slashers
            .iter()
            .find(|(vault, _)| *vault == parts[0].vault)
            .expect("the slashed vault is op2's")
            .1;
    IVetoSlasher::new(slasher, provider(&w.l1_chain, &w.l1.resolver))
        .vetoSlash(U256::from(parts[0].slashIndex), Default::default())
        .send()
        .await
        .expect("chain call")
        .get_receipt()
        .await
        .expect("chain call");
    assert_eq!(
        relayer.tick().await.expect("chain call").executed,
        vec![1],
        "closed as vetoed"
    );
    assert_eq!(w.l1_status(1).await, 3, "Vetoed");

    // The relayer is down for epochs 4 and 5: the pool goes stale and locks nothing new.
    w.warp(6 * EPOCH + 1).await;
    let latest = w.pool().latestEpoch().call().await.expect("chain call");
    assert!(!latest.fresh);
    let stale = w
        .pool()
        .tryLock(
            op2,
            U256::from(3),
            U256::from(POND),
            U256::ZERO,
            U256::from(w.l1.epoch_start + 6 * EPOCH + 5),
        )
        .call()
        .await
        .expect("chain call");
    assert_eq!(stale, 3, "Stale");
    // Back: epoch 6's snapshot settles both slashes (executed and vetoed before its capture). Each operator has
    // a vault of its own, so only op1's stake shows the slash.
    let tick = relayer.tick().await.expect("chain call");
    assert_eq!(tick.snapshot.map(|s| s.0), Some(6));
    assert_eq!(w.operator(op1).await.0, stake - 100 * POND);
    assert_eq!(w.operator(op2).await.0, stake);
    assert_eq!(w.operator(op1).await.3, 0, "op1's pending slash settled");
    assert_eq!(
        w.pool().settledSlashes().call().await.expect("chain call"),
        U256::from(2)
    );

    // A relayer whose key is not in the committee: the L2 rejects its snapshot.
    w.warp(7 * EPOCH + 1).await;
    let mut stranger = w.relayer(vec![w.l2_chain.account(7)]).await;
    let err = stranger
        .tick()
        .await
        .expect_err("the pool rejects a stranger's snapshot");
    assert!(
        matches!(&err, Error::Sdk(e) if e.restaking_pool_error().is_some_and(|e| matches!(e,
            kalypso_contracts::restaking_pool::RestakingPool::RestakingPoolErrors::NotCommitteeMember(_)))),
        "{err}"
    );
    let status =
        SymbioticNetwork::connect(w.l1_chain.provider.clone(), w.l1.middleware, Address::ZERO)
            .await
            .expect("chain call")
            .slash(w.key(1))
            .await
            .expect("chain call");
    assert_eq!(status.status, L1SlashStatus::Vetoed);
}
