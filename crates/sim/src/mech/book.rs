//! This project's order book: the real matching core (`kalypso_matching::Book`) fed with the events the
//! contracts would emit, matched every block at the block's time, with the contracts' slashing rules (the
//! penalty is taken when a task's deadline passes without a proof; the requester's share is held for the ask
//! and paid only if a proof completes it, else it goes to the treasury; the ask re-opens at most 3 times while
//! its deadline allows, never to the generator that failed it).

use crate::core::{Core, Mechanism, Start};
use alloy::primitives::Address;
use kalypso_matching::{Book, Event, Quote, Seq};
use kalypso_primitives::Preference;
use std::collections::BTreeMap;

/// Re-opens the marketplace allows per ask.
const MAX_REOPENS: u8 = 3;

/// A generator's address in the book: its index plus one, big-endian in the last four bytes (so the book's
/// "lowest address" tie-break is the lowest index).
fn address(g: u32) -> Address {
    let mut bytes = [0u8; 20];
    bytes[16..].copy_from_slice(&(g + 1).to_be_bytes());
    Address::from(bytes)
}

fn index(a: Address) -> u32 {
    let b = a.as_slice();
    u32::from_be_bytes([b[16], b[17], b[18], b[19]]) - 1
}

pub(crate) struct OrderBook {
    book: Book,
    seq: u64,
    dirty: bool,
    share: f64,
    /// Compensation held per ask until a proof completes it.
    held: BTreeMap<u32, u128>,
    reopens: BTreeMap<u32, u8>,
    finished: u64,
}

impl OrderBook {
    pub(crate) fn new(core: &Core<'_>, slash_requester_share: f64) -> Self {
        let w = core.world;
        let mut me = Self {
            book: Book::new(),
            seq: 0,
            dirty: false,
            share: slash_requester_share,
            held: BTreeMap::new(),
            reopens: BTreeMap::new(),
            finished: 0,
        };
        for (m, market) in w.markets.iter().enumerate() {
            me.apply(
                0,
                &Event::MarketCreated {
                    market: m as u64,
                    slashing_penalty: market.penalty,
                    min_stake: market.min_stake,
                    confidential: false,
                },
            );
        }
        for (g, spec) in w.gens.iter().enumerate() {
            let g = g as u32;
            let generator = address(g);
            me.apply(
                0,
                &Event::GeneratorRegistered {
                    generator,
                    declared_compute: spec.capacity,
                },
            );
            me.apply(
                0,
                &Event::Staked {
                    generator,
                    stake: spec.stake,
                },
            );
            for m in w.markets_of(g) {
                // Every generator of the market has an offer (markets_of says so).
                let Some(o) = w.offer(g, m) else { continue };
                me.apply(
                    0,
                    &Event::QuoteSet {
                        generator,
                        market: u64::from(m),
                        quote: Quote {
                            price: o.price,
                            max_proof_time: o.quoted_ms,
                            compute_per_proof: w.markets[m as usize].compute,
                        },
                    },
                );
            }
        }
        me
    }

    fn apply(&mut self, now: u64, event: &Event) {
        self.seq += 1;
        self.book.apply(Seq::new(now, self.seq), event);
    }
}

impl Mechanism for OrderBook {
    fn arrive(&mut self, core: &mut Core<'_>, ask: u32) {
        let a = core.world.asks[ask as usize];
        self.apply(
            core.now,
            &Event::AskCreated {
                ask: u64::from(ask),
                market: u64::from(a.market),
                reward: a.reward,
                deadline: a.deadline,
                preference: if a.time {
                    Preference::Time
                } else {
                    Preference::Cost
                },
            },
        );
        self.dirty = true;
    }

    fn round(&mut self, core: &mut Core<'_>) {
        if !self.dirty {
            return;
        }
        self.dirty = false;
        let now = core.now;
        // Matched for the block being built and mined at once: every match is assigned at `now`.
        for m in self.book.match_asks(now, usize::MAX) {
            let ask = m.ask as u32;
            let g = index(m.generator);
            let market = core.world.asks[ask as usize].market;
            let compute = core.world.markets[market as usize].compute;
            self.apply(
                now,
                &Event::TaskAssigned {
                    ask: m.ask,
                    generator: m.generator,
                    price: m.max_price,
                    compute_per_proof: compute,
                },
            );
            // The book only matches generators with a quote in the ask's market.
            let Some(offer) = core.world.offer(g, market).copied() else {
                continue;
            };
            // A generator that failed an ask is never matched to it again: one attempt per pair.
            let out = core.outcome(ask, g, 1, &offer);
            let lock = core.world.markets[market as usize].penalty;
            core.start(Start {
                ask,
                generator: g,
                lock,
                out,
                deadline: now + m.max_proof_time,
                cut: u64::MAX,
                price: m.max_price,
            });
        }
    }

    fn task_end(&mut self, core: &mut Core<'_>, task: u32) {
        let t = core.tasks[task as usize];
        let now = core.now;
        if t.valid {
            self.apply(
                now,
                &Event::TaskCompleted {
                    ask: u64::from(t.ask),
                },
            );
            core.serve(task, t.price);
            // The held compensation goes to the requester with the proof.
            self.held.remove(&t.ask);
        } else {
            let deadline = core.world.asks[t.ask as usize].deadline;
            let reopens = self.reopens.entry(t.ask).or_insert(0);
            let reopened = now <= deadline && *reopens < MAX_REOPENS;
            if reopened {
                *reopens += 1;
            }
            let taken = core.slash(t.generator, t.lock, self.share);
            *self.held.entry(t.ask).or_insert(0) += ((taken as f64) * self.share).floor() as u128;
            self.apply(
                now,
                &Event::TaskFailed {
                    ask: u64::from(t.ask),
                    stake_taken: taken,
                    reopened,
                },
            );
            if !reopened {
                self.apply(
                    now,
                    &Event::AskClosed {
                        ask: u64::from(t.ask),
                    },
                );
            }
        }
        self.finished += 1;
        if self.finished.is_multiple_of(65_536) {
            self.book.forget_finished();
        }
        self.dirty = true;
    }

    fn idle(&self) -> bool {
        !self.dirty
    }
}

impl OrderBook {
    /// Compensation still held for asks never proven: the treasury's (called at the end of the run).
    pub(crate) fn settle(&mut self, core: &mut Core<'_>) {
        for (_, amount) in std::mem::take(&mut self.held) {
            core.forfeit_compensation(amount);
        }
    }
}
