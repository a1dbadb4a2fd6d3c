//! `kalypso keys ...`.

use super::sent;
use crate::{
    context::{Ctx, signer},
    opts::{GlobalArgs, KeysCmd, SecretKey},
    output::{Output, fields},
};
use alloy::signers::local::PrivateKeySigner;
use anyhow::Context as _;
use kalypso_sdk::SignedAttestation;
use std::path::Path;

pub(super) async fn run(ctx: &Ctx, cmd: KeysCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        KeysCmd::Show => {
            let me = client.matching_engine().await?;
            let value = serde_json::json!({ "matchingEngine": me });
            ctx.out.print(&value, || {
                fields([("Matching Engine signer", me.to_string())])
            });
        }
        KeysCmd::PublicKey { .. } => unreachable!("needs no chain: handled before connecting"),
        KeysCmd::SetMatchingEngine {
            pubkey,
            attestation,
        } => {
            ctx.signer()?;
            match (pubkey, attestation) {
                (Some(pubkey), _) => {
                    let tx = client.set_matching_engine_key(pubkey).await?;
                    sent(ctx, "Matching Engine key set", serde_json::json!({}), tx);
                }
                (None, Some(path)) => {
                    let attestation = read_attestation(&path)?;
                    let tx = client
                        .set_matching_engine_key_with_attestation(&attestation)
                        .await?;
                    sent(
                        ctx,
                        format!(
                            "Matching Engine key set (enclave {}, image {})",
                            key_address(&attestation),
                            attestation.image_id
                        ),
                        attested(&attestation),
                        tx,
                    );
                }
                (None, None) => unreachable!("clap requires the public key or --attestation"),
            }
        }
        KeysCmd::AddIvs {
            market,
            pubkey,
            attestation,
        } => {
            ctx.signer()?;
            match (pubkey, attestation) {
                (Some(pubkey), _) => {
                    let tx = client.add_ivs_signer(market, pubkey).await?;
                    sent(
                        ctx,
                        format!("IVS signer added to market {market}"),
                        serde_json::json!({ "market": market }),
                        tx,
                    );
                }
                (None, Some(path)) => {
                    let attestation = read_attestation(&path)?;
                    let tx = client
                        .add_ivs_signer_with_attestation(market, &attestation)
                        .await?;
                    let mut result = attested(&attestation);
                    result["market"] = market.into();
                    sent(
                        ctx,
                        format!(
                            "IVS signer {} added to market {market} (image {})",
                            key_address(&attestation),
                            attestation.image_id
                        ),
                        result,
                        tx,
                    );
                }
                (None, None) => unreachable!("clap requires the public key or --attestation"),
            }
        }
        KeysCmd::RegisterGenerator { market, pubkey } => {
            ctx.signer()?;
            let tx = client.register_generator_key(market, pubkey).await?;
            sent(
                ctx,
                format!("generator key registered for market {market}"),
                serde_json::json!({ "market": market }),
                tx,
            );
        }
        KeysCmd::RegisterEnclave {
            market,
            enclave_key_file,
            attestation,
            insecure_dev_attester_env,
            image_id,
        } => {
            ctx.signer()?;
            let enclave = read_key_file(&enclave_key_file)?;
            let pubkey = alloy::primitives::Bytes::copy_from_slice(enclave.public_key().as_slice());
            let attestation = match (attestation, insecure_dev_attester_env) {
                (Some(path), _) => {
                    let attestation = read_attestation(&path)?;
                    if attestation.enclave_pubkey != pubkey {
                        anyhow::bail!(
                            "the attestation in {} is for another key than the one in {}",
                            path.display(),
                            enclave_key_file.display()
                        );
                    }
                    attestation
                }
                (None, Some(var)) => {
                    let text = std::env::var(&var).with_context(|| format!("{var} is not set"))?;
                    let attester = parse_key(&text)
                        .with_context(|| format!("{var} does not hold a private key"))?;
                    tracing::warn!(target: "kalypso::cli", attester = %attester.address(), "INSECURE dev attestation: signed without any enclave document");
                    let image = image_id
                        .context("--image-id names the image the dev attestation is for")?;
                    client
                        .insecure_dev_attestation(&attester, pubkey.clone(), image)
                        .await?
                }
                (None, None) => anyhow::bail!(
                    "pass --attestation FILE (or, on a devnet, --insecure-dev-attester-env VAR)"
                ),
            };
            let tx = client
                .register_enclave_key(market, &attestation, &enclave)
                .await?;
            sent(
                ctx,
                format!("enclave key registered for market {market}"),
                serde_json::json!({
                    "market": market,
                    "enclave": enclave.address(),
                    "imageId": attestation.image_id,
                }),
                tx,
            );
        }
    }
    Ok(())
}

/// An attestation JSON of the attestation-verifier service (`kalypso attestation request --out`).
fn read_attestation(path: &Path) -> anyhow::Result<SignedAttestation> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the attestation {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not an attestation JSON (enclavePubkey, imageId, timestampMs, signature)",
            path.display()
        )
    })
}

/// The address of an attestation's enclave key (empty when it is no key: the registry refuses it anyway).
fn key_address(attestation: &SignedAttestation) -> String {
    attestation
        .enclave_address()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

/// What a registration with an attestation prints.
fn attested(attestation: &SignedAttestation) -> serde_json::Value {
    serde_json::json!({
        "signer": key_address(attestation),
        "publicKey": attestation.enclave_pubkey,
        "imageId": attestation.image_id,
        "timestampMs": attestation.timestamp_ms,
    })
}

/// `kalypso keys public-key`: the 64-byte public key (and address) of a private key from `from_env`, `key_file`
/// or the signing key. Error messages name where the key was looked for, never its value.
pub(super) fn public_key(
    global: &GlobalArgs,
    from_env: Option<&str>,
    key_file: Option<&Path>,
) -> anyhow::Result<()> {
    let key: PrivateKeySigner = if let Some(var) = from_env {
        let text = std::env::var(var).with_context(|| format!("{var} is not set"))?;
        parse_key(&text).with_context(|| format!("{var} does not hold a private key"))?
    } else if let Some(path) = key_file {
        read_key_file(path)?
    } else {
        signer(global)?.context(
            "no key: pass --from-env VAR or --key-file FILE, or set KALYPSO_PRIVATE_KEY (or KALYPSO_KEYSTORE)",
        )?
    };
    let public = key.public_key();
    let value = serde_json::json!({ "publicKey": public, "address": key.address() });
    Output::new(global.json).print(&value, || public.to_string());
    Ok(())
}

/// A secp256k1 private key from a file of hex text; errors name the file, never the key.
pub(crate) fn read_key_file(path: &Path) -> anyhow::Result<PrivateKeySigner> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the key file {}", path.display()))?,
    );
    parse_key(&text).with_context(|| format!("{} does not hold a private key", path.display()))
}

/// A secp256k1 private key from hex text (0x optional, surrounding whitespace ignored).
pub(crate) fn parse_key(text: &str) -> anyhow::Result<PrivateKeySigner> {
    let hex: SecretKey = text.parse().map_err(anyhow::Error::msg)?;
    hex.0
        .parse()
        .context("not a valid secp256k1 private key (zero or above the curve order)")
}
