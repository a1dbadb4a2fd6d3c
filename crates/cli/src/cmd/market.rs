//! `kalypso market ...`.

use super::{relative, sent, units};
use crate::{
    context::Ctx,
    opts::MarketCmd,
    output::{fields, table},
};
use alloy::primitives::{B256, Bytes};
use anyhow::Context as _;
use kalypso_sdk::{MarketInfo, MarketParams, MarketTerms, PackageMarketStep, VerifierKind};
use serde::Serialize;

pub(super) async fn run(ctx: &Ctx, cmd: MarketCmd) -> anyhow::Result<()> {
    let client = &ctx.client;
    match cmd {
        MarketCmd::DeployVerifier { artifact } => {
            ctx.signer()?;
            let sample = super::deploy::sample_market(&artifact)?;
            let num_inputs = u64::try_from(sample.num_inputs)
                .map_err(|_| anyhow::anyhow!("{}: numInputs too large", artifact.display()))?;
            let spinner = ctx
                .out
                .spinner("deploying the verifier (its sample proof is checked)");
            let (verifier, tx) = client
                .deploy_groth16_verifier(sample.vk, num_inputs, sample.inputs, sample.proof)
                .await?;
            spinner.finish_and_clear();
            sent(
                ctx,
                format!("Groth16Verifier {verifier} deployed by the verifier factory"),
                serde_json::json!({ "verifier": verifier }),
                tx,
            );
        }
        MarketCmd::Create {
            verifier: None,
            circuit: Some(dir),
            url,
            slashing_penalty,
            min_stake,
            fallback_delay,
            prover_image,
            ivs_image,
            tee,
            metadata: _,
        } => {
            ctx.signer()?;
            let package = kalypso_package::Package::open(&dir)?;
            let url = match url {
                Some(url) => url,
                None => format!(
                    "file://{}/",
                    std::fs::canonicalize(&dir)
                        .with_context(|| dir.display().to_string())?
                        .display()
                ),
            };
            let terms = MarketTerms {
                slashing_penalty: ctx.staking(&slashing_penalty).await?,
                min_stake: ctx.staking(&min_stake).await?,
                fallback_delay: fallback_delay.as_secs(),
                prover_image_id: prover_image.unwrap_or(B256::ZERO),
                ivs_image_id: ivs_image.unwrap_or(B256::ZERO),
                tee,
            };
            let spinner = ctx.out.spinner("checking the package");
            let created = client
                .create_package_market(&package, &url, terms, |step| {
                    spinner.set_message(match step {
                        PackageMarketStep::Checking => {
                            "checking the package (hashes, key, sample proof)"
                        }
                        PackageMarketStep::DeployingVerifier => {
                            "deploying its verifier (the factory checks the sample proof on-chain)"
                        }
                        PackageMarketStep::CreatingMarket => "creating the market",
                    });
                })
                .await;
            spinner.finish_and_clear();
            let created = created?;
            ctx.out.print(&created, || {
                format!(
                    "✓ market {} created for package {} (sha256 {})\n  verifier {} (tx {})\n  market tx {}, \
                     block {}\n  generators fetch the package from {}",
                    created.market,
                    package.manifest().name,
                    created.package_sha256,
                    created.verifier,
                    created.verifier_tx.hash,
                    created.market_tx.hash,
                    created.market_tx.block_number,
                    created.package_url
                )
            });
        }
        MarketCmd::Create {
            verifier,
            circuit: _,
            url: _,
            slashing_penalty,
            min_stake,
            fallback_delay,
            prover_image,
            ivs_image,
            tee: _,
            metadata,
        } => {
            ctx.signer()?;
            let verifier = verifier.context("--verifier or --circuit")?;
            let params = MarketParams {
                verifier,
                prover_image_id: prover_image.unwrap_or(B256::ZERO),
                ivs_image_id: ivs_image.unwrap_or(B256::ZERO),
                slashing_penalty: ctx.staking(&slashing_penalty).await?,
                min_stake: ctx.staking(&min_stake).await?,
                fallback_delay: fallback_delay.as_secs(),
                metadata: Bytes::from(metadata.into_bytes()),
            };
            let spinner = ctx.out.spinner("creating market");
            let (id, tx) = client.create_market(params).await?;
            spinner.finish_and_clear();
            #[derive(Serialize)]
            struct Created {
                market: u64,
            }
            sent(
                ctx,
                format!("market {id} created"),
                Created { market: id },
                tx,
            );
        }
        MarketCmd::List => {
            let markets = client.markets().await?;
            let decimals = ctx.decimals(client.deployment().staking_token).await?;
            let json: Vec<_> = markets.iter().map(json).collect();
            ctx.out.print(&json, || {
                if markets.is_empty() {
                    return "no markets yet (create one with `kalypso market create`)".into();
                }
                table(
                    [
                        "id",
                        "verifier",
                        "kind",
                        "penalty",
                        "min stake",
                        "fallback",
                        "state",
                    ],
                    markets.iter().map(|m| {
                        [
                            m.id.to_string(),
                            m.verifier.to_string(),
                            if m.confidential {
                                "confidential"
                            } else {
                                "public"
                            }
                            .into(),
                            units(m.slashing_penalty, decimals),
                            units(m.min_stake, decimals),
                            fallback(m),
                            if m.frozen { "frozen" } else { "active" }.into(),
                        ]
                    }),
                )
            });
        }
        MarketCmd::Show { market } => {
            let m = client.market(market).await?;
            let metadata = client.market_metadata(market).await?;
            let decimals = ctx.decimals(client.deployment().staking_token).await?;
            let now = client.block_timestamp().await?;
            let kind = client.verifier_kind(m.verifier).await?;
            let mut value = json(&m);
            value["verifierKind"] = serde_json::json!(kind);
            value["metadata"] = decoded_metadata(&metadata);
            value["metadataHex"] = serde_json::json!(metadata);
            ctx.out.print(&value, || {
                fields([
                    ("market", m.id.to_string()),
                    ("creator", m.creator.to_string()),
                    (
                        "verifier",
                        match kind {
                            Some(VerifierKind::Groth16) => format!("{} (Groth16)", m.verifier),
                            Some(VerifierKind::Tee { image_id }) => {
                                format!("{} (TEE: enclaves of image {image_id})", m.verifier)
                            }
                            None => format!(
                                "{} (not from this deployment's verifier factory)",
                                m.verifier
                            ),
                        },
                    ),
                    (
                        "inputs",
                        if m.confidential {
                            "confidential (secret inputs open only in enclaves)"
                        } else {
                            "public"
                        }
                        .into(),
                    ),
                    ("slashing penalty", units(m.slashing_penalty, decimals)),
                    ("minimum stake", units(m.min_stake, decimals)),
                    ("fallback", fallback(&m)),
                    ("active since", relative(m.activation_time, now)),
                    ("state", if m.frozen { "frozen" } else { "active" }.into()),
                    ("prover image", m.prover_image_id.to_string()),
                    ("IVS image", m.ivs_image_id.to_string()),
                    ("metadata", metadata_text(&metadata)),
                ])
            });
        }
        MarketCmd::Freeze { market, undo } => {
            ctx.signer()?;
            let tx = client.set_market_frozen(market, !undo).await?;
            let action = if undo { "unfrozen" } else { "frozen" };
            sent(
                ctx,
                format!("market {market} {action}"),
                serde_json::json!({ "market": market }),
                tx,
            );
        }
    }
    Ok(())
}

/// A market for `--json`: amounts as decimal strings of base units, like every other command.
fn json(m: &MarketInfo) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "creator": m.creator,
        "verifier": m.verifier,
        "slashingPenalty": m.slashing_penalty.to_string(),
        "minStake": m.min_stake.to_string(),
        "activationTime": m.activation_time,
        "frozen": m.frozen,
        "confidential": m.confidential,
        "fallbackDelay": m.fallback_delay,
        "proverImageId": m.prover_image_id,
        "ivsImageId": m.ivs_image_id,
    })
}

/// A market's metadata for `--json`: the JSON document it holds, else its UTF-8 text, else `null` (binary: see
/// `metadataHex`).
fn decoded_metadata(metadata: &[u8]) -> serde_json::Value {
    if metadata.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(metadata).unwrap_or_else(|_| {
        std::str::from_utf8(metadata).map_or(serde_json::Value::Null, |text| text.into())
    })
}

/// A market's metadata for the table: its text (JSON as written) when it is UTF-8 without control characters,
/// else hex.
fn metadata_text(metadata: &[u8]) -> String {
    if metadata.is_empty() {
        return "(none)".into();
    }
    match std::str::from_utf8(metadata) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            text.trim().to_owned()
        }
        _ => format!(
            "{} ({} bytes, not UTF-8 text)",
            Bytes::copy_from_slice(metadata),
            metadata.len()
        ),
    }
}

fn fallback(m: &MarketInfo) -> String {
    if m.fallback_delay == 0 {
        "off".into()
    } else {
        format!("after {}s", m.fallback_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_shown_decoded_when_it_can_be() {
        let json = br#"{"name":"mimc-chain-64","kind":"groth16"}"#;
        assert_eq!(decoded_metadata(json)["name"], "mimc-chain-64");
        assert_eq!(
            metadata_text(json),
            r#"{"name":"mimc-chain-64","kind":"groth16"}"#
        );
        assert_eq!(decoded_metadata(b"my market"), "my market");
        assert_eq!(metadata_text(b"my market"), "my market");
        assert_eq!(decoded_metadata(&[0xff, 0x00]), serde_json::Value::Null);
        assert_eq!(
            metadata_text(&[0xff, 0x00]),
            "0xff00 (2 bytes, not UTF-8 text)"
        );
        assert_eq!(metadata_text(&[0x01]), "0x01 (1 bytes, not UTF-8 text)");
        assert_eq!(decoded_metadata(b""), serde_json::Value::Null);
        assert_eq!(metadata_text(b""), "(none)");
    }
}
