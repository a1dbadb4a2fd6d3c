//! The external-command backend with real shell commands.
#![cfg(unix)]

use std::time::{Duration, Instant};

use kalypso_provers::{
    CommandConfig, CommandProver, InputCheck, IoEncoding, ProveRequest, Prover, ProverError,
    ProverKind,
};

fn sh(script: &str) -> CommandConfig {
    CommandConfig::new(["sh", "-c", script])
}

fn prover(config: CommandConfig) -> CommandProver {
    CommandProver::new(config).expect("valid config")
}

#[test]
fn hex_on_stdin_and_stdout() {
    // Prefixes the input with 0xff: the proof is visibly derived from the input.
    let p = prover(CommandConfig {
        name: Some("prefixer".into()),
        ..sh(r#"read x; echo "0xff${x#0x}""#)
    });
    assert_eq!(p.describe().name, "prefixer");
    assert_eq!(p.describe().kind, ProverKind::Command);
    let proof = p.prove(&ProveRequest::new(vec![1, 2, 3])).expect("proves");
    assert_eq!(proof.as_bytes(), [0xff, 1, 2, 3]);
    // Output without 0x and with surrounding whitespace is accepted.
    let bare = prover(sh("cat >/dev/null; printf '  abcd\\n\\n'"));
    assert_eq!(
        bare.prove(&ProveRequest::new(vec![0]))
            .expect("proves")
            .as_bytes(),
        [0xab, 0xcd]
    );
}

#[test]
fn files_binary_encoding_and_secrets() {
    let p = prover(CommandConfig {
        encoding: IoEncoding::Binary,
        ..sh("cat {input} {secret} > {output}")
    });
    let request = ProveRequest {
        secret: Some(vec![0xee, 0xff]),
        ..ProveRequest::new(vec![0, 1, 0x0a])
    };
    assert_eq!(
        p.prove(&request).expect("proves").as_bytes(),
        [0, 1, 0x0a, 0xee, 0xff]
    );
    // No secret: the {secret} file is empty.
    assert_eq!(
        p.prove(&ProveRequest::new(vec![7]))
            .expect("proves")
            .as_bytes(),
        [7]
    );

    // A secret for a command that has no {secret} file is refused, not silently dropped.
    let no_secret = prover(sh("cat"));
    assert!(matches!(
        no_secret.prove(&request),
        Err(ProverError::Config { message }) if message.contains("{secret}")
    ));
    // Arguments after the script are positional parameters; placeholders work there too.
    let positional = prover(CommandConfig {
        prove: vec![
            "sh".into(),
            "-c".into(),
            "cat \"$1\"".into(),
            "sh".into(),
            "{input}".into(),
        ],
        ..sh("")
    });
    assert_eq!(
        positional
            .prove(&ProveRequest::new(vec![9, 8]))
            .expect("proves")
            .as_bytes(),
        [9, 8]
    );
}

#[test]
fn failures_carry_the_exit_code_and_stderr() {
    let p = prover(sh("echo 'constraint 7 unsatisfied' >&2; exit 3"));
    let err = p.prove(&ProveRequest::new(vec![1])).expect_err("fails");
    assert!(matches!(err, ProverError::Failed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("exited with code 3") && text.contains("constraint 7 unsatisfied"),
        "{text}"
    );
    assert!(err.is_retryable());

    let not_hex = prover(sh("cat >/dev/null; echo 'proof: xyz'"));
    let err = not_hex
        .prove(&ProveRequest::new(vec![1]))
        .expect_err("not hex");
    assert!(err.to_string().contains("printed no proof"), "{err}");

    let empty = prover(sh("cat >/dev/null"));
    let err = empty.prove(&ProveRequest::new(vec![1])).expect_err("empty");
    assert!(err.to_string().contains("empty proof"), "{err}");

    let no_output_file = prover(sh("true {output}"));
    let err = no_output_file
        .prove(&ProveRequest::new(vec![1]))
        .expect_err("no file");
    assert!(err.to_string().contains("wrote no {output} file"), "{err}");

    let missing = prover(CommandConfig::new(["/nonexistent/kalypso-prover"]));
    let err = missing
        .prove(&ProveRequest::new(vec![1]))
        .expect_err("cannot start");
    assert!(
        matches!(&err, ProverError::Config { message } if message.contains("cannot start")),
        "{err:?}"
    );
}

#[test]
fn timeout_kills_the_command_and_its_children() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pid_file = dir.path().join("pid");
    // The shell starts a child that would hold the output pipe for a minute.
    let p = prover(CommandConfig {
        timeout_secs: 0.5,
        ..sh(&format!(
            "sleep 60 & echo $! > {}; wait",
            pid_file.display()
        ))
    });
    let started = Instant::now();
    let err = p.prove(&ProveRequest::new(vec![1])).expect_err("times out");
    assert!(
        matches!(err, ProverError::Timeout { after } if after == Duration::from_millis(500)),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited for the child"
    );

    let pid = std::fs::read_to_string(&pid_file).expect("the shell wrote its child's pid");
    let stat = format!("/proc/{}/stat", pid.trim());
    let gone = (0..50).any(|_| {
        // Killed: gone, or a zombie until init reaps it.
        let alive = std::fs::read_to_string(&stat).is_ok_and(|s| !s.contains(") Z "));
        if alive {
            std::thread::sleep(Duration::from_millis(100));
        }
        !alive
    });
    assert!(gone, "the grandchild `sleep 60` survived the timeout");

    // A request's own (shorter) timeout wins over the configured one.
    let slow = prover(sh("sleep 10"));
    let request = ProveRequest {
        timeout: Some(Duration::from_millis(300)),
        ..ProveRequest::new(vec![1])
    };
    assert!(matches!(
        slow.prove(&request),
        Err(ProverError::Timeout { after }) if after == Duration::from_millis(300)
    ));
}

#[test]
fn check_command_answers_with_its_exit_code() {
    let p = prover(CommandConfig {
        check: Some(vec![
            "sh".into(),
            "-c".into(),
            r#"read x; case "$x" in 0x00*) exit 0;; 0xff*) echo "starts with ff"; exit 1;; 0xee*) exit 1;; *) echo broken >&2; exit 7;; esac"#.into(),
        ]),
        ..sh("cat")
    });
    assert_eq!(p.check_inputs(&[0x00, 1]).expect("runs"), InputCheck::Valid);
    assert_eq!(
        p.check_inputs(&[0xff, 1]).expect("runs"),
        InputCheck::invalid("starts with ff")
    );
    assert!(matches!(
        p.check_inputs(&[0xee]).expect("runs"),
        InputCheck::Invalid { reason } if reason.contains("rejected by `sh`")
    ));
    let err = p.check_inputs(&[0x42]).expect_err("exit 7 is a failure");
    assert!(
        err.to_string().contains("code 7") && err.to_string().contains("broken"),
        "{err}"
    );

    // Without a check command every input is taken as valid.
    assert_eq!(
        prover(sh("cat")).check_inputs(&[0xff]).expect("runs"),
        InputCheck::Valid
    );

    // The default `check_request` checks the prover data alone: the check command never sees a secret.
    let with_secret = |data: &[u8]| ProveRequest {
        secret: Some(br#"{"p": "13"}"#.to_vec()),
        ..ProveRequest::new(data.to_vec())
    };
    assert_eq!(
        p.check_request(&with_secret(&[0x00, 1])).expect("runs"),
        InputCheck::Valid
    );
    assert_eq!(
        p.check_request(&with_secret(&[0xff, 1])).expect("runs"),
        InputCheck::invalid("starts with ff")
    );
}

#[test]
fn env_working_dir_and_sample_inputs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = prover(CommandConfig {
        env: [("PROOF_PREFIX".to_owned(), "0xab".to_owned())].into(),
        working_dir: Some(dir.path().to_owned()),
        sample_inputs: Some(vec![0x01]),
        ..sh(r#"cat >/dev/null; touch here; echo "$PROOF_PREFIX""#)
    });
    assert_eq!(
        p.prove(&ProveRequest::new(vec![1]))
            .expect("proves")
            .as_bytes(),
        [0xab]
    );
    assert!(dir.path().join("here").exists());
    assert_eq!(p.sample_inputs(), Some(vec![0x01]));
    let report = p
        .benchmark(2)
        .expect("benchmark with the configured sample");
    assert_eq!(report.runs, 2);
}
