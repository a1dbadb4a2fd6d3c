//! The ordered quote index of a market: an arena-based treap answering "the first key (in key order) whose
//! primary dimension is at most `P` and whose secondary dimension is at most `S`" in O(log n).
//!
//! Keys are ordered by their primary dimension first, so `primary <= P` is a prefix of the key order; every node
//! carries the minimum secondary value of its subtree, which lets the search skip whole subtrees that cannot
//! hold a fitting key. Node priorities come from a deterministic counter-based generator, so two treaps fed the
//! same operations have the same shape (the answers never depend on the shape, only the cost does).

/// A key of the index: totally ordered, primary dimension first.
pub(crate) trait IndexKey: Ord + Copy {
    /// The dimension the key order starts with (bounded by a prefix of the order).
    fn primary(&self) -> u128;
    /// The dimension bounded through the subtree minimum.
    fn secondary(&self) -> u128;
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Debug)]
struct Node<K> {
    key: K,
    value: u32,
    priority: u64,
    left: u32,
    right: u32,
    /// Minimum `secondary()` over this node's subtree.
    min_secondary: u128,
}

/// Treap of unique keys, each with a `u32` value (the generator id).
#[derive(Clone, Debug)]
pub(crate) struct Treap<K> {
    nodes: Vec<Node<K>>,
    free: Vec<u32>,
    root: u32,
    len: usize,
    counter: u64,
}

impl<K> Default for Treap<K> {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            len: 0,
            counter: 0,
        }
    }
}

/// SplitMix64: a fixed, well-mixed sequence of priorities.
const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl<K: IndexKey> Treap<K> {
    /// Number of keys.
    pub(crate) const fn len(&self) -> usize {
        self.len
    }

    /// Inserts `key` (which must not be present) with `value`.
    pub(crate) fn insert(&mut self, key: K, value: u32) {
        self.counter = self.counter.wrapping_add(1);
        let node = Node {
            key,
            value,
            priority: splitmix64(self.counter),
            left: NIL,
            right: NIL,
            min_secondary: key.secondary(),
        };
        let id = if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            id
        } else {
            // More than 2^32 - 1 quotes in one market cannot be indexed; the arena would exhaust memory first.
            let id = u32::try_from(self.nodes.len()).unwrap_or(NIL - 1);
            self.nodes.push(node);
            id
        };
        self.root = self.insert_at(self.root, id);
        self.len += 1;
    }

    /// Removes `key`; returns its value if it was present.
    pub(crate) fn remove(&mut self, key: &K) -> Option<u32> {
        let (root, removed) = self.remove_at(self.root, key);
        self.root = root;
        if removed != NIL {
            self.len -= 1;
            self.free.push(removed);
            Some(self.nodes[removed as usize].value)
        } else {
            None
        }
    }

    /// Replaces `old` (which must be present) by `new`, keeping its value. `new` must have the same secondary
    /// value. When no other key lies between the two, the node is updated in place (one descent, no
    /// restructuring: the order and the subtree minima are unchanged); otherwise it is removed and re-inserted.
    pub(crate) fn rekey(&mut self, old: &K, new: K) {
        debug_assert_eq!(old.secondary(), new.secondary());
        let (mut t, mut pred, mut succ) = (self.root, NIL, NIL);
        while t != NIL {
            let n = &self.nodes[t as usize];
            match old.cmp(&n.key) {
                std::cmp::Ordering::Less => {
                    succ = t;
                    t = n.left;
                }
                std::cmp::Ordering::Greater => {
                    pred = t;
                    t = n.right;
                }
                std::cmp::Ordering::Equal => break,
            }
        }
        if t == NIL {
            return;
        }
        let n = &self.nodes[t as usize];
        if n.left != NIL {
            pred = self.extreme(n.left, |n| n.right);
        }
        if n.right != NIL {
            succ = self.extreme(n.right, |n| n.left);
        }
        let fits = (pred == NIL || self.nodes[pred as usize].key < new)
            && (succ == NIL || new < self.nodes[succ as usize].key)
            && old.secondary() == new.secondary();
        if fits {
            self.nodes[t as usize].key = new;
        } else if let Some(value) = self.remove(old) {
            self.insert(new, value);
        }
    }

    /// The last node reached from `t` by following `next` (leftmost or rightmost of a subtree).
    fn extreme(&self, mut t: u32, next: impl Fn(&Node<K>) -> u32) -> u32 {
        loop {
            let child = next(&self.nodes[t as usize]);
            if child == NIL {
                return t;
            }
            t = child;
        }
    }

    /// The first key in key order that is strictly after `after` (if given), with `primary() <= max_primary` and
    /// `secondary() <= max_secondary`, and its value.
    pub(crate) fn first_fit(
        &self,
        after: Option<&K>,
        max_primary: u128,
        max_secondary: u128,
    ) -> Option<(K, u32)> {
        let id = self.first_fit_at(self.root, after, max_primary, max_secondary);
        (id != NIL).then(|| {
            let n = &self.nodes[id as usize];
            (n.key, n.value)
        })
    }

    /// All keys in order with their values (tests).
    #[cfg(test)]
    pub(crate) fn in_order(&self) -> Vec<(K, u32)> {
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

    fn first_fit_at(
        &self,
        t: u32,
        after: Option<&K>,
        max_primary: u128,
        max_secondary: u128,
    ) -> u32 {
        if t == NIL {
            return NIL;
        }
        let n = &self.nodes[t as usize];
        if n.min_secondary > max_secondary {
            return NIL;
        }
        if after.is_some_and(|a| n.key <= *a) {
            // This node and its left subtree are not after `after`.
            return self.first_fit_at(n.right, after, max_primary, max_secondary);
        }
        if n.key.primary() > max_primary {
            // Keys are ordered by primary first: this node and its right subtree are past the bound.
            return self.first_fit_at(n.left, after, max_primary, max_secondary);
        }
        let found = self.first_fit_at(n.left, after, max_primary, max_secondary);
        if found != NIL {
            return found;
        }
        if n.key.secondary() <= max_secondary {
            return t;
        }
        // Every key on the right is after this node, hence after `after`.
        self.first_fit_at(n.right, None, max_primary, max_secondary)
    }

    fn pull(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let mut min = n.key.secondary();
        if n.left != NIL {
            min = min.min(self.nodes[n.left as usize].min_secondary);
        }
        if n.right != NIL {
            min = min.min(self.nodes[n.right as usize].min_secondary);
        }
        self.nodes[t as usize].min_secondary = min;
    }

    fn insert_at(&mut self, t: u32, id: u32) -> u32 {
        if t == NIL {
            return id;
        }
        if self.nodes[id as usize].priority > self.nodes[t as usize].priority {
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
        self.pull(t);
        t
    }

    /// Splits `t` into the keys below `key` and the keys above it (`key` itself is not in `t`).
    fn split(&mut self, t: u32, key: &K) -> (u32, u32) {
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
        if self.nodes[a as usize].priority > self.nodes[b as usize].priority {
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
    fn remove_at(&mut self, t: u32, key: &K) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let (left, right) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
        match key.cmp(&self.nodes[t as usize].key) {
            std::cmp::Ordering::Equal => (self.merge(left, right), t),
            std::cmp::Ordering::Less => {
                let (child, removed) = self.remove_at(left, key);
                if removed != NIL {
                    self.nodes[t as usize].left = child;
                    self.pull(t);
                }
                (t, removed)
            }
            std::cmp::Ordering::Greater => {
                let (child, removed) = self.remove_at(right, key);
                if removed != NIL {
                    self.nodes[t as usize].right = child;
                    self.pull(t);
                }
                (t, removed)
            }
        }
    }

    /// Height of the tree (tests: the expected height is O(log n)).
    #[cfg(test)]
    fn height(&self) -> usize {
        fn h<K>(nodes: &[Node<K>], t: u32) -> usize {
            if t == NIL {
                0
            } else {
                let n = &nodes[t as usize];
                1 + h(nodes, n.left).max(h(nodes, n.right))
            }
        }
        h(&self.nodes, self.root)
    }

    /// Checks the order, heap and augmentation invariants (tests).
    #[cfg(test)]
    fn check(&self) {
        fn walk<K: IndexKey>(nodes: &[Node<K>], t: u32) -> (usize, u128) {
            if t == NIL {
                return (0, u128::MAX);
            }
            let n = &nodes[t as usize];
            let (lc, lm) = walk(nodes, n.left);
            let (rc, rm) = walk(nodes, n.right);
            if n.left != NIL {
                assert!(nodes[n.left as usize].key < n.key);
                assert!(nodes[n.left as usize].priority <= n.priority);
            }
            if n.right != NIL {
                assert!(nodes[n.right as usize].key > n.key);
                assert!(nodes[n.right as usize].priority <= n.priority);
            }
            let min = n.key.secondary().min(lm).min(rm);
            assert_eq!(n.min_secondary, min);
            (lc + rc + 1, min)
        }
        let (count, _) = walk(&self.nodes, self.root);
        assert_eq!(count, self.len);
        let keys = self.in_order();
        assert!(keys.windows(2).all(|w| w[0].0 < w[1].0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
    struct K(u8, u8, u16);

    impl IndexKey for K {
        fn primary(&self) -> u128 {
            self.0.into()
        }
        fn secondary(&self) -> u128 {
            self.1.into()
        }
    }

    fn brute(keys: &[K], after: Option<K>, p: u128, s: u128) -> Option<K> {
        let mut sorted = keys.to_vec();
        sorted.sort();
        sorted
            .into_iter()
            .find(|k| after.is_none_or(|a| *k > a) && k.primary() <= p && k.secondary() <= s)
    }

    #[test]
    fn empty_tree_finds_nothing() {
        let t = Treap::<K>::default();
        assert_eq!(t.first_fit(None, u128::MAX, u128::MAX), None);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn finds_the_first_key_meeting_both_bounds() {
        let mut t = Treap::default();
        // (primary, secondary): the cheapest is slow, the second cheapest is fast.
        for (i, k) in [K(1, 9, 0), K(2, 3, 0), K(3, 1, 0), K(5, 0, 0)]
            .into_iter()
            .enumerate()
        {
            t.insert(k, i as u32);
        }
        assert_eq!(t.first_fit(None, 10, 10), Some((K(1, 9, 0), 0)));
        assert_eq!(t.first_fit(None, 10, 5), Some((K(2, 3, 0), 1)));
        assert_eq!(t.first_fit(None, 10, 1), Some((K(3, 1, 0), 2)));
        assert_eq!(t.first_fit(None, 4, 0), None);
        assert_eq!(t.first_fit(None, 5, 0), Some((K(5, 0, 0), 3)));
        assert_eq!(t.first_fit(Some(&K(2, 3, 0)), 10, 5), Some((K(3, 1, 0), 2)));
        assert_eq!(t.remove(&K(3, 1, 0)), Some(2));
        assert_eq!(t.remove(&K(3, 1, 0)), None);
        assert_eq!(t.first_fit(None, 4, 1), None);
        t.check();
    }

    #[test]
    fn height_stays_logarithmic_for_sorted_inserts() {
        let mut t = Treap::default();
        for i in 0..10_000u32 {
            t.insert(K((i >> 8) as u8, i as u8, i as u16), i);
        }
        t.check();
        // Expected height of a random treap of 10k keys is ~ 2.99 ln n ≈ 28; a path would be 10k.
        assert!(t.height() < 60, "height {}", t.height());
    }

    proptest! {
        #[test]
        fn matches_a_sorted_scan(
            ops in prop::collection::vec((any::<bool>(), 0u8..8, 0u8..8, 0u16..4), 1..200),
            queries in prop::collection::vec((prop::option::of((0u8..8, 0u8..8, 0u16..4)), 0u128..9, 0u128..9), 1..20),
        ) {
            let mut t = Treap::default();
            let mut keys: Vec<K> = Vec::new();
            for (insert, a, b, c) in ops {
                let k = K(a, b, c);
                if insert && !keys.contains(&k) {
                    t.insert(k, u32::from(c));
                    keys.push(k);
                } else if !insert {
                    let present = keys.contains(&k);
                    prop_assert_eq!(t.remove(&k).is_some(), present);
                    keys.retain(|x| *x != k);
                }
                prop_assert_eq!(t.len(), keys.len());
            }
            t.check();
            // Re-keying moves keys within and across neighbours (same secondary).
            for (i, k) in keys.clone().into_iter().enumerate() {
                let new = K(k.0, k.1, (k.2 + 3 * i as u16) % 7);
                if !keys.contains(&new) {
                    t.rekey(&k, new);
                    keys.retain(|x| *x != k);
                    keys.push(new);
                    t.check();
                }
            }
            prop_assert_eq!(t.len(), keys.len());
            for (after, p, s) in queries {
                let after = after.map(|(a, b, c)| K(a, b, c));
                let got = t.first_fit(after.as_ref(), p, s).map(|(k, _)| k);
                prop_assert_eq!(got, brute(&keys, after, p, s));
            }
        }
    }
}
