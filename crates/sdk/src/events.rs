//! Protocol events over a block range: `eth_getLogs` in bounded pages, decoded with the contracts' ABIs.

use alloy::{
    primitives::{Address, B256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEventInterface,
};
use futures::{Stream, TryStreamExt};
use kalypso_contracts::{
    generator_registry::GeneratorRegistry::GeneratorRegistryEvents,
    key_registry::EntityKeyRegistry::EntityKeyRegistryEvents,
    marketplace::ProofMarketplace::ProofMarketplaceEvents,
    restaking_pool::RestakingPool::RestakingPoolEvents,
};
use std::{ops::RangeInclusive, time::Duration};
use tracing::debug;

use crate::{Deployment, Error, Kalypso, Result};

/// An event of one of the protocol's contracts, decoded with its generated event enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProtocolEvent {
    /// From the `ProofMarketplace`: markets, asks, assignments, settlement, payouts.
    Marketplace(ProofMarketplaceEvents),
    /// From the `GeneratorRegistry`: registrations, quotes, stake.
    Registry(GeneratorRegistryEvents),
    /// From the `EntityKeyRegistry`: Matching Engine, IVS and generator keys.
    Keys(EntityKeyRegistryEvents),
    /// From one of the registry's restaking pools: snapshots, per-task locks, queued and settled slashes.
    Restaking {
        /// The pool.
        pool: Address,
        /// The event.
        event: RestakingPoolEvents,
    },
}

impl ProtocolEvent {
    /// The contract that emitted it.
    pub const fn contract(&self) -> &'static str {
        match self {
            Self::Marketplace(_) => "ProofMarketplace",
            Self::Registry(_) => "GeneratorRegistry",
            Self::Keys(_) => "EntityKeyRegistry",
            Self::Restaking { .. } => "RestakingPool",
        }
    }

    /// The event's name (`AskCreated`).
    pub fn name(&self) -> String {
        let debug = self.inner_debug();
        debug
            .split_once([' ', '(', '{'])
            .map_or(debug.clone(), |(name, _)| name.to_owned())
    }

    /// `AskCreated { askId: 1, … }`: the generated event's `Debug` without the enum wrapper.
    fn inner_debug(&self) -> String {
        crate::error::strip_variant(match self {
            Self::Marketplace(e) => format!("{e:?}"),
            Self::Registry(e) => format!("{e:?}"),
            Self::Keys(e) => format!("{e:?}"),
            Self::Restaking { event, .. } => format!("{event:?}"),
        })
    }
}

impl std::fmt::Display for ProtocolEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.inner_debug())
    }
}

/// A decoded event and where it sits in the chain (the block hash lets indexers detect reorgs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Transaction that emitted it.
    pub tx_hash: B256,
    /// Position of the log in the block.
    pub log_index: u64,
    /// The event.
    pub event: ProtocolEvent,
}

impl<P: Provider> Kalypso<P> {
    /// Events of the marketplace and both registries in `blocks`, in chain order, as a stream of pages (one
    /// `eth_getLogs` per [page](Self::with_log_page_blocks) of blocks).
    pub fn event_pages(
        &self,
        blocks: RangeInclusive<u64>,
    ) -> impl Stream<Item = Result<Vec<EventRecord>>> + '_ {
        let (start, end) = (*blocks.start(), *blocks.end());
        let page = self.log_page_blocks();
        futures::stream::try_unfold((start <= end).then_some(start), move |from| async move {
            let Some(from) = from else {
                return Ok(None);
            };
            let to = from.saturating_add(page - 1).min(end);
            let records = self.events_between(from, to).await?;
            Ok(Some((
                records,
                to.checked_add(1).filter(|&next| next <= end),
            )))
        })
    }

    /// All events of the marketplace and both registries in `blocks`, in chain order (see
    /// [`event_pages`](Self::event_pages)).
    pub async fn events(&self, blocks: RangeInclusive<u64>) -> Result<Vec<EventRecord>> {
        let pages: Vec<Vec<EventRecord>> = self.event_pages(blocks).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// Events from block `from` on, following the chain head: the backlog first (in pages), then new blocks
    /// as they appear, polling every `poll`. Never ends by itself. No reorg handling: a consumer that needs it
    /// (the matching engine) compares `block_hash`es itself.
    pub fn follow_events(
        &self,
        from: u64,
        poll: Duration,
    ) -> impl Stream<Item = Result<EventRecord>> + '_ {
        let page = self.log_page_blocks();
        let pages = futures::stream::try_unfold(from, move |next| async move {
            loop {
                let head = self.block_number().await?;
                if next <= head {
                    let to = next.saturating_add(page - 1).min(head);
                    let records = self.events_between(next, to).await?;
                    return Ok::<_, Error>(Some((records, to + 1)));
                }
                tokio::time::sleep(poll).await;
            }
        });
        pages
            .map_ok(|records| futures::stream::iter(records.into_iter().map(Ok::<_, Error>)))
            .try_flatten()
    }

    /// The latest block number.
    pub async fn block_number(&self) -> Result<u64> {
        Ok(self.provider().get_block_number().await?)
    }

    async fn events_between(&self, from: u64, to: u64) -> Result<Vec<EventRecord>> {
        let d = self.deployment();
        let filter = Filter::new()
            .address(ProtocolEvent::sources(d))
            .from_block(from)
            .to_block(to);
        let logs = self.provider().get_logs(&filter).await?;
        debug!(target: "kalypso::sdk", from, to, logs = logs.len(), "fetched events");
        logs.iter().map(|log| self.decode(log)).collect()
    }

    fn decode(&self, log: &Log) -> Result<EventRecord> {
        let event = ProtocolEvent::decode(
            self.deployment(),
            log.address(),
            log.topics(),
            &log.data().data,
        )
        .map_err(|e| match e {
            Error::Decode { what, reason } => Error::Decode {
                what,
                reason: format!("log {:?}: {reason}", log.log_index),
            },
            other => other,
        })?;
        Ok(EventRecord {
            block_number: log.block_number.unwrap_or_default(),
            block_hash: log.block_hash.unwrap_or_default(),
            tx_hash: log.transaction_hash.unwrap_or_default(),
            log_index: log.log_index.unwrap_or_default(),
            event,
        })
    }
}

impl ProtocolEvent {
    /// Decodes a raw log of one of `deployment`'s contracts (for indexers that store logs and decode them
    /// again later). Fails for logs of other contracts and for unknown events.
    pub fn decode(
        deployment: &Deployment,
        address: Address,
        topics: &[B256],
        data: &[u8],
    ) -> Result<Self> {
        let d = deployment;
        let decoded = if address == d.marketplace {
            ProofMarketplaceEvents::decode_raw_log(topics, data).map(Self::Marketplace)
        } else if address == d.generator_registry {
            GeneratorRegistryEvents::decode_raw_log(topics, data).map(Self::Registry)
        } else if address == d.key_registry {
            EntityKeyRegistryEvents::decode_raw_log(topics, data).map(Self::Keys)
        } else if d.restaking_pools.contains(&address) {
            RestakingPoolEvents::decode_raw_log(topics, data).map(|event| Self::Restaking {
                pool: address,
                event,
            })
        } else {
            return Err(Error::Decode {
                what: "protocol event",
                reason: format!("{address} is not a contract of this deployment"),
            });
        };
        decoded.map_err(|e| Error::Decode {
            what: "protocol event",
            reason: format!("log of {address}: {e}"),
        })
    }

    /// The contracts whose logs are protocol events: the `address` list of an `eth_getLogs` filter.
    pub fn sources(deployment: &Deployment) -> Vec<Address> {
        let mut sources = vec![
            deployment.marketplace,
            deployment.generator_registry,
            deployment.key_registry,
        ];
        sources.extend(&deployment.restaking_pools);
        sources
    }
}
