//! The EIP-712 messages of the protocol and their signing domains. Field names follow the Solidity types
//! exactly (they are part of the type hash).

use alloy::{
    primitives::Address,
    sol_types::{Eip712Domain, eip712_domain},
};

alloy::sol! {
    /// One assignment of the Matching Engine: `askId` to `generator`, valid while the generator's quote is
    /// within `maxPrice` and `maxProofTime` (the quote the engine matched on).
    #[derive(Debug, PartialEq, Eq)]
    struct Assignment {
        uint256 askId;
        address generator;
        uint256 maxPrice;
        uint256 maxProofTime;
        bytes acl;
    }

    /// A batch of assignments signed by the Matching Engine key; relayed by anyone.
    #[derive(Debug, PartialEq, Eq)]
    struct AssignBatch {
        Assignment[] assignments;
        uint256 nonce;
        uint256 expiry;
    }

    /// An IVS attestation that the inputs of `askId` (hash `inputsHash`) are invalid for `marketId`.
    #[derive(Debug, PartialEq, Eq)]
    struct InvalidInput {
        uint256 marketId;
        uint256 askId;
        bytes32 inputsHash;
    }

    /// A trusted attestation verifier's statement that `enclavePubKey` runs image `imageId`.
    #[derive(Debug, PartialEq, Eq)]
    struct EnclaveAttestation {
        bytes enclavePubKey;
        bytes32 imageId;
        uint64 timestampMs;
    }

    /// An enclave's signature over a result, accepted by the TEE verifier: it names the ask (its inputs and its
    /// secret commitment, zero without secret inputs), the output and the generator the ask is assigned to.
    #[derive(Debug, PartialEq, Eq)]
    struct TeeProof {
        bytes32 inputsHash;
        bytes32 secretCommitment;
        bytes32 outputHash;
        address generator;
    }

    /// An enclave key's consent to be registered as `generator`'s key for `marketId` (signed by the enclave key).
    #[derive(Debug, PartialEq, Eq)]
    struct GeneratorKeyRegistration {
        address generator;
        uint256 marketId;
    }

    /// The restaking committee's view of operators' stake at the capture timestamp of L1 network epoch `epoch`,
    /// posted to an L2 `RestakingPool`; slash ids below `settledSlashes` were settled on the L1 by then.
    #[derive(Debug, PartialEq, Eq)]
    struct Snapshot {
        uint64 epoch;
        uint64 settledSlashes;
        address[] operators;
        uint256[] stakes;
    }

    /// The restaking committee's request to slash `amount` of `operator`'s restaked stake at `captureTimestamp`,
    /// carried from slash `slashId` of the restaking pool `pool` on chain `l2ChainId` to the L1 Symbiotic
    /// middleware (which keys it by all three).
    #[derive(Debug, PartialEq, Eq)]
    struct SlashRequest {
        uint256 l2ChainId;
        address pool;
        uint64 slashId;
        address operator;
        uint256 amount;
        uint48 captureTimestamp;
    }
}

/// Domain of the marketplace's messages (`AssignBatch`, `InvalidInput`): the verifying contract is the
/// marketplace proxy.
pub fn marketplace_domain(chain_id: u64, marketplace: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Kalypso ProofMarketplace",
        version: "1",
        chain_id: chain_id,
        verifying_contract: marketplace,
    }
}

/// Domain of `EnclaveAttestation` (the attestation verifier proxy).
pub fn attestation_domain(chain_id: u64, attestation_verifier: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Kalypso AttestationVerifier",
        version: "1",
        chain_id: chain_id,
        verifying_contract: attestation_verifier,
    }
}

/// Domain of `GeneratorKeyRegistration` (the entity key registry proxy).
pub fn key_registry_domain(chain_id: u64, key_registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Kalypso EntityKeyRegistry",
        version: "1",
        chain_id: chain_id,
        verifying_contract: key_registry,
    }
}

/// Domain of `TeeProof` (one TEE verifier contract).
pub fn tee_domain(chain_id: u64, tee_verifier: Address) -> Eip712Domain {
    eip712_domain! {
        name: "Kalypso TeeVerifier",
        version: "1",
        chain_id: chain_id,
        verifying_contract: tee_verifier,
    }
}

/// Domain of `Snapshot` (one L2 restaking pool).
pub fn restaking_pool_domain(chain_id: u64, pool: Address) -> Eip712Domain {
    eip712_domain! {
        name: "KalypsoRestakingPool",
        version: "1",
        chain_id: chain_id,
        verifying_contract: pool,
    }
}

/// Domain of `SlashRequest` (the L1 Symbiotic network middleware).
pub fn symbiotic_middleware_domain(chain_id: u64, middleware: Address) -> Eip712Domain {
    eip712_domain! {
        name: "KalypsoMiddleware",
        version: "1",
        chain_id: chain_id,
        verifying_contract: middleware,
    }
}
