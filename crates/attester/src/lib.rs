#![doc = include_str!("../README.md")]

mod client;
pub mod metrics;
mod service;

use std::fmt;

use alloy::{
    primitives::{Address, Bytes},
    signers::{SignerSync, local::PrivateKeySigner},
    sol_types::{Eip712Domain, SolStruct},
};
use kalypso_confidential::nitro::{self, AttestationError, Policy};
use kalypso_primitives::eip712::attestation_domain;
use kalypso_sdk::SignedAttestation;

pub use client::{AttesterClient, ClientError};
pub use service::{ATTESTATIONS_PATH, BODY_LIMIT, Clock, Health, PolicySummary, Service};

/// Why no attestation was signed.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The document was rejected: not authentic (signature, certificate chain to the trusted root, validity),
    /// not fresh, not of an expected image or PCRs, a debug enclave, or without a secp256k1 enclave key.
    #[error(transparent)]
    Rejected(#[from] AttestationError),
    /// The signer failed to sign (a local key does not).
    #[error("signing the attestation failed: {0}")]
    Signing(#[from] alloy::signers::Error),
}

impl AttestError {
    /// A short, stable name of the reason (the `reason` label of the rejection metric).
    pub fn reason(&self) -> &'static str {
        use AttestationError as E;
        match self {
            Self::Signing(_) => "signing",
            Self::Rejected(e) => match e {
                E::Malformed(_) => "malformed",
                E::UntrustedRoot { .. } => "untrusted_root",
                E::CertificateChain(_) => "certificate_chain",
                E::CertificateNotValid { .. } => "certificate_not_valid",
                E::BadSignature => "bad_signature",
                E::InvalidTime { .. } => "invalid_time",
                E::UnsupportedDigest(_) | E::MissingPcr(_) | E::PcrLength { .. } => "pcrs",
                E::DebugEnclave => "debug_enclave",
                E::PcrMismatch { .. } => "pcr_mismatch",
                E::ImageIdMismatch { .. } => "image_id_mismatch",
                E::Expired { .. } => "expired",
                E::FromFuture { .. } => "from_future",
                E::MissingPublicKey | E::UnsupportedPublicKey { .. } => "public_key",
            },
        }
    }
}

/// The attestation verifier: checks an AWS Nitro attestation document against its [`Policy`] and signs the
/// EIP-712 `EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)` of its enclave key,
/// image id and timestamp for one `AttestationVerifier` deployment — what that contract accepts from a trusted
/// attestation signer. `Debug` shows the signer's address, never its key.
pub struct Attester {
    signer: PrivateKeySigner,
    chain_id: u64,
    attestation_verifier: Address,
    policy: Policy,
}

impl fmt::Debug for Attester {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attester")
            .field("signer", &self.signer.address())
            .field("key", &"<redacted>")
            .field("chain_id", &self.chain_id)
            .field("attestation_verifier", &self.attestation_verifier)
            .field("policy", &self.policy)
            .finish()
    }
}

impl Attester {
    /// An attester signing with `signer` for the `AttestationVerifier` at `attestation_verifier` on chain
    /// `chain_id` (the EIP-712 domain), accepting the documents `policy` accepts.
    pub fn new(
        signer: PrivateKeySigner,
        chain_id: u64,
        attestation_verifier: Address,
        policy: Policy,
    ) -> Self {
        Self {
            signer,
            chain_id,
            attestation_verifier,
            policy,
        }
    }

    /// The signer's address: the one `AttestationVerifier.isTrustedSigner` must accept.
    pub fn signer(&self) -> Address {
        self.signer.address()
    }

    /// The chain of the domain.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The `AttestationVerifier` (proxy) of the domain.
    pub fn attestation_verifier(&self) -> Address {
        self.attestation_verifier
    }

    /// What documents must satisfy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The EIP-712 domain the attestations are signed in ("Kalypso AttestationVerifier", "1").
    pub fn domain(&self) -> Eip712Domain {
        attestation_domain(self.chain_id, self.attestation_verifier)
    }

    /// Verifies `document` at `now_ms` (Unix milliseconds) and signs its enclave key's attestation: the
    /// document's secp256k1 key (64 bytes x ‖ y), its image id `keccak256(PCR0 ‖ PCR1 ‖ PCR2)` and its own
    /// timestamp, which the contract checks for freshness against the chain's clock.
    pub fn attest(&self, document: &[u8], now_ms: u64) -> Result<SignedAttestation, AttestError> {
        let verified = nitro::verify(document, &self.policy, now_ms)?;
        let message = verified.eip712_message();
        let digest = message.eip712_signing_hash(&self.domain());
        let signature = self.signer.sign_hash_sync(&digest)?;
        Ok(SignedAttestation {
            enclave_pubkey: message.enclavePubKey,
            image_id: message.imageId,
            timestamp_ms: message.timestampMs,
            signature: Bytes::from(signature.as_bytes().to_vec()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_address_never_the_key() {
        let signer = PrivateKeySigner::random();
        let key = alloy::hex::encode(signer.to_bytes());
        let address = signer.address();
        let attester = Attester::new(signer, 1, Address::ZERO, Policy::new(1));
        let shown = format!("{attester:?}");
        assert!(
            shown.contains(&address.to_string().to_lowercase()),
            "{shown}"
        );
        assert!(!shown.contains(&key), "{shown}");
        assert!(!shown.to_lowercase().contains(&key[..16]), "{shown}");
    }

    #[test]
    fn garbage_is_rejected_as_malformed() {
        let attester = Attester::new(PrivateKeySigner::random(), 1, Address::ZERO, Policy::new(1));
        let e = attester.attest(b"garbage", 0).unwrap_err();
        assert_eq!(e.reason(), "malformed");
        assert!(
            e.to_string().starts_with("malformed attestation document"),
            "{e}"
        );
    }
}
