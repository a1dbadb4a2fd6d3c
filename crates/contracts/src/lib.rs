#![doc = include_str!("../README.md")]

/// The EIP-712 type of one Matching Engine assignment (the marketplace's `ASSIGNMENT_TYPEHASH`).
pub const ASSIGNMENT_TYPE: &str =
    "Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)";

/// The EIP-712 type the Matching Engine signs for a batch of assignments, referenced types appended (the
/// marketplace's `ASSIGN_BATCH_TYPEHASH`).
pub const ASSIGN_BATCH_TYPE: &str = concat!(
    "AssignBatch(Assignment[] assignments,uint256 nonce,uint256 expiry)",
    "Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)"
);

/// The EIP-712 type an IVS key signs to attest that an ask's inputs are invalid for its market.
pub const INVALID_INPUT_TYPE: &str =
    "InvalidInput(uint256 marketId,uint256 askId,bytes32 inputsHash)";

/// The EIP-712 type a trusted attestation verifier signs for an enclave key.
pub const ENCLAVE_ATTESTATION_TYPE: &str =
    "EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)";

/// The EIP-712 type a generator's enclave key signs to be registered for that generator and market.
pub const GENERATOR_KEY_REGISTRATION_TYPE: &str =
    "GeneratorKeyRegistration(address generator,uint256 marketId)";

/// The EIP-712 type the restaking committee signs for a snapshot of operators' L1 stake (the restaking pool's
/// `SNAPSHOT_TYPEHASH`).
pub const RESTAKING_SNAPSHOT_TYPE: &str =
    "Snapshot(uint64 epoch,uint64 settledSlashes,address[] operators,uint256[] stakes)";

/// The EIP-712 type the restaking committee signs for a slash request to the L1 Symbiotic middleware (its
/// `SLASH_REQUEST_TYPEHASH`).
pub const SLASH_REQUEST_TYPE: &str = "SlashRequest(uint256 l2ChainId,address pool,uint64 slashId,address operator,uint256 amount,uint48 captureTimestamp)";

/// The EIP-712 type a TEE verifier's enclave key signs over a result.
pub const TEE_PROOF_TYPE: &str =
    "TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)";

// Each contract lives in its own module: the interfaces its ABI mentions (IGeneratorRegistry.SkipReason, ...) are
// generated inside it, so shared types never clash.

/// The marketplace: markets, asks, assignment, settlement and payouts.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod marketplace {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        ProofMarketplace,
        "artifacts/ProofMarketplace.json"
    );
}

/// Generators, quotes, compute accounting across markets, and the native staking pool.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod generator_registry {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        GeneratorRegistry,
        "artifacts/GeneratorRegistry.json"
    );
}

/// Matching Engine, IVS and generator enclave keys.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod key_registry {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        EntityKeyRegistry,
        "artifacts/EntityKeyRegistry.json"
    );
}

/// Trusted attestation signers and freshness rules.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod attestation_verifier {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        AttestationVerifier,
        "artifacts/AttestationVerifier.json"
    );
}

/// Groth16 BN254 verifier for any circuit.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod groth16_verifier {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        Groth16Verifier,
        "artifacts/Groth16Verifier.json"
    );
}

/// Verifier of enclave-signed results.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod tee_verifier {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        TeeVerifier,
        "artifacts/TeeVerifier.json"
    );
}

/// Deploys the verifiers markets may use (a market's proof rule is code that cannot change).
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod verifier_factory {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        VerifierFactory,
        "artifacts/VerifierFactory.json"
    );
}

/// Mintable test ERC-20 (devnets and tests only).
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod test_token {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        TestToken,
        "artifacts/TestToken.json"
    );
}

/// OpenZeppelin ERC-1967 proxy, behind which the upgradeable contracts are deployed.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod proxy {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        ERC1967Proxy,
        "artifacts/ERC1967Proxy.json"
    );
}

/// Restaked collateral bridged in from a Symbiotic network by committee snapshots; a collateral pool of the
/// generator registry.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod restaking_pool {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        RestakingPool,
        "artifacts/RestakingPool.json"
    );
}

/// Kalypso's Symbiotic network middleware on the L1 (`contracts-l1/`): epoch snapshots of operators' restaked
/// stake and committee-signed slash requests through the vaults' veto slashers.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod symbiotic_middleware {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        KalypsoMiddleware,
        "artifacts/KalypsoMiddleware.json"
    );
}

/// OpenZeppelin timelock, the admin of every upgradeable contract in a production deployment.
#[allow(missing_docs, clippy::too_many_arguments)] // generated code
pub mod timelock {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        TimelockController,
        "artifacts/TimelockController.json"
    );
}

pub use attestation_verifier::AttestationVerifier;
pub use generator_registry::GeneratorRegistry;
pub use groth16_verifier::Groth16Verifier;
pub use key_registry::EntityKeyRegistry;
pub use marketplace::ProofMarketplace;
pub use proxy::ERC1967Proxy;
pub use restaking_pool::RestakingPool;
pub use symbiotic_middleware::KalypsoMiddleware;
pub use tee_verifier::TeeVerifier;
pub use test_token::TestToken;
pub use timelock::TimelockController;
pub use verifier_factory::VerifierFactory;
