//! The node's durable state in SQLite: the block cursor of the `TaskAssigned` scan and one row per task
//! (ask id, state, inputs, proof, attempts, last error), so a restart resumes where the node stopped: a task
//! proved but not submitted is submitted without proving it again, a settled task is left alone. A transaction
//! the node sent and has not seen mined (its call, nonce, fees and every hash sent under that nonce) is kept
//! too, so a restart follows it instead of sending the task's transaction a second time.
//!
//! For fallback self-assignment the store also follows the asks of the served markets (`asks`): created,
//! assigned (to anyone), re-opened by a slash or discard, refunded; each row remembers the position of the
//! last event applied to it, so a rescan applies nothing twice or out of order. Rows go once the ask's deadline
//! has passed (nothing can re-open it then).

use alloy::primitives::{Address, B256, Bytes, U256};
use kalypso_sdk::{Fees, PendingTx, TxCall};
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use std::{fmt, path::Path, str::FromStr, sync::Mutex};

use crate::{Error, Result, unix_ms};

/// Where a task stands in the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Assigned to this generator and recorded; not being proven yet (queued, or its inputs are checked).
    Seen,
    /// A proof is being made. A node that stops here proves again after its restart.
    Proving,
    /// The proof is stored and waits to be submitted.
    Proved,
    /// The proof was accepted on-chain (`ProofSubmitted`).
    Submitted,
    /// Settled with an IVS attestation that the inputs are invalid (`InvalidInputsSettled`).
    Attested,
    /// Given up before the task deadline (`TaskDiscarded`), paying the discard penalty instead of a slash.
    Discarded,
    /// Over without a settlement by this node (deadline missed, settled or re-assigned elsewhere, a proof the
    /// verifier rejects); `last_error` says why.
    Failed,
}

impl TaskState {
    /// Every state.
    pub const ALL: [Self; 7] = [
        Self::Seen,
        Self::Proving,
        Self::Proved,
        Self::Submitted,
        Self::Attested,
        Self::Discarded,
        Self::Failed,
    ];

    /// The state's name in the database and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Proving => "proving",
            Self::Proved => "proved",
            Self::Submitted => "submitted",
            Self::Attested => "attested",
            Self::Discarded => "discarded",
            Self::Failed => "failed",
        }
    }

    /// Whether the node is done with the task.
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Submitted | Self::Attested | Self::Discarded | Self::Failed
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TaskState {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| Error::Store(format!("unknown task state {s:?}")))
    }
}

/// What a node transaction does: how its receipt is read after a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TxKind {
    /// `submitProof`.
    Proof,
    /// `submitInvalidInputAttestation`.
    Attestation,
    /// `discard`.
    Discard,
}

impl TxKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Proof, Self::Attestation, Self::Discard];

    /// The kind's name in the database and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Proof => "proof",
            Self::Attestation => "attestation",
            Self::Discard => "discard",
        }
    }
}

impl FromStr for TxKind {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| Error::Store(format!("unknown transaction kind {s:?}")))
    }
}

/// A task's transaction sent but not seen mined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredTx {
    /// What it does.
    pub kind: TxKind,
    /// Why it was sent (the discard's reason, the invalid inputs'), kept for the task's final note.
    pub note: Option<String>,
    /// The call, to re-send it with higher fees.
    #[serde(skip)]
    pub call: TxCall,
    /// Nonce, latest fees and every hash sent under the nonce.
    #[serde(flatten)]
    pub pending: PendingTx,
}

/// One task as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRecord {
    /// The ask.
    pub ask_id: u64,
    /// Its market.
    pub market_id: u64,
    /// Where the task stands.
    pub state: TaskState,
    /// The task deadline of the current assignment (unix seconds, chain time).
    pub task_deadline: u64,
    /// Block of the `TaskAssigned` log.
    pub assigned_block: u64,
    /// When the node first saw the assignment (unix milliseconds, wall clock).
    pub seen_at_ms: u64,
    /// Last change (unix milliseconds).
    pub updated_at_ms: u64,
    /// The ask's prover data, once fetched.
    #[serde(skip)]
    pub inputs: Option<Vec<u8>>,
    /// The proof to submit, once made.
    #[serde(skip)]
    pub proof: Option<Vec<u8>>,
    /// How long the proof took (milliseconds).
    pub proving_ms: Option<u64>,
    /// Failed attempts (proving, IVS, submission) of this assignment.
    pub attempts: u32,
    /// The last failure, or why the task ended.
    pub last_error: Option<String>,
    /// The transaction that settled it (proof, attestation or discard).
    pub tx_hash: Option<B256>,
    /// A transaction sent for it and not seen mined yet.
    pub pending_tx: Option<StoredTx>,
}

/// What [`Store::record_assignment`] did with a `TaskAssigned` log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// A task the node did not know.
    New,
    /// The ask was assigned to this generator again (after a discard or slash): the task starts over.
    Reassigned,
    /// Already known (a log seen again after a restart or a rescan).
    Known,
}

/// An unassigned ask of a served market, as followed from the marketplace's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAsk {
    /// The ask.
    pub ask_id: u64,
    /// Its market.
    pub market_id: u64,
    /// The most it pays.
    pub reward: U256,
    /// Time by which its proof must be on-chain (unix seconds).
    pub deadline: u64,
    /// Block time of its creation or latest re-opening: the fallback delay runs from here.
    pub opened_at: u64,
}

/// Where a marketplace log sits in the chain: `(block, log index)`.
pub type LogPosition = (u64, u64);

/// The SQLite store. One connection behind a mutex: every operation is short.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
    ask_id INTEGER PRIMARY KEY,
    market_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    task_deadline INTEGER NOT NULL,
    assigned_block INTEGER NOT NULL,
    seen_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    inputs BLOB,
    proof BLOB,
    proving_ms INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    tx_hash BLOB
);
CREATE INDEX IF NOT EXISTS tasks_state ON tasks (state);
CREATE TABLE IF NOT EXISTS pending_txs (
    ask_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    note TEXT,
    to_address BLOB NOT NULL,
    input BLOB NOT NULL,
    gas_limit INTEGER NOT NULL,
    nonce INTEGER NOT NULL,
    max_fee TEXT NOT NULL,
    priority_fee TEXT NOT NULL,
    hashes BLOB NOT NULL,
    sent_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS asks (
    ask_id INTEGER PRIMARY KEY,
    market_id INTEGER NOT NULL,
    reward TEXT NOT NULL,
    deadline INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    open INTEGER NOT NULL,
    event_block INTEGER NOT NULL,
    event_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS asks_open ON asks (open, opened_at);
";

const COLUMNS: &str = "ask_id, market_id, state, task_deadline, assigned_block, seen_at_ms, updated_at_ms, \
                       inputs, proof, proving_ms, attempts, last_error, tx_hash";

impl Store {
    /// Opens (or creates) the store at `path` for `generator` on the deployment `(chain_id, marketplace)`; a
    /// store of another deployment or generator is refused rather than mixed. Tasks that were being proven
    /// when the node stopped go back to [`TaskState::Seen`].
    pub fn open(
        path: impl AsRef<Path>,
        chain_id: u64,
        marketplace: Address,
        generator: Address,
    ) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Store(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, chain_id, marketplace, generator)
    }

    /// An in-memory store (tests).
    pub fn in_memory(chain_id: u64, marketplace: Address, generator: Address) -> Result<Self> {
        Self::init(
            Connection::open_in_memory()?,
            chain_id,
            marketplace,
            generator,
        )
    }

    fn init(
        conn: Connection,
        chain_id: u64,
        marketplace: Address,
        generator: Address,
    ) -> Result<Self> {
        conn.execute_batch(SCHEMA)?;
        let identity = format!("{chain_id}:{marketplace}:{generator}");
        let existing: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'identity'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match existing {
            Some(found) if found != identity => {
                return Err(Error::Store(format!(
                    "the database belongs to {found} (chain:marketplace:generator), not {identity}: use another --db"
                )));
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('identity', ?1)",
                    [&identity],
                )?;
            }
        }
        conn.execute(
            "UPDATE tasks SET state = 'seen', updated_at_ms = ?1 WHERE state = 'proving'",
            [unix_ms() as i64],
        )?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (statements are atomic), so a poisoned
        // lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last block whose `TaskAssigned` logs were recorded.
    pub fn cursor(&self) -> Result<Option<u64>> {
        let value: Option<String> = self
            .conn()
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        value
            .map(|v| {
                v.parse()
                    .map_err(|_| Error::Store(format!("bad cursor {v:?}")))
            })
            .transpose()
    }

    /// Moves the cursor.
    pub fn set_cursor(&self, block: u64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO meta (key, value) VALUES ('cursor', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [block.to_string()],
        )?;
        Ok(())
    }

    /// Records a `TaskAssigned` log of this generator. A known ask with another task deadline was assigned
    /// again: if the node was done with it (discarded, failed), the task starts over.
    pub fn record_assignment(
        &self,
        ask_id: u64,
        market_id: u64,
        task_deadline: u64,
        block: u64,
    ) -> Result<Recorded> {
        let conn = self.conn();
        let now = unix_ms() as i64;
        let known: Option<(String, i64)> = conn
            .query_row(
                "SELECT state, task_deadline FROM tasks WHERE ask_id = ?1",
                [ask_id as i64],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match known {
            None => {
                conn.execute(
                    "INSERT INTO tasks (ask_id, market_id, state, task_deadline, assigned_block, seen_at_ms,
                                        updated_at_ms)
                     VALUES (?1, ?2, 'seen', ?3, ?4, ?5, ?5)",
                    params![
                        ask_id as i64,
                        market_id as i64,
                        task_deadline as i64,
                        block as i64,
                        now
                    ],
                )?;
                Ok(Recorded::New)
            }
            Some((_, deadline)) if deadline as u64 == task_deadline => Ok(Recorded::Known),
            Some((state, _)) => {
                let state: TaskState = state.parse()?;
                if matches!(state, TaskState::Discarded | TaskState::Failed) {
                    conn.execute("DELETE FROM pending_txs WHERE ask_id = ?1", [ask_id as i64])?;
                    conn.execute(
                        "UPDATE tasks SET state = 'seen', task_deadline = ?2, assigned_block = ?3, seen_at_ms = ?4,
                                          updated_at_ms = ?4, proof = NULL, proving_ms = NULL, attempts = 0,
                                          last_error = NULL, tx_hash = NULL
                         WHERE ask_id = ?1",
                        params![ask_id as i64, task_deadline as i64, block as i64, now],
                    )?;
                    Ok(Recorded::Reassigned)
                } else {
                    // Still in progress under an older deadline (or settled): keep the work, take the new
                    // deadline.
                    conn.execute(
                        "UPDATE tasks SET task_deadline = ?2, assigned_block = ?3, updated_at_ms = ?4
                         WHERE ask_id = ?1",
                        params![ask_id as i64, task_deadline as i64, block as i64, now],
                    )?;
                    Ok(Recorded::Known)
                }
            }
        }
    }

    /// Starts following an ask created at `at` (its `AskCreated` log), open since `opened_at`; an ask already
    /// followed is left as it is.
    pub fn track_ask(&self, ask: &OpenAsk, at: LogPosition) -> Result<()> {
        self.conn().execute(
            "INSERT OR IGNORE INTO asks (ask_id, market_id, reward, deadline, opened_at, open, event_block,
                                         event_index)
             VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
            params![
                ask.ask_id as i64,
                ask.market_id as i64,
                ask.reward.to_string(),
                ask.deadline as i64,
                ask.opened_at as i64,
                at.0 as i64,
                at.1 as i64
            ],
        )?;
        Ok(())
    }

    /// Applies a later event of a followed ask: `reopened_at` is `Some` when it re-opened the ask (a slash or
    /// discard with `reopened`), `None` when it closed it (an assignment, a refund). Ignored for an ask not
    /// followed (another market) and for an event at or before the last one applied (a rescan).
    pub fn ask_event(&self, ask_id: u64, reopened_at: Option<u64>, at: LogPosition) -> Result<()> {
        self.conn().execute(
            "UPDATE asks SET open = ?2, opened_at = COALESCE(?3, opened_at), event_block = ?4, event_index = ?5
             WHERE ask_id = ?1 AND (event_block < ?4 OR (event_block = ?4 AND event_index < ?5))",
            params![
                ask_id as i64,
                reopened_at.is_some(),
                reopened_at.map(|t| t as i64),
                at.0 as i64,
                at.1 as i64
            ],
        )?;
        Ok(())
    }

    /// Marks an ask closed without an event (a self-assignment found it taken); a later re-opening event
    /// opens it again.
    pub fn close_ask(&self, ask_id: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE asks SET open = 0 WHERE ask_id = ?1",
            [ask_id as i64],
        )?;
        Ok(())
    }

    /// The followed asks that are open, longest open first.
    pub fn open_asks(&self) -> Result<Vec<OpenAsk>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT ask_id, market_id, reward, deadline, opened_at FROM asks WHERE open = 1
             ORDER BY opened_at, ask_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        rows.map(|row| {
            let (ask_id, market_id, reward, deadline, opened_at) = row?;
            Ok(OpenAsk {
                ask_id: ask_id as u64,
                market_id: market_id as u64,
                reward: reward
                    .parse()
                    .map_err(|_| Error::Store(format!("ask {ask_id}: bad reward {reward:?}")))?,
                deadline: deadline as u64,
                opened_at: opened_at as u64,
            })
        })
        .collect()
    }

    /// Stops following asks whose deadline is before `now`: none can be assigned or re-opened any more.
    pub fn prune_asks(&self, now: u64) -> Result<usize> {
        Ok(self
            .conn()
            .execute("DELETE FROM asks WHERE deadline < ?1", [now as i64])?)
    }

    /// One task.
    pub fn task(&self, ask_id: u64) -> Result<Option<TaskRecord>> {
        let conn = self.conn();
        let task = conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM tasks WHERE ask_id = ?1"),
                [ask_id as i64],
                task_row,
            )
            .optional()?
            .transpose()?;
        task.map(|t| with_pending(&conn, t)).transpose()
    }

    /// Every task, newest ask first (at most `limit`).
    pub fn tasks(&self, limit: usize) -> Result<Vec<TaskRecord>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM tasks ORDER BY ask_id DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit.min(i64::MAX as usize) as i64], task_row)?;
        rows.map(|r| with_pending(&conn, r??)).collect()
    }

    /// The task's transaction sent and not seen mined, if any.
    pub fn pending_tx(&self, ask_id: u64) -> Result<Option<StoredTx>> {
        pending_tx(&self.conn(), ask_id)
    }

    /// Records a send of the task's transaction (the first or a replacement), replacing the previous record:
    /// `pending` carries every hash sent under its nonce.
    pub fn set_pending(
        &self,
        ask_id: u64,
        kind: TxKind,
        note: Option<&str>,
        call: &TxCall,
        pending: &PendingTx,
    ) -> Result<()> {
        let hashes: Vec<u8> = pending.hashes.iter().flat_map(|h| h.0).collect();
        self.conn().execute(
            "INSERT INTO pending_txs (ask_id, kind, note, to_address, input, gas_limit, nonce, max_fee, priority_fee,
                                      hashes, sent_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT (ask_id) DO UPDATE SET
                 kind = excluded.kind, note = excluded.note, to_address = excluded.to_address,
                 input = excluded.input, gas_limit = excluded.gas_limit, nonce = excluded.nonce,
                 max_fee = excluded.max_fee, priority_fee = excluded.priority_fee, hashes = excluded.hashes,
                 sent_at_ms = excluded.sent_at_ms",
            params![
                ask_id as i64,
                kind.as_str(),
                note,
                call.to.as_slice(),
                call.input.as_ref(),
                call.gas_limit as i64,
                pending.nonce as i64,
                pending.fees.max_fee_per_gas.to_string(),
                pending.fees.max_priority_fee_per_gas.to_string(),
                hashes,
                pending.sent_at_ms as i64,
            ],
        )?;
        Ok(())
    }

    /// Forgets the task's pending transaction (it was mined, or its nonce was used by another one).
    pub fn clear_pending(&self, ask_id: u64) -> Result<()> {
        self.conn()
            .execute("DELETE FROM pending_txs WHERE ask_id = ?1", [ask_id as i64])?;
        Ok(())
    }

    /// Ids of the tasks the node is not done with, oldest ask first.
    pub fn active(&self) -> Result<Vec<u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT ask_id FROM tasks WHERE state IN ('seen', 'proving', 'proved') ORDER BY ask_id",
        )?;
        let ids = stmt.query_map([], |r| r.get::<_, i64>(0))?;
        Ok(ids
            .map(|id| id.map(|id| id as u64))
            .collect::<rusqlite::Result<_>>()?)
    }

    /// Number of tasks in each state.
    pub fn counts(&self) -> Result<Vec<(TaskState, u64)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT state, COUNT(*) FROM tasks GROUP BY state")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
        rows.map(|r| {
            let (state, n) = r?;
            Ok((state.parse()?, n as u64))
        })
        .collect()
    }

    /// Moves a task to `state`, recording `note` as its last error (or clearing it with `None`).
    pub fn set_state(&self, ask_id: u64, state: TaskState, note: Option<&str>) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET state = ?2, last_error = ?3, updated_at_ms = ?4 WHERE ask_id = ?1",
            params![ask_id as i64, state.as_str(), note, unix_ms() as i64],
        )?;
        Ok(())
    }

    /// Stores the ask's prover data.
    pub fn set_inputs(&self, ask_id: u64, inputs: &[u8]) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET inputs = ?2, updated_at_ms = ?3 WHERE ask_id = ?1",
            params![ask_id as i64, inputs, unix_ms() as i64],
        )?;
        Ok(())
    }

    /// Stores a finished proof: the task becomes [`TaskState::Proved`].
    pub fn set_proved(&self, ask_id: u64, proof: &[u8], proving_ms: u64) -> Result<()> {
        self.conn().execute(
            "UPDATE tasks SET state = 'proved', proof = ?2, proving_ms = ?3, last_error = NULL, updated_at_ms = ?4
             WHERE ask_id = ?1",
            params![ask_id as i64, proof, proving_ms as i64, unix_ms() as i64],
        )?;
        Ok(())
    }

    /// Ends a task with the transaction that settled it (its pending transaction is forgotten).
    pub fn set_settled(
        &self,
        ask_id: u64,
        state: TaskState,
        tx_hash: Option<B256>,
        note: Option<&str>,
    ) -> Result<()> {
        let conn = self.conn();
        conn.execute("DELETE FROM pending_txs WHERE ask_id = ?1", [ask_id as i64])?;
        conn.execute(
            "UPDATE tasks SET state = ?2, tx_hash = ?3, last_error = ?4, updated_at_ms = ?5 WHERE ask_id = ?1",
            params![
                ask_id as i64,
                state.as_str(),
                tx_hash.map(|h| h.to_vec()),
                note,
                unix_ms() as i64
            ],
        )?;
        Ok(())
    }

    /// Counts a failed attempt and records why; returns the attempts so far.
    pub fn record_failure(&self, ask_id: u64, error: &str) -> Result<u32> {
        let conn = self.conn();
        conn.execute(
            "UPDATE tasks SET attempts = attempts + 1, last_error = ?2, updated_at_ms = ?3 WHERE ask_id = ?1",
            params![ask_id as i64, error, unix_ms() as i64],
        )?;
        let attempts: i64 = conn.query_row(
            "SELECT attempts FROM tasks WHERE ask_id = ?1",
            [ask_id as i64],
            |r| r.get(0),
        )?;
        Ok(attempts as u32)
    }

    /// Proving times (milliseconds) of the latest `limit` proofs of `market`, newest first.
    pub fn recent_proving_ms(&self, market_id: u64, limit: usize) -> Result<Vec<u64>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT proving_ms FROM tasks WHERE market_id = ?1 AND proving_ms IS NOT NULL
             ORDER BY updated_at_ms DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![market_id as i64, limit.min(i64::MAX as usize) as i64],
            |r| r.get::<_, i64>(0),
        )?;
        Ok(rows
            .map(|r| r.map(|ms| ms as u64))
            .collect::<rusqlite::Result<_>>()?)
    }
}

fn task_row(r: &Row<'_>) -> rusqlite::Result<Result<TaskRecord>> {
    let state: String = r.get(2)?;
    let tx_hash: Option<Vec<u8>> = r.get(12)?;
    let record = TaskRecord {
        ask_id: r.get::<_, i64>(0)? as u64,
        market_id: r.get::<_, i64>(1)? as u64,
        state: TaskState::Seen,
        task_deadline: r.get::<_, i64>(3)? as u64,
        assigned_block: r.get::<_, i64>(4)? as u64,
        seen_at_ms: r.get::<_, i64>(5)? as u64,
        updated_at_ms: r.get::<_, i64>(6)? as u64,
        inputs: r.get(7)?,
        proof: r.get(8)?,
        proving_ms: r.get::<_, Option<i64>>(9)?.map(|ms| ms as u64),
        attempts: r.get::<_, i64>(10)? as u32,
        last_error: r.get(11)?,
        tx_hash: tx_hash
            .filter(|h| h.len() == 32)
            .map(|h| B256::from_slice(&h)),
        pending_tx: None,
    };
    Ok(state.parse().map(|state| TaskRecord { state, ..record }))
}

fn with_pending(conn: &Connection, task: TaskRecord) -> Result<TaskRecord> {
    Ok(TaskRecord {
        pending_tx: pending_tx(conn, task.ask_id)?,
        ..task
    })
}

fn pending_tx(conn: &Connection, ask_id: u64) -> Result<Option<StoredTx>> {
    type Row = (
        String,
        Option<String>,
        Vec<u8>,
        Vec<u8>,
        i64,
        i64,
        String,
        String,
        Vec<u8>,
        i64,
    );
    let row: Option<Row> = conn
        .query_row(
            "SELECT kind, note, to_address, input, gas_limit, nonce, max_fee, priority_fee, hashes, sent_at_ms
             FROM pending_txs WHERE ask_id = ?1",
            [ask_id as i64],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )
        .optional()?;
    let Some((kind, note, to, input, gas, nonce, max_fee, priority_fee, hashes, sent_at)) = row
    else {
        return Ok(None);
    };
    let bad = |what: &str| Error::Store(format!("pending transaction of ask {ask_id}: bad {what}"));
    if to.len() != 20 || !hashes.len().is_multiple_of(32) {
        return Err(bad("address or hashes"));
    }
    let fee = |text: &str| text.parse::<u128>().map_err(|_| bad("fee"));
    Ok(Some(StoredTx {
        kind: kind.parse()?,
        note,
        call: TxCall {
            to: Address::from_slice(&to),
            input: Bytes::from(input),
            gas_limit: gas as u64,
        },
        pending: PendingTx {
            nonce: nonce as u64,
            fees: Fees {
                max_fee_per_gas: fee(&max_fee)?,
                max_priority_fee_per_gas: fee(&priority_fee)?,
            },
            hashes: hashes.chunks_exact(32).map(B256::from_slice).collect(),
            sent_at_ms: sent_at as u64,
        },
    }))
}

/// The `p`-quantile (nearest rank) of `values`, `None` when empty.
pub fn quantile(values: &[u64], p: f64) -> Option<u64> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::in_memory(31337, Address::repeat_byte(1), Address::repeat_byte(2)).expect("store")
    }

    fn open(ask_id: u64, opened_at: u64) -> OpenAsk {
        OpenAsk {
            ask_id,
            market_id: 1,
            reward: U256::from(5u64),
            deadline: 1_000,
            opened_at,
        }
    }

    #[test]
    fn asks_follow_their_latest_event_and_a_rescan_changes_nothing() {
        let s = store();
        s.track_ask(&open(1, 10), (5, 0)).expect("track");
        s.track_ask(&open(2, 12), (6, 3)).expect("track");
        assert_eq!(s.open_asks().expect("open"), vec![open(1, 10), open(2, 12)]);
        // Assigned, then re-opened by a slash at t=40.
        s.ask_event(1, None, (7, 1)).expect("assigned");
        assert_eq!(s.open_asks().expect("open"), vec![open(2, 12)]);
        s.ask_event(1, Some(40), (9, 0)).expect("reopened");
        // A rescan of the older logs (creation, assignment) does not close or reset it.
        s.track_ask(&open(1, 10), (5, 0)).expect("track again");
        s.ask_event(1, None, (7, 1)).expect("assigned again");
        s.ask_event(1, None, (9, 0)).expect("same position");
        assert_eq!(s.open_asks().expect("open"), vec![open(2, 12), open(1, 40)]);
        // Events of asks not followed are ignored; a lost race closes without an event.
        s.ask_event(3, Some(50), (10, 0)).expect("other market");
        s.close_ask(2).expect("close");
        assert_eq!(s.open_asks().expect("open"), vec![open(1, 40)]);
        assert_eq!(s.prune_asks(1_001).expect("prune"), 2);
        assert!(s.open_asks().expect("open").is_empty());
    }

    #[test]
    fn assignments_are_recorded_once_and_restart_after_a_discard() {
        let s = store();
        assert_eq!(
            s.record_assignment(7, 1, 100, 5).expect("record"),
            Recorded::New
        );
        assert_eq!(
            s.record_assignment(7, 1, 100, 5).expect("record"),
            Recorded::Known
        );
        assert_eq!(s.active().expect("active"), vec![7]);
        s.set_proved(7, b"proof", 1234).expect("proved");
        // A rescan of the same log keeps the proof.
        assert_eq!(
            s.record_assignment(7, 1, 100, 5).expect("record"),
            Recorded::Known
        );
        let t = s.task(7).expect("read").expect("exists");
        assert_eq!(
            (t.state, t.proof.as_deref(), t.proving_ms),
            (TaskState::Proved, Some(&b"proof"[..]), Some(1234))
        );

        s.set_settled(7, TaskState::Discarded, None, Some("too slow"))
            .expect("discarded");
        assert!(s.active().expect("active").is_empty());
        assert_eq!(
            s.record_assignment(7, 1, 200, 9).expect("record"),
            Recorded::Reassigned
        );
        let t = s.task(7).expect("read").expect("exists");
        assert_eq!(
            (t.state, t.task_deadline, t.proof, t.attempts),
            (TaskState::Seen, 200, None, 0)
        );
    }

    #[test]
    fn failures_count_and_proving_restarts_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("g.db");
        let (marketplace, me) = (Address::repeat_byte(1), Address::repeat_byte(2));
        {
            let s = Store::open(&path, 1, marketplace, me).expect("open");
            s.record_assignment(3, 1, 100, 1).expect("record");
            s.set_state(3, TaskState::Proving, None).expect("state");
            assert_eq!(s.record_failure(3, "rpc down").expect("failure"), 1);
            assert_eq!(s.record_failure(3, "rpc down again").expect("failure"), 2);
            s.set_cursor(42).expect("cursor");
        }
        let s = Store::open(&path, 1, marketplace, me).expect("reopen");
        let t = s.task(3).expect("read").expect("exists");
        assert_eq!(t.state, TaskState::Seen);
        assert_eq!(t.attempts, 2);
        assert_eq!(t.last_error.as_deref(), Some("rpc down again"));
        assert_eq!(s.cursor().expect("cursor"), Some(42));
        assert_eq!(s.counts().expect("counts"), vec![(TaskState::Seen, 1)]);
        drop(s);
        let err = Store::open(&path, 1, marketplace, Address::repeat_byte(3)).unwrap_err();
        assert!(err.to_string().contains("another --db"), "{err}");
    }

    #[test]
    fn a_pending_transaction_is_kept_with_every_hash_until_the_task_settles() {
        let s = store();
        s.record_assignment(5, 1, 100, 2).expect("record");
        assert_eq!(s.pending_tx(5).expect("read"), None);
        let call = TxCall {
            to: Address::repeat_byte(1),
            input: Bytes::from_static(b"calldata"),
            gas_limit: 300_000,
        };
        let mut pending = PendingTx {
            nonce: 7,
            fees: Fees {
                max_fee_per_gas: u128::from(u64::MAX) * 3,
                max_priority_fee_per_gas: 2,
            },
            hashes: vec![B256::repeat_byte(0xa1)],
            sent_at_ms: 1_000,
        };
        s.set_pending(5, TxKind::Proof, None, &call, &pending)
            .expect("first send");
        pending.hashes.push(B256::repeat_byte(0xa2));
        pending.sent_at_ms = 2_000;
        s.set_pending(5, TxKind::Proof, Some("why"), &call, &pending)
            .expect("replacement");
        let stored = s.pending_tx(5).expect("read").expect("pending");
        assert_eq!(
            stored,
            StoredTx {
                kind: TxKind::Proof,
                note: Some("why".into()),
                call: call.clone(),
                pending: pending.clone(),
            }
        );
        let task = s.task(5).expect("read").expect("exists");
        assert_eq!(task.pending_tx, Some(stored));
        let json = serde_json::to_value(&task).expect("json");
        assert_eq!(json["pendingTx"]["kind"], "proof");
        assert_eq!(
            json["pendingTx"]["hashes"].as_array().map(Vec::len),
            Some(2)
        );

        s.set_settled(5, TaskState::Submitted, Some(pending.hash()), None)
            .expect("settled");
        assert_eq!(s.pending_tx(5).expect("read"), None);
        s.set_pending(5, TxKind::Discard, None, &call, &pending)
            .expect("again");
        s.clear_pending(5).expect("clear");
        assert_eq!(s.task(5).expect("read").expect("exists").pending_tx, None);
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        assert_eq!(quantile(&[], 0.9), None);
        assert_eq!(quantile(&[5], 0.9), Some(5));
        assert_eq!(quantile(&[10, 1, 9, 2, 8, 3, 7, 4, 6, 5], 0.9), Some(9));
        assert_eq!(quantile(&[3, 1, 2], 0.5), Some(2));
    }
}
