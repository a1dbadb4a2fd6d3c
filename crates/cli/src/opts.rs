//! Command-line interface: `kalypso <role> <verb>`.

use crate::parse;
use alloy::primitives::{Address, B256, Bytes};
use clap::{Args, Parser, Subcommand};
use kalypso_primitives::Preference;
use kalypso_provers::CircuitKind;
use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

/// The Kalypso proof marketplace from the command line.
///
/// Requesters post asks (inputs, reward, deadline, COST or TIME preference), generators stake and quote in
/// markets, the matching engine assigns, generators prove, and the contracts settle. Every command talks to
/// the chain at --rpc-url using the protocol addresses in the deployment file.
#[derive(Debug, Parser)]
#[command(
    name = "kalypso",
    version,
    propagate_version = true,
    max_term_width = 110
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Log filter when KALYPSO_LOG is unset: services report their progress, one-shot commands only warnings.
    pub(crate) fn default_log_filter(&self) -> &'static str {
        match self.command {
            Command::Engine(EngineCmd::Run(_))
            | Command::Ivs(_)
            | Command::Attestation(crate::cmd::AttestationCmd::Serve { .. })
            | Command::Restaking(crate::cmd::RestakingCmd::Relay { .. })
            | Command::Portal(_)
            | Command::Generator(GeneratorCmd::Run(_)) => "warn,kalypso=info",
            Command::Devnet(_) => "warn,kalypso::devnet=info",
            _ => "warn",
        }
    }
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// JSON-RPC endpoint of the chain.
    #[arg(
        long,
        env = "KALYPSO_RPC_URL",
        hide_env_values = true,
        default_value = "http://127.0.0.1:8545",
        global = true
    )]
    pub(crate) rpc_url: String,

    /// Private key (hex) of the account that signs transactions. Prefer the environment variable: a key on
    /// the command line ends up in shell history.
    #[arg(
        long,
        env = "KALYPSO_PRIVATE_KEY",
        hide_env_values = true,
        global = true
    )]
    pub(crate) private_key: Option<SecretKey>,

    /// Encrypted JSON keystore of the signing account (instead of a raw key); its password comes from
    /// KALYPSO_KEYSTORE_PASSWORD.
    #[arg(
        long,
        env = "KALYPSO_KEYSTORE",
        hide_env_values = true,
        global = true,
        conflicts_with = "private_key"
    )]
    pub(crate) keystore: Option<PathBuf>,

    /// Deployment file with the protocol's addresses [default: contracts/deployments/<chainId>.json].
    #[arg(
        long,
        env = "KALYPSO_DEPLOYMENT",
        hide_env_values = true,
        global = true
    )]
    pub(crate) deployment: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables and messages.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A private key that never prints.
#[derive(Clone)]
pub(crate) struct SecretKey(pub(crate) String);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl std::str::FromStr for SecretKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.trim().trim_start_matches("0x");
        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err("a private key is 32 bytes of hex (64 hex digits, optional 0x)".into());
        }
        Ok(Self(hex.to_owned()))
    }
}

/// The roles and their verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Deploy the whole protocol (test tokens, registries, marketplace) and write the deployment file.
    Deploy(DeployArgs),
    /// Markets: one per circuit or zkVM program.
    #[command(subcommand)]
    Market(MarketCmd),
    /// Generators: registration, stake, quotes per market.
    #[command(subcommand)]
    Generator(GeneratorCmd),
    /// Asks: proof requests.
    #[command(subcommand)]
    Ask(AskCmd),
    /// Tasks: assigned asks that missed their deadline or are given up.
    #[command(subcommand)]
    Task(TaskCmd),
    /// Keys of the Matching Engine, the IVS and generator enclaves.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Payment-token balance in the marketplace: deposits, refunds, earnings.
    #[command(subcommand)]
    Balance(BalanceCmd),
    /// The Matching Engine service: indexes the chain, matches asks to generators, relays signed batches.
    #[command(subcommand)]
    Engine(EngineCmd),
    /// Print protocol events (asks, tasks, markets, generators, keys), optionally following new blocks.
    Events {
        /// First block to read.
        #[arg(long, default_value_t = 0)]
        from_block: u64,
        /// Keep following the chain head (Ctrl-C to stop).
        #[arg(long)]
        follow: bool,
    },
    /// The input verification service (IVS) of a market: attests inputs no proof can exist for.
    #[command(subcommand)]
    Ivs(IvsCmd),
    /// Prover backends: INSECURE devnet setup of the built-in circuits, proving, input checks,
    /// benchmarks, and the prover gateway (no chain needed).
    #[command(subcommand)]
    Prover(ProverCmd),
    /// Run the whole marketplace locally and push a stream of asks through it.
    ///
    /// Starts anvil (1 s blocks), deploys the protocol with test tokens and five markets (MiMC hash chain and
    /// Merkle membership with INSECURE seeded keys, the circom chain circuit created from its circuit package,
    /// and two confidential markets of the circom factors package whose p and q are the asks' secrets: one
    /// verifying the Groth16 proof on-chain, one a TEE market whose TeeVerifier takes the proof signed by the
    /// prover's enclave key), then runs the matching engine (with a keeper that slashes missed deadlines), an IVS per market
    /// with invalid inputs (Merkle, factors), a server of the circom packages (`circuit serve`) and three
    /// generator nodes - cheap-slow, middle, fast-expensive - as supervised child processes; each node fetches
    /// and checks the packages and proves them natively. A fourth, cheapest generator runs no node: the first
    /// COST ask goes to it, misses its deadline, is slashed (the requester is compensated) and is re-matched.
    /// The requester places --asks asks at --rate per second with mixed COST/TIME preferences (sealing the
    /// confidential market's secrets to the engine's key: the engine re-wraps them to the assigned node's
    /// enclave key), plus one Merkle ask with invalid inputs (settled through the IVS), one priced below every
    /// quote (refunded after its deadline), in each confidential market a secret the circuit rejects (settled
    /// through its IVS), in the TEE market a ciphertext the requester corrupted (its IVS attests it), and in the
    /// other confidential market a ciphertext and acl copied from another requester and an acl the engine
    /// cannot open (both refused, refunded). Ends with a table per ask and exits 0 when every ask ended as it should (1
    /// otherwise); --keep leaves everything running. Keys are anvil's public dev keys, and the attestation
    /// signer and enclave keys are INSECURE keys derived from public labels: never use them on a real
    /// network.
    Devnet(DevnetArgs),
    /// Circuit packages (no chain needed): bring your own circuit. A package is a directory with a
    /// circuit.toml manifest, the verifying key, proving artifacts and a sample proof, every file hashed;
    /// `market create --circuit DIR` turns one into a live market (docs/circuits.md).
    #[command(subcommand)]
    Circuit(crate::cmd::CircuitCmd),
    /// AWS Nitro Enclaves attestation documents: `verify` checks one (no chain needed), `serve` runs the
    /// attestation-verifier service that signs enclave keys' attestations, `request` asks it for one.
    #[command(subcommand)]
    Attestation(crate::cmd::AttestationCmd),
    /// Restaked collateral from Symbiotic: `status` shows the registry's restaking pools and an operator's
    /// restaked stake, locks and pending slashes (and its L1 side with --l1-rpc-url); `relay` runs the
    /// committee relayer between the L1 middleware and an L2 pool; `deploy-pool` deploys and adds a pool.
    #[command(subcommand)]
    Restaking(crate::cmd::RestakingCmd),
    /// The marketplace in a browser: markets and their price × time books, asks with their timelines,
    /// generators, live from the engine's feed, and asks created from a browser wallet (EIP-1193). Serves the
    /// embedded page and proxies the engine's API (--engine) and the chain's JSON-RPC (--rpc-url, read methods)
    /// on one origin.
    Portal(crate::cmd::PortalArgs),
    /// Market simulator (no chain): every matching mechanism on a scenario file, measured and plotted.
    #[command(subcommand)]
    Sim(crate::cmd::SimCmd),
    /// Mint the deployment's test tokens (devnets only: tUSDC / tPOND mint to anyone).
    Faucet {
        /// Amount of each token, in tokens.
        #[arg(long, value_parser = parse::amount, default_value = "1000")]
        amount: parse::Amount,
        /// Recipient [default: the signing account].
        #[arg(long, value_parser = parse::address)]
        to: Option<Address>,
    },
}

/// `kalypso deploy`.
#[derive(Debug, Args)]
pub(crate) struct DeployArgs {
    /// Create the sample Groth16 market from this verifier artifact (VK, sample inputs and proof: a `.vk.json`
    /// of `kalypso prover setup`, or the layout of `contracts/test/fixtures/groth16_mimc.json`) [default: that
    /// MiMC fixture, built into the binary].
    #[arg(long, value_name = "JSON")]
    pub(crate) sample_market: Option<PathBuf>,
    /// Skip the sample market.
    #[arg(long, conflicts_with = "sample_market")]
    pub(crate) no_sample_market: bool,
    /// Where to write the deployment [default: contracts/deployments/<chainId>.json].
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
    /// Proposes (and may cancel) the timelocked admin operations: upgrades, parameters, trusted attestation
    /// signers. A multisig in production [default: the deployer].
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) governance: Option<Address>,
    /// Seconds between scheduling an admin operation on the timelock and executing it.
    #[arg(long, value_name = "SECONDS", default_value_t = 2 * 24 * 60 * 60)]
    pub(crate) timelock_delay: u64,
    /// No timelock: the deployer holds the admin role of every contract directly and acts at once (throwaway
    /// test chains only).
    #[arg(long, conflicts_with = "governance")]
    pub(crate) no_timelock: bool,
    /// Pauses the marketplace and key registrations at once [default: the deployer].
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) pauser: Option<Address>,
    /// Sets and removes the Matching Engine key [default: the deployer].
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) key_admin: Option<Address>,
    /// Receives market creation and input fees and the protocol's share of penalties [default: the deployer].
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) treasury: Option<Address>,
    /// A trusted attestation signer (repeat): the attestation-verifier service's key, whose EIP-712
    /// `EnclaveAttestation`s register enclave keys (confidential markets, attested ME and IVS keys) [default:
    /// none; governance adds them later through the timelock].
    #[arg(long = "attestation-signer", value_name = "ADDRESS")]
    pub(crate) attestation_signers: Vec<Address>,
}

/// `kalypso market ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MarketCmd {
    /// Deploy a Groth16 verifier for a circuit through the protocol's verifier factory (markets accept no other
    /// verifiers: their code cannot change). Prints its address for `market create --verifier`.
    DeployVerifier {
        /// Verifying key and sample proof: a `.vk.json` of `kalypso prover setup` (or the layout of
        /// `contracts/test/fixtures/groth16_mimc.json`).
        #[arg(long)]
        artifact: std::path::PathBuf,
    },
    /// Create a market (pays the market creation cost): for a circuit package (--circuit DIR: checked
    /// offline, its verifier deployed, the market's metadata naming the package), or for a verifier deployed
    /// before (--verifier).
    Create {
        /// The market's verifier: deployed by the protocol's verifier factory (`kalypso market
        /// deploy-verifier`).
        #[arg(long, value_parser = parse::address, required_unless_present = "circuit", conflicts_with = "circuit")]
        verifier: Option<Address>,
        /// A circuit package directory (`kalypso circuit init|check|pack`): checks it, deploys a verifier for its
        /// key and creates the market with metadata carrying the package's name, hash and --url.
        #[arg(long, value_name = "DIR", conflicts_with = "metadata")]
        circuit: Option<PathBuf>,
        /// Where generators and IVSs fetch the package (the directory holding circuit.toml: http(s)://, e.g.
        /// `kalypso circuit serve`, or file://) [default: file:// of --circuit, for one machine].
        #[arg(long, value_name = "URL", requires = "circuit")]
        url: Option<String>,
        /// Staking-token amount a generator loses when it misses a deadline (locked per task).
        #[arg(long, value_parser = parse::amount)]
        slashing_penalty: parse::Amount,
        /// Total stake a generator needs to be assigned tasks.
        #[arg(long, value_parser = parse::amount)]
        min_stake: parse::Amount,
        /// How long an ask stays unassigned before generators may take it themselves (0 = never).
        #[arg(long, value_parser = parse::duration_or_zero, default_value = "1h")]
        fallback_delay: Duration,
        /// Prover enclave image id (confidential markets); omit for a public-input market.
        #[arg(long, value_parser = parse::b256)]
        prover_image: Option<B256>,
        /// IVS enclave image id; omit to let the market creator register IVS keys.
        #[arg(long, value_parser = parse::b256)]
        ivs_image: Option<B256>,
        /// A TEE market for the package: proofs are the package's proofs signed by an enclave attested for
        /// --prover-image (a TeeVerifier: a signature check on-chain instead of a pairing check).
        #[arg(long, requires_all = ["circuit", "prover_image"])]
        tee: bool,
        /// Description (name, circuit, prover artifact, input format), emitted in the creation event.
        #[arg(long, default_value = "")]
        metadata: String,
    },
    /// List every market.
    List,
    /// Show one market.
    Show {
        /// Market id.
        market: u64,
    },
    /// Freeze a market (creator or admin): no new asks or assignments; open tasks still settle.
    Freeze {
        /// Market id.
        market: u64,
        /// Unfreeze instead.
        #[arg(long)]
        undo: bool,
    },
}

/// `kalypso generator ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum GeneratorCmd {
    /// Register the signing account as a generator.
    Register {
        /// Where payments go [default: the signing account].
        #[arg(long, value_parser = parse::address)]
        reward_address: Option<Address>,
        /// Compute units the generator offers across all markets (e.g. vCPUs).
        #[arg(long)]
        compute: u64,
        /// Free-form description shown to users.
        #[arg(long, default_value = "")]
        metadata: String,
    },
    /// Add stake (staking token; approved automatically).
    Stake {
        /// Amount, in tokens (`100`) or base units (`raw:100000000000000000000`).
        #[arg(value_parser = parse::amount)]
        amount: parse::Amount,
    },
    /// Request an unstake, or withdraw stake whose delay has passed (`--withdraw`).
    Unstake {
        /// Amount to request.
        #[arg(value_parser = parse::amount, required_unless_present_any = ["withdraw", "cancel"])]
        amount: Option<parse::Amount>,
        /// Withdraw the pending stake once the withdrawal delay has passed.
        #[arg(long, conflicts_with = "cancel")]
        withdraw: bool,
        /// Cancel the pending request.
        #[arg(long)]
        cancel: bool,
    },
    /// Join a market with a quote.
    Join(QuoteArgs),
    /// Change the quote in a market without leaving it.
    Update(QuoteArgs),
    /// Leave a market (tasks in flight stay binding).
    Leave {
        /// Market id.
        market: u64,
    },
    /// Show a generator's registration, stake and quotes.
    Status {
        /// Generator address [default: the signing account].
        #[arg(value_parser = parse::address)]
        generator: Option<Address>,
    },
    /// Run the generator node until Ctrl-C / SIGTERM: prove the tasks assigned to the signing account.
    ///
    /// Follows this generator's TaskAssigned events in the given markets from a cursor in a SQLite database
    /// (a restart resumes from it), reads each ask's inputs from its AskCreated event, checks them with the
    /// market's prover (invalid inputs are settled with an attestation from --ivs-url instead of a proof),
    /// proves off the async runtime with bounded parallelism and submits the proof with retries, re-sending a
    /// lingering transaction under the same nonce with higher fees (--bump-after, --max-fee-per-gas). A task
    /// whose proof cannot be on-chain by its deadline (expected proving time + --submit-margin) is discarded
    /// early, which costs a fraction of the slashing penalty. Serves /health, /metrics and /v1/tasks on
    /// --listen. Also takes asks left unassigned past their market's fallback delay itself (the Matching
    /// Engine is down; see --no-self-assign).
    Run(Box<GeneratorRunArgs>),
    /// Benchmark the market's prover and suggest maxProofTime and computePerProof for `generator join`
    /// (the prover of `generator run`: flags, --prover-config, or the circuit the market's metadata names).
    Benchmark(GeneratorBenchmarkArgs),
}

/// The prover of a market: a built-in circuit by flags, any backend from a file, or, without either, the
/// built-in circuit the market's metadata names (`"name": "<circuit>-<size>"`, as `kalypso deploy` writes it).
#[derive(Debug, Args)]
pub(crate) struct MarketProverArgs {
    /// Backend of --circuit/--size (other backends: --prover-config).
    #[arg(long, value_enum, default_value_t = BuiltinProver::Groth16)]
    pub(crate) prover: BuiltinProver,
    /// Built-in circuit: mimc or merkle [default: from the market's metadata].
    #[arg(long, value_parser = parse::circuit(), requires = "size")]
    pub(crate) circuit: Option<CircuitKind>,
    /// Circuit size: N (rounds or depth), or 2^K [default: from the market's metadata].
    #[arg(long, value_parser = parse::circuit_size, requires = "circuit")]
    pub(crate) size: Option<parse::CircuitSize>,
    /// Key directory of `kalypso prover setup` (missing keys are made there by the INSECURE seeded setup)
    /// [default: set up in memory at start].
    #[arg(long, value_name = "DIR", conflicts_with = "prover_config")]
    pub(crate) keys: Option<PathBuf>,
    /// Threads per proof (a dedicated pool) [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) threads: Option<u64>,
    /// Any backend from a file, JSON or (*.toml) TOML, as for `kalypso prover --config`: `backend =
    /// "groth16"`, `"command"` or `"webhook"` with its fields.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["circuit", "size"])]
    pub(crate) prover_config: Option<PathBuf>,
}

impl MarketProverArgs {
    /// No flags: the prover the market's metadata names.
    pub(crate) fn from_market() -> Self {
        Self {
            prover: BuiltinProver::Groth16,
            circuit: None,
            size: None,
            keys: None,
            threads: None,
            prover_config: None,
        }
    }
}

/// Backends configurable by flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BuiltinProver {
    /// The built-in Groth16 circuits, proven in-process.
    Groth16,
}

/// Options of `kalypso devnet`.
#[derive(Debug, Args)]
pub(crate) struct DevnetArgs {
    /// Valid asks to place (plus the invalid-input and the underpriced one).
    #[arg(long, default_value_t = 12, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) asks: u64,
    /// Asks placed per second.
    #[arg(long, default_value_t = 1.0, value_parser = parse::rate)]
    pub(crate) rate: f64,
    /// Keep everything running after the report and print the endpoints (Ctrl-C stops).
    #[arg(long)]
    pub(crate) keep: bool,
    /// Working directory (deployment, keys, databases, logs) [default: a new temporary directory, removed
    /// after a clean run without --keep].
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// The anvil executable [default: .tools/bin/anvil from scripts/setup.sh, else anvil on PATH].
    #[arg(long, env = "KALYPSO_ANVIL")]
    pub(crate) anvil: Option<PathBuf>,
    /// Use this running node instead of starting anvil (it must hold anvil's funded dev accounts).
    #[arg(long, value_name = "URL")]
    pub(crate) node: Option<String>,
    /// Seconds per block of the anvil started.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=60))]
    pub(crate) block_time: u64,
    /// MiMC rounds of the first market's circuit.
    #[arg(long, default_value_t = 64)]
    pub(crate) mimc_rounds: usize,
    /// Merkle depth of the second market's circuit.
    #[arg(long, default_value_t = 8)]
    pub(crate) merkle_depth: usize,
    /// Give up when the asks are not all settled after this long.
    #[arg(long, value_parser = parse::duration, default_value = "10m")]
    pub(crate) timeout: Duration,
    /// How long an ask stays unassigned before the generator nodes take it themselves (fallback
    /// self-assignment; at least 5s). The default lets the running engine match every ask first; stop the
    /// engine (with --keep) to watch the nodes prove asks without it.
    #[arg(long, value_parser = parse::duration, default_value = "30s")]
    pub(crate) fallback_delay: Duration,
    /// Run without the L1: no Symbiotic network, restaking pool, relayer or restaked generators. Without this
    /// flag they run whenever the L1 project is there (a checkout where scripts/setup.sh ran).
    #[arg(long)]
    pub(crate) no_restaking: bool,
    /// The L1 Foundry project with Symbiotic installed [default: contracts-l1 of the current directory].
    #[arg(long, value_name = "DIR")]
    pub(crate) l1_project: Option<PathBuf>,
    /// The forge executable that deploys the L1 [default: .tools/bin/forge from scripts/setup.sh].
    #[arg(long, env = "KALYPSO_FORGE")]
    pub(crate) forge: Option<PathBuf>,
    /// Seconds per epoch of the devnet's Symbiotic network: a stake snapshot per epoch; restaked generators may
    /// commit to proving times up to a third of it.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(30..=3600))]
    pub(crate) l1_epoch: u64,
}

/// Options of `kalypso generator run`.
#[derive(Debug, Args)]
pub(crate) struct GeneratorRunArgs {
    /// Market to serve (repeat for several; with prover flags they share that prover).
    #[arg(long = "market", value_name = "ID", required = true)]
    pub(crate) markets: Vec<u64>,
    #[command(flatten)]
    pub(crate) prover: MarketProverArgs,
    /// SQLite database of the node's tasks (created when missing; tied to one deployment and generator).
    #[arg(
        long,
        env = "KALYPSO_GENERATOR_DB",
        default_value = "kalypso-generator.db"
    )]
    pub(crate) db: PathBuf,
    /// Base URL of the IVS (`kalypso ivs run`) of every market served, or `MARKET=URL` for one market (an
    /// IVS serves one market; repeat for several). Without one, a task with invalid inputs is discarded.
    #[arg(
        long,
        env = "KALYPSO_IVS_URL",
        value_name = "[MARKET=]URL",
        value_delimiter = ','
    )]
    pub(crate) ivs_url: Vec<String>,
    /// The enclave key registered for the confidential markets served (hex text file; `kalypso keys
    /// register-enclave`): it opens the secrets the Matching Engine re-wraps to it. Required with a
    /// confidential market. Without Nitro hardware this process stands in for the enclave.
    #[arg(long, env = "KALYPSO_ENCLAVE_KEY_FILE", value_name = "FILE")]
    pub(crate) enclave_key_file: Option<PathBuf>,
    /// Proofs at once [default: declared compute / compute per proof].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_parallel: Option<u64>,
    /// Websocket endpoint for new-head notifications (e.g. ws://127.0.0.1:8545): an assignment is seen at the
    /// next head; the poll timer stays as the fallback. Without it the node polls.
    #[arg(long, env = "KALYPSO_WS_URL")]
    pub(crate) ws_url: Option<String>,
    /// How often to look for new blocks (when no new-head notification arrives).
    #[arg(long, value_parser = parse::duration, default_value = "1s")]
    pub(crate) poll_interval: Duration,
    /// Re-send a transaction (proof, attestation, discard) under the same nonce with 25% higher fees after
    /// this long without a receipt.
    #[arg(long, value_parser = parse::duration, default_value = "30s")]
    pub(crate) bump_after: Duration,
    /// Highest max fee per gas a transaction is sent or re-sent with (e.g. 200gwei, 0.5gwei, 1500wei; none:
    /// no cap). At the cap a lingering transaction is waited for, not bumped.
    #[arg(long, value_parser = parse::fee_cap, default_value = "200gwei")]
    pub(crate) max_fee_per_gas: parse::FeeCap,
    /// Address of the status API (/health, /metrics, /v1/tasks) [default: none].
    #[arg(long, env = "KALYPSO_GENERATOR_LISTEN")]
    pub(crate) listen: Option<SocketAddr>,
    /// Expected proving time, for early discards [default: the p90 of the node's latest proofs].
    #[arg(long, value_parser = parse::duration)]
    pub(crate) proof_time_estimate: Option<Duration>,
    /// Time kept for landing a transaction before a task deadline.
    #[arg(long, value_parser = parse::duration_or_zero, default_value = "15s")]
    pub(crate) submit_margin: Duration,
    /// Block to scan from on the first run [default: the deployment block].
    #[arg(long)]
    pub(crate) from_block: Option<u64>,
    /// Blocks per eth_getLogs request.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) log_page_blocks: u64,
    /// Never take asks by fallback self-assignment. By default the node follows the open asks of its markets
    /// and takes one itself (`selfAssign`, at its own quote) once it has stayed unassigned for the market's
    /// fallback delay, so asks are still proven while the Matching Engine is down; only asks its quote meets
    /// (price <= reward, now + maxProofTime <= deadline) and only while it has a free proving slot and free
    /// compute and stake. Turn it off to work only on what the engine assigns (e.g. to keep capacity for
    /// it); the delay already leaves the engine the first pick.
    #[arg(long)]
    pub(crate) no_self_assign: bool,
}

/// Options of `kalypso generator benchmark`.
#[derive(Debug, Args)]
pub(crate) struct GeneratorBenchmarkArgs {
    /// Market whose prover to benchmark.
    #[arg(long)]
    pub(crate) market: u64,
    #[command(flatten)]
    pub(crate) prover: MarketProverArgs,
    /// Timed proofs.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) runs: u32,
    /// Untimed proofs first.
    #[arg(long, default_value_t = 1)]
    pub(crate) warmup: u32,
    /// Factor applied to the p90 proving time.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) safety_factor: f64,
    /// Time added for fetching inputs and landing the proof on-chain.
    #[arg(long, value_parser = parse::duration_or_zero, default_value = "30s")]
    pub(crate) margin: Duration,
}

/// `kalypso ivs ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum IvsCmd {
    /// Serve the IVS of a market until Ctrl-C / SIGTERM.
    ///
    /// POST /v1/check {"askId": N} reads the ask's inputs from the chain, checks them with the market's
    /// prover, and answers {"valid": true} or, for inputs no proof can exist for, an EIP-712
    /// InvalidInput(marketId, askId, inputsHash) signature of the IVS key, which the assigned generator
    /// settles with submitInvalidInputAttestation. GET /health reports whether the key is registered
    /// (`kalypso keys add-ivs <market> <pubkey>`, by the market creator).
    Run(IvsRunArgs),
}

/// Options of `kalypso ivs run`.
#[derive(Debug, Args)]
pub(crate) struct IvsRunArgs {
    /// The market served.
    #[arg(long)]
    pub(crate) market: u64,
    #[command(flatten)]
    pub(crate) prover: MarketProverArgs,
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "KALYPSO_IVS_LISTEN", default_value = "127.0.0.1:3040")]
    pub(crate) listen: SocketAddr,
    /// Key that signs attestations [default: the signing key].
    #[arg(long, env = "KALYPSO_IVS_KEY", hide_env_values = true)]
    pub(crate) ivs_key: Option<SecretKey>,
    /// Input checks running at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) max_concurrent: u64,
}

/// A quote in a market.
#[derive(Debug, Args)]
pub(crate) struct QuoteArgs {
    /// Market id.
    pub(crate) market: u64,
    /// Price per proof, in payment tokens (`0.5`) or base units (`raw:500000`).
    #[arg(long, value_parser = parse::amount)]
    pub(crate) price: parse::Amount,
    /// Longest time the generator commits to deliver a proof in (missing it is slashed) [default: measured:
    /// the market's prover (its circuit package, fetched and checked first, or its built-in circuit) is
    /// benchmarked and the suggestion of `generator benchmark` is used].
    #[arg(long, value_parser = parse::duration)]
    pub(crate) max_proof_time: Option<Duration>,
    /// Compute units one proof of this market occupies.
    #[arg(long, default_value_t = 1)]
    pub(crate) compute_per_proof: u64,
}

/// `kalypso ask ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum AskCmd {
    /// Create an ask: escrow a reward for a proof of these inputs.
    Create {
        /// Market id.
        #[arg(long)]
        market: u64,
        /// Inputs: hex (`0x…`) or `@file`. A file of hex text (`0x` optional, whitespace and line breaks
        /// ignored, e.g. from `kalypso prover sample-inputs > in.hex`) is decoded; any other file is sent as
        /// raw bytes. The result says how many bytes the ask carries.
        #[arg(long, value_parser = parse::bytes)]
        inputs: Bytes,
        /// Most you pay, in payment tokens (`5`) or base units (`raw:5000000`).
        #[arg(long, value_parser = parse::amount)]
        reward: parse::Amount,
        /// How long from now the proof must be on-chain.
        #[arg(long, value_parser = parse::duration, default_value = "1h")]
        deadline: Duration,
        /// Cheapest generator that meets the deadline (cost) or fastest within the reward (time).
        #[arg(long, default_value = "cost")]
        preference: Preference,
        /// Who receives refunds and compensation [default: the signing account].
        #[arg(long, value_parser = parse::address)]
        refund_address: Option<Address>,
        /// Pay from the marketplace balance (deposits, earlier refunds) instead of the wallet.
        #[arg(long)]
        from_balance: bool,
        /// Secret inputs of a confidential market, read from this file (`-`: stdin) as raw bytes. They are
        /// encrypted here (AES-256-GCM, the key wrapped to the Matching Engine's registered key) and only the
        /// ciphertext goes on-chain; the result shows the secret commitment the ask carries.
        #[arg(long, value_name = "PATH")]
        secret_file: Option<PathBuf>,
        /// Then follow the ask to its end like `kalypso ask wait` (same exit codes; with --json the outcome is a
        /// second document after the creation's).
        #[arg(long)]
        wait: bool,
        #[command(flatten)]
        follow: WaitArgs,
    },
    /// Follow an ask until it ends; write its proof and exit with a code that says how it ended.
    ///
    /// Progress (assigned, re-opened, ...) goes to stderr; the result to stdout (--json: outcome, generator,
    /// price, refund, proof). Exit codes: 0 completed (the proof is written to --out, or printed); 3 refunded or
    /// expired without a proof (the reward is back in the refund address's balance, or refundable with
    /// `kalypso ask cancel`); 4 invalid inputs (an IVS attested that no proof of the inputs can exist); 5
    /// --timeout reached while the ask is still open or assigned; 1 any other failure; 2 bad arguments.
    Wait {
        /// Ask id.
        ask: u64,
        #[command(flatten)]
        follow: WaitArgs,
    },
    /// Show an ask.
    Status {
        /// Ask id.
        ask: u64,
    },
    /// Print the proof of a completed ask (from its ProofSubmitted event).
    Proof {
        /// Ask id.
        ask: u64,
        /// Write the proof bytes to this file instead of printing hex.
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Cancel an unassigned ask (refund address only), or refund one past its deadline (anyone).
    Cancel {
        /// Ask id.
        ask: u64,
    },
    /// Take an unassigned ask as the signing generator, without the Matching Engine (fallback).
    ///
    /// Allowed once an ask of a public market has stayed unassigned for the market's fallback delay since it
    /// was created or last re-opened (`kalypso market show`); the generator gets it at its own quote. The
    /// generator must be registered and joined, with free compute and stake, and its quote must fit the
    /// ask's reward and deadline. When a rule fails the error says which (and, before the delay, when the
    /// fallback opens). A running node (`kalypso generator run`) does this by itself.
    SelfAssign {
        /// Ask id.
        ask: u64,
    },
}

/// How `ask wait` and `ask create --wait` follow an ask.
#[derive(Debug, Args)]
pub(crate) struct WaitArgs {
    /// Write the proof bytes to this file (when the ask completes with a proof).
    #[arg(long, value_name = "PATH")]
    pub(crate) out: Option<PathBuf>,
    /// Give up after this long (exit code 5) [default: wait as long as the ask can still end].
    #[arg(long, value_parser = parse::duration)]
    pub(crate) timeout: Option<Duration>,
    /// How often to read the ask's state.
    #[arg(long, value_parser = parse::duration, default_value = "2s")]
    pub(crate) poll_interval: Duration,
}

/// `kalypso task ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TaskCmd {
    /// Slash a generator that missed its task deadline (earns the keeper share).
    Slash {
        /// Ask id.
        ask: u64,
    },
    /// Give up an assigned task before its deadline (assigned generator; costs the discard penalty).
    Discard {
        /// Ask id.
        ask: u64,
    },
}

/// `kalypso keys ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCmd {
    /// Show the Matching Engine key.
    Show,
    /// Print the public key of a private key (for `keys set-matching-engine`, `keys add-ivs`), and its address
    /// with --json. The private key is read from the environment, a file or the signing key, and never printed.
    /// No chain needed.
    ///
    /// The Matching Engine's key: `kalypso keys set-matching-engine $(kalypso keys public-key --from-env
    /// KALYPSO_MATCHING_ENGINE_KEY)`; without --matching-engine-key the engine signs with the signing key, so
    /// the public key of KALYPSO_PRIVATE_KEY (no option) is the one to register.
    PublicKey {
        /// Read the private key (hex) from this environment variable, e.g. KALYPSO_MATCHING_ENGINE_KEY or
        /// KALYPSO_IVS_KEY [default: the signing key, KALYPSO_PRIVATE_KEY or --keystore].
        #[arg(long, value_name = "VAR", conflicts_with = "key_file")]
        from_env: Option<String>,
        /// Read the private key (hex text) from this file.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
    },
    /// Set the Matching Engine key (key admin): directly while no ME image is configured, or, once one is,
    /// the key of an enclave attested for it (--attestation: the key comes from the attestation, which must
    /// be newer than the current ME key's).
    #[command(group(clap::ArgGroup::new("key").required(true).args(["pubkey", "attestation"])))]
    SetMatchingEngine {
        /// 64-byte uncompressed secp256k1 public key (hex, no 04 prefix): `kalypso keys public-key` prints it.
        #[arg(value_parser = parse::bytes)]
        pubkey: Option<Bytes>,
        /// The attestation (JSON: enclavePubkey, imageId, timestampMs, signature) of the ME enclave's key from
        /// the attestation-verifier service (`kalypso attestation request`), for the configured ME image.
        #[arg(long, value_name = "FILE")]
        attestation: Option<PathBuf>,
    },
    /// Add an IVS signer to a market: the market creator adds any key when the market has no IVS image;
    /// anyone adds the key of an enclave attested for the market's IVS image (--attestation: the key comes
    /// from the attestation).
    #[command(
        group(clap::ArgGroup::new("key").required(true).args(["pubkey", "attestation"])),
        override_usage = "kalypso keys add-ivs [OPTIONS] <MARKET> <PUBKEY|--attestation <FILE>>"
    )]
    AddIvs {
        /// Market id.
        market: u64,
        /// 64-byte public key (`kalypso keys public-key --from-env KALYPSO_IVS_KEY`).
        #[arg(value_parser = parse::bytes)]
        pubkey: Option<Bytes>,
        /// The attestation (JSON: enclavePubkey, imageId, timestampMs, signature) of the IVS enclave's key from
        /// the attestation-verifier service (`kalypso attestation request`), for the market's IVS image.
        #[arg(long, value_name = "FILE")]
        attestation: Option<PathBuf>,
    },
    /// Register the signing generator's encryption key for a public market.
    RegisterGenerator {
        /// Market id.
        market: u64,
        /// 64-byte public key.
        #[arg(value_parser = parse::bytes)]
        pubkey: Bytes,
    },
    /// Register the signing generator's enclave key for a confidential market: the key the Matching Engine
    /// re-wraps asks' secrets to. Needs an attestation that the key lives in an enclave running one of the
    /// market's prover images (the attestation-verifier service's JSON), and the enclave key itself signs the
    /// registration for this generator and market, so a copied attestation registers nothing.
    RegisterEnclave {
        /// Market id.
        market: u64,
        /// The enclave's private key (hex text): it signs the registration consent here (in production the
        /// enclave signs it and never lets the key out).
        #[arg(long, value_name = "FILE")]
        enclave_key_file: PathBuf,
        /// The attestation (JSON: enclavePubkey, imageId, timestampMs, signature) from the attestation-verifier
        /// service.
        #[arg(
            long,
            value_name = "FILE",
            required_unless_present = "insecure_dev_attester_env"
        )]
        attestation: Option<PathBuf>,
        /// INSECURE, devnets only: sign the attestation here with the private key in this environment variable
        /// (a trusted attestation signer of the deployment), for the image --image-id, without any enclave
        /// document. Anyone holding that key can register any key as attested.
        #[arg(
            long,
            value_name = "VAR",
            conflicts_with = "attestation",
            requires = "image_id"
        )]
        insecure_dev_attester_env: Option<String>,
        /// The enclave image the INSECURE dev attestation names (the market's prover image id).
        #[arg(long, value_parser = parse::b256)]
        image_id: Option<B256>,
    },
}

/// `kalypso balance ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BalanceCmd {
    /// Show an account's claimable payment-token and slashed-stake balances.
    Show {
        /// Account [default: the signing account].
        #[arg(value_parser = parse::address)]
        account: Option<Address>,
    },
    /// Deposit payment tokens to pay future asks.
    Deposit {
        /// Amount.
        #[arg(value_parser = parse::amount)]
        amount: parse::Amount,
    },
    /// Withdraw claimable payment tokens (and slashed-stake payouts with --payouts).
    Withdraw {
        /// Amount [default: everything].
        #[arg(value_parser = parse::amount)]
        amount: Option<parse::Amount>,
        /// Recipient [default: the signing account].
        #[arg(long, value_parser = parse::address)]
        to: Option<Address>,
        /// Withdraw staking-token payouts (slash compensation, keeper rewards) instead.
        #[arg(long)]
        payouts: bool,
    },
}

/// `kalypso prover ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum ProverCmd {
    /// INSECURE seeded Groth16 setup of a built-in circuit: writes DIR/<circuit>-<size>.pk (the proving key,
    /// for generators) and DIR/<circuit>-<size>.vk.json (verifying key, sample input and proof: what
    /// `kalypso deploy --sample-market` deploys). The same circuit, size and seed give the same files on any
    /// machine; anyone who knows the seed can forge proofs, so devnets only.
    Setup {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// Directory for the key files.
        #[arg(long, value_name = "DIR", default_value = "keys")]
        out: PathBuf,
        /// Setup seed, 32 bytes of hex [default: derived from the circuit and size].
        #[arg(long, value_parser = parse::b256)]
        seed: Option<B256>,
    },
    /// Print prover data for a built-in circuit: valid, or with --invalid unprovable (for merkle: a root the
    /// path does not reach, which passes the verifier's format check: a case for the IVS).
    SampleInputs {
        #[command(flatten)]
        circuit: CircuitArgs,
        /// Print inputs that cannot be proven instead.
        #[arg(long)]
        invalid: bool,
        /// Which sample (different seeds give different valid statements).
        #[arg(long, default_value_t = 0, conflicts_with = "invalid")]
        seed: u64,
    },
    /// Check whether inputs can be proven. Exit code 0 if they can, 1 if not (the reason on stdout), so it
    /// can serve as a command backend's check command.
    Check {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        inputs: InputsArgs,
    },
    /// Prove inputs and print the proof (0x-hex): the bytes to submit for the ask.
    Prove {
        #[command(flatten)]
        backend: BackendArgs,
        #[command(flatten)]
        inputs: InputsArgs,
    },
    /// Serve a prover over the prover-gateway HTTP API (/v1/health, /v1/benchmark, /v1/prove,
    /// /v1/check-input; docs/prover-gateway.openapi.yaml) until Ctrl-C. Prints the address it listens on.
    Serve {
        #[command(flatten)]
        backend: BackendArgs,
        /// Address to listen on (port 0 picks a free one).
        #[arg(long, default_value = "127.0.0.1:3030")]
        listen: SocketAddr,
        /// Proofs running at once; later requests wait.
        #[arg(long, default_value_t = 1)]
        max_concurrent: usize,
    },
    /// Measure proving time and suggest a quote: maxProofTime = p90 × safety factor + margin (rounded up to
    /// whole seconds) and computePerProof = the threads one proof used.
    Benchmark {
        #[command(flatten)]
        backend: BackendArgs,
        /// Timed proofs.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Untimed proofs first (key loading, allocator and cache warm-up).
        #[arg(long, default_value_t = 1)]
        warmup: u32,
        /// Factor applied to the p90 proving time.
        #[arg(long, default_value_t = 2.0)]
        safety_factor: f64,
        /// Time added for fetching inputs and landing the proof on-chain.
        #[arg(long, value_parser = parse::duration_or_zero, default_value = "30s")]
        margin: Duration,
        /// Prove these inputs (hex or @file) instead of the backend's sample inputs.
        #[arg(long, value_parser = parse::bytes)]
        inputs: Option<Bytes>,
    },
}

/// A built-in circuit and its size.
#[derive(Debug, Args)]
pub(crate) struct CircuitArgs {
    /// Built-in circuit: mimc (MiMC-5 hash chain, size = rounds) or merkle (Merkle membership, size =
    /// depth).
    #[arg(long, value_parser = parse::circuit())]
    pub(crate) circuit: CircuitKind,
    /// Circuit size: N (rounds or depth), or 2^K for the largest size whose proving domain has 2^K points
    /// (2^14, 2^16, 2^18 ≈ that many constraints).
    #[arg(long, value_parser = parse::circuit_size)]
    pub(crate) size: parse::CircuitSize,
}

/// The prover backend: a built-in circuit, or any backend from a config file.
#[derive(Debug, Args)]
pub(crate) struct BackendArgs {
    /// Built-in circuit: mimc (MiMC-5 hash chain, size = rounds) or merkle (Merkle membership, size =
    /// depth).
    #[arg(long, value_parser = parse::circuit(), required_unless_present = "config", requires = "size")]
    pub(crate) circuit: Option<CircuitKind>,
    /// Circuit size: N (rounds or depth), or 2^K for the largest size whose proving domain has 2^K points.
    #[arg(long, value_parser = parse::circuit_size, requires = "circuit")]
    pub(crate) size: Option<parse::CircuitSize>,
    /// Key directory of `kalypso prover setup`; keys missing there are made (INSECURE seeded setup) and
    /// written to it [default: set up in memory on every run].
    #[arg(long, value_name = "DIR", conflicts_with = "config")]
    pub(crate) keys: Option<PathBuf>,
    /// Threads per proof (a dedicated pool) [default: all cores].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) threads: Option<u64>,
    /// Any backend from a file, JSON or (*.toml) TOML: `backend = "groth16"` (circuit, size, keys_dir,
    /// threads), `"command"` (prove, check, timeout_secs, encoding, ...) or `"webhook"` (url, timeout_secs,
    /// bearer_token_env).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["circuit", "size"])]
    pub(crate) config: Option<PathBuf>,
}

/// The prover data to use.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct InputsArgs {
    /// Prover data: hex (0x…) or @file (a file of hex text is decoded, any other file read as raw bytes).
    #[arg(long, value_parser = parse::bytes)]
    pub(crate) inputs: Option<Bytes>,
    /// File holding the prover data as hex text (0x optional) or raw bytes.
    #[arg(long, value_name = "FILE")]
    pub(crate) inputs_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::fmt::Write;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    fn render(cmd: &mut clap::Command, path: &str, out: &mut String) {
        let help = cmd.render_long_help().to_string();
        let _ = write!(out, "## `{path}`\n\n```text\n{}\n```\n\n", help.trim_end());
        let names: Vec<String> = cmd
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .map(|c| c.get_name().to_owned())
            .collect();
        for name in names {
            let sub = cmd
                .find_subcommand_mut(&name)
                .expect("listed subcommand exists");
            render(sub, &format!("{path} {name}"), out);
        }
    }

    /// `docs/cli.md` is the `--help` of every command; regenerate with
    /// `UPDATE_CLI_DOCS=1 cargo test -p kalypso-cli cli_reference`.
    #[test]
    fn cli_reference_is_up_to_date() {
        let mut cmd = Cli::command().term_width(100);
        cmd.build();
        let mut doc = String::from(
            "# `kalypso` command reference\n\nGenerated from `--help` by the `cli_reference_is_up_to_date` test of \
             `crates/cli` (`UPDATE_CLI_DOCS=1 cargo test -p kalypso-cli cli_reference` rewrites it).\n\n",
        );
        render(&mut cmd, "kalypso", &mut doc);
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/cli.md");
        if std::env::var_os("UPDATE_CLI_DOCS").is_some() {
            std::fs::write(&path, &doc).expect("write docs/cli.md");
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == doc,
            "docs/cli.md is out of date: run UPDATE_CLI_DOCS=1 cargo test -p kalypso-cli cli_reference"
        );
    }
}

/// `kalypso engine ...`
#[derive(Debug, Subcommand)]
pub(crate) enum EngineCmd {
    /// Run the Matching Engine until Ctrl-C / SIGTERM.
    ///
    /// Indexes the protocol's events into a SQLite database (reorg-aware; a restart resumes from it), keeps the
    /// order book of every market, matches each open ask to the cheapest (COST) or fastest (TIME) eligible
    /// generator, and relays EIP-712-signed assignment batches from the signing account. With --keeper-key it
    /// also slashes tasks whose generator missed its deadline, so their asks are matched again. Serves a JSON
    /// API (OpenAPI at /openapi.json), a websocket event feed at /v1/events and Prometheus metrics at /metrics.
    Run(EngineRunArgs),
    /// Check the Matching Engine's assignments against the matching rules, from chain data alone.
    ///
    /// Replays the protocol's events from the deployment block through the matching core and, for every
    /// assignment the Matching Engine made (a `TaskAssigned` that is not a fallback self-assignment) in the
    /// checked blocks, asks the book which generator it would have chosen for that ask at that block's timestamp
    /// given every event before the assignment's transaction (earlier items of the same batch hold their
    /// generator's compute and stake). Lists every assignment that differs, with the reason when the book can
    /// tell, and exits with status 1 if any does. Needs no database and no key.
    Audit(EngineAuditArgs),
}

/// Options of `kalypso engine audit`.
#[derive(Debug, Args)]
pub(crate) struct EngineAuditArgs {
    /// First block whose assignments are checked (the state is always rebuilt from the deployment block).
    #[arg(long)]
    pub(crate) from_block: u64,
    /// Last block checked [default: the chain head].
    #[arg(long)]
    pub(crate) to_block: Option<u64>,
    /// Blocks per eth_getLogs request.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) log_page_blocks: u64,
}

/// Options of `kalypso engine run`.
#[derive(Debug, Args)]
pub(crate) struct EngineRunArgs {
    /// SQLite database of the engine (created when missing; tied to one deployment).
    #[arg(long, env = "KALYPSO_ENGINE_DB", default_value = "kalypso-engine.db")]
    pub(crate) db: PathBuf,
    /// Address of the HTTP API.
    #[arg(long, env = "KALYPSO_ENGINE_LISTEN", default_value = "127.0.0.1:8080")]
    pub(crate) listen: std::net::SocketAddr,
    /// Websocket endpoint for new-head notifications (e.g. ws://127.0.0.1:8545); without it the engine polls.
    #[arg(long, env = "KALYPSO_WS_URL")]
    pub(crate) ws_url: Option<String>,
    /// Key of the Matching Engine registered in the key registry: signs the batches. Defaults to the signing
    /// key, which always sends (and pays for) the relay transactions.
    #[arg(long, env = "KALYPSO_MATCHING_ENGINE_KEY", hide_env_values = true)]
    pub(crate) matching_engine_key: Option<SecretKey>,
    /// How often to look for new blocks when no notification arrives.
    #[arg(long, value_parser = parse::duration, default_value = "1s")]
    pub(crate) poll_interval: Duration,
    /// Assignments per relay transaction.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub(crate) batch_size: u16,
    /// Relay transactions in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub(crate) max_in_flight: u16,
    /// How long a signed batch stays valid.
    #[arg(long, value_parser = parse::duration, default_value = "2m")]
    pub(crate) batch_ttl: Duration,
    /// Re-send a relay transaction with 25% higher fees after this long without a receipt.
    #[arg(long, value_parser = parse::duration, default_value = "15s")]
    pub(crate) bump_after: Duration,
    /// Seconds between the chain head and the expected mining time of an assignment (the matching clock).
    #[arg(long, default_value_t = 2)]
    pub(crate) inclusion_margin: u64,
    /// Blocks per eth_getLogs request while catching up.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) log_page_blocks: u64,
    /// Run a keeper with this key: slash tasks whose generator missed its deadline (the ask re-opens and is
    /// matched again; the keeper earns the keeper share of the penalty). An account of its own, not the signing
    /// key or the Matching Engine key. Without it no keeper runs.
    #[arg(long, env = "KALYPSO_KEEPER_KEY", hide_env_values = true)]
    pub(crate) keeper_key: Option<SecretKey>,
    /// The keeper also refunds open asks past their deadline (refundExpired; earns nothing).
    #[arg(long, requires = "keeper_key")]
    pub(crate) keeper_refund_expired: bool,
    /// Keeper transactions in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) keeper_max_in_flight: u16,
}
