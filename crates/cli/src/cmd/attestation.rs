//! `kalypso attestation ...`: AWS Nitro Enclaves attestation documents (no chain needed).

use std::{
    io::Read,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use alloy::primitives::{B256, Bytes};
use anyhow::Context as _;
use clap::Subcommand;
use kalypso_confidential::nitro::{self, Policy};

use crate::{
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
        /// The image id the document must have.
        #[arg(long, value_parser = parse::b256)]
        image_id: Option<B256>,
        /// A PCR the document must have, `INDEX=HEX` (repeat).
        #[arg(long = "pcr", value_name = "INDEX=HEX")]
        pcrs: Vec<String>,
    },
}

pub(super) fn run(out: Output, cmd: AttestationCmd) -> anyhow::Result<ExitCode> {
    let AttestationCmd::Verify {
        document,
        at_ms,
        max_age,
        image_id,
        pcrs,
    } = cmd;
    let bytes = read_document(&document)?;
    let mut policy = Policy::new(u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX));
    if let Some(id) = image_id {
        policy = policy.with_image_id(id);
    }
    for pcr in &pcrs {
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
