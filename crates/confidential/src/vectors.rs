//! The envelope test vectors in `test-vectors/envelope-v1.json`, for other implementations (a browser
//! portal, an enclave in another language). Regenerate with `UPDATE_TEST_VECTORS=1 cargo test -p
//! kalypso-confidential --lib vectors`; otherwise the test fails if the file differs from what this code
//! produces, and opens every vector from the file.

use std::path::PathBuf;

use alloy::hex;
use k256::ecdh::diffie_hellman;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use alloy::primitives::{address, b256};

use crate::{
    Context, DataKey, Error, PublicKey, SecretKey,
    envelope::{self, encrypt, key_commitment, wrap_key, wrap_with_ephemeral},
};

/// One key wrap: inputs and intermediate values.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Wrap {
    recipient_secret_key: String,
    recipient_public_key: String,
    recipient_address: String,
    ephemeral_secret_key: String,
    ephemeral_public_key_compressed: String,
    ecdh_shared_x: String,
    hkdf_info: String,
    wrap_key: String,
    wrap_nonce: String,
    acl: String,
}

/// A corrupted input and the error it must give.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Invalid {
    description: String,
    ciphertext: String,
    acl: String,
    error: String,
}

#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Vectors {
    description: String,
    context_chain_id: u64,
    context_marketplace: String,
    context_market_id: u64,
    context_requester: String,
    context_inputs_hash: String,
    context_encoded: String,
    plaintext: String,
    data_key: String,
    key_commitment: String,
    nonce: String,
    ciphertext: String,
    secret_commitment: String,
    to_matching_engine: Wrap,
    rewrapped_to_generator: Wrap,
    invalid: Vec<Invalid>,
}

const CONTEXT: Context = Context {
    chain_id: 31337,
    marketplace: address!("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
    market_id: 7,
    requester: address!("0x70997970C51812dc3A010C7d01b50e0d17dc79C8"),
    inputs_hash: b256!("0x1111111111111111111111111111111111111111111111111111111111111111"),
};

fn h(bytes: impl AsRef<[u8]>) -> String {
    hex::encode_prefixed(bytes)
}

fn key(byte: u8) -> SecretKey {
    let mut bytes = [byte; 32];
    bytes[0] = 0x01;
    SecretKey::from_bytes(&bytes).unwrap()
}

fn wrap(
    data_key: &DataKey,
    commitment: alloy::primitives::B256,
    recipient: &SecretKey,
    ephemeral: &SecretKey,
) -> Wrap {
    let recipient_public = recipient.public_key();
    let ephemeral_public = ephemeral.public_key();
    let acl =
        wrap_with_ephemeral(data_key, commitment, &CONTEXT, &recipient_public, ephemeral).unwrap();
    let shared = diffie_hellman(
        ephemeral.inner().to_nonzero_scalar(),
        recipient_public.point().as_affine(),
    );
    let (wrap_key, nonce) = wrap_key(
        ephemeral,
        &recipient_public,
        &ephemeral_public,
        &recipient_public,
    );
    let info = [
        envelope::ACL_DOMAIN,
        &ephemeral_public.to_compressed(),
        &recipient_public.to_bytes(),
    ]
    .concat();
    Wrap {
        recipient_secret_key: h(recipient.to_bytes().as_slice()),
        recipient_public_key: h(recipient_public.to_bytes()),
        recipient_address: recipient_public.address().to_checksum(None),
        ephemeral_secret_key: h(ephemeral.to_bytes().as_slice()),
        ephemeral_public_key_compressed: h(ephemeral_public.to_compressed()),
        ecdh_shared_x: h(shared.raw_secret_bytes()),
        hkdf_info: h(info),
        wrap_key: h(wrap_key.as_slice()),
        wrap_nonce: h(nonce),
        acl: h(acl),
    }
}

fn generate() -> Vectors {
    let plaintext = b"kalypso confidential input: {\"witness\": 42}".to_vec();
    let data_key = DataKey::from_array(Zeroizing::new([0x42; 32]));
    let nonce = [0x24; 12];
    let ciphertext = encrypt(&plaintext, &data_key, nonce, &CONTEXT).unwrap();
    let commitment = envelope::commitment(&ciphertext);
    let engine = key(0xe1);
    let generator = key(0x9e);
    let to_engine = wrap(&data_key, commitment, &engine, &key(0x11));
    let to_generator = wrap(&data_key, commitment, &generator, &key(0x22));

    let acl = hex::decode(&to_generator.acl).unwrap();
    let mut invalid = Vec::new();
    let mut case = |description: &str, ciphertext: &[u8], acl: &[u8], context: &Context| {
        let error = match crate::open(ciphertext, acl, context, &generator) {
            Ok(_) => "none".to_string(),
            Err(e) => error_name(&e).to_string(),
        };
        invalid.push(Invalid {
            description: description.into(),
            ciphertext: h(ciphertext),
            acl: h(acl),
            error,
        });
    };
    let mut flipped = ciphertext.clone();
    *flipped.last_mut().unwrap() ^= 1;
    case(
        "ciphertext tag flipped (acl commits to the original)",
        &flipped,
        &acl,
        &CONTEXT,
    );
    let mut bad_tag = acl.clone();
    *bad_tag.last_mut().unwrap() ^= 1;
    case("acl tag flipped", &ciphertext, &bad_tag, &CONTEXT);
    case(
        "acl wrapped to the Matching Engine, opened by the generator",
        &ciphertext,
        &hex::decode(&to_engine.acl).unwrap(),
        &CONTEXT,
    );
    let mut other = CONTEXT;
    other.requester = address!("0x3C44CdDdB6a900fa2b585c299e03d12FA4293BC5");
    case(
        "ciphertext and acl opened for another requester (0x3C44CdDdB6a900fa2b585c299e03d12FA4293BC5)",
        &ciphertext,
        &acl,
        &other,
    );
    case(
        "acl truncated",
        &ciphertext,
        &acl[..acl.len() - 1],
        &CONTEXT,
    );
    let mut v2 = acl.clone();
    v2[0] = 2;
    case("acl version 2", &ciphertext, &v2, &CONTEXT);
    // The requester wraps a key that is not the ciphertext's (its acl commits to the ciphertext).
    let other_key = DataKey::from_array(Zeroizing::new([0x43; 32]));
    let wrong_key_acl = wrap_with_ephemeral(
        &other_key,
        commitment,
        &CONTEXT,
        &generator.public_key(),
        &key(0x33),
    )
    .unwrap();
    case(
        "acl carries another data key (requester's garbage)",
        &ciphertext,
        &wrong_key_acl,
        &CONTEXT,
    );

    Vectors {
        description: "kalypso-confidential envelope v1: AES-256-GCM secret (associated data: secret domain ‖ ciphertext header ‖ context), ECIES (secp256k1 ECDH, HKDF-SHA256, AES-256-GCM) acl (associated data: acl domain ‖ acl header ‖ context). All byte strings are hex; keys are 32-byte big-endian scalars and 64-byte x||y points.".into(),
        context_chain_id: CONTEXT.chain_id,
        context_marketplace: CONTEXT.marketplace.to_checksum(None),
        context_market_id: CONTEXT.market_id,
        context_requester: CONTEXT.requester.to_checksum(None),
        context_inputs_hash: h(CONTEXT.inputs_hash),
        context_encoded: h(CONTEXT.encode()),
        plaintext: h(&plaintext),
        data_key: h(data_key.as_array()),
        key_commitment: h(key_commitment(&data_key)),
        nonce: h(nonce),
        ciphertext: h(&ciphertext),
        secret_commitment: h(commitment),
        to_matching_engine: to_engine,
        rewrapped_to_generator: to_generator,
        invalid,
    }
}

fn error_name(error: &Error) -> &'static str {
    match error {
        Error::Truncated { .. } => "Truncated",
        Error::AclLength { .. } => "AclLength",
        Error::UnsupportedVersion { .. } => "UnsupportedVersion",
        Error::WrongRecipient { .. } => "WrongRecipient",
        Error::CorruptAcl => "CorruptAcl",
        Error::ForeignDataKey => "ForeignDataKey",
        Error::AclMismatch { .. } => "AclMismatch",
        Error::CorruptCiphertext => "CorruptCiphertext",
        Error::InvalidPublicKey { .. } => "InvalidPublicKey",
        Error::PublicKeyNotOnCurve => "PublicKeyNotOnCurve",
        Error::InvalidSecretKey => "InvalidSecretKey",
        Error::SecretTooLarge { .. } => "SecretTooLarge",
    }
}

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("test-vectors/envelope-v1.json")
}

#[test]
fn vectors() {
    let generated = generate();
    let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
    if std::env::var_os("UPDATE_TEST_VECTORS").is_some() {
        std::fs::write(path(), &text).unwrap();
    }
    let stored: Vectors = serde_json::from_str(&std::fs::read_to_string(path()).unwrap()).unwrap();
    assert_eq!(
        stored, generated,
        "test vectors changed: rerun with UPDATE_TEST_VECTORS=1 and review"
    );

    // The file's values open with this implementation, from their bytes alone.
    let plaintext = hex::decode(&stored.plaintext).unwrap();
    let ciphertext = hex::decode(&stored.ciphertext).unwrap();
    assert_eq!(h(crate::commitment(&ciphertext)), stored.secret_commitment);
    for wrap in [&stored.to_matching_engine, &stored.rewrapped_to_generator] {
        let secret =
            SecretKey::from_bytes(&hex::decode(&wrap.recipient_secret_key).unwrap()).unwrap();
        let public =
            PublicKey::from_bytes(&hex::decode(&wrap.recipient_public_key).unwrap()).unwrap();
        assert_eq!(secret.public_key(), public);
        let acl = hex::decode(&wrap.acl).unwrap();
        assert_eq!(
            crate::open(&ciphertext, &acl, &CONTEXT, &secret)
                .unwrap()
                .expose(),
            plaintext
        );
    }
    // A flipped ciphertext changes its commitment, so the acl no longer matches it.
    let expected = [
        "AclMismatch",
        "CorruptAcl",
        "WrongRecipient",
        "CorruptAcl",
        "Truncated",
        "UnsupportedVersion",
        "CorruptCiphertext",
    ];
    let errors: Vec<&str> = stored.invalid.iter().map(|c| c.error.as_str()).collect();
    assert_eq!(errors, expected);
}
