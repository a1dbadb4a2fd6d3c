//! The quote index of a market: one arena-based treap of the market's quotes that answers both preferences in
//! O(log n).
//!
//! Keys are in COST order: (price, time, last assignment, address). A quote is *listed* when its generator's
//! capacity fits the market; queries see listed quotes only. Every node carries the minimum, in TIME order
//! (time, price, last assignment, address), of the listed quotes of its subtree. Because `price <= reward` is a
//! prefix of the COST order:
//! - COST ask: the first listed key of the prefix whose time fits. The search descends the prefix and skips
//!   every subtree whose minimum time is too long, so it visits O(depth) nodes.
//! - TIME ask: the TIME-order minimum of the listed quotes of the prefix, which is the answer if its time fits
//!   (it has the shortest time of the prefix) and proves there is none otherwise. One descent combines the
//!   subtree minima.
//!
//! Nodes have stable ids (a quote keeps its node while quoted) and parent links, so listing, delisting and
//! re-keying a quote start at its node and walk up only while a subtree minimum changes: usually a step or two
//! instead of a descent from the root. Inserting and removing (joining, leaving, changing a quote) rotate, as in
//! any treap. A node fits one cache line (addresses, read only to break full ties, are kept apart). Priorities
//! are a fixed hash of the node id, so two indexes fed the same operations have the same shape (the answers never
//! depend on the shape; the cost does, and random-like priorities keep the expected depth O(log n)).

use alloy::primitives::Address;
use std::cmp::Ordering;

/// A quote's key, ordered for COST: cheapest, then fastest, then least recently assigned, then address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct QuoteKey {
    pub(crate) price: u128,
    pub(crate) time: u64,
    /// The generator's last assignment in the market (0 = never, the oldest).
    pub(crate) last: u64,
    pub(crate) addr: Address,
}

/// No node.
pub(crate) const NIL: u32 = u32::MAX;

/// A tree node, laid out in one cache line (the address, read only to break full ties, is kept apart).
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Node {
    price: u128,
    time: u64,
    last: u64,
    /// Time of the TIME-order minimum of the listed quotes of this subtree (`u64::MAX` if none).
    min_time: u64,
    left: u32,
    right: u32,
    parent: u32,
    value: u32,
    /// Node of that minimum (`NIL` if the subtree lists nothing).
    min_node: u32,
    listed: bool,
}

/// The index: the quotes of one market, each with a value (its quote slot).
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct QuoteIndex {
    nodes: Vec<Node>,
    root: u32,
    listed: usize,
    /// Each node's address (the last tie-break).
    addrs: Vec<Address>,
    free: Vec<u32>,
}

impl Default for QuoteIndex {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            addrs: Vec::new(),
            free: Vec::new(),
            root: NIL,
            listed: 0,
        }
    }
}

/// The treap priority of a node (SplitMix64 of its id).
const fn priority(id: u32) -> u64 {
    let mut z = (id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl QuoteIndex {
    /// Number of listed quotes.
    pub(crate) const fn listed(&self) -> usize {
        self.listed
    }

    /// Adds a quote (its key must not be present); returns its node id.
    pub(crate) fn insert(&mut self, key: QuoteKey, value: u32, listed: bool) -> u32 {
        let node = Node {
            price: key.price,
            time: key.time,
            last: key.last,
            min_time: u64::MAX,
            left: NIL,
            right: NIL,
            parent: NIL,
            value,
            min_node: NIL,
            listed,
        };
        let id = if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            self.addrs[id as usize] = key.addr;
            id
        } else {
            // 2^32 - 1 quotes in one market would exhaust memory first.
            let id = u32::try_from(self.nodes.len()).unwrap_or(NIL - 1);
            self.nodes.push(node);
            self.addrs.push(key.addr);
            id
        };
        if listed {
            self.listed += 1;
        }
        self.link(id);
        id
    }

    /// Removes node `id`.
    pub(crate) fn remove(&mut self, id: u32) {
        if self.nodes[id as usize].listed {
            self.listed -= 1;
        }
        self.unlink(id);
        self.free.push(id);
    }

    /// Lists or delists node `id`.
    pub(crate) fn set_listed(&mut self, id: u32, listed: bool) {
        let n = &mut self.nodes[id as usize];
        if n.listed == listed {
            return;
        }
        n.listed = listed;
        if listed {
            self.listed += 1;
        } else {
            self.listed -= 1;
        }
        self.fix_up(id, id);
    }

    /// Whether node `id` is listed (tests).
    #[cfg(test)]
    pub(crate) fn is_listed(&self, id: u32) -> bool {
        self.nodes[id as usize].listed
    }

    /// Changes node `id`'s key to `new` (which must not be present): in place when `new` sorts between the
    /// node's neighbours (the usual case of a new last assignment), else by moving the node.
    pub(crate) fn rekey(&mut self, id: u32, new: QuoteKey) {
        let pred = self.neighbour(id, |n| n.left, |n| n.right);
        let succ = self.neighbour(id, |n| n.right, |n| n.left);
        let fits = (pred == NIL || self.cmp_key(&new, pred) == Ordering::Greater)
            && (succ == NIL || self.cmp_key(&new, succ) == Ordering::Less);
        if !fits {
            self.unlink(id);
        }
        let n = &mut self.nodes[id as usize];
        (n.price, n.time, n.last) = (new.price, new.time, new.last);
        self.addrs[id as usize] = new.addr;
        if fits {
            self.fix_up(id, id);
        } else {
            (n.left, n.right, n.parent) = (NIL, NIL, NIL);
            self.link(id);
        }
    }

    /// COST: the value of the first listed quote in COST order with `price <= max_price` and `time <= max_time`.
    pub(crate) fn cheapest(&self, max_price: u128, max_time: u64) -> Option<u32> {
        let id = self.cheapest_at(self.root, max_price, max_time);
        (id != NIL).then(|| self.nodes[id as usize].value)
    }

    /// TIME: the value of the first listed quote in TIME order with `price <= max_price` and `time <= max_time`.
    pub(crate) fn fastest(&self, max_price: u128, max_time: u64) -> Option<u32> {
        let (mut best_time, mut best) = (u64::MAX, NIL);
        let mut t = self.root;
        if t != NIL {
            // The fastest listed quote of all is the answer if it is cheap enough (a common case).
            let r = &self.nodes[t as usize];
            if r.min_node != NIL && self.nodes[r.min_node as usize].price <= max_price {
                (best_time, best) = (r.min_time, r.min_node);
                t = NIL;
            }
        }
        while t != NIL {
            let n = &self.nodes[t as usize];
            if n.price <= max_price {
                // This node and its left subtree are in the prefix.
                if n.listed && self.time_less(n.time, t, best_time, best) {
                    (best_time, best) = (n.time, t);
                }
                if n.left != NIL {
                    let l = &self.nodes[n.left as usize];
                    if self.time_less(l.min_time, l.min_node, best_time, best) {
                        (best_time, best) = (l.min_time, l.min_node);
                    }
                }
                t = n.right;
            } else {
                t = n.left;
            }
        }
        (best != NIL && best_time <= max_time).then(|| self.nodes[best as usize].value)
    }

    /// Compares `key` with node `t`'s key (COST order).
    fn cmp_key(&self, key: &QuoteKey, t: u32) -> Ordering {
        let n = &self.nodes[t as usize];
        (key.price, key.time, key.last)
            .cmp(&(n.price, n.time, n.last))
            .then_with(|| key.addr.cmp(&self.addrs[t as usize]))
    }

    /// Whether the quote at node `a` (time `a_time`) precedes the one at `b` in TIME order; `NIL` is last. The
    /// other fields are read only when the times tie.
    fn time_less(&self, a_time: u64, a: u32, b_time: u64, b: u32) -> bool {
        if a == NIL {
            return false;
        }
        if b == NIL {
            return true;
        }
        if a_time != b_time {
            return a_time < b_time;
        }
        let (x, y) = (&self.nodes[a as usize], &self.nodes[b as usize]);
        (x.price, x.last)
            .cmp(&(y.price, y.last))
            .then_with(|| self.addrs[a as usize].cmp(&self.addrs[b as usize]))
            == Ordering::Less
    }

    fn cheapest_at(&self, t: u32, max_price: u128, max_time: u64) -> u32 {
        if t == NIL {
            return NIL;
        }
        let n = &self.nodes[t as usize];
        if n.min_node == NIL || n.min_time > max_time {
            return NIL;
        }
        if n.price > max_price {
            // This node and its right subtree are past the prefix.
            return self.cheapest_at(n.left, max_price, max_time);
        }
        let found = self.cheapest_at(n.left, max_price, max_time);
        if found != NIL {
            return found;
        }
        if n.listed && n.time <= max_time {
            return t;
        }
        self.cheapest_at(n.right, max_price, max_time)
    }

    /// Recomputes node `t`'s subtree minimum from its own key and its children's minima.
    fn pull(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let (left, right) = (n.left, n.right);
        let (mut time, mut node) = if n.listed {
            (n.time, t)
        } else {
            (u64::MAX, NIL)
        };
        for c in [left, right] {
            if c != NIL {
                let c = &self.nodes[c as usize];
                if self.time_less(c.min_time, c.min_node, time, node) {
                    (time, node) = (c.min_time, c.min_node);
                }
            }
        }
        let n = &mut self.nodes[t as usize];
        (n.min_time, n.min_node) = (time, node);
    }

    /// Recomputes the minima from `t` up after node `changed` was listed, delisted, re-keyed or linked below:
    /// stops where a minimum is unchanged and not `changed`'s (then none above changes either).
    fn fix_up(&mut self, mut t: u32, changed: u32) {
        while t != NIL {
            let n = &self.nodes[t as usize];
            let before = (n.min_time, n.min_node);
            self.pull(t);
            let n = &self.nodes[t as usize];
            if (n.min_time, n.min_node) == before && n.min_node != changed {
                return;
            }
            t = n.parent;
        }
    }

    /// The in-order neighbour of `id` on the side `near` (left: predecessor, right: successor); `far` is the
    /// other side.
    fn neighbour(&self, id: u32, near: impl Fn(&Node) -> u32, far: impl Fn(&Node) -> u32) -> u32 {
        let mut t = near(&self.nodes[id as usize]);
        if t != NIL {
            // The far-most node of the near subtree.
            loop {
                let next = far(&self.nodes[t as usize]);
                if next == NIL {
                    return t;
                }
                t = next;
            }
        }
        // The first ancestor reached from its far side.
        let mut child = id;
        let mut p = self.nodes[id as usize].parent;
        while p != NIL && near(&self.nodes[p as usize]) == child {
            child = p;
            p = self.nodes[p as usize].parent;
        }
        p
    }

    /// Sets the child of `parent` that was `old` to `new` (or the root when `parent` is `NIL`).
    fn replace_child(&mut self, parent: u32, old: u32, new: u32) {
        if parent == NIL {
            self.root = new;
        } else if self.nodes[parent as usize].left == old {
            self.nodes[parent as usize].left = new;
        } else {
            self.nodes[parent as usize].right = new;
        }
        if new != NIL {
            self.nodes[new as usize].parent = parent;
        }
    }

    /// Rotates node `x` above its parent (keeping the order), recomputing both minima.
    fn rotate_up(&mut self, x: u32) {
        let p = self.nodes[x as usize].parent;
        let g = self.nodes[p as usize].parent;
        if self.nodes[p as usize].left == x {
            let b = self.nodes[x as usize].right;
            self.nodes[p as usize].left = b;
            if b != NIL {
                self.nodes[b as usize].parent = p;
            }
            self.nodes[x as usize].right = p;
        } else {
            let b = self.nodes[x as usize].left;
            self.nodes[p as usize].right = b;
            if b != NIL {
                self.nodes[b as usize].parent = p;
            }
            self.nodes[x as usize].left = p;
        }
        self.nodes[p as usize].parent = x;
        self.replace_child(g, p, x);
        self.pull(p);
        self.pull(x);
    }

    /// Links detached node `id` into the tree by its key and priority, fixing the minima above it.
    fn link(&mut self, id: u32) {
        let n = &self.nodes[id as usize];
        let key = QuoteKey {
            price: n.price,
            time: n.time,
            last: n.last,
            addr: self.addrs[id as usize],
        };
        let mut parent = NIL;
        let mut less = false;
        let mut t = self.root;
        while t != NIL {
            parent = t;
            less = self.cmp_key(&key, t) == Ordering::Less;
            t = if less {
                self.nodes[t as usize].left
            } else {
                self.nodes[t as usize].right
            };
        }
        self.nodes[id as usize].parent = parent;
        if parent == NIL {
            self.root = id;
        } else if less {
            self.nodes[parent as usize].left = id;
        } else {
            self.nodes[parent as usize].right = id;
        }
        self.pull(id);
        while self.nodes[id as usize].parent != NIL
            && priority(id) > priority(self.nodes[id as usize].parent)
        {
            self.rotate_up(id);
        }
        let parent = self.nodes[id as usize].parent;
        self.fix_up(parent, id);
    }

    /// Detaches node `id` from the tree (rotating it down to a leaf first), fixing the minima above it.
    fn unlink(&mut self, id: u32) {
        loop {
            let (l, r) = (self.nodes[id as usize].left, self.nodes[id as usize].right);
            let child = match (l, r) {
                (NIL, NIL) => break,
                (c, NIL) | (NIL, c) => c,
                (l, r) => {
                    if priority(l) > priority(r) {
                        l
                    } else {
                        r
                    }
                }
            };
            self.rotate_up(child);
        }
        let parent = self.nodes[id as usize].parent;
        self.replace_child(parent, id, NIL);
        self.nodes[id as usize].parent = NIL;
        // Above the leaf, only the minima that were this node's change.
        let mut t = parent;
        while t != NIL && self.nodes[t as usize].min_node == id {
            self.pull(t);
            t = self.nodes[t as usize].parent;
        }
    }

    /// Node `t`'s key (tests).
    #[cfg(test)]
    fn key(&self, t: u32) -> QuoteKey {
        let n = &self.nodes[t as usize];
        QuoteKey {
            price: n.price,
            time: n.time,
            last: n.last,
            addr: self.addrs[t as usize],
        }
    }

    /// All nodes in key order: (key, value, listed) (tests).
    #[cfg(test)]
    pub(crate) fn in_order(&self) -> Vec<(QuoteKey, u32, bool)> {
        let mut out = Vec::new();
        let mut stack = Vec::new();
        let mut t = self.root;
        while t != NIL || !stack.is_empty() {
            while t != NIL {
                stack.push(t);
                t = self.nodes[t as usize].left;
            }
            if let Some(id) = stack.pop() {
                let n = &self.nodes[id as usize];
                out.push((self.key(id), n.value, n.listed));
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

    /// Checks the order, heap, parent and minimum invariants (tests).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        type Tk = (u64, u128, u64, Address);
        fn walk(ix: &QuoteIndex, t: u32, parent: u32) -> (usize, usize, Option<(Tk, u32)>) {
            if t == NIL {
                return (0, 0, None);
            }
            let n = &ix.nodes[t as usize];
            assert_eq!(n.parent, parent);
            for child in [n.left, n.right] {
                if child != NIL {
                    assert!(priority(child) <= priority(t));
                }
            }
            if n.left != NIL {
                assert!(ix.key(n.left) < ix.key(t));
            }
            if n.right != NIL {
                assert!(ix.key(n.right) > ix.key(t));
            }
            let (lc, ll, lm) = walk(ix, n.left, t);
            let (rc, rl, rm) = walk(ix, n.right, t);
            let k = ix.key(t);
            let own = n.listed.then_some(((k.time, k.price, k.last, k.addr), t));
            let min = [own, lm, rm].into_iter().flatten().min();
            match min {
                None => assert_eq!((n.min_time, n.min_node), (u64::MAX, NIL)),
                Some((tk, node)) => assert_eq!((n.min_time, n.min_node), (tk.0, node)),
            }
            (lc + rc + 1, ll + rl + usize::from(n.listed), min)
        }
        assert_eq!(std::mem::size_of::<Node>(), 64);
        let (count, listed, _) = walk(self, self.root, NIL);
        assert_eq!(count + self.free.len(), self.nodes.len());
        assert_eq!(listed, self.listed);
        let keys = self.in_order();
        assert!(keys.windows(2).all(|w| w[0].0 < w[1].0));
    }
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

    /// (key, value, listed) of the model.
    type Entry = (QuoteKey, u32, bool);

    fn brute_cost(keys: &[Entry], p: u128, t: u64) -> Option<u32> {
        keys.iter()
            .filter(|(k, _, l)| *l && k.price <= p && k.time <= t)
            .min_by_key(|(k, _, _)| *k)
            .map(|x| x.1)
    }

    fn brute_time(keys: &[Entry], p: u128, t: u64) -> Option<u32> {
        keys.iter()
            .filter(|(k, _, l)| *l && k.price <= p && k.time <= t)
            .min_by_key(|(k, _, _)| (k.time, k.price, k.last, k.addr))
            .map(|x| x.1)
    }

    #[test]
    fn empty_index_finds_nothing() {
        let ix = QuoteIndex::default();
        assert_eq!(ix.cheapest(u128::MAX, u64::MAX), None);
        assert_eq!(ix.fastest(u128::MAX, u64::MAX), None);
        assert_eq!(ix.listed(), 0);
    }

    #[test]
    fn both_preferences_from_one_tree() {
        let mut ix = QuoteIndex::default();
        // (price, time): cheap and slow, mid, dear and fast.
        let a = ix.insert(key(1, 90, 0, 1), 1, true);
        ix.insert(key(5, 30, 0, 2), 2, true);
        let c = ix.insert(key(9, 10, 0, 3), 3, true);
        ix.check();
        assert_eq!(ix.cheapest(10, 100), Some(1));
        assert_eq!(ix.cheapest(10, 50), Some(2));
        assert_eq!(ix.cheapest(8, 20), None);
        assert_eq!(ix.fastest(10, 100), Some(3));
        assert_eq!(ix.fastest(8, 100), Some(2));
        assert_eq!(ix.fastest(8, 29), None);
        // Delisted quotes are invisible; listing them again brings them back.
        ix.set_listed(c, false);
        assert_eq!((ix.fastest(10, 100), ix.listed()), (Some(2), 2));
        ix.set_listed(c, true);
        assert_eq!(ix.fastest(10, 100), Some(3));
        // Re-keying the cheapest to a later assignment keeps it in place (no other key in between).
        ix.rekey(a, key(1, 90, 7, 1));
        ix.check();
        ix.remove(a);
        assert_eq!(ix.cheapest(10, 100), Some(2));
        ix.check();
    }

    #[test]
    fn full_ties_break_by_address() {
        let mut ix = QuoteIndex::default();
        ix.insert(key(5, 5, 0, 9), 9, true);
        let four = ix.insert(key(5, 5, 0, 4), 4, true);
        ix.check();
        assert_eq!(ix.cheapest(5, 5), Some(4));
        assert_eq!(ix.fastest(5, 5), Some(4));
        ix.rekey(four, key(5, 5, 1, 4));
        ix.check();
        assert_eq!(ix.cheapest(5, 5), Some(9));
        assert_eq!(ix.fastest(5, 5), Some(9));
    }

    #[test]
    fn height_stays_logarithmic_for_sorted_inserts() {
        let mut ix = QuoteIndex::default();
        for i in 0..10_000u32 {
            ix.insert(key(u128::from(i), 1, 0, 0), i, true);
        }
        ix.check();
        // A random treap of 10k keys is ~ 30 deep on average; a path would be 10k.
        assert!(ix.height() < 60, "height {}", ix.height());
    }

    proptest! {
        #[test]
        fn matches_a_scan(
            ops in prop::collection::vec((0u8..5, 0u128..8, 0u64..8, 0u8..6), 1..250),
            queries in prop::collection::vec((0u128..9, 0u64..9), 1..20),
        ) {
            let mut ix = QuoteIndex::default();
            // The model: (key, value, listed) and the node of each, one quote per generator (address).
            let mut keys: Vec<Entry> = Vec::new();
            let mut nodes: Vec<u32> = Vec::new();
            let mut next_last = 10;
            for (op, price, time, a) in ops {
                let present = keys.iter().position(|(x, _, _)| x.addr == Address::repeat_byte(a));
                match (op, present) {
                    (0, None) => {
                        let k = key(price, time, 0, a);
                        nodes.push(ix.insert(k, u32::from(a), price % 2 == 0));
                        keys.push((k, u32::from(a), price % 2 == 0));
                    }
                    (1, Some(i)) => {
                        ix.remove(nodes[i]);
                        keys.remove(i);
                        nodes.remove(i);
                    }
                    (2, Some(i)) => {
                        // An assignment: the most recent one so far.
                        next_last += 1;
                        let new = QuoteKey { last: next_last, ..keys[i].0 };
                        ix.rekey(nodes[i], new);
                        keys[i].0 = new;
                    }
                    (3, Some(i)) => {
                        // A new quote.
                        let new = QuoteKey { price, time, ..keys[i].0 };
                        ix.rekey(nodes[i], new);
                        keys[i].0 = new;
                    }
                    (4, Some(i)) => {
                        let listed = !keys[i].2;
                        ix.set_listed(nodes[i], listed);
                        prop_assert_eq!(ix.is_listed(nodes[i]), listed);
                        keys[i].2 = listed;
                    }
                    _ => {}
                }
                prop_assert_eq!(ix.listed(), keys.iter().filter(|k| k.2).count());
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
