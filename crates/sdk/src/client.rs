//! The client: a provider, a deployment and the address that sends transactions.

use alloy::{
    contract::{CallBuilder, CallDecoder},
    eips::BlockNumberOrTag,
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, fillers::CachedNonceManager},
    rpc::types::TransactionReceipt,
    signers::Signer,
    sol_types::{Eip712Domain, SolEvent, SolStruct},
};
use kalypso_contracts::{
    AttestationVerifier, EntityKeyRegistry, GeneratorRegistry, ProofMarketplace, TestToken,
    generator_registry::GeneratorRegistry::GeneratorRegistryInstance,
    key_registry::EntityKeyRegistry::EntityKeyRegistryInstance,
    marketplace::ProofMarketplace::ProofMarketplaceInstance,
    test_token::TestToken::TestTokenInstance,
};
use kalypso_primitives::eip712;
use std::time::Duration;
use tracing::debug;

use crate::{
    Deployment, Error, ProtocolParams, Result, SignedAttestation, TxSummary,
    error::{Target, from_contract},
    tx::{self, DEFAULT_RECEIPT_TIMEOUT, Gas},
    types::MarketId,
};

/// Blocks per `eth_getLogs` request when paging through events (many RPC providers cap the range).
pub const DEFAULT_LOG_PAGE_BLOCKS: u64 = 5_000;

/// A typed client of the protocol on one chain.
///
/// It holds the provider (built outside, with the wallet that signs for `sender` and one nonce manager per
/// account), the [`Deployment`] and the address transactions are sent from. Every transaction method waits for
/// the receipt and returns a [`TxSummary`]; a revert becomes [`Error::Reverted`] with the contract's decoded
/// error. Views read the latest block.
#[derive(Debug, Clone)]
pub struct Kalypso<P> {
    provider: P,
    deployment: Deployment,
    sender: Address,
    log_page_blocks: u64,
    receipt_timeout: Option<Duration>,
    nonces: CachedNonceManager,
}

impl<P: Provider> Kalypso<P> {
    /// A client sending from `sender` (the provider's wallet must sign for it). Makes no RPC call; see
    /// [`connect`](Self::connect) for a checked construction.
    pub fn new(provider: P, deployment: Deployment, sender: Address) -> Self {
        Self {
            provider,
            deployment,
            sender,
            log_page_blocks: DEFAULT_LOG_PAGE_BLOCKS,
            receipt_timeout: Some(DEFAULT_RECEIPT_TIMEOUT),
            nonces: CachedNonceManager::default(),
        }
    }

    /// Like [`new`](Self::new), but first checks that the provider is on the deployment's chain and that the
    /// marketplace and registries have code there.
    pub async fn connect(provider: P, deployment: Deployment, sender: Address) -> Result<Self> {
        let actual = provider.get_chain_id().await?;
        if actual != deployment.chain_id {
            return Err(Error::ChainMismatch {
                expected: deployment.chain_id,
                actual,
            });
        }
        for (contract, address) in [
            ("ProofMarketplace", deployment.marketplace),
            ("GeneratorRegistry", deployment.generator_registry),
            ("EntityKeyRegistry", deployment.key_registry),
        ] {
            if provider.get_code_at(address).await?.is_empty() {
                return Err(Error::NoCode { contract, address });
            }
        }
        Ok(Self::new(provider, deployment, sender))
    }

    /// The same client sending from another address (the provider's wallet must sign for it too).
    pub fn with_sender(mut self, sender: Address) -> Self {
        self.sender = sender;
        self
    }

    /// Sets how many blocks one `eth_getLogs` request of [`events`](Self::events) covers (at least 1).
    pub fn with_log_page_blocks(mut self, blocks: u64) -> Self {
        self.log_page_blocks = blocks.max(1);
        self
    }

    /// Sets how long transaction methods wait for a receipt (`None`: forever); default
    /// [`DEFAULT_RECEIPT_TIMEOUT`].
    pub fn with_receipt_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.receipt_timeout = timeout;
        self
    }

    /// Sets the nonce manager [`send_pending`](Self::send_pending) takes nonces from. Give the provider's nonce
    /// filler the same one (`ProviderBuilder::with_nonce_management(manager.clone())`; clones share their
    /// counts): then every transaction of the sender draws from one sequence, whichever method sent it.
    /// Default: a manager of this client's own (and of its clones).
    pub fn with_nonce_manager(mut self, nonces: CachedNonceManager) -> Self {
        self.nonces = nonces;
        self
    }

    /// The nonce manager of [`send_pending`](Self::send_pending).
    pub fn nonce_manager(&self) -> &CachedNonceManager {
        &self.nonces
    }

    /// The first event of type `E` the marketplace emitted in `receipt` (e.g. the `ProofSubmitted` of a
    /// transaction sent with [`send_until_mined`](Self::send_until_mined)).
    pub fn marketplace_event<E: SolEvent>(&self, receipt: &TransactionReceipt) -> Result<E> {
        tx::event(receipt, self.deployment.marketplace)
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The address transactions are sent from.
    pub fn sender(&self) -> Address {
        self.sender
    }

    /// Blocks per `eth_getLogs` request of [`events`](Self::events).
    pub fn log_page_blocks(&self) -> u64 {
        self.log_page_blocks
    }

    /// The EIP-712 domain of the marketplace's signed messages on this deployment.
    pub fn marketplace_domain(&self) -> Eip712Domain {
        eip712::marketplace_domain(self.deployment.chain_id, self.deployment.marketplace)
    }

    /// Timestamp of the latest block: the clock deadlines are measured against.
    pub async fn block_timestamp(&self) -> Result<u64> {
        latest_timestamp(&self.provider).await
    }

    /// The marketplace's protocol parameters.
    pub async fn params(&self) -> Result<ProtocolParams> {
        let m = self.marketplace();
        Ok(view(m.params(), Target::Marketplace).await?.into())
    }

    // -----------------------------------------------------------------------------------------------------
    // Keys
    // -----------------------------------------------------------------------------------------------------

    /// Sets the Matching Engine's 64-byte public key (`x ‖ y`); the sender needs `KEY_ADMIN_ROLE` and no ME
    /// image may be configured.
    pub async fn set_matching_engine_key(&self, pubkey: Bytes) -> Result<TxSummary> {
        let keys = self.keys();
        let receipt = self
            .send(
                keys.setMatchingEngineKey(pubkey),
                Target::KeyRegistry,
                "setMatchingEngineKey",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Adds an IVS signer's 64-byte public key to a market without an IVS image (market creator only).
    pub async fn add_ivs_signer(&self, market: MarketId, pubkey: Bytes) -> Result<TxSummary> {
        let keys = self.keys();
        let receipt = self
            .send(
                keys.addIvsSigner(U256::from(market), pubkey),
                Target::KeyRegistry,
                "addIvsSigner",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Sets the Matching Engine key of an enclave attested for the configured ME image: `attestation` is the
    /// attestation-verifier service's (the key is its `enclave_pubkey`). The sender needs `KEY_ADMIN_ROLE`; the
    /// attestation must be newer than the current (or last removed) ME key's (else the registry reverts with
    /// `StaleAttestation`). Checked first: an ME image is configured ([`Error::NoEnclaveImage`]) and the
    /// attestation names it ([`Error::WrongEnclaveImage`]; on-chain such a signature would only recover to an
    /// untrusted signer).
    pub async fn set_matching_engine_key_with_attestation(
        &self,
        attestation: &SignedAttestation,
    ) -> Result<TxSummary> {
        let required = self.matching_engine_image().await?;
        check_image("the Matching Engine".into(), attestation.image_id, required)?;
        let keys = self.keys();
        let receipt = self
            .send(
                keys.setMatchingEngineKeyWithAttestation(
                    attestation.enclave_pubkey.clone(),
                    attestation.timestamp_ms,
                    attestation.signature.clone(),
                ),
                Target::KeyRegistry,
                "setMatchingEngineKeyWithAttestation",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Adds the key of an IVS enclave attested for `market`'s IVS image (`attestation.enclave_pubkey`); anyone
    /// may send it. Checked first: the market exists and has an IVS image ([`Error::NoEnclaveImage`]) that the
    /// attestation names ([`Error::WrongEnclaveImage`]). A key the market creator removed stays out
    /// (`IvsSignerRevoked`).
    pub async fn add_ivs_signer_with_attestation(
        &self,
        market: MarketId,
        attestation: &SignedAttestation,
    ) -> Result<TxSummary> {
        let required = self.market(market).await?.ivs_image_id;
        check_image(
            format!("the IVS of market {market}"),
            attestation.image_id,
            required,
        )?;
        let keys = self.keys();
        let receipt = self
            .send(
                keys.addIvsSignerWithAttestation(
                    U256::from(market),
                    attestation.enclave_pubkey.clone(),
                    attestation.timestamp_ms,
                    attestation.signature.clone(),
                ),
                Target::KeyRegistry,
                "addIvsSignerWithAttestation",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// The image the Matching Engine's enclave must run (zero: the key admin sets the key directly).
    pub async fn matching_engine_image(&self) -> Result<B256> {
        let keys = self.keys();
        view(keys.matchingEngineImage(), Target::KeyRegistry).await
    }

    /// Time (Unix ms) of the newest accepted ME attestation: a new attested ME key needs a later one.
    pub async fn matching_engine_attested_at(&self) -> Result<u64> {
        let keys = self.keys();
        view(keys.matchingEngineAttestedAt(), Target::KeyRegistry).await
    }

    /// The `AttestationVerifier` the key registry checks attestations with: the deployment's, unless
    /// governance replaced it (`setAttestationVerifier`); attestations must be signed for this one's domain.
    pub async fn registry_attestation_verifier(&self) -> Result<Address> {
        let keys = self.keys();
        view(keys.attestationVerifier(), Target::KeyRegistry).await
    }

    /// Whether the `AttestationVerifier` trusts `signer`'s attestations (an attestation-verifier service's key).
    pub async fn is_trusted_attestation_signer(&self, signer: Address) -> Result<bool> {
        let verifier = self.attestation_verifier();
        view(
            verifier.isTrustedSigner(signer),
            Target::AttestationVerifier,
        )
        .await
    }

    /// Trusts `signer`'s attestations (an attestation-verifier service's key) in the `AttestationVerifier`. Its
    /// admin only: in a production deployment the admin is a timelock, so this is a governance proposal's call;
    /// devnets and tests send it directly.
    pub async fn add_trusted_attestation_signer(&self, signer: Address) -> Result<TxSummary> {
        let verifier = self.attestation_verifier();
        let receipt = self
            .send(
                verifier.addTrustedSigner(signer),
                Target::AttestationVerifier,
                "addTrustedSigner",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// The oldest attestation the `AttestationVerifier` accepts, in milliseconds before the block's time.
    pub async fn max_attestation_age_ms(&self) -> Result<u64> {
        let verifier = self.attestation_verifier();
        view(verifier.maxAttestationAgeMs(), Target::AttestationVerifier).await
    }

    /// Whether `signer` may sign invalid-input attestations for `market` (an IVS key of the market).
    pub async fn is_ivs_signer(&self, market: MarketId, signer: Address) -> Result<bool> {
        let keys = self.keys();
        view(
            keys.isIvsSigner(U256::from(market), signer),
            Target::KeyRegistry,
        )
        .await
    }

    /// Registers (or rotates) the sender's encryption key for a public market, without attestation.
    pub async fn register_generator_key(
        &self,
        market: MarketId,
        pubkey: Bytes,
    ) -> Result<TxSummary> {
        let keys = self.keys();
        let receipt = self
            .send(
                keys.registerGeneratorKey(U256::from(market), pubkey),
                Target::KeyRegistry,
                "registerGeneratorKey",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Registers (or rotates) the sender's enclave key for a confidential market. `attestation` is a trusted
    /// attestation signer's EIP-712 verdict that the key lives in an enclave running one of the market's prover
    /// images (what the attestation-verifier service signs after checking a Nitro document);
    /// `enclave_signature` is the enclave key's own signature of
    /// [`generator_key_registration_digest`](Self::generator_key_registration_digest) for the sender and
    /// `market`, without which anyone could register a copy of the attested key as theirs.
    pub async fn register_generator_key_with_attestation(
        &self,
        market: MarketId,
        attestation: &SignedAttestation,
        enclave_signature: Bytes,
    ) -> Result<TxSummary> {
        let keys = self.keys();
        let receipt = self
            .send(
                keys.registerGeneratorKeyWithAttestation(
                    U256::from(market),
                    attestation.enclave_pubkey.clone(),
                    attestation.image_id,
                    attestation.timestamp_ms,
                    attestation.signature.clone(),
                    enclave_signature,
                ),
                Target::KeyRegistry,
                "registerGeneratorKeyWithAttestation",
            )
            .await?;
        Ok(TxSummary::from(&receipt))
    }

    /// Registers `enclave`'s key as the sender's enclave key for `market` with `attestation`: signs the
    /// registration consent with the enclave key ([`generator_key_registration_digest`](
    /// Self::generator_key_registration_digest)) and sends
    /// [`register_generator_key_with_attestation`](Self::register_generator_key_with_attestation). In
    /// production the consent is signed inside the enclave, which never lets its key out.
    pub async fn register_enclave_key<S: Signer + Send + Sync + ?Sized>(
        &self,
        market: MarketId,
        attestation: &SignedAttestation,
        enclave: &S,
    ) -> Result<TxSummary> {
        let digest = self.generator_key_registration_digest(self.sender, market);
        let consent = enclave.sign_hash(&digest).await?;
        self.register_generator_key_with_attestation(
            market,
            attestation,
            Bytes::from(consent.as_bytes().to_vec()),
        )
        .await
    }

    /// INSECURE, for devnets and tests: an `EnclaveAttestation` of `enclave_pubkey` running `image_id`,
    /// signed by `attester` at the chain's current time, standing in for the attestation-verifier service
    /// (which signs only after verifying a real Nitro attestation document). Only a deployment that trusts
    /// `attester` accepts it.
    pub async fn insecure_dev_attestation<S: Signer + Send + Sync + ?Sized>(
        &self,
        attester: &S,
        enclave_pubkey: Bytes,
        image_id: B256,
    ) -> Result<SignedAttestation> {
        let timestamp_ms = self.block_timestamp().await?.saturating_mul(1000);
        let digest = self.attestation_digest(enclave_pubkey.clone(), image_id, timestamp_ms);
        let signature = attester.sign_hash(&digest).await?;
        Ok(SignedAttestation {
            enclave_pubkey,
            image_id,
            timestamp_ms,
            signature: Bytes::from(signature.as_bytes().to_vec()),
        })
    }

    /// The EIP-712 digest an enclave key signs to be registered as `generator`'s key for `market` (domain
    /// "Kalypso EntityKeyRegistry" of this deployment).
    pub fn generator_key_registration_digest(&self, generator: Address, market: MarketId) -> B256 {
        eip712::GeneratorKeyRegistration {
            generator,
            marketId: U256::from(market),
        }
        .eip712_signing_hash(&eip712::key_registry_domain(
            self.deployment.chain_id,
            self.deployment.key_registry,
        ))
    }

    /// The EIP-712 digest a trusted attestation signer signs for an enclave key, its image and the document's
    /// time (domain "Kalypso AttestationVerifier" of this deployment).
    pub fn attestation_digest(
        &self,
        enclave_pubkey: Bytes,
        image_id: B256,
        timestamp_ms: u64,
    ) -> B256 {
        eip712::EnclaveAttestation {
            enclavePubKey: enclave_pubkey,
            imageId: image_id,
            timestampMs: timestamp_ms,
        }
        .eip712_signing_hash(&eip712::attestation_domain(
            self.deployment.chain_id,
            self.deployment.attestation_verifier,
        ))
    }

    /// The address whose signatures authorise assignments (zero when no Matching Engine key is set).
    pub async fn matching_engine(&self) -> Result<Address> {
        let keys = self.keys();
        view(keys.matchingEngine(), Target::KeyRegistry).await
    }

    /// The enclave key `generator` registered for `market` (what the Matching Engine re-wraps confidential
    /// asks' data keys to), or `None`.
    pub async fn generator_key(
        &self,
        market: MarketId,
        generator: Address,
    ) -> Result<Option<kalypso_confidential::PublicKey>> {
        let keys = self.keys();
        let key = view(
            keys.generatorKey(U256::from(market), generator),
            Target::KeyRegistry,
        )
        .await?;
        if key.is_empty() {
            return Ok(None);
        }
        Ok(Some(kalypso_confidential::PublicKey::from_bytes(&key)?))
    }

    // -----------------------------------------------------------------------------------------------------
    // Internal
    // -----------------------------------------------------------------------------------------------------

    pub(crate) fn marketplace(&self) -> ProofMarketplaceInstance<&P> {
        ProofMarketplace::new(self.deployment.marketplace, &self.provider)
    }

    pub(crate) fn registry(&self) -> GeneratorRegistryInstance<&P> {
        GeneratorRegistry::new(self.deployment.generator_registry, &self.provider)
    }

    pub(crate) fn keys(&self) -> EntityKeyRegistryInstance<&P> {
        EntityKeyRegistry::new(self.deployment.key_registry, &self.provider)
    }

    pub(crate) fn attestation_verifier(
        &self,
    ) -> AttestationVerifier::AttestationVerifierInstance<&P> {
        AttestationVerifier::new(self.deployment.attestation_verifier, &self.provider)
    }

    /// Sends a transaction from the sender; the provider estimates its gas.
    pub(crate) async fn send<Q: Provider, D: CallDecoder>(
        &self,
        call: CallBuilder<Q, D>,
        target: Target,
        what: &'static str,
    ) -> Result<TransactionReceipt> {
        tx::send(
            call,
            self.sender,
            target,
            what,
            Gas::Estimate,
            self.receipt_timeout,
        )
        .await
    }

    /// Sends a transaction from the sender with an explicit gas limit (estimate plus margin).
    pub(crate) async fn send_with_gas_margin<Q: Provider, D: CallDecoder>(
        &self,
        call: CallBuilder<Q, D>,
        target: Target,
        what: &'static str,
    ) -> Result<TransactionReceipt> {
        tx::send(
            call,
            self.sender,
            target,
            what,
            Gas::WithMargin,
            self.receipt_timeout,
        )
        .await
    }

    /// Approves `spender` to pull `amount` of `token` from the sender unless the allowance already covers it.
    pub(crate) async fn ensure_allowance(
        &self,
        token: Address,
        spender: Address,
        amount: U256,
    ) -> Result<Option<TxSummary>> {
        let erc20: TestTokenInstance<&P> = TestToken::new(token, &self.provider);
        let allowance = view(erc20.allowance(self.sender, spender), Target::Token).await?;
        if allowance >= amount {
            return Ok(None);
        }
        debug!(target: "kalypso::sdk", %token, %spender, %amount, %allowance, "approving");
        let receipt = self
            .send(erc20.approve(spender, amount), Target::Token, "approve")
            .await?;
        Ok(Some(TxSummary::from(&receipt)))
    }
}

/// `Ok` when `attested` is the image `role` must run (`required`, zero when it has none).
fn check_image(role: String, attested: B256, required: B256) -> Result<()> {
    if required.is_zero() {
        return Err(Error::NoEnclaveImage { role });
    }
    if attested != required {
        return Err(Error::WrongEnclaveImage {
            role,
            attested,
            required,
        });
    }
    Ok(())
}

/// Runs a view call against the latest block, decoding a revert with `target`'s ABI.
pub(crate) async fn view<Q: Provider, D: CallDecoder>(
    call: CallBuilder<Q, D>,
    target: Target,
) -> Result<D::CallOutput> {
    call.call().await.map_err(|e| from_contract(e, target))
}

/// The timestamp of `provider`'s latest block.
pub(crate) async fn latest_timestamp<P: Provider>(provider: &P) -> Result<u64> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or(Error::Decode {
            what: "latest block",
            reason: "the node returned no block".into(),
        })?;
    Ok(block.header.timestamp)
}
