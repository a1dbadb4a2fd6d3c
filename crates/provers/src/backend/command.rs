//! An external program per proof: a market creator's prover binary, a script, a container run.
//!
//! The `prove` command receives the ask's prover data on stdin, or in a file whose path replaces
//! `{input}` in its arguments, and returns the proof on stdout, or in the file named by `{output}`.
//! A confidential ask's secret is passed only through a `{secret}` file. Values are `0x`-hex text by default
//! (a trailing newline on input, whitespace ignored on output) or raw bytes with `encoding = "binary"`.
//!
//! The optional `check` command gets the inputs the same way and answers with its exit code: 0 valid,
//! 1 invalid (stdout is the reason), anything else a failure. Without it every input is taken as valid.
//!
//! Each command runs in its own process group with a timeout; on timeout the whole group is killed, so a
//! shell's children do not outlive it. Stderr (its last 4 KiB) is part of every failure.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tracing::{debug, warn};
use wait_timeout::ChildExt;

use crate::{
    hex0x,
    prover::{InputCheck, Proof, ProveRequest, Prover, ProverError, ProverInfo, ProverKind},
};

/// Largest stdout a command may print (a proof is usually a few hundred bytes).
const MAX_STDOUT: u64 = 64 << 20;
/// Bytes of stderr kept for error messages (the end of it).
const STDERR_TAIL: usize = 4 << 10;
/// How long the output pipes may stay open after the command exited (a background child holding them).
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// How prover data, secrets and proofs are written to and read from the command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IoEncoding {
    /// `0x`-prefixed hex text (the prefix is optional on output).
    #[default]
    Hex,
    /// Raw bytes.
    Binary,
}

impl IoEncoding {
    fn encode(self, bytes: &[u8]) -> Vec<u8> {
        match self {
            Self::Hex => format!("{}\n", hex0x::encode(bytes)).into_bytes(),
            Self::Binary => bytes.to_vec(),
        }
    }

    fn decode(self, raw: Vec<u8>) -> Result<Vec<u8>, String> {
        match self {
            Self::Binary => Ok(raw),
            Self::Hex => {
                let text = String::from_utf8(raw).map_err(|_| "output is not text".to_owned())?;
                let text = text.trim();
                let digits = text
                    .strip_prefix("0x")
                    .or_else(|| text.strip_prefix("0X"))
                    .unwrap_or(text);
                hex::decode(digits).map_err(|e| format!("output is not hex: {e}"))
            }
        }
    }
}

/// Configuration of a [`CommandProver`] (the `command` variant of [`ProverConfig`](crate::ProverConfig)).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Program and arguments of the prove command (no shell: use `["sh", "-c", "..."]` for one).
    /// `{input}`, `{output}` and `{secret}` in an argument are replaced by file paths.
    pub prove: Vec<String>,
    /// Program and arguments of the input check, same placeholders (`{input}`, `{secret}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<Vec<String>>,
    /// Seconds a command may run.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: f64,
    /// Encoding of inputs and proofs.
    #[serde(default)]
    pub encoding: IoEncoding,
    /// Name in [`ProverInfo`] [default: the program].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Valid prover data for benchmarks (`0x`-hex).
    #[serde(
        default,
        with = "hex0x::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub sample_inputs: Option<Vec<u8>>,
    /// Extra environment variables of the commands.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory of the commands [default: the current one].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<PathBuf>,
}

fn default_timeout_secs() -> f64 {
    3600.0
}

impl CommandConfig {
    /// A prove command with the defaults: hex on stdin/stdout, no check, one hour timeout.
    pub fn new(prove: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            prove: prove.into_iter().map(Into::into).collect(),
            check: None,
            timeout_secs: default_timeout_secs(),
            encoding: IoEncoding::Hex,
            name: None,
            sample_inputs: None,
            env: BTreeMap::new(),
            working_dir: None,
        }
    }
}

/// Runs [`CommandConfig::prove`] per proof and [`CommandConfig::check`] per input check.
#[derive(Clone, Debug)]
pub struct CommandProver {
    config: CommandConfig,
    timeout: Duration,
}

impl CommandProver {
    /// Validates `config`: a non-empty prove command (and check command, when given) and a positive timeout.
    pub fn new(config: CommandConfig) -> Result<Self, ProverError> {
        if config.prove.first().is_none_or(|p| p.is_empty()) {
            return Err(ProverError::config("the prove command is empty"));
        }
        if config
            .check
            .as_ref()
            .is_some_and(|c| c.first().is_none_or(|p| p.is_empty()))
        {
            return Err(ProverError::config("the check command is empty"));
        }
        let timeout = Duration::try_from_secs_f64(config.timeout_secs)
            .ok()
            .filter(|t| !t.is_zero())
            .ok_or_else(|| {
                ProverError::config(format!(
                    "timeout_secs must be a positive number of seconds, got {}",
                    config.timeout_secs
                ))
            })?;
        Ok(Self { config, timeout })
    }

    /// The configuration.
    pub fn config(&self) -> &CommandConfig {
        &self.config
    }

    /// Runs the check command (valid when there is none), with `secret` when the command takes `{secret}`.
    fn check(&self, prover_data: &[u8], secret: Option<&[u8]>) -> Result<InputCheck, ProverError> {
        let Some(check) = &self.config.check else {
            return Ok(InputCheck::Valid);
        };
        let secret = secret.filter(|_| check.iter().any(|a| a.contains("{secret}")));
        let (status, stdout, stderr) = self.invoke(check, prover_data, secret, self.timeout)?;

        match status.code() {
            Some(0) => Ok(InputCheck::Valid),
            Some(1) => {
                let reason = String::from_utf8_lossy(&stdout).trim().to_owned();
                Ok(InputCheck::Invalid {
                    reason: if reason.is_empty() {
                        format!("rejected by `{}`", check[0])
                    } else {
                        reason
                    },
                })
            }
            _ => Err(ProverError::failed(exit_message(
                &check[0], status, &stderr,
            ))),
        }
    }

    /// Runs `argv` with the request's files and returns its exit status and stdout (or `{output}` file).
    fn invoke(
        &self,
        argv: &[String],
        prover_data: &[u8],
        secret: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<(ExitStatus, Vec<u8>, String), ProverError> {
        let dir = tempfile::Builder::new()
            .prefix("kalypso-prover-")
            .tempdir()
            .map_err(|e| {
                ProverError::failed(format!("cannot create a temporary directory: {e}"))
            })?;
        let files = Files::new(dir.path());
        let mut uses = Uses::default();
        let argv: Vec<String> = argv
            .iter()
            .map(|a| files.substitute(a, &mut uses))
            .collect();
        let encoding = self.config.encoding;
        let write = |path: &Path, bytes: &[u8]| {
            std::fs::write(path, encoding.encode(bytes))
                .map_err(|e| ProverError::failed(format!("cannot write {}: {e}", path.display())))
        };

        let stdin = if uses.input {
            write(&files.input, prover_data)?;
            None
        } else {
            Some(encoding.encode(prover_data))
        };
        match (secret, uses.secret) {
            (Some(secret), true) => write(&files.secret, secret)?,
            (Some(_), false) => {
                return Err(ProverError::config(format!(
                    "the ask has secret inputs but `{}` takes no {{secret}} file",
                    argv[0]
                )));
            }
            (None, true) => write(&files.secret, &[])?,
            (None, false) => {}
        }

        let run = run(
            &argv,
            stdin,
            timeout,
            &self.config.env,
            self.config.working_dir.as_deref(),
        )?;
        let stdout = if uses.output && run.status.success() {
            std::fs::read(&files.output).map_err(|e| {
                ProverError::failed(format!("`{}` wrote no {{output}} file: {e}", argv[0]))
            })?
        } else {
            run.stdout
        };
        Ok((run.status, stdout, run.stderr_tail))
    }

    fn timeout_for(&self, request: Option<Duration>) -> Duration {
        request.map_or(self.timeout, |t| t.min(self.timeout))
    }
}

impl Prover for CommandProver {
    fn describe(&self) -> ProverInfo {
        let name = self
            .config
            .name
            .clone()
            .unwrap_or_else(|| self.config.prove[0].clone());
        ProverInfo::new(name, ProverKind::Command)
    }

    fn check_inputs(&self, prover_data: &[u8]) -> Result<InputCheck, ProverError> {
        self.check(prover_data, None)
    }

    /// A check command that takes `{secret}` gets the ask's secret (an IVS or an enclave judging a
    /// confidential ask); one that does not checks the public part.
    fn check_request(&self, request: &ProveRequest) -> Result<InputCheck, ProverError> {
        self.check(&request.prover_data, request.secret())
    }

    fn prove(&self, request: &ProveRequest) -> Result<Proof, ProverError> {
        let started = Instant::now();
        let timeout = self.timeout_for(request.timeout);
        let (status, output, stderr) = self.invoke(
            &self.config.prove,
            &request.prover_data,
            request.secret(),
            timeout,
        )?;
        let program = &self.config.prove[0];
        if !status.success() {
            return Err(ProverError::failed(exit_message(program, status, &stderr)));
        }
        let proof = self.config.encoding.decode(output).map_err(|e| {
            ProverError::failed(format!(
                "`{program}` printed no proof ({e}){}",
                stderr_suffix(&stderr)
            ))
        })?;
        if proof.is_empty() {
            return Err(ProverError::failed(format!(
                "`{program}` produced an empty proof{}",
                stderr_suffix(&stderr)
            )));
        }
        debug!(
            target: "kalypso::provers::command",
            program = %program,
            ask_id = ?request.ask_id,
            prove_ms = started.elapsed().as_millis() as u64,
            proof_len = proof.len(),
            "proof made"
        );
        Ok(Proof(proof))
    }

    fn sample_inputs(&self) -> Option<Vec<u8>> {
        self.config.sample_inputs.clone()
    }
}

/// The files of one invocation.
struct Files {
    input: PathBuf,
    output: PathBuf,
    secret: PathBuf,
}

/// Which placeholders an invocation's arguments used.
#[derive(Default)]
struct Uses {
    input: bool,
    output: bool,
    secret: bool,
}

impl Files {
    fn new(dir: &Path) -> Self {
        Self {
            input: dir.join("input"),
            output: dir.join("output"),
            secret: dir.join("secret"),
        }
    }

    fn substitute(&self, arg: &str, uses: &mut Uses) -> String {
        let mut arg = arg.to_owned();
        for (placeholder, path, used) in [
            ("{input}", &self.input, &mut uses.input),
            ("{output}", &self.output, &mut uses.output),
            ("{secret}", &self.secret, &mut uses.secret),
        ] {
            if arg.contains(placeholder) {
                *used = true;
                arg = arg.replace(placeholder, &path.to_string_lossy());
            }
        }
        arg
    }
}

fn exit_message(program: &str, status: ExitStatus, stderr: &str) -> String {
    let how = match status.code() {
        Some(code) => format!("exited with code {code}"),
        None => format!("was killed ({status})"),
    };
    format!("`{program}` {how}{}", stderr_suffix(stderr))
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}

/// A finished command.
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr_tail: String,
}

/// Which pipe a reader thread drained.
enum Pipe {
    Stdout(std::io::Result<Vec<u8>>),
    Stderr(Vec<u8>),
}

/// Runs `argv` in its own process group, feeding `stdin`, collecting stdout and the end of stderr, and
/// killing the group when it runs longer than `timeout`.
fn run(
    argv: &[String],
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    env: &BTreeMap<String, String>,
    working_dir: Option<&Path>,
) -> Result<Run, ProverError> {
    let program = &argv[0];
    let mut command = Command::new(program);
    command
        .args(&argv[1..])
        .envs(env)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = working_dir {
        command.current_dir(dir);
    }
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| ProverError::config(format!("cannot start `{program}`: {e}")))?;

    if let (Some(mut pipe), Some(data)) = (child.stdin.take(), stdin) {
        // A command that does not read its input closes the pipe: not an error.
        thread::spawn(move || {
            let _ = pipe.write_all(&data);
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            let read = out.take(MAX_STDOUT + 1).read_to_end(&mut buf).map(|_| buf);
            let _ = tx.send(Pipe::Stdout(read));
        });
    }
    if let Some(mut err) = child.stderr.take() {
        thread::spawn(move || {
            let mut tail = Vec::new();
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = err.read(&mut chunk) {
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > 2 * STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            let _ = tx.send(Pipe::Stderr(tail));
        });
    } else {
        drop(tx);
    }

    let status = match child.wait_timeout(timeout) {
        Ok(Some(status)) => status,
        Ok(None) => {
            kill_group(&mut child);
            let _ = child.wait();
            let (_, stderr) = collect(&rx, PIPE_GRACE);
            warn!(
                target: "kalypso::provers::command",
                program = %program,
                timeout_ms = timeout.as_millis() as u64,
                stderr = %stderr,
                "command timed out and was killed"
            );
            return Err(ProverError::Timeout { after: timeout });
        }
        Err(e) => {
            kill_group(&mut child);
            let _ = child.wait();
            return Err(ProverError::failed(format!(
                "cannot wait for `{program}`: {e}"
            )));
        }
    };
    let (stdout, stderr) = match collect(&rx, PIPE_GRACE) {
        (Some(stdout), stderr) => (stdout, stderr),
        (None, _) => {
            // Something the command started still holds the pipes: end it (the group still has members,
            // so its id cannot have been reused) and take what was written.
            kill_group(&mut child);
            match collect(&rx, PIPE_GRACE) {
                (Some(stdout), stderr) => (stdout, stderr),
                (None, _) => {
                    return Err(ProverError::failed(format!(
                        "`{program}` exited but its output pipe stayed open"
                    )));
                }
            }
        }
    };
    let stdout =
        stdout.map_err(|e| ProverError::failed(format!("reading `{program}`'s output: {e}")))?;
    if stdout.len() as u64 > MAX_STDOUT {
        return Err(ProverError::failed(format!(
            "`{program}` printed more than {MAX_STDOUT} bytes"
        )));
    }
    Ok(Run {
        status,
        stdout,
        stderr_tail: stderr,
    })
}

/// Waits up to `wait` for both reader threads; stdout is `None` when its reader did not finish.
fn collect(
    rx: &mpsc::Receiver<Pipe>,
    wait: Duration,
) -> (Option<std::io::Result<Vec<u8>>>, String) {
    let deadline = Instant::now() + wait;
    let (mut stdout, mut stderr) = (None, None);
    while stdout.is_none() || stderr.is_none() {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Pipe::Stdout(out)) => stdout = Some(out),
            Ok(Pipe::Stderr(err)) => stderr = Some(err),
            Err(_) => break,
        }
    }
    let stderr = stderr.map_or_else(String::new, |tail| {
        let start = tail.len().saturating_sub(STDERR_TAIL);
        String::from_utf8_lossy(&tail[start..]).into_owned()
    });
    (stdout, stderr)
}

/// Kills the command's process group (its shell and everything the shell started).
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group `pgid`, which `process_group(0)` made
        // this child's own; it touches no memory of ours.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}
