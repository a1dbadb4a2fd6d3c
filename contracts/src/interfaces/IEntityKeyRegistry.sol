// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IEntityKeyRegistry — the part the marketplace depends on
/// @notice Keys of the protocol's off-chain entities: the Matching Engine, each market's IVS signers, and each
/// generator's per-market enclave encryption key.
/// @dev The full interface (registration functions, events, errors) extends this one in the registry's own
/// file; this file holds only the views the marketplace calls on its hot paths.
interface IEntityKeyRegistryView {
    /// @notice The address whose EIP-712 signatures authorise task assignments (zero when none is set).
    function matchingEngine() external view returns (address);

    /// @notice Whether `signer` may sign invalid-input attestations for `marketId`.
    function isIvsSigner(uint256 marketId, address signer) external view returns (bool);

    /// @notice Whether `generator` has an enclave encryption key registered for `marketId` (needed to be
    /// assigned tasks of confidential markets).
    function hasGeneratorKey(uint256 marketId, address generator) external view returns (bool);
}
