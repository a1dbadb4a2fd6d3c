//! Free generators per market, ordered by a price key: what the auctions and the Dutch auction ask "who is
//! the cheapest generator that can take this now?". A generator is listed in a market exactly while it has
//! the free compute and stake for one more task there (kept in step with the core after every change).

use crate::core::Core;
use std::collections::BTreeSet;

/// Which price orders the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// The generator's price (quote, first-price bid, Dutch reserve).
    Price,
    /// Its cost (a truthful second-price bid).
    Cost,
}

pub(crate) struct Pool {
    key: Key,
    /// Per market: (key, quoted time, generator) of the listed generators.
    sets: Vec<BTreeSet<(u128, u64, u32)>>,
    /// Per generator: bit `m` set while listed in market `m`.
    listed: Vec<u64>,
}

impl Pool {
    pub(crate) fn new(core: &Core<'_>, key: Key) -> Self {
        let w = core.world;
        let mut me = Self {
            key,
            sets: vec![BTreeSet::new(); w.markets.len()],
            listed: vec![0; w.gens.len()],
        };
        for g in 0..w.gens.len() as u32 {
            me.refresh(core, g);
        }
        me
    }

    fn entry(&self, core: &Core<'_>, g: u32, m: u16) -> Option<(u128, u64, u32)> {
        let o = core.world.offer(g, m)?;
        let k = match self.key {
            Key::Price => o.price,
            Key::Cost => o.cost,
        };
        Some((k, o.quoted_ms, g))
    }

    /// Re-lists generator `g` in each of its markets after its compute or stake changed.
    pub(crate) fn refresh(&mut self, core: &Core<'_>, g: u32) {
        for m in core.world.markets_of(g) {
            let fits = core.fits(g, m, true);
            let bit = 1u64 << m;
            let was = self.listed[g as usize] & bit != 0;
            if fits == was {
                continue;
            }
            let Some(e) = self.entry(core, g, m) else {
                continue;
            };
            if fits {
                self.sets[m as usize].insert(e);
                self.listed[g as usize] |= bit;
            } else {
                self.sets[m as usize].remove(&e);
                self.listed[g as usize] &= !bit;
            }
        }
    }

    /// Listed generators of market `m` in key order (ties: faster, then lower index): (key, quoted time,
    /// generator).
    pub(crate) fn iter(&self, m: u16) -> impl Iterator<Item = (u128, u64, u32)> + '_ {
        self.sets[m as usize].iter().copied()
    }

    /// Whether market `m` has no listed generator.
    pub(crate) fn is_empty(&self, m: u16) -> bool {
        self.sets[m as usize].is_empty()
    }
}
