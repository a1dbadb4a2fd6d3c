//! The real AWS Nitro attestation document shipped with `nitro_attest` (eu-central-1, 2025-01-06), tampered
//! copies of it, and a well-formed document whose chain ends in another root.

use alloy::primitives::{B256, b256};
use aws_nitro_enclaves_nsm_api::api::{AttestationDoc, Digest};
use coset::{CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, iana};
use kalypso_confidential::{
    SecretKey,
    nitro::{self, AWS_NITRO_ROOT_G1_FINGERPRINT, AttestationError, Policy},
};

const DOCUMENT: &[u8] = include_bytes!("../fixtures/nitro-attestation.cose");
/// The document's timestamp (2025-01-06T16:07:05.472Z); its enclave certificate is valid from 16:07:02 to
/// 19:07:05 that day.
const TIME_MS: u64 = 1_736_179_625_472;
const MINUTE_MS: u64 = 60_000;

/// PCR0 of the document's enclave image.
const PCR0: &str = "8bb159f202bb95d6d4d98e0e103918246cea734f1d57cd263e4fd56075ed53f6fa8c68854817a32749a241e11874c26b";
/// `keccak256(PCR0 ‖ PCR1 ‖ PCR2)` of the document (computed with `cast keccak` from its PCRs).
const IMAGE_ID: B256 = b256!("4cc37f584e2324f21d431e2e7d26b6698e5724f1cfbd4e208c339824f85603f7");

fn policy() -> Policy {
    Policy::new(5 * MINUTE_MS)
}

#[test]
fn the_real_document_verifies_at_its_time() {
    let doc = nitro::verify_document(DOCUMENT, &policy(), TIME_MS + 1_000).unwrap();
    assert_eq!(doc.module_id, "i-0bee92034f3d60691-enc01943c5eaab3ad6a");
    assert_eq!(doc.timestamp_ms, TIME_MS);
    for index in 0..5 {
        assert_eq!(doc.pcrs[&index].len(), 48, "PCR{index}");
        assert!(doc.pcrs[&index].iter().any(|b| *b != 0), "PCR{index}");
    }
    assert_eq!(alloy::hex::encode(&doc.pcrs[&0]), PCR0);
    assert_eq!(doc.image_id, IMAGE_ID);
    let mut image = Vec::new();
    for index in 0..3 {
        image.extend_from_slice(&doc.pcrs[&index]);
    }
    assert_eq!(doc.image_id, alloy::primitives::keccak256(image));
    assert_eq!(doc.nonce, None);
    assert_eq!(doc.user_data, None);
    // Its enclave put an RSA key (DER SubjectPublicKeyInfo) in the document, not a secp256k1 one.
    assert_eq!(doc.public_key.as_ref().map(Vec::len), Some(294));
    assert!(matches!(
        nitro::verify(DOCUMENT, &policy(), TIME_MS + 1_000).unwrap_err(),
        AttestationError::UnsupportedPublicKey { len: 294, .. }
    ));
}

#[test]
fn expectations_that_hold_pass() {
    let pcr0 = alloy::hex::decode(PCR0).unwrap();
    let policy = policy().with_pcr(0, pcr0).with_image_id(IMAGE_ID);
    nitro::verify_document(DOCUMENT, &policy, TIME_MS).unwrap();
}

#[test]
fn a_wrong_pcr_expectation_fails() {
    let mut pcr0 = alloy::hex::decode(PCR0).unwrap();
    pcr0[47] ^= 1;
    let wrong = policy().with_pcr(0, pcr0.clone());
    match nitro::verify_document(DOCUMENT, &wrong, TIME_MS).unwrap_err() {
        AttestationError::PcrMismatch {
            index: 0,
            expected,
            actual,
        } => {
            assert_eq!(expected, alloy::hex::encode(pcr0));
            assert_eq!(actual, PCR0);
        }
        e => panic!("{e:?}"),
    }
    // A PCR the document does not carry.
    let absent = policy().with_pcr(31, [1u8; 48]);
    assert!(matches!(
        nitro::verify_document(DOCUMENT, &absent, TIME_MS).unwrap_err(),
        AttestationError::PcrMismatch { index: 31, .. }
    ));
    let other = B256::repeat_byte(0x11);
    assert!(matches!(
        nitro::verify_document(DOCUMENT, &policy().with_image_id(other), TIME_MS).unwrap_err(),
        AttestationError::ImageIdMismatch { expected, actual } if expected == other && actual == IMAGE_ID
    ));
}

#[test]
fn an_old_document_is_expired() {
    // Ten minutes later the certificates are still valid, but the document is older than five minutes.
    let now = TIME_MS + 10 * MINUTE_MS;
    match nitro::verify_document(DOCUMENT, &policy(), now).unwrap_err() {
        AttestationError::Expired {
            timestamp_ms,
            now_ms,
            max_age_ms,
        } => {
            assert_eq!(
                (timestamp_ms, now_ms, max_age_ms),
                (TIME_MS, now, 5 * MINUTE_MS)
            );
        }
        e => panic!("{e:?}"),
    }
    // Exactly at the maximum age it is still accepted (the contract's rule).
    nitro::verify_document(DOCUMENT, &policy(), TIME_MS + 5 * MINUTE_MS).unwrap();
}

#[test]
fn certificates_are_checked_at_the_given_time() {
    // Four hours later the enclave certificate has expired, whatever the policy.
    let now = TIME_MS + 4 * 60 * MINUTE_MS;
    match nitro::verify_document(DOCUMENT, &Policy::new(u64::MAX), now).unwrap_err() {
        AttestationError::CertificateNotValid {
            index,
            common_name,
            now_ms,
        } => {
            assert_eq!(index, 4);
            assert!(
                common_name.starts_with("i-0bee92034f3d60691-enc"),
                "{common_name}"
            );
            assert_eq!(now_ms, now);
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_document_from_the_future_is_rejected() {
    // Two seconds before its timestamp (the certificates are already valid), with one second of skew.
    let mut policy = policy();
    policy.max_clock_skew_ms = 1_000;
    assert!(matches!(
        nitro::verify_document(DOCUMENT, &policy, TIME_MS - 2_000).unwrap_err(),
        AttestationError::FromFuture { timestamp_ms: TIME_MS, now_ms } if now_ms == TIME_MS - 2_000
    ));
    policy.max_clock_skew_ms = 2_000;
    nitro::verify_document(DOCUMENT, &policy, TIME_MS - 2_000).unwrap();
}

#[test]
fn a_flipped_byte_breaks_the_signature() {
    let payload_start = {
        let cose = CoseSign1::from_slice(DOCUMENT).unwrap();
        let payload = cose.payload.unwrap();
        DOCUMENT
            .windows(payload.len())
            .position(|w| w == payload)
            .unwrap()
    };
    // In the signed payload: the PCR0 value.
    let pcr0 = alloy::hex::decode(PCR0).unwrap();
    let at = DOCUMENT.windows(48).position(|w| w == pcr0).unwrap();
    assert!(at > payload_start);
    let mut document = DOCUMENT.to_vec();
    document[at] ^= 0x01;
    assert!(matches!(
        nitro::verify_document(&document, &policy(), TIME_MS).unwrap_err(),
        AttestationError::BadSignature
    ));
    // In the signature itself (the last byte of the document).
    let mut document = DOCUMENT.to_vec();
    *document.last_mut().unwrap() ^= 0x01;
    assert!(matches!(
        nitro::verify_document(&document, &policy(), TIME_MS).unwrap_err(),
        AttestationError::BadSignature
    ));
}

#[test]
fn garbage_and_empty_documents_are_malformed() {
    for document in [&[][..], b"not cbor", &DOCUMENT[..100]] {
        assert!(matches!(
            nitro::verify_document(document, &policy(), TIME_MS).unwrap_err(),
            AttestationError::Malformed(_)
        ));
    }
}

/// A document made the way the NSM makes one, with a secp256k1 key, signed by a Nitro-shaped chain whose
/// root is not AWS's.
fn foreign_document(public_key: Vec<u8>, timestamp_ms: u64) -> Vec<u8> {
    use ring::signature::{ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair};
    let chain = nitro_attest::builder::chain();
    let (leaf, bundle) = chain
        .split_last()
        .expect("the builder makes five certificates");
    let pcrs = (0..16)
        .map(|i| {
            (
                i,
                if i < 3 {
                    vec![i as u8 + 1; 48]
                } else {
                    vec![0; 48]
                },
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
        Some(public_key),
    )
    .to_binary();
    let rng = ring::rand::SystemRandom::new();
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

#[test]
fn a_chain_from_another_root_is_untrusted() {
    let key = SecretKey::random().public_key();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let document = foreign_document(key.to_bytes().to_vec(), now_ms);
    match nitro::verify(&document, &Policy::new(u64::MAX), now_ms).unwrap_err() {
        AttestationError::UntrustedRoot { fingerprint } => {
            assert_ne!(fingerprint, AWS_NITRO_ROOT_G1_FINGERPRINT);
            assert_eq!(fingerprint.len(), 64);
        }
        e => panic!("{e:?}"),
    }
    // The same document's content would pass every other check: it is only the root that fails.
    let cose = CoseSign1::from_slice(&document).unwrap();
    let doc = AttestationDoc::from_binary(&cose.payload.unwrap()).unwrap();
    assert_eq!(doc.public_key.unwrap().into_vec(), key.to_bytes());
}
