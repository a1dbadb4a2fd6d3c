//! A brute-force reference book: the same event semantics and rules as `Book`, with plain maps and full scans
//! (every match looks at every quote of the market).

use alloy::primitives::Address;
use kalypso_matching::{AskId, AskStatus, Event, GeneratorView, MarketId, Match, Quote, Seq};
use kalypso_primitives::{Preference, SkipReason};
use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
};

#[derive(Clone, Copy, Debug)]
pub(crate) struct Market {
    pub(crate) penalty: u128,
    pub(crate) min_stake: u128,
    pub(crate) confidential: bool,
    pub(crate) frozen: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Gen {
    pub(crate) registered: bool,
    pub(crate) declared: u64,
    pub(crate) consumed: u64,
    pub(crate) stake: u128,
    pub(crate) locked: u128,
    pub(crate) keys: BTreeSet<MarketId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Hold {
    pub(crate) generator: Address,
    pub(crate) compute: u64,
    pub(crate) lock: u128,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    Pending(Hold, u128, u64),
    Assigned(Hold, u128),
    Done,
    Closed,
    Parked(SkipReason),
}

#[derive(Clone, Debug)]
pub(crate) struct Ask {
    pub(crate) market: MarketId,
    pub(crate) reward: u128,
    pub(crate) deadline: u64,
    pub(crate) preference: Preference,
    pub(crate) created: Seq,
    /// Queue position: `AskCreated`, or the failure that last re-opened it.
    pub(crate) opened: Seq,
    pub(crate) state: State,
    pub(crate) excluded: Vec<Address>,
    pub(crate) refunded: bool,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    pub(crate) markets: BTreeMap<MarketId, Market>,
    pub(crate) gens: BTreeMap<Address, Gen>,
    pub(crate) quotes: BTreeMap<(MarketId, Address), Quote>,
    /// Position of the last `TaskAssigned` per market and generator (provisional matches never count).
    pub(crate) last: BTreeMap<(MarketId, Address), Seq>,
    pub(crate) asks: BTreeMap<AskId, Ask>,
}

const fn generator_side(reason: SkipReason) -> bool {
    !matches!(
        reason,
        SkipReason::AskNotOpen | SkipReason::AskExpired | SkipReason::MarketNotActive
    )
}

impl Model {
    pub(crate) fn apply(&mut self, seq: Seq, event: &Event) {
        match *event {
            Event::MarketCreated {
                market,
                slashing_penalty,
                min_stake,
                confidential,
            } => {
                self.markets.entry(market).or_insert(Market {
                    penalty: slashing_penalty,
                    min_stake,
                    confidential,
                    frozen: false,
                });
            }
            Event::MarketFrozen { market, frozen } => {
                if let Some(m) = self.markets.get_mut(&market) {
                    m.frozen = frozen;
                }
            }
            Event::GeneratorRegistered {
                generator,
                declared_compute,
            } => {
                let g = self.gens.entry(generator).or_default();
                if !g.registered {
                    g.registered = true;
                    g.declared = declared_compute;
                }
            }
            Event::DeclaredComputeUpdated {
                generator,
                declared_compute,
            } => {
                if let Some(g) = self.gens.get_mut(&generator).filter(|g| g.registered) {
                    g.declared = declared_compute;
                }
            }
            Event::GeneratorDeregistered { generator } => {
                if let Some(g) = self.gens.get_mut(&generator).filter(|g| g.registered) {
                    g.registered = false;
                    g.declared = 0;
                    self.quotes.retain(|(_, a), _| *a != generator);
                }
            }
            Event::QuoteSet {
                generator,
                market,
                quote,
            } => {
                if quote.max_proof_time == 0 {
                    self.quotes.remove(&(market, generator));
                } else if self.gens.get(&generator).is_some_and(|g| g.registered)
                    && self.markets.contains_key(&market)
                {
                    self.quotes.insert((market, generator), quote);
                    // Pending matches reserve what the chain will: the compute of the quote in force.
                    let mut delta: Vec<(u64, u64)> = Vec::new();
                    for a in self.asks.values_mut() {
                        if a.market == market
                            && let State::Pending(h, _, _) = &mut a.state
                            && h.generator == generator
                        {
                            delta.push((h.compute, quote.compute_per_proof));
                            h.compute = quote.compute_per_proof;
                        }
                    }
                    let g = self.gens.entry(generator).or_default();
                    for (old, new) in delta {
                        g.consumed = g.consumed.saturating_sub(old).saturating_add(new);
                    }
                }
            }
            Event::MarketLeft { generator, market } => {
                self.quotes.remove(&(market, generator));
            }
            Event::Staked { generator, stake } => {
                self.gens.entry(generator).or_default().stake = stake
            }
            Event::UnstakeRequested { generator, amount } => {
                let g = self.gens.entry(generator).or_default();
                g.stake = g.stake.saturating_sub(amount);
            }
            Event::UnstakeCancelled { generator, amount } => {
                let g = self.gens.entry(generator).or_default();
                g.stake = g.stake.saturating_add(amount);
            }
            Event::GeneratorKeySet {
                generator,
                market,
                present,
            } => {
                let g = self.gens.entry(generator).or_default();
                if present {
                    g.keys.insert(market);
                } else {
                    g.keys.remove(&market);
                }
            }
            Event::AskCreated {
                ask,
                market,
                reward,
                deadline,
                preference,
            } => {
                if self.markets.contains_key(&market) && !self.asks.contains_key(&ask) {
                    self.asks.insert(
                        ask,
                        Ask {
                            market,
                            reward,
                            deadline,
                            preference,
                            created: seq,
                            opened: seq,
                            state: State::Open,
                            excluded: Vec::new(),
                            refunded: false,
                        },
                    );
                }
            }
            Event::TaskAssigned {
                ask,
                generator,
                price,
                compute_per_proof,
            } => {
                let Some(a) = self.asks.get(&ask) else { return };
                let Some(m) = self.markets.get(&a.market) else {
                    return;
                };
                let hold = Hold {
                    generator,
                    compute: compute_per_proof,
                    lock: m.penalty,
                };
                let market = a.market;
                match a.state {
                    State::Open | State::Parked(_) => {}
                    State::Pending(p, _, _) => self.release(p),
                    _ => return,
                }
                self.hold(hold);
                self.set_state(ask, State::Assigned(hold, price));
                self.last.insert((market, generator), seq);
            }
            Event::AssignmentSkipped {
                ask,
                generator,
                reason,
            } => {
                // A skip excludes nobody: eligibility is re-derived from the chain state.
                let Some(a) = self.asks.get_mut(&ask) else {
                    return;
                };
                let ours = match a.state {
                    State::Open => None,
                    State::Pending(h, _, _) if h.generator == generator => Some(h),
                    _ => return,
                };
                let next = if generator_side(reason) || reason == SkipReason::MarketNotActive {
                    State::Open
                } else {
                    State::Parked(reason)
                };
                a.state = next;
                if let Some(h) = ours {
                    self.release(h);
                }
            }
            Event::TaskCompleted { ask } => {
                if let Some(State::Assigned(h, _)) = self.asks.get(&ask).map(|a| a.state) {
                    self.release(h);
                    self.set_state(ask, State::Done);
                }
            }
            Event::TaskFailed {
                ask,
                stake_taken,
                reopened,
            } => {
                let Some(a) = self.asks.get_mut(&ask) else {
                    return;
                };
                let State::Assigned(h, _) = a.state else {
                    return;
                };
                if !a.excluded.contains(&h.generator) {
                    a.excluded.push(h.generator);
                }
                a.state = if reopened && !a.refunded {
                    a.opened = seq;
                    State::Open
                } else {
                    State::Closed
                };
                let g = self.gens.entry(h.generator).or_default();
                g.stake = g.stake.saturating_sub(stake_taken);
                self.release(h);
            }
            // The model has no restaked collateral: its generators stake natively, and the generated histories
            // hold no pool events (restaked collateral is covered by the book's unit tests).
            Event::CollateralPool { .. }
            | Event::PoolEpoch { .. }
            | Event::PoolStake { .. }
            | Event::RestakeLocked { .. }
            | Event::PoolSlashQueued { .. }
            | Event::PoolSlashSettled { .. } => {}
            Event::AskClosed { ask } => {
                let Some(a) = self.asks.get_mut(&ask) else {
                    return;
                };
                match a.state {
                    State::Open | State::Parked(_) => a.state = State::Closed,
                    State::Pending(h, _, _) => {
                        a.state = State::Closed;
                        self.release(h);
                    }
                    State::Assigned(..) => a.refunded = true,
                    State::Done | State::Closed => {}
                }
            }
        }
    }

    fn set_state(&mut self, ask: AskId, state: State) {
        if let Some(a) = self.asks.get_mut(&ask) {
            a.state = state;
        }
    }

    fn hold(&mut self, h: Hold) {
        let g = self.gens.entry(h.generator).or_default();
        g.consumed = g.consumed.saturating_add(h.compute);
        g.locked = g.locked.saturating_add(h.lock);
    }

    fn release(&mut self, h: Hold) {
        let g = self.gens.entry(h.generator).or_default();
        g.consumed = g.consumed.saturating_sub(h.compute);
        g.locked = g.locked.saturating_sub(h.lock);
    }

    /// The contract's rules for generator `g` on `ask` at `now` (plus the book's exclusions).
    pub(crate) fn eligible(&self, g: Address, ask: &Ask, now: u64) -> Option<Quote> {
        let m = self.markets.get(&ask.market)?;
        let st = self.gens.get(&g)?;
        let q = *self.quotes.get(&(ask.market, g))?;
        let fits = !m.frozen
            && st.registered
            && q.price <= ask.reward
            && u128::from(now) + u128::from(q.max_proof_time) <= u128::from(ask.deadline)
            && u128::from(st.consumed) + u128::from(q.compute_per_proof) <= u128::from(st.declared)
            && st.stake >= m.min_stake
            && st.stake >= st.locked
            && st.stake - st.locked >= m.penalty
            && (!m.confidential || st.keys.contains(&ask.market))
            && !ask.excluded.contains(&g);
        fits.then_some(q)
    }

    /// Expires, then scans every open ask in priority order and every quote of its market.
    pub(crate) fn match_asks(&mut self, now: u64, limit: usize) -> Vec<Match> {
        for a in self.asks.values_mut() {
            if a.state == State::Open && a.deadline < now {
                a.state = State::Parked(SkipReason::AskExpired);
            }
        }
        let mut order: Vec<(Reverse<u128>, Seq, AskId)> = self
            .asks
            .iter()
            .filter(|(_, a)| a.state == State::Open)
            .map(|(&id, a)| (Reverse(a.reward), a.opened, id))
            .collect();
        order.sort();
        let mut out = Vec::new();
        for (_, _, id) in order {
            if out.len() >= limit {
                break;
            }
            let a = self.asks[&id].clone();
            let best = self
                .quotes
                .keys()
                .filter(|(m, _)| *m == a.market)
                .filter_map(|&(m, g)| {
                    let q = self.eligible(g, &a, now)?;
                    let last = self.last.get(&(m, g)).copied();
                    let key = match a.preference {
                        Preference::Cost => (q.price, u128::from(q.max_proof_time), last, g),
                        Preference::Time => (u128::from(q.max_proof_time), q.price, last, g),
                    };
                    Some((key, q))
                })
                .min_by_key(|(key, _)| *key);
            let Some(((_, _, _, g), q)) = best else {
                continue;
            };
            let m = self.markets[&a.market];
            let hold = Hold {
                generator: g,
                compute: q.compute_per_proof,
                lock: m.penalty,
            };
            self.hold(hold);
            self.set_state(id, State::Pending(hold, q.price, q.max_proof_time));
            out.push(Match {
                ask: id,
                market: a.market,
                generator: g,
                max_price: q.price,
                max_proof_time: q.max_proof_time,
            });
        }
        out
    }

    pub(crate) fn restore_pending(&mut self, m: &Match, now: u64) -> Result<(), SkipReason> {
        let a = self.asks.get(&m.ask).ok_or(SkipReason::AskNotOpen)?.clone();
        match a.state {
            State::Open => {}
            State::Pending(h, p, t)
                if h.generator == m.generator && p == m.max_price && t == m.max_proof_time =>
            {
                return Ok(());
            }
            _ => return Err(SkipReason::AskNotOpen),
        }
        if now > a.deadline {
            return Err(SkipReason::AskExpired);
        }
        let market = *self
            .markets
            .get(&a.market)
            .ok_or(SkipReason::MarketNotActive)?;
        if market.frozen {
            return Err(SkipReason::MarketNotActive);
        }
        let st = self.gens.get(&m.generator).cloned().unwrap_or_default();
        if market.confidential && !st.keys.contains(&a.market) {
            return Err(SkipReason::NoEnclaveKey);
        }
        let q = *self
            .quotes
            .get(&(a.market, m.generator))
            .ok_or(SkipReason::NotJoined)?;
        if q.price > a.reward.min(m.max_price) {
            return Err(SkipReason::PriceAboveReward);
        }
        if u128::from(now) + u128::from(q.max_proof_time)
            > u128::from(a.deadline).min(u128::from(now) + u128::from(m.max_proof_time))
        {
            return Err(SkipReason::DeadlineTooSoon);
        }
        if u128::from(st.consumed) + u128::from(q.compute_per_proof) > u128::from(st.declared) {
            return Err(SkipReason::InsufficientCompute);
        }
        if st.stake < market.min_stake {
            return Err(SkipReason::BelowMinStake);
        }
        if st.stake < st.locked || st.stake - st.locked < market.penalty {
            return Err(SkipReason::InsufficientStake);
        }
        let hold = Hold {
            generator: m.generator,
            compute: q.compute_per_proof,
            lock: market.penalty,
        };
        self.hold(hold);
        self.set_state(m.ask, State::Pending(hold, m.max_price, m.max_proof_time));
        Ok(())
    }

    pub(crate) fn release_pending(&mut self, ask: AskId) {
        if let Some(State::Pending(h, _, _)) = self.asks.get(&ask).map(|a| a.state) {
            self.release(h);
            self.set_state(ask, State::Open);
        }
    }

    /// The status as `Book::ask` reports it.
    pub(crate) fn status(&self, ask: AskId) -> Option<AskStatus> {
        Some(match self.asks.get(&ask)?.state {
            State::Open => AskStatus::Open,
            State::Pending(h, _, _) => AskStatus::Pending {
                generator: h.generator,
            },
            State::Assigned(h, price) => AskStatus::Assigned {
                generator: h.generator,
                price,
            },
            State::Done => AskStatus::Done,
            State::Closed => AskStatus::Closed,
            State::Parked(reason) => AskStatus::Parked { reason },
        })
    }

    /// The generators as `Book::generators` reports them.
    pub(crate) fn generator_views(&self) -> Vec<GeneratorView> {
        self.gens
            .iter()
            .map(|(&a, g)| GeneratorView {
                generator: a,
                registered: g.registered,
                declared_compute: g.declared,
                consumed_compute: g.consumed,
                stake: g.stake,
                locked: g.locked,
                markets: self
                    .quotes
                    .keys()
                    .filter(|(_, x)| *x == a)
                    .map(|(m, _)| *m)
                    .collect(),
                enclave_keys: g.keys.iter().copied().collect(),
            })
            .collect()
    }
}
