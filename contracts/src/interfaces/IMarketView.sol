// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IMarketView
/// @notice The facts about a market that other protocol contracts (the key registry) need. Implemented by the
/// ProofMarketplace.
interface IMarketView {
    /// @notice Whether `marketId` exists.
    function marketExists(uint256 marketId) external view returns (bool);

    /// @notice The address that created `marketId` (zero if it does not exist).
    function marketCreator(uint256 marketId) external view returns (address);

    /// @notice The market's primary prover enclave image; zero for a public-input market.
    function proverImageId(uint256 marketId) external view returns (bytes32);

    /// @notice The market's input-verification enclave image; zero when the IVS is not enclave-bound.
    function ivsImageId(uint256 marketId) external view returns (bytes32);

    /// @notice Whether `imageId` may run the market's prover: the primary image or one of its extra images.
    function isProverImage(uint256 marketId, bytes32 imageId) external view returns (bool);
}
