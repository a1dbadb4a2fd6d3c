// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Test} from "forge-std/Test.sol";

import {IGroth16Verifier} from "../../src/interfaces/IGroth16Verifier.sol";
import {Groth16Verifier} from "../../src/verifiers/Groth16Verifier.sol";

/// @dev Runs the verifier against the real arkworks proof in test/fixtures/groth16_mimc.json (written by
/// `cargo run -p kalypso-provers --example groth16_fixture`): y = MiMC-5^64(x), public signals [x, y], x supplied
/// by the requester (numInputs = 1) and y appended to the proof.
contract Groth16VerifierTest is Test {
    uint256 internal constant R = 0x30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001;
    uint256 internal constant Q = 0x30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47;
    uint256 internal constant GAS_TARGET = 230_000;

    Groth16Verifier internal verifier;
    bytes internal vk;
    uint256 internal numInputs;
    bytes internal inputs;
    bytes internal proof;
    uint256 internal x;
    uint256 internal y;

    function setUp() public {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/groth16_mimc.json"));
        vk = vm.parseJsonBytes(json, ".vk");
        numInputs = vm.parseJsonUint(json, ".numInputs");
        inputs = vm.parseJsonBytes(json, ".inputs");
        proof = vm.parseJsonBytes(json, ".proof");
        x = _readWord(inputs, 0);
        y = uint256(vm.parseJsonBytes32Array(json, ".outputs")[0]);
        verifier = new Groth16Verifier(vk, numInputs, inputs, proof);
    }

    // ------------------------------------------------------------------------------------------------ valid proof

    function test_verify_AcceptsFixtureProof() public {
        // Load the statement from storage first so that only the call is measured.
        (Groth16Verifier v, bytes memory statement, bytes memory submission) = (verifier, inputs, proof);
        vm.startSnapshotGas("Groth16Verifier", "verify_2_signals");
        bool ok = v.verify(statement, submission);
        uint256 gasUsed = vm.stopSnapshotGas();
        assertTrue(ok);
        assertLe(gasUsed, GAS_TARGET, "verify over the gas target");
    }

    function test_checkSampleInputsAndProof_True() public view {
        assertTrue(verifier.checkSampleInputsAndProof());
    }

    function test_sample_ReturnsConstructorArguments() public view {
        assertEq(verifier.sampleInput(), inputs);
        assertEq(verifier.sampleProof(), proof);
        assertEq(verifier.verifyingKey(), vk);
        assertEq(verifier.numInputs(), 1);
        assertEq(verifier.numPublicSignals(), 2);
    }

    function test_verify_IgnoresTrailingWitnessBytes() public view {
        bytes memory withWitness = bytes.concat(inputs, hex"deadbeef", keccak256("private witness"));
        assertTrue(verifier.verify(withWitness, proof));
        assertTrue(verifier.verifyInputs(withWitness));
    }

    function test_verify_AcceptsAnySplitOfSignals() public {
        bytes memory points = _points(proof);
        // All signals as inputs: x ‖ y, bare proof.
        Groth16Verifier allInputs = new Groth16Verifier(vk, 2, bytes.concat(bytes32(x), bytes32(y)), points);
        assertTrue(allInputs.checkSampleInputsAndProof());
        assertFalse(allInputs.verify(bytes.concat(bytes32(y), bytes32(x)), points));
    }

    // ------------------------------------------------------------------------------------------------ wrong proofs

    function test_verify_FalseForEveryFlippedProofBit() public view {
        // Low and high bit of every byte of A, B, C: each gives a non-canonical or off-curve point, which is
        // rejected before any precompile (so without burning the caller's gas).
        for (uint256 i; i < 256; ++i) {
            bytes1[2] memory masks = [bytes1(0x01), bytes1(0x80)];
            for (uint256 m; m < 2; ++m) {
                bytes memory bad = bytes.concat(proof);
                bad[i] = bad[i] ^ masks[m];
                assertFalse(verifier.verify(inputs, bad));
            }
        }
    }

    function test_verify_FalseForWrongPointsOnCurve() public view {
        bytes memory bad = bytes.concat(proof);
        // C := G1 generator (1, 2): a valid point, so the full pairing runs and fails.
        _writeWord(bad, 0xc0, 1);
        _writeWord(bad, 0xe0, 2);
        assertFalse(verifier.verify(inputs, bad));
        // A := −A.
        bad = bytes.concat(proof);
        _writeWord(bad, 0x20, Q - _readWord(bad, 0x20));
        assertFalse(verifier.verify(inputs, bad));
        // A := C and C := A.
        bad = bytes.concat(proof);
        (uint256 ax, uint256 ay) = (_readWord(bad, 0), _readWord(bad, 0x20));
        _writeWord(bad, 0, _readWord(proof, 0xc0));
        _writeWord(bad, 0x20, _readWord(proof, 0xe0));
        _writeWord(bad, 0xc0, ax);
        _writeWord(bad, 0xe0, ay);
        assertFalse(verifier.verify(inputs, bad));
        // All points at infinity.
        assertFalse(verifier.verify(inputs, bytes.concat(new bytes(256), bytes32(y))));
    }

    function test_verify_FalseForWrongInput() public view {
        assertFalse(verifier.verify(abi.encode(x + 1), proof));
        assertFalse(verifier.verify(abi.encode(0), proof));
    }

    function test_verify_FalseForWrongOutput() public view {
        assertFalse(verifier.verify(inputs, bytes.concat(_points(proof), bytes32(y + 1))));
    }

    function test_verify_FalseForSignalNotBelowR() public {
        // x + r is congruent to x: without the range check ecMul would reduce it and accept (malleability).
        assertFalse(verifier.verify(abi.encode(x + R), proof));
        assertFalse(verifier.verify(abi.encode(R), proof));
        assertFalse(verifier.verify(abi.encode(type(uint256).max), proof));
        assertFalse(verifier.verify(inputs, bytes.concat(_points(proof), bytes32(y + R))));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputNotInField.selector, 0, x + R));
        verifier.verifyInputs(abi.encode(x + R));
    }

    function test_verifyInputs_ChecksLengthAndRange() public {
        assertTrue(verifier.verifyInputs(inputs));
        assertTrue(verifier.verifyInputs(abi.encode(R - 1)));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputNotInField.selector, 0, R));
        verifier.verifyInputs(abi.encode(R));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 0));
        verifier.verifyInputs("");
        bytes memory truncated = _truncate(inputs, 31);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 31));
        verifier.verifyInputs(truncated);
    }

    function test_RevertWhen_ProofTruncated() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidProofLength.selector, 288, 287));
        verifier.verify(inputs, _truncate(proof, 287));
    }

    function test_RevertWhen_ProofWithoutOutputs() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidProofLength.selector, 288, 256));
        verifier.verify(inputs, _points(proof));
    }

    function test_RevertWhen_ProofHasExtraBytes() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidProofLength.selector, 288, 289));
        verifier.verify(inputs, bytes.concat(proof, hex"00"));
    }

    function test_RevertWhen_InputsTooShort() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 31));
        verifier.verify(_truncate(inputs, 31), proof);
    }

    function test_RevertWhen_ProofPointOutsideG2Subgroup() public {
        // On the twist y² = x³ + b' (so it passes the cheap curve check) but not in the order-r subgroup: only the
        // pairing precompile can tell, and it fails.
        bytes memory bad = bytes.concat(proof);
        _writeWord(bad, 0x40, 0); // x.c1
        _writeWord(bad, 0x60, 1); // x.c0
        _writeWord(bad, 0x80, 0x0d1271953ed9ea0836846e70a1934187998c7f790cb4d7511b7f8da82de048a4); // y.c1
        _writeWord(bad, 0xa0, 0x2869111d5381f072f8e2728fdb825a51aadd70e52c9830e9ab4b871c0531f1bb); // y.c0
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        verifier.verify(inputs, bad);
    }

    function test_RevertWhen_OutOfGasInPairing() public {
        // Too little gas for the pairing reverts instead of looking like a wrong proof, so gas estimation of a call
        // that needs `verify` to succeed finds enough gas.
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        verifier.verify{gas: 150_000}(inputs, proof);
    }

    // ------------------------------------------------------------------------------------------------ missing precompiles

    // On a chain without a precompile, a call to its address reaches an account without code: it succeeds and
    // returns nothing. forge refuses `vm.etch` on precompile addresses, so `vm.mockCall` with empty calldata (which
    // matches every call) and empty return data stands in for the missing precompile.

    function test_RevertWhen_PairingPrecompileReturnsNothing() public {
        bytes memory bogus = _proofWithGeneratorA();
        assertFalse(verifier.verify(inputs, bogus));
        vm.mockCall(address(0x08), bytes(""), bytes(""));
        // Without the output size check the pairing result is the stale first input word, A.x = 1: "verified".
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        verifier.verify(inputs, bogus);
    }

    function test_RevertWhen_PairingPrecompileReturnsWrongSize() public {
        bytes memory bogus = _proofWithGeneratorA();
        // 64 bytes starting with 1: a 32-byte read would see "pairing holds".
        vm.mockCall(address(0x08), bytes(""), abi.encode(uint256(1), uint256(1)));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        verifier.verify(inputs, bogus);
    }

    function test_RevertWhen_EcMulPrecompileReturnsNothing() public {
        // Without the check each product s · IC_i would be left as IC_i: vk_x would not depend on the signals.
        vm.mockCall(address(0x07), bytes(""), bytes(""));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 7));
        verifier.verify(inputs, proof);
    }

    function test_RevertWhen_EcAddPrecompileReturnsNothing() public {
        // Without the check vk_x would stay IC_0 whatever the signals.
        vm.mockCall(address(0x06), bytes(""), bytes(""));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 6));
        verifier.verify(inputs, proof);
    }

    function test_RevertWhen_ConstructedWithoutPairingPrecompile() public {
        // beta := a twist point outside G2: only the pairing precompile tells, and the constructor refuses it.
        bytes memory bad = bytes.concat(vk);
        _writeWord(bad, 64, 0); // x.c1
        _writeWord(bad, 96, 1); // x.c0
        _writeWord(bad, 128, 0x0d1271953ed9ea0836846e70a1934187998c7f790cb4d7511b7f8da82de048a4); // y.c1
        _writeWord(bad, 160, 0x2869111d5381f072f8e2728fdb825a51aadd70e52c9830e9ab4b871c0531f1bb); // y.c0
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyPoint.selector, 1));
        new Groth16Verifier(bad, numInputs, inputs, proof);

        // With a silent pairing "precompile" the subgroup check cannot run: without the output size check every
        // twist point would pass it.
        vm.mockCall(address(0x08), bytes(""), bytes(""));
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        new Groth16Verifier(bad, numInputs, inputs, proof);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.PrecompileFailed.selector, 8));
        new Groth16Verifier(vk, numInputs, inputs, proof);
    }

    // ------------------------------------------------------------------------------------------------ constructor

    function test_RevertWhen_VerifyingKeyLengthInvalid() public {
        bytes memory cut = _truncate(vk, vk.length - 1);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyLength.selector, vk.length - 1));
        new Groth16Verifier(cut, 1, "", new bytes(256 + 64));

        bytes memory noIc = _truncate(vk, 448);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyLength.selector, 448));
        new Groth16Verifier(noIc, 1, "", new bytes(256));

        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyLength.selector, 0));
        new Groth16Verifier("", 1, "", new bytes(256));
    }

    function test_RevertWhen_VerifyingKeyPointInvalid() public {
        // Point index → byte offset of its first word: alpha 0, beta 64, gamma 192, delta 320, IC_i 448 + 64·i.
        uint256[6] memory indices = [uint256(0), 1, 2, 3, 4, 6];
        uint256[6] memory offsets = [uint256(0), 64, 192, 320, 448, 576];
        for (uint256 k; k < indices.length; ++k) {
            bytes memory bad = bytes.concat(vk);
            _writeWord(bad, offsets[k], _readWord(bad, offsets[k]) ^ 1); // off the curve
            vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyPoint.selector, indices[k]));
            new Groth16Verifier(bad, numInputs, inputs, proof);
        }
        // A coordinate >= q.
        bytes memory big = bytes.concat(vk);
        _writeWord(big, 448 + 32, _readWord(big, 448 + 32) + Q);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyPoint.selector, 4));
        new Groth16Verifier(big, numInputs, inputs, proof);
    }

    function test_RevertWhen_VerifyingKeyPointAtInfinity() public {
        bytes memory bad = bytes.concat(vk);
        for (uint256 i = 320; i < 448; ++i) {
            bad[i] = 0;
        }
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyPoint.selector, 3));
        new Groth16Verifier(bad, numInputs, inputs, proof);
    }

    function test_RevertWhen_VerifyingKeyIcAtInfinity() public {
        // IC_i at infinity for i >= 1 drops signal i out of vk_x: any value of it would verify.
        for (uint256 i = 1; i <= 2; ++i) {
            bytes memory bad = bytes.concat(vk);
            _writeWord(bad, 448 + 64 * i, 0);
            _writeWord(bad, 448 + 64 * i + 32, 0);
            vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidVerifyingKeyPoint.selector, 4 + i));
            new Groth16Verifier(bad, numInputs, inputs, proof);
        }
    }

    function test_constructor_AcceptsIc0AtInfinity() public {
        // IC_0 is the constant term of vk_x; at infinity it constrains no signal, so the key is accepted (the fixture
        // proof is then for another key and fails).
        bytes memory zeroIc0 = bytes.concat(vk);
        _writeWord(zeroIc0, 448, 0);
        _writeWord(zeroIc0, 480, 0);
        Groth16Verifier v = new Groth16Verifier(zeroIc0, numInputs, inputs, proof);
        assertEq(v.verifyingKey(), zeroIc0);
        assertFalse(v.checkSampleInputsAndProof());
    }

    function test_RevertWhen_VerifyingKeyGammaEqualsDelta() public {
        bytes memory bad = bytes.concat(vk);
        for (uint256 i; i < 128; ++i) {
            bad[320 + i] = bad[192 + i];
        }
        vm.expectRevert(IGroth16Verifier.VerifyingKeyGammaEqualsDelta.selector);
        new Groth16Verifier(bad, numInputs, inputs, proof);
    }

    /// With no public signal from the ask's inputs, one proof would settle every ask of the market.
    function test_RevertWhen_NoInputSignals() public {
        bytes memory points = _points(proof);
        vm.expectRevert(IGroth16Verifier.NoInputSignals.selector);
        new Groth16Verifier(vk, 0, "", bytes.concat(points, bytes32(x), bytes32(y)));
    }

    /// `verifyInputs` says which rule failed, so `createAsk` can pass it on.
    function test_RevertWhen_verifyInputs_tooShortOrNotInField() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 2));
        verifier.verifyInputs(hex"0102");
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputNotInField.selector, 0, type(uint256).max));
        verifier.verifyInputs(abi.encode(type(uint256).max));
    }

    function test_RevertWhen_TooManyInputs() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.TooManyInputs.selector, 3, 2));
        new Groth16Verifier(vk, 3, new bytes(96), new bytes(256));
    }

    function test_RevertWhen_SampleMalformed() public {
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 0));
        new Groth16Verifier(vk, numInputs, "", proof);
        vm.expectRevert(abi.encodeWithSelector(IGroth16Verifier.InvalidProofLength.selector, 288, 256));
        new Groth16Verifier(vk, numInputs, inputs, _points(proof));
    }

    function test_checkSampleInputsAndProof_FalseForWrongSample() public {
        Groth16Verifier wrong = new Groth16Verifier(vk, numInputs, abi.encode(x + 1), proof);
        assertFalse(wrong.checkSampleInputsAndProof());
    }

    // ------------------------------------------------------------------------------------------------ fuzz

    function testFuzz_verify_RandomProofFails(uint256[8] memory words) public view {
        bytes memory random = abi.encodePacked(words, y);
        assertFalse(verifier.verify(inputs, random));
    }

    function testFuzz_verify_RandomCurvePointsFail(uint256 a, uint256 c) public view {
        // A = a·G, C = c·G are valid points; with the fixture's B the full pairing runs.
        a = bound(a, 1, R - 1);
        c = bound(c, 1, R - 1);
        bytes memory bad = bytes.concat(proof);
        (uint256 axx, uint256 ayy) = _mulG1(a);
        (uint256 cxx, uint256 cyy) = _mulG1(c);
        _writeWord(bad, 0x00, axx);
        _writeWord(bad, 0x20, ayy);
        _writeWord(bad, 0xc0, cxx);
        _writeWord(bad, 0xe0, cyy);
        assertFalse(verifier.verify(inputs, bad));
    }

    function testFuzz_verify_OtherInputFails(uint256 other) public view {
        other = bound(other, 0, R - 1);
        vm.assume(other != x);
        assertFalse(verifier.verify(abi.encode(other), proof));
    }

    // ------------------------------------------------------------------------------------------------ helpers

    /// @dev The fixture proof with A := G1 generator (1, 2): valid points that do not verify.
    function _proofWithGeneratorA() internal view returns (bytes memory bogus) {
        bogus = bytes.concat(proof);
        _writeWord(bogus, 0x00, 1);
        _writeWord(bogus, 0x20, 2);
    }

    function _points(bytes memory p) internal pure returns (bytes memory) {
        return _truncate(p, 256);
    }

    function _truncate(bytes memory b, uint256 length) internal pure returns (bytes memory out) {
        out = new bytes(length);
        for (uint256 i; i < length; ++i) {
            out[i] = b[i];
        }
    }

    function _readWord(bytes memory b, uint256 offset) internal pure returns (uint256 w) {
        assembly ("memory-safe") {
            w := mload(add(add(b, 0x20), offset))
        }
    }

    function _writeWord(bytes memory b, uint256 offset, uint256 w) internal pure {
        assert(offset + 32 <= b.length);
        assembly ("memory-safe") {
            mstore(add(add(b, 0x20), offset), w)
        }
    }

    function _mulG1(uint256 s) internal view returns (uint256 px, uint256 py) {
        (bool ok, bytes memory out) = address(0x07).staticcall(abi.encode(uint256(1), uint256(2), s));
        assertTrue(ok);
        (px, py) = abi.decode(out, (uint256, uint256));
    }
}
