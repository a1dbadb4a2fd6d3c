//! Sending one transaction: gas, receipt, and turning a revert into a typed error.

use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockId,
    primitives::Address,
    providers::Provider,
    rpc::types::TransactionReceipt,
    sol_types::SolEvent,
};
use std::time::Duration;
use tracing::debug;

use crate::{
    Error, Result,
    error::{Target, from_contract},
};

/// How the gas limit of a transaction is chosen. Either way the SDK estimates it itself, before the provider
/// fills the transaction: alloy's fillers reserve a nonce from the nonce cache concurrently with their own gas
/// estimate, so a revert found by the filler's estimate would leave a nonce gap that stalls every later
/// transaction of the account. Estimating first turns a revert into an error before any nonce is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gas {
    /// The estimate as it is (what the provider's gas filler would use).
    Estimate,
    /// The estimate raised by a margin. For calls into verifiers: a pairing check starved of gas fails inside
    /// a `try`, so the estimate's binary search can land too low.
    WithMargin,
}

/// How long to wait for a receipt before giving up with [`Error::PendingTx`] (the transaction may still be mined).
pub const DEFAULT_RECEIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Gas added on top of an estimate for [`Gas::WithMargin`]: 30% plus a constant.
fn with_margin(estimate: u64) -> u64 {
    estimate
        .saturating_add(estimate / 10 * 3)
        .saturating_add(25_000)
}

/// The gas limit for an `estimate` under `gas`.
pub(crate) fn with_gas(estimate: u64, gas: Gas) -> u64 {
    match gas {
        Gas::Estimate => estimate,
        Gas::WithMargin => with_margin(estimate),
    }
}

/// Sends `call` from `from`, waits for its receipt and checks its status. Reverts (at estimation or, for a
/// mined failure, on replay at its block) are decoded with `target`'s ABI first.
pub(crate) async fn send<P: Provider, D: CallDecoder>(
    call: CallBuilder<P, D>,
    from: Address,
    target: Target,
    what: &'static str,
    gas: Gas,
    receipt_timeout: Option<Duration>,
) -> Result<TransactionReceipt> {
    let call = call.from(from);
    let estimate = call
        .estimate_gas()
        .await
        .map_err(|e| from_contract(e, target))?;
    let call = call.gas(with_gas(estimate, gas));
    let pending = call.send().await.map_err(|e| from_contract(e, target))?;
    let hash = *pending.tx_hash();
    debug!(target: "kalypso::sdk", %hash, %from, what, "transaction sent");
    let receipt = pending.with_timeout(receipt_timeout).get_receipt().await?;
    let block = receipt.block_number.unwrap_or_default();
    if receipt.status() {
        debug!(target: "kalypso::sdk", %hash, block, gas_used = receipt.gas_used, what, "transaction confirmed");
        return Ok(receipt);
    }
    // Replay at the end of its block to recover the revert data: a reverted transaction changed no contract
    // state, and a transaction that failed because an earlier one in its block won a race fails the same way.
    let replay = call.call_raw().block(BlockId::number(block)).await;
    debug!(target: "kalypso::sdk", %hash, block, what, "transaction failed");
    Err(match replay {
        Err(e) => match from_contract(e, target) {
            Error::Contract(_) => Error::TxFailed { hash, block },
            decoded => decoded,
        },
        Ok(_) => Error::TxFailed { hash, block },
    })
}

/// The events of type `E` that `address` emitted in `receipt`.
pub(crate) fn events<E: SolEvent>(receipt: &TransactionReceipt, address: Address) -> Vec<E> {
    receipt
        .logs()
        .iter()
        .filter(|log| log.address() == address)
        .filter_map(|log| log.log_decode::<E>().ok())
        .map(|log| log.inner.data)
        .collect()
}

/// The first event of type `E` that `address` emitted in `receipt`.
pub(crate) fn event<E: SolEvent>(receipt: &TransactionReceipt, address: Address) -> Result<E> {
    events(receipt, address)
        .into_iter()
        .next()
        .ok_or(Error::MissingEvent {
            event: E::SIGNATURE.split('(').next().unwrap_or(E::SIGNATURE),
            tx: receipt.transaction_hash,
        })
}
