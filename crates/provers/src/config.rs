//! [`ProverConfig`]: which backend proves for a market, as one serde value a node's config file holds.
//!
//! ```
//! use kalypso_provers::{CircuitKind, ProverConfig};
//!
//! // {"backend": "groth16", "circuit": "merkle", "size": 4}
//! let config: ProverConfig =
//!     serde_json::from_str(r#"{"backend": "groth16", "circuit": "merkle", "size": 4}"#)?;
//! let prover = config.build()?; // Arc<dyn Prover>
//! assert_eq!(prover.describe().circuit.as_deref(), Some("merkle"));
//! let inputs = prover.sample_inputs().expect("built-in circuits have samples");
//! assert!(prover.check_inputs(&inputs)?.is_valid());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The same in TOML (a `[prover]` table of a node config):
//!
//! ```toml
//! [prover]
//! backend = "command"
//! prove = ["sh", "-c", "my-prover --in {input} --out {output}"]
//! check = ["my-prover", "check", "{input}"]
//! timeout_secs = 600
//! ```
//!
//! A circom circuit (snarkjs keys; [`backend::circom`](crate::backend::circom) documents the prover data),
//! its public signals in `public.json` order:
//!
//! ```toml
//! [prover]
//! backend = "circom"
//! wasm = "circuits/factors/fixture/factors.wasm"
//! zkey = "circuits/factors/fixture/factors.zkey"
//! public = [{ name = "n", source = "input" }]
//! private_inputs = "json"        # the ask's words are followed by {"p": ..., "q": ...}
//!                                # ("secret": {"p": ..., "q": ...} is the ask's secret; "none": no inputs)
//! sample = "circuits/factors/fixture/input.json"
//! threads = 2
//! ```

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    backend::{
        circom::{CircomConfig, CircomProver},
        command::{CommandConfig, CommandProver},
        groth16::{Groth16Config, Groth16Prover},
        webhook::{WebhookConfig, WebhookProver},
    },
    prover::{Prover, ProverError},
};

/// A prover backend and its settings, tagged by `backend`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "backend", rename_all = "snake_case")]
pub enum ProverConfig {
    /// A built-in circuit proven in-process: `circuit`, `size`, optional `keys_dir`, `threads`,
    /// `setup_seed`.
    Groth16(Groth16Config),
    /// A circom circuit with snarkjs keys proven in-process: `wasm`, `zkey`, `public`, optional
    /// `private_inputs`, `threads`, `sample`.
    Circom(CircomConfig),
    /// An external program per proof: `prove`, optional `check`, `timeout_secs`, `encoding`, ...
    Command(CommandConfig),
    /// A prover gateway over HTTP: `url`, optional `timeout_secs`, `bearer_token_env`.
    Webhook(WebhookConfig),
}

impl ProverConfig {
    /// Builds the backend: loads or makes Groth16 keys and loads circom circuits (both cached per process),
    /// validates commands and URLs.
    /// Nothing is contacted: a gateway that is down shows at the first call (or
    /// [`WebhookProver::health`]).
    pub fn build(&self) -> Result<Arc<dyn Prover>, ProverError> {
        Ok(match self {
            Self::Groth16(c) => Arc::new(Groth16Prover::from_config(c)?),
            Self::Circom(c) => Arc::new(CircomProver::new(c)?),
            Self::Command(c) => Arc::new(CommandProver::new(c.clone())?),
            Self::Webhook(c) => Arc::new(WebhookProver::new(c)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CircuitKind, IoEncoding};

    #[test]
    fn json_forms_of_each_backend() {
        let groth16: ProverConfig = serde_json::from_str(
            r#"{"backend":"groth16","circuit":"mimc","size":8,"keys_dir":"keys","threads":2}"#,
        )
        .expect("groth16 config");
        let ProverConfig::Groth16(c) = &groth16 else {
            panic!("wrong variant {groth16:?}")
        };
        assert_eq!(
            (c.circuit, c.size, c.threads),
            (CircuitKind::Mimc, 8, Some(2))
        );

        let command: ProverConfig = serde_json::from_str(
            r#"{"backend":"command","prove":["sh","-c","cat"],"encoding":"binary","timeout_secs":1.5}"#,
        )
        .expect("command config");
        let ProverConfig::Command(c) = &command else {
            panic!("wrong variant {command:?}")
        };
        assert_eq!((c.encoding, c.timeout_secs), (IoEncoding::Binary, 1.5));

        let webhook: ProverConfig =
            serde_json::from_str(r#"{"backend":"webhook","url":"http://127.0.0.1:1"}"#)
                .expect("webhook config");
        assert_eq!(
            webhook,
            ProverConfig::Webhook(crate::WebhookConfig::new("http://127.0.0.1:1"))
        );
        let circom: ProverConfig = serde_json::from_str(
            r#"{"backend":"circom","wasm":"c.wasm","zkey":"c.zkey","private_inputs":"json",
                "public":[{"name":"y","source":"output"},{"name":"a[0]","source":"input"}]}"#,
        )
        .expect("circom config");
        let ProverConfig::Circom(c) = &circom else {
            panic!("wrong variant {circom:?}")
        };
        assert_eq!(
            c.public,
            [
                crate::PublicSignal::output("y"),
                crate::PublicSignal::input("a[0]")
            ]
        );
        assert_eq!(
            (c.private_inputs, c.threads, c.sample.as_ref()),
            (crate::PrivateInputs::Json, None, None)
        );
        for config in [groth16, command, webhook, circom] {
            let json = serde_json::to_string(&config).expect("serializes");
            assert_eq!(
                serde_json::from_str::<ProverConfig>(&json).expect("round trip"),
                config
            );
        }
    }

    #[test]
    fn rejects_unknown_backends_fields_and_bad_values() {
        let err = |json: &str| {
            serde_json::from_str::<ProverConfig>(json)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"backend":"gpu"}"#).contains("unknown variant"));
        assert!(
            err(r#"{"backend":"groth16","circuit":"mimc","size":8,"key_dir":"x"}"#)
                .contains("key_dir")
        );
        assert!(err(r#"{"backend":"groth16","circuit":"sha","size":8}"#).contains("sha"));
        assert!(
            err(r#"{"backend":"circom","wasm":"a","zkey":"b","public":[{"name":"x","source":"in"}]}"#)
                .contains("unknown variant `in`")
        );
        assert!(
            err(r#"{"backend":"circom","wasm":"a","zkey":"b","public":[],"private_inputs":"yes"}"#)
                .contains("unknown variant `yes`")
        );
        assert!(err(r#"{"backend":"circom","wasm":"a","public":[]}"#).contains("zkey"));

        let build = |json: &str| {
            serde_json::from_str::<ProverConfig>(json)
                .expect("parses")
                .build()
                .unwrap_err()
        };
        assert!(matches!(
            build(r#"{"backend":"groth16","circuit":"mimc","size":0}"#),
            ProverError::Config { .. }
        ));
        assert!(matches!(
            build(r#"{"backend":"command","prove":[]}"#),
            ProverError::Config { .. }
        ));
        assert!(matches!(
            build(r#"{"backend":"command","prove":["true"],"timeout_secs":0}"#),
            ProverError::Config { .. }
        ));
        assert!(matches!(
            build(r#"{"backend":"webhook","url":"ftp://x"}"#),
            ProverError::Config { .. }
        ));
        assert!(matches!(
            build(
                r#"{"backend":"webhook","url":"http://x","bearer_token_env":"KALYPSO_TEST_UNSET_TOKEN"}"#
            ),
            ProverError::Config { .. }
        ));
        assert!(matches!(
            build(r#"{"backend":"groth16","circuit":"mimc","size":2,"setup_seed":"0x01"}"#),
            ProverError::Config { .. }
        ));
    }
}
