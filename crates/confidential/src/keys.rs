//! Keys: a recipient's public key in the registry's layout, an enclave's secret key, the per-secret data
//! key and the plaintext secret. Every type holding secret bytes zeroizes them on drop and never prints
//! them.

use std::fmt;

use alloy::primitives::Address;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::{Error, Result};

/// Length of a public key as `EntityKeyRegistry` stores it: an uncompressed secp256k1 point without the
/// `0x04` prefix (x ‖ y).
pub const PUBLIC_KEY_LEN: usize = 64;

/// Length of a data key (AES-256).
pub const DATA_KEY_LEN: usize = 32;

/// A recipient's secp256k1 public key (the Matching Engine's, an IVS's or a generator enclave's), checked
/// to be a point on the curve.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(k256::PublicKey);

impl PublicKey {
    /// Reads a key in the registry's 64-byte layout (x ‖ y), or as a 65-byte SEC1 uncompressed point
    /// (`0x04` ‖ x ‖ y), or as a 33-byte SEC1 compressed point.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let point = match bytes.len() {
            PUBLIC_KEY_LEN => {
                let mut sec1 = [0u8; PUBLIC_KEY_LEN + 1];
                sec1[0] = 0x04;
                sec1[1..].copy_from_slice(bytes);
                k256::PublicKey::from_sec1_bytes(&sec1)
            }
            33 | 65 => k256::PublicKey::from_sec1_bytes(bytes),
            len => return Err(Error::InvalidPublicKey { len }),
        };
        point.map(Self).map_err(|_| Error::PublicKeyNotOnCurve)
    }

    /// The key in the registry's layout: x ‖ y, 64 bytes.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        let point = self.0.to_encoded_point(false);
        let mut out = [0u8; PUBLIC_KEY_LEN];
        // An uncompressed SEC1 encoding of a non-identity point is always 0x04 ‖ x ‖ y (65 bytes); a
        // `k256::PublicKey` is never the identity.
        out.copy_from_slice(&point.as_bytes()[1..]);
        out
    }

    /// The key as a 33-byte SEC1 compressed point.
    pub fn to_compressed(&self) -> [u8; 33] {
        let point = self.0.to_encoded_point(true);
        let mut out = [0u8; 33];
        out.copy_from_slice(point.as_bytes());
        out
    }

    /// The key's Ethereum address, `keccak256(x ‖ y)[12..]`, as `EntityKeyRegistry` derives it.
    pub fn address(&self) -> Address {
        Address::from_raw_public_key(&self.to_bytes())
    }

    pub(crate) fn point(&self) -> &k256::PublicKey {
        &self.0
    }
}

impl From<k256::PublicKey> for PublicKey {
    fn from(key: k256::PublicKey) -> Self {
        Self(key)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PublicKey({})",
            alloy::hex::encode_prefixed(self.to_bytes())
        )
    }
}

/// A secp256k1 secret key of an entity that receives wrapped data keys (an enclave, or the Matching
/// Engine). Zeroized on drop; `Debug` shows only its address.
#[derive(Clone)]
pub struct SecretKey(k256::SecretKey);

impl SecretKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn random() -> Self {
        Self::random_with_rng(&mut rand_core::OsRng)
    }

    /// A fresh key from `rng`.
    pub fn random_with_rng(rng: &mut impl CryptoRngCore) -> Self {
        Self(k256::SecretKey::random(rng))
    }

    /// Reads a 32-byte big-endian scalar; zero and values at or above the curve order are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        // `from_slice` would also take (and left-pad) 24 to 31 bytes.
        let bytes: &[u8; 32] = bytes.try_into().map_err(|_| Error::InvalidSecretKey)?;
        k256::SecretKey::from_bytes(bytes.into())
            .map(Self)
            .map_err(|_| Error::InvalidSecretKey)
    }

    /// The secret key of an ECDSA signing key (for example the credential of an alloy
    /// `PrivateKeySigner`), so one key can both sign and receive wrapped data keys.
    pub fn from_signing_key(key: &k256::ecdsa::SigningKey) -> Self {
        Self(k256::SecretKey::from(key))
    }

    /// The 32 secret bytes, for storage in a keystore. Zeroized when the returned value is dropped.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&self.0.to_bytes());
        out
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.public_key())
    }

    pub(crate) fn inner(&self) -> &k256::SecretKey {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SecretKey(<redacted>, address {})",
            self.public_key().address()
        )
    }
}

/// The fresh AES-256 key that encrypts one secret. Whoever holds it can read that secret: the requester,
/// the Matching Engine while it re-wraps the key, and the assigned generator's (or an IVS's) enclave.
/// Zeroized on drop; `Debug` never prints it.
pub struct DataKey(Zeroizing<[u8; DATA_KEY_LEN]>);

impl DataKey {
    pub(crate) fn random(rng: &mut impl CryptoRngCore) -> Self {
        let mut key = Zeroizing::new([0u8; DATA_KEY_LEN]);
        rng.fill_bytes(key.as_mut());
        Self(key)
    }

    pub(crate) fn from_array(key: Zeroizing<[u8; DATA_KEY_LEN]>) -> Self {
        Self(key)
    }

    pub(crate) fn as_array(&self) -> &[u8; DATA_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A plaintext secret input. Zeroized on drop; `Debug` shows only its length.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps plaintext bytes.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The plaintext. Hand it only to code inside the trust boundary (the prover); never log it.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length of the plaintext in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the plaintext is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Secret {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<{} bytes redacted>)", self.0.len())
    }
}
