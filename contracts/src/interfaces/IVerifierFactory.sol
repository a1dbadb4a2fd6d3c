// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntityKeyRegistry} from "../registry/EntityKeyRegistry.sol";

/// @title IVerifierFactory
/// @notice Deploys the protocol's verifiers and vouches for them. The marketplace creates markets only on verifiers
/// this factory deployed, so a market's proof rule is code that cannot change: the factory deploys exactly the
/// protocol's verifier contracts (no proxies, no owner, no self-destruct), and is itself neither upgradeable nor
/// administered. A creator therefore cannot make valid proofs fail after its market's tasks are assigned.
interface IVerifierFactory {
    /// @notice The kinds of verifier the factory deploys. `None` marks an address it did not deploy.
    enum Kind {
        None,
        Groth16,
        Tee
    }

    /// @notice The new verifier's `checkSampleInputsAndProof()` failed: its sample proof does not verify.
    error SampleProofRejected(address verifier);

    /// @notice The factory needs the protocol's key registry.
    error ZeroKeyRegistry();

    /// @notice `deployer` had the factory deploy `verifier` of `kind`.
    event VerifierDeployed(address indexed verifier, Kind indexed kind, address indexed deployer);

    /// @notice Deploys a `Groth16Verifier` (constructor arguments as documented there; at least one public signal
    /// must come from the ask's inputs). Reverts {SampleProofRejected} unless the sample proof verifies.
    /// @return verifier The new verifier.
    function deployGroth16(
        bytes calldata verifyingKey,
        uint256 numInputs,
        bytes calldata sampleInput,
        bytes calldata sampleProof
    ) external returns (address verifier);

    /// @notice Deploys a `TeeVerifier` trusting the enclave keys {keyRegistry} records for `imageId` (other
    /// constructor arguments as documented there): a market creator cannot name a registry of its own, which could
    /// accept its keys or stop accepting honest ones. Its sample proof is signed for the verifier's own address:
    /// {nextVerifier} says which address the next deployment gets.
    /// @return verifier The new verifier.
    function deployTee(bytes32 imageId, address sampleSigner, bytes calldata sampleInput, bytes calldata sampleProof)
        external
        returns (address verifier);

    /// @notice The protocol's key registry, the only one this factory's TeeVerifiers trust.
    function keyRegistry() external view returns (IEntityKeyRegistry);

    /// @notice The kind of `verifier`, `None` if this factory did not deploy it.
    function kindOf(address verifier) external view returns (Kind);

    /// @notice Whether this factory deployed `verifier`.
    function isVerifier(address verifier) external view returns (bool);

    /// @notice The address the next verifier deployed by this factory will have (CREATE from the factory).
    function nextVerifier() external view returns (address);
}
