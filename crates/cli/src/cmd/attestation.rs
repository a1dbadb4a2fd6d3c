//! `kalypso attestation ...`: AWS Nitro Enclaves attestation documents — verified here (no chain needed),
//! served as the attestation-verifier service of a deployment, or sent to one.

use std::{
    io::Read,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::Duration,
};

use alloy::primitives::{B256, Bytes};
use anyhow::Context as _;
use clap::Subcommand;
use kalypso_attester::{Attester, AttesterClient, ClientError, Service};
use kalypso_confidential::nitro::{self, Policy};

use super::{keys::parse_key, shutdown_signal};
use crate::{
    context::Ctx,
    opts::GlobalArgs,
    output::{Output, fields},
    parse,
};

/// `kalypso attestation ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AttestationCmd {
    /// Verify an AWS Nitro Enclaves attestation document: its COSE_Sign1 signature by the enclave's
    /// certificate, the certificate chain up to the pinned AWS Nitro Enclaves root, every certificate's
    /// validity and the document's age at the time checked, the PCRs (SHA-384; a debug enclave is refused;
    /// --image-id and --pcr add expectations) and the enclave's secp256k1 public key. Prints the image id
    /// (keccak256(PCR0 ‖ PCR1 ‖ PCR2), what the on-chain AttestationVerifier and the markets use), PCR0-2 and
    /// the key. Exits 1 with the reason when the document is rejected; a document whose key is not a
    /// secp256k1 key verifies but cannot register an enclave key (the output says so).
    Verify {
        /// The document: the CBOR COSE_Sign1 bytes as the Nitro Secure Module returns them, or their hex
        /// (0x optional); `-` reads stdin.
        document: PathBuf,
        /// Check at this time (Unix milliseconds) instead of now, e.g. an archived document.
        #[arg(long, value_name = "UNIX_MS")]
        at_ms: Option<u64>,
        /// Oldest accepted document (relative to the time checked).
        #[arg(long, value_parser = parse::duration, default_value = "10m")]
        max_age: Duration,
        /// An image id the document may have (repeat: any of them) [default: any image].
        #[arg(long = "image-id", value_name = "IMAGE_ID", value_parser = parse::b256)]
        image_ids: Vec<B256>,
        /// A PCR the document must have, `INDEX=HEX` (repeat).
        #[arg(long = "pcr", value_name = "INDEX=HEX")]
        pcrs: Vec<String>,
    },
    /// Run the attestation-verifier service of this deployment until Ctrl-C / SIGTERM: it verifies AWS Nitro
    /// attestation documents (as `attestation verify` does, on the system clock) and signs the EIP-712
    /// EnclaveAttestation of each document's enclave key, image id and timestamp for the deployment's
    /// AttestationVerifier.
    ///
    /// POST /v1/attestations with the document as the body (CBOR bytes, or their hex) answers the attestation
    /// JSON that `keys register-enclave --attestation`, `keys set-matching-engine --attestation` and `keys
    /// add-ivs --attestation` read, or 422 {"error": reason} for a rejected document (413 above 64 KiB).
    /// GET /health shows the signer, chain, AttestationVerifier and policy; GET /metrics counts attestations
    /// and rejections by reason. The chain id and the AttestationVerifier come from --rpc-url and the
    /// deployment file (refused unless it is the one the key registry uses); the service warns when the
    /// AttestationVerifier does not trust its signer (governance adds it, or `kalypso deploy
    /// --attestation-signer`). Documents must chain to the pinned AWS Nitro Enclaves root.
    Serve {
        /// Address to listen on (port 0 picks a free one).
        #[arg(
            long,
            env = "KALYPSO_ATTESTER_LISTEN",
            default_value = "127.0.0.1:3050"
        )]
        listen: SocketAddr,
        /// The environment variable holding the signer's private key (hex): the key the AttestationVerifier
        /// trusts. The key itself is never an argument, never printed.
        #[arg(long, value_name = "VAR")]
        signer_key_env: String,
        /// Oldest accepted document [default: the AttestationVerifier's maximum attestation age, beyond which
        /// the chain rejects the attestation anyway].
        #[arg(long, value_parser = parse::duration)]
        max_age: Option<Duration>,
        /// An image id documents may have (repeat: any of them) [default: any image; the registry checks each
        /// role's image].
        #[arg(long = "image-id", value_name = "IMAGE_ID", value_parser = parse::b256)]
        image_ids: Vec<B256>,
        /// A PCR documents must have, `INDEX=HEX` (repeat).
        #[arg(long = "pcr", value_name = "INDEX=HEX")]
        pcrs: Vec<String>,
    },
    /// Send an attestation document to an attestation-verifier service and write the attestation it signs:
    /// the JSON `keys register-enclave --attestation`, `keys set-matching-engine --attestation` and `keys
    /// add-ivs --attestation` read. Exits 1 with the service's reason when it rejects the document.
    Request {
        /// The document: the CBOR COSE_Sign1 bytes as the Nitro Secure Module returns them, or their hex
        /// (0x optional); `-` reads stdin.
        document: PathBuf,
        /// The service's URL, e.g. http://127.0.0.1:3050.
        #[arg(long, value_name = "URL", env = "KALYPSO_ATTESTER_URL")]
        attester: String,
        /// Write the attestation JSON here [default: print it].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Give up on the service after this long.
        #[arg(long, value_parser = parse::duration, default_value = "30s")]
        timeout: Duration,
    },
}

pub(super) async fn run(global: &GlobalArgs, cmd: AttestationCmd) -> anyhow::Result<ExitCode> {
    let out = Output::new(global.json);
    match cmd {
        AttestationCmd::Verify {
            document,
            at_ms,
            max_age,
            image_ids,
            pcrs,
        } => verify(out, &document, at_ms, max_age, &image_ids, &pcrs),
        AttestationCmd::Serve {
            listen,
            signer_key_env,
            max_age,
            image_ids,
            pcrs,
        } => {
            serve(global, listen, &signer_key_env, max_age, &image_ids, &pcrs).await?;
            Ok(ExitCode::SUCCESS)
        }
        AttestationCmd::Request {
            document,
            attester,
            out: file,
            timeout,
        } => request(out, &document, &attester, file.as_deref(), timeout).await,
    }
}

/// A policy of `max_age` with the image ids and `INDEX=HEX` PCRs given (always the AWS root).
fn policy(max_age: Duration, image_ids: &[B256], pcrs: &[String]) -> anyhow::Result<Policy> {
    let mut policy = Policy::new(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
    for id in image_ids {
        policy = policy.with_image_id(*id);
    }
    for pcr in pcrs {
        let (index, value) = pcr
            .split_once('=')
            .with_context(|| format!("--pcr {pcr}: expected INDEX=HEX"))?;
        let index: u16 = index
            .parse()
            .with_context(|| format!("--pcr {pcr}: `{index}` is not a PCR index"))?;
        let value = alloy::hex::decode(value)
            .with_context(|| format!("--pcr {pcr}: the value is not hex"))?;
        policy = policy.with_pcr(index, value);
    }
    Ok(policy)
}

fn verify(
    out: Output,
    document: &Path,
    at_ms: Option<u64>,
    max_age: Duration,
    image_ids: &[B256],
    pcrs: &[String],
) -> anyhow::Result<ExitCode> {
    let bytes = read_document(document)?;
    let policy = policy(max_age, image_ids, pcrs)?;
    let now_ms = match at_ms {
        Some(ms) => ms,
        None => u64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .context("the system clock is before 1970")?
                .as_millis(),
        )
        .unwrap_or(u64::MAX),
    };
    let doc = match nitro::verify_document(&bytes, &policy, now_ms) {
        Ok(doc) => doc,
        Err(e) => {
            let value = serde_json::json!({ "valid": false, "error": e.to_string() });
            out.print(&value, || format!("rejected: {e}"));
            return Ok(ExitCode::FAILURE);
        }
    };
    let key = doc.enclave_key();
    let pcr = |i: u16| doc.pcrs.get(&i).map(|v| Bytes::copy_from_slice(v));
    let value = serde_json::json!({
        "valid": true,
        "moduleId": doc.module_id,
        "timestampMs": doc.timestamp_ms,
        "imageId": doc.image_id,
        "pcr0": pcr(0),
        "pcr1": pcr(1),
        "pcr2": pcr(2),
        "enclaveKey": key.as_ref().ok().map(|k| Bytes::copy_from_slice(&k.to_bytes())),
        "enclaveAddress": key.as_ref().ok().map(kalypso_confidential::PublicKey::address),
        "enclaveKeyError": key.as_ref().err().map(ToString::to_string),
    });
    out.print(&value, || {
        let hex = |b: Option<Bytes>| b.map_or_else(|| "-".to_owned(), |b| b.to_string());
        fields([
            (
                "document",
                "valid (AWS Nitro root, signature, chain, age, PCRs)".to_owned(),
            ),
            ("module", doc.module_id.clone()),
            ("timestamp (ms)", doc.timestamp_ms.to_string()),
            ("image id", doc.image_id.to_string()),
            ("PCR0", hex(pcr(0))),
            ("PCR1", hex(pcr(1))),
            ("PCR2", hex(pcr(2))),
            (
                "enclave key",
                match &key {
                    Ok(k) => format!(
                        "{} (address {})",
                        Bytes::copy_from_slice(&k.to_bytes()),
                        k.address()
                    ),
                    Err(e) => format!("none usable: {e}"),
                },
            ),
        ])
    });
    Ok(ExitCode::SUCCESS)
}

/// `kalypso attestation serve`.
async fn serve(
    global: &GlobalArgs,
    listen: SocketAddr,
    signer_key_env: &str,
    max_age: Option<Duration>,
    image_ids: &[B256],
    pcrs: &[String],
) -> anyhow::Result<()> {
    let key = zeroize::Zeroizing::new(
        std::env::var(signer_key_env)
            .with_context(|| format!("--signer-key-env: {signer_key_env} is not set"))?,
    );
    let signer = parse_key(&key)
        .with_context(|| format!("{signer_key_env} does not hold the signer's private key"))?;
    let ctx = Ctx::new(global).await?;
    let client = &ctx.client;
    let deployment = client.deployment();
    // Attestations are signed for the verifier the key registry checks them with.
    let in_use = client
        .registry_attestation_verifier()
        .await
        .context("cannot read the key registry's AttestationVerifier")?;
    anyhow::ensure!(
        in_use == deployment.attestation_verifier,
        "the deployment file names the AttestationVerifier {}, but the key registry checks attestations with \
         {in_use}: attestations signed for the file's would be rejected; update the deployment file",
        deployment.attestation_verifier
    );
    let chain_max_age = client
        .max_attestation_age_ms()
        .await
        .context("cannot read the AttestationVerifier's maximum attestation age")?;
    let max_age = max_age.unwrap_or(Duration::from_millis(chain_max_age));
    if max_age > Duration::from_millis(chain_max_age) {
        tracing::warn!(
            target: "kalypso::attester",
            max_age_ms = max_age.as_millis(),
            chain_max_age_ms = chain_max_age,
            "--max-age is above the AttestationVerifier's maximum attestation age: attestations of documents \
             older than the chain's maximum will be signed and then rejected on-chain"
        );
    }
    let policy = policy(max_age, image_ids, pcrs)?;
    let attester = Attester::new(
        signer,
        deployment.chain_id,
        deployment.attestation_verifier,
        policy,
    );
    let signer = attester.signer();
    let trusted = client
        .is_trusted_attestation_signer(signer)
        .await
        .context("cannot read the AttestationVerifier's trusted signers")?;
    if !trusted {
        tracing::warn!(
            target: "kalypso::attester",
            %signer,
            attestation_verifier = %deployment.attestation_verifier,
            "the signer is NOT a trusted signer of this deployment's AttestationVerifier: every attestation it \
             signs will be rejected on-chain (UntrustedSigner) until governance adds it (addTrustedSigner) or \
             the protocol is deployed with `kalypso deploy --attestation-signer {signer}`"
        );
    }
    let service = Arc::new(Service::new(attester));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let health = service.health();
    let image_list = if health.policy.image_ids.is_empty() {
        "any".to_owned()
    } else {
        health
            .policy
            .image_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let info = serde_json::json!({
        "listening": format!("http://{addr}"),
        "signer": signer,
        "trusted": trusted,
        "chainId": health.chain_id,
        "attestationVerifier": health.attestation_verifier,
        "policy": health.policy,
    });
    ctx.out.print(&info, || {
        format!(
            "attestation verifier listening on http://{addr} (POST /v1/attestations, GET /health, GET /metrics; \
             Ctrl-C to stop)\n{}",
            fields([
                ("signer", signer.to_string()),
                (
                    "trusted on-chain",
                    if trusted {
                        "yes".to_owned()
                    } else {
                        "NO: its attestations will be rejected".to_owned()
                    },
                ),
                ("chain id", health.chain_id.to_string()),
                (
                    "AttestationVerifier",
                    health.attestation_verifier.to_string(),
                ),
                ("max age", format!("{} ms", health.policy.max_age_ms)),
                ("image ids", image_list),
            ])
        )
    });
    service
        .serve(listener, shutdown_signal())
        .await
        .context("the attestation verifier stopped")
}

/// `kalypso attestation request`.
async fn request(
    out: Output,
    document: &Path,
    attester: &str,
    file: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let bytes = read_document(document)?;
    let client = AttesterClient::new(attester, timeout).context("--attester")?;
    let attestation = match client.attest(&bytes).await {
        Ok(attestation) => attestation,
        Err(ClientError::Rejected { status, reason }) => {
            let value = serde_json::json!({ "attested": false, "status": status, "error": reason });
            out.print(&value, || format!("rejected by the attester: {reason}"));
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e).context(format!("asking the attester at {attester}")),
    };
    let json = serde_json::to_string_pretty(&attestation).context("encoding the attestation")?;
    let Some(file) = file else {
        // The attestation itself is the output, human or --json alike (redirect it to a file).
        out.print(&attestation, || json.clone());
        return Ok(ExitCode::SUCCESS);
    };
    std::fs::write(file, format!("{json}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    let enclave = attestation
        .enclave_address()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let value = serde_json::json!({
        "attested": true,
        "out": file,
        "enclave": enclave,
        "imageId": attestation.image_id,
        "timestampMs": attestation.timestamp_ms,
    });
    out.print(&value, || {
        format!(
            "✓ attestation written to {}\n{}",
            file.display(),
            fields([
                ("enclave", enclave.clone()),
                ("image id", attestation.image_id.to_string()),
                ("timestamp (ms)", attestation.timestamp_ms.to_string()),
            ])
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// The document's bytes from a file or stdin: binary CBOR, or hex text of it.
fn read_document(path: &Path) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path == Path::new("-") {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading the document from stdin")?;
    } else {
        bytes = std::fs::read(path)
            .with_context(|| format!("cannot read the document {}", path.display()))?;
    }
    anyhow::ensure!(
        !bytes.is_empty(),
        "the document {} is empty",
        path.display()
    );
    if let Ok(text) = std::str::from_utf8(&bytes)
        && let Ok(decoded) = alloy::hex::decode(text.trim())
    {
        return Ok(decoded);
    }
    Ok(bytes)
}
