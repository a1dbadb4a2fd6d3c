//! Who is who on the devnet: anvil's well-known dev accounts 0 to 16 (mnemonic "test test … junk"; both anvils run
//! with `--accounts 17`, so every role has the same address, funded, on the L2 and the L1), one role each. These keys
//! are public: never fund them on a real network.

use alloy::signers::local::PrivateKeySigner;

/// Anvil's dev keys (mnemonic indexes 0 to 16), in account order.
const ANVIL_KEYS: [&str; 17] = [
    "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "dbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
    "f214f2b2cd398c806f84e317254e0f0b801d0643303237d97a22a48e01628897",
    "701b615bbdfb9de65240bc28bd21bbc0d996645a3dd57e7b12bc2bdf6f192c82",
    "a267530f49f8280200edf313ee7af6b827f2a8bce2897751d06a843f644967b1",
    "47c99abed3324a2707c28affff1267e45918ec8c3f20b8aa892e8b065d2942dd",
    "c526ee95bf44d8fc405a158bb884d9d1238d99f0612e9f33d006bb0789009aaa",
    "8166f546bab6da521a8369cab06c5d2b9e46670292d85c875ee9ec20e84ffb61",
    "ea6c44ac03bff858b476bba40716402b03e41b8e97e276d1baec7c37d42484a0",
];

/// Accounts the devnet's anvil funds (`--accounts`).
pub const ACCOUNTS: usize = ANVIL_KEYS.len();

/// A devnet role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Deploys the protocol, creates the markets, registers the IVS key; the key admin (sets the ME key).
    Admin,
    /// Proposes timelocked operations (upgrades, parameters): the only way to use the admin role.
    Governance,
    /// Pauses the marketplace and key registrations at once.
    Guardian,
    /// Receives fees and the protocol's share of penalties (no power).
    Treasury,
    /// The registered Matching Engine key.
    MatchingEngine,
    /// Slashes missed deadlines (run by the engine with its own account).
    Keeper,
    /// Signs invalid-input attestations for the Merkle market.
    Ivs,
    /// The `i`-th generator (0..7).
    Generator(usize),
    /// Places the asks.
    Requester,
    /// The restaking committee's relayer: signs the L1 stake snapshots and slash requests, and sends them.
    Relayer,
    /// The veto resolver of the L1 vaults' slashers.
    Resolver,
}

impl Role {
    const fn index(self) -> usize {
        match self {
            Self::Admin => 0,
            Self::MatchingEngine => 1,
            Self::Keeper => 2,
            Self::Ivs => 3,
            Self::Requester => 4,
            Self::Generator(i) if i < 5 => 5 + i,
            Self::Generator(i) if i < MAX_GENERATORS => 13 + (i - 5),
            Self::Generator(_) => usize::MAX, // no account: `key_hex` panics
            Self::Governance => 10,
            Self::Guardian => 11,
            Self::Treasury => 12,
            Self::Relayer => 15,
            Self::Resolver => 16,
        }
    }

    /// The hex private key (no `0x`), for a child process's environment.
    ///
    /// # Panics
    /// For a generator index above 6 (generators use accounts 5 to 9, 13 and 14).
    pub fn key_hex(self) -> &'static str {
        ANVIL_KEYS
            .get(self.index())
            .unwrap_or_else(|| panic!("anvil has no dev account for {self:?}"))
    }

    /// The signer.
    pub fn signer(self) -> PrivateKeySigner {
        self.key_hex()
            .parse()
            .unwrap_or_else(|e| unreachable!("anvil's dev keys parse: {e}"))
    }
}

/// Generators the devnet can run (accounts 5 to 9, 13 and 14).
pub const MAX_GENERATORS: usize = 7;

/// An INSECURE devnet key that needs no funds, derived from a public label (anyone can recompute it): never
/// use one outside a devnet.
fn insecure_key(label: &str) -> PrivateKeySigner {
    let seed = alloy::primitives::keccak256(format!("kalypso devnet INSECURE key: {label}"));
    PrivateKeySigner::from_bytes(&seed).unwrap_or_else(|e| {
        unreachable!("a keccak digest is a valid key but with negligible odds: {e}")
    })
}

/// INSECURE: the attestation signer the devnet's deployment trusts, standing in for the attestation-verifier
/// service. It signs enclave attestations without any Nitro document: a devnet has no enclaves.
pub fn insecure_attester() -> PrivateKeySigner {
    insecure_key("attestation signer")
}

/// INSECURE: the enclave key of the `i`-th generator's node (the node stands in for its enclave).
pub fn insecure_enclave(i: usize) -> PrivateKeySigner {
    insecure_key(&format!("enclave of generator {i}"))
}

/// INSECURE: the prover image id of the devnet's confidential market (no real enclave image has it).
pub fn insecure_prover_image() -> alloy::primitives::B256 {
    alloy::primitives::keccak256("kalypso devnet INSECURE prover image")
}

/// INSECURE: the IVS image id of the devnet's TEE market, whose IVS key is registered with an attestation for it
/// (the IVS process stands in for its enclave; no real enclave image has it).
pub fn insecure_ivs_image() -> alloy::primitives::B256 {
    alloy::primitives::keccak256("kalypso devnet INSECURE IVS image")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_has_its_own_funded_account() {
        let mut roles = vec![
            Role::Admin,
            Role::Governance,
            Role::Guardian,
            Role::Treasury,
            Role::MatchingEngine,
            Role::Keeper,
            Role::Ivs,
            Role::Requester,
            Role::Relayer,
            Role::Resolver,
        ];
        roles.extend((0..MAX_GENERATORS).map(Role::Generator));
        let mut addresses: Vec<_> = roles.iter().map(|r| r.signer().address()).collect();
        addresses.sort();
        addresses.dedup();
        assert_eq!(addresses.len(), roles.len());
        assert!(roles.iter().all(|r| r.index() < ACCOUNTS));
        // Mnemonic index 16 of "test … junk".
        assert_eq!(
            Role::Resolver.signer().address(),
            alloy::primitives::address!("0x2546BcD3c84621e976D8185a91A922aE77ECEc30")
        );
    }
}
