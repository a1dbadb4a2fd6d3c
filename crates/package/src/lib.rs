#![doc = include_str!("../README.md")]

pub mod fetch;
pub mod layout;
pub mod manifest;
mod package;
#[cfg(feature = "server")]
pub mod server;

use std::path::{Path, PathBuf};

pub use fetch::{Cache, PackageRef};
pub use manifest::{Framework, MANIFEST, Manifest};
pub use package::{CheckReport, FileEntry, Package, init, pack};

/// Errors of reading, checking, packing and fetching circuit packages.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `circuit.toml` is malformed or inconsistent.
    #[error("circuit.toml: {0}")]
    Manifest(String),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file's content does not match the hash the manifest (or the market) names for it.
    #[error("{what}: sha256 is {actual} but {expected} was expected (corrupt or substituted file)")]
    HashMismatch {
        /// The file (or `circuit.toml`).
        what: String,
        /// The hash named by the manifest or the market.
        expected: String,
        /// The hash of the bytes found.
        actual: String,
    },
    /// A file is not listed in `[files]` (run `kalypso circuit pack`).
    #[error("{0} has no sha256 in [files]: run `kalypso circuit pack` on the package")]
    NotPacked(String),
    /// An artifact is malformed or the artifacts do not fit together.
    #[error("{file}: {reason}")]
    Artifact {
        /// The file at fault.
        file: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The sample proof does not verify against the verifying key.
    #[error(
        "the sample proof does not verify against the verifying key with the sample public signals"
    )]
    SampleRejected,
    /// The package cannot be fetched from where the market says it is.
    #[error("fetching {url}: {reason}")]
    Fetch {
        /// What was fetched.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// A market's metadata names a package in a form this version cannot read.
    #[error("market metadata: {0}")]
    Metadata(String),
}

impl Error {
    pub(crate) fn manifest(reason: impl Into<String>) -> Self {
        Self::Manifest(reason.into())
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }

    pub(crate) fn artifact(file: &str, reason: impl std::fmt::Display) -> Self {
        Self::Artifact {
            file: file.to_owned(),
            reason: reason.to_string(),
        }
    }
}

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// sha256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
