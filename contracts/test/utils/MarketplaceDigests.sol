// SPDX-License-Identifier: MIT
pragma solidity ^0.8.30;

import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";

/// @notice The marketplace's EIP-712 digests computed from the type strings alone, independently of the contract
/// (which exposes only its domain separator): what the Matching Engine and IVS keys sign in the tests.
library MarketplaceDigests {
    bytes32 internal constant ASSIGNMENT_TYPEHASH =
        keccak256("Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)");
    bytes32 internal constant ASSIGN_BATCH_TYPEHASH = keccak256(
        "AssignBatch(Assignment[] assignments,uint256 nonce,uint256 expiry)"
        "Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)"
    );
    bytes32 internal constant INVALID_INPUT_TYPEHASH =
        keccak256("InvalidInput(uint256 marketId,uint256 askId,bytes32 inputsHash)");

    /// What the Matching Engine signs for `relayAssignments`.
    function assignBatch(
        bytes32 domainSeparator,
        IProofMarketplace.Assignment[] memory items,
        uint256 nonce,
        uint256 expiry
    ) internal pure returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](items.length);
        for (uint256 i; i < items.length; ++i) {
            IProofMarketplace.Assignment memory x = items[i];
            hashes[i] = keccak256(
                abi.encode(ASSIGNMENT_TYPEHASH, x.askId, x.generator, x.maxPrice, x.maxProofTime, keccak256(x.acl))
            );
        }
        bytes32 structHash =
            keccak256(abi.encode(ASSIGN_BATCH_TYPEHASH, keccak256(abi.encodePacked(hashes)), nonce, expiry));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    /// What an IVS key signs for `submitInvalidInputAttestation`.
    function invalidInput(bytes32 domainSeparator, uint256 marketId, uint256 askId, bytes32 inputsHash)
        internal
        pure
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(INVALID_INPUT_TYPEHASH, marketId, askId, inputsHash));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }
}
