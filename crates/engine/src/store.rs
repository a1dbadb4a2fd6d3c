//! The engine's durable state in SQLite: the protocol's logs as indexed (the source every derived view is
//! rebuilt from), the hashes of indexed blocks (reorg detection), the cursor, and the outbox of signed
//! assignment batches (so a restart neither loses nor repeats an assignment).

use alloy::primitives::{Address, B256, Bytes, U256};
use kalypso_matching::Match;
use rusqlite::{Connection, OptionalExtension, params};
use std::{path::Path, sync::Mutex};

use crate::{Error, Result};

/// One protocol log as stored: enough to decode it again and to place it in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLog {
    /// Block number.
    pub block: u64,
    /// Block timestamp (unix seconds).
    pub timestamp: u64,
    /// Position in the block.
    pub log_index: u64,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Emitting contract.
    pub address: Address,
    /// Topics.
    pub topics: Vec<B256>,
    /// ABI-encoded data.
    pub data: Vec<u8>,
}

/// A block whose hash the indexer checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Number.
    pub number: u64,
    /// Hash.
    pub hash: B256,
    /// Timestamp (unix seconds).
    pub timestamp: u64,
}

/// Where a batch of signed assignments stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchStatus {
    /// Signed and persisted; maybe sent, not yet mined.
    Pending,
    /// Mined successfully (its items were assigned or skipped on-chain).
    Mined,
    /// Will never assign anything: mined reverted, expired unmined, or could not be sent.
    Failed,
}

impl BatchStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Mined => "mined",
            Self::Failed => "failed",
        }
    }
}

/// One item of a stored batch: the match and its signed acl (absent in rows of public markets and of versions
/// before confidential asks).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredItem {
    #[serde(flatten)]
    item: Match,
    #[serde(default, skip_serializing_if = "<[u8]>::is_empty")]
    acl: Bytes,
}

/// A signed batch in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Row id.
    pub id: i64,
    /// The EIP-712 `AssignBatch` nonce.
    pub nonce: U256,
    /// The batch's expiry (unix seconds).
    pub expiry: u64,
    /// The assignments.
    pub items: Vec<Match>,
    /// Each item's `acl` (the data key re-wrapped to the generator's enclave; empty for public markets), as
    /// signed.
    pub acls: Vec<Bytes>,
    /// The Matching Engine's signature.
    pub signature: Vec<u8>,
    /// Account nonce of the relaying transaction, once sent.
    pub tx_nonce: Option<u64>,
    /// Every hash the relaying transaction was sent under (fee bumps add one each).
    pub tx_hashes: Vec<B256>,
    /// `maxFeePerGas` of the last send.
    pub max_fee: u128,
    /// `maxPriorityFeePerGas` of the last send.
    pub priority_fee: u128,
    /// Gas limit of the relaying transaction.
    pub gas: u64,
}

/// The SQLite store. One connection behind a mutex: every operation is short.
#[derive(Debug)]
pub struct Store {
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    number INTEGER PRIMARY KEY, hash BLOB NOT NULL, timestamp INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS logs (
    block INTEGER NOT NULL, log_index INTEGER NOT NULL, timestamp INTEGER NOT NULL, tx_hash BLOB NOT NULL,
    address BLOB NOT NULL, topics BLOB NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (block, log_index)
);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, nonce TEXT NOT NULL, expiry INTEGER NOT NULL, items TEXT NOT NULL,
    signature BLOB NOT NULL, tx_nonce INTEGER, tx_hashes TEXT NOT NULL DEFAULT '[]',
    max_fee TEXT NOT NULL DEFAULT '0', priority_fee TEXT NOT NULL DEFAULT '0', gas INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL, block INTEGER
);
CREATE INDEX IF NOT EXISTS batches_status ON batches (status);
";

impl Store {
    /// Opens (or creates) the store at `path` for the deployment `(chain_id, marketplace)`. A store created for
    /// another deployment is refused rather than mixed.
    pub fn open(path: impl AsRef<Path>, chain_id: u64, marketplace: Address) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::Store(format!("{}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)?;
        Self::init(conn, chain_id, marketplace)
    }

    /// An in-memory store (tests, benchmarks).
    pub fn in_memory(chain_id: u64, marketplace: Address) -> Result<Self> {
        Self::init(Connection::open_in_memory()?, chain_id, marketplace)
    }

    fn init(conn: Connection, chain_id: u64, marketplace: Address) -> Result<Self> {
        conn.execute_batch(SCHEMA)?;
        let identity = format!("{chain_id}:{marketplace}");
        let existing: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'deployment'", [], |r| {
                r.get(0)
            })
            .optional()?;
        match existing {
            Some(found) if found != identity => {
                return Err(Error::Store(format!(
                    "the database belongs to deployment {found}, not {identity}: use another --db"
                )));
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('deployment', ?1)",
                    [&identity],
                )?;
            }
        }
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back), so a
        // poisoned lock is still usable.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The last fully indexed block.
    pub fn cursor(&self) -> Result<Option<BlockRef>> {
        let conn = self.conn();
        let number: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'cursor'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(number) = number else {
            return Ok(None);
        };
        let number: u64 = number
            .parse()
            .map_err(|_| Error::Store(format!("bad cursor {number}")))?;
        drop(conn);
        self.block(number)?
            .map(Some)
            .ok_or_else(|| Error::Store(format!("cursor block {number} is not stored")))
    }

    /// A stored block.
    pub fn block(&self, number: u64) -> Result<Option<BlockRef>> {
        self.conn()
            .query_row(
                "SELECT number, hash, timestamp FROM blocks WHERE number = ?1",
                [number as i64],
                block_ref,
            )
            .optional()
            .map_err(Into::into)
    }

    /// The highest stored block below `number`.
    pub fn block_below(&self, number: u64) -> Result<Option<BlockRef>> {
        self.conn()
            .query_row(
                "SELECT number, hash, timestamp FROM blocks WHERE number < ?1 ORDER BY number DESC LIMIT 1",
                [number as i64],
                block_ref,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Records `blocks` (the cursor block last) and their `logs` in one transaction and moves the cursor to
    /// the last block.
    pub fn commit(&self, blocks: &[BlockRef], logs: &[StoredLog]) -> Result<()> {
        let Some(last) = blocks.last() else {
            return Ok(());
        };
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut insert_block = tx.prepare_cached(
                "INSERT OR REPLACE INTO blocks (number, hash, timestamp) VALUES (?1, ?2, ?3)",
            )?;
            for b in blocks {
                insert_block.execute(params![
                    b.number as i64,
                    b.hash.as_slice(),
                    b.timestamp as i64
                ])?;
            }
            let mut insert_log = tx.prepare_cached(
                "INSERT OR REPLACE INTO logs (block, log_index, timestamp, tx_hash, address, topics, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for l in logs {
                let topics: Vec<u8> = l.topics.iter().flat_map(|t| t.0).collect();
                insert_log.execute(params![
                    l.block as i64,
                    l.log_index as i64,
                    l.timestamp as i64,
                    l.tx_hash.as_slice(),
                    l.address.as_slice(),
                    topics,
                    l.data,
                ])?;
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
            [last.number.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Forgets everything after block `number` (a reorg replaced it) and puts the cursor there.
    pub fn rollback_to(&self, number: u64) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM logs WHERE block > ?1", [number as i64])?;
        tx.execute("DELETE FROM blocks WHERE number > ?1", [number as i64])?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('cursor', ?1)",
            [number.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Re-indexes from scratch unless the stored logs were selected from exactly `pools` (the registry's restaking
    /// pools the indexer reads: a pool the index did not cover has events it never fetched). Records `pools`.
    pub fn ensure_restaking_pools(&self, pools: &[Address]) -> Result<bool> {
        let want = pools
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let conn = self.conn();
        let have: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'restaking_pools'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let same = have.as_deref().unwrap_or_default() == want;
        if !same {
            conn.execute_batch(
                "DELETE FROM logs; DELETE FROM blocks; DELETE FROM meta WHERE key = 'cursor';",
            )?;
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('restaking_pools', ?1)",
                [want],
            )?;
        }
        Ok(!same)
    }

    /// Forgets every indexed block and log (a reorg deeper than the stored history).
    pub fn reset_index(&self) -> Result<()> {
        let conn = self.conn();
        conn.execute_batch(
            "DELETE FROM logs; DELETE FROM blocks; DELETE FROM meta WHERE key = 'cursor';",
        )?;
        Ok(())
    }

    /// Every stored log in chain order, passed to `f` one by one (replay without loading them all).
    pub fn for_each_log(&self, mut f: impl FnMut(StoredLog) -> Result<()>) -> Result<u64> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT block, log_index, timestamp, tx_hash, address, topics, data FROM logs ORDER BY block, log_index",
        )?;
        let mut rows = stmt.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            f(stored_log(row)?)?;
            count += 1;
        }
        Ok(count)
    }

    /// One stored log.
    pub fn log(&self, block: u64, log_index: u64) -> Result<Option<StoredLog>> {
        self.conn()
            .query_row(
                "SELECT block, log_index, timestamp, tx_hash, address, topics, data FROM logs
                 WHERE block = ?1 AND log_index = ?2",
                [block as i64, log_index as i64],
                stored_log,
            )
            .optional()
            .map_err(Into::into)
    }

    /// Number of stored logs.
    pub fn log_count(&self) -> Result<u64> {
        let n: i64 = self
            .conn()
            .query_row("SELECT COUNT(*) FROM logs", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    // ---------------------------------------------------------------------------------------------------
    // Outbox
    // ---------------------------------------------------------------------------------------------------

    /// Allocates the next `AssignBatch` nonce (durable, so a restart never reuses one). Nonces start at a
    /// value derived from the signer so that two engines sharing a key but not a database are unlikely to
    /// collide; the contract rejects a reused nonce anyway.
    pub fn next_batch_nonce(&self) -> Result<U256> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let current: Option<String> = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'batch_nonce'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        let next = match current {
            Some(v) => {
                v.parse::<u64>()
                    .map_err(|_| Error::Store(format!("bad batch nonce {v}")))?
                    + 1
            }
            None => 0,
        };
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('batch_nonce', ?1)",
            [next.to_string()],
        )?;
        tx.commit()?;
        Ok(U256::from(next))
    }

    /// Persists a signed batch before it is sent; returns its id.
    pub fn insert_batch(
        &self,
        nonce: U256,
        expiry: u64,
        items: &[Match],
        acls: &[Bytes],
        signature: &[u8],
    ) -> Result<i64> {
        let items: Vec<StoredItem> = items
            .iter()
            .enumerate()
            .map(|(i, m)| StoredItem {
                item: m.clone(),
                acl: acls.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        let items = serde_json::to_string(&items).map_err(|e| Error::Store(e.to_string()))?;
        let conn = self.conn();
        conn.execute(
            "INSERT INTO batches (nonce, expiry, items, signature, status) VALUES (?1, ?2, ?3, ?4, 'pending')",
            params![nonce.to_string(), expiry as i64, items, signature],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records a send (or re-send with higher fees) of batch `id`.
    pub fn record_send(
        &self,
        id: i64,
        tx_nonce: u64,
        hash: B256,
        max_fee: u128,
        priority_fee: u128,
        gas: u64,
    ) -> Result<()> {
        let conn = self.conn();
        let hashes: String =
            conn.query_row("SELECT tx_hashes FROM batches WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        let mut hashes: Vec<B256> =
            serde_json::from_str(&hashes).map_err(|e| Error::Store(e.to_string()))?;
        hashes.push(hash);
        conn.execute(
            "UPDATE batches SET tx_nonce = ?2, tx_hashes = ?3, max_fee = ?4, priority_fee = ?5, gas = ?6
             WHERE id = ?1",
            params![
                id,
                tx_nonce as i64,
                serde_json::to_string(&hashes).map_err(|e| Error::Store(e.to_string()))?,
                max_fee.to_string(),
                priority_fee.to_string(),
                gas as i64
            ],
        )?;
        Ok(())
    }

    /// Marks batch `id` settled.
    pub fn finish_batch(&self, id: i64, status: BatchStatus, block: Option<u64>) -> Result<()> {
        self.conn().execute(
            "UPDATE batches SET status = ?2, block = ?3 WHERE id = ?1",
            params![id, status.as_str(), block.map(|b| b as i64)],
        )?;
        Ok(())
    }

    /// Batches not yet settled, oldest first.
    pub fn pending_batches(&self) -> Result<Vec<Batch>> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, nonce, expiry, items, signature, tx_nonce, tx_hashes, max_fee, priority_fee, gas
             FROM batches WHERE status = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Vec<u8>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, i64>(9)?,
            ))
        })?;
        let bad =
            |what: &str, e: &dyn std::fmt::Display| Error::Store(format!("batch {what}: {e}"));
        let mut out = Vec::new();
        for row in rows {
            let (id, nonce, expiry, items, signature, tx_nonce, hashes, max_fee, priority_fee, gas) =
                row?;
            let stored: Vec<StoredItem> =
                serde_json::from_str(&items).map_err(|e| bad("items", &e))?;
            let (items, acls) = stored.into_iter().map(|s| (s.item, s.acl)).unzip();
            out.push(Batch {
                id,
                nonce: nonce.parse().map_err(|e| bad("nonce", &e))?,
                expiry: expiry as u64,
                items,
                acls,
                signature,
                tx_nonce: tx_nonce.map(|n| n as u64),
                tx_hashes: serde_json::from_str(&hashes).map_err(|e| bad("hashes", &e))?,
                max_fee: max_fee.parse().map_err(|e| bad("max fee", &e))?,
                priority_fee: priority_fee.parse().map_err(|e| bad("priority fee", &e))?,
                gas: gas as u64,
            });
        }
        Ok(out)
    }

    /// Counts batches by status (for metrics and tests).
    pub fn batch_counts(&self) -> Result<(u64, u64, u64)> {
        let conn = self.conn();
        let count = |status: &str| -> Result<u64> {
            let n: i64 = conn.query_row(
                "SELECT COUNT(*) FROM batches WHERE status = ?1",
                [status],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        };
        Ok((count("pending")?, count("mined")?, count("failed")?))
    }
}

fn block_ref(r: &rusqlite::Row<'_>) -> rusqlite::Result<BlockRef> {
    Ok(BlockRef {
        number: r.get::<_, i64>(0)? as u64,
        hash: B256::from_slice(&r.get::<_, Vec<u8>>(1)?),
        timestamp: r.get::<_, i64>(2)? as u64,
    })
}

fn stored_log(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredLog> {
    let topics: Vec<u8> = r.get(5)?;
    Ok(StoredLog {
        block: r.get::<_, i64>(0)? as u64,
        log_index: r.get::<_, i64>(1)? as u64,
        timestamp: r.get::<_, i64>(2)? as u64,
        tx_hash: B256::from_slice(&r.get::<_, Vec<u8>>(3)?),
        address: Address::from_slice(&r.get::<_, Vec<u8>>(4)?),
        topics: topics.chunks_exact(32).map(B256::from_slice).collect(),
        data: r.get(6)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(block: u64, index: u64) -> StoredLog {
        StoredLog {
            block,
            timestamp: 1000 + block,
            log_index: index,
            tx_hash: B256::repeat_byte(block as u8),
            address: Address::repeat_byte(1),
            topics: vec![B256::repeat_byte(2), B256::repeat_byte(3)],
            data: vec![index as u8; 3],
        }
    }

    fn block(number: u64) -> BlockRef {
        BlockRef {
            number,
            hash: B256::repeat_byte(number as u8),
            timestamp: 1000 + number,
        }
    }

    #[test]
    fn commit_rollback_and_replay() {
        let store = Store::in_memory(1, Address::ZERO).unwrap();
        assert_eq!(store.cursor().unwrap(), None);
        store.commit(&[block(5)], &[log(5, 0), log(5, 1)]).unwrap();
        store.commit(&[block(6), block(7)], &[log(6, 0)]).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(block(7)));
        assert_eq!(store.log(5, 1).unwrap(), Some(log(5, 1)));
        assert_eq!(store.block_below(7).unwrap(), Some(block(6)));

        store.rollback_to(5).unwrap();
        assert_eq!(store.cursor().unwrap(), Some(block(5)));
        let mut seen = Vec::new();
        store
            .for_each_log(|l| {
                seen.push((l.block, l.log_index));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![(5, 0), (5, 1)]);
    }

    #[test]
    fn refuses_another_deployment() {
        let dir = std::env::temp_dir().join(format!("kalypso-store-{}", std::process::id()));
        let path = dir.join("engine.db");
        drop(Store::open(&path, 1, Address::ZERO).unwrap());
        let err = Store::open(&path, 2, Address::ZERO).unwrap_err();
        assert!(err.to_string().contains("belongs to deployment"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn outbox_round_trip() {
        let store = Store::in_memory(1, Address::ZERO).unwrap();
        assert_eq!(store.next_batch_nonce().unwrap(), U256::from(0));
        assert_eq!(store.next_batch_nonce().unwrap(), U256::from(1));
        let items = vec![
            Match {
                ask: 3,
                market: 1,
                generator: Address::repeat_byte(9),
                max_price: 10,
                max_proof_time: 60,
            },
            Match {
                ask: 4,
                market: 2,
                generator: Address::repeat_byte(9),
                max_price: 10,
                max_proof_time: 60,
            },
        ];
        // A public market's item has no acl; a confidential one's is kept as signed.
        let acls = vec![Bytes::new(), Bytes::from_static(b"wrapped to the enclave")];
        let id = store
            .insert_batch(U256::from(1), 99, &items, &acls, &[7; 65])
            .unwrap();
        store
            .record_send(id, 4, B256::repeat_byte(1), 100, 2, 500_000)
            .unwrap();
        store
            .record_send(id, 4, B256::repeat_byte(2), 120, 3, 500_000)
            .unwrap();
        let pending = store.pending_batches().unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].items, items);
        assert_eq!(pending[0].acls, acls);
        assert_eq!(
            pending[0].tx_hashes,
            vec![B256::repeat_byte(1), B256::repeat_byte(2)]
        );
        assert_eq!((pending[0].max_fee, pending[0].tx_nonce), (120, Some(4)));
        store
            .finish_batch(id, BatchStatus::Mined, Some(10))
            .unwrap();
        assert!(store.pending_batches().unwrap().is_empty());
        assert_eq!(store.batch_counts().unwrap(), (0, 1, 0));
    }
}
