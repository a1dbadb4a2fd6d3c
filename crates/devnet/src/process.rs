//! Child processes: each started with its output appended to a log file, stopped gracefully (SIGTERM, then
//! SIGKILL after a grace period) or killed outright (SIGKILL, as a crash would), and restarted by the
//! [`Supervisor`] when it exits without being asked to.

use anyhow::Context as _;
use std::{
    collections::BTreeMap,
    fs::OpenOptions,
    path::PathBuf,
    process::{ExitStatus, Stdio},
    sync::Arc,
    time::Duration,
};
use tokio::{process::Child, sync::Mutex, task::JoinHandle};
use tracing::{debug, warn};

/// How to start a process.
#[derive(Clone)]
pub struct Spec {
    /// Short name (`engine`, `generator-fast`), used in logs and file names.
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Extra environment (keys travel here, never in `args`, so they do not show in `ps`).
    pub envs: Vec<(String, String)>,
    /// File that receives stdout and stderr (appended across restarts).
    pub log: PathBuf,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The environment holds private keys: never print its values.
        f.debug_struct("Spec")
            .field("name", &self.name)
            .field("program", &self.program)
            .field("args", &self.args)
            .field(
                "envs",
                &self.envs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("log", &self.log)
            .finish()
    }
}

/// A running (or stopped) child process.
#[derive(Debug)]
pub struct Process {
    spec: Spec,
    child: Option<Child>,
    /// Restarts after unexpected exits.
    pub restarts: u32,
    /// Stopped on purpose: the supervisor leaves it alone.
    held: bool,
}

impl Process {
    /// Starts `spec`.
    pub fn start(spec: Spec) -> anyhow::Result<Self> {
        let mut process = Self {
            spec,
            child: None,
            restarts: 0,
            held: false,
        };
        process.spawn()?;
        Ok(process)
    }

    fn spawn(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .with_context(|| format!("cannot open {}", self.spec.log.display()))?;
        let err = log.try_clone()?;
        let mut command = tokio::process::Command::new(&self.spec.program);
        // SAFETY: the closure runs in the forked child before exec and only calls prctl(2), which is
        // async-signal-safe. It asks the kernel to SIGTERM the child when this process dies, so no service
        // outlives a devnet that was killed.
        #[cfg(target_os = "linux")]
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = command
            .args(&self.spec.args)
            .envs(self.spec.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} ({})",
                    self.spec.name,
                    self.spec.program.display()
                )
            })?;
        self.child = Some(child);
        self.held = false;
        Ok(())
    }

    /// The process's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// Its log file.
    pub fn log(&self) -> &PathBuf {
        &self.spec.log
    }

    /// Its pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Whether it was stopped on purpose.
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// The exit status, if it has exited (without waiting).
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut()?.try_wait() {
            Ok(status) => status,
            Err(e) => {
                warn!(target: "kalypso::devnet", process = %self.spec.name, "cannot poll the process: {e}");
                None
            }
        }
    }

    /// SIGKILL, like a crash or `kill -9`: the process gets no chance to clean up. Not held, so the
    /// supervisor restarts it.
    pub async fn kill(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, then SIGKILL after `grace`; held until [`Self::restart`].
    pub async fn stop(&mut self, grace: Duration) {
        self.held = true;
        let Some(child) = self.child.as_mut() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
            // SAFETY: kill(2) on the pid of our own child, which has not been reaped yet (`id()` is `Some`).
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            warn!(target: "kalypso::devnet", process = %self.spec.name, "no exit {grace:?} after SIGTERM: killing it");
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// Starts it again (after an exit, a kill or a stop).
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.spawn()
    }
}

/// Processes by name, restarted with back-off when they exit on their own or are killed.
#[derive(Debug, Clone, Default)]
pub struct Supervisor {
    processes: Arc<Mutex<BTreeMap<String, Process>>>,
}

impl Supervisor {
    /// Starts `spec` under supervision.
    pub async fn start(&self, spec: Spec) -> anyhow::Result<()> {
        let name = spec.name.clone();
        let process = Process::start(spec)?;
        self.processes.lock().await.insert(name, process);
        Ok(())
    }

    /// Runs `f` on the process called `name`.
    pub async fn with<T>(
        &self,
        name: &str,
        f: impl AsyncFnOnce(&mut Process) -> T,
    ) -> anyhow::Result<T> {
        let mut processes = self.processes.lock().await;
        let process = processes
            .get_mut(name)
            .with_context(|| format!("no process called '{name}'"))?;
        Ok(f(process).await)
    }

    /// Names, pids, restarts and log files.
    pub async fn list(&self) -> Vec<(String, Option<u32>, u32, PathBuf)> {
        self.processes
            .lock()
            .await
            .values()
            .map(|p| (p.name().to_owned(), p.pid(), p.restarts, p.log().clone()))
            .collect()
    }

    /// Restarts processes that exited without being stopped, checking every `interval`, until the task is
    /// aborted. A process that keeps dying is restarted at most every 5 s.
    pub fn watch(&self, interval: Duration) -> JoinHandle<()> {
        let processes = self.processes.clone();
        tokio::spawn(async move {
            let mut last_restart: BTreeMap<String, tokio::time::Instant> = BTreeMap::new();
            loop {
                tokio::time::sleep(interval).await;
                let mut processes = processes.lock().await;
                for (name, process) in processes.iter_mut() {
                    if process.is_held() {
                        continue;
                    }
                    let Some(status) = process.try_exited() else {
                        continue;
                    };
                    let now = tokio::time::Instant::now();
                    if last_restart
                        .get(name)
                        .is_some_and(|at| now.duration_since(*at) < Duration::from_secs(5))
                    {
                        continue;
                    }
                    last_restart.insert(name.clone(), now);
                    process.restarts += 1;
                    warn!(
                        target: "kalypso::devnet",
                        process = %name,
                        %status,
                        restarts = process.restarts,
                        log = %process.log().display(),
                        "exited unexpectedly: restarting"
                    );
                    if let Err(e) = process.restart() {
                        warn!(target: "kalypso::devnet", process = %name, "restart failed: {e:#}");
                    }
                }
            }
        })
    }

    /// Stops every process (SIGTERM, then SIGKILL after `grace`).
    pub async fn shutdown(&self, grace: Duration) {
        let mut processes = self.processes.lock().await;
        for process in processes.values_mut() {
            process.stop(grace).await;
            debug!(target: "kalypso::devnet", process = %process.name(), "stopped");
        }
    }
}
