//! INSECURE, tests only (feature `testing`): Nitro-shaped attestation documents from a test certificate
//! authority instead of AWS's.
//!
//! A [`TestAuthority`] is a certificate chain made the way AWS's is (root, regional, zonal, instance and
//! enclave certificates, ECDSA P-384, from `nitro_attest`'s builder) under a fresh root nobody trusts; its
//! documents are signed like the Nitro Secure Module signs them (COSE_Sign1, ES384, by the enclave
//! certificate). They verify only under a [`Policy`] that trusts the authority's root
//! ([`TestAuthority::policy`], [`Policy::with_trusted_root`]): with the default policy they fail with
//! [`AttestationError::UntrustedRoot`](crate::AttestationError::UntrustedRoot).

use std::fmt;

use alloy::primitives::{B256, keccak256};
use aws_nitro_enclaves_nsm_api::api::{AttestationDoc, Digest};
use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, iana};
use nitro_attest::builder;
use ring::{
    rand::SystemRandom,
    signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair},
};

use crate::nitro::{PCR_LEN, Policy};

/// PCR0–2 of the test documents unless given: 48 bytes of 1, 2 and 3.
pub const TEST_PCRS: [[u8; PCR_LEN]; 3] = [[1; PCR_LEN], [2; PCR_LEN], [3; PCR_LEN]];

/// `keccak256(PCR0 ‖ PCR1 ‖ PCR2)`, the image id of documents with these PCRs.
pub fn image_id(pcrs: &[[u8; PCR_LEN]; 3]) -> B256 {
    keccak256(pcrs.concat())
}

/// A test certificate authority: a Nitro-shaped chain whose root is fresh (its certificates are valid from
/// 1.5 hours before its creation to 1.5 hours after, the enclave certificate's lifetime).
pub struct TestAuthority {
    /// Root first, the enclave (leaf) certificate last.
    chain: Vec<builder::Cert>,
}

impl fmt::Debug for TestAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestAuthority")
            .field("root_fingerprint", &self.root_fingerprint())
            .finish_non_exhaustive()
    }
}

impl Default for TestAuthority {
    fn default() -> Self {
        Self::new()
    }
}

impl TestAuthority {
    /// A new chain under a new root.
    pub fn new() -> Self {
        Self {
            chain: builder::chain(),
        }
    }

    /// SHA-256 of the root certificate's DER: what [`Policy::with_trusted_root`] takes.
    pub fn root_fingerprint(&self) -> B256 {
        crate::nitro::fingerprint(self.root().cert.der())
    }

    /// `Policy::new(max_age_ms)` trusting this authority's root.
    pub fn policy(&self, max_age_ms: u64) -> Policy {
        Policy::new(max_age_ms).with_trusted_root(self.root_fingerprint())
    }

    /// A document of an enclave running the image of `pcrs` (PCR0–2; PCR3–15 are zero), made at
    /// `timestamp_ms`, carrying `public_key` as given.
    pub fn document(
        &self,
        pcrs: &[[u8; PCR_LEN]; 3],
        public_key: &[u8],
        timestamp_ms: u64,
    ) -> Vec<u8> {
        let (leaf, bundle) = self
            .chain
            .split_last()
            .expect("the builder makes five certificates");
        let pcrs = (0..16)
            .map(|i| {
                (
                    i,
                    pcrs.get(i).map_or_else(|| vec![0; PCR_LEN], |p| p.to_vec()),
                )
            })
            .collect();
        let payload = AttestationDoc::new(
            "i-0123456789abcdef0-enc0123456789abcdef".into(),
            Digest::SHA384,
            timestamp_ms,
            pcrs,
            leaf.cert.der().to_vec(),
            bundle.iter().map(|c| c.cert.der().to_vec()).collect(),
            None,
            None,
            Some(public_key.to_vec()),
        )
        .to_binary();
        let rng = SystemRandom::new();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P384_SHA384_FIXED_SIGNING,
            &leaf.keys.serialize_der(),
            &rng,
        )
        .expect("the builder's leaf key is a P-384 PKCS#8 key");
        CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES384)
                    .build(),
            )
            .payload(payload)
            .create_signature(&[], |data| {
                signer
                    .sign(&rng, data)
                    .expect("signing with a valid key")
                    .as_ref()
                    .to_vec()
            })
            .build()
            .to_vec()
            .expect("a COSE_Sign1 encodes")
    }

    fn root(&self) -> &builder::Cert {
        self.chain
            .first()
            .expect("the builder makes five certificates")
    }
}
