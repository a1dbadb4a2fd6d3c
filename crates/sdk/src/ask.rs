//! Asks (creation, views, inputs and proofs from events, refunds, balances), task settlement, and the
//! Matching Engine's assignment calls and signatures.

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::Provider,
    rpc::types::Filter,
    signers::Signer,
    sol_types::{SolEvent, SolStruct},
};
use kalypso_contracts::marketplace::{IProofMarketplace, ProofMarketplace};
use kalypso_primitives::{SkipReason, eip712};

use crate::{
    AskInfo, AskParams, Error, Kalypso, MarketInfo, RelayOutcome, Result, SkippedAssignment,
    TxCall, TxSummary,
    client::view,
    error::Target,
    tx::{self, Gas},
    types::{AskId, MarketId, to_u64},
};

impl<P: Provider> Kalypso<P> {
    // -----------------------------------------------------------------------------------------------------
    // Asks
    // -----------------------------------------------------------------------------------------------------

    /// Creates an ask and returns its id. Checks the reward, the inputs and that the market exists before
    /// sending anything; when paying by transfer, approves the payment token for the reward plus the input fee
    /// if the allowance is short.
    pub async fn create_ask(&self, ask: AskParams) -> Result<(AskId, TxSummary)> {
        if ask.reward.is_zero() {
            return Err(Error::ZeroAmount("reward"));
        }
        if ask.inputs.is_empty() {
            return Err(Error::InvalidArgument {
                what: "inputs",
                reason: "the prover data is empty".into(),
            });
        }
        let market = self.market(ask.market).await?;
        if market.confidential && (ask.secret.is_empty() || ask.acl.is_empty()) {
            return Err(Error::InvalidArgument {
                what: "secret",
                reason: format!(
                    "market {} takes secret inputs: seal them first (Kalypso::seal_secret, `--secret-file`)",
                    ask.market
                ),
            });
        }
        if !market.confidential && (!ask.secret.is_empty() || !ask.acl.is_empty()) {
            return Err(Error::InvalidArgument {
                what: "secret",
                reason: format!(
                    "market {} is public: it takes no secret inputs (they would be posted for anyone to read \
                     if it did)",
                    ask.market
                ),
            });
        }
        let input_bytes = ask.inputs.len() + ask.secret.len() + ask.acl.len();
        let request = IProofMarketplace::AskRequest {
            marketId: U256::from(ask.market),
            reward: ask.reward,
            deadline: U256::from(ask.deadline),
            preference: ask.preference.into(),
            refundAddress: ask.refund_address.unwrap_or(self.sender()),
            proverData: ask.inputs,
            secret: ask.secret,
            acl: ask.acl,
        };
        let m = self.marketplace();
        let receipt = if ask.from_balance {
            self.send(
                m.createAskFromBalance(request),
                Target::Marketplace,
                "createAskFromBalance",
            )
            .await?
        } else {
            let fee = U256::from(self.params().await?.fee_per_input_byte) * U256::from(input_bytes);
            self.ensure_allowance(
                self.deployment().payment_token,
                self.deployment().marketplace,
                ask.reward.saturating_add(fee),
            )
            .await?;
            self.send(m.createAsk(request), Target::Marketplace, "createAsk")
                .await?
        };
        let created: ProofMarketplace::AskCreated =
            tx::event(&receipt, self.deployment().marketplace)?;
        Ok((to_u64(created.askId, "ask id")?, TxSummary::from(&receipt)))
    }

    /// Seals `secret` for a confidential ask of `ask.market` that this client's sender creates: encrypts it
    /// with AES-256-GCM under a fresh data key bound to the ask's context (chain, marketplace, market, sender —
    /// a ciphertext copied into another ask does not decrypt) and wraps the key to the Matching Engine's
    /// registered key (ECIES on secp256k1), the only key that can read it until the engine re-wraps it to the
    /// assigned generator's enclave. Sets `ask.secret` and `ask.acl`; returns the commitment to the secret that
    /// proofs and attestations bind to ([`kalypso_confidential::commitment`] of the ciphertext). The plaintext
    /// never leaves this process.
    pub async fn seal_secret(&self, ask: &mut AskParams, secret: &[u8]) -> Result<B256> {
        let market = self.market(ask.market).await?;
        if !market.confidential {
            return Err(Error::InvalidArgument {
                what: "secret",
                reason: format!("market {} is public: it takes no secret inputs", ask.market),
            });
        }
        let me = self
            .matching_engine_key()
            .await?
            .ok_or(Error::NoMatchingEngineKey)?;
        let context = self.ask_context(ask.market, self.sender(), &ask.inputs);
        let sealed = kalypso_confidential::seal(secret, &context, &me)?;
        let commitment = sealed.commitment();
        ask.secret = sealed.ciphertext.into();
        ask.acl = sealed.acl.into();
        Ok(commitment)
    }

    /// The context a secret of an ask by `requester` in `market` with public `inputs` is sealed for (the
    /// associated data of its ciphertext and of every acl of it) in this deployment.
    pub fn ask_context(
        &self,
        market: MarketId,
        requester: Address,
        inputs: &[u8],
    ) -> kalypso_confidential::Context {
        kalypso_confidential::Context {
            chain_id: self.deployment().chain_id,
            marketplace: self.deployment().marketplace,
            market_id: market,
            requester,
            inputs_hash: alloy::primitives::keccak256(inputs),
        }
    }

    /// What the generator's enclave needs to read a confidential ask assigned to it: the ask's context (who
    /// created it where), its ciphertext, and the acl of its latest assignment (the data key the Matching
    /// Engine re-wrapped to the assignee's enclave key). `None` for an ask without secret inputs. Two
    /// topic-filtered `eth_getLogs` (`AskCreated`, `TaskAssigned`); [`Error::AskNotFound`] without the first.
    pub async fn sealed_task(&self, id: AskId) -> Result<Option<crate::SealedTask>> {
        let created: ProofMarketplace::AskCreated =
            self.ask_event(id).await?.ok_or(Error::AskNotFound(id))?;
        if created.request.secret.is_empty() {
            return Ok(None);
        }
        let assigned: Option<ProofMarketplace::TaskAssigned> = self.ask_event(id).await?;
        let context = self.ask_context(
            created.request.marketId.saturating_to(),
            created.requester,
            &created.request.proverData,
        );
        Ok(Some(crate::SealedTask {
            context,
            ciphertext: created.request.secret,
            assignee: assigned.as_ref().map(|a| a.generator),
            acl: assigned.map(|a| a.acl).unwrap_or_default(),
        }))
    }

    /// The Matching Engine's registered public key (what confidential asks wrap their data keys to), or `None`
    /// when none is set.
    pub async fn matching_engine_key(&self) -> Result<Option<kalypso_confidential::PublicKey>> {
        let key = view(self.keys().matchingEngineKey(), Target::KeyRegistry).await?;
        if key.pubkey.is_empty() {
            return Ok(None);
        }
        Ok(Some(kalypso_confidential::PublicKey::from_bytes(
            &key.pubkey,
        )?))
    }

    /// The ask's record and its state as the contract reports it; [`Error::AskNotFound`] if there is none.
    pub async fn ask(&self, id: AskId) -> Result<AskInfo> {
        let m = self.marketplace();
        let state = view(m.askState(U256::from(id)), Target::Marketplace).await?;
        if state == 0 {
            return Err(Error::AskNotFound(id));
        }
        let record = view(m.askOf(U256::from(id)), Target::Marketplace).await?;
        AskInfo::from_abi(id, &record, state)
    }

    /// Staking-token compensation held for an ask from the slashes and discards of its earlier tasks: paid to
    /// its refund address when a proof completes the ask, to the treasury when it ends without one.
    pub async fn held_compensation(&self, id: AskId) -> Result<U256> {
        let m = self.marketplace();
        view(m.heldCompensation(U256::from(id)), Target::Marketplace).await
    }

    /// The commitment to a confidential ask's sealed secret that its proofs bind to (a TEE proof signs it), as
    /// the marketplace stored it; zero for an ask without secret inputs.
    pub async fn secret_commitment(&self, id: AskId) -> Result<B256> {
        let m = self.marketplace();
        view(m.secretCommitmentOf(U256::from(id)), Target::Marketplace).await
    }

    /// The whole request of an ask (inputs, secret, ACL, ...), from its `AskCreated` event: one `eth_getLogs`
    /// filtered on the indexed ask id.
    pub async fn ask_request(&self, id: AskId) -> Result<IProofMarketplace::AskRequest> {
        let created: ProofMarketplace::AskCreated =
            self.ask_event(id).await?.ok_or(Error::AskNotFound(id))?;
        Ok(created.request)
    }

    /// The prover data of an ask (see [`ask_request`](Self::ask_request)).
    pub async fn ask_inputs(&self, id: AskId) -> Result<Bytes> {
        Ok(self.ask_request(id).await?.proverData)
    }

    /// The accepted proof of an ask, from its `ProofSubmitted` event; `None` while it has none (or when it was
    /// settled by an invalid-input attestation).
    pub async fn ask_proof(&self, id: AskId) -> Result<Option<ProofMarketplace::ProofSubmitted>> {
        self.ask_event(id).await
    }

    /// Cancels an unassigned ask and credits its reward back (its refund address only).
    pub async fn cancel_ask(&self, id: AskId) -> Result<TxSummary> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.cancelAsk(U256::from(id)),
                Target::Marketplace,
                "cancelAsk",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Credits the reward of an unassigned ask past its deadline back to its refund address (anyone).
    pub async fn refund_expired(&self, id: AskId) -> Result<TxSummary> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.refundExpired(U256::from(id)),
                Target::Marketplace,
                "refundExpired",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Deposits `amount` of the payment token into `account`'s marketplace balance (to pay asks from it),
    /// approving the marketplace first if needed.
    pub async fn deposit(&self, account: Address, amount: U256) -> Result<TxSummary> {
        if amount.is_zero() {
            return Err(Error::ZeroAmount("deposit amount"));
        }
        self.ensure_allowance(
            self.deployment().payment_token,
            self.deployment().marketplace,
            amount,
        )
        .await?;
        let m = self.marketplace();
        let receipt = self
            .send(m.deposit(account, amount), Target::Marketplace, "deposit")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Withdraws `amount` of the sender's claimable payment-token balance to `to`.
    pub async fn withdraw(&self, to: Address, amount: U256) -> Result<TxSummary> {
        if amount.is_zero() {
            return Err(Error::ZeroAmount("withdrawal amount"));
        }
        let m = self.marketplace();
        let receipt = self
            .send(m.withdraw(to, amount), Target::Marketplace, "withdraw")
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Payment-token balance `account` can withdraw from the marketplace (earnings, refunds, deposits).
    pub async fn claimable(&self, account: Address) -> Result<U256> {
        let m = self.marketplace();
        view(m.claimable(account), Target::Marketplace).await
    }

    // -----------------------------------------------------------------------------------------------------
    // Tasks
    // -----------------------------------------------------------------------------------------------------

    /// Submits the proof of an assigned task (anyone may relay it). The gas limit is set explicitly (estimate
    /// plus margin), so a verifier cannot be starved of gas.
    pub async fn submit_proof(
        &self,
        ask_id: AskId,
        inputs: Bytes,
        proof: Bytes,
    ) -> Result<(ProofMarketplace::ProofSubmitted, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send_with_gas_margin(
                m.submitProof(U256::from(ask_id), inputs, proof),
                Target::Marketplace,
                "submitProof",
            )
            .await?;
        let submitted = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((submitted, TxSummary::from(&receipt)))
    }

    /// Settles an assigned task with an IVS key's signature that its inputs are invalid (see
    /// [`sign_invalid_input`](Self::sign_invalid_input)).
    pub async fn submit_invalid_input_attestation(
        &self,
        ask_id: AskId,
        signature: Bytes,
    ) -> Result<(ProofMarketplace::InvalidInputsSettled, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.submitInvalidInputAttestation(U256::from(ask_id), signature),
                Target::Marketplace,
                "submitInvalidInputAttestation",
            )
            .await?;
        let settled = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((settled, TxSummary::from(&receipt)))
    }

    /// [`submit_proof`](Self::submit_proof) as a [`TxCall`] for
    /// [`send_until_mined`](Self::send_until_mined) (re-sent with higher fees while it lingers). Estimates the
    /// gas now: a proof the marketplace would reject is its typed error here, before anything is sent.
    pub async fn prepare_submit_proof(
        &self,
        ask_id: AskId,
        inputs: Bytes,
        proof: Bytes,
    ) -> Result<TxCall> {
        let m = self.marketplace();
        self.prepare(
            m.submitProof(U256::from(ask_id), inputs, proof),
            self.deployment().marketplace,
            Target::Marketplace,
            Gas::WithMargin,
        )
        .await
    }

    /// [`submit_invalid_input_attestation`](Self::submit_invalid_input_attestation) as a [`TxCall`] (see
    /// [`prepare_submit_proof`](Self::prepare_submit_proof)).
    pub async fn prepare_invalid_input_attestation(
        &self,
        ask_id: AskId,
        signature: Bytes,
    ) -> Result<TxCall> {
        let m = self.marketplace();
        self.prepare(
            m.submitInvalidInputAttestation(U256::from(ask_id), signature),
            self.deployment().marketplace,
            Target::Marketplace,
            Gas::Estimate,
        )
        .await
    }

    /// Signs the EIP-712 `InvalidInput(marketId, askId, inputsHash)` attestation for this deployment; returns
    /// the 65-byte `r ‖ s ‖ v` signature the marketplace takes.
    pub async fn sign_invalid_input<S: Signer + Send + Sync + ?Sized>(
        &self,
        signer: &S,
        market: MarketId,
        ask_id: AskId,
        inputs_hash: B256,
    ) -> Result<Bytes> {
        let message = eip712::InvalidInput {
            marketId: U256::from(market),
            askId: U256::from(ask_id),
            inputsHash: inputs_hash,
        };
        let hash = message.eip712_signing_hash(&self.marketplace_domain());
        let signature = signer.sign_hash(&hash).await?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }

    /// The assigned generator gives its task up before the task deadline, paying the discard penalty; the ask
    /// re-opens if its own deadline allows.
    pub async fn discard(
        &self,
        ask_id: AskId,
    ) -> Result<(ProofMarketplace::TaskDiscarded, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.discard(U256::from(ask_id)),
                Target::Marketplace,
                "discard",
            )
            .await?;
        let discarded = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((discarded, TxSummary::from(&receipt)))
    }

    /// [`discard`](Self::discard) as a [`TxCall`] (see [`prepare_submit_proof`](Self::prepare_submit_proof)).
    pub async fn prepare_discard(&self, ask_id: AskId) -> Result<TxCall> {
        let m = self.marketplace();
        self.prepare(
            m.discard(U256::from(ask_id)),
            self.deployment().marketplace,
            Target::Marketplace,
            Gas::Estimate,
        )
        .await
    }

    /// Slashes a generator that missed its task deadline (anyone; the sender earns the keeper share). The ask
    /// re-opens if its own deadline allows, else its reward is refunded.
    pub async fn slash(&self, ask_id: AskId) -> Result<(ProofMarketplace::TaskSlashed, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send(m.slash(U256::from(ask_id)), Target::Marketplace, "slash")
            .await?;
        let slashed = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((slashed, TxSummary::from(&receipt)))
    }

    // -----------------------------------------------------------------------------------------------------
    // Fallback self-assignment
    // -----------------------------------------------------------------------------------------------------

    /// Assigns an ask to the sender (a generator) at its own quote, without the Matching Engine: allowed for
    /// an ask of a public market left unassigned for the market's fallback delay since it was created or last
    /// re-opened (see [`fallback_opens_at`](Self::fallback_opens_at)). The gas is estimated first, so an ask
    /// that cannot be taken is the marketplace's `AskNotAssignable` error (its
    /// [`skip_reason`](crate::ContractError::skip_reason) says which rule failed) before anything is sent.
    pub async fn self_assign(
        &self,
        ask_id: AskId,
    ) -> Result<(ProofMarketplace::TaskAssigned, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.selfAssign(U256::from(ask_id)),
                Target::Marketplace,
                "selfAssign",
            )
            .await?;
        let assigned = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((assigned, TxSummary::from(&receipt)))
    }

    /// [`self_assign`](Self::self_assign) as a [`TxCall`] for [`send_until_mined`](Self::send_until_mined)
    /// (see [`prepare_submit_proof`](Self::prepare_submit_proof)): an ask the sender cannot take is the typed
    /// `AskNotAssignable` error here, before a nonce is taken.
    pub async fn prepare_self_assign(&self, ask_id: AskId) -> Result<TxCall> {
        let m = self.marketplace();
        self.prepare(
            m.selfAssign(U256::from(ask_id)),
            self.deployment().marketplace,
            Target::Marketplace,
            Gas::Estimate,
        )
        .await
    }

    /// When fallback self-assignment of the ask opens (unix seconds, chain time): the time it was created or
    /// last re-opened plus its market's fallback delay. `None` when its market has no fallback (confidential,
    /// or a zero delay). Meaningful while the ask is open; [`Error::AskNotFound`] if there is none.
    pub async fn fallback_opens_at(&self, ask_id: AskId) -> Result<Option<u64>> {
        let ask = self.ask(ask_id).await?;
        let market = self.market(ask.market).await?;
        Ok(fallback_opens_at(&market, ask.opened_at))
    }

    // -----------------------------------------------------------------------------------------------------
    // Matching Engine
    // -----------------------------------------------------------------------------------------------------

    /// Assigns one ask directly; the sender must be the Matching Engine key. Reverts with `AskNotAssignable`
    /// (and its reason) when the generator is not eligible.
    pub async fn assign_task(
        &self,
        assignment: &eip712::Assignment,
    ) -> Result<(ProofMarketplace::TaskAssigned, TxSummary)> {
        let m = self.marketplace();
        let receipt = self
            .send(
                m.assignTask(to_abi(assignment)),
                Target::Marketplace,
                "assignTask",
            )
            .await?;
        let assigned = tx::event(&receipt, self.deployment().marketplace)?;
        Ok((assigned, TxSummary::from(&receipt)))
    }

    /// Relays a batch signed by the Matching Engine key (see [`sign_assign_batch`](Self::sign_assign_batch));
    /// anyone may send it. Not atomic: returns which items were assigned and which skipped, and why.
    pub async fn relay_assignments(
        &self,
        assignments: &[eip712::Assignment],
        nonce: U256,
        expiry: u64,
        signature: Bytes,
    ) -> Result<(RelayOutcome, TxSummary)> {
        let m = self.marketplace();
        let items = assignments.iter().map(to_abi).collect();
        let receipt = self
            .send(
                m.relayAssignments(items, nonce, U256::from(expiry), signature),
                Target::Marketplace,
                "relayAssignments",
            )
            .await?;
        let marketplace = self.deployment().marketplace;
        let skipped = tx::events::<ProofMarketplace::AssignmentSkipped>(&receipt, marketplace)
            .into_iter()
            .map(|s| {
                Ok(SkippedAssignment {
                    ask_id: to_u64(s.askId, "ask id")?,
                    generator: s.generator,
                    reason: SkipReason::try_from(s.reason).map_err(|e| Error::Decode {
                        what: "skip reason",
                        reason: e.to_string(),
                    })?,
                })
            })
            .collect::<Result<_>>()?;
        let outcome = RelayOutcome {
            assigned: tx::events(&receipt, marketplace),
            skipped,
        };
        Ok((outcome, TxSummary::from(&receipt)))
    }

    /// Signs an EIP-712 `AssignBatch` for this deployment with the Matching Engine key; returns the 65-byte
    /// `r ‖ s ‖ v` signature [`relay_assignments`](Self::relay_assignments) takes. Nonces are unordered (any
    /// unused value works); `expiry` is a unix time.
    pub async fn sign_assign_batch<S: Signer + Send + Sync + ?Sized>(
        &self,
        signer: &S,
        assignments: &[eip712::Assignment],
        nonce: U256,
        expiry: u64,
    ) -> Result<Bytes> {
        let batch = eip712::AssignBatch {
            assignments: assignments.to_vec(),
            nonce,
            expiry: U256::from(expiry),
        };
        let hash = batch.eip712_signing_hash(&self.marketplace_domain());
        let signature = signer.sign_hash(&hash).await?;
        Ok(Bytes::copy_from_slice(&signature.as_bytes()))
    }

    // -----------------------------------------------------------------------------------------------------
    // Internal
    // -----------------------------------------------------------------------------------------------------

    /// The marketplace event `E` whose first indexed topic is `id` (an ask id, or a market id for market
    /// events): one topic-filtered `eth_getLogs` from the deployment block on (the filter selects the log;
    /// nothing is scanned block by block).
    pub(crate) async fn ask_event<E: SolEvent>(&self, id: u64) -> Result<Option<E>> {
        let filter = Filter::new()
            .address(self.deployment().marketplace)
            .event_signature(E::SIGNATURE_HASH)
            .topic1(B256::from(U256::from(id)))
            .from_block(self.deployment().deploy_block)
            .to_block(BlockNumberOrTag::Latest);
        let logs = self.provider().get_logs(&filter).await?;
        match logs.last() {
            None => Ok(None),
            Some(log) => {
                let decoded = log.log_decode::<E>().map_err(|e| Error::Decode {
                    what: "marketplace event",
                    reason: e.to_string(),
                })?;
                Ok(Some(decoded.inner.data))
            }
        }
    }
}

/// When fallback self-assignment opens for an ask of `market` opened (created or re-opened) at `opened_at`;
/// `None` when the market has no fallback: confidential (only the Matching Engine can hand a generator the
/// secret's key), or a zero delay.
pub fn fallback_opens_at(market: &MarketInfo, opened_at: u64) -> Option<u64> {
    (!market.confidential && market.fallback_delay > 0)
        .then(|| opened_at.saturating_add(market.fallback_delay))
}

/// The ABI struct of an assignment (same fields as the EIP-712 message).
fn to_abi(a: &eip712::Assignment) -> IProofMarketplace::Assignment {
    IProofMarketplace::Assignment {
        askId: a.askId,
        generator: a.generator,
        maxPrice: a.maxPrice,
        maxProofTime: a.maxProofTime,
        acl: a.acl.clone(),
    }
}
