//! Follows the chain into the store: bounded `eth_getLogs` ranges while far behind, block by block (header, then
//! the logs of exactly that block hash) near the head, with every block's parent hash checked against the stored
//! chain. A mismatch rolls the store back to the fork point; the caller rebuilds its derived state.

use alloy::{
    eips::BlockNumberOrTag,
    network::BlockResponse,
    primitives::B256,
    providers::{DynProvider, Provider},
    rpc::types::{Filter, Log},
};
use kalypso_sdk::{Deployment, ProtocolEvent};
use std::{collections::HashMap, sync::Arc};
use tracing::{debug, info, warn};

use crate::{
    Error, Result,
    store::{BlockRef, Store, StoredLog},
};

/// What one [`Indexer::step`] did.
#[derive(Debug)]
pub enum Step {
    /// New logs were committed (possibly none); `head` is the chain head seen, `caught_up` whether the cursor
    /// reached it.
    Indexed {
        /// Committed logs, in chain order.
        logs: Vec<StoredLog>,
        /// The cursor after the step.
        cursor: BlockRef,
        /// The chain head.
        head: BlockRef,
        /// Whether the cursor is at the head.
        caught_up: bool,
    },
    /// The chain reorganised: the store was rolled back to block `to` (its logs after `to` are gone).
    Reorg {
        /// The common ancestor kept.
        to: u64,
    },
}

/// Indexer settings.
#[derive(Debug, Clone, Copy)]
pub struct IndexerConfig {
    /// Blocks per `eth_getLogs` range while catching up.
    pub page_blocks: u64,
    /// Within this many blocks of the head, index block by block (hash-checked).
    pub tip_window: u64,
}

impl Default for IndexerConfig {
    fn default() -> Self {
        Self {
            page_blocks: 2_000,
            tip_window: 32,
        }
    }
}

/// The indexer.
#[derive(Debug, Clone)]
pub struct Indexer {
    provider: DynProvider,
    deployment: Deployment,
    store: Arc<Store>,
    config: IndexerConfig,
}

impl Indexer {
    /// An indexer of `deployment`'s contracts into `store`.
    pub fn new(
        provider: DynProvider,
        deployment: Deployment,
        store: Arc<Store>,
        config: IndexerConfig,
    ) -> Self {
        Self {
            provider,
            deployment,
            store,
            config,
        }
    }

    /// Advances the cursor towards the head by one range (catching up) or up to the head (near it).
    pub async fn step(&self) -> Result<Step> {
        let head = self.header(BlockNumberOrTag::Latest).await?;
        let cursor = match self.store.cursor()? {
            Some(cursor) => cursor,
            None => {
                // Start just before the deployment: nothing of the protocol can be older.
                let start = self.deployment.deploy_block.saturating_sub(1);
                let start = self.header(BlockNumberOrTag::Number(start)).await?;
                self.store.commit(&[start], &[])?;
                info!(target: "kalypso::engine", block = start.number, "indexing from the deployment block");
                start
            }
        };
        if let Some(to) = self.check_cursor(cursor).await? {
            return Ok(Step::Reorg { to });
        }
        if head.number <= cursor.number {
            return Ok(Step::Indexed {
                logs: vec![],
                cursor,
                head,
                caught_up: true,
            });
        }
        if head.number - cursor.number > self.config.tip_window {
            self.catch_up(cursor, head).await
        } else {
            self.follow_tip(cursor, head).await
        }
    }

    /// Returns `Some(fork point)` after rolling back when the stored cursor is no longer on the chain.
    async fn check_cursor(&self, cursor: BlockRef) -> Result<Option<u64>> {
        if self.hash_on_chain(cursor.number).await? == Some(cursor.hash) {
            return Ok(None);
        }
        let mut below = cursor.number;
        while let Some(stored) = self.store.block_below(below)? {
            if self.hash_on_chain(stored.number).await? == Some(stored.hash) {
                warn!(target: "kalypso::engine", from = cursor.number, to = stored.number, "chain reorganised; rolling back");
                self.store.rollback_to(stored.number)?;
                return Ok(Some(stored.number));
            }
            below = stored.number;
        }
        warn!(target: "kalypso::engine", from = cursor.number, "reorg deeper than the stored history; re-indexing");
        self.store.reset_index()?;
        Ok(Some(0))
    }

    async fn catch_up(&self, cursor: BlockRef, head: BlockRef) -> Result<Step> {
        let from = cursor.number + 1;
        let to =
            (cursor.number + self.config.page_blocks).min(head.number - self.config.tip_window);
        let filter = Filter::new()
            .address(ProtocolEvent::sources(&self.deployment))
            .from_block(from)
            .to_block(to);
        let raw = self.provider.get_logs(&filter).await.map_err(rpc)?;
        let end = self.header(BlockNumberOrTag::Number(to)).await?;
        // Timestamps: from the log when the node includes them, else one header per block with logs.
        let mut blocks: HashMap<u64, BlockRef> = HashMap::new();
        let mut logs = Vec::with_capacity(raw.len());
        for log in &raw {
            let number = log
                .block_number
                .ok_or_else(|| Error::Rpc("log without block number".into()))?;
            let block = match blocks.get(&number) {
                Some(b) => *b,
                None => {
                    let b = match (log.block_hash, log.block_timestamp) {
                        (Some(hash), Some(timestamp)) => BlockRef {
                            number,
                            hash,
                            timestamp,
                        },
                        _ => self.header(BlockNumberOrTag::Number(number)).await?,
                    };
                    blocks.insert(number, b);
                    b
                }
            };
            logs.push(stored(log, block.number, block.timestamp)?);
        }
        let mut refs: Vec<BlockRef> = blocks.into_values().filter(|b| b.number != to).collect();
        refs.sort_by_key(|b| b.number);
        refs.push(end);
        self.store.commit(&refs, &logs)?;
        debug!(target: "kalypso::engine", from, to, logs = logs.len(), "indexed range");
        Ok(Step::Indexed {
            logs,
            cursor: end,
            head,
            caught_up: false,
        })
    }

    async fn follow_tip(&self, cursor: BlockRef, head: BlockRef) -> Result<Step> {
        let mut blocks = Vec::new();
        let mut logs = Vec::new();
        let mut parent = cursor;
        for number in cursor.number + 1..=head.number {
            let block = self.block(number).await?;
            let Some((block, parent_hash)) = block else {
                break;
            };
            if parent_hash != parent.hash {
                // Reorg in progress: keep what is consistent; the next step's cursor check rolls back.
                debug!(target: "kalypso::engine", number, "parent hash changed while following the tip");
                break;
            }
            let filter = Filter::new()
                .address(ProtocolEvent::sources(&self.deployment))
                .at_block_hash(block.hash);
            for log in self.provider.get_logs(&filter).await.map_err(rpc)? {
                logs.push(stored(&log, block.number, block.timestamp)?);
            }
            blocks.push(block);
            parent = block;
        }
        self.store.commit(&blocks, &logs)?;
        let caught_up = parent.number >= head.number;
        Ok(Step::Indexed {
            logs,
            cursor: parent,
            head,
            caught_up,
        })
    }

    async fn header(&self, tag: BlockNumberOrTag) -> Result<BlockRef> {
        let block = self
            .provider
            .get_block_by_number(tag)
            .await
            .map_err(rpc)?
            .ok_or_else(|| Error::Rpc(format!("block {tag} not found")))?;
        let h = block.header();
        Ok(BlockRef {
            number: h.number,
            hash: h.hash,
            timestamp: h.timestamp,
        })
    }

    async fn block(&self, number: u64) -> Result<Option<(BlockRef, B256)>> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(rpc)?;
        Ok(block.map(|b| {
            let h = b.header();
            (
                BlockRef {
                    number: h.number,
                    hash: h.hash,
                    timestamp: h.timestamp,
                },
                h.parent_hash,
            )
        }))
    }

    async fn hash_on_chain(&self, number: u64) -> Result<Option<B256>> {
        Ok(self.block(number).await?.map(|(b, _)| b.hash))
    }
}

/// A fetched log as the store keeps it, in block `number` mined at `timestamp`.
pub(crate) fn stored(log: &Log, number: u64, timestamp: u64) -> Result<StoredLog> {
    Ok(StoredLog {
        block: number,
        timestamp,
        log_index: log
            .log_index
            .ok_or_else(|| Error::Rpc("log without index".into()))?,
        tx_hash: log.transaction_hash.unwrap_or_default(),
        address: log.address(),
        topics: log.topics().to_vec(),
        data: log.data().data.to_vec(),
    })
}

fn rpc(e: impl std::fmt::Display) -> Error {
    Error::Rpc(e.to_string())
}
