// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGroth16Verifier} from "../interfaces/IGroth16Verifier.sol";
import {IVerifier} from "../interfaces/IVerifier.sol";

/// @title Groth16Verifier
/// @notice Verifies Groth16 proofs over BN254 for the one circuit whose verifying key it was deployed with.
/// Works for any prover that emits standard Groth16 (arkworks, circom/snarkjs, gnark); encodings in
/// {IGroth16Verifier}. Not upgradeable: a market's verification rule never changes under it.
/// @dev Checks `e(−A, B) · e(alpha, beta) · e(vk_x, gamma) · e(C, delta) == 1` with
/// `vk_x = IC_0 + Σ s_i · IC_{i+1}`, using the ecAdd (0x06), ecMul (0x07) and pairing (0x08) precompiles.
/// Every precompile call must also return exactly its output size (64 bytes for 0x06/0x07, 32 for 0x08): a call
/// to an address without code succeeds with no output, so on a chain lacking a precompile the result would
/// otherwise be read from stale memory (for 0x08, the first word of the input, i.e. A.x: any proof with
/// A = (1, 2) would verify).
/// The verifying key and sample statement live in the code of a data contract created by the constructor and are
/// read with one cold `extcodecopy` (≈2.6k gas) instead of `14 + 2·(k+1)` cold storage slots (2.1k gas each).
contract Groth16Verifier is IGroth16Verifier {
    /// @dev BN254 scalar field modulus r: public signals must be below it.
    // The published BN254 scalar field modulus: its run of zeros is the value.
    // slither-disable-next-line too-many-digits
    uint256 internal constant _R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    /// @dev BN254 base field modulus q: point coordinates live below it.
    uint256 internal constant _Q = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;

    /// @dev Real part of the G2 twist coefficient b' = 3 / (9 + u): G2 is `y² = x³ + b'` over Fq2 = Fq[u]/(u² + 1).
    uint256 internal constant _TWIST_B0 = 0x2b149d40ceb8aaae81be18991be06ac3b5b4c5e559dbefa33267e6dc24a138e5;
    /// @dev Imaginary part of b'.
    uint256 internal constant _TWIST_B1 = 0x009713b03af0fed4cd2cafadeed8fdf4a74fa084e52d1852e4a2bd0685c315d2;

    /// @dev Bytes of the proof points `A ‖ B ‖ C`.
    uint256 internal constant _PROOF_POINTS_LENGTH = 256;
    /// @dev Bytes of `alpha ‖ beta ‖ gamma ‖ delta` at the start of the verifying key.
    uint256 internal constant _VK_HEADER_LENGTH = 448;
    /// @dev EIP-170 limit on the data contract's code (leading STOP byte included).
    uint256 internal constant _MAX_CODE_SIZE = 24_576;

    /// @dev Contract whose code is `0x00 (STOP) ‖ vk ‖ sampleInput ‖ sampleProof`; the STOP byte makes it
    /// uncallable. Data offset `o` is code offset `o + 1`.
    address internal immutable _DATA;
    /// @dev Public signals taken from `inputs`.
    uint256 internal immutable _NUM_INPUTS;
    /// @dev Public signals of the circuit: `IC.length − 1`.
    uint256 internal immutable _NUM_SIGNALS;
    /// @dev Exact `proof` length: 256 + 32 · (outputs).
    uint256 internal immutable _PROOF_LENGTH;
    /// @dev Verifying key bytes.
    uint256 internal immutable _VK_LENGTH;
    /// @dev Sample input bytes.
    uint256 internal immutable _SAMPLE_INPUT_LENGTH;

    /// @param verifyingKey_ `alpha ‖ beta ‖ gamma ‖ delta ‖ IC_0 … IC_k`, see {IGroth16Verifier}.
    /// @param numInputs_ How many of the `k` public signals the requester supplies in `inputs` (the rest are
    /// outputs appended to the proof).
    /// @param sampleInput_ A statement `sampleProof_` proves, returned by {sampleInput}.
    /// @param sampleProof_ A proof of `sampleInput_`, returned by {sampleProof}.
    constructor(bytes memory verifyingKey_, uint256 numInputs_, bytes memory sampleInput_, bytes memory sampleProof_) {
        uint256 vkLength = verifyingKey_.length;
        if (vkLength < _VK_HEADER_LENGTH + 64 || (vkLength - _VK_HEADER_LENGTH) % 64 != 0) {
            revert InvalidVerifyingKeyLength(vkLength);
        }
        uint256 numSignals = (vkLength - _VK_HEADER_LENGTH) / 64 - 1;
        if (numInputs_ > numSignals) revert TooManyInputs(numInputs_, numSignals);
        // A statement must come from the ask: with no input signal one proof would settle every ask.
        if (numInputs_ == 0) revert NoInputSignals();
        _checkVerifyingKey(verifyingKey_, numSignals);

        uint256 proofLength = _PROOF_POINTS_LENGTH + 32 * (numSignals - numInputs_);
        if (sampleInput_.length < 32 * numInputs_) revert InputsTooShort(32 * numInputs_, sampleInput_.length);
        if (sampleProof_.length != proofLength) revert InvalidProofLength(proofLength, sampleProof_.length);

        // Not hashed: the bytes become the data contract's code and every part's length is stored (_VK_LENGTH,
        // _SAMPLE_INPUT_LENGTH, _PROOF_LENGTH), so where one part ends is never ambiguous.
        // slither-disable-next-line encode-packed-collision
        _DATA = _deployData(abi.encodePacked(verifyingKey_, sampleInput_, sampleProof_));
        _NUM_INPUTS = numInputs_;
        _NUM_SIGNALS = numSignals;
        _PROOF_LENGTH = proofLength;
        _VK_LENGTH = vkLength;
        _SAMPLE_INPUT_LENGTH = sampleInput_.length;
    }

    /// @inheritdoc IVerifier
    /// @dev Reverts {InputsTooShort} / {InvalidProofLength} on malformed lengths and {PrecompileFailed} when a
    /// precompile fails (out of gas, a crafted B outside the G2 subgroup, or output of the wrong size: the
    /// precompile is missing on this chain). Returns false for a signal `>= r`,
    /// for proof points that are not canonical curve points, and for a proof that does not verify.
    function verify(bytes calldata inputs, bytes calldata proof) external view returns (bool) {
        return _checkedVerify(inputs, proof);
    }

    /// @inheritdoc IVerifier
    /// @dev A Groth16 proof is valid whoever made it and whatever witness it used: `verify(inputs, proof)`.
    function verifyAsk(bytes calldata inputs, bytes calldata proof, bytes32, address) external view returns (bool) {
        return _checkedVerify(inputs, proof);
    }

    function _checkedVerify(bytes calldata inputs, bytes calldata proof) internal view returns (bool) {
        uint256 minInputsLength = 32 * _NUM_INPUTS;
        if (inputs.length < minInputsLength) revert InputsTooShort(minInputsLength, inputs.length);
        if (proof.length != _PROOF_LENGTH) revert InvalidProofLength(_PROOF_LENGTH, proof.length);
        return _verify(inputs, proof);
    }

    /// @inheritdoc IVerifier
    /// @dev Reverts {InputsTooShort} or {InputNotInField} naming the rule that failed.
    function verifyInputs(bytes calldata inputs) external view returns (bool) {
        uint256 n = _NUM_INPUTS;
        if (inputs.length < 32 * n) revert InputsTooShort(32 * n, inputs.length);
        for (uint256 i; i < n; ++i) {
            uint256 signal = uint256(bytes32(inputs[32 * i:32 * i + 32]));
            if (signal >= _R) revert InputNotInField(i, signal);
        }
        return true;
    }

    /// @inheritdoc IVerifier
    function sampleInput() external view returns (bytes memory) {
        return _readData(_VK_LENGTH, _SAMPLE_INPUT_LENGTH);
    }

    /// @inheritdoc IVerifier
    function sampleProof() external view returns (bytes memory) {
        return _readData(_VK_LENGTH + _SAMPLE_INPUT_LENGTH, _PROOF_LENGTH);
    }

    /// @inheritdoc IVerifier
    /// @dev Runs the external {verify} on the stored sample, so it exercises exactly the path markets use. The
    /// constructor checked the sample's lengths, so a wrong sample gives false (a revert only for the cases
    /// {verify} documents: out of gas or a crafted B outside G2).
    function checkSampleInputsAndProof() external view returns (bool) {
        bytes memory input = _readData(_VK_LENGTH, _SAMPLE_INPUT_LENGTH);
        bytes memory proof = _readData(_VK_LENGTH + _SAMPLE_INPUT_LENGTH, _PROOF_LENGTH);
        return this.verify(input, proof);
    }

    /// @inheritdoc IGroth16Verifier
    function numInputs() external view returns (uint256) {
        return _NUM_INPUTS;
    }

    /// @inheritdoc IGroth16Verifier
    function numPublicSignals() external view returns (uint256) {
        return _NUM_SIGNALS;
    }

    /// @inheritdoc IGroth16Verifier
    function verifyingKey() external view returns (bytes memory) {
        return _readData(0, _VK_LENGTH);
    }

    /// @dev The pairing check; lengths were checked by the caller.
    ///
    /// A precompile given an invalid point fails and burns all gas forwarded to it, so the proof points are first
    /// checked to be canonical curve points with plain field arithmetic (a few hundred gas): a garbage proof
    /// returns false cheaply. G1 has cofactor 1, so A and C are then fully valid; B is only known to be on the
    /// twist, and a B outside the order-r subgroup (crafted, never random) still makes 0x08 fail. A call that
    /// succeeds without returning exactly the precompile's output size counts as failed (see the contract doc).
    ///
    /// Memory past the free pointer is scratch (never allocated, so this stays memory-safe):
    ///
    ///   p + 0x000  −A (G1)      B (G2)        pair 1: from calldata, A negated in place
    ///   p + 0x0c0  alpha (G1)   beta (G2)     pair 2: vk bytes 0x000..0x0c0
    ///   p + 0x180  vk_x (G1)    gamma (G2)    pair 3: vk_x computed, gamma = vk bytes 0x0c0..0x140
    ///   p + 0x240  C (G1)       delta (G2)    pair 4: from calldata, delta = vk bytes 0x140..0x1c0
    ///   p + 0x300  IC_0 … IC_k                vk bytes 0x1c0..
    ///   acc        acc (G1) ‖ term (G1) ‖ s   ecAdd input at acc, ecMul input at acc + 0x40
    function _verify(bytes calldata inputs, bytes calldata proof) internal view returns (bool ok) {
        address data = _DATA;
        uint256 numIn = _NUM_INPUTS;
        uint256 numSignals = _NUM_SIGNALS;
        // A, C on G1 and B on the twist, else this is not a proof; none of this touches a precompile.
        if (!_isG1Point(_word(proof, 0), _word(proof, 1))) return false;
        if (!_isTwistPoint(_word(proof, 2), _word(proof, 3), _word(proof, 4), _word(proof, 5))) return false;
        if (!_isG1Point(_word(proof, 6), _word(proof, 7))) return false;

        uint256 failed; // address of a precompile that failed, 0 if none
        assembly ("memory-safe") {
            /// acc += s · point, skipped for s = 0 (adding the point at infinity). Returns the failed precompile.
            function mulAdd(acc, point, s) -> failedPrecompile {
                if s {
                    mstore(add(acc, 0x40), mload(point))
                    mstore(add(acc, 0x60), mload(add(point, 0x20)))
                    mstore(add(acc, 0x80), s)
                    let success := staticcall(gas(), 0x07, add(acc, 0x40), 0x60, add(acc, 0x40), 0x40)
                    if iszero(and(success, eq(returndatasize(), 0x40))) {
                        failedPrecompile := 0x07
                        leave
                    }
                    success := staticcall(gas(), 0x06, acc, 0x80, acc, 0x40)
                    if iszero(and(success, eq(returndatasize(), 0x40))) { failedPrecompile := 0x06 }
                }
            }

            function run(store, nIn, nSignals, inputsOffset, proofOffset) -> result, failedPrecompile {
                let p := mload(0x40)

                // Proof (points checked by the caller): A ‖ B into pair 1, C into pair 4.
                calldatacopy(p, proofOffset, 0xc0)
                calldatacopy(add(p, 0x240), add(proofOffset, 0xc0), 0x40)
                // −A = (x, q − y); (0, 0) stays the point at infinity.
                mstore(add(p, 0x20), mod(sub(_Q, mload(add(p, 0x20))), _Q))

                // Verifying key: one cold extcodecopy, the rest warm (code offset = data offset + 1).
                let ic := add(p, 0x300)
                let icLength := shl(6, add(nSignals, 1))
                let acc := add(ic, icLength)
                extcodecopy(store, add(p, 0x0c0), 0x001, 0xc0) // alpha ‖ beta
                extcodecopy(store, add(p, 0x1c0), 0x0c1, 0x80) // gamma
                extcodecopy(store, add(p, 0x280), 0x141, 0x80) // delta
                extcodecopy(store, ic, 0x1c1, icLength) // IC_0 … IC_k

                // vk_x = IC_0 + Σ s_i · IC_{i+1}; the signals are the inputs' words, then the proof's trailing words.
                mstore(acc, mload(ic))
                mstore(add(acc, 0x20), mload(add(ic, 0x20)))
                for { let i := 0 } lt(i, nSignals) { i := add(i, 1) } {
                    let s
                    switch lt(i, nIn)
                    case 1 { s := calldataload(add(inputsOffset, shl(5, i))) }
                    default { s := calldataload(add(proofOffset, add(0x100, shl(5, sub(i, nIn))))) }
                    if iszero(lt(s, _R)) { leave } // a signal >= r: false
                    failedPrecompile := mulAdd(acc, add(ic, shl(6, add(i, 1))), s)
                    if failedPrecompile { leave }
                }
                mstore(add(p, 0x180), mload(acc))
                mstore(add(p, 0x1a0), mload(add(acc, 0x20)))

                let success := staticcall(gas(), 0x08, p, 0x300, p, 0x20)
                if iszero(and(success, eq(returndatasize(), 0x20))) {
                    failedPrecompile := 0x08
                    leave
                }
                result := eq(mload(p), 1)
            }

            ok, failed := run(data, numIn, numSignals, inputs.offset, proof.offset)
        }
        if (failed != 0) revert PrecompileFailed(failed);
    }

    /// @dev Validates every point of the verifying key (see {InvalidVerifyingKeyPoint} for the indices).
    function _checkVerifyingKey(bytes memory vk, uint256 numSignals) private view {
        // alpha, beta, gamma, delta must be proper points: with any of them at infinity proofs can be forged.
        if (_isZero(vk, 0, 64) || !_isG1Point(_mword(vk, 0), _mword(vk, 1))) revert InvalidVerifyingKeyPoint(0);
        for (uint256 j = 1; j <= 3; ++j) {
            uint256 w = 2 + 4 * (j - 1); // first word of the point
            bool valid = !_isZero(vk, 32 * w, 128)
                && _isTwistPoint(_mword(vk, w), _mword(vk, w + 1), _mword(vk, w + 2), _mword(vk, w + 3))
                && _isInG2Subgroup(vk, 32 * w);
            if (!valid) revert InvalidVerifyingKeyPoint(j);
        }
        if (keccak256(_slice(vk, 192, 128)) == keccak256(_slice(vk, 320, 128))) revert VerifyingKeyGammaEqualsDelta();
        // IC_0 may be the point at infinity; IC_i (i >= 1) may not: signal i would drop out of vk_x, so any value of
        // it would verify.
        for (uint256 i; i <= numSignals; ++i) {
            uint256 offset = _VK_HEADER_LENGTH + 64 * i;
            uint256 w = offset / 32;
            if (!_isG1Point(_mword(vk, w), _mword(vk, w + 1)) || (i != 0 && _isZero(vk, offset, 64))) {
                revert InvalidVerifyingKeyPoint(4 + i);
            }
        }
    }

    /// @dev Whether `(px, py)` is the point at infinity `(0, 0)` or a canonical point of G1: `y² = x³ + 3` with
    /// coordinates below q. G1 has cofactor 1, so this is full validity.
    function _isG1Point(uint256 px, uint256 py) internal pure returns (bool valid) {
        assembly ("memory-safe") {
            valid := and(lt(px, _Q), lt(py, _Q))
            if valid {
                valid := or(
                    iszero(or(px, py)),
                    eq(mulmod(py, py, _Q), addmod(mulmod(px, mulmod(px, px, _Q), _Q), 3, _Q))
                )
            }
        }
    }

    /// @dev Whether `(x1·u + x0, y1·u + y0)` is the point at infinity (all zero) or a canonical point of the twist
    /// `y² = x³ + b'` over Fq2 = Fq[u]/(u² + 1). It may still lie outside the order-r subgroup G2.
    function _isTwistPoint(uint256 x1, uint256 x0, uint256 y1, uint256 y0) internal pure returns (bool valid) {
        assembly ("memory-safe") {
            valid := and(and(lt(x1, _Q), lt(x0, _Q)), and(lt(y1, _Q), lt(y0, _Q)))
            if valid {
                // (a0 + a1·u)² = (a0 + a1)(a0 − a1) + 2·a0·a1·u
                let xx0 := mulmod(addmod(x0, x1, _Q), addmod(x0, sub(_Q, x1), _Q), _Q)
                let xx1 := mulmod(2, mulmod(x0, x1, _Q), _Q)
                // x³ = x² · x
                let xxx0 := addmod(mulmod(xx0, x0, _Q), sub(_Q, mulmod(xx1, x1, _Q)), _Q)
                let xxx1 := addmod(mulmod(xx0, x1, _Q), mulmod(xx1, x0, _Q), _Q)
                let yy0 := mulmod(addmod(y0, y1, _Q), addmod(y0, sub(_Q, y1), _Q), _Q)
                let yy1 := mulmod(2, mulmod(y0, y1, _Q), _Q)
                valid := or(
                    iszero(or(or(x0, x1), or(y0, y1))),
                    and(eq(yy0, addmod(xxx0, _TWIST_B0, _Q)), eq(yy1, addmod(xxx1, _TWIST_B1, _Q)))
                )
            }
        }
    }

    /// @dev Whether the twist point at byte `offset` of `vk` is in the order-r subgroup: the pairing precompile,
    /// given it with the G1 generator (1, 2), accepts exactly those. A failing precompile burns the gas it was
    /// given, so this runs only on points already known to be on the twist. Reverts {PrecompileFailed} when the
    /// call succeeds without the 32-byte output (no pairing precompile on this chain): the check did not run.
    function _isInG2Subgroup(bytes memory vk, uint256 offset) private view returns (bool ok) {
        bytes memory output;
        // The pairing precompile, not a contract: a low-level call is how it is reached (output size checked below),
        // and the loop around it is the constructor's three G2 points.
        // slither-disable-next-line calls-loop,low-level-calls
        (ok, output) = address(0x08).staticcall(abi.encodePacked(uint256(1), uint256(2), _slice(vk, offset, 128)));
        if (ok && output.length != 32) revert PrecompileFailed(0x08);
    }

    /// @dev Word `i` of a calldata byte string (bounds checked by the caller).
    function _word(bytes calldata b, uint256 i) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := calldataload(add(b.offset, shl(5, i)))
        }
    }

    /// @dev Word `i` of a memory byte string (bounds checked by the caller).
    function _mword(bytes memory b, uint256 i) private pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), shl(5, i)))
        }
    }

    /// @dev Whether `length` bytes of `b` at `offset` are all zero.
    function _isZero(bytes memory b, uint256 offset, uint256 length) private pure returns (bool) {
        for (uint256 i = offset; i < offset + length; ++i) {
            if (b[i] != 0) return false;
        }
        return true;
    }

    /// @dev A copy of `length` bytes of `b` at `offset` (bounds checked by the caller).
    function _slice(bytes memory b, uint256 offset, uint256 length) private pure returns (bytes memory out) {
        out = new bytes(length);
        assembly ("memory-safe") {
            // mcopy: Cancun's memory-to-memory copy.
            mcopy(add(out, 0x20), add(add(b, 0x20), offset), length)
        }
    }

    /// @dev Creates a contract whose code is `0x00 ‖ payload` and returns its address.
    function _deployData(bytes memory payload) private returns (address store) {
        uint256 size = payload.length + 1;
        if (size > _MAX_CODE_SIZE) revert VerifierDataTooLarge(size, _MAX_CODE_SIZE);
        // Init code (10 bytes): PUSH2 size, DUP1, PUSH1 0x0a, RETURNDATASIZE (0), CODECOPY, RETURNDATASIZE (0),
        // RETURN: copies the code after these 10 bytes to memory 0 and returns it as the runtime code.
        // casting to uint16 is safe because size <= _MAX_CODE_SIZE < 2^16 (checked above)
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes memory initCode = abi.encodePacked(hex"61", uint16(size), hex"80600a3d393df3", hex"00", payload);
        assembly ("memory-safe") {
            store := create(0, add(initCode, 0x20), mload(initCode))
        }
        if (store == address(0)) revert VerifierDataDeploymentFailed();
    }

    /// @dev `length` bytes of the data contract at data offset `offset`.
    function _readData(uint256 offset, uint256 length) private view returns (bytes memory out) {
        out = new bytes(length);
        address data = _DATA;
        assembly ("memory-safe") {
            extcodecopy(data, add(out, 0x20), add(offset, 1), length)
        }
    }
}
