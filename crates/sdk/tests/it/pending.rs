//! Replaceable transactions: a proof submission held in the mempool (automine off) is re-sent under the same
//! nonce with higher fees, and the replacement is the one mined; the fee cap stops the bumps; a mined failure
//! and a nonce taken by another transaction come back as errors.

use alloy::{
    network::TransactionBuilder,
    primitives::{B256, Bytes, U256},
    providers::Provider,
    rpc::types::TransactionRequest,
};
use kalypso_contracts::marketplace::ProofMarketplace::{ProofMarketplaceErrors, ProofSubmitted};
use kalypso_primitives::{AskState, eip712};
use kalypso_sdk::{AskParams, BumpPolicy, Error, PendingTx, TxStatus};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{Env, SAMPLE_MARKET, USDC, quote};

/// An ask of the sample market with the fixture's inputs, assigned to the generator.
async fn assigned_ask(env: &Env) -> u64 {
    let requester = env.funded_requester(U256::from(5 * USDC)).await;
    let deadline = requester.block_timestamp().await.expect("time") + 3600;
    let (ask, _) = requester
        .create_ask(AskParams::new(
            SAMPLE_MARKET,
            U256::from(5 * USDC),
            deadline,
            env.fixture.inputs.clone(),
        ))
        .await
        .expect("create ask");
    env.client(env.me.address())
        .assign_task(&eip712::Assignment {
            askId: U256::from(ask),
            generator: env.generator,
            maxPrice: U256::MAX,
            maxProofTime: U256::from(600u64),
            acl: Bytes::new(),
        })
        .await
        .expect("assign");
    ask
}

async fn anvil(env: &Env, method: &str, params: serde_json::Value) {
    let _: serde_json::Value = env
        .provider
        .raw_request(method.to_owned().into(), params)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
}

/// Polls `check` every 50 ms for up to 20 s.
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..400 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn policy(cap: Option<u128>) -> BumpPolicy {
    BumpPolicy {
        bump_after: Duration::from_millis(300),
        max_fee_per_gas: cap,
        poll_interval: Duration::from_millis(50),
    }
}

#[tokio::test]
async fn a_lingering_submission_is_replaced_and_the_replacement_is_mined() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let ask = assigned_ask(&env).await;
    let nonce = env
        .provider
        .get_transaction_count(env.generator)
        .await
        .expect("nonce");
    let call = g
        .prepare_submit_proof(ask, env.fixture.inputs.clone(), env.fixture.proof.clone())
        .await
        .expect("prepare");
    assert_eq!(call.to, env.deployment.marketplace);

    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    let sent: Arc<Mutex<Vec<PendingTx>>> = Arc::default();
    let record = sent.clone();
    let landing = g.send_until_mined(&call, None, policy(None), move |p| {
        record.lock().expect("lock").push(p.clone())
    });
    let miner = async {
        until("two replacements", || sent.lock().expect("lock").len() >= 3).await;
        anvil(&env, "evm_mine", serde_json::json!([])).await;
    };
    let (receipt, ()) = tokio::join!(landing, miner);
    let receipt = receipt.expect("mined");

    let sent = sent.lock().expect("lock").clone();
    let last = sent.last().expect("sent");
    assert_eq!(last.nonce, nonce, "the account's next nonce");
    assert!(sent.iter().all(|p| p.nonce == nonce), "one nonce: {sent:?}");
    assert_eq!(last.hashes.len(), sent.len(), "every send is recorded");
    for pair in sent.windows(2) {
        let (old, new) = (pair[0].fees, pair[1].fees);
        assert!(
            new.max_fee_per_gas >= old.max_fee_per_gas * 5 / 4
                && new.max_priority_fee_per_gas >= old.max_priority_fee_per_gas * 5 / 4,
            "+25%: {old:?} -> {new:?}"
        );
    }
    assert_eq!(
        receipt.transaction_hash,
        last.hash(),
        "the latest replacement is mined"
    );
    let mined = env
        .provider
        .get_transaction_by_hash(last.hash())
        .await
        .expect("tx")
        .expect("known");
    assert_eq!(
        alloy::consensus::Transaction::max_fee_per_gas(&mined),
        last.fees.max_fee_per_gas
    );
    for &earlier in &last.hashes[..last.hashes.len() - 1] {
        assert!(
            env.provider
                .get_transaction_receipt(earlier)
                .await
                .expect("receipt")
                .is_none(),
            "a replaced transaction is not mined"
        );
    }
    let event: ProofSubmitted = g.marketplace_event(&receipt).expect("ProofSubmitted");
    assert_eq!(event.generator, env.generator);
    assert_eq!(g.ask(ask).await.expect("ask").state, AskState::Completed);
    assert!(matches!(
        g.pending_status(last).await.expect("status"),
        TxStatus::Mined(_)
    ));
}

#[tokio::test]
async fn the_fee_cap_stops_the_bumps() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let ask = assigned_ask(&env).await;
    let call = g
        .prepare_submit_proof(ask, env.fixture.inputs.clone(), env.fixture.proof.clone())
        .await
        .expect("prepare");
    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    // A cap 20% above the market's fees: the first bump (+25%) stops at the cap, which leaves no room for a
    // second one of at least 12.5%.
    let suggested = g.suggest_fees().await.expect("fees");
    let cap = suggested.max_fee_per_gas * 12 / 10;
    let sent: Arc<Mutex<Vec<PendingTx>>> = Arc::default();
    let record = sent.clone();
    let landing = g.send_until_mined(&call, None, policy(Some(cap)), move |p| {
        record.lock().expect("lock").push(p.clone())
    });
    let miner = async {
        until("a bump", || sent.lock().expect("lock").len() >= 2).await;
        // Several more bump intervals: nothing else is sent.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        anvil(&env, "evm_mine", serde_json::json!([])).await;
    };
    let (receipt, ()) = tokio::join!(landing, miner);
    let receipt = receipt.expect("mined");
    let sent = sent.lock().expect("lock").clone();
    assert_eq!(
        sent[0].fees, suggested,
        "the first send at the market's fees"
    );
    assert_eq!(sent.len(), 2, "one bump, then the cap: {sent:?}");
    assert_eq!(sent[1].fees.max_fee_per_gas, cap);
    assert_eq!(receipt.transaction_hash, sent[1].hash());
}

#[tokio::test]
async fn a_mined_failure_is_decoded_and_a_taken_nonce_is_reported() {
    let env = Env::new().await;
    let g = env.onboard(env.generator, quote(USDC, 600)).await;
    let ask = assigned_ask(&env).await;
    let call = g
        .prepare_submit_proof(ask, env.fixture.inputs.clone(), env.fixture.proof.clone())
        .await
        .expect("prepare");
    let fees = g.suggest_fees().await.expect("fees");

    // The same submission twice in one block: the second reverts when mined.
    anvil(&env, "evm_setAutomine", serde_json::json!([false])).await;
    let first = g.send_pending(&call, fees).await.expect("first");
    let second = g.send_pending(&call, fees).await.expect("second");
    assert_eq!(second.nonce, first.nonce + 1);
    assert!(matches!(
        g.pending_status(&first).await.expect("status"),
        TxStatus::Pending
    ));
    anvil(&env, "evm_mine", serde_json::json!([])).await;
    let ok = g
        .send_until_mined(&call, Some(first), policy(None), |_| {})
        .await
        .expect("the first is accepted");
    assert!(ok.status());
    let err = g
        .send_until_mined(&call, Some(second), policy(None), |_| {})
        .await
        .expect_err("the second reverted");
    assert!(
        matches!(
            err.marketplace_error(),
            Some(ProofMarketplaceErrors::InvalidAskState(_))
        ),
        "{err:?}"
    );

    // A transaction sent under the nonce by someone else (here: a plain transfer with higher fees).
    let pending = g.send_pending(&call, fees).await.expect("third");
    let taker = TransactionRequest::default()
        .with_from(env.generator)
        .with_to(env.other)
        .with_value(U256::from(1))
        .with_nonce(pending.nonce)
        .with_gas_limit(21_000)
        .with_max_fee_per_gas(fees.max_fee_per_gas * 2)
        .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas * 2);
    let taken = *env
        .provider
        .send_transaction(taker)
        .await
        .expect("transfer")
        .tx_hash();
    assert_ne!(taken, B256::ZERO);
    anvil(&env, "evm_mine", serde_json::json!([])).await;
    let err = g
        .send_until_mined(&call, Some(pending.clone()), policy(None), |_| {})
        .await
        .expect_err("replaced");
    assert!(
        matches!(err, Error::Replaced { nonce, sent: 1 } if nonce == pending.nonce),
        "{err:?}"
    );
}
