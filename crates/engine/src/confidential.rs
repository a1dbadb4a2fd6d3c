//! Confidential asks at the engine. After matching, the data key of an ask's sealed inputs is re-wrapped from
//! the Matching Engine's key to the assigned generator's enclave key for the market: the acl the signed
//! assignment carries. It checks, before assigning, that the ask's acl opens with its key, belongs to the ask's
//! ciphertext and wraps the key the ciphertext was made with, and that the ciphertext authenticates under the
//! ask's own context (chain, marketplace, market, requester; the plaintext is dropped at once).
//!
//! An acl that is not the ask's (garbage, another ciphertext's, wrapped to another key) gives no key at all: the
//! ask is refused (kept out of matching, with the reason in the API) and the chain refunds it at its deadline.
//! A ciphertext that does not decrypt under its own key and context — corrupted, or copied from another
//! requester's ask — cannot be told apart: either is the requester's garbage, but the key of a copied one opens
//! another requester's secret under that ask's (public) context. So its key goes only to attested enclaves: in a
//! market whose IVS is an attested image it is re-wrapped like any other (the generator's enclave cannot decrypt
//! it, the IVS enclave checks and attests it, and the requester pays for its garbage, as the invalid-input path
//! has it); in a market whose IVS keys the creator registers (not necessarily enclaves) the ask is refused. A
//! secret that decrypts but that the circuit rejects is the invalid-input path (the market's IVS).

use alloy::primitives::Bytes;
use kalypso_confidential::{Context, PublicKey, SecretKey};

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
/// as registered), re-wrapped from the engine's `key`. `attested_ivs`: whether the market's IVS is an attested
/// enclave image (see the module's notes for what that changes).
pub fn acl_for(
    key: &SecretKey,
    sealed: &SealedInputs,
    context: &Context,
    enclave_key: Option<&Bytes>,
    attested_ivs: bool,
) -> Result<Bytes, Refusal> {
    let enclave_key = enclave_key.ok_or_else(|| {
        Refusal::Generator("the generator has no enclave key registered for the market".into())
    })?;
    let recipient = PublicKey::from_bytes(enclave_key)
        .map_err(|e| Refusal::Generator(format!("the generator's enclave key: {e}")))?;
    let refused = |e: kalypso_confidential::Error| Refusal::Ask(format!("sealed inputs: {e}"));
    match kalypso_confidential::rewrap_for_ciphertext(
        &sealed.ciphertext,
        &sealed.acl,
        context,
        key,
        &recipient,
    ) {
        Ok(acl) => Ok(acl.into()),
        // The acl is the ciphertext's and opens (`data_key` passed), the ciphertext does not: enclaves only.
        Err(kalypso_confidential::Error::CorruptCiphertext) if attested_ivs => {
            let data_key = kalypso_confidential::data_key(&sealed.ciphertext, &sealed.acl, key)
                .map_err(refused)?;
            kalypso_confidential::wrap_data_key(
                &data_key,
                kalypso_confidential::commitment(&sealed.ciphertext),
                &recipient,
            )
            .map(Bytes::from)
            .map_err(refused)
        }
        Err(e) => Err(refused(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::Address;
    use kalypso_confidential::{Context, open, seal};

    const CONTEXT: Context = Context {
        chain_id: 31337,
        marketplace: Address::repeat_byte(0xaa),
        market_id: 2,
        requester: Address::repeat_byte(0x01),
    };

    #[test]
    fn rewraps_to_the_enclave_or_says_whose_fault_it_is() {
        let engine = SecretKey::random();
        let enclave = SecretKey::random();
        let sealed = seal(b"p=13,q=17", &CONTEXT, &engine.public_key()).unwrap();
        let inputs = SealedInputs {
            market: CONTEXT.market_id,
            requester: CONTEXT.requester,
            ciphertext: sealed.ciphertext.clone().into(),
            acl: sealed.acl.clone().into(),
        };
        let registered = Bytes::from(enclave.public_key().to_bytes().to_vec());
        let acl = acl_for(&engine, &inputs, &CONTEXT, Some(&registered), false).unwrap();
        assert_eq!(
            open(&sealed.ciphertext, &acl, &CONTEXT, &enclave)
                .unwrap()
                .expose(),
            b"p=13,q=17"
        );

        assert!(matches!(
            acl_for(&engine, &inputs, &CONTEXT, None, false),
            Err(Refusal::Generator(_))
        ));
        assert!(matches!(
            acl_for(
                &engine,
                &inputs,
                &CONTEXT,
                Some(&Bytes::from_static(&[1; 64])),
                false
            ),
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
        // Copied from another requester's ask: the ciphertext does not authenticate for this one.
        let copied = SealedInputs {
            requester: Address::repeat_byte(0x66),
            ..inputs
        };
        for (bad, decrypts_nowhere) in [
            (elsewhere, false),
            (garbage, false),
            (mismatched, false),
            (copied, true),
        ] {
            // The context the service derives from the ask's own market and requester.
            let context = Context {
                market_id: bad.market,
                requester: bad.requester,
                ..CONTEXT
            };
            let Err(Refusal::Ask(reason)) =
                acl_for(&engine, &bad, &context, Some(&registered), false)
            else {
                panic!("refused as the requester's");
            };
            assert!(reason.starts_with("sealed inputs: "), "{reason}");
            // With an attested IVS only the ciphertext that does not decrypt goes on, its key to the enclave.
            let attested = acl_for(&engine, &bad, &context, Some(&registered), true);
            assert_eq!(attested.is_ok(), decrypts_nowhere, "{attested:?}");
            if let Ok(acl) = attested {
                let key = kalypso_confidential::data_key(&bad.ciphertext, &acl, &enclave).unwrap();
                assert!(kalypso_confidential::is_key_of(&bad.ciphertext, &key));
                assert!(open(&bad.ciphertext, &acl, &context, &enclave).is_err());
            }
        }
    }
}
