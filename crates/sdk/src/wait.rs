//! Following an ask to its end: the requester's side of the lifecycle (created → assigned → proven, or
//! refunded, or settled by an invalid-input attestation).

use std::time::Duration;

use alloy::providers::Provider;
use kalypso_contracts::marketplace::ProofMarketplace;
use kalypso_primitives::AskState;
use tracing::{debug, warn};

use crate::{AskInfo, Error, Kalypso, Result, types::AskId};

/// How an ask ended.
#[derive(Debug, Clone)]
pub enum AskOutcome {
    /// A proof was accepted: its `ProofSubmitted` event (generator, price, refund, proof bytes).
    Completed(ProofMarketplace::ProofSubmitted),
    /// An IVS key attested that no proof of the ask's inputs can exist: its `InvalidInputsSettled` event. The
    /// generator is paid its price as for a proof.
    InvalidInputs(ProofMarketplace::InvalidInputsSettled),
    /// The ask ended without a proof and its reward was credited to its refund address (cancelled, refunded
    /// after its deadline, or slashed with no time left): its `AskRefunded` event (`None` if the node no longer
    /// serves that log).
    Refunded(Option<ProofMarketplace::AskRefunded>),
    /// The ask's deadline passed while it was unassigned: no generator can take it any more and its reward is
    /// refundable ([`Kalypso::refund_expired`], anyone) but not refunded yet.
    Expired,
}

impl AskOutcome {
    /// A short name: `completed`, `invalid-inputs`, `refunded`, `expired`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Completed(_) => "completed",
            Self::InvalidInputs(_) => "invalid-inputs",
            Self::Refunded(_) => "refunded",
            Self::Expired => "expired",
        }
    }
}

impl<P: Provider> Kalypso<P> {
    /// How the ask ended, or `None` while it can still be proven (open or assigned; also for an instant after it
    /// completed, until the node serves the settling log). [`Error::AskNotFound`]
    /// if there is no such ask.
    ///
    /// [`Error::AskNotFound`]: crate::Error::AskNotFound
    pub async fn ask_outcome(&self, id: AskId) -> Result<Option<AskOutcome>> {
        let info = self.ask(id).await?;
        self.outcome_of(&info).await
    }

    /// Follows an ask until it ends and returns how: polls its state every `poll` and calls `on_update` with
    /// the ask once at the start and again whenever its state, generator or re-open count changes (for progress
    /// output). Completed asks come back with their proof. A node that cannot be reached (or drops a request)
    /// is logged and asked again at the next poll, so a long wait survives a node restart; any other error ends
    /// the wait. Waits as long as the ask can still end: bound it with a timeout (`tokio::time::timeout`) if the
    /// caller must give up.
    pub async fn wait_for_ask(
        &self,
        id: AskId,
        poll: Duration,
        mut on_update: impl FnMut(&AskInfo) + Send,
    ) -> Result<AskOutcome> {
        let mut last: Option<(AskState, Option<alloy::primitives::Address>, u8)> = None;
        loop {
            match self.poll_ask(id, &mut last, &mut on_update).await {
                Ok(Some(outcome)) => return Ok(outcome),
                Ok(None) => {}
                Err(e) if is_transport(&e) => {
                    warn!(target: "kalypso::sdk::wait", ask_id = id, error = %e, "cannot read the ask; retrying");
                }
                Err(e) => return Err(e),
            }
            tokio::time::sleep(poll).await;
        }
    }

    /// One look at the ask: reports a change to `on_update` and returns the outcome once it has ended.
    async fn poll_ask(
        &self,
        id: AskId,
        last: &mut Option<(AskState, Option<alloy::primitives::Address>, u8)>,
        on_update: &mut (impl FnMut(&AskInfo) + Send),
    ) -> Result<Option<AskOutcome>> {
        let info = self.ask(id).await?;
        let key = (info.state, info.task.map(|t| t.generator), info.reopens);
        if *last != Some(key) {
            debug!(target: "kalypso::sdk::wait", ask_id = id, state = %info.state, "ask changed");
            on_update(&info);
            *last = Some(key);
        }
        self.outcome_of(&info).await
    }

    /// The outcome of an ask in the state `info`, reading the settling event.
    async fn outcome_of(&self, info: &AskInfo) -> Result<Option<AskOutcome>> {
        Ok(match info.state {
            AskState::Completed => match self.ask_proof(info.id).await? {
                Some(proof) => Some(AskOutcome::Completed(proof)),
                // Settled by an attestation; `None` when the state was read at a newer block than the node's
                // logs have indexed: the next poll looks again.
                None => self
                    .ask_event::<ProofMarketplace::InvalidInputsSettled>(info.id)
                    .await?
                    .map(AskOutcome::InvalidInputs),
            },
            AskState::Refunded => Some(AskOutcome::Refunded(
                self.ask_event::<ProofMarketplace::AskRefunded>(info.id)
                    .await?,
            )),
            AskState::Expired => Some(AskOutcome::Expired),
            AskState::None | AskState::Created | AskState::Assigned => None,
        })
    }
}

/// Whether `e` is the node failing to answer (connection refused or dropped, a timeout), not an answer.
fn is_transport(e: &Error) -> bool {
    matches!(
        e,
        Error::Rpc(_) | Error::Contract(alloy::contract::Error::TransportError(_))
    )
}
