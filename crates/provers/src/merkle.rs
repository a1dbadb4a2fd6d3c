//! Merkle membership over a MiMC-5 compression: the second sample circuit.
//!
//! The tree hashes pairs with `H(l, r) = Eₗ(r) + l + r` (Miyaguchi–Preneel over the keyed MiMC-5
//! permutation `Eₖ(x) = s₁₁₀ + k` with `s₀ = x`, `sᵢ₊₁ = (sᵢ + k + cᵢ)⁵`). The round constants `cᵢ` are the
//! [`mimc`](crate::mimc) chain's (`keccak256("kalypso.mimc5.bn254" ‖ be32(i)) mod r`); 110 rounds is
//! `⌈log₅ r⌉`, the usual MiMC round count for a 254-bit field. Like the hash chain it is a devnet workload,
//! not a vetted hash.
//!
//! The circuit proves that `leaf` is the leaf at some index of a depth-`d` tree with root `root`, without
//! revealing the index or the path in the proof. Public signals `[root, leaf]` (both supplied by the
//! requester, no outputs); witness: one direction bit and one sibling per level. `332·d + 1` constraints:
//! per level 330 for the compression, 1 for the direction bit, 1 for ordering the pair.
//!
//! # Prover data
//!
//! `root ‖ leaf ‖ index ‖ sibling₀ ‖ … ‖ sibling_{d−1}`, every value a 32-byte big-endian word:
//! `index` is a big-endian integer `< 2^d` in `⌈d/256⌉` words whose bit `i` (least significant first) says
//! that the node at level `i` is a right child; `sibling₀` is the leaf's sibling. The `Groth16Verifier`
//! reads the first two words and ignores the path, which only the prover needs.

use std::sync::Arc;

use ark_ff::{AdditiveGroup, Field};
use ark_r1cs_std::{
    alloc::AllocVar,
    boolean::Boolean,
    eq::EqGadget,
    fields::{FieldVar, fp::FpVar},
    select::CondSelectGadget,
};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use ark_std::UniformRand;
use rand_chacha::{ChaCha20Rng, rand_core::RngCore};

use crate::{Fr, evm, mimc::MimcChain};

/// Rounds of the keyed permutation inside one compression: `⌈log₅ r⌉` for BN254.
pub const COMPRESSION_ROUNDS: usize = 110;

/// R1CS constraints of one tree level: the compression (3 per round), the direction bit, the pair order.
pub const CONSTRAINTS_PER_LEVEL: usize = 3 * COMPRESSION_ROUNDS + 2;

/// Words of the `index` field for a tree of `depth` levels.
pub fn index_words(depth: usize) -> usize {
    depth.div_ceil(256).max(1)
}

/// Bytes of the prover data for a tree of `depth` levels.
pub fn inputs_len(depth: usize) -> usize {
    evm::WORD_LEN * (2 + index_words(depth) + depth)
}

/// The 2-to-1 compression `H(l, r)` of the tree.
///
/// Cheap to clone: the constants are shared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MimcCompression {
    round_constants: Arc<[Fr]>,
}

impl Default for MimcCompression {
    fn default() -> Self {
        Self::new()
    }
}

impl MimcCompression {
    /// The compression with the documented constants.
    pub fn new() -> Self {
        Self {
            round_constants: MimcChain::new(COMPRESSION_ROUNDS).round_constants().into(),
        }
    }

    /// `H(left, right)` natively.
    pub fn compress(&self, left: Fr, right: Fr) -> Fr {
        let permuted = self.round_constants.iter().fold(right, |s, c| {
            let t = s + left + c;
            t.square().square() * t
        });
        permuted + left.double() + right
    }

    /// `H(left, right)` in a circuit: `3·COMPRESSION_ROUNDS` constraints.
    pub fn compress_gadget(
        &self,
        left: &FpVar<Fr>,
        right: &FpVar<Fr>,
    ) -> Result<FpVar<Fr>, SynthesisError> {
        let mut s = right.clone();
        for c in self.round_constants.iter() {
            let t = &s + left + *c; // linear: no constraint
            let t4 = t.square()?.square()?; // 2 constraints
            s = t4 * &t; // 1 constraint
        }
        Ok(s + left.double()? + right)
    }
}

/// A membership statement with its witness: a leaf, the path from it to the root, and the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MerklePath {
    /// The root the path must reach.
    pub root: Fr,
    /// The leaf.
    pub leaf: Fr,
    /// Direction per level, leaf first: `true` when the node at that level is a right child.
    pub directions: Vec<bool>,
    /// Sibling per level, leaf first.
    pub siblings: Vec<Fr>,
}

impl MerklePath {
    /// A random path of `depth` levels drawn from `rng`, with the root it leads to.
    pub fn random(depth: usize, compression: &MimcCompression, rng: &mut ChaCha20Rng) -> Self {
        let leaf = Fr::rand(rng);
        let siblings: Vec<Fr> = (0..depth).map(|_| Fr::rand(rng)).collect();
        let directions: Vec<bool> = (0..depth).map(|_| rng.next_u32() & 1 == 1).collect();
        let mut path = Self {
            root: Fr::ZERO,
            leaf,
            directions,
            siblings,
        };
        path.root = path.computed_root(compression);
        path
    }

    /// Levels of the path.
    pub fn depth(&self) -> usize {
        self.siblings.len()
    }

    /// The root this leaf and path lead to.
    pub fn computed_root(&self, compression: &MimcCompression) -> Fr {
        self.directions
            .iter()
            .zip(&self.siblings)
            .fold(self.leaf, |node, (&is_right, &sibling)| {
                if is_right {
                    compression.compress(sibling, node)
                } else {
                    compression.compress(node, sibling)
                }
            })
    }

    /// Whether the path leads to [`Self::root`].
    pub fn is_valid(&self, compression: &MimcCompression) -> bool {
        self.directions.len() == self.siblings.len() && self.computed_root(compression) == self.root
    }

    /// The prover data (see the module docs).
    pub fn encode(&self) -> Vec<u8> {
        let depth = self.depth();
        let mut out = Vec::with_capacity(inputs_len(depth));
        out.extend_from_slice(&evm::encode_fr(&self.root));
        out.extend_from_slice(&evm::encode_fr(&self.leaf));
        let mut index = vec![0u8; evm::WORD_LEN * index_words(depth)];
        let last = index.len() - 1;
        for (i, _) in self.directions.iter().enumerate().filter(|(_, d)| **d) {
            index[last - i / 8] |= 1 << (i % 8);
        }
        out.extend_from_slice(&index);
        for s in &self.siblings {
            out.extend_from_slice(&evm::encode_fr(s));
        }
        out
    }

    /// Parses prover data for a tree of `depth` levels. Checks the layout and that every word is a
    /// canonical scalar, not that the path leads to the root ([`Self::is_valid`]).
    pub fn decode(depth: usize, data: &[u8]) -> Result<Self, String> {
        let expected = inputs_len(depth);
        if data.len() != expected {
            return Err(format!(
                "expected {expected} bytes (root, leaf, index, {depth} siblings), got {}",
                data.len()
            ));
        }
        let word = |i: usize| &data[evm::WORD_LEN * i..evm::WORD_LEN * (i + 1)];
        let scalar = |i: usize, what: &str| {
            evm::decode_fr(word(i)).map_err(|_| {
                format!(
                    "{what} 0x{} is not a BN254 scalar (>= r)",
                    hex::encode(word(i))
                )
            })
        };
        let root = scalar(0, "root")?;
        let leaf = scalar(1, "leaf")?;
        let index_len = evm::WORD_LEN * index_words(depth);
        let index = &data[2 * evm::WORD_LEN..2 * evm::WORD_LEN + index_len];
        let bit = |i: usize| (index[index_len - 1 - i / 8] >> (i % 8)) & 1 == 1;
        if (depth..8 * index_len).any(bit) {
            return Err(format!("the index is not below 2^{depth}"));
        }
        let directions = (0..depth).map(bit).collect();
        let first_sibling = 2 + index_words(depth);
        let siblings = (0..depth)
            .map(|i| scalar(first_sibling + i, &format!("sibling {i}")))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            root,
            leaf,
            directions,
            siblings,
        })
    }

    /// The circuit proving this statement.
    pub fn circuit(&self, compression: &MimcCompression) -> MerkleCircuit {
        MerkleCircuit {
            compression: compression.clone(),
            path: self.clone(),
        }
    }
}

/// The Groth16 circuit of a [`MerklePath`]: public signals `[root, leaf]`, the path as witness.
#[derive(Clone, Debug)]
pub struct MerkleCircuit {
    compression: MimcCompression,
    path: MerklePath,
}

impl MerkleCircuit {
    /// The statement and witness.
    pub fn path(&self) -> &MerklePath {
        &self.path
    }

    /// R1CS constraints of a depth-`depth` circuit.
    pub fn num_constraints(depth: usize) -> usize {
        CONSTRAINTS_PER_LEVEL * depth + 1
    }

    /// The public signals in circuit order: `[root, leaf]`.
    pub fn public_signals(&self) -> [Fr; 2] {
        [self.path.root, self.path.leaf]
    }
}

impl ConstraintSynthesizer<Fr> for MerkleCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let MerklePath {
            root,
            leaf,
            directions,
            siblings,
        } = self.path;
        // Instance variables in signal order: root, then leaf.
        let root = FpVar::new_input(cs.clone(), || Ok(root))?;
        let mut node = FpVar::new_input(cs.clone(), || Ok(leaf))?;
        for (is_right, sibling) in directions.into_iter().zip(siblings) {
            let is_right = Boolean::new_witness(cs.clone(), || Ok(is_right))?; // 1 constraint
            let sibling = FpVar::new_witness(cs.clone(), || Ok(sibling))?;
            // A right child hashes as H(sibling, node), a left child as H(node, sibling).
            let left = FpVar::conditionally_select(&is_right, &sibling, &node)?; // 1 constraint
            let right = &node + &sibling - &left;
            node = self.compression.compress_gadget(&left, &right)?;
        }
        node.enforce_equal(&root) // 1 constraint
    }
}

#[cfg(test)]
mod tests {
    use ark_relations::gr1cs::ConstraintSystem;
    use rand_chacha::rand_core::SeedableRng;

    use super::*;

    fn satisfied(circuit: MerkleCircuit) -> (bool, usize) {
        let cs = ConstraintSystem::new_ref();
        circuit
            .generate_constraints(cs.clone())
            .expect("synthesis of a well-formed circuit succeeds");
        cs.finalize();
        (
            cs.is_satisfied().expect("prove mode has assignments"),
            cs.num_constraints(),
        )
    }

    #[test]
    fn compression_is_order_sensitive_and_matches_definition() {
        let h = MimcCompression::new();
        let (a, b) = (Fr::from(1u64), Fr::from(2u64));
        assert_ne!(h.compress(a, b), h.compress(b, a));
        let constants = MimcChain::new(COMPRESSION_ROUNDS);
        let e = constants
            .round_constants()
            .iter()
            .fold(b, |s, c| (s + a + c).pow([5]));
        assert_eq!(h.compress(a, b), e + a + a + b);
    }

    #[test]
    fn circuit_agrees_with_native_and_counts_constraints() {
        let h = MimcCompression::new();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        for depth in [1, 2, 5] {
            let path = MerklePath::random(depth, &h, &mut rng);
            assert!(path.is_valid(&h));
            let (ok, constraints) = satisfied(path.circuit(&h));
            assert!(ok, "depth {depth}");
            assert_eq!(constraints, MerkleCircuit::num_constraints(depth));
        }
    }

    #[test]
    fn circuit_rejects_wrong_root_sibling_or_direction() {
        let h = MimcCompression::new();
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let path = MerklePath::random(3, &h, &mut rng);

        let mut wrong_root = path.clone();
        wrong_root.root += Fr::from(1u64);
        assert!(!wrong_root.is_valid(&h));
        assert!(!satisfied(wrong_root.circuit(&h)).0);

        let mut wrong_sibling = path.clone();
        wrong_sibling.siblings[1] += Fr::from(1u64);
        assert!(!satisfied(wrong_sibling.circuit(&h)).0);

        let mut wrong_direction = path;
        wrong_direction.directions[2] ^= true;
        assert!(!satisfied(wrong_direction.circuit(&h)).0);
    }

    #[test]
    fn encoding_round_trips_and_rejects_bad_layouts() {
        let h = MimcCompression::new();
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for depth in [1, 9, 256, 257] {
            let path = MerklePath::random(depth, &h, &mut rng);
            let bytes = path.encode();
            assert_eq!(bytes.len(), inputs_len(depth));
            assert_eq!(MerklePath::decode(depth, &bytes).expect("decodes"), path);
        }
        assert_eq!(index_words(256), 1);
        assert_eq!(index_words(257), 2);

        let path = MerklePath::random(4, &h, &mut rng);
        let bytes = path.encode();
        assert!(
            MerklePath::decode(4, &bytes[..bytes.len() - 1])
                .unwrap_err()
                .contains("expected 224 bytes")
        );
        let mut high_index = bytes.clone();
        high_index[2 * 32 + 31] |= 0x10; // bit 4 of a depth-4 index
        assert!(
            MerklePath::decode(4, &high_index)
                .unwrap_err()
                .contains("below 2^4")
        );
        let mut bad_sibling = bytes;
        bad_sibling[3 * 32 + 32..3 * 32 + 64].fill(0xff); // sibling 1
        assert!(
            MerklePath::decode(4, &bad_sibling)
                .unwrap_err()
                .contains("sibling 1")
        );
    }
}
