//! Circuit packages end to end: the committed circom chain package checks, packs reproducibly, is fetched
//! over file:// and HTTP into a cache, and every tampering is refused.

use std::{
    fs,
    path::{Path, PathBuf},
};

use kalypso_package::{Cache, Error, MANIFEST, Package, PackageRef, pack};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../circuits/chain/fixture")
}

/// A copy of the chain package in a temporary directory.
fn copy() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("chain");
    fs::create_dir(&dir).expect("mkdir");
    for entry in fs::read_dir(fixture()).expect("fixture") {
        let entry = entry.expect("entry");
        fs::copy(entry.path(), dir.join(entry.file_name())).expect("copy");
    }
    (tmp, dir)
}

fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = fs::read_to_string(path).expect("read");
    fs::write(path, f(text)).expect("write");
}

#[test]
fn the_chain_package_checks_and_its_verifier_takes_the_ask_input_first() {
    let package = Package::open(&fixture()).expect("opens");
    let report = package.check().expect("checks");
    assert_eq!(report.name, "chain-16");
    assert_eq!(
        (
            report.num_public_signals,
            report.num_inputs,
            report.num_outputs
        ),
        (2, 1, 1)
    );
    assert_eq!(report.constraints, Some(49));
    assert_eq!(report.files.len(), 7);
    let v = &report.verifier;
    assert_eq!(v.num_inputs, 1);
    // The sample's ask input is x = 5 as one word; its proof carries y after A‖B‖C.
    let mut five = [0u8; 32];
    five[31] = 5;
    assert_eq!(v.inputs, five);
    assert_eq!(v.proof.len(), 256 + 32);
    assert!(
        package
            .verify_submission(&v.inputs, &v.proof)
            .expect("well-formed")
    );
    let mut wrong_output = v.proof.clone();
    wrong_output[287] ^= 1;
    assert!(
        !package
            .verify_submission(&v.inputs, &wrong_output)
            .expect("well-formed")
    );
    let mut six = five;
    six[31] = 6;
    assert!(
        !package
            .verify_submission(&six, &v.proof)
            .expect("well-formed")
    );
    assert_eq!(package.verifier_key_bytes().expect("key"), v.vk);

    let data = package
        .prover_data(&serde_json::json!({"x": "5"}))
        .expect("encodes");
    assert_eq!(data, five);
    let err = package
        .prover_data(&serde_json::json!({"x": "5", "k": "1"}))
        .unwrap_err()
        .to_string();
    assert!(err.contains("private_inputs"), "{err}");
}

#[test]
fn pack_is_reproducible_and_keeps_comments() {
    let (_tmp, dir) = copy();
    let before = fs::read(dir.join(MANIFEST)).expect("manifest");
    let packed = pack(&dir).expect("packs");
    assert_eq!(fs::read(dir.join(MANIFEST)).expect("manifest"), before);
    assert_eq!(
        packed.sha256(),
        Package::open(&fixture()).expect("opens").sha256()
    );

    // A changed file gets its new hash, and so does the package.
    edit(&dir.join("input.json"), |_| r#"{"x": "5" }"#.into());
    let repacked = pack(&dir).expect("packs");
    assert_ne!(repacked.sha256(), packed.sha256());
    assert!(
        fs::read_to_string(dir.join(MANIFEST))
            .expect("manifest")
            .starts_with("# The chain circuit")
    );
    repacked.check().expect("still checks");
}

#[test]
fn tampered_packages_are_refused_with_the_reason() {
    // A flipped byte in the zkey.
    let (_tmp, dir) = copy();
    let mut zkey = fs::read(dir.join("chain.zkey")).expect("zkey");
    let last = zkey.len() - 1;
    zkey[last] ^= 1;
    fs::write(dir.join("chain.zkey"), &zkey).expect("write");
    let err = Package::open(&dir).expect("opens").check().unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { what, .. } if what == "chain.zkey"),
        "{err}"
    );

    // The layout the other way round: y from the ask, x from the proof.
    let (_tmp, dir) = copy();
    edit(&dir.join(MANIFEST), |t| {
        t.replace(
            r#"signals = [{ name = "y", source = "output" }, { name = "x", source = "input" }]"#,
            r#"signals = [{ name = "y", source = "input" }, { name = "x", source = "output" }]"#,
        )
    });
    let err = Package::open(&dir)
        .expect("opens")
        .check()
        .unwrap_err()
        .to_string();
    assert!(err.contains("listed after an input"), "{err}");

    // A proof of another statement.
    let (_tmp, dir) = copy();
    edit(&dir.join("public.json"), |t| t.replace("\"5\"", "\"6\""));
    let err = pack(&dir).expect("packs").check().unwrap_err();
    assert!(matches!(err, Error::SampleRejected), "{err}");

    // Unpacked: a referenced file without a hash.
    let (_tmp, dir) = copy();
    edit(&dir.join(MANIFEST), |t| {
        t.lines()
            .filter(|l| !l.starts_with("\"chain.wasm\""))
            .collect::<Vec<_>>()
            .join("\n")
    });
    let err = Package::open(&dir).expect("opens").check().unwrap_err();
    assert!(
        matches!(&err, Error::NotPacked(f) if f == "chain.wasm"),
        "{err}"
    );
}

fn reference(package: &Package, url: String) -> PackageRef {
    PackageRef {
        sha256: package.sha256(),
        url,
    }
}

#[test]
fn fetching_over_file_urls_checks_every_hash_and_caches_by_hash() {
    let (_tmp, dir) = copy();
    let package = Package::open(&dir).expect("opens");
    let cache_dir = tempfile::tempdir().expect("tempdir");
    let cache = Cache::new(cache_dir.path());
    let url = format!("file://{}/", dir.display());

    let mut fetched = Vec::new();
    let cached = cache
        .resolve(&reference(&package, url.clone()), &mut |f, _| {
            fetched.push(f.to_owned())
        })
        .expect("fetches");
    assert_eq!(fetched.len(), 7);
    assert_eq!(cached.dir(), cache_dir.path().join(package.sha256_hex()));
    assert_eq!(cached.sha256(), package.sha256());
    cached.check().expect("the cached copy checks");

    // From the cache: nothing fetched.
    let mut again = 0;
    cache
        .resolve(&reference(&package, url.clone()), &mut |_, _| again += 1)
        .expect("cached");
    assert_eq!(again, 0);

    // A cached file changed on disk is refused.
    fs::write(cached.dir().join("chain.wasm"), b"not wasm").expect("write");
    let err = cache
        .resolve(&reference(&package, url.clone()), &mut |_, _| {})
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");

    // The market names another hash than the manifest's: refused, nothing cached.
    let other = tempfile::tempdir().expect("tempdir");
    let err = Cache::new(other.path())
        .resolve(
            &PackageRef {
                sha256: [7; 32],
                url: url.clone(),
            },
            &mut |_, _| {},
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { what, .. } if what.ends_with("circuit.toml")),
        "{err}"
    );
    assert!(
        fs::read_dir(other.path()).expect("cache").all(|e| !e
            .expect("entry")
            .path()
            .join(MANIFEST)
            .exists())
    );

    // A substituted file at the source: refused, nothing cached.
    fs::write(dir.join("proof.json"), b"{}").expect("write");
    let fresh = tempfile::tempdir().expect("tempdir");
    let err = Cache::new(fresh.path())
        .resolve(&reference(&package, url), &mut |_, _| {})
        .unwrap_err();
    assert!(
        matches!(&err, Error::HashMismatch { what, .. } if what.ends_with("proof.json")),
        "{err}"
    );
    assert!(!fresh.path().join(package.sha256_hex()).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetching_over_http_from_the_package_server() {
    let (_tmp, dir) = copy();
    let package = Package::open(&dir).expect("opens");
    let (router, served) = kalypso_package::server::router(vec![package.clone()]).expect("router");
    assert_eq!(served[0].sha256, package.sha256_hex());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kalypso_package::server::serve(listener, router, async {
        let _ = stopped.await;
    }));
    let base = format!("http://{addr}{}", served[0].path);

    let cache_dir = tempfile::tempdir().expect("tempdir");
    let r = reference(&package, base.clone());
    let cache = Cache::new(cache_dir.path());
    let cached = tokio::task::spawn_blocking(move || cache.resolve(&r, &mut |_, _| {}))
        .await
        .expect("joins")
        .expect("fetches over http");
    cached.check().expect("checks");

    // Only the package's files are served: not other files of the directory, not other hashes.
    fs::write(dir.join("secret.txt"), b"private").expect("write");
    let get = |url: String| tokio::task::spawn_blocking(move || ureq_status(&url));
    assert_eq!(get(format!("{base}secret.txt")).await.expect("joins"), 404);
    assert_eq!(get(format!("{base}chain.wasm")).await.expect("joins"), 200);
    assert_eq!(
        get(format!(
            "http://{addr}/packages/{}/chain.wasm",
            "00".repeat(32)
        ))
        .await
        .expect("joins"),
        404
    );

    // A file changed behind the server's back is served, and every client refuses it.
    fs::write(dir.join("chain.zkey"), b"substituted").expect("write");
    let fresh = tempfile::tempdir().expect("tempdir");
    let r = reference(&package, base);
    let root = fresh.path().to_owned();
    let err = tokio::task::spawn_blocking(move || Cache::new(root).resolve(&r, &mut |_, _| {}))
        .await
        .expect("joins")
        .unwrap_err();
    assert!(matches!(err, Error::HashMismatch { .. }), "{err}");

    let _ = stop.send(());
    server.await.expect("joins").expect("serves");
}

fn ureq_status(url: &str) -> u16 {
    match ureq::get(url).call() {
        Ok(r) => r.status().as_u16(),
        Err(ureq::Error::StatusCode(code)) => code,
        Err(e) => panic!("{url}: {e}"),
    }
}

/// A gnark package: the real gnark v0.10 key, proof and public witness of `x³ + x + 5 == y` (y = 35 public,
/// from the ask), proven through a command backend.
#[test]
fn a_gnark_package_checks_with_real_gnark_bytes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../provers/tests/fixtures/gnark");
    for file in ["cubic.vk", "cubic.proof", "cubic.pub"] {
        fs::copy(fixtures.join(file), dir.join(file)).expect("copy");
    }
    fs::write(
        dir.join(MANIFEST),
        r#"name = "cubic"
proving_system = "groth16-bn254"
framework = "gnark"
verifying_key = "cubic.vk"

[public]
signals = [{ name = "Y", source = "input" }]

[sample]
proof = "cubic.proof"
public = "cubic.pub"

[prover]
backend = "command"
prove = ["my-gnark-prover", "--in", "{input}", "--out", "{output}"]
"#,
    )
    .expect("write");
    let package = pack(dir).expect("packs");
    let report = package.check().expect("the real gnark proof verifies");
    assert_eq!((report.num_inputs, report.num_outputs), (1, 0));
    let mut y = [0u8; 32];
    y[31] = 35;
    assert_eq!(report.verifier.inputs, y);
    assert!(
        package
            .verify_submission(&report.verifier.inputs, &report.verifier.proof)
            .expect("well-formed")
    );
    assert!(matches!(
        package.prover_config().expect("a prover"),
        kalypso_provers::ProverConfig::Command(_)
    ));

    // Without a [prover] a gnark package cannot be proven by generators: said plainly.
    edit(&dir.join(MANIFEST), |t| {
        t[..t.find("[prover]").expect("table")].to_owned()
    });
    let err = pack(dir)
        .expect("packs")
        .prover_config()
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs a [prover] table"), "{err}");
}
