#![doc = include_str!("../README.md")]

mod envelope;
mod keys;
pub mod nitro;
#[cfg(feature = "testing")]
pub mod testing;

#[cfg(test)]
mod vectors;

use std::fmt;

use alloy::primitives::{Address, B256};

pub use envelope::{
    ACL_DOMAIN, ACL_HEADER_LEN, ACL_LEN, Acl, CIPHERTEXT_HEADER_LEN, CIPHERTEXT_MIN_LEN, Context,
    KEY_COMMITMENT_DOMAIN, Rewrapped, SECRET_AAD_DOMAIN, SECRET_COMMITMENT_DOMAIN, Sealed, VERSION,
    commitment, data_key, decrypt, is_key_of, open, rewrap, rewrap_for_ciphertext, rewrap_with_rng,
    seal, seal_with_rng, unwrap, wrap_data_key,
};
pub use keys::{DATA_KEY_LEN, DataKey, PUBLIC_KEY_LEN, PublicKey, Secret, SecretKey};
pub use nitro::{AttestationDocument, AttestationError, Policy, VerifiedAttestation};

/// Result of the envelope operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which byte string of an envelope an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The encrypted secret (an ask's `secret`).
    Ciphertext,
    /// The wrapped data key (an ask's or an assignment's `acl`).
    Acl,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ciphertext => "ciphertext",
            Self::Acl => "acl",
        })
    }
}

/// Why an envelope operation failed. No variant carries secret material.
///
/// Whose fault an error is depends on who meets it: an acl that fails at the Matching Engine is the
/// requester's (the engine skips the ask); an acl that fails in a generator's enclave came from the
/// engine's signed assignment; a [`Error::CorruptCiphertext`] under an acl that unwraps is the requester's
/// (the invalid-input path).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The input ends before its fixed-size fields do.
    #[error("{part} is truncated: {len} bytes, at least {min} needed")]
    Truncated {
        /// Which input.
        part: Part,
        /// Its length.
        len: usize,
        /// The shortest valid length.
        min: usize,
    },
    /// An acl is longer than the fixed length of its version.
    #[error("acl has {len} bytes; a version-1 acl has exactly {ACL_LEN}")]
    AclLength {
        /// Its length.
        len: usize,
    },
    /// The version byte is not one this build reads.
    #[error("{part} has version {version}; this build reads version {VERSION}")]
    UnsupportedVersion {
        /// Which input.
        part: Part,
        /// The version byte found.
        version: u8,
    },
    /// The acl is wrapped to another key.
    #[error("acl is wrapped to {recipient}, not to this key ({key})")]
    WrongRecipient {
        /// Address of the key the acl names.
        recipient: Address,
        /// Address of the key that tried to unwrap it.
        key: Address,
    },
    /// The acl names this key but its wrapped key does not authenticate: made for another ask (its context is
    /// the associated data: copied from another requester's ask, or one with other inputs), altered, or not
    /// made by this layout; or its ephemeral key is not a curve point.
    #[error(
        "acl is corrupt: its wrapped data key does not authenticate for this ask (made for another, or altered)"
    )]
    CorruptAcl,
    /// The acl was made for another ciphertext (its commitment differs).
    #[error("acl belongs to the ciphertext with commitment {acl}, not to this one ({ciphertext})")]
    AclMismatch {
        /// Commitment the acl carries.
        acl: B256,
        /// Commitment of the ciphertext given.
        ciphertext: B256,
    },
    /// The ciphertext does not decrypt under the data key of its acl (altered, or encrypted under another
    /// key by its requester).
    #[error("ciphertext is corrupt: it does not decrypt under the data key of its acl")]
    CorruptCiphertext,
    /// The acl's data key is not the one the ciphertext was made with (its key commitment): the requester
    /// wrapped another key. Nobody can judge such an ask (an IVS takes a key that is not the ciphertext's for
    /// the teller's fault), so the engine refuses it.
    #[error("acl carries a data key the ciphertext was not made with")]
    ForeignDataKey,
    /// A public key has a length no accepted encoding has.
    #[error(
        "public key has {len} bytes; expected 64 (x ‖ y), 65 (SEC1 uncompressed) or 33 (SEC1 compressed)"
    )]
    InvalidPublicKey {
        /// Its length.
        len: usize,
    },
    /// A public key's bytes are not a point on secp256k1.
    #[error("public key is not a point on secp256k1")]
    PublicKeyNotOnCurve,
    /// A secret key is not 32 bytes of a non-zero scalar below the curve order.
    #[error(
        "secret key is not a valid secp256k1 scalar (32 bytes, non-zero, below the curve order)"
    )]
    InvalidSecretKey,
    /// A secret beyond AES-GCM's message limit (64 GiB).
    #[error("secret of {len} bytes is beyond AES-GCM's message limit")]
    SecretTooLarge {
        /// Its length.
        len: usize,
    },
}
