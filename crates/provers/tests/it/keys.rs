//! INSECURE seeded setup, key files and the key cache.

use std::sync::Arc;

use kalypso_provers::{
    CircuitKeys, CircuitKind, CircuitSpec, Error, KeyFiles, VerifierArtifact,
    setup::{self, devnet_seed, insecure_setup, load_or_setup},
};

fn spec(kind: CircuitKind, size: usize) -> CircuitSpec {
    CircuitSpec::new(kind, size).expect("valid size")
}

#[test]
fn setup_is_deterministic_and_files_round_trip() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = spec(CircuitKind::Merkle, 2);
    let keys = insecure_setup(spec, devnet_seed(&spec)).expect("setup");
    let files = keys.save(dir.path()).expect("save");
    assert_eq!(files, KeyFiles::new(dir.path(), &spec));
    assert!(files.proving_key.ends_with("merkle-2.pk"));
    assert!(files.verifier.ends_with("merkle-2.vk.json"));

    let loaded = CircuitKeys::load(dir.path(), spec).expect("load");
    assert_eq!(loaded.proving_key(), keys.proving_key());
    assert_eq!(loaded.verifier_artifact(), keys.verifier_artifact());

    // Same seed, same bytes: anyone can regenerate the keys a market deployed.
    let other_dir = tempfile::tempdir().expect("temp dir");
    let again = insecure_setup(spec, devnet_seed(&spec)).expect("setup");
    let again_files = again.save(other_dir.path()).expect("save");
    for (a, b) in [
        (&files.proving_key, &again_files.proving_key),
        (&files.verifier, &again_files.verifier),
    ] {
        assert!(std::fs::read(a).expect("read") == std::fs::read(b).expect("read"));
    }
    let different = insecure_setup(spec, [7; 32]).expect("setup");
    assert_ne!(
        different.verifier_artifact().vk,
        keys.verifier_artifact().vk
    );

    // The artifact has the fixture's fields, which `kalypso deploy --sample-market` reads.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files.verifier).expect("read"))
            .expect("JSON");
    assert_eq!(json["numInputs"], 2);
    assert_eq!(json["numPublicSignals"], 2);
    assert_eq!(json["circuit"], "merkle");
    assert_eq!(json["size"], 2);
    for field in ["vk", "inputs", "proof", "setupSeed"] {
        assert!(
            json[field].as_str().is_some_and(|s| s.starts_with("0x")),
            "{field}"
        );
    }
    assert!(
        json["description"]
            .as_str()
            .is_some_and(|s| s.contains("INSECURE"))
    );
    let artifact: VerifierArtifact = serde_json::from_value(json).expect("parses back");
    assert!(
        keys.verify_submission(&artifact.inputs, &artifact.proof)
            .expect("sample parses")
    );
}

#[test]
fn load_rejects_foreign_and_corrupt_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let two = spec(CircuitKind::Mimc, 2);
    let three = spec(CircuitKind::Mimc, 3);
    let keys = insecure_setup(two, devnet_seed(&two)).expect("setup");
    let files = keys.save(dir.path()).expect("save");

    assert!(matches!(
        CircuitKeys::load(dir.path(), three),
        Err(Error::Io { .. })
    ));

    // Files of mimc-2 under mimc-3's names.
    let renamed = KeyFiles::new(dir.path(), &three);
    std::fs::copy(&files.verifier, &renamed.verifier).expect("copy");
    std::fs::copy(&files.proving_key, &renamed.proving_key).expect("copy");
    let err = CircuitKeys::load(dir.path(), three).expect_err("foreign files");
    assert!(
        err.to_string().contains("holds mimc-2, not mimc-3"),
        "{err}"
    );

    // A verifier artifact from another setup.
    let other = insecure_setup(two, [9; 32]).expect("setup");
    let other_dir = tempfile::tempdir().expect("temp dir");
    let other_files = other.save(other_dir.path()).expect("save");
    std::fs::copy(&other_files.verifier, &files.verifier).expect("copy");
    let err = CircuitKeys::load(dir.path(), two).expect_err("mismatched vk");
    assert!(err.to_string().contains("differs"), "{err}");
    keys.save(dir.path()).expect("restore");

    // A truncated proving key, and one that is not a key file at all.
    let pk = std::fs::read(&files.proving_key).expect("read");
    std::fs::write(&files.proving_key, &pk[..pk.len() / 2]).expect("write");
    assert!(matches!(
        CircuitKeys::load(dir.path(), two),
        Err(Error::KeyFile { .. })
    ));
    std::fs::write(&files.proving_key, b"not a key").expect("write");
    assert!(matches!(
        CircuitKeys::load(dir.path(), two),
        Err(Error::Io { .. } | Error::KeyFile { .. })
    ));
    std::fs::write(&files.proving_key, [b'X'; 64]).expect("write");
    let err = CircuitKeys::load(dir.path(), two).expect_err("bad magic");
    assert!(
        err.to_string().contains("not a kalypso proving-key file"),
        "{err}"
    );
}

#[test]
fn load_or_setup_makes_keys_once_and_checks_the_seed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spec = spec(CircuitKind::Merkle, 1);
    let files = KeyFiles::new(dir.path(), &spec);
    assert!(!files.proving_key.exists());

    let first = load_or_setup(Some(dir.path()), spec, None).expect("setup and save");
    assert!(files.proving_key.exists() && files.verifier.exists());
    let written = std::fs::metadata(&files.proving_key)
        .and_then(|m| m.modified())
        .expect("mtime");
    let cached = load_or_setup(Some(dir.path()), spec, None).expect("cached");
    assert!(Arc::ptr_eq(&first, &cached));
    assert_eq!(
        first.verifier_artifact().setup_seed.as_deref(),
        Some(&devnet_seed(&spec)[..])
    );

    // A new process (an empty cache) loads the files instead of redoing the setup.
    setup::clear_key_cache();
    let loaded = load_or_setup(Some(dir.path()), spec, None).expect("load");
    assert!(!Arc::ptr_eq(&first, &loaded));
    assert_eq!(loaded.verifier_artifact(), first.verifier_artifact());
    let unchanged = std::fs::metadata(&files.proving_key)
        .and_then(|m| m.modified())
        .expect("mtime");
    assert_eq!(written, unchanged);

    let err = load_or_setup(Some(dir.path()), spec, Some([5; 32])).expect_err("other seed");
    assert!(err.to_string().contains("not the requested"), "{err}");

    // In memory, the seed picks the keys.
    let a = load_or_setup(None, spec, Some([5; 32])).expect("setup");
    let b = load_or_setup(None, spec, None).expect("setup");
    assert_ne!(a.verifier_artifact().vk, b.verifier_artifact().vk);
    assert_eq!(b.verifier_artifact().vk, first.verifier_artifact().vk);
}
