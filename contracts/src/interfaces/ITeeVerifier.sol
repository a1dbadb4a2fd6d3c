// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntityKeyRegistry} from "../registry/EntityKeyRegistry.sol";
import {IVerifier} from "./IVerifier.sol";

/// @title ITeeVerifier
/// @notice Verifier of a market whose proofs are produced inside an enclave of one image: a proof is the program's
/// output together with the enclave key's EIP-712 signature over the ask, that output and the generator.
/// @dev `proof = abi.encode(bytes output, bytes signature)`; `signature` is a 65-byte (r, s, v) signature over the
/// EIP-712 message `TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)` with
/// `inputsHash = keccak256(inputs)`, the ask's secret commitment (`ProofMarketplace.secretCommitmentOf`, zero for
/// an ask without secret inputs), `outputHash = keccak256(output)` and the generator the ask is assigned to; domain
/// name "Kalypso TeeVerifier", version "1", the chain id and this contract as verifying contract. The signer must be
/// an enclave key the registry recorded as attested for `imageId`. Naming the secret and the generator is what
/// stops a proof of one ask from settling another with the same public inputs but another secret, and one
/// generator from submitting a proof another generator's enclave made.
interface ITeeVerifier is IVerifier {
    /// @notice An address argument that must be set was zero.
    error ZeroAddress();

    /// @notice The image id must not be zero (zero is what the registry reports for never-attested keys).
    error ZeroImageId();

    /// @notice The sample proof given at construction is not a signature of the sample signer over the sample
    /// input (for this contract's EIP-712 domain).
    error InvalidSampleProof();

    /// @notice EIP-712 type hash of
    /// `TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)`.
    function TEE_PROOF_TYPEHASH() external view returns (bytes32);

    /// @notice The registry whose attested enclave keys may sign proofs.
    function registry() external view returns (IEntityKeyRegistry);

    /// @notice The enclave image whose keys may sign proofs.
    function imageId() external view returns (bytes32);

    /// @notice The key that signed the sample proof. It is accepted by `checkSampleInputsAndProof` only, never by
    /// `verify`.
    function sampleSigner() external view returns (address);

    /// @notice The EIP-712 digest an enclave signs for an ask's `inputs` and `secretCommitment`, its `output` and the
    /// assigned `generator`.
    function proofDigest(bytes calldata inputs, bytes32 secretCommitment, bytes calldata output, address generator)
        external
        view
        returns (bytes32);
}
