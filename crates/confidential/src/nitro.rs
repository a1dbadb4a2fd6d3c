//! Verification of AWS Nitro Enclaves attestation documents.
//!
//! Authenticity: the COSE_Sign1 signature (ES384) by the document's leaf certificate, each certificate's
//! ECDSA P-384/SHA-384 signature by the one before it, the first certificate of the bundle against the
//! policy's trusted root fingerprint — the pinned AWS Nitro Enclaves root G1 ([`AWS_NITRO_ROOT_G1`]) unless
//! a test replaces it — and every certificate's validity at the given time. This module checks the chain
//! itself (`x509-parser`, `ring`) because [`nitro_attest`] pins its root when it is built; for the AWS root
//! [`nitro_attest`] checks the same document again, independently, and both must accept it. Then the
//! document's fields are read with the same parsers (`coset`, the NSM API types) and this module checks
//! what Kalypso relies on: SHA-384 PCRs 0–2, not a debug enclave, the document's age, the expected PCRs or
//! image ids, and a secp256k1 public key.

use std::collections::{BTreeMap, BTreeSet};

use alloy::{
    primitives::{Address, B256, Bytes, b256, keccak256},
    sol_types::SolStruct,
};
use aws_nitro_enclaves_nsm_api::api::{AttestationDoc, Digest};
use coset::{CborSerializable, CoseSign1};
use kalypso_primitives::eip712::{EnclaveAttestation, attestation_domain};
use ring::signature::{ECDSA_P384_SHA384_FIXED, UnparsedPublicKey};
use sha2::Sha256;
use time::OffsetDateTime;
use x509_parser::{
    certificate::X509Certificate,
    oid_registry::{
        OID_KEY_TYPE_EC_PUBLIC_KEY, OID_PKCS1_RSAENCRYPTION, OID_SIG_ECDSA_WITH_SHA384,
    },
    prelude::FromDer,
    validate::{Validator, VecLogger, X509StructureValidator},
    x509::SubjectPublicKeyInfo,
};

use crate::PublicKey;

/// Length of a SHA-384 PCR.
pub const PCR_LEN: usize = 48;

/// The contract's tolerance for an attestation timestamp ahead of the chain's clock
/// (`AttestationVerifier.MAX_CLOCK_SKEW_MS`).
pub const MAX_CLOCK_SKEW_MS: u64 = 120_000;

/// DER prefix of a SubjectPublicKeyInfo holding an uncompressed secp256k1 point (id-ecPublicKey,
/// secp256k1, BIT STRING of 65 bytes).
const SPKI_SECP256K1_UNCOMPRESSED: &[u8] = &[
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];
/// The same for a compressed point (BIT STRING of 33 bytes).
const SPKI_SECP256K1_COMPRESSED: &[u8] = &[
    0x30, 0x36, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x22, 0x00,
];

/// What a document must satisfy beyond authenticity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Oldest accepted document, in milliseconds before `now`.
    pub max_age_ms: u64,
    /// How far ahead of `now` a document's timestamp may be (clock skew), in milliseconds.
    pub max_clock_skew_ms: u64,
    /// PCR values the document must carry, by index (for example PCR0–2 of an enclave image file, PCR8
    /// of its signing certificate).
    pub expected_pcrs: BTreeMap<u16, Vec<u8>>,
    /// Image ids (`keccak256(PCR0 ‖ PCR1 ‖ PCR2)`) the document may have; empty: any image.
    pub expected_image_ids: BTreeSet<B256>,
    /// Accept a debug-mode enclave (PCR0–2 all zero). Never in production: the host can read a debug
    /// enclave's memory.
    pub allow_debug: bool,
    /// SHA-256 fingerprint of the root certificate (DER) the document's chain must start at. Private: only
    /// [`Policy::with_trusted_root`] changes it, for tests.
    trusted_root: B256,
}

impl Policy {
    /// A policy accepting any production enclave image whose document is at most `max_age_ms` old, with
    /// the contract's clock skew, signed by a chain from the AWS Nitro Enclaves root G1.
    pub fn new(max_age_ms: u64) -> Self {
        Self {
            max_age_ms,
            max_clock_skew_ms: MAX_CLOCK_SKEW_MS,
            expected_pcrs: BTreeMap::new(),
            expected_image_ids: BTreeSet::new(),
            allow_debug: false,
            trusted_root: AWS_NITRO_ROOT_G1,
        }
    }

    /// Accepts the image id `image_id` (call once per accepted image; without any call every image is
    /// accepted).
    pub fn with_image_id(mut self, image_id: B256) -> Self {
        self.expected_image_ids.insert(image_id);
        self
    }

    /// TESTS ONLY: trusts the root certificate whose DER has SHA-256 `fingerprint` instead of the AWS Nitro
    /// Enclaves root G1 (for documents made by a test authority, see the `testing` feature). Production
    /// never calls this: the attestation-verifier service and the CLI offer no way to set it, and a document
    /// of another root proves nothing about an enclave.
    pub fn with_trusted_root(mut self, fingerprint: B256) -> Self {
        self.trusted_root = fingerprint;
        self
    }

    /// The SHA-256 fingerprint of the root certificate documents must chain to ([`AWS_NITRO_ROOT_G1`]
    /// unless replaced by a test).
    pub fn trusted_root(&self) -> B256 {
        self.trusted_root
    }

    /// Requires PCR `index` to equal `value`.
    pub fn with_pcr(mut self, index: u16, value: impl Into<Vec<u8>>) -> Self {
        self.expected_pcrs.insert(index, value.into());
        self
    }
}

/// Why an attestation document was rejected.
#[derive(Debug, thiserror::Error)]
pub enum AttestationError {
    /// The bytes are not a COSE_Sign1 attestation document (or a certificate in it does not parse).
    #[error("malformed attestation document: {0}")]
    Malformed(String),
    /// The certificate bundle does not start at the pinned AWS Nitro Enclaves root.
    #[error("certificate chain ends in an untrusted root (SHA-256 fingerprint {fingerprint})")]
    UntrustedRoot {
        /// Fingerprint of the root certificate the document carries.
        fingerprint: String,
    },
    /// A certificate is not signed by its parent, or not with ECDSA P-384/SHA-384.
    #[error("invalid certificate chain: {0}")]
    CertificateChain(String),
    /// A certificate of the chain is expired or not yet valid at `now_ms`.
    #[error("certificate {index} ({common_name}) is not valid at {now_ms} ms")]
    CertificateNotValid {
        /// Position in the chain (0 = root).
        index: usize,
        /// Its subject common name.
        common_name: String,
        /// The time checked.
        now_ms: u64,
    },
    /// The COSE signature does not verify with the leaf certificate's key.
    #[error("attestation document signature does not verify")]
    BadSignature,
    /// `now_ms` is outside the range of calendar time.
    #[error("time {now_ms} ms is out of range")]
    InvalidTime {
        /// The time given.
        now_ms: u64,
    },
    /// The PCRs are not SHA-384 (the image id is defined over 48-byte PCRs).
    #[error("PCRs use {0}, expected SHA384")]
    UnsupportedDigest(String),
    /// A PCR the image id is made of (0, 1 or 2) is missing from the document.
    #[error("PCR{0} is missing")]
    MissingPcr(u16),
    /// A PCR the image id is made of is not 48 bytes long.
    #[error("PCR{index} has {len} bytes, expected {PCR_LEN}")]
    PcrLength {
        /// PCR index.
        index: u16,
        /// Its length.
        len: usize,
    },
    /// PCR0–2 are all zero: a debug-mode enclave, whose memory its host can read.
    #[error("debug-mode enclave (PCR0-2 are zero): its host can read its memory")]
    DebugEnclave,
    /// A PCR differs from the policy's expectation.
    #[error("PCR{index} is 0x{actual}, expected 0x{expected}")]
    PcrMismatch {
        /// PCR index.
        index: u16,
        /// Expected value (hex).
        expected: String,
        /// Value in the document (hex), empty when absent.
        actual: String,
    },
    /// The image id is none of the policy's image ids.
    #[error("image id is {actual}, expected {}", one_of(expected))]
    ImageIdMismatch {
        /// The accepted image ids.
        expected: Vec<B256>,
        /// Image id of the document.
        actual: B256,
    },
    /// The document is older than the policy's maximum age.
    #[error("attestation from {timestamp_ms} ms is older than {max_age_ms} ms at {now_ms} ms")]
    Expired {
        /// The document's timestamp.
        timestamp_ms: u64,
        /// The time checked.
        now_ms: u64,
        /// The maximum age.
        max_age_ms: u64,
    },
    /// The document's timestamp is further ahead of `now` than the clock skew allows.
    #[error("attestation from {timestamp_ms} ms is in the future at {now_ms} ms")]
    FromFuture {
        /// The document's timestamp.
        timestamp_ms: u64,
        /// The time checked.
        now_ms: u64,
    },
    /// The document carries no public key.
    #[error("attestation document carries no public key")]
    MissingPublicKey,
    /// The document's public key is not a secp256k1 key in an accepted encoding.
    #[error("attestation public key is not a secp256k1 key: {kind} ({len} bytes)")]
    UnsupportedPublicKey {
        /// What the key field holds instead (`an RSA-2048 key`, `an EC key on P-384`, ...).
        kind: String,
        /// Length of the key field.
        len: usize,
        /// Why it was rejected.
        #[source]
        source: crate::Error,
    },
}

/// `a`, or `one of a, b, c`.
fn one_of(ids: &[B256]) -> String {
    match ids {
        [one] => one.to_string(),
        many => format!(
            "one of {}",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// An authentic attestation document that passed a [`Policy`], with its fields. Its public key is not
/// interpreted yet (see [`AttestationDocument::enclave_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationDocument {
    /// The Nitro Secure Module that issued it.
    pub module_id: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Every PCR of the document (zero ones included), by index.
    pub pcrs: BTreeMap<u16, Vec<u8>>,
    /// `keccak256(PCR0 ‖ PCR1 ‖ PCR2)`, as `AttestationVerifier.imageIdOf` computes it.
    pub image_id: B256,
    /// The public key the enclave put in the document, as given.
    pub public_key: Option<Vec<u8>>,
    /// The enclave's user data.
    pub user_data: Option<Vec<u8>>,
    /// The nonce the enclave was asked to include.
    pub nonce: Option<Vec<u8>>,
}

impl AttestationDocument {
    /// The enclave's secp256k1 key from the document's public-key field: 64 bytes (x ‖ y), SEC1
    /// (65 uncompressed, 33 compressed), or a DER SubjectPublicKeyInfo of a secp256k1 key.
    pub fn enclave_key(&self) -> Result<PublicKey, AttestationError> {
        let key = self
            .public_key
            .as_deref()
            .ok_or(AttestationError::MissingPublicKey)?;
        let point = key
            .strip_prefix(SPKI_SECP256K1_UNCOMPRESSED)
            .or_else(|| key.strip_prefix(SPKI_SECP256K1_COMPRESSED))
            .unwrap_or(key);
        PublicKey::from_bytes(point).map_err(|source| AttestationError::UnsupportedPublicKey {
            kind: key_kind(key, &source),
            len: key.len(),
            source,
        })
    }
}

/// What a public-key field that is not a usable secp256k1 key holds, for error messages: the algorithm of a
/// DER SubjectPublicKeyInfo (`an RSA-2048 key`, `an EC key on P-384`), else why its bytes are no key.
fn key_kind(key: &[u8], error: &crate::Error) -> String {
    if let Ok((rest, spki)) = SubjectPublicKeyInfo::from_der(key)
        && rest.is_empty()
    {
        let algorithm = &spki.algorithm.algorithm;
        if *algorithm == OID_PKCS1_RSAENCRYPTION {
            return match spki.parsed() {
                Ok(parsed) => format!("an RSA-{} key", parsed.key_size()),
                Err(_) => "an RSA key".to_owned(),
            };
        }
        if *algorithm == OID_KEY_TYPE_EC_PUBLIC_KEY {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            return match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "an EC key on P-256".to_owned(),
                Some("1.3.132.0.34") => "an EC key on P-384".to_owned(),
                Some("1.3.132.0.35") => "an EC key on P-521".to_owned(),
                Some("1.3.132.0.10") => "a secp256k1 key whose point is invalid".to_owned(),
                Some(other) => format!("an EC key on curve {other}"),
                None => "an EC key on an unnamed curve".to_owned(),
            };
        }
        return match algorithm.to_id_string().as_str() {
            "1.3.101.112" => "an Ed25519 key".to_owned(),
            "1.3.101.110" => "an X25519 key".to_owned(),
            other => format!("a key of algorithm {other}"),
        };
    }
    match error {
        crate::Error::PublicKeyNotOnCurve => "not a point on secp256k1".to_owned(),
        _ => "in no accepted encoding (64 bytes x ‖ y, SEC1, or a secp256k1 SubjectPublicKeyInfo)"
            .to_owned(),
    }
}

/// A verified enclave key: what an attestation-verifier service signs as the EIP-712
/// `EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedAttestation {
    /// `keccak256(PCR0 ‖ PCR1 ‖ PCR2)`.
    pub image_id: B256,
    /// The enclave's key (64 bytes x ‖ y via [`PublicKey::to_bytes`]).
    pub public_key: PublicKey,
    /// Creation time of the document, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Every PCR of the document, by index.
    pub pcrs: BTreeMap<u16, Vec<u8>>,
    /// The enclave's user data (unchecked here; a protocol may bind it).
    pub user_data: Option<Vec<u8>>,
    /// The document's nonce (unchecked here; a protocol may bind it).
    pub nonce: Option<Vec<u8>>,
}

impl VerifiedAttestation {
    /// The EIP-712 message for the on-chain `AttestationVerifier`.
    pub fn eip712_message(&self) -> EnclaveAttestation {
        EnclaveAttestation {
            enclavePubKey: Bytes::copy_from_slice(&self.public_key.to_bytes()),
            imageId: self.image_id,
            timestampMs: self.timestamp_ms,
        }
    }

    /// The digest a trusted attestation signer signs for the `AttestationVerifier` at
    /// `attestation_verifier` on chain `chain_id` (equals its `attestationDigest`).
    pub fn eip712_digest(&self, chain_id: u64, attestation_verifier: Address) -> B256 {
        self.eip712_message()
            .eip712_signing_hash(&attestation_domain(chain_id, attestation_verifier))
    }
}

/// Verifies `document` at `now_ms` against `policy` and returns the enclave's secp256k1 key with its
/// image id and timestamp.
pub fn verify(
    document: &[u8],
    policy: &Policy,
    now_ms: u64,
) -> Result<VerifiedAttestation, AttestationError> {
    let doc = verify_document(document, policy, now_ms)?;
    let public_key = doc.enclave_key()?;
    Ok(VerifiedAttestation {
        image_id: doc.image_id,
        public_key,
        timestamp_ms: doc.timestamp_ms,
        pcrs: doc.pcrs,
        user_data: doc.user_data,
        nonce: doc.nonce,
    })
}

/// Verifies `document` at `now_ms` against `policy` without interpreting its public key.
pub fn verify_document(
    document: &[u8],
    policy: &Policy,
    now_ms: u64,
) -> Result<AttestationDocument, AttestationError> {
    let now = i128::from(now_ms)
        .checked_mul(1_000_000)
        .and_then(|nanos| OffsetDateTime::from_unix_timestamp_nanos(nanos).ok())
        .ok_or(AttestationError::InvalidTime { now_ms })?;
    let doc = authenticate(document, policy.trusted_root, now, now_ms)?;
    if policy.trusted_root == AWS_NITRO_ROOT_G1 {
        // A second, independent implementation of the same checks, whose build pins the AWS root from
        // AWS's published archive: a production document must pass both.
        nitro_attest::UnparsedAttestationDoc::from(document)
            .parse_and_verify(now)
            .map_err(|e| classify(e, now_ms))?;
    }
    check(doc, policy, now_ms)
}

/// The document's payload, once its COSE signature, its certificate chain from `root` and the chain's
/// validity at `now` are checked (the checks `nitro_attest` makes, in the same order, for any root).
fn authenticate(
    document: &[u8],
    root: B256,
    now: OffsetDateTime,
    now_ms: u64,
) -> Result<AttestationDoc, AttestationError> {
    let malformed = |what: String| AttestationError::Malformed(what);
    let cose = CoseSign1::from_slice(document)
        .map_err(|e| malformed(format!("not a COSE_Sign1: {e:?}")))?;
    let payload = cose
        .payload
        .as_deref()
        .ok_or_else(|| malformed("no payload".into()))?;
    let doc = AttestationDoc::from_binary(payload).map_err(|e| malformed(format!("{e:?}")))?;
    {
        let ders = doc
            .cabundle
            .iter()
            .map(|c| c.as_slice())
            .chain(std::iter::once(doc.certificate.as_slice()));
        let mut parent: Option<X509Certificate<'_>> = None;
        for (index, der) in ders.enumerate() {
            let cert = match X509Certificate::from_der(der) {
                Ok(([], cert)) => cert,
                Ok(_) => return Err(malformed(format!("certificate {index} has trailing bytes"))),
                Err(e) => {
                    return Err(malformed(format!(
                        "certificate {index} failed to parse: {e}"
                    )));
                }
            };
            let mut log = VecLogger::default();
            if !X509StructureValidator.validate(&cert, &mut log) {
                return Err(malformed(format!(
                    "certificate {index} is malformed: {}",
                    log.errors().join("; ")
                )));
            }
            let common_name = cert
                .subject()
                .iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or_default()
                .to_owned();
            if cert.signature_algorithm.algorithm != OID_SIG_ECDSA_WITH_SHA384 {
                return Err(AttestationError::CertificateChain(format!(
                    "certificate {index} ({common_name}) is signed with {}, not ecdsa-with-SHA384",
                    cert.signature_algorithm.algorithm.to_id_string()
                )));
            }
            match &parent {
                Some(parent) => cert
                    .verify_signature(Some(parent.public_key()))
                    .map_err(|e| {
                        AttestationError::CertificateChain(format!(
                            "certificate {index} ({common_name}) signature verification failed: \
                             not signed by its issuer, certificate {} ({e})",
                            index - 1
                        ))
                    })?,
                None => {
                    let fingerprint = fingerprint(der);
                    if fingerprint != root {
                        return Err(AttestationError::UntrustedRoot {
                            fingerprint: alloy::hex::encode(fingerprint),
                        });
                    }
                }
            }
            let validity = cert.validity();
            if now > validity.not_after.to_datetime() || now < validity.not_before.to_datetime() {
                return Err(AttestationError::CertificateNotValid {
                    index,
                    common_name,
                    now_ms,
                });
            }
            parent = Some(cert);
        }
        let leaf = parent.ok_or_else(|| malformed("no certificate".into()))?;
        let key = UnparsedPublicKey::new(
            &ECDSA_P384_SHA384_FIXED,
            leaf.public_key().subject_public_key.data.as_ref(),
        );
        cose.verify_signature(&[], |signature, data| key.verify(data, signature))
            .map_err(|_| AttestationError::BadSignature)?;
    }
    Ok(doc)
}

/// The SHA-256 fingerprint of a certificate's DER: how a trusted root is named.
pub fn fingerprint(der: &[u8]) -> B256 {
    B256::from(<[u8; 32]>::from(<Sha256 as sha2::Digest>::digest(der)))
}

/// The checks on an authentic document's fields.
fn check(
    doc: AttestationDoc,
    policy: &Policy,
    now_ms: u64,
) -> Result<AttestationDocument, AttestationError> {
    if !matches!(doc.digest, Digest::SHA384) {
        return Err(AttestationError::UnsupportedDigest(format!(
            "{:?}",
            doc.digest
        )));
    }
    let mut pcrs = BTreeMap::new();
    for (index, value) in doc.pcrs {
        let index = u16::try_from(index)
            .map_err(|_| AttestationError::Malformed(format!("PCR index {index}")))?;
        pcrs.insert(index, value.into_vec());
    }
    let mut image = Vec::with_capacity(3 * PCR_LEN);
    for index in 0..3 {
        let pcr = pcrs
            .get(&index)
            .ok_or(AttestationError::MissingPcr(index))?;
        if pcr.len() != PCR_LEN {
            return Err(AttestationError::PcrLength {
                index,
                len: pcr.len(),
            });
        }
        image.extend_from_slice(pcr);
    }
    if !policy.allow_debug && image.iter().all(|b| *b == 0) {
        return Err(AttestationError::DebugEnclave);
    }
    let image_id = keccak256(&image);

    let timestamp_ms = doc.timestamp;
    if timestamp_ms > now_ms {
        if timestamp_ms - now_ms > policy.max_clock_skew_ms {
            return Err(AttestationError::FromFuture {
                timestamp_ms,
                now_ms,
            });
        }
    } else if now_ms - timestamp_ms > policy.max_age_ms {
        return Err(AttestationError::Expired {
            timestamp_ms,
            now_ms,
            max_age_ms: policy.max_age_ms,
        });
    }

    for (&index, expected) in &policy.expected_pcrs {
        let actual = pcrs.get(&index);
        if actual != Some(expected) {
            return Err(AttestationError::PcrMismatch {
                index,
                expected: alloy::hex::encode(expected),
                actual: actual.map(alloy::hex::encode).unwrap_or_default(),
            });
        }
    }
    if !policy.expected_image_ids.is_empty() && !policy.expected_image_ids.contains(&image_id) {
        return Err(AttestationError::ImageIdMismatch {
            expected: policy.expected_image_ids.iter().copied().collect(),
            actual: image_id,
        });
    }

    Ok(AttestationDocument {
        module_id: doc.module_id,
        timestamp_ms,
        pcrs,
        image_id,
        public_key: doc.public_key.map(|k| k.into_vec()),
        user_data: doc.user_data.map(|d| d.into_vec()),
        nonce: doc.nonce.map(|n| n.into_vec()),
    })
}

/// The SHA-256 fingerprint of the pinned AWS Nitro Enclaves root G1 certificate (DER), as AWS publishes
/// it.
pub const AWS_NITRO_ROOT_G1_FINGERPRINT: &str =
    "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";

/// [`AWS_NITRO_ROOT_G1_FINGERPRINT`] as bytes: the root every [`Policy`] trusts unless a test replaces it.
pub const AWS_NITRO_ROOT_G1: B256 =
    b256!("641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b");

fn classify(error: nitro_attest::Error, now_ms: u64) -> AttestationError {
    use nitro_attest::Error as E;
    match error {
        E::CertificateRootInvalid { have, .. } => {
            AttestationError::UntrustedRoot { fingerprint: have }
        }
        E::CertificateExpired { cn, idx, .. } | E::CertificateNotYetValid { cn, idx, .. } => {
            AttestationError::CertificateNotValid {
                index: idx,
                common_name: cn,
                now_ms,
            }
        }
        E::CoseSignatureVerificationFailed() => AttestationError::BadSignature,
        e @ (E::CertificateSignatureInvalid { .. } | E::CertificateUnexpectedAlgorithm { .. }) => {
            AttestationError::CertificateChain(e.to_string())
        }
        e => AttestationError::Malformed(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    //! The checks on a document's fields, on synthetic payloads (authenticity is covered by the
    //! integration tests with the real document).

    use aws_nitro_enclaves_nsm_api::api::AttestationDoc;

    use super::*;
    use crate::SecretKey;

    const NOW: u64 = 1_800_000_000_000;

    fn doc(pcrs: &[(usize, Vec<u8>)], public_key: Option<Vec<u8>>) -> AttestationDoc {
        AttestationDoc::new(
            "module".into(),
            Digest::SHA384,
            NOW - 1_000,
            pcrs.iter().cloned().collect(),
            vec![],
            vec![],
            Some(b"user".to_vec()),
            Some(b"nonce".to_vec()),
            public_key,
        )
    }

    fn image(public_key: Option<Vec<u8>>) -> AttestationDoc {
        doc(
            &[
                (0, vec![1; 48]),
                (1, vec![2; 48]),
                (2, vec![3; 48]),
                (3, vec![0; 48]),
            ],
            public_key,
        )
    }

    #[test]
    fn image_id_is_keccak_of_pcr0_to_pcr2() {
        let checked = check(image(None), &Policy::new(60_000), NOW).unwrap();
        let mut preimage = vec![1u8; 48];
        preimage.extend([2u8; 48]);
        preimage.extend([3u8; 48]);
        assert_eq!(checked.image_id, keccak256(preimage));
        assert_eq!(checked.pcrs.len(), 4);
        assert_eq!(checked.user_data.as_deref(), Some(&b"user"[..]));
        assert_eq!(checked.nonce.as_deref(), Some(&b"nonce"[..]));
        assert!(matches!(
            checked.enclave_key(),
            Err(AttestationError::MissingPublicKey)
        ));
    }

    #[test]
    fn debug_enclaves_are_refused_unless_allowed() {
        let zero = doc(
            &[(0, vec![0; 48]), (1, vec![0; 48]), (2, vec![0; 48])],
            None,
        );
        assert!(matches!(
            check(zero.clone(), &Policy::new(60_000), NOW),
            Err(AttestationError::DebugEnclave)
        ));
        let mut policy = Policy::new(60_000);
        policy.allow_debug = true;
        check(zero, &policy, NOW).unwrap();
    }

    #[test]
    fn pcrs_must_be_sha384_and_complete() {
        let missing = doc(&[(0, vec![1; 48]), (2, vec![1; 48])], None);
        assert!(matches!(
            check(missing, &Policy::new(60_000), NOW),
            Err(AttestationError::MissingPcr(1))
        ));
        let short = doc(
            &[(0, vec![1; 48]), (1, vec![1; 32]), (2, vec![1; 48])],
            None,
        );
        assert!(matches!(
            check(short, &Policy::new(60_000), NOW),
            Err(AttestationError::PcrLength { index: 1, len: 32 })
        ));
        let mut sha256 = image(None);
        sha256.digest = Digest::SHA256;
        assert!(matches!(
            check(sha256, &Policy::new(60_000), NOW),
            Err(AttestationError::UnsupportedDigest(_))
        ));
    }

    #[test]
    fn enclave_keys_in_every_accepted_encoding() {
        let key = SecretKey::random().public_key();
        let raw = key.to_bytes().to_vec();
        let sec1 = [&[0x04][..], &raw].concat();
        let spki = [SPKI_SECP256K1_UNCOMPRESSED, &sec1].concat();
        let spki_compressed = [SPKI_SECP256K1_COMPRESSED, &key.to_compressed()[..]].concat();
        for encoding in [
            raw,
            sec1,
            key.to_compressed().to_vec(),
            spki,
            spki_compressed,
        ] {
            let checked = check(image(Some(encoding)), &Policy::new(60_000), NOW).unwrap();
            assert_eq!(checked.enclave_key().unwrap(), key);
        }
        // A P-256 SubjectPublicKeyInfo is not a secp256k1 key.
        let mut p256 = SPKI_SECP256K1_UNCOMPRESSED.to_vec();
        p256[16..20].copy_from_slice(&[0x03, 0x01, 0x07, 0x03]);
        let checked = check(
            image(Some([&p256[..], &[4u8; 65]].concat())),
            &Policy::new(60_000),
            NOW,
        )
        .unwrap();
        assert!(matches!(
            checked.enclave_key(),
            Err(AttestationError::UnsupportedPublicKey { len: 88, .. })
        ));
    }

    #[test]
    fn eip712_digest_is_the_attestation_verifiers() {
        let key = SecretKey::from_bytes(&[5u8; 32]).unwrap().public_key();
        let checked = check(
            image(Some(key.to_bytes().to_vec())),
            &Policy::new(60_000),
            NOW,
        )
        .unwrap();
        let verified = VerifiedAttestation {
            image_id: checked.image_id,
            public_key: checked.enclave_key().unwrap(),
            timestamp_ms: checked.timestamp_ms,
            pcrs: checked.pcrs,
            user_data: None,
            nonce: None,
        };
        let verifier = Address::repeat_byte(0xaa);
        // keccak256("\x19\x01" ‖ domainSeparator ‖ keccak256(abi.encode(TYPEHASH, keccak256(pubkey),
        // imageId, timestampMs))), written out.
        let typehash = keccak256(kalypso_primitives_type());
        let mut encoded = typehash.to_vec();
        encoded.extend_from_slice(keccak256(key.to_bytes()).as_slice());
        encoded.extend_from_slice(checked.image_id.as_slice());
        encoded.extend_from_slice(&[0u8; 24]);
        encoded.extend_from_slice(&(NOW - 1_000).to_be_bytes());
        let struct_hash = keccak256(encoded);
        let separator = attestation_domain(31337, verifier).separator();
        let digest = keccak256(
            [
                &[0x19, 0x01][..],
                separator.as_slice(),
                struct_hash.as_slice(),
            ]
            .concat(),
        );
        assert_eq!(verified.eip712_digest(31337, verifier), digest);
    }

    fn kalypso_primitives_type() -> &'static str {
        "EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)"
    }
}
