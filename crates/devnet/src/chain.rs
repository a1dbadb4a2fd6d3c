//! The local chains: anvil child processes with a fixed port, a block time and a state file, so one can be
//! stopped (an RPC outage) and started again with the same accounts, contracts and blocks.

use crate::process::{Process, Spec};
use alloy::providers::{Provider, ProviderBuilder};
use anyhow::Context as _;
use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// An anvil node the devnet owns.
#[derive(Debug)]
pub struct Anvil {
    process: Process,
    port: u16,
}

impl Anvil {
    /// Starts `program` as `name` on 127.0.0.1:`port` (0 picks a free port) mining a block every `block_time`
    /// seconds (`None`: a block per transaction) with chain id `chain_id` (`None`: anvil's 31337), keeping its state
    /// in `dir/<name>-state.json` and its log in `dir/<name>.log`, and waits until it answers.
    pub async fn start(
        program: &Path,
        dir: &Path,
        name: &str,
        port: u16,
        block_time: Option<u64>,
        chain_id: Option<u64>,
    ) -> anyhow::Result<Self> {
        let port = if port == 0 { free_port()? } else { port };
        let state: PathBuf = dir.join(format!("{name}-state.json"));
        let mut args = vec![
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string(),
            "--accounts".into(),
            crate::accounts::ACCOUNTS.to_string(),
            "--state".into(),
            state.display().to_string(),
        ];
        if let Some(block_time) = block_time {
            args.extend(["--block-time".into(), block_time.to_string()]);
        }
        if let Some(chain_id) = chain_id {
            args.extend(["--chain-id".into(), chain_id.to_string()]);
        }
        let process = Process::start(Spec {
            name: name.into(),
            program: program.to_owned(),
            args,
            envs: Vec::new(),
            log: dir.join(format!("{name}.log")),
        })
        .with_context(|| {
            format!(
                "cannot start anvil at {} (run scripts/setup.sh, or pass --anvil)",
                program.display()
            )
        })?;
        let anvil = Self { process, port };
        anvil.wait_ready().await?;
        Ok(anvil)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:<port>` (anvil serves both on one port).
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// From now on mines a block every `seconds` (also when no transaction comes: the L1's clock must move for
    /// its epochs), whatever it was started with, until it is stopped.
    pub async fn set_block_time(&self, seconds: u64) -> anyhow::Result<()> {
        ProviderBuilder::new()
            .connect_http(self.http_url().parse()?)
            .raw_request::<_, ()>("evm_setIntervalMining".into(), (seconds,))
            .await
            .with_context(|| format!("cannot set the block time of {}", self.http_url()))
    }

    /// Stops the node gracefully (it writes its state file): every RPC call fails until [`Self::resume`].
    pub async fn stop(&mut self) {
        self.process.stop(Duration::from_secs(10)).await;
    }

    /// Starts the node again on the same port from its state file.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        self.process.restart()?;
        self.wait_ready().await
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let provider = ProviderBuilder::new().connect_http(self.http_url().parse()?);
        for _ in 0..200 {
            if provider.get_chain_id().await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        anyhow::bail!(
            "anvil did not answer at {} within 10 s (log: {})",
            self.http_url(),
            self.process.log().display()
        )
    }
}

/// A free TCP port on the loopback interface (free when asked: another process could take it first).
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(listener.local_addr()?.port())
}
