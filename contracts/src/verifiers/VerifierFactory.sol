// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IVerifier} from "../interfaces/IVerifier.sol";
import {IVerifierFactory} from "../interfaces/IVerifierFactory.sol";
import {IEntityKeyRegistry} from "../registry/EntityKeyRegistry.sol";
import {Groth16Verifier} from "./Groth16Verifier.sol";
import {TeeVerifier} from "./TeeVerifier.sol";

/// @title VerifierFactory
/// @notice Deploys `Groth16Verifier`s and `TeeVerifier`s and records them; see {IVerifierFactory}. Anyone may deploy
/// a verifier (market creation is permissionless); what the factory guarantees is which code runs, not who asked.
/// @dev Not upgradeable, no owner: its record of deployed verifiers is as immutable as the verifiers themselves.
contract VerifierFactory is IVerifierFactory {
    /// @inheritdoc IVerifierFactory
    IEntityKeyRegistry public immutable keyRegistry;

    mapping(address verifier => Kind) private _kinds;
    /// @dev CREATE nonce of this contract: 1 at deployment (EIP-161), +1 per verifier.
    uint256 private _nonce = 1;

    /// @param keyRegistry_ The protocol's key registry, the only one the TeeVerifiers of this factory trust.
    constructor(IEntityKeyRegistry keyRegistry_) {
        if (address(keyRegistry_) == address(0)) revert ZeroKeyRegistry();
        keyRegistry = keyRegistry_;
    }

    /// @inheritdoc IVerifierFactory
    function deployGroth16(
        bytes calldata verifyingKey,
        uint256 numInputs,
        bytes calldata sampleInput,
        bytes calldata sampleProof
    ) external returns (address verifier) {
        verifier = address(new Groth16Verifier(verifyingKey, numInputs, sampleInput, sampleProof));
        _record(verifier, Kind.Groth16);
    }

    /// @inheritdoc IVerifierFactory
    function deployTee(bytes32 imageId, address sampleSigner, bytes calldata sampleInput, bytes calldata sampleProof)
        external
        returns (address verifier)
    {
        verifier = address(new TeeVerifier(keyRegistry, imageId, sampleSigner, sampleInput, sampleProof));
        _record(verifier, Kind.Tee);
    }

    /// @inheritdoc IVerifierFactory
    function kindOf(address verifier) external view returns (Kind) {
        return _kinds[verifier];
    }

    /// @inheritdoc IVerifierFactory
    function isVerifier(address verifier) external view returns (bool) {
        return _kinds[verifier] != Kind.None;
    }

    /// @inheritdoc IVerifierFactory
    function nextVerifier() external view returns (address) {
        return _createAddress(_nonce);
    }

    function _record(address verifier, Kind kind) private {
        // Markets run this check no more: a verifier recorded here has passed it, and its code cannot change.
        if (!IVerifier(verifier).checkSampleInputsAndProof()) revert SampleProofRejected(verifier);
        _kinds[verifier] = kind;
        // A Groth16Verifier's constructor creates its data contract, which is a CREATE of the verifier, not of
        // this factory: the factory's own nonce moves by one per verifier.
        ++_nonce;
        emit VerifierDeployed(verifier, kind, msg.sender);
    }

    /// @dev RLP([address(this), nonce]) for nonces below 2^64 (EIP-161: contract nonces start at 1).
    function _createAddress(uint256 nonce) private view returns (address) {
        bytes memory rlpNonce;
        if (nonce < 0x80) {
            rlpNonce = abi.encodePacked(uint8(nonce));
        } else {
            // Locals start at zero in Solidity; the byte count starts there on purpose.
            // slither-disable-next-line uninitialized-local
            uint256 len;
            for (uint256 n = nonce; n != 0; n >>= 8) {
                ++len;
            }
            rlpNonce = abi.encodePacked(uint8(0x80 + len));
            for (uint256 i = len; i != 0; --i) {
                rlpNonce = abi.encodePacked(rlpNonce, uint8(nonce >> (8 * (i - 1))));
            }
        }
        bytes memory list = abi.encodePacked(bytes1(0x94), address(this), rlpNonce);
        return address(uint160(uint256(keccak256(abi.encodePacked(uint8(0xc0 + list.length), list)))));
    }
}
