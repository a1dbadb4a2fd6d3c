//! Transactions that can be replaced: a call is prepared (gas estimated, so a revert is an error before any
//! nonce is taken), sent with explicit fees and nonce ([`PendingTx`] comes back before any receipt), and
//! re-sent under the same nonce with higher fees while it lingers. The caller persists each [`PendingTx`]; any
//! of its hashes may be the one that is mined.

use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockId,
    network::TransactionBuilder,
    primitives::{Address, B256, Bytes},
    providers::{Provider, fillers::NonceManager},
    rpc::types::{TransactionReceipt, TransactionRequest},
};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing::{debug, info, warn};

use crate::{
    Error, Kalypso, Result,
    error::{Target, from_contract, from_revert_data},
    tx::{Gas, with_gas},
};

/// Raise of both fee fields per replacement, in percent. Nodes refuse a replacement that raises either field by
/// less than their price bump (10% in geth and reth); [`Fees::bumped`] never goes below 12.5%.
pub const BUMP_PERCENT: u128 = 25;

/// EIP-1559 fees of a transaction (wei per gas). In JSON both are decimal strings (a `u128` does not fit a JSON
/// number every reader takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fees {
    /// `maxFeePerGas`.
    #[serde(with = "decimal")]
    pub max_fee_per_gas: u128,
    /// `maxPriorityFeePerGas` (never above `max_fee_per_gas`).
    #[serde(with = "decimal")]
    pub max_priority_fee_per_gas: u128,
}

/// `u128` as a decimal string.
mod decimal {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| D::Error::custom(format!("{text:?} is not a decimal u128")))
    }
}

impl Fees {
    /// These fees with `max_fee_per_gas` at most `cap` (the priority fee follows it down).
    pub fn capped(self, cap: Option<u128>) -> Self {
        let max = cap.map_or(self.max_fee_per_gas, |cap| self.max_fee_per_gas.min(cap));
        Self {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: self.max_priority_fee_per_gas.min(max),
        }
    }

    /// The fees of a replacement: each field raised by [`BUMP_PERCENT`] (plus one wei, so tiny fees move), at
    /// least the market's current `suggested` fees, at most `cap`. `None` when the cap leaves no raise of at
    /// least 12.5% on both fields: a node would refuse such a replacement, so there is nothing to send.
    pub fn bumped(self, suggested: Self, cap: Option<u128>) -> Option<Self> {
        let raise = |fee: u128| {
            fee.saturating_add(fee.saturating_mul(BUMP_PERCENT) / 100)
                .saturating_add(1)
        };
        let next = Self {
            max_fee_per_gas: raise(self.max_fee_per_gas).max(suggested.max_fee_per_gas),
            max_priority_fee_per_gas: raise(self.max_priority_fee_per_gas)
                .max(suggested.max_priority_fee_per_gas),
        }
        .capped(cap);
        // At least +12.5% (x * 9 / 8) on both fields, and strictly more.
        let enough = |old: u128, new: u128| new > old && new >= old.saturating_add(old / 8);
        (enough(self.max_fee_per_gas, next.max_fee_per_gas)
            && enough(self.max_priority_fee_per_gas, next.max_priority_fee_per_gas))
        .then_some(next)
    }
}

/// A contract call ready to be sent and re-sent: destination, calldata and gas limit (from an estimate when it
/// was prepared). Everything needed to rebuild the same transaction after a restart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxCall {
    /// The contract called.
    pub to: Address,
    /// The calldata.
    pub input: Bytes,
    /// Gas limit.
    pub gas_limit: u64,
}

/// A transaction sent and not yet known to be mined: its account nonce, the fees of the latest send, and every
/// hash sent under that nonce (oldest first). Exactly one of them can be mined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTx {
    /// The sender's account nonce.
    pub nonce: u64,
    /// Fees of the latest send.
    pub fees: Fees,
    /// Every hash sent under `nonce`, oldest first. Empty when the first send's outcome is unknown (the
    /// connection failed after the request went out): the nonce is followed all the same, never reused.
    pub hashes: Vec<B256>,
    /// When the latest hash was sent (unix milliseconds, wall clock).
    pub sent_at_ms: u64,
}

impl PendingTx {
    /// The latest hash sent (zero when no hash is known).
    pub fn hash(&self) -> B256 {
        self.hashes.last().copied().unwrap_or_default()
    }

    /// Replacements sent so far.
    pub fn bumps(&self) -> usize {
        self.hashes.len().saturating_sub(1)
    }

    /// Time since the latest send (zero if the clock went back).
    pub fn age(&self) -> Duration {
        Duration::from_millis(unix_ms().saturating_sub(self.sent_at_ms))
    }
}

/// Where a [`PendingTx`] stands on-chain.
#[derive(Debug, Clone)]
pub enum TxStatus {
    /// Its nonce is not used yet.
    Pending,
    /// One of its hashes was mined with this receipt (which may show a failure).
    Mined(Box<TransactionReceipt>),
    /// The account's nonce moved past it but none of its hashes was mined: another transaction of the account
    /// took the nonce (one sent under it and not recorded, or one from elsewhere).
    Replaced,
}

/// When to re-send a lingering transaction, and how far fees may go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BumpPolicy {
    /// Re-send with higher fees after this long without a receipt.
    pub bump_after: Duration,
    /// Highest `maxFeePerGas` ever sent (wei); `None`: no cap. Also caps the first send.
    pub max_fee_per_gas: Option<u128>,
    /// How often to look for a receipt.
    pub poll_interval: Duration,
}

impl<P: Provider> Kalypso<P> {
    /// Prepares a call from the sender: estimates its gas now, so a revert comes back as the contract's typed
    /// error before anything is sent.
    pub(crate) async fn prepare<Q: Provider, D: CallDecoder>(
        &self,
        call: CallBuilder<Q, D>,
        to: Address,
        target: Target,
        gas: Gas,
    ) -> Result<TxCall> {
        let call = call.from(self.sender());
        let estimate = call
            .estimate_gas()
            .await
            .map_err(|e| from_contract(e, target))?;
        Ok(TxCall {
            to,
            input: call.calldata().clone(),
            gas_limit: with_gas(estimate, gas),
        })
    }

    /// The fees the provider suggests for a transaction now (EIP-1559 estimate from the fee history).
    pub async fn suggest_fees(&self) -> Result<Fees> {
        let estimate = self.provider().estimate_eip1559_fees().await?;
        Ok(Fees {
            max_fee_per_gas: estimate.max_fee_per_gas,
            max_priority_fee_per_gas: estimate
                .max_priority_fee_per_gas
                .min(estimate.max_fee_per_gas),
        })
    }

    /// Sends `call` from the sender with `fees` under the next account nonce, and returns as soon as the node
    /// accepted it, without waiting for a receipt. The nonce comes from the client's nonce manager (see
    /// [`with_nonce_manager`](Self::with_nonce_manager)); after an error the manager may be ahead of the chain,
    /// so start from a fresh one.
    pub async fn send_pending(&self, call: &TxCall, fees: Fees) -> Result<PendingTx> {
        let nonce = self
            .nonce_manager()
            .get_next_nonce(self.provider(), self.sender())
            .await?;
        let hash = self.broadcast(call, nonce, fees).await?;
        debug!(target: "kalypso::sdk", %hash, nonce, max_fee = fees.max_fee_per_gas, "transaction sent");
        Ok(PendingTx {
            nonce,
            fees,
            hashes: vec![hash],
            sent_at_ms: unix_ms(),
        })
    }

    /// Re-sends `call` under `pending`'s nonce with `fees` (which must be higher by the node's price bump, see
    /// [`Fees::bumped`]); returns `pending` with the new hash appended.
    pub async fn replace_pending(
        &self,
        call: &TxCall,
        pending: &PendingTx,
        fees: Fees,
    ) -> Result<PendingTx> {
        let hash = self.broadcast(call, pending.nonce, fees).await?;
        let mut hashes = pending.hashes.clone();
        hashes.push(hash);
        Ok(PendingTx {
            nonce: pending.nonce,
            fees,
            hashes,
            sent_at_ms: unix_ms(),
        })
    }

    /// Where `pending` stands: one `eth_getTransactionCount` while its nonce is unused, then the receipts of
    /// its hashes.
    pub async fn pending_status(&self, pending: &PendingTx) -> Result<TxStatus> {
        let used = self
            .provider()
            .get_transaction_count(self.sender())
            .latest()
            .await?;
        if used <= pending.nonce {
            return Ok(TxStatus::Pending);
        }
        for &hash in pending.hashes.iter().rev() {
            if let Some(receipt) = self.provider().get_transaction_receipt(hash).await? {
                return Ok(TxStatus::Mined(Box::new(receipt)));
            }
        }
        Ok(TxStatus::Replaced)
    }

    /// Sends `call` (or, with `resume`, follows a transaction of it sent earlier, e.g. before a restart) and
    /// waits until one of its hashes is mined, re-sending it under the same nonce with fees raised by
    /// [`BUMP_PERCENT`] whenever it lingers for `policy.bump_after`, up to `policy.max_fee_per_gas`.
    /// `on_sent` sees every send (the first and each replacement) right after the node accepted it: persist
    /// it there.
    ///
    /// Returns the receipt of a successful transaction; a mined failure becomes the contract's decoded error
    /// (replayed at its block), a nonce taken by another transaction [`Error::Replaced`]. A replacement the node
    /// refuses is logged and tried again after `bump_after` (the original may have been mined meanwhile); at the
    /// cap the latest transaction is announced again instead, unchanged. There is no timeout: wrap the future in
    /// one.
    pub async fn send_until_mined(
        &self,
        call: &TxCall,
        resume: Option<PendingTx>,
        policy: BumpPolicy,
        mut on_sent: impl FnMut(&PendingTx) + Send,
    ) -> Result<TransactionReceipt> {
        let mut pending = match resume {
            Some(pending) => pending,
            None => {
                let suggested = self.suggest_fees().await?;
                let fees = suggested.capped(policy.max_fee_per_gas);
                if fees != suggested {
                    warn!(
                        target: "kalypso::sdk",
                        suggested = suggested.max_fee_per_gas,
                        cap = fees.max_fee_per_gas,
                        "the suggested max fee per gas is above the cap; sending at the cap"
                    );
                }
                let nonce = self
                    .nonce_manager()
                    .get_next_nonce(self.provider(), self.sender())
                    .await?;
                let hashes = match self.broadcast(call, nonce, fees).await {
                    Ok(hash) => vec![hash],
                    // The request may have reached the node: follow the nonce (re-sending under it when it
                    // lingers) rather than fail and let the caller send again under the next one.
                    Err(e) if outcome_unknown(&e) => {
                        warn!(target: "kalypso::sdk", nonce, error = %e, "send outcome unknown; following the nonce");
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                };
                let pending = PendingTx {
                    nonce,
                    fees,
                    hashes,
                    sent_at_ms: unix_ms(),
                };
                on_sent(&pending);
                pending
            }
        };
        let mut last_try = std::time::Instant::now()
            .checked_sub(pending.age())
            .unwrap_or_else(std::time::Instant::now);
        let mut at_cap_logged = false;
        // A node can count a mined nonce a moment before it serves the block's receipts: "replaced" must hold
        // for a few polls before it is believed.
        let mut replaced_polls = 0;
        loop {
            match self.pending_status(&pending).await? {
                TxStatus::Pending => replaced_polls = 0,
                TxStatus::Mined(receipt) => return self.check_receipt(call, *receipt).await,
                TxStatus::Replaced if replaced_polls < REPLACED_POLLS => {
                    replaced_polls += 1;
                    tokio::time::sleep(policy.poll_interval.max(Duration::from_millis(200))).await;
                    continue;
                }
                TxStatus::Replaced => {
                    return Err(Error::Replaced {
                        nonce: pending.nonce,
                        sent: pending.hashes.len(),
                    });
                }
            }
            if last_try.elapsed() >= policy.bump_after {
                last_try = std::time::Instant::now();
                let suggested = self.suggest_fees().await?;
                match pending.fees.bumped(suggested, policy.max_fee_per_gas) {
                    Some(fees) => match self.replace_pending(call, &pending, fees).await {
                        Ok(replaced) => {
                            pending = replaced;
                            info!(
                                target: "kalypso::sdk",
                                hash = %pending.hash(),
                                nonce = pending.nonce,
                                max_fee = fees.max_fee_per_gas,
                                priority_fee = fees.max_priority_fee_per_gas,
                                bumps = pending.bumps(),
                                "re-sent a lingering transaction with higher fees"
                            );
                            on_sent(&pending);
                        }
                        // Refused (underpriced, nonce already used by the original, ...): the status check says
                        // whether the original was mined; otherwise the next bump tries again.
                        Err(e) => {
                            warn!(target: "kalypso::sdk", nonce = pending.nonce, error = %e, "replacement refused")
                        }
                    },
                    None => {
                        if !at_cap_logged {
                            at_cap_logged = true;
                            warn!(
                                target: "kalypso::sdk",
                                nonce = pending.nonce,
                                max_fee = pending.fees.max_fee_per_gas,
                                cap = ?policy.max_fee_per_gas,
                                "fees are at the cap; waiting for the transaction without raising them"
                            );
                        }
                        // Same call, nonce and fees: the same signed transaction (local signatures are
                        // deterministic), announced again in case a node dropped it.
                        if let Err(e) = self.broadcast(call, pending.nonce, pending.fees).await {
                            debug!(target: "kalypso::sdk", nonce = pending.nonce, error = %e, "re-announcing refused");
                        }
                    }
                }
            }
            tokio::time::sleep(policy.poll_interval).await;
        }
    }

    /// Signs (through the provider's wallet) and sends `call` with an explicit nonce, gas and fees; the
    /// provider's fillers have nothing left to fill.
    async fn broadcast(&self, call: &TxCall, nonce: u64, fees: Fees) -> Result<B256> {
        let request = TransactionRequest::default()
            .with_from(self.sender())
            .with_to(call.to)
            .with_input(call.input.clone())
            .with_gas_limit(call.gas_limit)
            .with_nonce(nonce)
            .with_chain_id(self.deployment().chain_id)
            .with_max_fee_per_gas(fees.max_fee_per_gas)
            .with_max_priority_fee_per_gas(fees.max_priority_fee_per_gas);
        let sent = self.provider().send_transaction(request).await?;
        Ok(*sent.tx_hash())
    }

    /// The receipt if it shows success; else the revert, recovered by replaying the call at the end of its
    /// block (a reverted transaction changed no contract state).
    async fn check_receipt(
        &self,
        call: &TxCall,
        receipt: TransactionReceipt,
    ) -> Result<TransactionReceipt> {
        let hash = receipt.transaction_hash;
        let block = receipt.block_number.unwrap_or_default();
        if receipt.status() {
            debug!(target: "kalypso::sdk", %hash, block, gas_used = receipt.gas_used, "transaction confirmed");
            return Ok(receipt);
        }
        debug!(target: "kalypso::sdk", %hash, block, "transaction failed");
        let replay = TransactionRequest::default()
            .with_from(self.sender())
            .with_to(call.to)
            .with_input(call.input.clone())
            .with_gas_limit(call.gas_limit);
        let data = match self
            .provider()
            .call(replay)
            .block(BlockId::number(block))
            .await
        {
            Ok(_) => None,
            Err(e) => e.as_error_resp().and_then(|r| r.as_revert_data()),
        };
        Err(match data {
            Some(data) => match from_revert_data(data, self.target_of(call.to)) {
                Error::RevertedUnknown { data, .. } if data.is_empty() => {
                    Error::TxFailed { hash, block }
                }
                decoded => decoded,
            },
            None => Error::TxFailed { hash, block },
        })
    }

    /// The protocol contract at `to`, for decoding its reverts.
    fn target_of(&self, to: Address) -> Target {
        let d = self.deployment();
        if to == d.marketplace {
            Target::Marketplace
        } else if to == d.generator_registry {
            Target::Registry
        } else if to == d.key_registry {
            Target::KeyRegistry
        } else if to == d.payment_token || to == d.staking_token {
            Target::Token
        } else {
            Target::Other("contract")
        }
    }
}

/// Polls (beyond the first) a nonce must look taken by another transaction before [`Error::Replaced`].
const REPLACED_POLLS: u32 = 5;

/// Whether a failed send may still have reached the node: anything but the node's own error answer
/// (a refusal: underpriced, nonce too low, insufficient funds, ...).
fn outcome_unknown(e: &Error) -> bool {
    matches!(e, Error::Rpc(rpc) if !matches!(rpc, alloy::transports::RpcError::ErrorResp(_)))
}

/// Milliseconds since the unix epoch.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_nodes_own_refusal_is_a_definite_send_failure() {
        use alloy::transports::{RpcError, TransportErrorKind};
        let refused = Error::Rpc(RpcError::ErrorResp(
            serde_json::from_str(r#"{"code":-32000,"message":"nonce too low"}"#).expect("payload"),
        ));
        assert!(!outcome_unknown(&refused));
        let dropped = Error::Rpc(TransportErrorKind::custom_str("connection reset by peer"));
        assert!(outcome_unknown(&dropped));
        assert!(!outcome_unknown(&Error::ZeroAmount("x")));
    }

    const GWEI: u128 = 1_000_000_000;

    fn fees(max: u128, priority: u128) -> Fees {
        Fees {
            max_fee_per_gas: max,
            max_priority_fee_per_gas: priority,
        }
    }

    #[test]
    fn a_bump_raises_both_fees_by_a_quarter() {
        let old = fees(40 * GWEI, 2 * GWEI);
        let next = old.bumped(fees(0, 0), None).expect("uncapped");
        assert_eq!(next, fees(50 * GWEI + 1, 5 * GWEI / 2 + 1));
        // Tiny fees still move.
        assert_eq!(fees(0, 0).bumped(fees(0, 0), None), Some(fees(1, 1)));
    }

    #[test]
    fn a_bump_follows_a_market_that_rose_more() {
        let next = fees(10 * GWEI, GWEI)
            .bumped(fees(30 * GWEI, 3 * GWEI), None)
            .expect("uncapped");
        assert_eq!(next, fees(30 * GWEI, 3 * GWEI));
    }

    #[test]
    fn the_cap_bounds_bumps_and_stops_them_below_the_minimum_raise() {
        let cap = Some(45 * GWEI);
        // +12.5% fits under the cap: the max fee stops at the cap.
        let next = fees(40 * GWEI, 2 * GWEI)
            .bumped(fees(0, 0), cap)
            .expect("+12.5% fits");
        assert_eq!(next, fees(45 * GWEI, 5 * GWEI / 2 + 1));
        // Less than +12.5% left: no replacement.
        assert_eq!(fees(41 * GWEI, 2 * GWEI).bumped(fees(0, 0), cap), None);
        assert_eq!(next.bumped(fees(0, 0), cap), None);
        // The priority fee never exceeds the max fee.
        assert_eq!(
            fees(100 * GWEI, 90 * GWEI).capped(Some(50 * GWEI)),
            fees(50 * GWEI, 50 * GWEI)
        );
    }

    #[test]
    fn fees_are_decimal_strings_in_json() {
        let f = fees(u128::MAX, 7);
        let json = serde_json::to_value(f).expect("serialize");
        assert_eq!(json["maxFeePerGas"], u128::MAX.to_string());
        assert_eq!(json["maxPriorityFeePerGas"], "7");
        assert_eq!(serde_json::from_value::<Fees>(json).expect("parse"), f);
    }

    #[test]
    fn pending_transactions_name_their_latest_hash() {
        let p = PendingTx {
            nonce: 4,
            fees: fees(1, 1),
            hashes: vec![B256::repeat_byte(1), B256::repeat_byte(2)],
            sent_at_ms: unix_ms(),
        };
        assert_eq!((p.hash(), p.bumps()), (B256::repeat_byte(2), 1));
        assert!(p.age() < Duration::from_secs(5));
    }
}
