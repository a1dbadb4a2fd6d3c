//! `kalypso deploy`.

use crate::{
    context::{connect, deployment_path},
    opts::{DeployArgs, GlobalArgs},
    output::{Output, fields},
};
use alloy::primitives::{Bytes, U256};
use anyhow::Context as _;
use kalypso_sdk::{Admin, DeployConfig, Roles, SampleMarket};

pub(super) async fn run(global: &GlobalArgs, args: &DeployArgs) -> anyhow::Result<()> {
    let out = Output::new(global.json);
    let (provider, signer, chain_id) = connect(global).await?;
    let admin = signer
        .context("deploy sends transactions: set KALYPSO_PRIVATE_KEY (or pass --private-key)")?;
    let mut config = DeployConfig::devnet(admin);
    config.roles = Roles {
        admin: if args.no_timelock {
            Admin::Account(admin)
        } else {
            Admin::Timelock {
                proposers: vec![args.governance.unwrap_or(admin)],
                delay: args.timelock_delay,
            }
        },
        pauser: args.pauser.unwrap_or(admin),
        key_admin: args.key_admin.unwrap_or(admin),
    };
    config.params.treasury = args.treasury.unwrap_or(admin);
    let roles = config.roles.clone();
    let treasury = config.params.treasury;
    if !args.no_sample_market {
        config.sample_market = Some(sample_market(&args.sample_market)?);
    }
    let bar = out.progress(0, "deploying");
    let deployment = kalypso_sdk::deploy_with_progress(provider, config, |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.step as u64);
        bar.set_message(p.label);
    })
    .await
    .context("deployment failed")?;
    bar.finish_and_clear();

    let path = args
        .out
        .clone()
        .unwrap_or_else(|| deployment_path(global, chain_id));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    deployment
        .save(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    out.print(&deployment, || {
        let mut rows = vec![
            ("chain", chain_id.to_string()),
            ("ProofMarketplace", deployment.marketplace.to_string()),
            (
                "GeneratorRegistry (+ staking)",
                deployment.generator_registry.to_string(),
            ),
            ("EntityKeyRegistry", deployment.key_registry.to_string()),
            (
                "AttestationVerifier",
                deployment.attestation_verifier.to_string(),
            ),
            ("payment token", deployment.payment_token.to_string()),
            ("staking token", deployment.staking_token.to_string()),
        ];
        let admin_role = match (&roles.admin, deployment.timelock) {
            (Admin::Timelock { proposers, delay }, Some(timelock)) => format!(
                "TimelockController {timelock} (delay {delay} s, proposers {})",
                proposers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (Admin::Account(account), _) => format!("{account} (no timelock)"),
            (Admin::Timelock { .. }, None) => "timelock missing".into(),
        };
        rows.push(("admin (upgrades, parameters)", admin_role));
        rows.push(("pauser", roles.pauser.to_string()));
        rows.push(("key admin (ME key)", roles.key_admin.to_string()));
        rows.push(("treasury", treasury.to_string()));
        if let (Some(id), Some(v)) = (deployment.sample_market_id, deployment.sample_verifier) {
            rows.push(("sample market", format!("{id} (Groth16Verifier {v})")));
        }
        rows.push(("written to", path.display().to_string()));
        format!("Kalypso protocol deployed\n{}", fields(rows))
    });
    Ok(())
}

/// The sample Groth16 market of a proof fixture (`contracts/test/fixtures/groth16_mimc.json` layout, which the
/// `.vk.json` files of `kalypso prover setup` extend).
pub(super) fn sample_market(path: &std::path::Path) -> anyhow::Result<SampleMarket> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the verifier artifact {} (vk, numInputs, inputs, proof)",
            path.display()
        )
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let bytes = |k: &str| -> anyhow::Result<Bytes> {
        json[k]
            .as_str()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{}: field '{k}' is missing or not hex", path.display()))
    };
    let num_inputs = json["numInputs"]
        .as_u64()
        .with_context(|| format!("{}: numInputs missing", path.display()))?;
    // `kalypso prover setup` files name their circuit and size; the committed MiMC fixture its rounds.
    let name = match (json["circuit"].as_str(), json["size"].as_u64()) {
        (Some(circuit), Some(size)) => format!("{circuit}-{size}"),
        _ => format!("mimc-chain-{}", json["rounds"].as_u64().unwrap_or_default()),
    };
    Ok(SampleMarket {
        vk: bytes("vk")?,
        num_inputs: U256::from(num_inputs),
        inputs: bytes("inputs")?,
        proof: bytes("proof")?,
        slashing_penalty: U256::from(10u64) * U256::from(10u64).pow(U256::from(18)),
        min_stake: U256::from(20u64) * U256::from(10u64).pow(U256::from(18)),
        fallback_delay: 3600,
        metadata: Bytes::from(
            serde_json::json!({ "name": name, "kind": "groth16" })
                .to_string()
                .into_bytes(),
        ),
    })
}
