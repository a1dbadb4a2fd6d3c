// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {TeeVerifier} from "../../src/verifiers/TeeVerifier.sol";
import {Base} from "../Base.t.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice A confidential TEE market on top of {Base}: a `TeeVerifier` for `IMAGE` deployed through the factory, a market
/// on it joined by `cheap`, whose enclave key is registered with an attestation of a trusted signer and its own
/// signature; helpers sign TEE proofs and make confidential asks.
abstract contract TeeMarket is Base {
    bytes32 internal constant IMAGE = keccak256("prover-image");
    bytes32 internal constant TEE_PROOF_TYPEHASH =
        keccak256("TeeProof(bytes32 inputsHash,bytes32 secretCommitment,bytes32 outputHash,address generator)");
    bytes32 internal constant ATTESTATION_TYPEHASH =
        keccak256("EnclaveAttestation(bytes enclavePubKey,bytes32 imageId,uint64 timestampMs)");
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes internal constant TASK_INPUT = "public part of the task";

    Vm.Wallet internal attester;
    Vm.Wallet internal enclave;
    TeeVerifier internal tee;
    uint256 internal teeMarket;

    function setUp() public virtual override {
        super.setUp();
        attester = vm.createWallet("attestation-signer");
        enclave = vm.createWallet("cheap-enclave");
        vm.prank(admin);
        d.attestationVerifier.addTrustedSigner(attester.addr);

        Vm.Wallet memory sample = vm.createWallet("sample-signer");
        address predicted = vm.computeCreateAddress(address(d.verifierFactory), vm.getNonce(address(d.verifierFactory)));
        bytes memory sampleProof =
            abi.encode(bytes("out"), _sign(sample, _teeDigest(predicted, "in", bytes32(0), "out", address(0))));
        tee = TeeVerifier(d.verifierFactory.deployTee(IMAGE, sample.addr, "in", sampleProof));
        assertEq(address(tee), predicted);

        address creator = makeAddr("creator");
        usdc.mint(creator, 10e6);
        vm.startPrank(creator);
        usdc.approve(address(market), 10e6);
        teeMarket = market.createMarket(tee, IMAGE, bytes32(0), PENALTY, MIN_STAKE, FALLBACK_DELAY, "tee");
        vm.stopPrank();

        vm.prank(cheap);
        registry.joinMarket(teeMarket, 1, CHEAP_PRICE, CHEAP_TIME);
        bytes memory pk = _pubkey(enclave);
        uint64 nowMs = uint64(block.timestamp) * 1000;
        bytes memory attestation = _sign(attester, _attestationDigest(pk, IMAGE, nowMs));
        bytes memory enclaveSig = _sign(enclave, keys.generatorKeyRegistrationDigest(cheap, teeMarket));
        vm.prank(cheap);
        keys.registerGeneratorKeyWithAttestation(teeMarket, pk, IMAGE, nowMs, attestation, enclaveSig);
    }

    function _confidentialAsk(bytes memory secret) internal returns (uint256 askId) {
        IProofMarketplace.AskRequest memory r = _request(teeMarket, REWARD, block.timestamp + 1 hours);
        r.proverData = TASK_INPUT;
        r.secret = secret;
        r.acl = "key wrapped to the matching engine";
        vm.prank(requester);
        askId = market.createAsk(r);
    }

    function _proof(uint256 askId, bytes memory output, address generator) internal view returns (bytes memory) {
        bytes32 digest = _teeDigest(address(tee), TASK_INPUT, market.secretCommitmentOf(askId), output, generator);
        return abi.encode(output, _sign(enclave, digest));
    }

    function _teeDigest(
        address verifyingContract,
        bytes memory inputs_,
        bytes32 secretCommitment,
        bytes memory output,
        address generator
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(TEE_PROOF_TYPEHASH, keccak256(inputs_), secretCommitment, keccak256(output), generator)
        );
        return keccak256(abi.encodePacked("\x19\x01", _domain("Kalypso TeeVerifier", verifyingContract), structHash));
    }

    function _attestationDigest(bytes memory pubkey, bytes32 imageId, uint64 timestampMs)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(ATTESTATION_TYPEHASH, keccak256(pubkey), imageId, timestampMs));
        return keccak256(
            abi.encodePacked(
                "\x19\x01", _domain("Kalypso AttestationVerifier", address(d.attestationVerifier)), structHash
            )
        );
    }

    function _domain(string memory name, address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256(bytes(name)), keccak256("1"), block.chainid, verifyingContract)
        );
    }

    function _sign(Vm.Wallet memory w, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(w.privateKey, digest);
        return abi.encodePacked(r, s, v);
    }
}
