//! Seal, re-wrap and open, and every specific failure.

use alloy::primitives::{Address, B256};
use kalypso_confidential::{
    ACL_LEN, Acl, CIPHERTEXT_MIN_LEN, Context, Error, Part, PublicKey, SecretKey, commitment,
    decrypt, is_key_of, open, rewrap, rewrap_for_ciphertext, seal, unwrap, wrap_data_key,
};

const CONTEXT: Context = Context {
    chain_id: 31337,
    marketplace: Address::repeat_byte(0xaa),
    market_id: 3,
    requester: Address::repeat_byte(0x01),
    inputs_hash: B256::repeat_byte(0x1c),
};

struct Parties {
    engine: SecretKey,
    generator: SecretKey,
    other: SecretKey,
}

fn parties() -> Parties {
    Parties {
        engine: SecretKey::random(),
        generator: SecretKey::random(),
        other: SecretKey::random(),
    }
}

#[test]
fn requester_engine_generator_round_trip() {
    let p = parties();
    let secret = b"witness: 42, salt: 7".to_vec();
    let sealed = seal(&secret, &CONTEXT, &p.engine.public_key()).unwrap();

    // The engine can open what is wrapped to it, then re-wraps to the generator.
    assert_eq!(
        open(&sealed.ciphertext, &sealed.acl, &CONTEXT, &p.engine)
            .unwrap()
            .expose(),
        secret
    );
    let acl = rewrap(&sealed.acl, &CONTEXT, &p.engine, &p.generator.public_key()).unwrap();
    assert_eq!(acl.len(), ACL_LEN);
    assert_ne!(acl, sealed.acl);

    let parsed = Acl::parse(&acl).unwrap();
    assert_eq!(parsed.recipient(), p.generator.public_key().address());
    assert_eq!(parsed.commitment(), sealed.commitment());
    assert_eq!(parsed.to_bytes(), acl);

    assert_eq!(
        open(&sealed.ciphertext, &acl, &CONTEXT, &p.generator)
            .unwrap()
            .expose(),
        secret
    );
    let key = unwrap(&acl, &CONTEXT, &p.generator).unwrap();
    assert_eq!(
        decrypt(&sealed.ciphertext, &key, &CONTEXT)
            .unwrap()
            .expose(),
        secret
    );
    // The data key is the same one the engine unwraps.
    let engine_key = unwrap(&sealed.acl, &CONTEXT, &p.engine).unwrap();
    assert_eq!(
        decrypt(&sealed.ciphertext, &engine_key, &CONTEXT)
            .unwrap()
            .expose(),
        secret
    );
}

#[test]
fn empty_and_large_secrets_round_trip() {
    let p = parties();
    for len in [0, 1, 15, 16, 17, 1 << 16] {
        let secret: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let sealed = seal(&secret, &CONTEXT, &p.engine.public_key()).unwrap();
        assert_eq!(sealed.ciphertext.len(), CIPHERTEXT_MIN_LEN + len);
        assert_eq!(
            open(&sealed.ciphertext, &sealed.acl, &CONTEXT, &p.engine)
                .unwrap()
                .expose(),
            secret
        );
    }
}

#[test]
fn sealing_twice_gives_unrelated_envelopes() {
    let p = parties();
    let a = seal(b"same", &CONTEXT, &p.engine.public_key()).unwrap();
    let b = seal(b"same", &CONTEXT, &p.engine.public_key()).unwrap();
    assert_ne!(a.ciphertext, b.ciphertext);
    assert_ne!(a.acl, b.acl);
    assert_ne!(a.commitment(), b.commitment());
}

#[test]
fn wrong_recipient_is_named() {
    let p = parties();
    let sealed = seal(b"s", &CONTEXT, &p.engine.public_key()).unwrap();
    let expected = Error::WrongRecipient {
        recipient: p.engine.public_key().address(),
        key: p.other.public_key().address(),
    };
    assert_eq!(
        unwrap(&sealed.acl, &CONTEXT, &p.other).unwrap_err(),
        expected
    );
    assert_eq!(
        open(&sealed.ciphertext, &sealed.acl, &CONTEXT, &p.other).unwrap_err(),
        expected
    );
    assert_eq!(
        rewrap(&sealed.acl, &CONTEXT, &p.other, &p.generator.public_key()).unwrap_err(),
        expected
    );
}

#[test]
fn a_recipient_address_swapped_in_does_not_unwrap() {
    // Rewriting the recipient field to another key's address does not let that key in: the field is
    // authenticated, and the wrap key is derived for the original recipient.
    let p = parties();
    let sealed = seal(b"s", &CONTEXT, &p.engine.public_key()).unwrap();
    let mut acl = sealed.acl.clone();
    acl[33..53].copy_from_slice(p.other.public_key().address().as_slice());
    assert_eq!(
        unwrap(&acl, &CONTEXT, &p.other).unwrap_err(),
        Error::CorruptAcl
    );
}

#[test]
fn every_flipped_acl_byte_is_rejected() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    for i in 0..sealed.acl.len() {
        let mut acl = sealed.acl.clone();
        acl[i] ^= 0x01;
        let err = open(&sealed.ciphertext, &acl, &CONTEXT, &p.engine).unwrap_err();
        let expected = match i {
            0 => matches!(
                err,
                Error::UnsupportedVersion {
                    part: Part::Acl,
                    version: 0
                }
            ),
            1..33 => matches!(err, Error::AclMismatch { .. }),
            33..53 => matches!(err, Error::WrongRecipient { .. }),
            _ => err == Error::CorruptAcl,
        };
        assert!(expected, "byte {i}: {err:?}");
    }
}

#[test]
fn every_flipped_ciphertext_byte_is_rejected() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    let key = unwrap(&sealed.acl, &CONTEXT, &p.engine).unwrap();
    for i in 0..sealed.ciphertext.len() {
        let mut ciphertext = sealed.ciphertext.clone();
        ciphertext[i] ^= 0x80;
        // With the acl: the commitment no longer matches.
        let err = open(&ciphertext, &sealed.acl, &CONTEXT, &p.engine).unwrap_err();
        if i == 0 {
            assert!(
                matches!(
                    err,
                    Error::UnsupportedVersion {
                        part: Part::Ciphertext,
                        ..
                    }
                ),
                "{err:?}"
            );
        } else {
            assert!(
                matches!(err, Error::AclMismatch { .. }),
                "byte {i}: {err:?}"
            );
        }
        // With the key alone: the key commitment or the tag fails.
        if i > 0 {
            assert_eq!(
                decrypt(&ciphertext, &key, &CONTEXT).unwrap_err(),
                Error::CorruptCiphertext,
                "byte {i}"
            );
        }
    }
}

#[test]
fn an_acl_of_another_ask_is_a_mismatch_not_a_corrupt_ciphertext() {
    // An engine that puts one ask's acl into another ask's assignment must not make the generator blame
    // the requester: the acl commits to its ciphertext.
    let p = parties();
    let first = seal(b"first", &CONTEXT, &p.engine.public_key()).unwrap();
    let second = seal(b"second", &CONTEXT, &p.engine.public_key()).unwrap();
    let acl = rewrap(&first.acl, &CONTEXT, &p.engine, &p.generator.public_key()).unwrap();
    assert_eq!(
        open(&second.ciphertext, &acl, &CONTEXT, &p.generator).unwrap_err(),
        Error::AclMismatch {
            acl: first.commitment(),
            ciphertext: commitment(&second.ciphertext)
        }
    );
    // With the data key alone, the other ciphertext fails the key commitment.
    let key = unwrap(&acl, &CONTEXT, &p.generator).unwrap();
    assert_eq!(
        decrypt(&second.ciphertext, &key, &CONTEXT).unwrap_err(),
        Error::CorruptCiphertext
    );
}

#[test]
fn a_ciphertext_copied_into_another_ask_does_not_open() {
    // Someone copies a requester's ciphertext and acl into an ask of their own (or of another market,
    // marketplace or chain): even re-wrapped blindly, neither the acl nor the ciphertext opens for the copy,
    // so no proof over the copied secret is ever made.
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    let acl = rewrap(&sealed.acl, &CONTEXT, &p.engine, &p.generator.public_key()).unwrap();
    let copies = [
        Context {
            requester: Address::repeat_byte(0x02),
            ..CONTEXT
        },
        Context {
            market_id: 4,
            ..CONTEXT
        },
        Context {
            marketplace: Address::repeat_byte(0xbb),
            ..CONTEXT
        },
        Context {
            chain_id: 1,
            ..CONTEXT
        },
        // Same account, other inputs: someone else asking through a shared contract.
        Context {
            inputs_hash: B256::repeat_byte(0x2d),
            ..CONTEXT
        },
    ];
    for context in copies {
        assert_eq!(
            open(&sealed.ciphertext, &acl, &context, &p.generator).unwrap_err(),
            Error::CorruptAcl,
            "{context:?}"
        );
    }
    assert_eq!(
        open(&sealed.ciphertext, &acl, &CONTEXT, &p.generator)
            .unwrap()
            .expose(),
        b"secret"
    );
}

#[test]
fn truncated_and_overlong_inputs() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    assert_eq!(
        unwrap(&[], &CONTEXT, &p.engine).unwrap_err(),
        Error::Truncated {
            part: Part::Acl,
            len: 0,
            min: ACL_LEN
        }
    );
    assert_eq!(
        unwrap(&sealed.acl[..ACL_LEN - 1], &CONTEXT, &p.engine).unwrap_err(),
        Error::Truncated {
            part: Part::Acl,
            len: ACL_LEN - 1,
            min: ACL_LEN
        }
    );
    let mut long = sealed.acl.clone();
    long.push(0);
    assert_eq!(
        unwrap(&long, &CONTEXT, &p.engine).unwrap_err(),
        Error::AclLength { len: ACL_LEN + 1 }
    );
    assert_eq!(
        open(
            &sealed.ciphertext[..CIPHERTEXT_MIN_LEN - 1],
            &sealed.acl,
            &CONTEXT,
            &p.engine
        )
        .unwrap_err(),
        Error::Truncated {
            part: Part::Ciphertext,
            len: CIPHERTEXT_MIN_LEN - 1,
            min: CIPHERTEXT_MIN_LEN
        }
    );
    assert_eq!(
        open(&[], &sealed.acl, &CONTEXT, &p.engine).unwrap_err(),
        Error::Truncated {
            part: Part::Ciphertext,
            len: 0,
            min: CIPHERTEXT_MIN_LEN
        }
    );
    // A truncated body (still above the minimum) changes the commitment.
    let cut = &sealed.ciphertext[..sealed.ciphertext.len() - 1];
    assert!(matches!(
        open(cut, &sealed.acl, &CONTEXT, &p.engine).unwrap_err(),
        Error::AclMismatch { .. }
    ));
}

#[test]
fn unknown_versions_are_named() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    let mut acl = sealed.acl.clone();
    acl[0] = 2;
    assert_eq!(
        unwrap(&acl, &CONTEXT, &p.engine).unwrap_err(),
        Error::UnsupportedVersion {
            part: Part::Acl,
            version: 2
        }
    );
    let mut ciphertext = sealed.ciphertext.clone();
    ciphertext[0] = 0xff;
    let key = unwrap(&sealed.acl, &CONTEXT, &p.engine).unwrap();
    assert_eq!(
        decrypt(&ciphertext, &key, &CONTEXT).unwrap_err(),
        Error::UnsupportedVersion {
            part: Part::Ciphertext,
            version: 0xff
        }
    );
}

#[test]
fn public_key_encodings() {
    let key = SecretKey::random().public_key();
    let raw = key.to_bytes();
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&raw);
    assert_eq!(PublicKey::from_bytes(&raw).unwrap(), key);
    assert_eq!(PublicKey::from_bytes(&sec1).unwrap(), key);
    assert_eq!(PublicKey::from_bytes(&key.to_compressed()).unwrap(), key);
    assert_eq!(
        PublicKey::from_bytes(&raw[..63]).unwrap_err(),
        Error::InvalidPublicKey { len: 63 }
    );
    let mut off_curve = raw;
    off_curve[63] ^= 1;
    assert_eq!(
        PublicKey::from_bytes(&off_curve).unwrap_err(),
        Error::PublicKeyNotOnCurve
    );
    assert_eq!(
        SecretKey::from_bytes(&[0u8; 32]).unwrap_err(),
        Error::InvalidSecretKey
    );
    assert_eq!(
        SecretKey::from_bytes(&[1u8; 31]).unwrap_err(),
        Error::InvalidSecretKey
    );
}

#[test]
fn key_addresses_are_ethereum_addresses() {
    // The web3.js accounts example key: the acl's recipient is the key's Ethereum address.
    let key = SecretKey::from_bytes(
        &alloy::hex::decode("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        key.public_key().address(),
        "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
            .parse::<alloy::primitives::Address>()
            .unwrap()
    );
    assert_eq!(
        SecretKey::from_bytes(key.to_bytes().as_slice())
            .unwrap()
            .public_key(),
        key.public_key()
    );
}

#[test]
fn debug_output_never_shows_secrets() {
    let p = parties();
    let plaintext = b"TOP-SECRET-PLAINTEXT".to_vec();
    let sealed = seal(&plaintext, &CONTEXT, &p.engine.public_key()).unwrap();
    let secret = open(&sealed.ciphertext, &sealed.acl, &CONTEXT, &p.engine).unwrap();
    let data_key = unwrap(&sealed.acl, &CONTEXT, &p.engine).unwrap();
    let engine_bytes = alloy::hex::encode(p.engine.to_bytes().as_slice());

    let printed = format!("{secret:?} {data_key:?} {:?} {:#?}", p.engine, p.engine);
    assert!(!printed.contains("TOP-SECRET"), "{printed}");
    assert!(!printed.contains(&engine_bytes), "{printed}");
    assert!(printed.contains("redacted"), "{printed}");
    assert!(
        printed.contains(&p.engine.public_key().address().to_string()),
        "{printed}"
    );
}

#[test]
fn the_engine_refuses_what_is_the_requesters_fault_before_assigning() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    let to_generator = |ciphertext: &[u8], acl: &[u8]| {
        rewrap_for_ciphertext(
            ciphertext,
            acl,
            &CONTEXT,
            &p.engine,
            &p.generator.public_key(),
        )
    };
    // A well-made ask: the generator opens it.
    let rewrapped = to_generator(&sealed.ciphertext, &sealed.acl).unwrap();
    assert!(rewrapped.decrypts);
    let acl = rewrapped.acl;
    assert_eq!(
        open(&sealed.ciphertext, &acl, &CONTEXT, &p.generator)
            .unwrap()
            .expose(),
        b"secret"
    );
    // An acl of another ask's ciphertext.
    let other = seal(b"other", &CONTEXT, &p.engine.public_key()).unwrap();
    assert!(matches!(
        to_generator(&other.ciphertext, &sealed.acl).unwrap_err(),
        Error::AclMismatch { .. }
    ));
    // An acl committing to the ciphertext but wrapping a key it was not made with.
    let stray = unwrap(&other.acl, &CONTEXT, &p.engine).unwrap();
    let acl = wrap_data_key(
        &stray,
        sealed.commitment(),
        &CONTEXT,
        &p.engine.public_key(),
    )
    .unwrap();
    assert_eq!(
        to_generator(&sealed.ciphertext, &acl).unwrap_err(),
        Error::ForeignDataKey
    );
    // An acl wrapped to another key.
    assert!(matches!(
        rewrap_for_ciphertext(
            &sealed.ciphertext,
            &sealed.acl,
            &CONTEXT,
            &p.other,
            &p.generator.public_key()
        )
        .unwrap_err(),
        Error::WrongRecipient { .. }
    ));
    // Garbage and a truncated ciphertext.
    assert!(to_generator(&sealed.ciphertext, b"not an acl").is_err());
    assert!(to_generator(&sealed.ciphertext[..10], &sealed.acl).is_err());
}

/// Attack: a requester's ciphertext and acl copied from the chain into an ask of another requester, market,
/// marketplace or chain (for instance a market whose IVS key or prover image the copier controls). The acl
/// names the ask it was made for (its associated data is the ask's context), so it does not open under the
/// copy's: the engine refuses it, and the data key is re-wrapped to nobody.
#[test]
fn the_engine_refuses_a_ciphertext_copied_into_another_ask() {
    let p = parties();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    for copy in [
        Context {
            requester: Address::repeat_byte(0x02),
            ..CONTEXT
        },
        Context {
            market_id: 4,
            ..CONTEXT
        },
        Context {
            marketplace: Address::repeat_byte(0xbb),
            ..CONTEXT
        },
        Context {
            chain_id: 1,
            ..CONTEXT
        },
        // Same account, other inputs: someone else asking through a shared contract.
        Context {
            inputs_hash: B256::repeat_byte(0x2d),
            ..CONTEXT
        },
    ] {
        assert_eq!(
            rewrap_for_ciphertext(
                &sealed.ciphertext,
                &sealed.acl,
                &copy,
                &p.engine,
                &p.other.public_key()
            )
            .unwrap_err(),
            Error::CorruptAcl,
            "{copy:?}"
        );
    }
}

#[test]
fn a_corrupt_body_goes_to_the_ivs_which_can_tell_it_from_a_wrong_key() {
    let p = parties();
    let ivs = SecretKey::random();
    let sealed = seal(b"secret", &CONTEXT, &p.engine.public_key()).unwrap();
    // The requester alters the body after sealing and commits the ask to the altered bytes: the acl's
    // commitment is re-made over them (the requester holds the data key).
    let key = unwrap(&sealed.acl, &CONTEXT, &p.engine).unwrap();
    let mut corrupt = sealed.ciphertext.clone();
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let acl = wrap_data_key(&key, commitment(&corrupt), &CONTEXT, &p.engine.public_key()).unwrap();
    // The engine passes it on: the acl is this ask's and the key the ciphertext's, only the body fails.
    let rewrapped = rewrap_for_ciphertext(
        &corrupt,
        &acl,
        &CONTEXT,
        &p.engine,
        &p.generator.public_key(),
    )
    .unwrap();
    assert!(!rewrapped.decrypts);
    let to_generator = rewrapped.acl;
    // The enclave cannot decrypt, hands its key to the IVS, which finds it is the ciphertext's key.
    assert_eq!(
        open(&corrupt, &to_generator, &CONTEXT, &p.generator).unwrap_err(),
        Error::CorruptCiphertext
    );
    let held = unwrap(&to_generator, &CONTEXT, &p.generator).unwrap();
    let to_ivs = wrap_data_key(&held, commitment(&corrupt), &CONTEXT, &ivs.public_key()).unwrap();
    let at_ivs = unwrap(&to_ivs, &CONTEXT, &ivs).unwrap();
    assert!(is_key_of(&corrupt, &at_ivs));
    assert_eq!(
        decrypt(&corrupt, &at_ivs, &CONTEXT).unwrap_err(),
        Error::CorruptCiphertext
    );
    // A generator that hands over another key is caught by the same check.
    let stray = unwrap(
        &seal(b"x", &CONTEXT, &p.engine.public_key()).unwrap().acl,
        &CONTEXT,
        &p.engine,
    )
    .unwrap();
    assert!(!is_key_of(&corrupt, &stray));
    assert!(!is_key_of(b"short", &at_ivs));
}
