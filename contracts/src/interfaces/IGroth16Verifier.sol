// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IVerifier} from "./IVerifier.sol";

/// @title IGroth16Verifier
/// @notice An {IVerifier} for one Groth16 circuit over BN254 (arkworks, circom/snarkjs, gnark...), fixed at
/// deployment by its verifying key.
/// @dev Encodings (all words 32-byte big-endian, points in the EIP-196/197 precompile layout, G2 coordinates
/// imaginary part first, the point at infinity as zeros):
/// - verifying key: `alpha (G1) ‖ beta (G2) ‖ gamma (G2) ‖ delta (G2) ‖ IC_0 … IC_k (G1)`, i.e.
///   `448 + 64·(k+1)` bytes for `k` public signals, with G1 = `x, y` and G2 = `x.c1, x.c0, y.c1, y.c0`.
/// - `inputs` (the ask's prover data): the first `numInputs()` public signals, optionally followed by bytes the
///   verifier ignores (e.g. private witness material for the generator).
/// - `proof`: the 256-byte proof `A (G1) ‖ B (G2) ‖ C (G1)` followed by the remaining `k − numInputs()` public
///   signals (the public outputs).
/// Public signals are `inputs ‖ outputs`, in circuit order; a signal `>= r` makes `verify` return false.
interface IGroth16Verifier is IVerifier {
    /// @notice The verifying key is not `448 + 64·(k+1)` bytes long for some `k >= 0`.
    error InvalidVerifyingKeyLength(uint256 length);

    /// @notice Point `index` of the verifying key is not a valid curve point, or is the point at infinity where
    /// that would make proofs forgeable (alpha, beta, gamma, delta) or leave a public signal unconstrained (`IC_i`
    /// for `i >= 1`; `IC_0` may be at infinity). Index 0 is alpha, 1 beta, 2 gamma, 3 delta, `4 + i` is `IC_i`.
    error InvalidVerifyingKeyPoint(uint256 index);

    /// @notice gamma equals delta: with such a key (e.g. a snarkjs zkey without a phase-2 contribution) anyone
    /// can forge proofs, so it is refused.
    error VerifyingKeyGammaEqualsDelta();

    /// @notice More requester inputs were declared than the circuit has public signals.
    error TooManyInputs(uint256 numInputs, uint256 numPublicSignals);

    /// @notice No public signal comes from the ask's inputs: one proof would then settle every ask of the market.
    error NoInputSignals();

    /// @notice Input signal `index` is not a field element (`value >= r`): no proof can have it as public signal.
    error InputNotInField(uint256 index, uint256 value);

    /// @notice The verifying key and sample do not fit in one data contract (EIP-170 code size limit).
    error VerifierDataTooLarge(uint256 size, uint256 maxSize);

    /// @notice Deploying the data contract that holds the verifying key and sample failed.
    error VerifierDataDeploymentFailed();

    /// @notice `inputs` is shorter than the `numInputs()` words it must start with.
    error InputsTooShort(uint256 minLength, uint256 length);

    /// @notice `proof` is not the 256-byte proof followed by exactly the public outputs.
    error InvalidProofLength(uint256 expectedLength, uint256 length);

    /// @notice A curve precompile (0x06 ecAdd, 0x07 ecMul, 0x08 pairing) failed: it ran out of gas, (0x08 only)
    /// the proof's B is on the twist curve but outside the order-r subgroup, which only a crafted proof is, or the
    /// call returned other than the precompile's output size (64 bytes for 0x06/0x07, 32 for 0x08), i.e. the
    /// precompile does not exist on this chain (also raised by the constructor's G2 subgroup check then). Points
    /// off the curve are caught before any precompile and make `verify` return false. Reverting here, rather than
    /// returning false, keeps gas estimation from settling on too little gas.
    error PrecompileFailed(uint256 precompile);

    /// @notice Number of public signals the requester supplies at the start of `inputs`.
    function numInputs() external view returns (uint256);

    /// @notice Number of public signals of the circuit (`IC.length − 1`): inputs followed by outputs.
    function numPublicSignals() external view returns (uint256);

    /// @notice The verifying key, in the layout the constructor takes.
    function verifyingKey() external view returns (bytes memory);
}
