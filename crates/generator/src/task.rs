//! One task's driver: a loop over its stored state, each step checking the ask on-chain before acting.
//!
//! - `seen`: fetch the inputs, check them (invalid: IVS attestation instead of a proof), make sure the proof
//!   can be ready by `taskDeadline - submit margin` (else discard), wait for a proving slot (discarding when
//!   the wait makes the deadline unreachable), prove off the runtime, store the proof (`proved`);
//! - `proved`: submit the stored proof (`submitted`), retrying with backoff on RPC errors.
//!
//! A task the chain shows as settled, expired or assigned elsewhere ends without a transaction. Every
//! transaction (proof, attestation, discard) is recorded with its nonce and hashes as it is sent and re-sent
//! with 25% higher fees while it lingers; a task with such a record follows it (also after a restart) before
//! anything else, so its transaction is never sent twice under two nonces.

use alloy::{
    primitives::{Address, B256, Bytes},
    providers::Provider,
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};
use kalypso_confidential::{DataKey, Secret};
use kalypso_primitives::AskState;
use kalypso_provers::{InputCheck, Proof, ProveRequest, ProverError};
use kalypso_sdk::{
    PendingTx, TxCall,
    contracts::marketplace::ProofMarketplace::{
        ProofMarketplaceErrors, ProofSubmitted, TaskDiscarded,
    },
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{debug, error, info, warn};

use crate::{
    ivs::{CheckRequest, IvsClient},
    node::Node,
    store::{StoredTx, TaskRecord, TaskState, TxKind},
    unix_ms,
};

/// A step that failed in a way worth retrying: why.
#[derive(Debug)]
struct Retry(String);

type Step = Result<(), Retry>;

fn retry(e: impl std::fmt::Display) -> Retry {
    Retry(e.to_string())
}

/// Drives the task of `ask_id` until the node is done with it.
pub(crate) async fn drive(node: Arc<Node>, ask_id: u64) {
    let mut first = true;
    loop {
        let resumed = std::mem::take(&mut first);
        let task = match node.store.task(ask_id) {
            Ok(Some(task)) => task,
            Ok(None) => return,
            Err(e) => {
                error!(target: "kalypso::generator", ask_id, %e, "cannot read the task");
                tokio::time::sleep(node.config.max_backoff).await;
                continue;
            }
        };
        let step = match (&task.pending_tx, task.state) {
            (_, state) if state.is_terminal() => return,
            (Some(sent), _) => follow(&node, &task, sent.clone()).await,
            (None, TaskState::Seen | TaskState::Proving) => prove(&node, &task).await,
            (None, _) => {
                if resumed {
                    await_pending_transactions(&node).await;
                }
                submit(&node, &task).await
            }
        };
        if let Err(Retry(why)) = step {
            node.metrics.retries.inc();
            let attempts = node
                .store
                .record_failure(ask_id, &why)
                .unwrap_or(task.attempts + 1);
            let wait = backoff(attempts, node.config.max_backoff);
            warn!(target: "kalypso::generator", ask_id, attempts, error = %why, retry_in = ?wait, "step failed");
            tokio::time::sleep(wait).await;
        }
    }
}

/// Before submitting a proof the node found already made (a restart) with no transaction recorded: the previous
/// process may have sent it and died before recording it. While the account has transactions in the mempool,
/// wait for them (at most the receipt timeout), so the on-chain check that follows sees that submission instead
/// of sending a second one.
async fn await_pending_transactions(node: &Node) {
    let started = Instant::now();
    loop {
        let client = node.client();
        let provider = client.provider();
        let latest = provider.get_transaction_count(node.me).latest().await;
        let pending = provider.get_transaction_count(node.me).pending().await;
        match (latest, pending) {
            (Ok(latest), Ok(pending))
                if pending > latest && started.elapsed() < node.config.receipt_timeout =>
            {
                debug!(target: "kalypso::generator", latest, pending, "waiting for this account's pending transactions");
                tokio::time::sleep(node.config.poll_interval).await;
            }
            _ => return,
        }
    }
}

/// 500 ms doubling per attempt, at most `cap`.
fn backoff(attempts: u32, cap: Duration) -> Duration {
    Duration::from_millis(500)
        .saturating_mul(1u32 << attempts.saturating_sub(1).min(16))
        .min(cap)
}

/// Where the ask stands on-chain for this generator.
enum Standing {
    /// Assigned to this generator: act before `task_deadline`.
    Ours { task_deadline: u64 },
    /// Nothing left to do: the task ends in this state.
    Over(TaskState, String),
}

async fn standing(node: &Node, task: &TaskRecord) -> Result<Standing, Retry> {
    let client = node.client();
    let ask = client.ask(task.ask_id).await.map_err(retry)?;
    let ours = ask.task.filter(|t| t.generator == node.me);
    Ok(match (ask.state, ours) {
        (AskState::Assigned, Some(t)) => Standing::Ours {
            task_deadline: t.task_deadline,
        },
        (AskState::Completed, Some(_)) => {
            // Settled for this generator: by a proof (maybe sent before a restart) or an attestation.
            match client.ask_proof(task.ask_id).await.map_err(retry)? {
                Some(p) if p.generator == node.me => {
                    Standing::Over(TaskState::Submitted, "proof accepted on-chain".into())
                }
                _ => Standing::Over(
                    TaskState::Attested,
                    "settled by an invalid-input attestation".into(),
                ),
            }
        }
        (state, _) => Standing::Over(
            TaskState::Failed,
            match ask.task {
                Some(t) if t.generator != node.me => {
                    format!("ask is {state} for generator {}", t.generator)
                }
                _ => format!("ask is {state} on-chain"),
            },
        ),
    })
}

/// Ends the task in `state`.
fn finish(node: &Node, task: &TaskRecord, state: TaskState, tx: Option<B256>, note: &str) -> Step {
    node.store
        .set_settled(task.ask_id, state, tx, Some(note))
        .map_err(retry)?;
    let counter = match state {
        TaskState::Submitted => &node.metrics.tasks_submitted,
        TaskState::Attested => &node.metrics.tasks_attested,
        TaskState::Discarded => &node.metrics.tasks_discarded,
        _ => &node.metrics.tasks_failed,
    };
    counter.inc();
    match state {
        TaskState::Failed => {
            warn!(target: "kalypso::generator", ask_id = task.ask_id, reason = note, "task ended")
        }
        _ => {
            info!(target: "kalypso::generator", ask_id = task.ask_id, %state, ?tx, note, "task settled")
        }
    }
    Ok(())
}

/// `seen` → `proved` (or attested, discarded, failed).
async fn prove(node: &Arc<Node>, task: &TaskRecord) -> Step {
    let id = task.ask_id;
    let task_deadline = match standing(node, task).await? {
        Standing::Ours { task_deadline } => task_deadline,
        Standing::Over(state, why) => return finish(node, task, state, None, &why),
    };
    let Some(prover) = node.prover(task.market_id) else {
        return discard(node, task, "this node has no prover for the market").await;
    };
    let inputs = match &task.inputs {
        Some(inputs) => inputs.clone(),
        None => {
            let inputs = node.client().ask_inputs(id).await.map_err(retry)?.to_vec();
            node.store.set_inputs(id, &inputs).map_err(retry)?;
            inputs
        }
    };

    // A confidential ask's secret, opened with the enclave key (only here, never stored or logged).
    let sealed = if node.confidential.contains(&task.market_id) {
        match open_secret(node, task).await {
            Ok(Ok(sealed)) => Some(sealed),
            Ok(Err(why)) => return discard(node, task, &why).await,
            // An RPC that keeps failing must not run the task into a slash: give it up while that is cheap.
            Err(e) if !time_left(node, task).await? => {
                let why = format!("cannot read the sealed inputs in time: {}", e.0);
                return discard(node, task, &why).await;
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let secret = match &sealed {
        None => None,
        Some(SealedSecret {
            secret: Ok(secret), ..
        }) => Some(secret.expose().to_vec()),
        Some(SealedSecret {
            secret: Err(reason),
            ..
        }) => return attest(node, task, &inputs, reason, sealed.as_ref()).await,
    };

    // Invalid inputs need no proof, only an attestation: check them first.
    let checker = prover.clone();
    let request = ProveRequest {
        prover_data: inputs.clone(),
        secret,
        ask_id: Some(id),
        timeout: None,
    };
    let checked = request.clone();
    let verdict = tokio::task::spawn_blocking(move || checker.check_request(&checked))
        .await
        .map_err(|e| retry(format!("the input check panicked: {e}")))?;
    match verdict {
        Ok(InputCheck::Invalid { reason }) => {
            let reason = withheld(sealed.as_ref(), reason);
            return attest(node, task, &inputs, &reason, sealed.as_ref()).await;
        }
        Ok(InputCheck::Valid) => {}
        Err(e) if e.is_retryable() => {
            return Err(retry(withheld(
                sealed.as_ref(),
                format!("input check: {e}"),
            )));
        }
        // A backend that cannot check leaves it to the proof.
        Err(e) => {
            let e = withheld(sealed.as_ref(), e.to_string());
            warn!(target: "kalypso::generator", ask_id = id, e, "input check unavailable");
        }
    }

    let margin = node.config.submit_margin.as_secs();
    let expected = node.expected_proving(task.market_id);
    let now = node.chain_now().await.map_err(retry)?;
    // The latest chain time a proof may start and still be submitted in time.
    let Some(latest_start) = task_deadline
        .checked_sub(margin)
        .and_then(|t| t.checked_sub(expected.as_secs_f64().ceil() as u64))
        .filter(|&t| now <= t)
    else {
        return discard(
            node,
            task,
            &format!(
                "cannot finish in time: now {now} + expected proving {expected:?} + submit margin {margin}s > \
                 task deadline {task_deadline}"
            ),
        )
        .await;
    };

    // Wait for a proving slot, but not past the latest start.
    let started_waiting = Instant::now();
    let permit = tokio::select! {
        permit = node.permits.clone().acquire_owned() => permit.map_err(retry)?,
        () = tokio::time::sleep(Duration::from_secs(latest_start - now)) => {
            return discard(node, task, "no proving slot freed up before the latest start time").await;
        }
    };
    let now = if started_waiting.elapsed() > node.config.poll_interval {
        // A long wait: the ask may have changed hands.
        if let Standing::Over(state, why) = standing(node, task).await? {
            return finish(node, task, state, None, &why);
        }
        node.chain_now().await.map_err(retry)?
    } else {
        now
    };
    let Some(budget) = task_deadline
        .checked_sub(margin)
        .and_then(|t| t.checked_sub(now))
        .filter(|&b| b > 0)
        .map(Duration::from_secs)
    else {
        return discard(node, task, "no time left to prove").await;
    };

    node.store
        .set_state(id, TaskState::Proving, None)
        .map_err(retry)?;
    node.metrics.proofs_running.inc();
    let _running = Gauge(&node.metrics.proofs_running);
    info!(target: "kalypso::generator", ask_id = id, ?expected, ?budget, "proving");
    let request = ProveRequest {
        timeout: Some(budget),
        ..request
    };
    let started = Instant::now();
    // The permit moves into the proof: the slot stays taken until the proof really ends, even when the task
    // gives up on it.
    let proving = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        prover.prove(&request)
    });
    let result = tokio::select! {
        joined = proving => joined.map_err(|e| retry(format!("the prover panicked: {e}")))?,
        () = tokio::time::sleep(budget) => {
            return discard(node, task, &format!("the proof is not ready after {budget:?}")).await;
        }
    };
    let took = started.elapsed();
    match result {
        Ok(proof) => {
            // A TEE market's proof is the prover's output signed by the enclave, bound to this ask and generator.
            let proof = match node.tee.get(&task.market_id) {
                None => proof,
                Some(&verifier) => {
                    match tee_signed(node, verifier, &inputs, sealed.as_ref(), &proof) {
                        Ok(signed) => signed,
                        Err(why) => return discard(node, task, &why).await,
                    }
                }
            };
            let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
            node.store
                .set_proved(id, proof.as_bytes(), ms)
                .map_err(retry)?;
            node.metrics.tasks_proven.inc();
            node.metrics.proving_time.observe(took.as_secs_f64());
            info!(target: "kalypso::generator", ask_id = id, proving_ms = ms, "proved");
            Ok(())
        }
        Err(ProverError::InvalidInput { reason }) => {
            let reason = withheld(sealed.as_ref(), reason);
            attest(node, task, &inputs, &reason, sealed.as_ref()).await
        }
        Err(e) if e.is_retryable() => {
            node.store
                .set_state(id, TaskState::Seen, None)
                .map_err(retry)?;
            Err(retry(withheld(sealed.as_ref(), format!("proving: {e}"))))
        }
        Err(e) => {
            let why = withheld(sealed.as_ref(), format!("cannot prove: {e}"));
            discard(node, task, &why).await
        }
    }
}

/// The proof of a TEE market's task: `output` (what the prover in the enclave made) signed by the enclave key
/// as a `TeeProof` naming the ask's inputs and secret commitment (zero for a public market, as the marketplace
/// passes it), the output and this generator.
fn tee_signed(
    node: &Node,
    verifier: Address,
    inputs: &[u8],
    sealed: Option<&SealedSecret>,
    output: &Proof,
) -> Result<Proof, String> {
    let key = node
        .config
        .enclave_key
        .as_ref()
        .ok_or("a TEE market, and no enclave key configured")?;
    let enclave = PrivateKeySigner::from_slice(key.to_bytes().as_slice())
        .map_err(|e| format!("the enclave key: {e}"))?;
    let commitment = sealed.map_or(B256::ZERO, |s| s.commitment);
    kalypso_sdk::tee_proof(
        &enclave,
        node.config.deployment.chain_id,
        verifier,
        inputs,
        commitment,
        output.as_bytes(),
        node.me,
    )
    .map(|signed| Proof::from(signed.to_vec()))
    .map_err(|e| format!("the enclave could not sign the proof: {e}"))
}

/// Decrements a gauge when dropped.
struct Gauge<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// A confidential task's sealed inputs as the enclave found them.
struct SealedSecret {
    /// The data key the Matching Engine re-wrapped to the enclave (handed to the IVS when the inputs are
    /// invalid).
    key: DataKey,
    /// The ask's secret commitment.
    commitment: B256,
    /// The ask the secret is sealed for (every acl of it names this context).
    context: kalypso_confidential::Context,
    /// The secret, or why it does not decrypt under that key (the requester's doing: the engine checked the
    /// key is the ciphertext's).
    secret: Result<Secret, String>,
}

/// A prover's message about a confidential ask may quote the secret (a value the circuit rejected, a
/// command's stderr): it stays in the enclave, and logs, the task record and the IVS see only what kind of
/// failure it was.
fn withheld(sealed: Option<&SealedSecret>, message: String) -> String {
    if sealed.is_none() {
        return message;
    }
    match message.split(':').next().unwrap_or_default() {
        kind @ ("input check" | "proving" | "cannot prove") => {
            format!("{kind}: the prover failed on secret inputs (details stay in the enclave)")
        }
        _ => SECRET_INVALID.to_owned(),
    }
}

/// What a confidential task's invalid secret inputs are called outside the enclave.
const SECRET_INVALID: &str =
    "the secret inputs are invalid for the circuit (details stay in the enclave)";

/// Opens a confidential task's secret with the node's enclave key. `Err` is why the task cannot be proven
/// at all (its acl is not this enclave's: the assignment's fault, not the requester's).
async fn open_secret(
    node: &Node,
    task: &TaskRecord,
) -> Result<Result<SealedSecret, String>, Retry> {
    let Some(enclave_key) = &node.config.enclave_key else {
        return Ok(Err(
            "a confidential task, and no enclave key configured".into()
        ));
    };
    let Some(sealed) = node
        .client()
        .sealed_task(task.ask_id)
        .await
        .map_err(retry)?
    else {
        return Ok(Err("the confidential market's ask carries no secret".into()));
    };
    if sealed.assignee != Some(node.me) {
        return Err(retry(
            "the latest assignment of the ask is not to this generator (yet)",
        ));
    }
    let key = match kalypso_confidential::data_key(
        &sealed.ciphertext,
        &sealed.acl,
        &sealed.context,
        enclave_key,
    ) {
        Ok(key) => key,
        Err(e) => return Ok(Err(format!("the assignment's acl: {e}"))),
    };
    let commitment = kalypso_confidential::commitment(&sealed.ciphertext);
    let secret = kalypso_confidential::decrypt(&sealed.ciphertext, &key, &sealed.context)
        .map_err(|e| format!("the secret inputs do not decrypt: {e}"));
    Ok(Ok(SealedSecret {
        key,
        commitment,
        context: sealed.context,
        secret,
    }))
}

/// The data key of a confidential task wrapped to the IVS's key, after checking on-chain that the key the
/// IVS reports is the market's IVS signer (the key opens the requester's ciphertext: it goes to nobody else).
async fn acl_for_ivs(
    node: &Node,
    ivs: &IvsClient,
    task: &TaskRecord,
    sealed: &SealedSecret,
) -> Result<Bytes, String> {
    let (signer, key) = ivs.key().await.map_err(|e| format!("the IVS's key: {e}"))?;
    match node.client().is_ivs_signer(task.market_id, signer).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!(
                "the IVS signs as {signer}, which is not an IVS signer of market {}",
                task.market_id
            ));
        }
        Err(e) => return Err(format!("checking the IVS signer: {e}")),
    }
    kalypso_confidential::wrap_data_key(&sealed.key, sealed.commitment, &sealed.context, &key)
        .map(Bytes::from)
        .map_err(|e| format!("wrapping the data key to the IVS: {e}"))
}

/// Settles a task with invalid inputs through the IVS, or discards it when that is impossible. A confidential
/// task hands the IVS its data key (wrapped to the IVS's registered key) so the IVS can decrypt and judge.
async fn attest(
    node: &Node,
    task: &TaskRecord,
    inputs: &[u8],
    reason: &str,
    sealed: Option<&SealedSecret>,
) -> Step {
    let id = task.ask_id;
    warn!(target: "kalypso::generator", ask_id = id, reason, "inputs are invalid");
    let Some(ivs) = node.ivs_for(task.market_id) else {
        return discard(
            node,
            task,
            &format!("invalid inputs ({reason}) and no IVS configured"),
        )
        .await;
    };
    let acl = match sealed {
        None => None,
        Some(sealed) => match acl_for_ivs(node, ivs, task, sealed).await {
            Ok(acl) => Some(acl),
            Err(e) if time_left(node, task).await? => return Err(retry(e)),
            Err(e) => return discard(node, task, &format!("no IVS attestation: {e}")).await,
        },
    };
    let request = CheckRequest {
        ask_id: id,
        prover_data: Some(Bytes::copy_from_slice(inputs)),
        acl,
    };
    let response = match ivs.check(&request).await {
        Ok(response) => response,
        Err(e) if e.is_retryable() && time_left(node, task).await? => {
            return Err(retry(format!("IVS: {e}")));
        }
        Err(e) => return discard(node, task, &format!("no IVS attestation: {e}")).await,
    };
    let Some(signature) = response.signature.filter(|_| !response.valid) else {
        return discard(
            node,
            task,
            &format!("the prover finds the inputs invalid ({reason}), the IVS does not"),
        )
        .await;
    };
    let note = format!("invalid inputs: {reason}");
    let result = match node
        .client()
        .prepare_invalid_input_attestation(id, signature)
        .await
    {
        Ok(call) => transact(node, task, TxKind::Attestation, &note, call, None).await?,
        Err(e) => Err(e),
    };
    attested(node, task, &note, result).await
}

/// The outcome of an attestation transaction.
async fn attested(
    node: &Node,
    task: &TaskRecord,
    note: &str,
    result: kalypso_sdk::Result<TransactionReceipt>,
) -> Step {
    match result {
        Ok(receipt) => finish(
            node,
            task,
            TaskState::Attested,
            Some(receipt.transaction_hash),
            note,
        ),
        Err(e) => match e.marketplace_error() {
            Some(ProofMarketplaceErrors::InvalidAttestation(_)) => {
                discard(
                    node,
                    task,
                    "the IVS signer is not registered for the market",
                )
                .await
            }
            // Settled or expired meanwhile: the next step's on-chain check says which.
            Some(_) => Err(retry(format!("attestation: {e}"))),
            None => {
                reset_if_unsent(node, &e);
                Err(retry(format!("attestation: {e}")))
            }
        },
    }
}

/// Whether the task deadline still leaves the submit margin.
async fn time_left(node: &Node, task: &TaskRecord) -> Result<bool, Retry> {
    let now = node.chain_now().await.map_err(retry)?;
    Ok(now + node.config.submit_margin.as_secs() < task.task_deadline)
}

/// `proved` → `submitted`.
async fn submit(node: &Node, task: &TaskRecord) -> Step {
    let id = task.ask_id;
    let task_deadline = match standing(node, task).await? {
        Standing::Ours { task_deadline } => task_deadline,
        Standing::Over(state, why) => return finish(node, task, state, None, &why),
    };
    let now = node.chain_now().await.map_err(retry)?;
    if now > task_deadline {
        return finish(
            node,
            task,
            TaskState::Failed,
            None,
            &format!("the proof was ready but the task deadline {task_deadline} passed"),
        );
    }
    let (Some(inputs), Some(proof)) = (&task.inputs, &task.proof) else {
        // Cannot happen through the store's API (inputs are stored before proving); prove again.
        node.store
            .set_state(id, TaskState::Seen, Some("proved without stored inputs"))
            .map_err(retry)?;
        return Ok(());
    };
    let result = match node
        .client()
        .prepare_submit_proof(
            id,
            Bytes::copy_from_slice(inputs),
            Bytes::copy_from_slice(proof),
        )
        .await
    {
        Ok(call) => transact(node, task, TxKind::Proof, "proof accepted", call, None).await?,
        Err(e) => Err(e),
    };
    submitted(node, task, result).await
}

/// The outcome of a proof submission.
async fn submitted(
    node: &Node,
    task: &TaskRecord,
    result: kalypso_sdk::Result<TransactionReceipt>,
) -> Step {
    let id = task.ask_id;
    match result {
        Ok(receipt) => {
            let total_ms = unix_ms().saturating_sub(task.seen_at_ms);
            let overhead_ms = total_ms.saturating_sub(task.proving_ms.unwrap_or(0));
            node.metrics.node_overhead.observe(overhead_ms as f64 / 1e3);
            let price = node
                .client()
                .marketplace_event::<ProofSubmitted>(&receipt)
                .map(|e| e.price.to_string())
                .unwrap_or_default();
            info!(
                target: "kalypso::generator",
                ask_id = id,
                tx = %receipt.transaction_hash,
                gas_used = receipt.gas_used,
                price,
                total_ms,
                overhead_ms,
                "proof accepted"
            );
            finish(
                node,
                task,
                TaskState::Submitted,
                Some(receipt.transaction_hash),
                "proof accepted",
            )
        }
        Err(e) => match e.marketplace_error() {
            Some(
                ProofMarketplaceErrors::InvalidProof(_) | ProofMarketplaceErrors::InputsMismatch(_),
            ) => {
                // Proving again would not help: give the task up before it is slashed.
                discard(
                    node,
                    task,
                    &format!("the marketplace rejects the proof: {e}"),
                )
                .await
            }
            Some(_) => Err(retry(format!("submission: {e}"))),
            None => {
                reset_if_unsent(node, &e);
                Err(retry(format!("submission: {e}")))
            }
        },
    }
}

/// Gives the task up before its deadline (discard penalty instead of the slashing penalty).
async fn discard(node: &Node, task: &TaskRecord, why: &str) -> Step {
    let id = task.ask_id;
    warn!(target: "kalypso::generator", ask_id = id, reason = why, "discarding the task");
    let result = match node.client().prepare_discard(id).await {
        Ok(call) => transact(node, task, TxKind::Discard, why, call, None).await?,
        Err(e) => Err(e),
    };
    discarded(node, task, why, result).await
}

/// The outcome of a discard.
async fn discarded(
    node: &Node,
    task: &TaskRecord,
    why: &str,
    result: kalypso_sdk::Result<TransactionReceipt>,
) -> Step {
    let id = task.ask_id;
    match result {
        Ok(receipt) => {
            if let Ok(event) = node.client().marketplace_event::<TaskDiscarded>(&receipt) {
                info!(target: "kalypso::generator", ask_id = id, penalty = %event.penalty, reopened = event.reopened, "discarded");
            }
            finish(
                node,
                task,
                TaskState::Discarded,
                Some(receipt.transaction_hash),
                why,
            )
        }
        Err(e) => match e.marketplace_error() {
            Some(ProofMarketplaceErrors::TaskDeadline(_)) => finish(
                node,
                task,
                TaskState::Failed,
                None,
                &format!("{why}; the deadline passed before the discard"),
            ),
            Some(_) => match standing(node, task).await? {
                Standing::Over(state, over) => finish(node, task, state, None, &over),
                Standing::Ours { .. } => Err(retry(format!("discard: {e}"))),
            },
            None => {
                reset_if_unsent(node, &e);
                Err(retry(format!("discard: {e}")))
            }
        },
    }
}

/// Sends `call` for the task (or, with `resume`, follows the transaction recorded for it) until one of its
/// hashes is mined, re-sending it with higher fees while it lingers; every send is recorded before the wait goes
/// on. The outer error is a wait longer than the receipt timeout: the transaction stays recorded and the next
/// attempt follows it. The inner result is the SDK's: the receipt of a success, or why not.
async fn transact(
    node: &Node,
    task: &TaskRecord,
    kind: TxKind,
    note: &str,
    call: TxCall,
    resume: Option<PendingTx>,
) -> Result<kalypso_sdk::Result<TransactionReceipt>, Retry> {
    let id = task.ask_id;
    let client = node.client();
    let record = |pending: &PendingTx| {
        if pending.bumps() > 0 {
            node.metrics.fee_bumps.inc();
        }
        debug!(
            target: "kalypso::generator",
            ask_id = id,
            kind = kind.as_str(),
            nonce = pending.nonce,
            hash = %pending.hash(),
            bumps = pending.bumps(),
            "transaction sent"
        );
        if let Err(e) = node.store.set_pending(id, kind, Some(note), &call, pending) {
            // The on-chain checks of the next step still prevent a second settlement; log loudly.
            error!(target: "kalypso::generator", ask_id = id, %e, "cannot record a sent transaction");
        }
    };
    let sent = tokio::time::timeout(
        node.config.receipt_timeout,
        client.send_until_mined(&call, resume, node.config.bump_policy(), record),
    )
    .await;
    let Ok(result) = sent else {
        let nonce = node
            .store
            .pending_tx(id)
            .ok()
            .flatten()
            .map(|p| p.pending.nonce.to_string())
            .unwrap_or_else(|| "?".into());
        return Err(retry(format!(
            "{}: no receipt after {:?}; nonce {nonce} is still pending and will be followed",
            kind.as_str(),
            node.config.receipt_timeout
        )));
    };
    if matches!(
        result,
        Ok(_)
            | Err(kalypso_sdk::Error::Replaced { .. }
                | kalypso_sdk::Error::Reverted { .. }
                | kalypso_sdk::Error::RevertedUnknown { .. }
                | kalypso_sdk::Error::TxFailed { .. })
    ) {
        // Mined (or its nonce used): nothing left to follow.
        node.store.clear_pending(id).map_err(retry)?;
    }
    Ok(result)
}

/// Follows the transaction recorded for the task (sent before a restart or before the last attempt timed
/// out): re-sent with higher fees while it lingers, its outcome read as that of the step that sent it.
async fn follow(node: &Node, task: &TaskRecord, sent: StoredTx) -> Step {
    info!(
        target: "kalypso::generator",
        ask_id = task.ask_id,
        kind = sent.kind.as_str(),
        nonce = sent.pending.nonce,
        sends = sent.pending.hashes.len(),
        "following a transaction sent earlier"
    );
    let note = sent.note.clone().unwrap_or_default();
    let result = transact(node, task, sent.kind, &note, sent.call, Some(sent.pending)).await?;
    match sent.kind {
        TxKind::Proof => submitted(node, task, result).await,
        TxKind::Attestation => attested(node, task, &note, result).await,
        TxKind::Discard => discarded(node, task, &note, result).await,
    }
}

/// After a transaction error that is not the contract's: the provider may have reserved a nonce for a
/// transaction that never reached the node; start from the chain's count again.
pub(crate) fn reset_if_unsent(node: &Node, e: &kalypso_sdk::Error) {
    if matches!(
        e,
        kalypso_sdk::Error::Rpc(_)
            | kalypso_sdk::Error::Contract(_)
            | kalypso_sdk::Error::PendingTx(_)
    ) {
        node.reset_client();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(30);
        assert_eq!(backoff(1, cap), Duration::from_millis(500));
        assert_eq!(backoff(2, cap), Duration::from_secs(1));
        assert_eq!(backoff(4, cap), Duration::from_secs(4));
        assert_eq!(backoff(40, cap), cap);
    }
}
