//! Confidential asks at the engine. After matching, the data key of an ask's sealed inputs is re-wrapped from
//! the Matching Engine's key to the assigned generator's enclave key for the market: the acl the signed
//! assignment carries. Before assigning it checks that the ask's acl belongs to its ciphertext and opens under
//! the ask's own context (chain, marketplace, market, requester) — an acl copied from another requester's ask
//! does not — and that the key it wraps is the one the ciphertext was made with. An ask that fails is refused
//! (kept out of matching, with the reason in the API) and the chain refunds it at its deadline: its key reaches
//! nobody. An ask that passes but whose ciphertext does not decrypt is the requester's own garbage under its own
//! key: it is assigned like any other, the generator's enclave cannot decrypt it and hands it to the market's
//! IVS, which attests it (the requester pays the generator's price). So is a secret that decrypts but that the
//! circuit rejects.

use alloy::primitives::Bytes;
use kalypso_confidential::{PublicKey, SecretKey};

use crate::state::SealedInputs;

/// Why a confidential match cannot be signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The ask's sealed inputs are the requester's mistake: no generator can ever be given them.
    Ask(String),
    /// The generator has no usable enclave key for the market: another generator may take the ask.
    Generator(String),
}

/// The acl of an assignment of a confidential ask to the generator with enclave key `enclave_key` (64 bytes,
/// as registered), re-wrapped from the engine's `key`, and whether the ask's ciphertext decrypts (when it does
/// not, the assignment ends at the IVS).
pub fn acl_for(
    key: &SecretKey,
    sealed: &SealedInputs,
    enclave_key: Option<&Bytes>,
) -> Result<(Bytes, bool), Refusal> {
    let enclave_key = enclave_key.ok_or_else(|| {
        Refusal::Generator("the generator has no enclave key registered for the market".into())
    })?;
    let recipient = PublicKey::from_bytes(enclave_key)
        .map_err(|e| Refusal::Generator(format!("the generator's enclave key: {e}")))?;
    kalypso_confidential::rewrap_for_ciphertext(
        &sealed.ciphertext,
        &sealed.acl,
        &sealed.context,
        key,
        &recipient,
    )
    .map(|r| (Bytes::from(r.acl), r.decrypts))
    .map_err(|e| Refusal::Ask(format!("sealed inputs: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256};
    use kalypso_confidential::{Context, open, seal};

    const CONTEXT: Context = Context {
        chain_id: 31337,
        marketplace: Address::repeat_byte(0xaa),
        market_id: 2,
        requester: Address::repeat_byte(0x01),
        inputs_hash: B256::repeat_byte(0x1a),
    };

    #[test]
    fn rewraps_to_the_enclave_or_says_whose_fault_it_is() {
        let engine = SecretKey::random();
        let enclave = SecretKey::random();
        let sealed = seal(b"p=13,q=17", &CONTEXT, &engine.public_key()).unwrap();
        let inputs = SealedInputs {
            context: CONTEXT,
            ciphertext: sealed.ciphertext.clone().into(),
            acl: sealed.acl.clone().into(),
            created: kalypso_matching::Seq::default(),
        };
        let registered = Bytes::from(enclave.public_key().to_bytes().to_vec());
        let (acl, decrypts) = acl_for(&engine, &inputs, Some(&registered)).unwrap();
        assert!(decrypts);
        assert_eq!(
            open(&sealed.ciphertext, &acl, &CONTEXT, &enclave)
                .unwrap()
                .expose(),
            b"p=13,q=17"
        );

        assert!(matches!(
            acl_for(&engine, &inputs, None),
            Err(Refusal::Generator(_))
        ));
        assert!(matches!(
            acl_for(&engine, &inputs, Some(&Bytes::from_static(&[1; 64]))),
            Err(Refusal::Generator(_))
        ));
        // Sealed to another engine key; garbage acl; an acl of another ciphertext.
        let elsewhere = SealedInputs {
            acl: seal(b"x", &CONTEXT, &SecretKey::random().public_key())
                .unwrap()
                .acl
                .into(),
            ..inputs.clone()
        };
        let garbage = SealedInputs {
            acl: Bytes::from_static(b"garbage"),
            ..inputs.clone()
        };
        let other = seal(b"y", &CONTEXT, &engine.public_key()).unwrap();
        let mismatched = SealedInputs {
            ciphertext: other.ciphertext.into(),
            ..inputs.clone()
        };
        // Copied from another requester's ask: its acl does not open for this one.
        let copied = SealedInputs {
            context: Context {
                requester: Address::repeat_byte(0x66),
                ..CONTEXT
            },
            ..inputs.clone()
        };
        // Copied by another user of the same account (a contract many ask through), with other inputs.
        let reused = SealedInputs {
            context: Context {
                inputs_hash: B256::repeat_byte(0x2b),
                ..CONTEXT
            },
            ..inputs.clone()
        };
        for bad in [elsewhere, garbage, mismatched, copied, reused] {
            let Err(Refusal::Ask(reason)) = acl_for(&engine, &bad, Some(&registered)) else {
                panic!("refused as the requester's");
            };
            assert!(reason.starts_with("sealed inputs: "), "{reason}");
        }

        // The requester's own ciphertext, altered after sealing and re-committed (its acl re-made over the
        // altered bytes with its own key): passed on, for the IVS to attest.
        let data_key = kalypso_confidential::unwrap(&sealed.acl, &CONTEXT, &engine).unwrap();
        let mut corrupt = sealed.ciphertext.clone();
        *corrupt.last_mut().unwrap() ^= 1;
        let corrupt_acl = kalypso_confidential::wrap_data_key(
            &data_key,
            kalypso_confidential::commitment(&corrupt),
            &CONTEXT,
            &engine.public_key(),
        )
        .unwrap();
        let corrupt = SealedInputs {
            ciphertext: corrupt.into(),
            acl: corrupt_acl.into(),
            ..inputs
        };
        let (acl, decrypts) = acl_for(&engine, &corrupt, Some(&registered)).unwrap();
        assert!(!decrypts);
        let key =
            kalypso_confidential::data_key(&corrupt.ciphertext, &acl, &CONTEXT, &enclave).unwrap();
        assert!(kalypso_confidential::is_key_of(&corrupt.ciphertext, &key));
    }
}
