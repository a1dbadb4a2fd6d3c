//! The sealed-secret envelope: a secret encrypted under a fresh data key (AES-256-GCM), and an acl that
//! wraps the data key to one recipient (ECIES on secp256k1: ephemeral ECDH, HKDF-SHA256, AES-256-GCM).
//! Byte layouts are in the crate documentation.

use aes_gcm::{
    Aes256Gcm, KeyInit,
    aead::{Aead, Payload},
};
use alloy::primitives::{Address, B256, keccak256};
use hkdf::Hkdf;
use k256::ecdh::diffie_hellman;
use rand_core::CryptoRngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::{
    Error, Part, Result,
    keys::{DATA_KEY_LEN, DataKey, PublicKey, Secret, SecretKey},
};

/// Version byte of the layouts this crate writes (ciphertext and acl).
pub const VERSION: u8 = 1;

/// Domain tag of the key commitment inside a ciphertext.
pub const KEY_COMMITMENT_DOMAIN: &[u8] = b"kalypso-confidential/v1/key-commitment";
/// Domain tag prefixed to a ciphertext's associated data.
pub const SECRET_AAD_DOMAIN: &[u8] = b"kalypso-confidential/v1/secret";
/// Domain tag of the secret commitment an ask carries.
pub const SECRET_COMMITMENT_DOMAIN: &[u8] = b"kalypso-confidential/v1/secret-commitment";
/// Domain tag of the acl: HKDF `info` prefix and associated-data prefix.
pub const ACL_DOMAIN: &[u8] = b"kalypso-confidential/v1/acl";

const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const COMMITMENT_LEN: usize = 32;

/// Bytes of a ciphertext before the AES-GCM output: version, key commitment, nonce.
pub const CIPHERTEXT_HEADER_LEN: usize = 1 + COMMITMENT_LEN + NONCE_LEN;
/// Shortest ciphertext (an empty secret): header and tag.
pub const CIPHERTEXT_MIN_LEN: usize = CIPHERTEXT_HEADER_LEN + TAG_LEN;

const ACL_COMMITMENT: usize = 1;
const ACL_RECIPIENT: usize = ACL_COMMITMENT + 32;
const ACL_EPHEMERAL: usize = ACL_RECIPIENT + 20;
const ACL_WRAPPED: usize = ACL_EPHEMERAL + 33;
/// Bytes of an acl before the wrapped key: version, secret commitment, recipient, ephemeral key.
pub const ACL_HEADER_LEN: usize = ACL_WRAPPED;
/// Length of an acl (version 1).
pub const ACL_LEN: usize = ACL_HEADER_LEN + DATA_KEY_LEN + TAG_LEN;

/// Where a secret may be used: the ask it is sealed for — its chain, marketplace, market, requester and public
/// inputs. It is the associated data of the ciphertext and of every acl of it, so a ciphertext and acl copied
/// into another ask (another requester's, or one with other inputs from the same account, such as a contract
/// many users ask through) do not open: nobody can have a proof computed over someone else's secret, nor its
/// key handed to anyone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Context {
    /// Chain id of the marketplace.
    pub chain_id: u64,
    /// The `ProofMarketplace` proxy.
    pub marketplace: Address,
    /// The market the ask is created in.
    pub market_id: u64,
    /// The account that creates the ask (`msg.sender` of `createAsk`, the `requester` of `AskCreated`).
    pub requester: Address,
    /// `keccak256` of the ask's public inputs (`proverData`, as the marketplace stores its hash).
    pub inputs_hash: B256,
}

impl Context {
    /// Length of [`Context::encode`].
    pub const ENCODED_LEN: usize = 32 + 20 + 32 + 20 + 32;

    /// `chain_id (32, big-endian) ‖ marketplace (20) ‖ market_id (32, big-endian) ‖ requester (20) ‖
    /// inputs_hash (32)`.
    pub fn encode(&self) -> [u8; Self::ENCODED_LEN] {
        let mut out = [0u8; Self::ENCODED_LEN];
        out[24..32].copy_from_slice(&self.chain_id.to_be_bytes());
        out[32..52].copy_from_slice(self.marketplace.as_slice());
        out[76..84].copy_from_slice(&self.market_id.to_be_bytes());
        out[84..104].copy_from_slice(self.requester.as_slice());
        out[104..].copy_from_slice(self.inputs_hash.as_slice());
        out
    }
}

/// A sealed secret: the ciphertext and the acl that lets its recipient read it. Both are public (they go
/// into the ask's `secret` and `acl`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// The encrypted secret (ciphertext layout).
    pub ciphertext: Vec<u8>,
    /// The data key wrapped to the recipient (acl layout).
    pub acl: Vec<u8>,
}

impl Sealed {
    /// The commitment to the secret an ask carries: [`commitment`] of the ciphertext.
    pub fn commitment(&self) -> B256 {
        commitment(&self.ciphertext)
    }
}

/// Encrypts `secret` for the ask `context` under a fresh data key and wraps the key to `recipient` (the
/// Matching Engine's key), with the operating system's CSPRNG.
pub fn seal(secret: &[u8], context: &Context, recipient: &PublicKey) -> Result<Sealed> {
    seal_with_rng(secret, context, recipient, &mut rand_core::OsRng)
}

/// [`seal`] with the randomness (data key, nonce, ephemeral key) drawn from `rng`.
pub fn seal_with_rng(
    secret: &[u8],
    context: &Context,
    recipient: &PublicKey,
    rng: &mut impl CryptoRngCore,
) -> Result<Sealed> {
    let key = DataKey::random(rng);
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let ciphertext = encrypt(secret, &key, nonce, context)?;
    let acl = wrap(&key, commitment(&ciphertext), context, recipient, rng)?;
    Ok(Sealed { ciphertext, acl })
}

/// The commitment to a secret that an ask carries on-chain and that proofs and attestations bind to:
/// `keccak256(SECRET_COMMITMENT_DOMAIN ‖ ciphertext)`. Anyone can recompute it from the ask's calldata;
/// the key commitment inside the ciphertext makes it bind one data key and so one plaintext.
pub fn commitment(ciphertext: &[u8]) -> B256 {
    let mut preimage = Vec::with_capacity(SECRET_COMMITMENT_DOMAIN.len() + ciphertext.len());
    preimage.extend_from_slice(SECRET_COMMITMENT_DOMAIN);
    preimage.extend_from_slice(ciphertext);
    keccak256(preimage)
}

/// Recovers the data key from an acl of the ask `context` wrapped to `key`.
pub fn unwrap(acl: &[u8], context: &Context, key: &SecretKey) -> Result<DataKey> {
    Acl::parse(acl)?.unwrap(context, key)
}

/// Unwraps the data key of an acl of the ask `context` with `key` and wraps it again to `recipient` (the
/// assigned generator's enclave key, or an IVS key), for the same ciphertext and ask, without looking at the
/// ciphertext ([`rewrap_for_ciphertext`] is what the engine runs). Uses the operating system's CSPRNG.
pub fn rewrap(
    acl: &[u8],
    context: &Context,
    key: &SecretKey,
    recipient: &PublicKey,
) -> Result<Vec<u8>> {
    rewrap_with_rng(acl, context, key, recipient, &mut rand_core::OsRng)
}

/// [`rewrap`] with the ephemeral key drawn from `rng`.
pub fn rewrap_with_rng(
    acl: &[u8],
    context: &Context,
    key: &SecretKey,
    recipient: &PublicKey,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>> {
    let acl = Acl::parse(acl)?;
    let data_key = acl.unwrap(context, key)?;
    wrap(&data_key, acl.commitment, context, recipient, rng)
}

/// The outcome of [`rewrap_for_ciphertext`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rewrapped {
    /// The data key wrapped to the recipient, for the same ciphertext and ask.
    pub acl: Vec<u8>,
    /// Whether the ciphertext decrypts under that key for the ask. When it does not, the acl is still the
    /// requester's own (it opened under this ask's context) and the key the ciphertext's own: the recipient's
    /// enclave will not decrypt it either and hands it to the market's IVS, which attests it.
    pub decrypts: bool,
}

/// What the Matching Engine does for a confidential ask it assigns: checks that the ask's acl belongs to
/// its ciphertext and opens under the ask's own `context` (its on-chain market and requester: an acl copied
/// from another requester's ask does not) and that the data key it wraps is the one the ciphertext was made with
/// (the key commitment), then wraps the key to `recipient` for the same ask and reports whether the ciphertext
/// authenticates under it. The plaintext is dropped (zeroized) at once: holding the data key, the engine's
/// enclave could read it anyway. Errors name the requester's mistake, which nobody can be given: [`Error::AclMismatch`],
/// a corrupt, misaddressed or copied acl ([`Error::CorruptAcl`]), or a key that is not the ciphertext's
/// ([`Error::ForeignDataKey`]). A ciphertext that passes all that and still does not decrypt is the
/// requester's own garbage under its own key ([`Rewrapped::decrypts`] false): the invalid-input path.
pub fn rewrap_for_ciphertext(
    ciphertext: &[u8],
    acl: &[u8],
    context: &Context,
    key: &SecretKey,
    recipient: &PublicKey,
) -> Result<Rewrapped> {
    let data_key = data_key(ciphertext, acl, context, key)?;
    if !is_key_of(ciphertext, &data_key) {
        return Err(Error::ForeignDataKey);
    }
    let decrypts = decrypt(ciphertext, &data_key, context).is_ok();
    // `data_key` checked that the acl's commitment is the ciphertext's: no second hash of the ciphertext.
    let commitment = Acl::parse(acl)?.commitment;
    let acl = wrap(
        &data_key,
        commitment,
        context,
        recipient,
        &mut rand_core::OsRng,
    )?;
    Ok(Rewrapped { acl, decrypts })
}

/// Wraps a data key the caller holds to `recipient`, for the ciphertext with secret commitment
/// `commitment` of the ask `context`: how an enclave that could not decrypt an ask hands its key to an IVS.
pub fn wrap_data_key(
    key: &DataKey,
    commitment: B256,
    context: &Context,
    recipient: &PublicKey,
) -> Result<Vec<u8>> {
    wrap(key, commitment, context, recipient, &mut rand_core::OsRng)
}

/// Whether `key` is the data key `ciphertext` was made with (its header's key commitment), without
/// decrypting. An IVS told that a ciphertext does not decrypt checks this first: a wrong key is the
/// teller's fault, a right key that fails the AEAD tag is the ciphertext's.
pub fn is_key_of(ciphertext: &[u8], key: &DataKey) -> bool {
    ciphertext.len() >= CIPHERTEXT_HEADER_LEN
        && ciphertext[1..1 + COMMITMENT_LEN] == key_commitment(key)
}

/// Decrypts a sealed secret of the ask `context` with the acl wrapped to `key`: checks that the acl
/// belongs to this ciphertext and to this key, unwraps the data key, checks the key commitment and
/// decrypts.
pub fn open(ciphertext: &[u8], acl: &[u8], context: &Context, key: &SecretKey) -> Result<Secret> {
    decrypt(
        ciphertext,
        &data_key(ciphertext, acl, context, key)?,
        context,
    )
}

/// The data key of `ciphertext` from an acl of the ask `context` wrapped to `key`: checks the ciphertext's
/// header and that the acl belongs to it ([`Error::AclMismatch`] otherwise), then unwraps (an acl made for
/// another ask does not authenticate: [`Error::CorruptAcl`]). What every holder of an acl does before
/// decrypting or handing the key on.
pub fn data_key(
    ciphertext: &[u8],
    acl: &[u8],
    context: &Context,
    key: &SecretKey,
) -> Result<DataKey> {
    let acl = Acl::parse(acl)?;
    check_ciphertext_header(ciphertext)?;
    let actual = commitment(ciphertext);
    if acl.commitment != actual {
        return Err(Error::AclMismatch {
            acl: acl.commitment,
            ciphertext: actual,
        });
    }
    let data_key = acl.unwrap(context, key)?;
    Ok(data_key)
}

/// Decrypts a ciphertext of the ask `context` with its data key (checks the key commitment first).
pub fn decrypt(ciphertext: &[u8], key: &DataKey, context: &Context) -> Result<Secret> {
    check_ciphertext_header(ciphertext)?;
    let (header, body) = ciphertext.split_at(CIPHERTEXT_HEADER_LEN);
    if header[1..1 + COMMITMENT_LEN] != key_commitment(key) {
        return Err(Error::CorruptCiphertext);
    }
    let nonce = &header[1 + COMMITMENT_LEN..];
    let aad = [SECRET_AAD_DOMAIN, header, &context.encode()].concat();
    let plaintext = aes(key.as_array())
        .decrypt(
            nonce.into(),
            Payload {
                msg: body,
                aad: &aad,
            },
        )
        .map_err(|_| Error::CorruptCiphertext)?;
    Ok(Secret::new(plaintext))
}

/// A parsed acl (version 1). Its fields are public: anyone can see which key an acl is wrapped to and
/// which ciphertext it belongs to, and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acl {
    commitment: B256,
    recipient: Address,
    ephemeral: PublicKey,
    wrapped: [u8; DATA_KEY_LEN + TAG_LEN],
}

impl Acl {
    /// Parses an acl: version, length and the ephemeral key's encoding are checked; the wrapped key is
    /// checked only by [`Acl::unwrap`].
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let Some(&version) = bytes.first() else {
            return Err(Error::Truncated {
                part: Part::Acl,
                len: 0,
                min: ACL_LEN,
            });
        };
        if version != VERSION {
            return Err(Error::UnsupportedVersion {
                part: Part::Acl,
                version,
            });
        }
        if bytes.len() < ACL_LEN {
            return Err(Error::Truncated {
                part: Part::Acl,
                len: bytes.len(),
                min: ACL_LEN,
            });
        }
        if bytes.len() > ACL_LEN {
            return Err(Error::AclLength { len: bytes.len() });
        }
        let ephemeral = PublicKey::from_bytes(&bytes[ACL_EPHEMERAL..ACL_WRAPPED])
            .map_err(|_| Error::CorruptAcl)?;
        let mut wrapped = [0u8; DATA_KEY_LEN + TAG_LEN];
        wrapped.copy_from_slice(&bytes[ACL_WRAPPED..]);
        Ok(Self {
            commitment: B256::from_slice(&bytes[ACL_COMMITMENT..ACL_RECIPIENT]),
            recipient: Address::from_slice(&bytes[ACL_RECIPIENT..ACL_EPHEMERAL]),
            ephemeral,
            wrapped,
        })
    }

    /// The commitment of the ciphertext this acl belongs to (compare with the ask's).
    pub fn commitment(&self) -> B256 {
        self.commitment
    }

    /// The address of the key the data key is wrapped to.
    pub fn recipient(&self) -> Address {
        self.recipient
    }

    /// The acl's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ACL_LEN);
        out.extend_from_slice(&self.header());
        out.extend_from_slice(&self.wrapped);
        out
    }

    /// Recovers the data key with `key`, which must be the recipient's, for the ask `context` (the acl's
    /// associated data: an acl copied into another ask does not authenticate).
    pub fn unwrap(&self, context: &Context, key: &SecretKey) -> Result<DataKey> {
        let me = key.public_key();
        if me.address() != self.recipient {
            return Err(Error::WrongRecipient {
                recipient: self.recipient,
                key: me.address(),
            });
        }
        let (wrap_key, nonce) = wrap_key(key, &self.ephemeral, &self.ephemeral, &me);
        let aad = [ACL_DOMAIN, &self.header(), &context.encode()].concat();
        let data_key = aes(&wrap_key)
            .decrypt(
                (&nonce).into(),
                Payload {
                    msg: &self.wrapped,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Error::CorruptAcl)?;
        // The tag authenticated a 32-byte wrapped key, so decryption yields 32 bytes; checked anyway.
        if data_key.len() != DATA_KEY_LEN {
            return Err(Error::CorruptAcl);
        }
        let mut out = Zeroizing::new([0u8; DATA_KEY_LEN]);
        out.copy_from_slice(&data_key);
        Ok(DataKey::from_array(out))
    }

    fn header(&self) -> [u8; ACL_HEADER_LEN] {
        let mut header = [0u8; ACL_HEADER_LEN];
        header[0] = VERSION;
        header[ACL_COMMITMENT..ACL_RECIPIENT].copy_from_slice(self.commitment.as_slice());
        header[ACL_RECIPIENT..ACL_EPHEMERAL].copy_from_slice(self.recipient.as_slice());
        header[ACL_EPHEMERAL..].copy_from_slice(&self.ephemeral.to_compressed());
        header
    }
}

/// `SHA-256(KEY_COMMITMENT_DOMAIN ‖ data key)`: makes the ciphertext (and so the secret commitment) bind
/// the data key, since AES-GCM alone is not key-committing.
pub(crate) fn key_commitment(key: &DataKey) -> [u8; COMMITMENT_LEN] {
    Sha256::new()
        .chain_update(KEY_COMMITMENT_DOMAIN)
        .chain_update(key.as_array())
        .finalize()
        .into()
}

pub(crate) fn encrypt(
    secret: &[u8],
    key: &DataKey,
    nonce: [u8; NONCE_LEN],
    context: &Context,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(CIPHERTEXT_MIN_LEN + secret.len());
    out.push(VERSION);
    out.extend_from_slice(&key_commitment(key));
    out.extend_from_slice(&nonce);
    let aad = [SECRET_AAD_DOMAIN, &out, &context.encode()].concat();
    let body = aes(key.as_array())
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: secret,
                aad: &aad,
            },
        )
        .map_err(|_| Error::SecretTooLarge { len: secret.len() })?;
    out.extend_from_slice(&body);
    Ok(out)
}

pub(crate) fn wrap(
    data_key: &DataKey,
    commitment: B256,
    context: &Context,
    recipient: &PublicKey,
    rng: &mut impl CryptoRngCore,
) -> Result<Vec<u8>> {
    let ephemeral = SecretKey::random_with_rng(rng);
    wrap_with_ephemeral(data_key, commitment, context, recipient, &ephemeral)
}

pub(crate) fn wrap_with_ephemeral(
    data_key: &DataKey,
    commitment: B256,
    context: &Context,
    recipient: &PublicKey,
    ephemeral: &SecretKey,
) -> Result<Vec<u8>> {
    let ephemeral_public = ephemeral.public_key();
    let (wrap_key, nonce) = wrap_key(ephemeral, recipient, &ephemeral_public, recipient);
    let mut acl = Acl {
        commitment,
        recipient: recipient.address(),
        ephemeral: ephemeral_public,
        wrapped: [0u8; DATA_KEY_LEN + TAG_LEN],
    };
    let aad = [ACL_DOMAIN, &acl.header(), &context.encode()].concat();
    let wrapped = aes(&wrap_key)
        .encrypt(
            (&nonce).into(),
            Payload {
                msg: data_key.as_array(),
                aad: &aad,
            },
        )
        // A 32-byte message is far below AES-GCM's length limit.
        .map_err(|_| Error::SecretTooLarge { len: DATA_KEY_LEN })?;
    acl.wrapped.copy_from_slice(&wrapped);
    Ok(acl.to_bytes())
}

/// The key-wrapping key and nonce: HKDF-SHA256 (no salt) of the ECDH x-coordinate of `secret` and
/// `public`, with info `ACL_DOMAIN ‖ ephemeral public key (33, compressed) ‖ recipient public key (64)`.
/// The sender passes (ephemeral secret, recipient key); the recipient (own secret, ephemeral key).
pub(crate) fn wrap_key(
    secret: &SecretKey,
    public: &PublicKey,
    ephemeral: &PublicKey,
    recipient: &PublicKey,
) -> (Zeroizing<[u8; 32]>, [u8; NONCE_LEN]) {
    let shared = diffie_hellman(
        secret.inner().to_nonzero_scalar(),
        public.point().as_affine(),
    );
    let info = [
        ACL_DOMAIN,
        &ephemeral.to_compressed(),
        &recipient.to_bytes(),
    ]
    .concat();
    let mut okm = Zeroizing::new([0u8; 32 + NONCE_LEN]);
    Hkdf::<Sha256>::new(None, shared.raw_secret_bytes())
        .expand(&info, okm.as_mut())
        .expect("HKDF-SHA256 yields up to 8160 bytes; 44 are asked for");
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&okm[..32]);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&okm[32..]);
    (key, nonce)
}

fn aes(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

fn check_ciphertext_header(ciphertext: &[u8]) -> Result<()> {
    let Some(&version) = ciphertext.first() else {
        return Err(Error::Truncated {
            part: Part::Ciphertext,
            len: 0,
            min: CIPHERTEXT_MIN_LEN,
        });
    };
    if version != VERSION {
        return Err(Error::UnsupportedVersion {
            part: Part::Ciphertext,
            version,
        });
    }
    if ciphertext.len() < CIPHERTEXT_MIN_LEN {
        return Err(Error::Truncated {
            part: Part::Ciphertext,
            len: ciphertext.len(),
            min: CIPHERTEXT_MIN_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    //! Envelopes only a requester could make: an acl with another data key, a ciphertext that does not
    //! decrypt under its own committed key.

    use super::*;

    const CONTEXT: Context = Context {
        chain_id: 1,
        marketplace: Address::repeat_byte(1),
        market_id: 2,
        requester: Address::repeat_byte(3),
        inputs_hash: B256::repeat_byte(4),
    };

    #[test]
    fn a_requester_wrapping_another_key_gives_a_corrupt_ciphertext() {
        let engine = SecretKey::random();
        let generator = SecretKey::random();
        let mut rng = rand_core::OsRng;
        let sealed = seal(b"secret", &CONTEXT, &engine.public_key()).unwrap();
        // The acl commits to the ciphertext, but carries a key the ciphertext was not made with.
        let acl = wrap(
            &DataKey::random(&mut rng),
            sealed.commitment(),
            &CONTEXT,
            &engine.public_key(),
            &mut rng,
        )
        .unwrap();
        // A blind re-wrap passes it on, the generator finds the ciphertext corrupt; the engine's check refuses it.
        assert_eq!(
            rewrap_for_ciphertext(
                &sealed.ciphertext,
                &acl,
                &CONTEXT,
                &engine,
                &generator.public_key()
            )
            .unwrap_err(),
            Error::ForeignDataKey
        );
        let acl = rewrap(&acl, &CONTEXT, &engine, &generator.public_key()).unwrap();
        assert_eq!(
            open(&sealed.ciphertext, &acl, &CONTEXT, &generator).unwrap_err(),
            Error::CorruptCiphertext
        );
    }

    #[test]
    fn a_ciphertext_that_fails_under_its_committed_key_is_corrupt() {
        // Right key commitment, body made under another key: the tag check catches it.
        let engine = SecretKey::random();
        let mut rng = rand_core::OsRng;
        let key = DataKey::random(&mut rng);
        let other = DataKey::random(&mut rng);
        let mut ciphertext = encrypt(b"secret", &other, [0; NONCE_LEN], &CONTEXT).unwrap();
        ciphertext[1..1 + COMMITMENT_LEN].copy_from_slice(&key_commitment(&key));
        let acl = wrap(
            &key,
            commitment(&ciphertext),
            &CONTEXT,
            &engine.public_key(),
            &mut rng,
        )
        .unwrap();
        assert_eq!(
            open(&ciphertext, &acl, &CONTEXT, &engine).unwrap_err(),
            Error::CorruptCiphertext
        );
        // The engine passes it on (the key is the ciphertext's and the acl this ask's): the IVS attests it.
        let generator = SecretKey::random();
        let rewrapped = rewrap_for_ciphertext(
            &ciphertext,
            &acl,
            &CONTEXT,
            &engine,
            &generator.public_key(),
        )
        .unwrap();
        assert!(!rewrapped.decrypts);
        let handed = data_key(&ciphertext, &rewrapped.acl, &CONTEXT, &generator).unwrap();
        assert!(is_key_of(&ciphertext, &handed));
    }
}
