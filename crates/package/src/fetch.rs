//! Resolving the package a market names: fetch (`file://`, `http://`, `https://`), check every hash, cache
//! by hash.
//!
//! A market's metadata carries `{"package": {"sha256": "<sha256 of circuit.toml>", "url": "<base>"}}`; the
//! manifest is `<base>/circuit.toml` and every file `<base>/<path>`. Fetching is all or nothing: files are
//! downloaded into a temporary directory next to the cache entry, each checked against the hash the manifest
//! names (the manifest against the market's hash), and the directory is renamed into place only when all of
//! them match. A cached package is re-checked when it is opened, so a file changed on disk is refused too.

use std::{
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde_json::Value;

use crate::{
    Error, Result,
    manifest::{MANIFEST, Manifest, parse_sha256},
    package::Package,
    sha256,
};

/// The largest file a package may hold (a 2^24-constraint zkey is about 3 GiB).
pub const MAX_FILE_BYTES: u64 = 8 << 30;

/// The largest `circuit.toml`.
const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Where a market's package is and what it must hash to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackageRef {
    /// sha256 of the package's `circuit.toml`.
    pub sha256: [u8; 32],
    /// Base URL: `file:///dir/`, `http(s)://host/path/`.
    pub url: String,
}

impl PackageRef {
    /// The package named by a market's metadata: `None` when the metadata names none (a built-in circuit,
    /// free text), an error when it names one this version cannot use.
    pub fn from_metadata(metadata: &[u8]) -> Option<Result<Self>> {
        let json: Value = serde_json::from_slice(metadata).ok()?;
        let package = json.get("package")?;
        Some(Self::from_json(package))
    }

    fn from_json(package: &Value) -> Result<Self> {
        let field = |name: &str| {
            package.get(name).and_then(Value::as_str).ok_or_else(|| {
                Error::Metadata(format!("package.{name} is missing or not a string"))
            })
        };
        let sha256 = parse_sha256(field("sha256")?).map_err(Error::Metadata)?;
        let url = field("url")?.to_owned();
        if !["file://", "http://", "https://"]
            .iter()
            .any(|s| url.starts_with(s))
        {
            return Err(Error::Metadata(format!(
                "package.url '{url}' is not a file://, http:// or https:// URL"
            )));
        }
        Ok(Self { sha256, url })
    }

    /// The URL of a file of the package.
    pub fn file_url(&self, file: &str) -> String {
        format!("{}/{file}", self.url.trim_end_matches('/'))
    }
}

/// The local package cache: `<root>/<sha256>/`.
#[derive(Clone, Debug)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// A cache in `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$KALYPSO_CACHE_DIR/packages`, else `$XDG_CACHE_HOME/kalypso/packages`, else
    /// `~/.cache/kalypso/packages`.
    pub fn default_location() -> Self {
        let env = |name| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let base = env("KALYPSO_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("kalypso")))
            .or_else(|| env("HOME").map(|h| h.join(".cache").join("kalypso")))
            .unwrap_or_else(|| std::env::temp_dir().join("kalypso-cache"));
        Self::new(base.join("packages"))
    }

    /// The cache directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The package `r` names: from the cache when it is there (every hash re-checked), else fetched, checked
    /// and cached. `progress` hears each file as it is fetched (path, bytes).
    pub fn resolve(&self, r: &PackageRef, progress: &mut dyn FnMut(&str, u64)) -> Result<Package> {
        let dir = self.root.join(hex::encode(r.sha256));
        if dir.join(MANIFEST).is_file() {
            let package = Package::open(&dir)?;
            if package.sha256() != r.sha256 {
                return Err(Error::HashMismatch {
                    what: format!("{} (cached)", dir.join(MANIFEST).display()),
                    expected: hex::encode(r.sha256),
                    actual: package.sha256_hex(),
                });
            }
            package.verify_files()?;
            return Ok(package);
        }
        fs::create_dir_all(&self.root).map_err(|e| Error::io(&self.root, e))?;
        let staging = tempfile::Builder::new()
            .prefix(".fetch-")
            .tempdir_in(&self.root)
            .map_err(|e| Error::io(&self.root, e))?;

        let manifest_url = r.file_url(MANIFEST);
        let manifest_bytes = read_url(&manifest_url, MAX_MANIFEST_BYTES)?;
        let actual = sha256(&manifest_bytes);
        if actual != r.sha256 {
            return Err(Error::HashMismatch {
                what: manifest_url,
                expected: hex::encode(r.sha256),
                actual: hex::encode(actual),
            });
        }
        let text = std::str::from_utf8(&manifest_bytes)
            .map_err(|_| Error::manifest(format!("{manifest_url} is not UTF-8")))?;
        let manifest = Manifest::parse(text)?;
        for file in manifest.referenced_files() {
            if !manifest.files.contains_key(file) {
                return Err(Error::NotPacked(file.to_owned()));
            }
        }
        for (file, expected) in &manifest.files {
            let url = r.file_url(file);
            let target = staging.path().join(file);
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            let (size, actual) = download(&url, &target)?;
            let expected = parse_sha256(expected).map_err(Error::manifest)?;
            if actual != expected {
                return Err(Error::HashMismatch {
                    what: url,
                    expected: hex::encode(expected),
                    actual: hex::encode(actual),
                });
            }
            progress(file, size);
        }
        let manifest_path = staging.path().join(MANIFEST);
        fs::write(&manifest_path, &manifest_bytes).map_err(|e| Error::io(&manifest_path, e))?;
        let staged = staging.keep();
        if let Err(e) = fs::rename(&staged, &dir) {
            // Another process cached it first: use theirs.
            let _ = fs::remove_dir_all(&staged);
            if !dir.join(MANIFEST).is_file() {
                return Err(Error::io(&dir, e));
            }
        }
        let package = Package::open(&dir)?;
        package.verify_files()?;
        Ok(package)
    }
}

/// The bytes at `url`, at most `limit`.
fn read_url(url: &str, limit: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_url(url)?
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fetch_error(url, e))?;
    if bytes.len() as u64 > limit {
        return Err(fetch_error(url, format!("larger than {limit} bytes")));
    }
    Ok(bytes)
}

/// Streams `url` into `target`, hashing on the way; returns (size, sha256).
fn download(url: &str, target: &Path) -> Result<(u64, [u8; 32])> {
    use sha2::Digest;
    let mut reader = open_url(url)?.take(MAX_FILE_BYTES + 1);
    let mut file = fs::File::create(target).map_err(|e| Error::io(target, e))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = reader.read(&mut buf).map_err(|e| fetch_error(url, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        if size > MAX_FILE_BYTES {
            return Err(fetch_error(
                url,
                format!("larger than {MAX_FILE_BYTES} bytes"),
            ));
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n])
            .map_err(|e| Error::io(target, e))?;
    }
    file.sync_all().map_err(|e| Error::io(target, e))?;
    Ok((size, hasher.finalize().into()))
}

fn open_url(url: &str) -> Result<Box<dyn Read + Send>> {
    if let Some(path) = url.strip_prefix("file://") {
        let path = Path::new(path);
        let file = fs::File::open(path).map_err(|e| fetch_error(url, e))?;
        return Ok(Box::new(file));
    }
    let response = ureq::get(url).call().map_err(|e| fetch_error(url, e))?;
    Ok(Box::new(response.into_body().into_reader()))
}

fn fetch_error(url: &str, reason: impl std::fmt::Display) -> Error {
    Error::Fetch {
        url: url.to_owned(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_refs_from_metadata() {
        let hash = "ab".repeat(32);
        let meta = format!(r#"{{"name":"c","package":{{"sha256":"{hash}","url":"http://h/p/"}}}}"#);
        let r = PackageRef::from_metadata(meta.as_bytes())
            .expect("names a package")
            .expect("valid");
        assert_eq!(r.sha256, [0xab; 32]);
        assert_eq!(r.file_url("circuit.toml"), "http://h/p/circuit.toml");
        assert!(PackageRef::from_metadata(br#"{"name":"mimc-16","kind":"groth16"}"#).is_none());
        assert!(PackageRef::from_metadata(b"free text").is_none());
        let bad = |json: &str| {
            PackageRef::from_metadata(json.as_bytes())
                .expect("names a package")
                .unwrap_err()
                .to_string()
        };
        assert!(bad(r#"{"package":{"url":"http://h"}}"#).contains("package.sha256"));
        assert!(
            bad(&format!(
                r#"{{"package":{{"sha256":"{hash}","url":"ftp://h"}}}}"#
            ))
            .contains("not a file://")
        );
        assert!(bad(r#"{"package":{"sha256":"12","url":"http://h"}}"#).contains("not a sha256"));
    }
}
