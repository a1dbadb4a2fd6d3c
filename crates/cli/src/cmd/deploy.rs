//! `kalypso deploy`.

use crate::{
    context::{connect, deployment_path},
    opts::{DeployArgs, GlobalArgs},
    output::{Output, fields},
};
use alloy::primitives::{Bytes, U256, keccak256};
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
    config.attestation_signers = args.attestation_signers.clone();
    let roles = config.roles.clone();
    let treasury = config.params.treasury;
    if !args.no_sample_market {
        config.sample_market = Some(match &args.sample_market {
            Some(path) => sample_market(path)?,
            None => builtin_sample_market()?,
        });
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
        rows.push((
            "trusted attestation signers",
            if args.attestation_signers.is_empty() {
                "none".to_owned()
            } else {
                args.attestation_signers
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        ));
        if let (Some(id), Some(v)) = (deployment.sample_market_id, deployment.sample_verifier) {
            rows.push(("sample market", format!("{id} (Groth16Verifier {v})")));
        }
        rows.push(("written to", path.display().to_string()));
        format!("Kalypso protocol deployed\n{}", fields(rows))
    });
    Ok(())
}

/// The committed MiMC fixture, built in so that `kalypso deploy` works from any directory.
const BUILTIN_FIXTURE: &str = include_str!("../../../../contracts/test/fixtures/groth16_mimc.json");

/// The sample market of the built-in MiMC fixture.
fn builtin_sample_market() -> anyhow::Result<SampleMarket> {
    parse_sample_market(
        BUILTIN_FIXTURE,
        "the built-in groth16_mimc.json",
        "groth16_mimc",
    )
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
    let file = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let stem = file
        .trim_end_matches(".json")
        .trim_end_matches(".vk")
        .to_owned();
    parse_sample_market(&text, &path.display().to_string(), &stem)
}

/// The sample market of the artifact `text` (read from `source`, a file named `stem`).
fn parse_sample_market(text: &str, source: &str, stem: &str) -> anyhow::Result<SampleMarket> {
    let json: serde_json::Value =
        serde_json::from_str(text).with_context(|| format!("{source} is not JSON"))?;
    let bytes = |k: &str| -> anyhow::Result<Bytes> {
        json[k]
            .as_str()
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("{source}: field '{k}' is missing or not hex"))
    };
    let num_inputs = json["numInputs"]
        .as_u64()
        .with_context(|| format!("{source}: numInputs missing"))?;
    let vk = bytes("vk")?;
    let metadata = serde_json::json!({
        "name": market_name(&json, stem),
        "kind": "groth16",
        "numInputs": num_inputs,
        "vkHash": keccak256(&vk),
    });
    Ok(SampleMarket {
        vk,
        num_inputs: U256::from(num_inputs),
        inputs: bytes("inputs")?,
        proof: bytes("proof")?,
        slashing_penalty: U256::from(10u64) * U256::from(10u64).pow(U256::from(18)),
        min_stake: U256::from(20u64) * U256::from(10u64).pow(U256::from(18)),
        fallback_delay: 3600,
        metadata: Bytes::from(metadata.to_string().into_bytes()),
    })
}

/// The market's name, from what the artifact says it is: its own `name`; `<circuit>-<size>` for the files of
/// `kalypso prover setup`; `mimc-chain-<rounds>` for the MiMC fixture (generators derive a built-in prover
/// from these two); else the file's name, marked `custom-` when it would read as a built-in circuit whose keys
/// it does not have.
fn market_name(json: &serde_json::Value, stem: &str) -> String {
    if let Some(name) = json["name"].as_str().filter(|n| !n.is_empty()) {
        return name.to_owned();
    }
    if let (Some(circuit), Some(size)) = (json["circuit"].as_str(), json["size"].as_u64()) {
        return format!("{circuit}-{size}");
    }
    if let (Some("mimc5-chain"), Some(rounds)) = (json["circuit"].as_str(), json["rounds"].as_u64())
    {
        return format!("mimc-chain-{rounds}");
    }
    let stem = if stem.is_empty() {
        "groth16-circuit"
    } else {
        stem
    };
    let groth16 = serde_json::json!({ "name": stem, "kind": "groth16" }).to_string();
    if super::generator::names_builtin_circuit(groth16.as_bytes()) {
        format!("custom-{stem}")
    } else {
        stem.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(metadata: &Bytes) -> String {
        let json: serde_json::Value = serde_json::from_slice(metadata).expect("metadata is JSON");
        json["name"].as_str().expect("name").to_owned()
    }

    #[test]
    fn the_builtin_fixture_is_the_mimc_chain_market() {
        let sample = builtin_sample_market().expect("built-in fixture parses");
        assert_eq!(name(&sample.metadata), "mimc-chain-64");
        assert_eq!(sample.num_inputs, U256::from(1));
        assert!(super::super::generator::names_builtin_circuit(
            &sample.metadata
        ));
    }

    #[test]
    fn custom_artifacts_are_named_after_what_they_are() {
        let fixture: serde_json::Value = serde_json::from_str(BUILTIN_FIXTURE).expect("json");
        let mut custom = serde_json::json!({
            "numInputs": 2,
            "vk": fixture["vk"],
            "inputs": fixture["inputs"],
            "proof": fixture["proof"],
        });
        let sample = parse_sample_market(&custom.to_string(), "t", "poseidon").expect("parses");
        assert_eq!(name(&sample.metadata), "poseidon");
        let metadata: serde_json::Value = serde_json::from_slice(&sample.metadata).expect("json");
        assert_eq!(metadata["numInputs"], 2);
        assert_eq!(
            metadata["vkHash"],
            serde_json::json!(keccak256(
                fixture["vk"]
                    .as_str()
                    .expect("vk")
                    .parse::<Bytes>()
                    .expect("hex")
            ))
        );
        assert!(!super::super::generator::names_builtin_circuit(
            &sample.metadata
        ));
        // A file named like a built-in circuit does not claim to be one.
        let sample = parse_sample_market(&custom.to_string(), "t", "merkle-20").expect("parses");
        assert_eq!(name(&sample.metadata), "custom-merkle-20");
        custom["circuit"] = "merkle".into();
        custom["size"] = 20.into();
        let sample = parse_sample_market(&custom.to_string(), "t", "x").expect("parses");
        assert_eq!(name(&sample.metadata), "merkle-20");
        custom["name"] = "my-circuit".into();
        let sample = parse_sample_market(&custom.to_string(), "t", "x").expect("parses");
        assert_eq!(name(&sample.metadata), "my-circuit");
    }
}
