//! Relays the book's matches on-chain: EIP-712-signed `AssignBatch`es, persisted before they are sent, sent with
//! the engine's own account nonces (several transactions in flight), re-sent with higher fees when they linger,
//! and settled from receipts. A batch that can never be mined (reverted, expired, dropped) gives its items back
//! to the book. A batch given up while its signature is still valid (reverted or dropped before its expiry: the
//! signed batch was public in the mempool) is cancelled on-chain with `invalidateNonces`, so nobody can relay it
//! later, after the book has re-matched its asks.

use alloy::{
    consensus::TxEnvelope,
    eips::BlockNumberOrTag,
    network::{EthereumWallet, NetworkWallet, TransactionBuilder},
    primitives::{Address, B256, Bytes, U256},
    providers::{DynProvider, Provider},
    rpc::types::TransactionRequest,
    signers::{Signer, local::PrivateKeySigner},
    sol_types::{SolCall, SolStruct},
};
use kalypso_matching::{AskId, Match};
use kalypso_primitives::eip712;
use kalypso_sdk::{
    Deployment, Fees,
    contracts::marketplace::{IProofMarketplace, ProofMarketplace},
};
use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant},
};
use tracing::{debug, info, warn};

use crate::{
    Error, Result,
    store::{Batch, BatchStatus, Store},
};

/// Submitter settings.
#[derive(Debug, Clone, Copy)]
pub struct SubmitterConfig {
    /// Assignments per batch.
    pub max_batch: usize,
    /// Relaying transactions in flight at once.
    pub max_in_flight: usize,
    /// A batch's validity after signing (its EIP-712 `expiry`).
    pub batch_ttl: Duration,
    /// Re-send with higher fees after this long without a receipt.
    pub bump_after: Duration,
}

impl Default for SubmitterConfig {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_in_flight: 4,
            batch_ttl: Duration::from_secs(120),
            bump_after: Duration::from_secs(15),
        }
    }
}

/// How a batch ended, for the caller's book and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Mined: the chain's `TaskAssigned`/`AssignmentSkipped` events say what happened to each item.
    Mined {
        /// Batch id.
        id: i64,
        /// Gas used.
        gas_used: u64,
    },
    /// Never assigns anything; its items are free again.
    Failed {
        /// Batch id.
        id: i64,
        /// The items to release.
        items: Vec<Match>,
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
struct InFlight {
    batch: Batch,
    last_sent: Option<Instant>,
    /// Expired unmined: its items were given back; the transaction is kept (and bumped) only until its account
    /// nonce is used, so later transactions are not stuck behind a gap.
    released: bool,
    /// Polls that found the transaction's account nonce used but no receipt for any of its hashes. A node may
    /// expose the new account nonce a moment before the receipt (anvil does, under load), so a batch is called
    /// dropped only when a later poll still finds no receipt.
    nonce_used_polls: u8,
}

/// The submitter.
#[derive(Debug)]
pub struct Submitter {
    provider: DynProvider,
    wallet: EthereumWallet,
    relayer: Address,
    signer: PrivateKeySigner,
    deployment: Deployment,
    store: Arc<Store>,
    config: SubmitterConfig,
    next_nonce: Option<u64>,
    in_flight: Vec<InFlight>,
    /// Fee bumps done (metrics).
    pub fee_bumps: u64,
    /// Batch nonces cancelled on-chain (metrics).
    pub cancels: u64,
}

impl Submitter {
    /// A submitter that signs with `signer` (the Matching Engine key) and sends from `relayer`.
    pub fn new(
        provider: DynProvider,
        relayer: PrivateKeySigner,
        signer: PrivateKeySigner,
        deployment: Deployment,
        store: Arc<Store>,
        config: SubmitterConfig,
    ) -> Self {
        let relayer_address = relayer.address();
        Self {
            provider,
            wallet: EthereumWallet::from(relayer),
            relayer: relayer_address,
            signer,
            deployment,
            store,
            config,
            next_nonce: None,
            in_flight: Vec::new(),
            fee_bumps: 0,
            cancels: 0,
        }
    }

    /// Takes the batches the store has in flight (after a restart) and returns their items, which the book must
    /// restore as pending.
    pub fn resume(&mut self) -> Result<Vec<Match>> {
        let batches = self.store.pending_batches()?;
        let items = batches
            .iter()
            .flat_map(|b| b.items.iter().cloned())
            .collect();
        if !batches.is_empty() {
            info!(target: "kalypso::engine", batches = batches.len(), "resuming batches in flight");
        }
        self.in_flight = batches
            .into_iter()
            .map(|batch| InFlight {
                batch,
                last_sent: None,
                released: false,
                nonce_used_polls: 0,
            })
            .collect();
        Ok(items)
    }

    /// Items of batches that may still be mined (to restore as pending after the book is rebuilt).
    pub fn pending_items(&self) -> Vec<Match> {
        self.in_flight
            .iter()
            .filter(|f| !f.released)
            .flat_map(|f| f.batch.items.iter().cloned())
            .collect()
    }

    /// Forgets the cached account nonce (the chain went back: a reorg may have dropped our transactions).
    pub fn resync_nonce(&mut self) {
        self.next_nonce = None;
    }

    /// How many more assignments fit in the free transaction slots.
    pub fn capacity(&self) -> usize {
        self.config
            .max_in_flight
            .saturating_sub(self.in_flight.len())
            * self.config.max_batch
    }

    /// Transactions in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Signs, persists and sends `matches` in batches, each with its acl in `acls` (confidential asks: the data
    /// key re-wrapped to the assigned generator's enclave; none for public ones). `chain_now` is the head's
    /// timestamp (expiries are in chain time). Returns batches that failed at once (their items must be
    /// released).
    pub async fn submit(
        &mut self,
        matches: Vec<Match>,
        acls: &HashMap<AskId, Bytes>,
        chain_now: u64,
    ) -> Result<Vec<Settled>> {
        let mut failed = Vec::new();
        for chunk in matches.chunks(self.config.max_batch.max(1)) {
            let nonce = self.store.next_batch_nonce()?;
            let expiry = chain_now + self.config.batch_ttl.as_secs();
            let chunk_acls: Vec<Bytes> = chunk
                .iter()
                .map(|m| acls.get(&m.ask).cloned().unwrap_or_default())
                .collect();
            let batch = eip712::AssignBatch {
                assignments: chunk
                    .iter()
                    .zip(&chunk_acls)
                    .map(|(m, acl)| assignment(m, acl))
                    .collect(),
                nonce,
                expiry: U256::from(expiry),
            };
            let domain =
                eip712::marketplace_domain(self.deployment.chain_id, self.deployment.marketplace);
            let signature = self
                .signer
                .sign_hash(&batch.eip712_signing_hash(&domain))
                .await
                .map_err(|e| Error::Signer(e.to_string()))?;
            let signature = signature.as_bytes().to_vec();
            let id = self
                .store
                .insert_batch(nonce, expiry, chunk, &chunk_acls, &signature)?;
            let batch = Batch {
                id,
                nonce,
                expiry,
                items: chunk.to_vec(),
                acls: chunk_acls,
                signature,
                tx_nonce: None,
                tx_hashes: vec![],
                max_fee: 0,
                priority_fee: 0,
                gas: 0,
            };
            let mut flight = InFlight {
                batch,
                last_sent: None,
                released: false,
                nonce_used_polls: 0,
            };
            match self.send(&mut flight, false).await {
                Ok(()) => self.in_flight.push(flight),
                Err(reason) => {
                    self.store.finish_batch(id, BatchStatus::Failed, None)?;
                    failed.push(Settled::Failed {
                        id,
                        items: flight.batch.items,
                        reason,
                    });
                }
            }
        }
        Ok(failed)
    }

    /// Checks receipts of the batches in flight, re-sends those that linger (with higher fees) or were never
    /// sent, and gives up those that expired unmined.
    pub async fn poll(&mut self, chain_now: u64) -> Result<Vec<Settled>> {
        let mut settled = Vec::new();
        let mut keep = Vec::with_capacity(self.in_flight.len());
        let confirmed_nonce = if self.in_flight.is_empty() {
            0
        } else {
            self.provider
                .get_transaction_count(self.relayer)
                .block_id(BlockNumberOrTag::Latest.into())
                .await
                .map_err(rpc)?
        };
        for mut flight in std::mem::take(&mut self.in_flight) {
            let id = flight.batch.id;
            if let Some((ok, block, gas_used)) = self.receipt(&flight.batch.tx_hashes).await? {
                if flight.released {
                    continue;
                }
                if ok {
                    self.store
                        .finish_batch(id, BatchStatus::Mined, Some(block))?;
                    settled.push(Settled::Mined { id, gas_used });
                } else {
                    self.store
                        .finish_batch(id, BatchStatus::Failed, Some(block))?;
                    // A reverted relay used no batch nonce: the signed batch could still be relayed.
                    self.cancel_if_live(&flight.batch, chain_now).await;
                    settled.push(Settled::Failed {
                        id,
                        items: flight.batch.items,
                        reason: format!("relay transaction reverted in block {block}"),
                    });
                }
                continue;
            }
            let nonce_used = flight.batch.tx_nonce.is_some_and(|n| n < confirmed_nonce);
            if nonce_used {
                flight.nonce_used_polls += 1;
                if flight.nonce_used_polls < 2 {
                    keep.push(flight);
                    continue;
                }
                if !flight.released {
                    // Another transaction took the nonce and none of ours was mined: dropped.
                    self.store.finish_batch(id, BatchStatus::Failed, None)?;
                    self.cancel_if_live(&flight.batch, chain_now).await;
                    settled.push(Settled::Failed {
                        id,
                        items: flight.batch.items,
                        reason: "relay transaction replaced or dropped".into(),
                    });
                }
                continue;
            }
            if !flight.released && chain_now > flight.batch.expiry {
                // Past its expiry it can only revert: free its items now. A transaction that was sent keeps its
                // account nonce, so it stays tracked (and bumped) until mined.
                self.store.finish_batch(id, BatchStatus::Failed, None)?;
                settled.push(Settled::Failed {
                    id,
                    items: flight.batch.items.clone(),
                    reason: "batch expired before it was mined".into(),
                });
                if flight.batch.tx_hashes.is_empty() {
                    continue;
                }
                flight.released = true;
            }
            let due = match flight.last_sent {
                None => true,
                Some(at) => at.elapsed() >= self.config.bump_after,
            };
            if due {
                let bump = !flight.batch.tx_hashes.is_empty();
                if let Err(reason) = self.send(&mut flight, bump).await {
                    warn!(target: "kalypso::engine", id, reason, "re-sending batch failed");
                    if flight.batch.tx_hashes.is_empty() && !flight.released {
                        self.store.finish_batch(id, BatchStatus::Failed, None)?;
                        settled.push(Settled::Failed {
                            id,
                            items: flight.batch.items,
                            reason,
                        });
                        continue;
                    }
                }
            }
            keep.push(flight);
        }
        self.in_flight = keep;
        Ok(settled)
    }

    /// Sends (or, with `bump`, re-sends with higher fees under the same account nonce) a batch. Errors are
    /// returned as text: they are about this batch, not the engine.
    async fn send(&mut self, flight: &mut InFlight, bump: bool) -> std::result::Result<(), String> {
        let b = &flight.batch;
        let call = ProofMarketplace::relayAssignmentsCall {
            assignments: b
                .items
                .iter()
                .enumerate()
                .map(|(i, m)| IProofMarketplace::Assignment {
                    askId: U256::from(m.ask),
                    generator: m.generator,
                    maxPrice: U256::from(m.max_price),
                    maxProofTime: U256::from(m.max_proof_time),
                    acl: b.acls.get(i).cloned().unwrap_or_default(),
                })
                .collect(),
            nonce: b.nonce,
            expiry: U256::from(b.expiry),
            signature: Bytes::copy_from_slice(&b.signature),
        };
        let mut request = TransactionRequest::default()
            .with_from(self.relayer)
            .with_to(self.deployment.marketplace)
            .with_input(Bytes::from(call.abi_encode()))
            .with_chain_id(self.deployment.chain_id);
        let gas = if b.gas > 0 {
            b.gas
        } else {
            let estimate = self
                .provider
                .estimate_gas(request.clone())
                .await
                .map_err(|e| format!("relay would revert: {}", describe_revert(&e.to_string())))?;
            estimate + estimate / 5 + 50_000
        };
        let suggested = self.provider.estimate_eip1559_fees().await.map(|f| Fees {
            max_fee_per_gas: f.max_fee_per_gas,
            max_priority_fee_per_gas: f.max_priority_fee_per_gas,
        });
        let Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: priority_fee,
        } = if bump {
            // +25% on both (replacement rules want +10%), never below what the market asks now; no cap.
            let sent = Fees {
                max_fee_per_gas: b.max_fee,
                max_priority_fee_per_gas: b.priority_fee,
            };
            sent.bumped(suggested.unwrap_or(sent), None)
                .ok_or("no higher fee to bump to")?
        } else {
            suggested.map_err(|e| e.to_string())?
        };
        let tx_nonce = match b.tx_nonce {
            Some(n) => n,
            None => self.take_nonce().await.map_err(|e| e.to_string())?,
        };
        request = request
            .with_nonce(tx_nonce)
            .with_gas_limit(gas)
            .with_max_fee_per_gas(max_fee)
            .with_max_priority_fee_per_gas(priority_fee);
        let envelope: TxEnvelope =
            NetworkWallet::<alloy::network::Ethereum>::sign_request(&self.wallet, request)
                .await
                .map_err(|e| e.to_string())?;
        let hash = *envelope.tx_hash();
        // Write-ahead: the hash is stored before the broadcast. Were it stored after, a crash in between would
        // lose it, and once that transaction (say a fee bump) is mined the restarted engine would find no
        // receipt for the hashes it knows, call the batch dropped, cancel it and match its asks again. A stored
        // hash that never reached the pool is harmless: it simply has no receipt.
        self.store
            .record_send(b.id, tx_nonce, hash, max_fee, priority_fee, gas)
            .map_err(|e| e.to_string())?;
        match self.provider.send_tx_envelope(envelope).await {
            Ok(_) => {}
            Err(e) => {
                let text = e.to_string();
                if text.contains("nonce too low") || text.contains("already known") {
                    // Our nonce view is stale (another sender or a restart): resync on the next send.
                    self.next_nonce = None;
                }
                if b.tx_nonce.is_none() {
                    // The nonce was never used; give it back.
                    self.next_nonce = None;
                }
                return Err(format!("sending relay transaction failed: {text}"));
            }
        }
        let b = &mut flight.batch;
        b.tx_nonce = Some(tx_nonce);
        b.tx_hashes.push(hash);
        (b.max_fee, b.priority_fee, b.gas) = (max_fee, priority_fee, gas);
        flight.last_sent = Some(Instant::now());
        if bump {
            self.fee_bumps += 1;
            info!(target: "kalypso::engine", id = b.id, %hash, max_fee, "re-sent batch with higher fees");
        } else {
            debug!(target: "kalypso::engine", id = b.id, %hash, items = b.items.len(), tx_nonce, "sent batch");
        }
        Ok(())
    }

    /// Cancels a given-up batch on-chain while its signature is still valid and it was broadcast (anyone may
    /// relay a signed batch they saw). Best effort: if the cancellation fails, the batch still dies at its expiry,
    /// and a late relay of it only assigns asks the book re-matched to whichever lands first (the other is skipped).
    async fn cancel_if_live(&mut self, batch: &Batch, chain_now: u64) {
        if batch.tx_hashes.is_empty() || chain_now > batch.expiry {
            return;
        }
        match self.cancel(batch.nonce).await {
            Ok(hash) => {
                self.cancels += 1;
                info!(target: "kalypso::engine", id = batch.id, nonce = %batch.nonce, %hash, "cancelled the batch's nonce");
            }
            Err(reason) => {
                warn!(target: "kalypso::engine", id = batch.id, reason, "cancelling the batch's nonce failed; it expires at {}", batch.expiry);
            }
        }
    }

    /// Sends `invalidateNonces` for one batch nonce from the Matching Engine's account (nonces are per signer).
    async fn cancel(&mut self, batch_nonce: U256) -> std::result::Result<B256, String> {
        let bit: usize = (batch_nonce & U256::from(0xff)).to();
        let call = ProofMarketplace::invalidateNoncesCall {
            word: batch_nonce >> 8,
            mask: U256::from(1) << bit,
        };
        let from = self.signer.address();
        let request = TransactionRequest::default()
            .with_from(from)
            .with_to(self.deployment.marketplace)
            .with_input(Bytes::from(call.abi_encode()))
            .with_chain_id(self.deployment.chain_id);
        let gas = self
            .provider
            .estimate_gas(request.clone())
            .await
            .map_err(|e| e.to_string())?;
        let fees = self
            .provider
            .estimate_eip1559_fees()
            .await
            .map_err(|e| e.to_string())?;
        let relayer_signs = from == self.relayer;
        let tx_nonce = if relayer_signs {
            self.take_nonce().await.map_err(|e| e.to_string())?
        } else {
            self.provider
                .get_transaction_count(from)
                .pending()
                .await
                .map_err(|e| e.to_string())?
        };
        let request = request
            .with_nonce(tx_nonce)
            .with_gas_limit(gas + gas / 5)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let wallet = if relayer_signs {
            self.wallet.clone()
        } else {
            EthereumWallet::from(self.signer.clone())
        };
        let envelope: TxEnvelope =
            NetworkWallet::<alloy::network::Ethereum>::sign_request(&wallet, request)
                .await
                .map_err(|e| e.to_string())?;
        let hash = *envelope.tx_hash();
        if let Err(e) = self.provider.send_tx_envelope(envelope).await {
            if relayer_signs {
                self.next_nonce = None;
            }
            return Err(e.to_string());
        }
        Ok(hash)
    }

    async fn take_nonce(&mut self) -> Result<u64> {
        let next = match self.next_nonce {
            Some(n) => n,
            // The node's pending count includes our transactions in its pool; one it dropped frees its nonce,
            // and reusing it lets the batch that held it be settled as replaced.
            None => self
                .provider
                .get_transaction_count(self.relayer)
                .pending()
                .await
                .map_err(rpc)?,
        };
        self.next_nonce = Some(next + 1);
        Ok(next)
    }

    async fn receipt(&self, hashes: &[B256]) -> Result<Option<(bool, u64, u64)>> {
        for hash in hashes {
            if let Some(r) = self
                .provider
                .get_transaction_receipt(*hash)
                .await
                .map_err(rpc)?
            {
                return Ok(Some((
                    r.status(),
                    r.block_number.unwrap_or_default(),
                    r.gas_used,
                )));
            }
        }
        Ok(None)
    }
}

/// The EIP-712 message item of a match with its acl.
fn assignment(m: &Match, acl: &Bytes) -> eip712::Assignment {
    eip712::Assignment {
        askId: U256::from(m.ask),
        generator: m.generator,
        maxPrice: U256::from(m.max_price),
        maxProofTime: U256::from(m.max_proof_time),
        acl: acl.clone(),
    }
}

/// Names the marketplace error in a revert message when its selector is known.
fn describe_revert(text: &str) -> String {
    use alloy::sol_types::SolInterface;
    let Some(start) = text.find("0x") else {
        return text.to_owned();
    };
    let hex: String = text[start + 2..]
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    match alloy::hex::decode(&hex)
        .ok()
        .and_then(|data| ProofMarketplace::ProofMarketplaceErrors::abi_decode(&data).ok())
    {
        Some(err) => format!("{err:?}"),
        None => text.to_owned(),
    }
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::Rpc(e.to_string())
}
