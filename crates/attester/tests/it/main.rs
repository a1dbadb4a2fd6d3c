//! The attestation-verifier service: documents of a test certificate authority (a Nitro-shaped chain under a
//! root the test policy trusts) signed into attestations that register enclave keys on a fresh anvil
//! deployment, and the rejections of the HTTP service (the real AWS document, tampered copies, garbage,
//! bodies that are empty or too large).

mod chain;
mod http;

use alloy::{
    primitives::{Address, Bytes},
    signers::local::PrivateKeySigner,
};

/// The real AWS document (`crates/confidential/tests/fixtures`): its enclave put an RSA key in it.
const AWS_DOCUMENT: &[u8] =
    include_bytes!("../../../confidential/tests/fixtures/nitro-attestation.cose");
/// Its timestamp (2025-01-06T16:07:05.472Z); its certificates are valid at that time only.
const AWS_DOCUMENT_MS: u64 = 1_736_179_625_472;
const MINUTE_MS: u64 = 60_000;

/// Wall-clock Unix milliseconds (anvil's blocks follow the same clock).
fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis(),
    )
    .expect("milliseconds fit in u64")
}

/// A signer's 64-byte public key (x ‖ y).
fn pubkey(signer: &PrivateKeySigner) -> Bytes {
    Bytes::copy_from_slice(signer.public_key().as_slice())
}

/// The address an attestation's signature recovers to for `digest`.
fn recover(signature: &Bytes, digest: alloy::primitives::B256) -> Address {
    alloy::primitives::Signature::try_from(&signature[..])
        .expect("a 65-byte signature")
        .recover_address_from_prehash(&digest)
        .expect("recovers")
}
