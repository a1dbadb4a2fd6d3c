//! End to end: the whole marketplace as `kalypso devnet` runs it — a real anvil, real Groth16 proofs, the
//! matching engine, an IVS and generator nodes as separate `kalypso` processes — with faults injected while
//! asks flow: a generator that never proves, engine and node crashes (`kill -9`), and the chain going away.
//!
//! `cargo test -p kalypso-cli --test e2e` (needs `scripts/setup.sh` for anvil).

use kalypso_devnet::{
    AskOutcome, AskPlan, Devnet, DevnetConfig, Expected, GeneratorProfile, Outcome, Progress,
    ProgressMode, Report, RestakingConfig, Role, Sealing, demo_plan, generator_service,
};
use kalypso_primitives::{AskState, Preference};
use kalypso_sdk::L1SlashStatus;
use kalypso_test_utils::{anvil_path, repo_root};
use std::{path::PathBuf, time::Duration};

/// The demo's configuration in a fresh directory (kept in the returned guard until the test ends).
fn config(generators: Vec<GeneratorProfile>) -> (DevnetConfig, tempfile::TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("kalypso-e2e-")
        .tempdir()
        .expect("temp dir");
    let mut config = DevnetConfig::demo(
        PathBuf::from(env!("CARGO_BIN_EXE_kalypso")),
        anvil_path(),
        dir.path().to_owned(),
    );
    config.generators = generators;
    (config, dir)
}

/// The demo's generators without the one that never proves.
fn responsive() -> Vec<GeneratorProfile> {
    GeneratorProfile::demo()
        .into_iter()
        .filter(|g| g.runs_node)
        .collect()
}

fn quiet() -> Progress {
    Progress::new(ProgressMode::Quiet, &[])
}

async fn start(config: DevnetConfig) -> Devnet {
    Devnet::start(config, &quiet())
        .await
        .expect("the devnet starts")
}

/// `n` valid asks alternating markets and preferences.
fn valid_asks(devnet: &Devnet, n: usize) -> Vec<AskPlan> {
    demo_plan(&devnet.provisioned.markets, n)
        .into_iter()
        .filter(|p| p.expected == Expected::Proof)
        .collect()
}

/// Panics with the report and the services' logs when an ask did not end as planned.
async fn assert_as_planned(devnet: &Devnet, report: &Report) {
    let problems = report.problems();
    if !problems.is_empty() {
        let mut logs = String::new();
        for (name, _, restarts, log) in devnet.services.list().await {
            logs.push_str(&format!(
                "--- {name} (restarts {restarts}) ---\n{}\n",
                kalypso_devnet::tail(&log, 15)
            ));
        }
        panic!(
            "{problems:#?}\n{}\n{logs}",
            report.render(devnet.provisioned.payment_decimals)
        );
    }
}

fn price_of(ask: &AskOutcome) -> u128 {
    match &ask.outcome {
        Some(Outcome::Proven { price, .. }) => price.to::<u128>(),
        other => panic!("ask {} was not proven: {other:?}", ask.id),
    }
}

fn prover_of(ask: &AskOutcome) -> &str {
    match &ask.outcome {
        Some(Outcome::Proven { generator, .. }) => generator,
        other => panic!("ask {} was not proven: {other:?}", ask.id),
    }
}

async fn restarts(devnet: &Devnet, service: &str) -> u32 {
    devnet
        .services
        .list()
        .await
        .into_iter()
        .find(|(name, ..)| name == service)
        .map(|(_, _, restarts, _)| restarts)
        .expect("service exists")
}

/// The demo, on two chains: COST asks go to the cheap generators and TIME asks to the fast one; the generator
/// that never proves is slashed (requester compensated) and its ask re-matched and proven; invalid Merkle inputs
/// are settled through the IVS; an ask priced below every quote is refunded after its deadline; every proven ask
/// pays price + refund = reward. Restaked collateral: a generator with no native stake, backed by its Symbiotic
/// vault on the L1, proves COST asks; the restaked generator that never proves is slashed on the L2, the relayer
/// carries the slash to the L1 where it is executed on its vault; the relayer crashes and resumes, and a second
/// slash is vetoed by the resolver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_settles_every_path() {
    let (config, _dir) = config(GeneratorProfile::demo());
    let devnet = start(config.with_restaking(RestakingConfig::checkout(&repo_root()))).await;
    let plan = demo_plan(&devnet.provisioned.markets, 6);
    let report = devnet
        .run_workload(&plan, 2.0, Duration::from_secs(240), &quiet())
        .await
        .expect("the workload finishes");
    assert_as_planned(&devnet, &report).await;

    let first = report
        .asks
        .iter()
        .find(|a| a.plan_index == Some(0))
        .expect("first ask");
    assert_eq!(
        first.slashed,
        ["unresponsive"],
        "the cheapest generator got the first COST ask and missed it"
    );
    assert_eq!(first.assignments.len(), 2, "re-matched once: {first:?}");
    assert_ne!(prover_of(first), "unresponsive");
    assert!(!first.compensation.is_zero());
    let requester = Role::Requester.signer().address();
    let payout = devnet
        .client(Role::Requester)
        .unwrap()
        .payout(requester)
        .await
        .unwrap();
    assert_eq!(
        payout, first.compensation,
        "the slash's requester share is the requester's to withdraw"
    );

    let proven = |pref: Preference| {
        report
            .asks
            .iter()
            .filter(move |a| {
                a.preference == Some(pref)
                    && a.expected == Some(Expected::Proof)
                    && a.slashed.is_empty()
            })
            .collect::<Vec<_>>()
    };
    let (cost, time) = (proven(Preference::Cost), proven(Preference::Time));
    assert!(!cost.is_empty() && !time.is_empty());
    for a in &time {
        assert_eq!(prover_of(a), "fast-expensive", "TIME → fastest: {a:?}");
    }
    for a in &cost {
        assert!(
            ["restaked", "cheap-slow", "middle"].contains(&prover_of(a)),
            "COST → cheapest with free capacity: {a:?}"
        );
        assert!(price_of(a) < price_of(time[0]));
    }
    for a in cost.iter().chain(&time) {
        let Some(Outcome::Proven { price, refund, .. }) = &a.outcome else {
            unreachable!()
        };
        assert_eq!(*price + *refund, a.reward);
    }
    let refunded = report
        .asks
        .iter()
        .find(|a| a.expected == Some(Expected::Refund))
        .expect("underpriced ask");
    assert!(refunded.assignments.is_empty(), "never matched");
    assert!(
        matches!(refunded.outcome, Some(Outcome::Refunded { amount, cancelled: false, .. }) if amount == refunded.reward)
    );
    // Invalid Merkle inputs, in each confidential market a secret the circuit rejects, and in the TEE market a
    // ciphertext the requester corrupted under its own key: settled through their IVSs.
    assert_eq!(report.summary.invalid_inputs, 4);
    confidential_paths(&devnet, &plan, &report).await;
    tee_proofs(&devnet, &plan, &report).await;
    restaked_paths(&devnet, &plan, &report).await;
    devnet.shutdown().await;
}

/// The restaked generators: "restaked" (no native stake) is the cheapest node and proves the first COST ask of
/// the Merkle market against its vault's stake; "restaked-idle" got the circom market's first COST ask, missed it
/// and was slashed with nothing credited on the L2; the relayer requested the slash on the L1 and executed it
/// after the veto period (the vault's burner holds the penalty). Then a second missed task's slash is vetoed by
/// the resolver: closed as vetoed, nothing more taken.
async fn restaked_paths(devnet: &Devnet, plan: &[AskPlan], report: &Report) {
    let restaking = devnet.restaking().expect("the demo restakes");
    let first_of = |market: usize| {
        report
            .asks
            .iter()
            .find(|a| {
                a.plan_index.is_some_and(|i| {
                    plan[i].market == market && plan[i].preference == Preference::Cost
                })
            })
            .expect("a COST ask of the market")
    };
    let markets = &devnet.provisioned.markets;
    let merkle = markets
        .iter()
        .position(|m| m.circuit.is_merkle())
        .expect("a Merkle market");
    assert_eq!(
        prover_of(first_of(merkle)),
        "restaked",
        "the cheapest node, backed only by restaked stake"
    );
    let restaked = Role::Generator(4).signer().address();
    let client = devnet.client(Role::Requester).expect("client");
    assert!(
        client
            .generator(restaked, &[])
            .await
            .expect("chain call")
            .position
            .stake
            .is_zero(),
        "no native stake"
    );
    let collateral = client.pool_collateral(restaked).await.expect("chain call");
    assert_eq!(collateral[0].pool, restaking.pool);
    assert_eq!(collateral[0].stake, 100 * POND);

    let circom = markets
        .iter()
        .position(|m| m.circuit == kalypso_devnet::DevnetCircuit::CircomChain)
        .expect("the circom market");
    let missed = first_of(circom);
    assert_eq!(missed.slashed, ["restaked-idle"]);
    assert!(
        missed.compensation.is_zero(),
        "a restaked slash credits nothing on the L2"
    );
    assert_ne!(prover_of(missed), "restaked-idle");
    let slashes = devnet
        .wait_restaked_slashes_closed(Duration::from_secs(120))
        .await
        .expect("the restaked slash is executed on the L1");
    assert_eq!(slashes.len(), 1, "{slashes:?}");
    assert_eq!(slashes[0].generator, "restaked-idle");
    assert_eq!(slashes[0].slash.amount, 10 * POND);
    assert_eq!(slashes[0].l1_status, L1SlashStatus::Executed);
    let burned = || async {
        let l1 = alloy::providers::ProviderBuilder::new()
            .connect_http(restaking.l1_rpc_url.parse().expect("L1 URL"));
        kalypso_contracts::TestToken::new(restaking.l1.collateral, l1)
            .balanceOf(restaking.l1.burner)
            .call()
            .await
            .expect("chain call")
    };
    assert_eq!(burned().await, alloy::primitives::U256::from(10 * POND));

    // The relayer crashes (kill -9) and is restarted by the supervisor: it keeps nothing, the chains hold its
    // work. Another missed task of restaked-idle (30 restaked less 10 pending still meets the minimum of 20): the
    // restarted relayer requests its slash and the resolver vetoes it.
    let again = vec![AskPlan {
        market: circom,
        preference: Preference::Cost,
        inputs: markets[circom].circuit.sample_inputs(10_000).into(),
        reward: "5".into(),
        deadline: Duration::from_secs(180),
        expected: Expected::Proof,
        secret: None,
    }];
    devnet
        .crash(kalypso_devnet::RELAYER_SERVICE)
        .await
        .expect("the relayer runs");
    let progress = quiet();
    let (report, vetoed) = tokio::join!(
        devnet.run_workload(&again, 1.0, Duration::from_secs(240), &progress),
        devnet.veto_restaked_slash(1, Duration::from_secs(120))
    );
    let report = report.expect("the workload finishes");
    vetoed.expect("the resolver vetoes the second slash");
    assert_as_planned(devnet, &report).await;
    assert_eq!(report.asks[0].slashed, ["restaked-idle"]);
    let slashes = devnet
        .wait_restaked_slashes_closed(Duration::from_secs(120))
        .await
        .expect("the vetoed slash is closed");
    assert_eq!(slashes[1].l1_status, L1SlashStatus::Vetoed);
    assert_eq!(
        burned().await,
        alloy::primitives::U256::from(10 * POND),
        "nothing more taken"
    );
}

/// One staking token (18 decimals).
const POND: u128 = 1_000_000_000_000_000_000;

/// The confidential market's asks: the sealed one proven; a garbage acl and a ciphertext copied from another
/// requester's ask refused by the engine (reason in its API), never assigned, refunded; and no plaintext secret
/// in any file of the devnet (logs, databases, anvil's state) nor in the engine's API.
async fn confidential_paths(devnet: &Devnet, plan: &[AskPlan], report: &Report) {
    let market = devnet
        .provisioned
        .markets
        .iter()
        .position(|m| m.circuit.is_confidential() && !m.circuit.is_tee())
        .expect("a confidential market");
    let of_market: Vec<&AskOutcome> = report
        .asks
        .iter()
        .filter(|a| a.plan_index.is_some_and(|i| plan[i].market == market))
        .collect();
    let sealing = |a: &AskOutcome| {
        plan[a.plan_index.expect("planned")]
            .secret
            .as_ref()
            .expect("a confidential ask has a secret")
            .sealing
    };
    assert!(
        of_market
            .iter()
            .any(|a| sealing(a) == Sealing::Sealed
                && matches!(a.outcome, Some(Outcome::Proven { .. }))),
        "a sealed confidential ask is proven: {of_market:?}"
    );
    let http = reqwest::Client::new();
    for (how, why) in [
        (Sealing::GarbageAcl, "acl"),
        (Sealing::Copied, "acl is corrupt"),
    ] {
        let refused = of_market
            .iter()
            .find(|a| sealing(a) == how)
            .expect("the refused ask");
        assert!(
            refused.assignments.is_empty(),
            "never assigned: {refused:?}"
        );
        let record: serde_json::Value = http
            .get(format!("{}/v1/asks/{}", devnet.engine_url, refused.id))
            .send()
            .await
            .expect("engine API")
            .json()
            .await
            .expect("JSON");
        assert!(
            record["refused"].as_str().is_some_and(|r| r.contains(why)),
            "the engine says why: {record}"
        );
    }

    let secrets: Vec<Vec<u8>> = plan
        .iter()
        .filter_map(|p| p.secret.as_ref().map(|s| s.plaintext.clone()))
        .collect();
    let mut api = String::new();
    for path in ["/v1/asks?limit=1000", "/v1/events"] {
        api.push_str(
            &http
                .get(format!("{}{path}", devnet.engine_url))
                .send()
                .await
                .expect("engine API")
                .text()
                .await
                .expect("body"),
        );
    }
    let mut files = vec![devnet.dir().to_owned()];
    let mut checked = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("read dir") {
                files.push(entry.expect("entry").path());
            }
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        checked += 1;
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                "a plaintext secret in {}",
                path.display()
            );
        }
    }
    assert!(checked > 5, "the devnet's files were read");
    for secret in &secrets {
        assert!(
            !api.contains(std::str::from_utf8(secret).expect("JSON")),
            "a plaintext secret in the engine's API"
        );
    }
}

/// The confidential TEE market's asks: the sealed ones proven with a `TeeProof` (the package's proof as the
/// output) signed by the enclave key the proving generator registered for the market, naming the ask's inputs and
/// secret commitment and that generator; the wrong factors and a ciphertext corrupted under its own key settled
/// through its IVS, an attested enclave.
async fn tee_proofs(devnet: &Devnet, plan: &[AskPlan], report: &Report) {
    let (index, market) = devnet
        .provisioned
        .markets
        .iter()
        .enumerate()
        .find(|(_, m)| m.circuit.is_tee())
        .expect("a TEE market");
    let client = devnet.client(Role::Requester).expect("client");
    assert!(
        matches!(
            client.verifier_kind(market.verifier).await.expect("kind"),
            Some(kalypso_sdk::VerifierKind::Tee { .. })
        ),
        "the TEE market's verifier is a TeeVerifier"
    );
    let of_market: Vec<&AskOutcome> = report
        .asks
        .iter()
        .filter(|a| a.plan_index.is_some_and(|i| plan[i].market == index))
        .collect();
    for sealing in [Sealing::Sealed, Sealing::Corrupt] {
        assert!(
            of_market.iter().any(|a| {
                plan[a.plan_index.expect("planned")]
                    .secret
                    .as_ref()
                    .is_some_and(|s| s.sealing == sealing)
                    && matches!(a.outcome, Some(Outcome::InvalidInputs { .. }))
            }),
            "wrong factors and a ciphertext corrupted under its own key are settled through the TEE \
             market's (attested) IVS: {of_market:?}"
        );
    }
    let proven: Vec<&&AskOutcome> = of_market
        .iter()
        .filter(|a| matches!(a.outcome, Some(Outcome::Proven { .. })))
        .collect();
    assert!(!proven.is_empty(), "TEE asks are proven: {of_market:?}");
    for a in proven {
        let submitted = client
            .ask_proof(a.id)
            .await
            .expect("proof event")
            .expect("a proof");
        let (output, signature) =
            <(alloy::primitives::Bytes, alloy::primitives::Bytes) as alloy::sol_types::SolValue>::abi_decode_params(
                &submitted.proof,
            )
            .expect("a TEE proof is abi.encode(output, signature)");
        assert!(
            !output.is_empty(),
            "the enclave's output: the package's proof"
        );
        let inputs = client.ask_inputs(a.id).await.expect("inputs");
        let commitment = client.secret_commitment(a.id).await.expect("commitment");
        assert!(
            !commitment.is_zero(),
            "a confidential ask commits to its secret"
        );
        let digest = kalypso_sdk::tee_proof_digest(
            client.deployment().chain_id,
            market.verifier,
            &inputs,
            commitment,
            &output,
            submitted.generator,
        );
        let signer = alloy::primitives::Signature::try_from(signature.as_ref())
            .expect("a 65-byte signature")
            .recover_address_from_prehash(&digest)
            .expect("recoverable");
        let registered = client
            .generator_key(market.id, submitted.generator)
            .await
            .expect("key")
            .expect("the prover registered an enclave key");
        assert_eq!(
            signer,
            registered.address(),
            "signed by the proving generator's registered enclave key"
        );
    }
}

/// `kill -9` of the matching engine twice while asks arrive: the supervisor restarts it, it resumes from its
/// store, and every ask is assigned exactly once and proven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_crashes_under_load_lose_and_duplicate_nothing() {
    let (config, _dir) = config(responsive());
    let devnet = start(config).await;
    let plan = valid_asks(&devnet, 24);
    let faults = async {
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_secs(3)).await;
            devnet.crash("engine").await.unwrap();
        }
    };
    let progress = quiet();
    let (report, ()) = tokio::join!(
        devnet.run_workload(&plan, 4.0, Duration::from_secs(240), &progress),
        faults
    );
    let report = report.expect("the workload finishes");
    assert_as_planned(&devnet, &report).await;
    assert_eq!(report.asks.len(), 24);
    for a in &report.asks {
        // A second relay of the same ask would be skipped by the contract: there must be none. Assignments
        // beyond the first come only from a slash or a discard (possible on a loaded machine).
        assert!(a.skipped.is_empty(), "no assignment skipped: {a:?}");
        assert_eq!(
            a.assignments.len(),
            1 + a.slashed.len() + a.discarded.len(),
            "assigned once per failure-free attempt: {a:?}"
        );
    }
    assert!(restarts(&devnet, "engine").await >= 2);
    devnet.shutdown().await;
}

/// `kill -9` of the only generator's node while it holds tasks: restarted, it resumes them from its store and
/// proves every ask without a slash or a discard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generator_crash_is_resumed_without_a_slash() {
    let solo = GeneratorProfile {
        name: "solo".into(),
        compute: 2,
        stake: 100,
        price: "1".into(),
        max_proof_time: Duration::from_secs(40),
        markets: None,
        runs_node: true,
        restaked: 0,
    };
    let (config, _dir) = config(vec![solo]);
    let devnet = start(config).await;
    let plan = valid_asks(&devnet, 10);
    let faults = async {
        // Killed while it holds a task (assigned, not yet proven), so the restart has something to resume.
        let client = devnet.client(Role::Admin).unwrap();
        let holding = async {
            loop {
                for id in 1..=plan.len() as u64 {
                    if client
                        .ask(id)
                        .await
                        .is_ok_and(|a| a.state == AskState::Assigned)
                    {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), holding)
            .await
            .expect("the node gets a task within 60 s");
        devnet.crash(&generator_service("solo")).await.unwrap();
    };
    let progress = quiet();
    let (report, ()) = tokio::join!(
        devnet.run_workload(&plan, 2.0, Duration::from_secs(240), &progress),
        faults
    );
    let report = report.expect("the workload finishes");
    assert_as_planned(&devnet, &report).await;
    for a in &report.asks {
        assert_eq!(prover_of(a), "solo");
        assert!(a.slashed.is_empty() && a.discarded.is_empty(), "{a:?}");
    }
    assert!(restarts(&devnet, &generator_service("solo")).await >= 1);
    devnet.shutdown().await;
}

/// The chain goes away for several seconds while tasks are open and comes back from its state: the engine,
/// the IVS and the nodes ride it out without restarting, and every ask is proven.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_outage_is_survived() {
    let (config, _dir) = config(responsive());
    let devnet = start(config).await;
    let plan = valid_asks(&devnet, 10);
    let faults = async {
        // Once the last ask is on-chain, while assignments and proofs are in flight.
        let client = devnet.client(Role::Admin).unwrap();
        tokio::time::timeout(Duration::from_secs(60), async {
            while client.ask(plan.len() as u64).await.is_err() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
        .await
        .expect("every ask created within 60 s");
        devnet.stop_chain().await.unwrap();
        tokio::time::sleep(Duration::from_secs(6)).await;
        devnet.resume_chain().await.unwrap();
    };
    let progress = quiet();
    let (report, ()) = tokio::join!(
        devnet.run_workload(&plan, 5.0, Duration::from_secs(240), &progress),
        faults
    );
    let report = report.expect("the workload finishes");
    assert_as_planned(&devnet, &report).await;
    for (name, _, restarts, log) in devnet.services.list().await {
        assert_eq!(
            restarts,
            0,
            "{name} exited during the outage:\n{}",
            kalypso_devnet::tail(&log, 20)
        );
    }
    devnet.shutdown().await;
}

/// The matching engine is down: the generator nodes take the asks themselves once the markets' 10 s fallback
/// delay has passed, and prove them. The engine then comes back and matches new asks. Over the whole chain no
/// ask is assigned twice and no relayed assignment is skipped (the engine never relays an ask a node took).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asks_are_self_assigned_while_the_engine_is_down() {
    use kalypso_sdk::{
        ProtocolEvent, contracts::marketplace::ProofMarketplace::ProofMarketplaceEvents,
    };
    use std::collections::BTreeMap;

    let delay = Duration::from_secs(10);
    let (mut config, _dir) = config(responsive());
    config.fallback_delay = delay;
    let devnet = start(config).await;
    devnet.stop("engine").await.expect("the engine stops");
    let plan = valid_asks(&devnet, 6);
    let (without, with) = plan.split_at(3);

    let report = devnet
        .run_workload(without, 2.0, Duration::from_secs(120), &quiet())
        .await
        .expect("the asks are proven without the engine");
    assert_as_planned(&devnet, &report).await;
    assert_eq!(report.asks.len(), without.len());
    for a in &report.asks {
        assert!(
            a.assignments.iter().all(|x| x.fallback),
            "taken by a node, not the stopped engine: {a:?}"
        );
        assert!(
            a.time_to_assign() >= Some(delay.as_secs()),
            "not before the fallback delay: {a:?}"
        );
    }

    devnet.restart("engine").await.expect("the engine restarts");
    devnet
        .wait_healthy(Duration::from_secs(60))
        .await
        .expect("the engine is healthy again");
    let report = devnet
        .run_workload(with, 2.0, Duration::from_secs(120), &quiet())
        .await
        .expect("the asks are proven with the engine back");
    assert_as_planned(&devnet, &report).await;
    assert_eq!(report.asks.len(), with.len());

    // Every assignment on the chain: one per ask and attempt (a slash or discard re-opens it), none skipped.
    let client = devnet.client(Role::Admin).unwrap();
    let head = client.block_number().await.unwrap();
    let events = client
        .events(devnet.provisioned.deployment.deploy_block..=head)
        .await
        .expect("events");
    let mut attempts: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    for record in events {
        let ProtocolEvent::Marketplace(e) = record.event else {
            continue;
        };
        match e {
            ProofMarketplaceEvents::TaskAssigned(e) => {
                attempts.entry(e.askId.to()).or_default().0 += 1;
            }
            ProofMarketplaceEvents::TaskSlashed(e) => {
                attempts.entry(e.askId.to()).or_default().1 += 1;
            }
            ProofMarketplaceEvents::TaskDiscarded(e) => {
                attempts.entry(e.askId.to()).or_default().1 += 1;
            }
            ProofMarketplaceEvents::AssignmentSkipped(e) => {
                panic!("a relayed assignment was skipped: {e:?}")
            }
            _ => {}
        }
    }
    assert_eq!(attempts.len(), plan.len(), "{attempts:?}");
    for (ask, (assigned, reopened)) in attempts {
        assert_eq!(assigned, 1 + reopened, "ask {ask} assigned twice");
    }
    devnet.shutdown().await;
}
