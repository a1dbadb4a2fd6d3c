//! The real AWS Nitro attestation document shipped with `nitro_attest` (eu-central-1, 2025-01-06), tampered
//! copies of it, and a well-formed document whose chain ends in another root.

use alloy::primitives::{B256, b256};
use aws_nitro_enclaves_nsm_api::api::AttestationDoc;
use coset::{CborSerializable, CoseSign1};
use kalypso_confidential::{
    SecretKey,
    nitro::{self, AWS_NITRO_ROOT_G1_FINGERPRINT, AttestationError, Policy},
    testing::{self, TEST_PCRS, TestAuthority},
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
        AttestationError::ImageIdMismatch { expected, actual } if expected == [other] && actual == IMAGE_ID
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
fn a_certificate_not_signed_by_its_issuer_breaks_the_chain() {
    // The last byte of the regional certificate (index 1) is in its signature by the root.
    let cose = CoseSign1::from_slice(DOCUMENT).unwrap();
    let doc = AttestationDoc::from_binary(&cose.payload.unwrap()).unwrap();
    let regional = doc.cabundle[1].to_vec();
    let at = DOCUMENT
        .windows(regional.len())
        .position(|w| w == regional)
        .unwrap()
        + regional.len()
        - 1;
    let mut document = DOCUMENT.to_vec();
    document[at] ^= 0x01;
    match nitro::verify_document(&document, &policy(), TIME_MS).unwrap_err() {
        AttestationError::CertificateChain(reason) => {
            assert!(reason.starts_with("certificate 1 ("), "{reason}");
            assert!(reason.contains("not signed by its issuer"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
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

fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_millis(),
    )
    .expect("milliseconds fit in u64")
}

#[test]
fn a_chain_from_another_root_is_untrusted() {
    let key = SecretKey::random().public_key();
    let now_ms = now_ms();
    let authority = TestAuthority::new();
    let document = authority.document(&TEST_PCRS, &key.to_bytes(), now_ms);
    match nitro::verify(&document, &Policy::new(u64::MAX), now_ms).unwrap_err() {
        AttestationError::UntrustedRoot { fingerprint } => {
            assert_ne!(fingerprint, AWS_NITRO_ROOT_G1_FINGERPRINT);
            assert_eq!(
                fingerprint,
                alloy::hex::encode(authority.root_fingerprint())
            );
        }
        e => panic!("{e:?}"),
    }
    // The same document's content would pass every other check: it is only the root that fails.
    let cose = CoseSign1::from_slice(&document).unwrap();
    let doc = AttestationDoc::from_binary(&cose.payload.unwrap()).unwrap();
    assert_eq!(doc.public_key.unwrap().into_vec(), key.to_bytes());
    // Another test authority's root is not this one's either.
    assert!(matches!(
        nitro::verify(&document, &TestAuthority::new().policy(u64::MAX), now_ms).unwrap_err(),
        AttestationError::UntrustedRoot { .. }
    ));
}

/// Under a policy trusting its root, a test authority's document goes through the same checks as a real
/// one: it verifies, and tampering, age and expectations fail as they do for AWS documents.
#[test]
fn a_trusted_test_root_verifies_with_every_other_check() {
    let key = SecretKey::random().public_key();
    let now = now_ms();
    let authority = TestAuthority::new();
    let policy = authority.policy(5 * MINUTE_MS);
    assert_eq!(policy.trusted_root(), authority.root_fingerprint());
    assert_eq!(Policy::new(1).trusted_root(), nitro::AWS_NITRO_ROOT_G1);
    let image = testing::image_id(&TEST_PCRS);

    // In every accepted key encoding.
    for encoding in [key.to_bytes().to_vec(), key.to_compressed().to_vec()] {
        let document = authority.document(&TEST_PCRS, &encoding, now - 1_000);
        let verified = nitro::verify(&document, &policy.clone().with_image_id(image), now).unwrap();
        assert_eq!(verified.public_key, key);
        assert_eq!(verified.image_id, image);
        assert_eq!(verified.timestamp_ms, now - 1_000);
    }

    let document = authority.document(&TEST_PCRS, &key.to_bytes(), now - 1_000);
    // One of several accepted images.
    let other = B256::repeat_byte(0x22);
    nitro::verify(
        &document,
        &policy.clone().with_image_id(other).with_image_id(image),
        now,
    )
    .unwrap();
    match nitro::verify(&document, &policy.clone().with_image_id(other), now).unwrap_err() {
        e @ AttestationError::ImageIdMismatch { .. } => {
            assert_eq!(
                e.to_string(),
                format!("image id is {image}, expected {other}")
            );
        }
        e => panic!("{e:?}"),
    }
    // A flipped byte in the signed payload (the enclave key) or in the signature.
    let at = document
        .windows(64)
        .position(|w| w == key.to_bytes())
        .unwrap();
    let mut tampered = document.clone();
    tampered[at] ^= 1;
    assert!(matches!(
        nitro::verify(&tampered, &policy, now).unwrap_err(),
        AttestationError::BadSignature
    ));
    let mut tampered = document.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(matches!(
        nitro::verify(&tampered, &policy, now).unwrap_err(),
        AttestationError::BadSignature
    ));
    // Too old, and (certificates expire 1.5 h after the authority was made) past the chain's validity.
    assert!(matches!(
        nitro::verify(&document, &policy, now + 10 * MINUTE_MS).unwrap_err(),
        AttestationError::Expired { .. }
    ));
    assert!(matches!(
        nitro::verify(
            &document,
            &authority.policy(u64::MAX),
            now + 2 * 60 * MINUTE_MS
        )
        .unwrap_err(),
        AttestationError::CertificateNotValid { index: 4, .. }
    ));
    // A debug enclave (PCR0-2 zero) is refused here too.
    let debug = authority.document(&[[0; 48]; 3], &key.to_bytes(), now);
    assert!(matches!(
        nitro::verify(&debug, &policy, now).unwrap_err(),
        AttestationError::DebugEnclave
    ));
}

/// A key that is not secp256k1 is named by its type.
#[test]
fn other_key_types_are_named() {
    // The real document's RSA key.
    let e = nitro::verify(DOCUMENT, &policy(), TIME_MS + 1_000).unwrap_err();
    assert_eq!(
        e.to_string(),
        "attestation public key is not a secp256k1 key: an RSA-2048 key (294 bytes)"
    );
    let authority = TestAuthority::new();
    let now = now_ms();
    for (key, kind) in [
        (vec![7u8; 64], "not a point on secp256k1"),
        (vec![4u8; 10], "in no accepted encoding"),
    ] {
        let document = authority.document(&TEST_PCRS, &key, now);
        let e = nitro::verify(&document, &authority.policy(60_000), now).unwrap_err();
        assert!(
            matches!(&e, AttestationError::UnsupportedPublicKey { kind: k, .. } if k.starts_with(kind)),
            "{e}"
        );
    }
}
