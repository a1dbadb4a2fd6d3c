//! Arbitrary and mutated bytes never panic and never open.

use alloy::primitives::{Address, B256};
use kalypso_confidential::{
    Acl, Context, PublicKey, SecretKey, decrypt, nitro, open, rewrap, seal, unwrap,
};
use proptest::prelude::*;

const DOCUMENT: &[u8] = include_bytes!("../fixtures/nitro-attestation.cose");
const DOCUMENT_TIME_MS: u64 = 1_736_179_625_472;

const CONTEXT: Context = Context {
    chain_id: 1,
    marketplace: Address::repeat_byte(0xaa),
    market_id: 0,
    requester: Address::repeat_byte(0x01),
    inputs_hash: B256::repeat_byte(0x1c),
};

fn engine() -> SecretKey {
    SecretKey::from_bytes(&[7u8; 32]).expect("7…7 is a valid scalar")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_acls_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..200), first in 0u8..3) {
        let mut acl = bytes;
        if let Some(b) = acl.first_mut() { *b = first; }
        let key = engine();
        prop_assert!(unwrap(&acl, &CONTEXT, &key).is_err());
        prop_assert!(rewrap(&acl, &CONTEXT, &key, &key.public_key()).is_err());
        let sealed = seal(b"s", &CONTEXT, &key.public_key()).unwrap();
        prop_assert!(open(&sealed.ciphertext, &acl, &CONTEXT, &key).is_err());
        let _ = Acl::parse(&acl);
    }

    #[test]
    fn arbitrary_ciphertexts_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..200), first in 0u8..3) {
        let mut ciphertext = bytes;
        if let Some(b) = ciphertext.first_mut() { *b = first; }
        let key = engine();
        let sealed = seal(b"s", &CONTEXT, &key.public_key()).unwrap();
        prop_assert!(open(&ciphertext, &sealed.acl, &CONTEXT, &key).is_err());
        let data_key = unwrap(&sealed.acl, &CONTEXT, &key).unwrap();
        prop_assert!(decrypt(&ciphertext, &data_key, &CONTEXT).is_err());
    }

    #[test]
    fn arbitrary_keys_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..70)) {
        let _ = PublicKey::from_bytes(&bytes);
        let _ = SecretKey::from_bytes(&bytes);
    }

    #[test]
    fn mutated_envelopes_never_open(
        secret in proptest::collection::vec(any::<u8>(), 0..64),
        in_acl: bool,
        position: usize,
        mask in 1u8..,
    ) {
        let key = engine();
        let sealed = seal(&secret, &CONTEXT, &key.public_key()).unwrap();
        let opened = open(&sealed.ciphertext, &sealed.acl, &CONTEXT, &key).unwrap();
        prop_assert_eq!(opened.expose(), &secret[..]);
        let (mut ciphertext, mut acl) = (sealed.ciphertext, sealed.acl);
        let target = if in_acl { &mut acl } else { &mut ciphertext };
        let i = position % target.len();
        target[i] ^= mask;
        prop_assert!(open(&ciphertext, &acl, &CONTEXT, &key).is_err());
    }

    #[test]
    fn arbitrary_documents_are_errors(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        prop_assert!(nitro::verify(&bytes, &nitro::Policy::new(u64::MAX), DOCUMENT_TIME_MS).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_documents_are_errors(position in 0..DOCUMENT.len(), mask in 1u8..) {
        let mut document = DOCUMENT.to_vec();
        document[position] ^= mask;
        let policy = nitro::Policy::new(u64::MAX);
        prop_assert!(nitro::verify_document(&document, &policy, DOCUMENT_TIME_MS).is_err());
    }

    #[test]
    fn truncated_documents_are_errors(len in 0..DOCUMENT.len()) {
        let policy = nitro::Policy::new(u64::MAX);
        prop_assert!(nitro::verify_document(&DOCUMENT[..len], &policy, DOCUMENT_TIME_MS).is_err());
    }
}
