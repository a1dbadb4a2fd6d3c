//! The book: markets, generators, quotes and asks, maintained from chain events and matched.

use crate::{
    AskId, AskStatus, AskView, Event, GeneratorView, MarketId, MarketView, Match, Quote, QuoteView,
    Seq,
    index::{NIL, QuoteIndex, QuoteKey},
};
use alloy::primitives::Address;
use kalypso_primitives::{Preference, SkipReason};
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet, HashMap},
    hash::{BuildHasherDefault, Hasher},
    ops::Bound,
};

/// Index of a generator in the book's arena.
type GenId = u32;

/// Index of a market in the book's arena.
type Slot = u32;

/// Index of a quote entry in its market's arena.
type QuoteSlot = u32;

/// Hasher for the book's own sequential ids (ask ids, generator ids): a multiplicative mix, deterministic and
/// fast. Ids are assigned by the contract or by the book, so nobody chooses colliding values.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }
    fn write_u32(&mut self, i: u32) {
        self.write_u64(i.into());
    }
    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// When a generator was last assigned in a market, as a count of the chain's `TaskAssigned` events the book has
/// applied (0 = never). Events arrive in chain order, so this orders assignments exactly as their chain positions
/// `(block, log index)` do. Provisional matches never count: the same events give the same turns, restart or not.
type Turn = u64;

/// The index key of a quote.
const fn quote_key(q: &Quote, last: Turn, addr: Address) -> QuoteKey {
    QuoteKey {
        price: q.price,
        time: q.max_proof_time,
        last,
        addr,
    }
}

/// A generator's quote in a market plus its listing state. Entries are never removed (leaving clears the
/// quote), so their slots are stable and remember the last assignment.
#[derive(Clone, Debug)]
struct QuoteEntry {
    generator: GenId,
    /// The quote (None when not joined).
    quote: Option<Quote>,
    /// Last assignment in this market (its `TaskAssigned`).
    last: Turn,
    /// Position of that `TaskAssigned` (for views).
    last_seq: Option<Seq>,
    /// Its node in the market's index while quoted (else `NIL`).
    node: u32,
    /// Listed in the index (its generator's capacity fits).
    listed: bool,
}

/// The market parameters the assignment rules read.
#[derive(Clone, Copy, Debug)]
struct Params {
    slashing_penalty: u128,
    min_stake: u128,
    confidential: bool,
}

/// A market. Laid out so that what a match reads (parameters, quote entries, index root) sits in two cache
/// lines.
#[derive(Clone, Debug)]
#[repr(C)]
struct MarketState {
    params: Params,
    id: MarketId,
    frozen: bool,
    quotes: Vec<QuoteEntry>,
    /// The quotes (value: quote slot), listed or not.
    index: QuoteIndex,
    quoted: usize,
    open: usize,
    pending: usize,
    assigned: usize,
    quote_of: IdMap<GenId, QuoteSlot>,
}

impl MarketState {
    /// The quote slot of `g`, created (not joined) if missing.
    fn entry(&mut self, g: GenId) -> QuoteSlot {
        if let Some(&qs) = self.quote_of.get(&g) {
            return qs;
        }
        // 2^32 quote entries in one market would exhaust memory first.
        let qs = QuoteSlot::try_from(self.quotes.len()).unwrap_or(QuoteSlot::MAX);
        self.quotes.push(QuoteEntry {
            generator: g,
            quote: None,
            last: 0,
            last_seq: None,
            node: NIL,
            listed: false,
        });
        self.quote_of.insert(g, qs);
        qs
    }

    /// Lists or delists quote `qs` so that it is listed exactly when it is quoted and its generator's capacity
    /// fits the market.
    fn refresh(&mut self, qs: QuoteSlot, st: &GenState, c: Collateral<'_>) {
        let (id, params) = (self.id, self.params);
        let entry = &mut self.quotes[qs as usize];
        let fits = entry.quote.is_some_and(|q| st.fits(id, &params, &q, c));
        if fits != entry.listed {
            self.index.set_listed(entry.node, fits);
            entry.listed = fits;
        }
    }
}

#[derive(Clone, Debug)]
struct GenState {
    addr: Address,
    registered: bool,
    declared: u64,
    consumed: u64,
    stake: u128,
    locked: u128,
    /// The markets it has a quote in, with the quote's slot there.
    joined: Vec<(Slot, QuoteSlot)>,
    keys: BTreeSet<MarketId>,
    /// Asks matched to it by this book, not yet mined (their reservations follow its quotes).
    pending: Vec<AskId>,
    /// Its collateral in the registry's restaking pools.
    restaked: Vec<Restaked>,
}

/// A generator's collateral in one restaking pool.
#[derive(Clone, Copy, Debug, Default)]
struct Restaked {
    pool: u8,
    /// Stake at the capture of `epoch` (counts only while that is the pool's latest epoch).
    stake: u128,
    epoch: u64,
    locked: u128,
    pending: u128,
}

/// A restaking pool of the registry (`RestakingPool`), as its rules read it.
#[derive(Clone, Copy, Debug)]
struct PoolState {
    epoch_start: u64,
    epoch_duration: u64,
    offset: u64,
    slash_window: u64,
    min_lock: u128,
    latest: u64,
}

impl PoolState {
    fn capture(&self, epoch: u64) -> u64 {
        self.epoch_start
            .saturating_add(epoch.saturating_mul(self.epoch_duration))
    }

    /// Whether the latest snapshot still applies at `now`.
    fn fresh(&self, now: u64) -> bool {
        self.latest != 0
            && now
                < self
                    .capture(self.latest.saturating_add(1))
                    .saturating_add(self.offset)
    }

    /// `RestakingPool.tryLock`'s rules for `penalty`, `min_stake` and a task due at `deadline`.
    fn check(
        &self,
        r: Option<&Restaked>,
        penalty: u128,
        min_stake: u128,
        now: u64,
        deadline: u64,
    ) -> Result<(), SkipReason> {
        if penalty < self.min_lock {
            return Err(SkipReason::PenaltyBelowMinLock);
        }
        if !self.fresh(now) {
            return Err(SkipReason::CollateralStale);
        }
        let r = r.copied().unwrap_or_default();
        let stake = if r.epoch == self.latest { r.stake } else { 0 };
        // Pending slashes count as gone, as a native slash takes its stake at once.
        if stake < min_stake.saturating_add(r.pending) {
            return Err(SkipReason::BelowMinStake);
        }
        if deadline > self.capture(self.latest).saturating_add(self.slash_window) {
            return Err(SkipReason::BeyondSlashWindow);
        }
        if r.locked.saturating_add(r.pending).saturating_add(penalty) > stake {
            return Err(SkipReason::InsufficientStake);
        }
        Ok(())
    }
}

/// What the collateral rules read besides the generator: the restaking pools and the time they are judged at.
#[derive(Clone, Copy, Debug)]
struct Collateral<'a> {
    pools: &'a [PoolState],
    now: u64,
}

impl GenState {
    /// The capacity rules of `_tryAssign` / `_reserve` / `_tryLock` that do not depend on the ask.
    fn fits(&self, market_id: MarketId, m: &Params, q: &Quote, c: Collateral<'_>) -> bool {
        self.registered
            && self
                .consumed
                .checked_add(q.compute_per_proof)
                .is_some_and(|c| c <= self.declared)
            && (!m.confidential || self.keys.contains(&market_id))
            && self.collateral(m, q, c).is_ok()
    }

    /// The registry's collateral rule: the pool that would lock the market's penalty (0: native stake, else the
    /// first restaking pool that covers it), or the reason none does — the native pool's, unless the native
    /// stake is below the minimum, then the last pool's.
    fn collateral(&self, m: &Params, q: &Quote, c: Collateral<'_>) -> Result<u8, SkipReason> {
        let native = if self.stake < m.min_stake {
            SkipReason::BelowMinStake
        } else if self
            .stake
            .checked_sub(self.locked)
            .is_some_and(|free| free >= m.slashing_penalty)
        {
            return Ok(0);
        } else {
            SkipReason::InsufficientStake
        };
        let mut reason = native;
        let deadline = c.now.saturating_add(q.max_proof_time);
        for (i, pool) in c.pools.iter().enumerate() {
            // At most MAX_COLLATERAL_POOLS (8) pools.
            let id = u8::try_from(i + 1).unwrap_or(u8::MAX);
            let r = self.restaked.iter().find(|r| r.pool == id);
            match pool.check(r, m.slashing_penalty, m.min_stake, c.now, deadline) {
                Ok(()) => return Ok(id),
                Err(r) if native == SkipReason::BelowMinStake => reason = r,
                Err(_) => {}
            }
        }
        Err(reason)
    }

    fn restaked_mut(&mut self, pool: u8) -> &mut Restaked {
        let i = match self.restaked.iter().position(|r| r.pool == pool) {
            Some(i) => i,
            None => {
                self.restaked.push(Restaked {
                    pool,
                    ..Restaked::default()
                });
                self.restaked.len() - 1
            }
        };
        &mut self.restaked[i]
    }
}

/// Compute and stake held for a task (provisional or assigned), released exactly when it ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Reservation {
    generator: GenId,
    compute: u64,
    lock: u128,
    /// The collateral pool the lock is in (0: native stake).
    pool: u8,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Status {
    Open,
    Pending {
        res: Reservation,
        max_price: u128,
        max_proof_time: u64,
    },
    Assigned {
        res: Reservation,
        price: u128,
    },
    Done,
    Closed,
    Parked(SkipReason),
}

#[derive(Clone, Debug)]
struct AskState {
    market: MarketId,
    slot: Slot,
    reward: u128,
    deadline: u64,
    preference: Preference,
    created: Seq,
    /// Queue position: its `AskCreated`, or the `TaskSlashed`/`TaskDiscarded` that last re-opened it (the chain
    /// resets the ask's `openedAt` then).
    opened: Seq,
    status: Status,
    /// Generators never matched to this ask again: those that failed it (slashed or discarded).
    excluded: Vec<GenId>,
    /// `AskRefunded` seen while assigned (it precedes `TaskSlashed`/`TaskDiscarded` in the same transaction).
    refunded: bool,
}

/// Priority of an open ask: highest reward first, then oldest `openedAt` (as a chain position), then ask id.
type OpenKey = (Reverse<u128>, Seq, AskId);

/// Open asks read from the queue at a time while matching.
const CHUNK: usize = 256;

/// The order book: markets, generators, quotes and asks, maintained from chain events, matched by the
/// contract's rules. See the crate docs for the rules and the cost of each operation.
#[derive(Clone, Debug, Default)]
pub struct Book {
    markets: Vec<MarketState>,
    market_slots: BTreeMap<MarketId, Slot>,
    gens: Vec<GenState>,
    gen_ids: HashMap<Address, GenId>,
    /// Asks that can still change (open, pending, assigned, parked).
    asks: IdMap<AskId, AskState>,
    /// Asks that reached Done or Closed (nothing changes them any more): kept for the views only, out of the
    /// way of the live ones.
    finished: IdMap<AskId, AskState>,
    /// The open asks in matching order.
    open: BTreeSet<OpenKey>,
    /// Deadlines of the asks that were open: every open ask is here (stale entries of asks that left the
    /// queue are dropped when their deadline passes).
    by_deadline: BTreeSet<(u64, AskId)>,
    last_seq: Seq,
    /// Assignments recorded so far (the last one's [`Turn`]).
    turns: Turn,
    /// The registry's restaking pools (pool id `i + 1` at index `i`).
    pools: Vec<PoolState>,
    /// The latest time matching was asked for: restaked collateral is judged at it (freshness, slash window).
    clock: u64,
    /// The pool each ask's task locked in, from its `RestakeLocked` (read by the `TaskAssigned` that follows).
    restake_locks: IdMap<AskId, u8>,
}

impl Book {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Position of the last event applied (zero before any).
    pub const fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// Applies a chain event. Events arrive in chain order (seq strictly increasing). Never panics on unknown ids
    /// or inconsistent input: what cannot apply (events for unknown asks or markets, a second registration...)
    /// is ignored.
    pub fn apply(&mut self, seq: Seq, event: &Event) {
        self.last_seq = self.last_seq.max(seq);
        match *event {
            Event::MarketCreated {
                market,
                slashing_penalty,
                min_stake,
                confidential,
            } => {
                if !self.market_slots.contains_key(&market) {
                    // 2^32 markets would exhaust memory first.
                    let slot = Slot::try_from(self.markets.len()).unwrap_or(Slot::MAX);
                    self.markets.push(MarketState {
                        id: market,
                        params: Params {
                            slashing_penalty,
                            min_stake,
                            confidential,
                        },
                        frozen: false,
                        quotes: Vec::new(),
                        quote_of: IdMap::default(),
                        index: QuoteIndex::default(),
                        quoted: 0,
                        open: 0,
                        pending: 0,
                        assigned: 0,
                    });
                    self.market_slots.insert(market, slot);
                }
            }
            Event::MarketFrozen { market, frozen } => {
                if let Some(slot) = self.slot(market) {
                    self.markets[slot as usize].frozen = frozen;
                }
            }
            Event::GeneratorRegistered {
                generator,
                declared_compute,
            } => {
                let g = self.gen_id(generator);
                let st = &mut self.gens[g as usize];
                if !st.registered {
                    st.registered = true;
                    st.declared = declared_compute;
                    self.refresh_all(g);
                }
            }
            Event::DeclaredComputeUpdated {
                generator,
                declared_compute,
            } => {
                if let Some(g) = self.registered(generator) {
                    self.gens[g as usize].declared = declared_compute;
                    self.refresh_all(g);
                }
            }
            Event::GeneratorDeregistered { generator } => {
                if let Some(g) = self.registered(generator) {
                    while let Some(&(slot, _)) = self.gens[g as usize].joined.first() {
                        self.drop_quote(g, slot);
                    }
                    let st = &mut self.gens[g as usize];
                    st.registered = false;
                    st.declared = 0;
                }
            }
            Event::QuoteSet {
                generator,
                market,
                quote,
            } => {
                if quote.max_proof_time == 0 {
                    // The registry's "not joined" (a zero proving time cannot be quoted).
                    self.leave(generator, market);
                } else if let (Some(g), Some(slot)) =
                    (self.registered(generator), self.slot(market))
                {
                    self.set_quote(g, slot, quote);
                }
            }
            Event::MarketLeft { generator, market } => self.leave(generator, market),
            Event::Staked { generator, stake } => {
                let g = self.gen_id(generator);
                self.gens[g as usize].stake = stake;
                self.refresh_all(g);
            }
            Event::UnstakeRequested { generator, amount } => {
                let g = self.gen_id(generator);
                let st = &mut self.gens[g as usize];
                st.stake = st.stake.saturating_sub(amount);
                self.refresh_all(g);
            }
            Event::UnstakeCancelled { generator, amount } => {
                let g = self.gen_id(generator);
                let st = &mut self.gens[g as usize];
                st.stake = st.stake.saturating_add(amount);
                self.refresh_all(g);
            }
            Event::GeneratorKeySet {
                generator,
                market,
                present,
            } => {
                let g = self.gen_id(generator);
                let keys = &mut self.gens[g as usize].keys;
                if present {
                    keys.insert(market);
                } else {
                    keys.remove(&market);
                }
                if let Some(slot) = self.slot(market) {
                    let c = Collateral {
                        pools: &self.pools,
                        now: self.clock,
                    };
                    let m = &mut self.markets[slot as usize];
                    if let Some(&qs) = m.quote_of.get(&g) {
                        m.refresh(qs, &self.gens[g as usize], c);
                    }
                }
            }
            Event::AskCreated {
                ask,
                market,
                reward,
                deadline,
                preference,
            } => {
                if let Some(slot) = self.slot(market)
                    && !self.asks.contains_key(&ask)
                    && !self.finished.contains_key(&ask)
                {
                    self.asks.insert(
                        ask,
                        AskState {
                            market,
                            slot,
                            reward,
                            deadline,
                            preference,
                            created: seq,
                            opened: seq,
                            status: Status::Parked(SkipReason::None),
                            excluded: Vec::new(),
                            refunded: false,
                        },
                    );
                    self.set_status(ask, Status::Open);
                }
            }
            Event::TaskAssigned {
                ask,
                generator,
                price,
                compute_per_proof,
            } => {
                self.task_assigned(seq, ask, generator, price, compute_per_proof);
            }
            Event::AssignmentSkipped {
                ask,
                generator,
                reason,
            } => self.skipped(ask, generator, reason),
            Event::TaskCompleted { ask } => {
                if let Some(AskState {
                    status: Status::Assigned { res, .. },
                    ..
                }) = self.asks.get(&ask)
                {
                    let res = *res;
                    self.set_status(ask, Status::Done);
                    self.release(res);
                }
            }
            Event::TaskFailed {
                ask,
                stake_taken,
                reopened,
            } => {
                if let Some(a) = self.asks.get_mut(&ask)
                    && let Status::Assigned { res, .. } = a.status
                {
                    if !a.excluded.contains(&res.generator) {
                        a.excluded.push(res.generator);
                    }
                    let next = if reopened && !a.refunded {
                        // The chain resets `openedAt`: the ask queues as if created now.
                        a.opened = seq;
                        Status::Open
                    } else {
                        Status::Closed
                    };
                    // A restaked task's slash is queued for the L1 (its `SlashQueued` adds it to pending).
                    if res.pool == 0 {
                        let st = &mut self.gens[res.generator as usize];
                        st.stake = st.stake.saturating_sub(stake_taken);
                    }
                    self.set_status(ask, next);
                    self.release(res);
                }
            }
            Event::CollateralPool {
                pool,
                epoch_start,
                epoch_duration,
                offset,
                slash_window,
                min_lock,
            } => {
                // Pools are numbered in the order added; an id already known is a replay.
                if usize::from(pool) == self.pools.len() + 1 {
                    self.pools.push(PoolState {
                        epoch_start,
                        epoch_duration,
                        offset,
                        slash_window,
                        min_lock,
                        latest: 0,
                    });
                }
            }
            Event::PoolEpoch { pool, epoch } => {
                if let Some(p) = self.pool_mut(pool) {
                    p.latest = p.latest.max(epoch);
                    self.refresh_restaked();
                }
            }
            Event::PoolStake {
                pool,
                generator,
                epoch,
                stake,
            } => self.restaked(generator, pool, |r| {
                r.stake = stake;
                r.epoch = epoch;
            }),
            Event::RestakeLocked { pool, ask } => {
                self.restake_locks.insert(ask, pool);
            }
            Event::PoolSlashQueued {
                pool,
                generator,
                amount,
            } => self.restaked(generator, pool, |r| {
                r.pending = r.pending.saturating_add(amount);
            }),
            Event::PoolSlashSettled {
                pool,
                generator,
                amount,
            } => self.restaked(generator, pool, |r| {
                r.pending = r.pending.saturating_sub(amount);
            }),
            Event::AskClosed { ask } => {
                let Some(a) = self.asks.get_mut(&ask) else {
                    return;
                };
                match a.status {
                    Status::Open | Status::Parked(_) => self.set_status(ask, Status::Closed),
                    Status::Pending { res, .. } => {
                        self.set_status(ask, Status::Closed);
                        self.release(res);
                    }
                    // Refunded by a slash or discard whose event follows: the task still holds its lock until then.
                    Status::Assigned { .. } => a.refunded = true,
                    Status::Done | Status::Closed => {}
                }
            }
        }
    }

    /// Matches open asks at time `now` (unix seconds: when the assignment is expected to be mined), at most
    /// `limit` matches. Asks are visited in one global priority order across markets: highest reward first,
    /// then oldest (`AskCreated` position). Asks past their deadline (`now > deadline`) leave the book first
    /// (status [`AskStatus::Parked`] with `AskExpired`). An ask no generator can meet stays open and is skipped.
    /// Matched asks become pending and their generators' compute and stake are reserved provisionally, as the
    /// contract will on assignment, so later matches do not reuse them.
    pub fn match_asks(&mut self, now: u64, limit: usize) -> Vec<Match> {
        self.advance(now);
        self.expire(now);
        let mut out = Vec::new();
        // The queue is read in chunks (matching removes only the ask being matched, so a chunk stays valid).
        let mut chunk: Vec<OpenKey> = Vec::with_capacity(CHUNK);
        let mut after: Option<OpenKey> = None;
        while out.len() < limit {
            chunk.clear();
            let rest = match after {
                None => self.open.range(..),
                Some(c) => self.open.range((Bound::Excluded(c), Bound::Unbounded)),
            };
            chunk.extend(rest.take(CHUNK));
            let Some(&last) = chunk.last() else { break };
            after = Some(last);
            for key in &chunk {
                if out.len() >= limit {
                    break;
                }
                if let Some(m) = self.try_match(key.2, now) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Re-applies a pending assignment after a restart (the service re-loads its outbox after replaying the
    /// events), checking the contract's rules at `now` in the contract's order with the signed caps. Returns
    /// the first failing rule (then nothing changes). Restoring the same match twice is a no-op.
    pub fn restore_pending(&mut self, m: &Match, now: u64) -> Result<(), SkipReason> {
        let a = self.asks.get(&m.ask).ok_or(SkipReason::AskNotOpen)?;
        match a.status {
            Status::Open => {}
            Status::Pending {
                res,
                max_price,
                max_proof_time,
            } if self.gens[res.generator as usize].addr == m.generator
                && max_price == m.max_price
                && max_proof_time == m.max_proof_time =>
            {
                return Ok(());
            }
            _ => return Err(SkipReason::AskNotOpen),
        }
        let (g, q, pool) = self.rules(a, m, now)?;
        let res = Reservation {
            generator: g,
            compute: q.compute_per_proof,
            lock: self.markets[a.slot as usize].params.slashing_penalty,
            pool,
        };
        self.set_status(
            m.ask,
            Status::Pending {
                res,
                max_price: m.max_price,
                max_proof_time: m.max_proof_time,
            },
        );
        self.reserve(res);
        Ok(())
    }

    /// The contract's rules for assignment `m` of ask `a` at `now`, in the contract's order, with the signed
    /// caps: the generator, its quote and the collateral pool that would lock the penalty, or the first failing
    /// rule.
    fn rules(&self, a: &AskState, m: &Match, now: u64) -> Result<(GenId, Quote, u8), SkipReason> {
        let slack = a.deadline.checked_sub(now).ok_or(SkipReason::AskExpired)?;
        let market = &self.markets[a.slot as usize];
        if market.frozen {
            return Err(SkipReason::MarketNotActive);
        }
        let g = self.gen_ids.get(&m.generator).copied();
        if market.params.confidential
            && !g.is_some_and(|g| self.gens[g as usize].keys.contains(&a.market))
        {
            return Err(SkipReason::NoEnclaveKey);
        }
        let g = g.ok_or(SkipReason::NotJoined)?;
        let qs = *market.quote_of.get(&g).ok_or(SkipReason::NotJoined)?;
        let q = market.quotes[qs as usize]
            .quote
            .ok_or(SkipReason::NotJoined)?;
        if q.price > a.reward.min(m.max_price) {
            return Err(SkipReason::PriceAboveReward);
        }
        if q.max_proof_time > slack.min(m.max_proof_time) {
            return Err(SkipReason::DeadlineTooSoon);
        }
        let st = &self.gens[g as usize];
        if st
            .consumed
            .checked_add(q.compute_per_proof)
            .is_none_or(|c| c > st.declared)
        {
            return Err(SkipReason::InsufficientCompute);
        }
        let c = Collateral {
            pools: &self.pools,
            now,
        };
        let pool = st.collateral(&market.params, &q, c)?;
        Ok((g, q, pool))
    }

    /// Gives up a pending assignment that will not be mined (batch expired, transaction dropped): releases the
    /// provisional reservation and opens the ask again. No-op unless the ask is pending.
    pub fn release_pending(&mut self, ask: AskId) {
        if let Some(AskState {
            status: Status::Pending { res, .. },
            ..
        }) = self.asks.get(&ask)
        {
            let res = *res;
            self.set_status(ask, Status::Open);
            self.release(res);
        }
    }

    /// Gives up a pending match the service cannot sign for its generator (for a confidential ask: no usable
    /// enclave key, or one of an image the market did not have when the ask was created): releases it, opens
    /// the ask again and keeps that generator out of the ask's matches, so the next match picks another. The
    /// exclusion is the service's, not the chain's: replaying the events forgets it, and the service refuses
    /// the generator again. No-op unless the ask is pending.
    pub fn exclude_pending(&mut self, ask: AskId) {
        let Some(AskState {
            status: Status::Pending { res, .. },
            ..
        }) = self.asks.get(&ask)
        else {
            return;
        };
        let generator = res.generator;
        self.release_pending(ask);
        if let Some(a) = self.asks.get_mut(&ask)
            && !a.excluded.contains(&generator)
        {
            a.excluded.push(generator);
        }
    }

    /// Takes an open or pending ask out of matching: the service cannot hand it to any generator (a
    /// confidential ask whose sealed inputs are the requester's mistake). It stays parked until its chain
    /// events move it (a refund closes it); replaying the events opens it again, and the service withdraws it
    /// again. No-op for an ask in any other state.
    pub fn withdraw(&mut self, ask: AskId) {
        let pending = match self.asks.get(&ask).map(|a| a.status.clone()) {
            Some(Status::Open) => None,
            Some(Status::Pending { res, .. }) => Some(res),
            _ => return,
        };
        self.set_status(ask, Status::Parked(SkipReason::None));
        if let Some(res) = pending {
            self.release(res);
        }
    }

    /// The match [`Book::match_asks`] would make for open ask `ask` at `now` if it came first in the queue:
    /// the preference's pick among the generators eligible now (None when nobody is, or the ask is not open).
    /// Changes nothing (it takes `&mut` only to hide the ask's excluded generators during the query). With
    /// [`Book::restore_pending`] and [`Book::release_pending`] it replays a batch item by item (audits).
    pub fn choose(&mut self, ask: AskId, now: u64) -> Option<Match> {
        if self.asks.get(&ask)?.status != Status::Open {
            return None;
        }
        let (slot, qs) = self.pick(ask, now)?;
        self.match_of(ask, slot, qs).map(|(m, _)| m)
    }

    /// Whether `generator` may be assigned open ask `ask` at `now` by the book's rules (the contract's, in the
    /// contract's order, then the book's exclusion of generators that failed the ask): its quote, or the first
    /// failing rule (`SkipReason::None` for an excluded generator).
    pub fn eligibility(
        &self,
        ask: AskId,
        generator: Address,
        now: u64,
    ) -> Result<Quote, SkipReason> {
        let a = self.asks.get(&ask).ok_or(SkipReason::AskNotOpen)?;
        if a.status != Status::Open {
            return Err(SkipReason::AskNotOpen);
        }
        let m = Match {
            ask,
            market: a.market,
            generator,
            max_price: u128::MAX,
            max_proof_time: u64::MAX,
        };
        let (g, q, _) = self.rules(a, &m, now)?;
        if a.excluded.contains(&g) {
            return Err(SkipReason::None);
        }
        Ok(q)
    }

    /// An ask (finished ones until [`Book::forget_finished`]).
    pub fn ask(&self, ask: AskId) -> Option<AskView> {
        let a = self.asks.get(&ask).or_else(|| self.finished.get(&ask))?;
        let addr = |g: GenId| self.gens[g as usize].addr;
        let status = match a.status {
            Status::Open => AskStatus::Open,
            Status::Pending { res, .. } => AskStatus::Pending {
                generator: addr(res.generator),
            },
            Status::Assigned { res, price } => AskStatus::Assigned {
                generator: addr(res.generator),
                price,
            },
            Status::Done => AskStatus::Done,
            Status::Closed => AskStatus::Closed,
            Status::Parked(reason) => AskStatus::Parked { reason },
        };
        Some(AskView {
            ask,
            market: a.market,
            reward: a.reward,
            deadline: a.deadline,
            preference: a.preference,
            status,
            created: a.created,
            opened: a.opened,
            excluded: a.excluded.iter().map(|&g| addr(g)).collect(),
        })
    }

    /// Forgets finished (done or closed) asks, which the book keeps only for [`Book::ask`]: a long-running
    /// service calls this now and then to bound its memory (about 100 bytes per finished ask). Changes no
    /// matching.
    pub fn forget_finished(&mut self) {
        self.finished = IdMap::default();
    }

    /// A market.
    pub fn market(&self, market: MarketId) -> Option<MarketView> {
        let m = &self.markets[self.slot(market)? as usize];
        Some(MarketView {
            market,
            slashing_penalty: m.params.slashing_penalty,
            min_stake: m.params.min_stake,
            confidential: m.params.confidential,
            frozen: m.frozen,
            open_asks: m.open,
            pending_asks: m.pending,
            assigned_asks: m.assigned,
            quotes: m.quoted,
            listed: if m.frozen { 0 } else { m.index.listed() },
        })
    }

    /// All markets, by id.
    pub fn markets(&self) -> Vec<MarketView> {
        self.market_slots
            .keys()
            .filter_map(|&m| self.market(m))
            .collect()
    }

    /// The quotes of a market, cheapest first (then fastest, least recently assigned, address).
    pub fn quotes(&self, market: MarketId) -> Vec<QuoteView> {
        let Some(slot) = self.slot(market) else {
            return Vec::new();
        };
        let m = &self.markets[slot as usize];
        let mut quotes: Vec<(QuoteKey, QuoteView)> = m
            .quotes
            .iter()
            .filter_map(|e| {
                let quote = e.quote?;
                let generator = self.gens[e.generator as usize].addr;
                Some((
                    quote_key(&quote, e.last, generator),
                    QuoteView {
                        generator,
                        quote,
                        listed: e.listed && !m.frozen,
                        last_assigned: e.last_seq,
                    },
                ))
            })
            .collect();
        quotes.sort_unstable_by_key(|a| a.0);
        quotes.into_iter().map(|(_, v)| v).collect()
    }

    /// A generator (known from registration, stake, keys or assignments).
    pub fn generator(&self, generator: Address) -> Option<GeneratorView> {
        let g = &self.gens[*self.gen_ids.get(&generator)? as usize];
        let mut markets: Vec<MarketId> = g
            .joined
            .iter()
            .map(|&(slot, _)| self.markets[slot as usize].id)
            .collect();
        markets.sort_unstable();
        Some(GeneratorView {
            generator,
            registered: g.registered,
            declared_compute: g.declared,
            consumed_compute: g.consumed,
            stake: g.stake,
            locked: g.locked,
            markets,
            enclave_keys: g.keys.iter().copied().collect(),
        })
    }

    /// All known generators, by address.
    pub fn generators(&self) -> Vec<GeneratorView> {
        let mut addrs: Vec<Address> = self.gens.iter().map(|g| g.addr).collect();
        addrs.sort_unstable();
        addrs
            .into_iter()
            .filter_map(|a| self.generator(a))
            .collect()
    }

    /// Number of open (offered) asks, in one market or in all.
    pub fn open_asks(&self, market: Option<MarketId>) -> usize {
        match market {
            None => self.open.len(),
            Some(m) => self
                .slot(m)
                .map_or(0, |slot| self.markets[slot as usize].open),
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    fn slot(&self, market: MarketId) -> Option<Slot> {
        self.market_slots.get(&market).copied()
    }

    fn gen_id(&mut self, addr: Address) -> GenId {
        if let Some(&g) = self.gen_ids.get(&addr) {
            return g;
        }
        // Generators are never removed from the arena; 2^32 of them would exhaust memory first.
        let g = GenId::try_from(self.gens.len()).unwrap_or(GenId::MAX);
        self.gens.push(GenState {
            addr,
            registered: false,
            declared: 0,
            consumed: 0,
            stake: 0,
            locked: 0,
            joined: Vec::new(),
            keys: BTreeSet::new(),
            pending: Vec::new(),
            restaked: Vec::new(),
        });
        self.gen_ids.insert(addr, g);
        g
    }

    fn registered(&self, addr: Address) -> Option<GenId> {
        self.gen_ids
            .get(&addr)
            .copied()
            .filter(|&g| self.gens[g as usize].registered)
    }

    /// Re-evaluates the listing of `g` in every market it joined (after its compute or stake changed).
    fn refresh_all(&mut self, g: GenId) {
        let st = &self.gens[g as usize];
        let c = Collateral {
            pools: &self.pools,
            now: self.clock,
        };
        for &(slot, qs) in &st.joined {
            self.markets[slot as usize].refresh(qs, st, c);
        }
    }

    /// Re-evaluates every generator with restaked collateral: whether a pool covers it depends on time (the
    /// snapshot goes stale, the slash window closes on a quote's proving time). O(such generators × markets
    /// joined), once per call of [`Book::match_asks`] that moves the clock.
    fn refresh_restaked(&mut self) {
        if self.pools.is_empty() {
            return;
        }
        for g in 0..self.gens.len() {
            if !self.gens[g].restaked.is_empty() {
                // Fewer than 2^32 generators (GenId).
                self.refresh_all(GenId::try_from(g).unwrap_or(GenId::MAX));
            }
        }
    }

    /// Updates `generator`'s collateral in `pool` and re-lists it.
    fn restaked(&mut self, generator: Address, pool: u8, update: impl FnOnce(&mut Restaked)) {
        let g = self.gen_id(generator);
        update(self.gens[g as usize].restaked_mut(pool));
        self.refresh_all(g);
    }

    fn pool_mut(&mut self, pool: u8) -> Option<&mut PoolState> {
        self.pools.get_mut(usize::from(pool).checked_sub(1)?)
    }

    /// Moves the clock restaked collateral is judged at (never backwards).
    fn advance(&mut self, now: u64) {
        if now > self.clock {
            self.clock = now;
            self.refresh_restaked();
        }
    }

    fn set_quote(&mut self, g: GenId, slot: Slot, quote: Quote) {
        let m = &mut self.markets[slot as usize];
        let qs = m.entry(g);
        let st = &mut self.gens[g as usize];
        let entry = &mut m.quotes[qs as usize];
        let key = quote_key(&quote, entry.last, st.addr);
        if entry.quote.is_none() {
            m.quoted += 1;
            st.joined.push((slot, qs));
            entry.node = m.index.insert(key, qs, false);
            entry.listed = false;
        } else {
            m.index.rekey(entry.node, key);
        }
        entry.quote = Some(quote);
        let c = Collateral {
            pools: &self.pools,
            now: self.clock,
        };
        m.refresh(qs, st, c);
        if !st.pending.is_empty() {
            self.follow_quote(g, slot, quote.compute_per_proof);
        }
    }

    /// A pending match of `g` in the market in `slot` reserves what the chain will reserve when it is mined: the
    /// compute of the quote in force. Keeping it so makes the reservation a function of the chain state and the
    /// match alone, as [`Book::restore_pending`] computes it after a restart.
    fn follow_quote(&mut self, g: GenId, slot: Slot, compute: u64) {
        let mut changed = false;
        for i in 0..self.gens[g as usize].pending.len() {
            let ask = self.gens[g as usize].pending[i];
            if let Some(a) = self.asks.get_mut(&ask)
                && a.slot == slot
                && let Status::Pending { res, .. } = &mut a.status
                && res.compute != compute
            {
                let st = &mut self.gens[g as usize];
                st.consumed = st
                    .consumed
                    .saturating_sub(res.compute)
                    .saturating_add(compute);
                res.compute = compute;
                changed = true;
            }
        }
        if changed {
            self.refresh_all(g);
        }
    }

    fn leave(&mut self, addr: Address, market: MarketId) {
        if let (Some(&g), Some(slot)) = (self.gen_ids.get(&addr), self.slot(market)) {
            self.drop_quote(g, slot);
        }
    }

    /// Removes `g`'s quote from the market in `slot` (delisting it), keeping its last assignment.
    fn drop_quote(&mut self, g: GenId, slot: Slot) {
        let st = &mut self.gens[g as usize];
        let Some(i) = st.joined.iter().position(|&(s, _)| s == slot) else {
            return;
        };
        let (_, qs) = st.joined.swap_remove(i);
        let m = &mut self.markets[slot as usize];
        let entry = &mut m.quotes[qs as usize];
        m.index.remove(entry.node);
        (entry.quote, entry.node, entry.listed) = (None, NIL, false);
        m.quoted -= 1;
    }

    /// Records an assignment of quote `qs` of the market in `slot` (now the most recent one), seen at `seq`,
    /// re-keying its index entry.
    fn touch(&mut self, slot: Slot, qs: QuoteSlot, seq: Seq) {
        self.turns += 1;
        let last = self.turns;
        let m = &mut self.markets[slot as usize];
        let entry = &mut m.quotes[qs as usize];
        if let Some(q) = entry.quote {
            let addr = self.gens[entry.generator as usize].addr;
            m.index.rekey(entry.node, quote_key(&q, last, addr));
        }
        entry.last = last;
        entry.last_seq = Some(seq);
    }

    fn reserve(&mut self, res: Reservation) {
        let st = &mut self.gens[res.generator as usize];
        st.consumed = st.consumed.saturating_add(res.compute);
        if res.pool == 0 {
            st.locked = st.locked.saturating_add(res.lock);
        } else {
            let r = st.restaked_mut(res.pool);
            r.locked = r.locked.saturating_add(res.lock);
        }
        self.refresh_all(res.generator);
    }

    fn release(&mut self, res: Reservation) {
        let st = &mut self.gens[res.generator as usize];
        st.consumed = st.consumed.saturating_sub(res.compute);
        if res.pool == 0 {
            st.locked = st.locked.saturating_sub(res.lock);
        } else {
            let r = st.restaked_mut(res.pool);
            r.locked = r.locked.saturating_sub(res.lock);
        }
        self.refresh_all(res.generator);
    }

    /// Moves an ask to `status`, keeping the open queue, the market's counters and the finished map in step.
    fn set_status(&mut self, ask: AskId, status: Status) {
        let Some(a) = self.asks.get_mut(&ask) else {
            return;
        };
        let old = std::mem::replace(&mut a.status, status);
        let m = &mut self.markets[a.slot as usize];
        let open_key = (Reverse(a.reward), a.opened, ask);
        match old {
            Status::Open => {
                self.open.remove(&open_key);
                m.open -= 1;
            }
            Status::Pending { res, .. } => {
                m.pending -= 1;
                let pending = &mut self.gens[res.generator as usize].pending;
                if let Some(i) = pending.iter().position(|&x| x == ask) {
                    pending.swap_remove(i);
                }
            }
            Status::Assigned { .. } => m.assigned -= 1,
            Status::Done | Status::Closed | Status::Parked(_) => {}
        }
        match a.status {
            Status::Open => {
                self.open.insert(open_key);
                self.by_deadline.insert((a.deadline, ask));
                m.open += 1;
            }
            Status::Pending { res, .. } => {
                m.pending += 1;
                self.gens[res.generator as usize].pending.push(ask);
            }
            Status::Assigned { .. } => m.assigned += 1,
            Status::Parked(_) => {}
            Status::Done | Status::Closed => {
                if let Some(a) = self.asks.remove(&ask) {
                    self.finished.insert(ask, a);
                }
            }
        }
    }

    /// Drops open asks past their deadline at `now` from the book.
    fn expire(&mut self, now: u64) {
        while let Some(&(deadline, ask)) = self.by_deadline.first()
            && deadline < now
        {
            self.by_deadline.pop_first();
            if self
                .asks
                .get(&ask)
                .is_some_and(|a| a.status == Status::Open)
            {
                self.set_status(ask, Status::Parked(SkipReason::AskExpired));
            }
        }
    }

    /// The quote slot the preference picks for ask `ask` at `now` among the eligible generators (nothing
    /// changes; the ask's status is not checked).
    fn pick(&mut self, ask: AskId, now: u64) -> Option<(Slot, QuoteSlot)> {
        let a = self.asks.get(&ask)?;
        let slot = a.slot;
        let m = &mut self.markets[slot as usize];
        if m.frozen {
            return None;
        }
        // `now + time <= deadline`, without overflow.
        let slack = a.deadline.checked_sub(now)?;
        let qs = if a.excluded.is_empty() {
            best(&m.index, a.preference, a.reward, slack)?
        } else {
            // Rare (generators failed the ask before): its excluded generators are delisted for the query.
            let out: Vec<u32> = a
                .excluded
                .iter()
                .filter_map(|g| {
                    let e = &m.quotes[*m.quote_of.get(g)? as usize];
                    e.listed.then_some(e.node)
                })
                .collect();
            for &node in &out {
                m.index.set_listed(node, false);
            }
            let found = best(&m.index, a.preference, a.reward, slack);
            for &node in &out {
                m.index.set_listed(node, true);
            }
            found?
        };
        Some((slot, qs))
    }

    /// The match `pick` found, as signed.
    fn match_of(&self, ask: AskId, slot: Slot, qs: QuoteSlot) -> Option<(Match, Reservation)> {
        let m = &self.markets[slot as usize];
        let entry = &m.quotes[qs as usize];
        let q = entry.quote?;
        let g = entry.generator;
        let c = Collateral {
            pools: &self.pools,
            now: self.clock,
        };
        let pool = self.gens[g as usize].collateral(&m.params, &q, c).ok()?;
        let res = Reservation {
            generator: g,
            compute: q.compute_per_proof,
            lock: m.params.slashing_penalty,
            pool,
        };
        let found = Match {
            ask,
            market: m.id,
            generator: self.gens[g as usize].addr,
            max_price: q.price,
            max_proof_time: q.max_proof_time,
        };
        Some((found, res))
    }

    /// Matches one open ask if a generator can meet it.
    fn try_match(&mut self, ask: AskId, now: u64) -> Option<Match> {
        let (slot, qs) = self.pick(ask, now)?;
        let (found, res) = self.match_of(ask, slot, qs)?;
        self.set_status(
            ask,
            Status::Pending {
                res,
                max_price: found.max_price,
                max_proof_time: found.max_proof_time,
            },
        );
        self.reserve(res);
        Some(found)
    }

    fn task_assigned(&mut self, seq: Seq, ask: AskId, addr: Address, price: u128, compute: u64) {
        let Some(a) = self.asks.get(&ask) else { return };
        let slot = a.slot;
        let lock = self.markets[slot as usize].params.slashing_penalty;
        let previous = match a.status {
            Status::Open | Status::Parked(_) => None,
            Status::Pending { res, .. } => Some(res),
            Status::Assigned { .. } | Status::Done | Status::Closed => return,
        };
        let g = self.gen_id(addr);
        let res = Reservation {
            generator: g,
            compute,
            lock,
            pool: self.restake_locks.remove(&ask).unwrap_or(0),
        };
        self.set_status(ask, Status::Assigned { res, price });
        match previous {
            // Our own assignment mined: the provisional reservation becomes the real one.
            Some(p) if p == res => {}
            Some(p) => {
                // Another assignment (fallback, other signer) won the race, or the terms changed.
                self.release(p);
                self.reserve(res);
            }
            None => self.reserve(res),
        }
        let qs = self.markets[slot as usize].entry(g);
        self.touch(slot, qs, seq);
    }

    /// `AssignmentSkipped`. For the pending assignment it names, the reservation is released. Whoever signed it,
    /// the chain's verdict is recorded on an open or pending ask the same way (so replaying the events after a
    /// restart rebuilds the same book): `AskNotOpen` and `AskExpired` park the ask (unless a different pending
    /// assignment of ours is in flight); any other reason leaves it open. A skip excludes nobody: its cause (a
    /// batch mined late, a compute race, a changed quote, a frozen market) is in the chain state the book
    /// tracks, so the generator is matched again exactly when that state allows it.
    fn skipped(&mut self, ask: AskId, addr: Address, reason: SkipReason) {
        let Some(a) = self.asks.get(&ask) else {
            return;
        };
        let ours = match a.status {
            Status::Open => None,
            Status::Pending { res, .. } if self.gens[res.generator as usize].addr == addr => {
                Some(res)
            }
            // Another assignment of this ask (not ours) was skipped: ours is still in flight.
            Status::Pending { .. } => return,
            Status::Assigned { .. } | Status::Done | Status::Closed | Status::Parked(_) => return,
        };
        let next = if generator_side(reason) || reason == SkipReason::MarketNotActive {
            // A frozen market (its `MarketFrozen` event came first) leaves the ask unmatched until unfrozen.
            Status::Open
        } else {
            Status::Parked(reason)
        };
        self.set_status(ask, next);
        if let Some(res) = ours {
            self.release(res);
        }
    }
}

/// Whether a skip reason is about the generator (its quote, capacity or key) rather than the ask or market.
const fn generator_side(reason: SkipReason) -> bool {
    !matches!(
        reason,
        SkipReason::AskNotOpen | SkipReason::AskExpired | SkipReason::MarketNotActive
    )
}

/// The quote the preference picks among the listed quotes of a market with `price <= reward` and
/// `time <= slack`.
fn best(index: &QuoteIndex, preference: Preference, reward: u128, slack: u64) -> Option<QuoteSlot> {
    match preference {
        Preference::Cost => index.cheapest(reward, slack),
        Preference::Time => index.fastest(reward, slack),
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
impl Book {
    /// Checks every internal invariant against a recomputation from scratch (tests).
    fn check(&self) {
        let mut counts: BTreeMap<Slot, (usize, usize, usize)> = BTreeMap::new();
        let mut held: HashMap<GenId, (u64, u128)> = HashMap::new();
        let mut held_in_pools: HashMap<(GenId, u8), u128> = HashMap::new();
        let mut open = BTreeSet::new();
        for (&id, a) in &self.asks {
            assert_eq!(self.markets[a.slot as usize].id, a.market);
            let c = counts.entry(a.slot).or_default();
            let res = match a.status {
                Status::Open => {
                    c.0 += 1;
                    open.insert((Reverse(a.reward), a.opened, id));
                    assert!(self.by_deadline.contains(&(a.deadline, id)));
                    None
                }
                Status::Pending { res, .. } => {
                    c.1 += 1;
                    assert!(self.gens[res.generator as usize].pending.contains(&id));
                    Some(res)
                }
                Status::Assigned { res, .. } => {
                    c.2 += 1;
                    Some(res)
                }
                Status::Parked(_) => None,
                Status::Done | Status::Closed => panic!("finished ask {id} among the live ones"),
            };
            if let Some(res) = res {
                let h = held.entry(res.generator).or_default();
                h.0 += res.compute;
                if res.pool == 0 {
                    h.1 += res.lock;
                } else {
                    *held_in_pools.entry((res.generator, res.pool)).or_default() += res.lock;
                }
            }
        }
        for a in self.finished.values() {
            assert!(matches!(a.status, Status::Done | Status::Closed));
        }
        assert_eq!(open, self.open);
        for (g, st) in self.gens.iter().enumerate() {
            let (compute, lock) = held.get(&(g as GenId)).copied().unwrap_or_default();
            assert_eq!(
                (st.consumed, st.locked),
                (compute, lock),
                "reservations of {}",
                st.addr
            );
            for r in &st.restaked {
                assert_eq!(
                    r.locked,
                    held_in_pools
                        .get(&(g as GenId, r.pool))
                        .copied()
                        .unwrap_or_default(),
                    "restaked reservations of {} in pool {}",
                    st.addr,
                    r.pool
                );
            }
            assert_eq!(self.gen_ids[&st.addr], g as GenId);
            for &(slot, qs) in &st.joined {
                let e = &self.markets[slot as usize].quotes[qs as usize];
                assert!(e.generator == g as GenId && e.quote.is_some());
            }
            for ask in &st.pending {
                assert!(
                    matches!(self.asks[ask].status, Status::Pending { res, .. } if res.generator == g as GenId)
                );
            }
        }
        assert_eq!(self.market_slots.len(), self.markets.len());
        for (&id, &slot) in &self.market_slots {
            let m = &self.markets[slot as usize];
            assert_eq!(m.id, id);
            let c = counts.get(&slot).copied().unwrap_or_default();
            assert_eq!(
                (m.open, m.pending, m.assigned),
                c,
                "counters of market {id}"
            );
            let mut quoted = 0;
            let mut nodes = Vec::new();
            for (qs, e) in m.quotes.iter().enumerate() {
                assert_eq!(m.quote_of[&e.generator], qs as QuoteSlot);
                let st = &self.gens[e.generator as usize];
                let joined = st.joined.contains(&(slot, qs as QuoteSlot));
                match e.quote {
                    Some(q) => {
                        quoted += 1;
                        assert!(joined);
                        assert_eq!(
                            e.listed,
                            st.fits(
                                id,
                                &m.params,
                                &q,
                                Collateral {
                                    pools: &self.pools,
                                    now: self.clock
                                }
                            ),
                            "listing of {} in {id}",
                            st.addr
                        );
                        assert_eq!(m.index.is_listed(e.node), e.listed);
                        nodes.push((quote_key(&q, e.last, st.addr), qs as QuoteSlot, e.listed));
                    }
                    None => assert!(!e.listed && !joined && e.node == NIL),
                }
            }
            assert_eq!(m.quoted, quoted);
            nodes.sort();
            assert_eq!(m.index.in_order(), nodes);
            m.index.check();
        }
    }
}
