// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ITeeVerifier} from "../interfaces/ITeeVerifier.sol";
import {IVerifier} from "../interfaces/IVerifier.sol";
import {IEntityKeyRegistry} from "../registry/EntityKeyRegistry.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title TeeVerifier
/// @notice Accepts a proof when an enclave key attested for `imageId` signed the ask (its inputs and its secret
/// commitment), the output and the generator (see {ITeeVerifier}). Not upgradeable: a market trusts exactly one
/// image through one verifier.
/// @dev Sample check: a market is created (and runs `checkSampleInputsAndProof`) before any enclave key can be
/// registered for it, since keys are registered per existing market. The sample proof is therefore signed by a
/// sample signer fixed at construction instead of by an attested enclave. The check still exercises the real
/// decoding, digest and signature recovery of `verify`; the sample signer gets no power, because `verify` accepts
/// registry-attested enclave keys only. The deployer signs the sample with a throwaway key for this contract's
/// future address (EIP-712 domain), and the constructor rejects a sample that does not verify.
contract TeeVerifier is ITeeVerifier, EIP712 {
    /// @inheritdoc ITeeVerifier
    bytes32 public constant TEE_PROOF_TYPEHASH =
        keccak256("TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)");

    /// @inheritdoc ITeeVerifier
    IEntityKeyRegistry public immutable registry;

    /// @inheritdoc ITeeVerifier
    bytes32 public immutable imageId;

    /// @inheritdoc ITeeVerifier
    address public immutable sampleSigner;

    bytes private _sampleInput;
    bytes private _sampleProof;

    /// @param registry_ Registry recording the image of attested enclave keys.
    /// @param imageId_ Image whose enclave keys may sign proofs; not zero.
    /// @param sampleSigner_ Signer of `sampleProof_`.
    /// @param sampleInput_ Sample inputs.
    /// @param sampleProof_ `abi.encode(output, signature)` of `sampleSigner_` over `sampleInput_` for this contract,
    /// with a zero secret commitment and generator.
    constructor(
        IEntityKeyRegistry registry_,
        bytes32 imageId_,
        address sampleSigner_,
        bytes memory sampleInput_,
        bytes memory sampleProof_
    ) EIP712("Kalypso TeeVerifier", "1") {
        if (address(registry_) == address(0) || sampleSigner_ == address(0)) {
            revert ZeroAddress();
        }
        if (imageId_ == bytes32(0)) revert ZeroImageId();
        registry = registry_;
        imageId = imageId_;
        sampleSigner = sampleSigner_;
        _sampleInput = sampleInput_;
        _sampleProof = sampleProof_;
        if (_signerOf(sampleInput_, sampleProof_, bytes32(0), address(0)) != sampleSigner_) {
            revert InvalidSampleProof();
        }
    }

    /// @inheritdoc IVerifier
    /// @dev `verifyAsk` with a zero secret commitment and generator: a proof that names no ask's secret and no
    /// generator (the marketplace never calls it).
    function verify(bytes calldata inputs, bytes calldata proof) external view returns (bool) {
        return _attested(_signerOf(inputs, proof, bytes32(0), address(0)));
    }

    /// @inheritdoc IVerifier
    /// @dev Reverts when `proof` is not `abi.encode(bytes, bytes)`; returns false for a malformed signature, a
    /// signature over another ask, secret, output or generator, or a signer not attested for `imageId`.
    function verifyAsk(bytes calldata inputs, bytes calldata proof, bytes32 secretCommitment, address generator)
        external
        view
        returns (bool)
    {
        return _attested(_signerOf(inputs, proof, secretCommitment, generator));
    }

    /// @inheritdoc IVerifier
    /// @dev Always true: an enclave program takes arbitrary bytes, and only the program can judge them (its
    /// market's IVS attests invalid inputs).
    function verifyInputs(bytes calldata) external pure returns (bool) {
        return true;
    }

    /// @inheritdoc IVerifier
    function sampleInput() external view returns (bytes memory) {
        return _sampleInput;
    }

    /// @inheritdoc IVerifier
    function sampleProof() external view returns (bytes memory) {
        return _sampleProof;
    }

    /// @inheritdoc IVerifier
    /// @dev Checks the sample against `sampleSigner` (see the contract's notes), not against the registry.
    function checkSampleInputsAndProof() external view returns (bool) {
        return _signerOf(_sampleInput, _sampleProof, bytes32(0), address(0)) == sampleSigner;
    }

    /// @inheritdoc ITeeVerifier
    function proofDigest(bytes calldata inputs, bytes32 secretCommitment, bytes calldata output, address generator)
        external
        view
        returns (bytes32)
    {
        return _digest(inputs, secretCommitment, output, generator);
    }

    function _attested(address signer) internal view returns (bool) {
        return signer != address(0) && registry.enclaveImageOf(signer) == imageId;
    }

    /// @dev The signer of `proof` over the ask and generator, or zero for a malformed signature.
    function _signerOf(bytes memory inputs, bytes memory proof, bytes32 secretCommitment, address generator)
        internal
        view
        returns (address signer)
    {
        (bytes memory output, bytes memory signature) = abi.decode(proof, (bytes, bytes));
        ECDSA.RecoverError err;
        // The third value is the error's argument, not needed: the error itself is checked on the next line.
        // slither-disable-next-line unused-return
        (signer, err,) = ECDSA.tryRecover(_digest(inputs, secretCommitment, output, generator), signature);
        if (err != ECDSA.RecoverError.NoError) return address(0);
    }

    function _digest(bytes memory inputs, bytes32 secretCommitment, bytes memory output, address generator)
        internal
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(
            keccak256(abi.encode(TEE_PROOF_TYPEHASH, keccak256(inputs), secretCommitment, keccak256(output), generator))
        );
    }
}
