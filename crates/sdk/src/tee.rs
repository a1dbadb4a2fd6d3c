//! TEE markets: a `TeeVerifier` accepts a proof when an enclave key attested for its image signed the ask (inputs
//! and secret commitment), the output and the generator (`TeeProof`, EIP-712 under the verifier's own domain).

use alloy::{
    primitives::{Address, B256, Bytes, keccak256},
    providers::Provider,
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{SolStruct, SolValue},
};
use kalypso_contracts::{TeeVerifier, VerifierFactory};
use kalypso_primitives::eip712;

use crate::{Error, Kalypso, Result, TxSummary, client::view, error::Target, tx};

/// What kind of verifier a market has, as the protocol's verifier factory recorded it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum VerifierKind {
    /// A `Groth16Verifier`: proofs are Groth16 proofs checked on-chain.
    Groth16,
    /// A `TeeVerifier`: proofs are signatures of an enclave key attested for `image_id`.
    Tee {
        /// The enclave image whose keys may sign proofs.
        image_id: B256,
    },
}

/// The `TeeProof` an enclave signs for `verifier`: the ask (`inputs` and its `secret_commitment`, zero for an
/// ask without secret), the `output` and the `generator` the ask is assigned to. Returns the proof bytes the
/// marketplace takes, `abi.encode(output, signature)`.
///
/// In production `enclave` is the key an attested enclave holds and never lets out; this runs inside it.
pub fn tee_proof(
    enclave: &impl SignerSync,
    chain_id: u64,
    verifier: Address,
    inputs: &[u8],
    secret_commitment: B256,
    output: &[u8],
    generator: Address,
) -> Result<Bytes> {
    let digest = tee_proof_digest(
        chain_id,
        verifier,
        inputs,
        secret_commitment,
        output,
        generator,
    );
    let signature = enclave.sign_hash_sync(&digest)?;
    Ok((
        Bytes::copy_from_slice(output),
        Bytes::from(signature.as_bytes().to_vec()),
    )
        .abi_encode_params()
        .into())
}

/// The EIP-712 digest of a `TeeProof` for `verifier` (what [`tee_proof`] signs and the verifier recovers).
pub fn tee_proof_digest(
    chain_id: u64,
    verifier: Address,
    inputs: &[u8],
    secret_commitment: B256,
    output: &[u8],
    generator: Address,
) -> B256 {
    eip712::TeeProof {
        inputsHash: keccak256(inputs),
        secretCommitment: secret_commitment,
        outputHash: keccak256(output),
        generator,
    }
    .eip712_signing_hash(&eip712::tee_domain(chain_id, verifier))
}

impl<P: Provider> Kalypso<P> {
    /// The kind of `verifier` according to the protocol's verifier factory; `None` if the factory did not deploy
    /// it (no market can use it). A `TeeVerifier` of the factory trusts the deployment's key registry.
    pub async fn verifier_kind(&self, verifier: Address) -> Result<Option<VerifierKind>> {
        let factory = self.verifier_factory().await?;
        let kind = view(factory.kindOf(verifier), Target::VerifierFactory).await?;
        Ok(match kind {
            1 => Some(VerifierKind::Groth16),
            2 => {
                let tee = TeeVerifier::new(verifier, self.provider());
                let image_id = view(tee.imageId(), Target::TeeVerifier).await?;
                Some(VerifierKind::Tee { image_id })
            }
            _ => None,
        })
    }

    /// Deploys a `TeeVerifier` for enclaves running `image_id` (keys the protocol's key registry attested) through
    /// the protocol's verifier factory, with
    /// `sample_input` and `sample_output` as its sample statement (e.g. a circuit package's sample inputs and
    /// proof). The sample is signed by a throwaway key for the verifier's future address (`nextVerifier`); the
    /// verifier accepts only registry-attested enclave keys afterwards, so that key gets no power. Fails with
    /// `InvalidSampleProof` if another deployment through the factory lands first: retry.
    pub async fn deploy_tee_verifier(
        &self,
        image_id: B256,
        sample_input: Bytes,
        sample_output: Bytes,
    ) -> Result<(Address, TxSummary)> {
        if image_id.is_zero() {
            return Err(Error::InvalidArgument {
                what: "image id",
                reason: "a TEE verifier needs the enclave image whose keys sign proofs".into(),
            });
        }
        let factory = self.verifier_factory().await?;
        let next = view(factory.nextVerifier(), Target::VerifierFactory).await?;
        let sample_signer = PrivateKeySigner::random();
        let sample_proof = tee_proof(
            &sample_signer,
            self.deployment().chain_id,
            next,
            &sample_input,
            B256::ZERO,
            &sample_output,
            Address::ZERO,
        )?;
        let receipt = self
            .send_with_gas_margin(
                factory.deployTee(
                    image_id,
                    sample_signer.address(),
                    sample_input,
                    sample_proof,
                ),
                Target::VerifierFactory,
                "deployTee",
            )
            .await?;
        let deployed: VerifierFactory::VerifierDeployed = tx::event(&receipt, *factory.address())?;
        Ok((deployed.verifier, TxSummary::from(&receipt)))
    }

    /// The enclave image an attested registration recorded for the enclave key whose address is `signer`
    /// (zero for a key never registered with an attestation): a `TeeVerifier` accepts the key's proofs when this
    /// is its image.
    pub async fn enclave_image_of(&self, signer: Address) -> Result<B256> {
        view(self.keys().enclaveImageOf(signer), Target::KeyRegistry).await
    }

    pub(crate) async fn verifier_factory(
        &self,
    ) -> Result<VerifierFactory::VerifierFactoryInstance<&P>> {
        let address = view(self.marketplace().verifierFactory(), Target::Marketplace).await?;
        Ok(VerifierFactory::new(address, self.provider()))
    }
}
