// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IVerifierFactory} from "../../src/interfaces/IVerifierFactory.sol";
import {IEntityKeyRegistry} from "../../src/registry/EntityKeyRegistry.sol";
import {VerifierFactory} from "../../src/verifiers/VerifierFactory.sol";
import {TeeMarket} from "../utils/TeeMarket.sol";

/// @notice A confidential TEE market through the marketplace: asks commit to their encrypted secret, the generator's
/// enclave key is registered with an attestation and its own signature, and a TEE proof settles exactly the ask
/// (inputs and secret) and the generator it names.
contract ConfidentialTeeTest is TeeMarket {
    function test_confidentialAsk_commitsToItsSecret() public {
        uint256 askId = _confidentialAsk("ciphertext A");
        assertEq(
            market.secretCommitmentOf(askId),
            keccak256(abi.encodePacked("kalypso-confidential/v1/secret-commitment", "ciphertext A"))
        );
        vm.prank(requester);
        uint256 publicAsk = market.createAsk(_request(marketId, REWARD, block.timestamp + 1 hours));
        assertEq(market.secretCommitmentOf(publicAsk), bytes32(0));
    }

    function test_teeProof_settlesTheAskItNames() public {
        uint256 askId = _confidentialAsk("ciphertext A");
        _assign(askId, cheap);
        market.submitProof(askId, TASK_INPUT, _proof(askId, "output", cheap));
        assertEq(uint256(market.askState(askId)), uint256(IProofMarketplace.AskState.Completed));
    }

    /// Attack: two asks with the same public inputs and different secrets; the proof of the first (whose output
    /// depends on its secret) is replayed for the second.
    function test_RevertWhen_teeProofReplayedForAnotherSecret() public {
        uint256 first = _confidentialAsk("ciphertext A");
        uint256 second = _confidentialAsk("ciphertext B");
        _assign(first, cheap);
        _assign(second, cheap);
        bytes memory proofOfFirst = _proof(first, "output of A", cheap);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidProof.selector, second));
        market.submitProof(second, TASK_INPUT, proofOfFirst);
        market.submitProof(first, TASK_INPUT, proofOfFirst);
    }

    /// Attack: a proof an enclave signed for another generator (the enclave's own) is submitted for this one's task.
    function test_RevertWhen_teeProofNamesAnotherGenerator() public {
        uint256 askId = _confidentialAsk("ciphertext A");
        _assign(askId, cheap);
        // Built first: `_proof` reads the ask's commitment, a call `expectRevert` would otherwise apply to.
        bytes memory proofForFast = _proof(askId, "output", fast);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidProof.selector, askId));
        market.submitProof(askId, TASK_INPUT, proofForFast);
    }

    /// Attack (a market creator): a TeeVerifier trusting a key registry of the creator's, which could accept the
    /// creator's keys or stop accepting honest ones after assignment. The factory takes no registry: every
    /// TeeVerifier it deploys trusts the protocol's, and the marketplace accepts only the factory's verifiers.
    function test_teeVerifiers_trustOnlyTheProtocolsKeyRegistry() public {
        assertEq(address(d.verifierFactory.keyRegistry()), address(keys));
        assertEq(address(tee.registry()), address(keys));
        vm.expectRevert(IVerifierFactory.ZeroKeyRegistry.selector);
        new VerifierFactory(IEntityKeyRegistry(address(0)));
    }
}
