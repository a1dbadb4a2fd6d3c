//! The quote index of a market: one arena-based treap of the listed quotes that answers both preferences in
//! O(log n).
//!
//! Keys are in COST order: (price, time, last assignment, address). Every node also carries the minimum of its
//! subtree in TIME order, (time, price, last assignment, address). Because `price <= reward` is a prefix of the
//! COST order:
//! - COST ask: the first key of the prefix whose time fits. The search descends the prefix and skips every
//!   subtree whose minimum time is too long, so it visits O(depth) nodes.
//! - TIME ask: the TIME-order minimum of the prefix, which is the answer if its time fits (it has the shortest
//!   time of the prefix) and proves there is none otherwise. One descent combines the subtree minima.
//!
//! Node priorities are a fixed hash of the arena slot, so two indexes fed the same operations have the same shape
//! (the answers never depend on the shape; the cost does, and a random-like priority keeps the depth O(log n)).

use alloy::primitives::Address;
use std::cmp::Ordering;

/// A listed quote, ordered for COST: cheapest, then fastest, then least recently assigned, then address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QuoteKey {
    pub(crate) price: u128,
    pub(crate) time: u64,
    /// The generator's last assignment in the market (0 = never, the oldest).
    pub(crate) last: u64,
    pub(crate) addr: Address,
}

const NIL: u32 = u32::MAX;

/// A subtree's minimum in TIME order: (time, price, last) with the node, whose address breaks a full tie.
#[derive(Clone, Copy, Debug)]
struct TimeMin {
    time: u64,
    price: u128,
    last: u64,
    node: u32,
}

#[derive(Clone, Debug)]
struct Node {
    key: QuoteKey,
    min: TimeMin,
    value: u32,
    left: u32,
    right: u32,
}

/// The index: listed quotes of one market, each with its generator id.
#[derive(Clone, Debug)]
pub(crate) struct QuoteIndex {
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    len: usize,
}

impl Default for QuoteIndex {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
        }
    }
}

/// The treap priority of an arena slot (SplitMix64 of the slot number).
const fn priority(slot: u32) -> u64 {
    let mut z = (slot as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl QuoteIndex {
    /// Number of listed quotes.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Lists `key` (which must not be present) for generator `value`.
    pub(crate) fn insert(&mut self, key: QuoteKey, value: u32) {
        let id = if let Some(id) = self.free.pop() {
            id
        } else {
            // More than 2^32 - 1 quotes in one market would exhaust memory first.
            let id = u32::try_from(self.nodes.len()).unwrap_or(NIL - 1);
            self.nodes.push(Node {
                key,
                min: TimeMin {
                    time: 0,
                    price: 0,
                    last: 0,
                    node: id,
                },
                value,
                left: NIL,
                right: NIL,
            });
            id
        };
        let n = &mut self.nodes[id as usize];
        n.key = key;
        n.value = value;
        n.left = NIL;
        n.right = NIL;
        n.min = TimeMin {
            time: key.time,
            price: key.price,
            last: key.last,
            node: id,
        };
        self.root = self.insert_at(self.root, id);
        self.len += 1;
    }

    /// Delists `key`; returns its generator if it was listed.
    pub(crate) fn remove(&mut self, key: &QuoteKey) -> Option<u32> {
        let (root, removed) = self.remove_at(self.root, key);
        self.root = root;
        (removed != NIL).then(|| {
            self.len -= 1;
            self.free.push(removed);
            self.nodes[removed as usize].value
        })
    }

    /// Replaces `old` (if present) by `new` for the same generator: in place when the order allows (one
    /// descent, the path's minima recomputed), else by removing and re-inserting.
    pub(crate) fn rekey(&mut self, old: &QuoteKey, new: QuoteKey) {
        match self.rekey_at(self.root, old, &new, NIL, NIL) {
            Rekey::Done(_) | Rekey::Missing => {}
            Rekey::Moves => {
                if let Some(value) = self.remove(old) {
                    self.insert(new, value);
                }
            }
        }
    }

    /// COST: the first listed quote in COST order with `price <= max_price` and `time <= max_time`.
    pub(crate) fn cheapest(&self, max_price: u128, max_time: u64) -> Option<u32> {
        let id = self.cheapest_at(self.root, max_price, max_time);
        (id != NIL).then(|| self.nodes[id as usize].value)
    }

    /// TIME: the first listed quote in TIME order with `price <= max_price` and `time <= max_time`.
    pub(crate) fn fastest(&self, max_price: u128, max_time: u64) -> Option<u32> {
        let mut best: Option<TimeMin> = None;
        let mut t = self.root;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if n.key.price <= max_price {
                // This node and its left subtree are in the prefix.
                best = self.min_of(best, Some(self.own(t)));
                if n.left != NIL {
                    best = self.min_of(best, Some(self.nodes[n.left as usize].min));
                }
                t = n.right;
            } else {
                t = n.left;
            }
        }
        best.filter(|b| b.time <= max_time)
            .map(|b| self.nodes[b.node as usize].value)
    }

    fn own(&self, t: u32) -> TimeMin {
        let k = &self.nodes[t as usize].key;
        TimeMin {
            time: k.time,
            price: k.price,
            last: k.last,
            node: t,
        }
    }

    /// The smaller of two in TIME order (the address decides a full tie).
    fn min_of(&self, a: Option<TimeMin>, b: Option<TimeMin>) -> Option<TimeMin> {
        match (a, b) {
            (Some(a), Some(b)) => {
                let order = (a.time, a.price, a.last)
                    .cmp(&(b.time, b.price, b.last))
                    .then_with(|| {
                        self.nodes[a.node as usize]
                            .key
                            .addr
                            .cmp(&self.nodes[b.node as usize].key.addr)
                    });
                Some(if order == Ordering::Greater { b } else { a })
            }
            (a, None) => a,
            (None, b) => b,
        }
    }

    fn cheapest_at(&self, t: u32, max_price: u128, max_time: u64) -> u32 {
        if t == NIL {
            return NIL;
        }
        let n = &self.nodes[t as usize];
        if n.min.time > max_time {
            return NIL;
        }
        if n.key.price > max_price {
            // This node and its right subtree are past the prefix.
            return self.cheapest_at(n.left, max_price, max_time);
        }
        let found = self.cheapest_at(n.left, max_price, max_time);
        if found != NIL {
            return found;
        }
        if n.key.time <= max_time {
            return t;
        }
        self.cheapest_at(n.right, max_price, max_time)
    }

    fn pull(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let (left, right) = (n.left, n.right);
        let mut min = Some(self.own(t));
        if left != NIL {
            min = self.min_of(min, Some(self.nodes[left as usize].min));
        }
        if right != NIL {
            min = self.min_of(min, Some(self.nodes[right as usize].min));
        }
        if let Some(min) = min {
            self.nodes[t as usize].min = min;
        }
    }

    fn insert_at(&mut self, t: u32, id: u32) -> u32 {
        if t == NIL {
            return id;
        }
        if priority(id) > priority(t) {
            let key = self.nodes[id as usize].key;
            let (l, r) = self.split(t, &key);
            let n = &mut self.nodes[id as usize];
            n.left = l;
            n.right = r;
            self.pull(id);
            return id;
        }
        if self.nodes[id as usize].key < self.nodes[t as usize].key {
            let child = self.insert_at(self.nodes[t as usize].left, id);
            self.nodes[t as usize].left = child;
        } else {
            let child = self.insert_at(self.nodes[t as usize].right, id);
            self.nodes[t as usize].right = child;
        }
        // One more node under `t`: its minimum can only drop to the new node's.
        self.relax(t, id);
        t
    }

    /// Lowers `t`'s subtree minimum to node `id`'s key if that is smaller (no child reads).
    fn relax(&mut self, t: u32, id: u32) {
        let own = self.own(id);
        if let Some(min) = self.min_of(Some(own), Some(self.nodes[t as usize].min)) {
            self.nodes[t as usize].min = min;
        }
    }

    /// Splits `t` into the keys below `key` and the keys above it (`key` itself is not in `t`).
    fn split(&mut self, t: u32, key: &QuoteKey) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        if self.nodes[t as usize].key < *key {
            let (l, r) = self.split(self.nodes[t as usize].right, key);
            self.nodes[t as usize].right = l;
            self.pull(t);
            (t, r)
        } else {
            let (l, r) = self.split(self.nodes[t as usize].left, key);
            self.nodes[t as usize].left = r;
            self.pull(t);
            (l, t)
        }
    }

    /// Joins two treaps whose keys are all below (`a`) and above (`b`) each other.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if priority(a) > priority(b) {
            let m = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = m;
            self.pull(a);
            a
        } else {
            let m = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = m;
            self.pull(b);
            b
        }
    }

    /// Removes `key` under `t`: the new subtree root and the removed node (or `NIL`).
    fn remove_at(&mut self, t: u32, key: &QuoteKey) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let (left, right) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        match key.cmp(&self.nodes[t as usize].key) {
            Ordering::Equal => (self.merge(left, right), t),
            Ordering::Less => {
                let (child, removed) = self.remove_at(left, key);
                if removed != NIL {
                    self.nodes[t as usize].left = child;
                    self.unmin(t, removed);
                }
                (t, removed)
            }
            Ordering::Greater => {
                let (child, removed) = self.remove_at(right, key);
                if removed != NIL {
                    self.nodes[t as usize].right = child;
                    self.unmin(t, removed);
                }
                (t, removed)
            }
        }
    }

    /// After node `gone` left `t`'s subtree (or grew): recomputes `t`'s minimum only if it was that node's.
    fn unmin(&mut self, t: u32, gone: u32) {
        if self.nodes[t as usize].min.node == gone {
            self.pull(t);
        }
    }

    /// Finds `old` under `t` (`pred`/`succ`: the nearest ancestors below/above it) and re-keys it in place if
    /// `new` sorts between its neighbours, recomputing the minima on the way back up.
    fn rekey_at(&mut self, t: u32, old: &QuoteKey, new: &QuoteKey, pred: u32, succ: u32) -> Rekey {
        if t == NIL {
            return Rekey::Missing;
        }
        let (key, left, right) = {
            let n = &self.nodes[t as usize];
            (n.key, n.left, n.right)
        };
        let result = match old.cmp(&key) {
            Ordering::Less => self.rekey_at(left, old, new, pred, t),
            Ordering::Greater => self.rekey_at(right, old, new, t, succ),
            Ordering::Equal => {
                let pred = if left == NIL {
                    pred
                } else {
                    self.extreme(left, |n| n.right)
                };
                let succ = if right == NIL {
                    succ
                } else {
                    self.extreme(right, |n| n.left)
                };
                let fits = (pred == NIL || self.nodes[pred as usize].key < *new)
                    && (succ == NIL || *new < self.nodes[succ as usize].key);
                if !fits {
                    return Rekey::Moves;
                }
                self.nodes[t as usize].key = *new;
                Rekey::Done(t)
            }
        };
        if let Rekey::Done(node) = result {
            // The node's key changed under `t`: recompute the minimum if it was the node's, else it can only drop.
            if t == node || self.nodes[t as usize].min.node == node {
                self.pull(t);
            } else {
                self.relax(t, node);
            }
        }
        result
    }

    /// The last node reached from `t` by following `next` (the leftmost or rightmost node of a subtree).
    fn extreme(&self, mut t: u32, next: impl Fn(&Node) -> u32) -> u32 {
        loop {
            let child = next(&self.nodes[t as usize]);
            if child == NIL {
                return t;
            }
            t = child;
        }
    }

    /// All keys in order with their generators (tests).
    #[cfg(test)]
    pub(crate) fn in_order(&self) -> Vec<(QuoteKey, u32)> {
        let mut out = Vec::with_capacity(self.len);
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.nodes[t as usize].left;
            }
            if let Some(id) = stack.pop() {
                let n = &self.nodes[id as usize];
                out.push((n.key, n.value));
                t = n.right;
            }
        }
        out
    }

    /// Height of the tree (tests: the expected height is O(log n)).
    #[cfg(test)]
    fn height(&self) -> usize {
        fn h(nodes: &[Node], t: u32) -> usize {
            if t == NIL {
                0
            } else {
                let n = &nodes[t as usize];
                1 + h(nodes, n.left).max(h(nodes, n.right))
            }
        }
        h(&self.nodes, self.root)
    }

    /// Checks the order, heap and minimum invariants (tests).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        fn time_key(k: &QuoteKey) -> (u64, u128, u64, Address) {
            (k.time, k.price, k.last, k.addr)
        }
        fn walk(ix: &QuoteIndex, t: u32) -> (usize, Option<(u64, u128, u64, Address)>) {
            if t == NIL {
                return (0, None);
            }
            let n = &ix.nodes[t as usize];
            for child in [n.left, n.right] {
                if child != NIL {
                    assert!(priority(child) <= priority(t));
                }
            }
            if n.left != NIL {
                assert!(ix.nodes[n.left as usize].key < n.key);
            }
            if n.right != NIL {
                assert!(ix.nodes[n.right as usize].key > n.key);
            }
            let (lc, lm) = walk(ix, n.left);
            let (rc, rm) = walk(ix, n.right);
            let min = [lm, rm]
                .into_iter()
                .flatten()
                .fold(time_key(&n.key), |a, b| a.min(b));
            let stored = &ix.nodes[n.min.node as usize].key;
            assert_eq!(time_key(stored), min);
            assert_eq!((n.min.time, n.min.price, n.min.last), (min.0, min.1, min.2));
            (lc + rc + 1, Some(min))
        }
        let (count, _) = walk(self, self.root);
        assert_eq!(count, self.len);
        let keys = self.in_order();
        assert!(keys.windows(2).all(|w| w[0].0 < w[1].0));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rekey {
    /// Re-keyed in place (the node).
    Done(u32),
    Moves,
    Missing,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(price: u128, time: u64, last: u64, a: u8) -> QuoteKey {
        QuoteKey {
            price,
            time,
            last,
            addr: Address::repeat_byte(a),
        }
    }

    fn brute_cost(keys: &[(QuoteKey, u32)], p: u128, t: u64) -> Option<u32> {
        keys.iter()
            .filter(|(k, _)| k.price <= p && k.time <= t)
            .min_by_key(|(k, _)| *k)
            .map(|x| x.1)
    }

    fn brute_time(keys: &[(QuoteKey, u32)], p: u128, t: u64) -> Option<u32> {
        keys.iter()
            .filter(|(k, _)| k.price <= p && k.time <= t)
            .min_by_key(|(k, _)| (k.time, k.price, k.last, k.addr))
            .map(|x| x.1)
    }

    #[test]
    fn empty_index_finds_nothing() {
        let ix = QuoteIndex::default();
        assert_eq!(ix.cheapest(u128::MAX, u64::MAX), None);
        assert_eq!(ix.fastest(u128::MAX, u64::MAX), None);
        assert_eq!(ix.len(), 0);
    }

    #[test]
    fn both_preferences_from_one_tree() {
        let mut ix = QuoteIndex::default();
        // (price, time): cheap and slow, mid, dear and fast.
        ix.insert(key(1, 90, 0, 1), 1);
        ix.insert(key(5, 30, 0, 2), 2);
        ix.insert(key(9, 10, 0, 3), 3);
        ix.check();
        assert_eq!(ix.cheapest(10, 100), Some(1));
        assert_eq!(ix.cheapest(10, 50), Some(2));
        assert_eq!(ix.cheapest(8, 20), None);
        assert_eq!(ix.fastest(10, 100), Some(3));
        assert_eq!(ix.fastest(8, 100), Some(2));
        assert_eq!(ix.fastest(8, 29), None);
        // Re-keying the cheapest to a later assignment keeps it in place (no other key in between).
        ix.rekey(&key(1, 90, 0, 1), key(1, 90, 7, 1));
        ix.check();
        assert_eq!(ix.remove(&key(1, 90, 0, 1)), None);
        assert_eq!(ix.remove(&key(1, 90, 7, 1)), Some(1));
        assert_eq!(ix.cheapest(10, 100), Some(2));
        ix.check();
    }

    #[test]
    fn full_ties_break_by_address() {
        let mut ix = QuoteIndex::default();
        ix.insert(key(5, 5, 0, 9), 9);
        ix.insert(key(5, 5, 0, 4), 4);
        ix.check();
        assert_eq!(ix.cheapest(5, 5), Some(4));
        assert_eq!(ix.fastest(5, 5), Some(4));
        ix.rekey(&key(5, 5, 0, 4), key(5, 5, 1, 4));
        ix.check();
        assert_eq!(ix.cheapest(5, 5), Some(9));
        assert_eq!(ix.fastest(5, 5), Some(9));
    }

    #[test]
    fn height_stays_logarithmic_for_sorted_inserts() {
        let mut ix = QuoteIndex::default();
        for i in 0..10_000u32 {
            ix.insert(key(u128::from(i), 1, 0, 0), i);
        }
        ix.check();
        // A random treap of 10k keys is ~ 30 deep on average; a path would be 10k.
        assert!(ix.height() < 60, "height {}", ix.height());
    }

    proptest! {
        #[test]
        fn matches_a_scan(
            ops in prop::collection::vec((0u8..3, 0u128..8, 0u64..8, 0u64..3, 0u8..4), 1..200),
            queries in prop::collection::vec((0u128..9, 0u64..9), 1..20),
        ) {
            let mut ix = QuoteIndex::default();
            let mut keys: Vec<(QuoteKey, u32)> = Vec::new();
            let mut next_last = 10;
            for (op, price, time, last, a) in ops {
                let k = key(price, time, last, a);
                // One key per generator (address), as in a market.
                let present = keys.iter().position(|(x, _)| x.addr == k.addr);
                match (op, present) {
                    (0, None) => {
                        ix.insert(k, u32::from(a));
                        keys.push((k, u32::from(a)));
                    }
                    (1, Some(i)) => {
                        prop_assert_eq!(ix.remove(&keys[i].0), Some(u32::from(a)));
                        keys.remove(i);
                    }
                    (2, Some(i)) => {
                        // An assignment: the most recent turn so far.
                        next_last += 1;
                        let old = keys[i].0;
                        let new = QuoteKey { last: next_last, ..old };
                        ix.rekey(&old, new);
                        keys[i].0 = new;
                    }
                    _ => {}
                }
                prop_assert_eq!(ix.len(), keys.len());
            }
            ix.check();
            let mut sorted = keys.clone();
            sorted.sort();
            prop_assert_eq!(ix.in_order(), sorted);
            for (p, t) in queries {
                prop_assert_eq!(ix.cheapest(p, t), brute_cost(&keys, p, t));
                prop_assert_eq!(ix.fastest(p, t), brute_time(&keys, p, t));
            }
        }
    }
}
