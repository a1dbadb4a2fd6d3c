// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntityKeyRegistryView} from "../../src/interfaces/IEntityKeyRegistry.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IGroth16Verifier} from "../../src/interfaces/IGroth16Verifier.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IVerifier} from "../../src/interfaces/IVerifier.sol";
import {IVerifierFactory} from "../../src/interfaces/IVerifierFactory.sol";
import {ProofMarketplace} from "../../src/marketplace/ProofMarketplace.sol";
import {Groth16Verifier} from "../../src/verifiers/Groth16Verifier.sol";
import {VerifierFactory} from "../../src/verifiers/VerifierFactory.sol";
import {Base} from "../Base.t.sol";
import {MarketplaceDigests} from "../utils/MarketplaceDigests.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice Unit tests of the ProofMarketplace: markets, asks, assignment (direct, signed batch, fallback),
/// settlement (proof, invalid inputs, discard, slash, refund), payouts, pause and upgrade.
contract ProofMarketplaceTest is Base {
    // ------------------------------------------------------------------------------------------------------------
    // Markets
    // ------------------------------------------------------------------------------------------------------------

    function test_createMarket_storesMarketAndPaysTreasury() public {
        IProofMarketplace.Market memory m = market.marketOf(marketId);
        assertEq(address(m.verifier), address(verifier));
        assertEq(m.slashingPenalty, PENALTY);
        assertEq(m.minStake, MIN_STAKE);
        assertEq(m.fallbackDelay, FALLBACK_DELAY);
        assertEq(m.creator, makeAddr("creator"));
        assertFalse(m.confidential);
        assertEq(m.activationTime, block.timestamp);
        assertEq(usdc.balanceOf(treasury), 10e6, "creation cost");
        assertEq(market.marketCount(), 1);
        assertTrue(market.marketExists(marketId));
        assertFalse(market.marketExists(marketId + 1));
    }

    function test_createMarket_emitsMetadata() public {
        address creator = makeAddr("creator");
        usdc.mint(creator, 10e6);
        vm.startPrank(creator);
        usdc.approve(address(market), 10e6);
        vm.expectEmit(address(market));
        emit IProofMarketplace.MarketCreated(
            2, creator, address(verifier), bytes32(0), bytes32(0), PENALTY, MIN_STAKE, block.timestamp, 0, "meta"
        );
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, MIN_STAKE, 0, "meta");
        vm.stopPrank();
    }

    /// Attack: a creator brings a verifier it can switch (or a proxy it can upgrade), lets generators take tasks,
    /// then makes valid proofs fail and collects the slashes. Only factory-made verifiers are accepted.
    function test_RevertWhen_createMarket_verifierNotFromFactory() public {
        SwitchableVerifier switchable = new SwitchableVerifier(verifier);
        assertTrue(switchable.checkSampleInputsAndProof(), "passes the old self-check");
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.VerifierNotAllowed.selector, address(switchable)));
        market.createMarket(switchable, bytes32(0), bytes32(0), PENALTY, MIN_STAKE, FALLBACK_DELAY, "");

        // The same verifier code deployed outside the factory, a contract that is no verifier, and an EOA.
        IVerifier direct = IVerifier(address(new Groth16Verifier(verifier.verifyingKey(), 1, inputs, proof)));
        address eoa = makeAddr("eoa");
        address[3] memory refused = [address(direct), address(usdc), eoa];
        for (uint256 i; i < refused.length; ++i) {
            vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.VerifierNotAllowed.selector, refused[i]));
            market.createMarket(IVerifier(refused[i]), bytes32(0), bytes32(0), PENALTY, MIN_STAKE, 0, "");
        }
    }

    function test_verifierFactory_recordsKindAndPredictsAddress() public {
        VerifierFactory factory = d.verifierFactory;
        assertEq(market.verifierFactory(), address(factory));
        assertEq(uint8(factory.kindOf(address(verifier))), uint8(IVerifierFactory.Kind.Groth16));
        assertEq(uint8(factory.kindOf(address(this))), uint8(IVerifierFactory.Kind.None));
        address next = factory.nextVerifier();
        vm.expectEmit(address(factory));
        emit IVerifierFactory.VerifierDeployed(next, IVerifierFactory.Kind.Groth16, address(this));
        address made = factory.deployGroth16(verifier.verifyingKey(), 1, inputs, proof);
        assertEq(made, next);
        assertTrue(factory.isVerifier(made));
    }

    function test_RevertWhen_verifierFactory_sampleProofRejected() public {
        VerifierFactory factory = d.verifierFactory;
        bytes memory wrongInput = abi.encode(uint256(bytes32(inputs)) + 1);
        bytes memory vk = verifier.verifyingKey();
        address next = factory.nextVerifier();
        vm.expectRevert(abi.encodeWithSelector(IVerifierFactory.SampleProofRejected.selector, next));
        factory.deployGroth16(vk, 1, wrongInput, proof);
    }

    function test_RevertWhen_createMarket_invalidParams() public {
        _expectInvalidMarket(address(verifier), 0, MIN_STAKE, 0);
        market.createMarket(verifier, bytes32(0), bytes32(0), 0, MIN_STAKE, 0, "");
        _expectInvalidMarket(address(verifier), PENALTY, PENALTY - 1, 0);
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, PENALTY - 1, 0, "");
        uint256 tooBig = uint256(type(uint96).max) + 1;
        _expectInvalidMarket(address(verifier), PENALTY, tooBig, 0);
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, tooBig, 0, "");
        uint256 tooLong = uint256(type(uint32).max) + 1;
        _expectInvalidMarket(address(verifier), PENALTY, MIN_STAKE, tooLong);
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, MIN_STAKE, tooLong, "");
        // A fallback delay below the protocol minimum would let generators self-assign ahead of the engine.
        uint256 tooShort = market.params().minFallbackDelay - 1;
        _expectInvalidMarket(address(verifier), PENALTY, MIN_STAKE, tooShort);
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, MIN_STAKE, tooShort, "");
    }

    function _expectInvalidMarket(address v, uint256 penalty, uint256 minStake, uint256 fallbackDelay) internal {
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.InvalidMarketParams.selector, v, penalty, minStake, fallbackDelay)
        );
    }

    function test_RevertWhen_createMarket_creationCostNotApproved() public {
        vm.prank(makeAddr("poor"));
        vm.expectRevert();
        market.createMarket(verifier, bytes32(0), bytes32(0), PENALTY, MIN_STAKE, 0, "");
    }

    function test_createAsk_waitsForActivationDelay() public {
        IProofMarketplace.Params memory p = market.params();
        p.activationDelay = 1 days;
        vm.prank(admin);
        market.setParams(p);
        uint256 id = _createMarket(bytes32(0));
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.MarketNotActive.selector, id, block.timestamp + 1 days, false)
        );
        market.createAsk(_request(id, REWARD, block.timestamp + 2 days));
        vm.warp(block.timestamp + 1 days);
        vm.prank(requester);
        market.createAsk(_request(id, REWARD, block.timestamp + 1 days));
    }

    function test_setMarketFrozen_blocksAsksAndAssignments() public {
        uint256 askId = _ask();
        vm.prank(makeAddr("creator"));
        market.setMarketFrozen(marketId, true);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.MarketNotActive.selector, marketId, block.timestamp, true)
        );
        market.createAsk(_request(marketId, REWARD, block.timestamp + 1 hours));
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.MarketNotActive, askId, cheap));
        market.assignTask(_item(askId, cheap, ""));
        // Admin may unfreeze.
        vm.prank(admin);
        market.setMarketFrozen(marketId, false);
        _assign(askId, cheap);
    }

    function test_RevertWhen_setMarketFrozen_notCreator() public {
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotMarketCreator.selector, marketId, address(this)));
        market.setMarketFrozen(marketId, true);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.MarketNotFound.selector, 99));
        market.setMarketFrozen(99, true);
    }

    function test_addExtraImage_confidentialMarket() public {
        uint256 id = _createMarket(keccak256("prover-image"));
        bytes32 extra = keccak256("prover-image-v2");
        assertFalse(market.isProverImage(id, extra));
        assertTrue(market.isProverImage(id, keccak256("prover-image")));
        vm.startPrank(makeAddr("creator"));
        market.addExtraImage(id, extra);
        assertTrue(market.isProverImage(id, extra));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.ImageUnchanged.selector, id, extra));
        market.addExtraImage(id, extra);
        market.removeExtraImage(id, extra);
        assertFalse(market.isProverImage(id, extra));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.ImageUnchanged.selector, id, extra));
        market.removeExtraImage(id, extra);
        vm.stopPrank();
    }

    function test_RevertWhen_removeExtraImage_notCreator() public {
        uint256 id = _createMarket(keccak256("prover-image"));
        vm.prank(makeAddr("creator"));
        market.addExtraImage(id, keccak256("v2"));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotMarketCreator.selector, id, address(this)));
        market.removeExtraImage(id, keccak256("v2"));
    }

    function test_RevertWhen_addExtraImage_publicMarketOrNotCreator() public {
        vm.prank(makeAddr("creator"));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.ImageUnchanged.selector, marketId, bytes32("x")));
        market.addExtraImage(marketId, bytes32("x"));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotMarketCreator.selector, marketId, address(this)));
        market.addExtraImage(marketId, bytes32("x"));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Asks
    // ------------------------------------------------------------------------------------------------------------

    function test_createAsk_escrowsRewardAndStoresHash() public {
        uint256 before = usdc.balanceOf(requester);
        IProofMarketplace.AskRequest memory r = _request(marketId, REWARD, block.timestamp + 1 hours);
        r.preference = IProofMarketplace.Preference.Time;
        vm.expectEmit(address(market));
        emit IProofMarketplace.AskCreated(1, marketId, requester, r, 0);
        vm.prank(requester);
        uint256 askId = market.createAsk(r);

        assertEq(askId, 1);
        assertEq(usdc.balanceOf(requester), before - REWARD);
        assertEq(usdc.balanceOf(address(market)), REWARD);
        IProofMarketplace.Ask memory a = market.askOf(askId);
        assertEq(a.refundAddress, requester);
        assertEq(a.reward, REWARD);
        assertEq(a.inputsHash, keccak256(inputs));
        assertEq(a.marketId, marketId);
        assertEq(a.deadline, block.timestamp + 1 hours);
        assertEq(a.openedAt, block.timestamp);
        assertEq(uint8(a.preference), uint8(IProofMarketplace.Preference.Time));
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created));
    }

    function test_createAsk_chargesInputFeeToTreasury() public {
        IProofMarketplace.Params memory p = market.params();
        p.feePerInputByte = 10;
        vm.prank(admin);
        market.setParams(p);
        _ask();
        uint256 fee = 10 * inputs.length;
        assertEq(market.claimable(treasury), fee);
        assertEq(usdc.balanceOf(address(market)), REWARD + fee);
    }

    function test_RevertWhen_createAsk_invalidRequest() public {
        vm.startPrank(requester);
        IProofMarketplace.AskRequest memory r = _request(99, REWARD, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.MarketNotFound.selector, 99));
        market.createAsk(r);

        r = _request(marketId, 0, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidReward.selector, 0));
        market.createAsk(r);

        r = _request(marketId, uint256(type(uint96).max) + 1, block.timestamp + 1);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidReward.selector, r.reward));
        market.createAsk(r);

        r = _request(marketId, REWARD, block.timestamp);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.InvalidDeadline.selector, block.timestamp, block.timestamp)
        );
        market.createAsk(r);

        r = _request(marketId, REWARD, block.timestamp + 1);
        r.refundAddress = address(0);
        vm.expectRevert(IProofMarketplace.ZeroRefundAddress.selector);
        market.createAsk(r);

        r = _request(marketId, REWARD, block.timestamp + 1);
        r.proverData = "";
        vm.expectRevert(IProofMarketplace.EmptyInputs.selector);
        market.createAsk(r);

        r = _request(marketId, REWARD, block.timestamp + 1);
        r.secret = "ciphertext";
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.SecretMismatch.selector, marketId, false));
        market.createAsk(r);
        vm.stopPrank();
    }

    /// Inputs the market's verifier rejects (here: a public input >= the BN254 scalar field, and a truncated
    /// statement) never become asks, so no generator can be assigned an unprovable task and slashed for it.
    function test_RevertWhen_createAsk_inputsRejectedByVerifier() public {
        vm.startPrank(requester);
        IProofMarketplace.AskRequest memory r = _request(marketId, REWARD, block.timestamp + 1 hours);
        r.proverData = abi.encodePacked(type(uint256).max);
        bytes memory reason = abi.encodeWithSelector(IGroth16Verifier.InputNotInField.selector, 0, type(uint256).max);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidInputs.selector, marketId, reason));
        market.createAsk(r);
        r.proverData = hex"0102";
        reason = abi.encodeWithSelector(IGroth16Verifier.InputsTooShort.selector, 32, 2);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidInputs.selector, marketId, reason));
        market.createAsk(r);
        vm.stopPrank();
    }

    function test_createAskFromBalance_spendsDepositsAndRefunds() public {
        vm.prank(requester);
        market.deposit(requester, REWARD);
        assertEq(market.claimable(requester), REWARD);
        uint256 walletBefore = usdc.balanceOf(requester);

        vm.prank(requester);
        uint256 askId = market.createAskFromBalance(_request(marketId, REWARD, block.timestamp + 1 hours));
        assertEq(market.claimable(requester), 0);
        assertEq(usdc.balanceOf(requester), walletBefore, "paid from the balance, not the wallet");

        // The refund of a completed ask pays for part of the next one.
        _assign(askId, cheap);
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(requester), REWARD - CHEAP_PRICE);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InsufficientBalance.selector, requester, REWARD, REWARD - CHEAP_PRICE
            )
        );
        market.createAskFromBalance(_request(marketId, REWARD, block.timestamp + 1 hours));
        vm.prank(requester);
        market.createAskFromBalance(_request(marketId, REWARD - CHEAP_PRICE, block.timestamp + 1 hours));
        assertEq(market.claimable(requester), 0);
        // Held: the generator's earnings and the second ask's escrow.
        assertEq(usdc.balanceOf(address(market)), CHEAP_PRICE + (REWARD - CHEAP_PRICE));
    }

    function test_deposit_forAnotherAccount() public {
        vm.expectEmit(address(market));
        emit IProofMarketplace.Deposited(keeper, requester, 7);
        vm.prank(requester);
        market.deposit(keeper, 7);
        assertEq(market.claimable(keeper), 7);
    }

    function test_RevertWhen_createAsk_confidentialWithoutSecret() public {
        uint256 id = _createMarket(keccak256("prover-image"));
        vm.startPrank(requester);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.SecretMismatch.selector, id, true));
        market.createAsk(_request(id, REWARD, block.timestamp + 1 hours));
        IProofMarketplace.AskRequest memory r = _request(id, REWARD, block.timestamp + 1 hours);
        r.secret = "ciphertext";
        r.acl = "wrapped-key";
        market.createAsk(r);
        vm.stopPrank();
    }

    function test_cancelAsk_creditsRefund() public {
        uint256 askId = _ask();
        vm.prank(requester);
        market.cancelAsk(askId);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Refunded));
        assertEq(market.claimable(requester), REWARD);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InvalidAskState.selector, askId, IProofMarketplace.AskState.Refunded
            )
        );
        market.cancelAsk(askId);
    }

    function test_RevertWhen_cancelAsk_notRequesterOrAssigned() public {
        uint256 askId = _ask();
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotRequester.selector, askId, address(this)));
        market.cancelAsk(askId);
        _assign(askId, cheap);
        vm.prank(requester);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InvalidAskState.selector, askId, IProofMarketplace.AskState.Assigned
            )
        );
        market.cancelAsk(askId);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.AskNotFound.selector, 42));
        market.cancelAsk(42);
    }

    function test_refundExpired_afterDeadline() public {
        uint256 askId = _ask();
        uint256 deadline = block.timestamp + 1 hours;
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.AskNotExpired.selector, askId, deadline));
        market.refundExpired(askId);
        vm.warp(deadline + 1);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Expired));
        market.refundExpired(askId);
        assertEq(market.claimable(requester), REWARD);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Refunded));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Assignment
    // ------------------------------------------------------------------------------------------------------------

    function test_assignTask_locksComputeAndStake() public {
        uint256 askId = _ask();
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskAssigned(
            askId, marketId, cheap, CHEAP_PRICE, block.timestamp + CHEAP_TIME, 1, false, "acl"
        );
        vm.prank(me.addr);
        market.assignTask(_item(askId, cheap, "acl"));

        IProofMarketplace.Ask memory a = market.askOf(askId);
        assertEq(a.generator, cheap);
        assertEq(a.price, CHEAP_PRICE);
        assertEq(a.taskDeadline, block.timestamp + CHEAP_TIME);
        assertEq(a.computePerProof, 1);
        assertEq(uint8(a.state), uint8(IProofMarketplace.AskState.Assigned));
        assertEq(_consumed(cheap), 1);
        (, uint256 locked) = _stakeOf(cheap);
        assertEq(locked, PENALTY);
    }

    function test_RevertWhen_assignTask_notMatchingEngine() public {
        uint256 askId = _ask();
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotMatchingEngine.selector, address(this)));
        market.assignTask(_item(askId, cheap, ""));
    }

    function test_RevertWhen_assignTask_priceAboveReward() public {
        uint256 askId = _ask(FAST_PRICE - 1, block.timestamp + 1 hours);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.PriceAboveReward, askId, fast));
        market.assignTask(_item(askId, fast, ""));
    }

    function test_RevertWhen_assignTask_deadlineTooSoon() public {
        uint256 askId = _ask(REWARD, block.timestamp + CHEAP_TIME - 1);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.DeadlineTooSoon, askId, cheap));
        market.assignTask(_item(askId, cheap, ""));
        // The fast generator still fits.
        _assign(askId, fast);
    }

    function test_RevertWhen_assignTask_noFreeCompute() public {
        for (uint256 i; i < 4; ++i) {
            _assign(_ask(), cheap);
        }
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.InsufficientCompute, askId, cheap));
        market.assignTask(_item(askId, cheap, ""));
    }

    function test_RevertWhen_assignTask_insufficientOrBelowMinStake() public {
        address poor = makeAddr("poor");
        _onboard(poor, poor, 10, marketId, 1, CHEAP_PRICE, CHEAP_TIME, MIN_STAKE);
        // stake 20 = 2 penalties: two tasks lock all of it.
        _assign(_ask(), poor);
        _assign(_ask(), poor);
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.InsufficientStake, askId, poor));
        market.assignTask(_item(askId, poor, ""));

        address small = makeAddr("small");
        _onboard(small, small, 10, marketId, 1, CHEAP_PRICE, CHEAP_TIME, MIN_STAKE - 1);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, askId, small));
        market.assignTask(_item(askId, small, ""));
    }

    function test_RevertWhen_assignTask_notJoined() public {
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.NotJoined, askId, makeAddr("stranger")));
        market.assignTask(_item(askId, makeAddr("stranger"), ""));
    }

    function test_RevertWhen_assignTask_askNotOpenOrExpired() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.AskNotOpen, askId, fast));
        market.assignTask(_item(askId, fast, ""));

        uint256 other = _ask(REWARD, block.timestamp + 1 hours);
        vm.warp(block.timestamp + 1 hours + 1);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.AskExpired, other, fast));
        market.assignTask(_item(other, fast, ""));
    }

    function test_RevertWhen_assignTask_confidentialWithoutEnclaveKey() public {
        uint256 id = _createMarket(keccak256("prover-image"));
        vm.prank(cheap);
        registry.joinMarket(id, 1, CHEAP_PRICE, CHEAP_TIME);
        IProofMarketplace.AskRequest memory r = _request(id, REWARD, block.timestamp + 1 hours);
        r.secret = "ciphertext";
        r.acl = "wrapped-key";
        vm.prank(requester);
        uint256 askId = market.createAsk(r);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.NoEnclaveKey, askId, cheap));
        market.assignTask(_item(askId, cheap, ""));
    }

    function test_computeIsSharedAcrossMarkets() public {
        uint256 other = _createMarket(bytes32(0));
        address solo = makeAddr("solo");
        // Declared compute 2; one proof of either market takes all of it.
        _onboard(solo, solo, 2, marketId, 2, CHEAP_PRICE, CHEAP_TIME, 100e18);
        vm.prank(solo);
        registry.joinMarket(other, 2, CHEAP_PRICE, CHEAP_TIME);

        uint256 first = _ask();
        _assign(first, solo);
        vm.prank(requester);
        uint256 second = market.createAsk(_request(other, REWARD, block.timestamp + 1 hours));
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.InsufficientCompute, second, solo));
        market.assignTask(_item(second, solo, ""));

        // Completing the first task frees the compute: the generator is listed again in the other market.
        market.submitProof(first, inputs, proof);
        _assign(second, solo);
        assertEq(_consumed(solo), 2);
    }

    function test_relayAssignments_assignsSignedBatch() public {
        IProofMarketplace.Assignment[] memory items = _batch(3, cheap);
        bytes memory sig = _signBatch(me, items, 7, block.timestamp + 60);
        vm.prank(makeAddr("relayer"));
        uint256 assigned = market.relayAssignments(items, 7, block.timestamp + 60, sig);
        assertEq(assigned, 3);
        assertTrue(market.nonceUsed(me.addr, 7));
        assertFalse(market.nonceUsed(me.addr, 8));
        for (uint256 i; i < 3; ++i) {
            assertEq(market.askOf(items[i].askId).generator, cheap);
        }
    }

    function test_relayAssignments_skipsFailingItemsWithoutBlockingOthers() public {
        IProofMarketplace.Assignment[] memory items = _batch(3, cheap);
        // Item 1 cannot be met by anyone in time, item 2 goes to a generator that is not in the market.
        vm.prank(requester);
        items[1].askId = market.createAsk(_request(marketId, REWARD, block.timestamp + 10));
        items[2].generator = makeAddr("stranger");
        bytes memory sig = _signBatch(me, items, 1, block.timestamp + 60);

        vm.expectEmit(address(market));
        emit IProofMarketplace.AssignmentSkipped(items[1].askId, cheap, IGeneratorRegistry.SkipReason.DeadlineTooSoon);
        vm.expectEmit(address(market));
        emit IProofMarketplace.AssignmentSkipped(
            items[2].askId, items[2].generator, IGeneratorRegistry.SkipReason.NotJoined
        );
        uint256 assigned = market.relayAssignments(items, 1, block.timestamp + 60, sig);
        assertEq(assigned, 1);
        assertEq(uint8(_state(items[0].askId)), uint8(IProofMarketplace.AskState.Assigned));
        assertEq(uint8(_state(items[1].askId)), uint8(IProofMarketplace.AskState.Created));
        assertEq(uint8(_state(items[2].askId)), uint8(IProofMarketplace.AskState.Created));
    }

    /// A generator that raises its quote after the engine matched it (front-running the relayed batch) is not
    /// assigned at the new quote: the batch carries the terms the engine matched on.
    function test_relayAssignments_signedTermsBeatQuoteFrontRun() public {
        IProofMarketplace.Assignment[] memory items = _batch(2, cheap);
        for (uint256 i; i < 2; ++i) {
            (items[i].maxPrice, items[i].maxProofTime) = (CHEAP_PRICE, CHEAP_TIME);
        }
        bytes memory sig = _signBatch(me, items, 1, block.timestamp + 60);
        vm.prank(cheap);
        registry.updateQuote(marketId, 1, REWARD, CHEAP_TIME);

        vm.expectEmit(address(market));
        emit IProofMarketplace.AssignmentSkipped(items[0].askId, cheap, IGeneratorRegistry.SkipReason.PriceAboveReward);
        assertEq(market.relayAssignments(items, 1, block.timestamp + 60, sig), 0);

        // Same for a slower commitment.
        vm.prank(cheap);
        registry.updateQuote(marketId, 1, CHEAP_PRICE, CHEAP_TIME * 2);
        sig = _signBatch(me, items, 2, block.timestamp + 60);
        vm.expectEmit(address(market));
        emit IProofMarketplace.AssignmentSkipped(items[0].askId, cheap, IGeneratorRegistry.SkipReason.DeadlineTooSoon);
        assertEq(market.relayAssignments(items, 2, block.timestamp + 60, sig), 0);

        // Back at the matched quote, the batch assigns at that price.
        vm.prank(cheap);
        registry.updateQuote(marketId, 1, CHEAP_PRICE, CHEAP_TIME);
        sig = _signBatch(me, items, 3, block.timestamp + 60);
        assertEq(market.relayAssignments(items, 3, block.timestamp + 60, sig), 2);
        assertEq(market.askOf(items[0].askId).price, CHEAP_PRICE);
    }

    function test_RevertWhen_relayAssignments_badSignatureReplayOrExpiry() public {
        IProofMarketplace.Assignment[] memory items = _batch(2, cheap);
        uint256 expiry = block.timestamp + 60;

        bytes memory forged = _signBatch(vm.createWallet("intruder"), items, 1, expiry);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.InvalidBatchSignature.selector, vm.createWallet("intruder").addr)
        );
        market.relayAssignments(items, 1, expiry, forged);

        // A signature over different items does not authorise these.
        bytes memory sig = _signBatch(me, items, 1, expiry);
        items[1].generator = fast;
        vm.expectRevert();
        market.relayAssignments(items, 1, expiry, sig);
        items[1].generator = cheap;
        items[1].maxPrice = 1;
        vm.expectRevert();
        market.relayAssignments(items, 1, expiry, sig);
        items[1].maxPrice = type(uint256).max;

        market.relayAssignments(items, 1, expiry, sig);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NonceUsed.selector, 1));
        market.relayAssignments(items, 1, expiry, sig);

        bytes memory late = _signBatch(me, items, 2, expiry);
        vm.warp(expiry + 1);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.BatchExpired.selector, expiry, expiry + 1));
        market.relayAssignments(items, 2, expiry, late);
    }

    function test_RevertWhen_relayAssignments_signedForAnotherDeployment() public {
        // The same batch signed for another marketplace (different EIP-712 verifying contract) is rejected.
        vm.startPrank(admin);
        Deployment memory other = _deployProtocol(_defaultConfig(admin, treasury));
        other.keyRegistry.setMatchingEngineKey(_pubkey(me));
        vm.stopPrank();
        IProofMarketplace.Assignment[] memory items = _batch(1, cheap);
        bytes32 digest =
            MarketplaceDigests.assignBatch(other.marketplace.domainSeparator(), items, 1, block.timestamp + 60);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(me, digest);
        vm.expectRevert();
        market.relayAssignments(items, 1, block.timestamp + 60, abi.encodePacked(r, s, v));
    }

    /// Nonces are per signer: a rotated Matching Engine key starts with a fresh nonce space.
    function test_relayAssignments_noncesPerSigner() public {
        IProofMarketplace.Assignment[] memory items = _batch(1, cheap);
        market.relayAssignments(items, 5, block.timestamp + 60, _signBatch(me, items, 5, block.timestamp + 60));
        Vm.Wallet memory next = vm.createWallet("matching-engine-2");
        vm.prank(admin);
        keys.setMatchingEngineKey(_pubkey(next));
        items = _batch(1, cheap);
        market.relayAssignments(items, 5, block.timestamp + 60, _signBatch(next, items, 5, block.timestamp + 60));
        assertTrue(market.nonceUsed(next.addr, 5));
        assertEq(market.askOf(items[0].askId).generator, cheap);
    }

    function test_selfAssign_afterFallbackDelay() public {
        uint256 askId = _ask(REWARD, block.timestamp + 2 hours);
        vm.prank(cheap);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.FallbackNotOpen, askId, cheap));
        market.selfAssign(askId);
        vm.warp(block.timestamp + FALLBACK_DELAY);
        vm.prank(cheap);
        market.selfAssign(askId);
        assertEq(market.askOf(askId).generator, cheap);
        assertEq(market.askOf(askId).price, CHEAP_PRICE);
    }

    /// A protocol minimum raised after a market was created applies to it too.
    function test_selfAssign_waitsForProtocolMinimum() public {
        IProofMarketplace.Params memory p = market.params();
        p.minFallbackDelay = uint16(FALLBACK_DELAY * 2);
        vm.prank(admin);
        market.setParams(p);
        uint256 askId = _ask(REWARD, block.timestamp + 4 hours);
        vm.warp(block.timestamp + FALLBACK_DELAY);
        vm.prank(cheap);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.FallbackNotOpen, askId, cheap));
        market.selfAssign(askId);
        vm.warp(block.timestamp + FALLBACK_DELAY);
        vm.prank(cheap);
        market.selfAssign(askId);
        assertEq(market.askOf(askId).generator, cheap);
    }

    function test_RevertWhen_selfAssign_confidentialMarket() public {
        uint256 id = _createMarket(keccak256("prover-image"));
        IProofMarketplace.AskRequest memory r = _request(id, REWARD, block.timestamp + 2 hours);
        r.secret = "ciphertext";
        r.acl = "wrapped-key";
        vm.prank(requester);
        uint256 askId = market.createAsk(r);
        vm.warp(block.timestamp + FALLBACK_DELAY);
        vm.prank(cheap);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.FallbackNotOpen, askId, cheap));
        market.selfAssign(askId);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Settlement
    // ------------------------------------------------------------------------------------------------------------

    function test_submitProof_paysGeneratorAndRefundsRest() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.expectEmit(address(market));
        emit IProofMarketplace.ProofSubmitted(askId, cheap, cheapReward, CHEAP_PRICE, REWARD - CHEAP_PRICE, proof);
        vm.prank(makeAddr("relayer"));
        market.submitProof(askId, inputs, proof);

        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Completed));
        assertEq(market.claimable(cheapReward), CHEAP_PRICE);
        assertEq(market.claimable(requester), REWARD - CHEAP_PRICE);
        assertEq(_consumed(cheap), 0);
        (, uint256 locked) = _stakeOf(cheap);
        assertEq(locked, 0);

        vm.prank(cheapReward);
        market.withdraw(cheapReward, CHEAP_PRICE);
        assertEq(usdc.balanceOf(cheapReward), CHEAP_PRICE);
        assertEq(usdc.balanceOf(address(market)), REWARD - CHEAP_PRICE);
    }

    function test_RevertWhen_submitProof_invalid() public {
        uint256 askId = _ask();
        _assign(askId, cheap);

        bytes memory bad = bytes.concat(proof);
        bad[10] = bytes1(uint8(bad[10]) ^ 1);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidProof.selector, askId));
        market.submitProof(askId, inputs, bad);

        bytes memory otherInputs = abi.encodePacked(uint256(12_345));
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InputsMismatch.selector, askId, keccak256(inputs), keccak256(otherInputs)
            )
        );
        market.submitProof(askId, otherInputs, proof);

        uint256 taskDeadline = block.timestamp + CHEAP_TIME;
        vm.warp(taskDeadline + 1);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.TaskDeadline.selector, askId, taskDeadline, taskDeadline + 1)
        );
        market.submitProof(askId, inputs, proof);
    }

    function test_RevertWhen_submitProof_twiceOrUnassigned() public {
        uint256 askId = _ask();
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InvalidAskState.selector, askId, IProofMarketplace.AskState.Created
            )
        );
        market.submitProof(askId, inputs, proof);
        _assign(askId, cheap);
        market.submitProof(askId, inputs, proof);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InvalidAskState.selector, askId, IProofMarketplace.AskState.Completed
            )
        );
        market.submitProof(askId, inputs, proof);
    }

    function test_submitInvalidInputAttestation_settlesWithIvsSignature() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        bytes memory sig = _signInvalidInput(ivs, askId);
        vm.expectEmit(address(market));
        emit IProofMarketplace.InvalidInputsSettled(
            askId, cheap, ivs.addr, cheapReward, CHEAP_PRICE, REWARD - CHEAP_PRICE
        );
        vm.prank(cheap);
        market.submitInvalidInputAttestation(askId, sig);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Completed));
        assertEq(market.claimable(cheapReward), CHEAP_PRICE);
        assertEq(_consumed(cheap), 0);
    }

    function test_RevertWhen_submitInvalidInputAttestation_notIvs() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        Vm.Wallet memory intruder = vm.createWallet("intruder");
        bytes memory sig = _signInvalidInput(intruder, askId);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidAttestation.selector, askId, intruder.addr));
        market.submitInvalidInputAttestation(askId, sig);
    }

    /// An IVS signature is bound to the market whose rules it applied: one made for another market does not
    /// settle this ask, even from a key that is an IVS signer here.
    function test_RevertWhen_submitInvalidInputAttestation_signedForAnotherMarket() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        (uint8 v, bytes32 r, bytes32 s_) = vm.sign(
            ivs, MarketplaceDigests.invalidInput(market.domainSeparator(), marketId + 1, askId, keccak256(inputs))
        );
        vm.expectRevert();
        market.submitInvalidInputAttestation(askId, abi.encodePacked(r, s_, v));
    }

    function test_discard_paysSmallerPenaltyAndReopens() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        uint256 penalty = PENALTY * 2500 / 10_000;
        uint256 held = penalty / 2;
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskDiscarded(askId, cheap, penalty, held, true);
        vm.prank(cheap);
        market.discard(askId);

        (uint256 stake, uint256 locked) = _stakeOf(cheap);
        assertEq(stake, 100e18 - penalty);
        assertEq(locked, 0);
        assertEq(registry.payoutOf(requester), 0, "held until a proof");
        assertEq(registry.payoutOf(address(market)), held);
        assertEq(market.heldCompensation(askId), held);
        assertEq(registry.payoutOf(treasury), penalty - held);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created));
        assertEq(market.askOf(askId).generator, address(0));
        assertEq(market.askOf(askId).reopens, 1);
        // Re-matched and proven by another generator: the requester gets the held compensation.
        _assign(askId, fast);
        vm.expectEmit(address(market));
        emit IProofMarketplace.CompensationSettled(askId, requester, held, true);
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(fastReward), FAST_PRICE);
        assertEq(registry.payoutOf(requester), held);
        assertEq(registry.payoutOf(address(market)), 0);
        assertEq(market.heldCompensation(askId), 0);
    }

    function test_RevertWhen_discard_notAssignedGenerator() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.prank(fast);
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NotAssignedGenerator.selector, askId, fast));
        market.discard(askId);
    }

    function test_slash_splitsPenaltyAndReopens() public {
        uint256 askId = _ask(REWARD, block.timestamp + 1 hours);
        _assign(askId, cheap);
        uint256 taskDeadline = block.timestamp + CHEAP_TIME;
        vm.prank(keeper);
        vm.expectRevert(
            abi.encodeWithSelector(IProofMarketplace.TaskDeadline.selector, askId, taskDeadline, block.timestamp)
        );
        market.slash(askId);

        vm.warp(taskDeadline + 1);
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskSlashed(askId, cheap, keeper, PENALTY, 5e18, 1e18, 4e18, true);
        vm.prank(keeper);
        market.slash(askId);

        assertEq(registry.payoutOf(requester), 0, "held until a proof");
        assertEq(market.heldCompensation(askId), 5e18);
        assertEq(registry.payoutOf(keeper), 1e18);
        assertEq(registry.payoutOf(treasury), 4e18);
        // Payouts are withdrawn in the staking token.
        vm.prank(keeper);
        registry.withdrawPayout(keeper, 1e18);
        assertEq(pond.balanceOf(keeper), 1e18);
        (uint256 stake, uint256 locked) = _stakeOf(cheap);
        assertEq(stake, 100e18 - PENALTY);
        assertEq(locked, 0);
        assertEq(_consumed(cheap), 0);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created));
        assertEq(market.askOf(askId).openedAt, block.timestamp);

        _assign(askId, fast);
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(requester), REWARD - FAST_PRICE);
        assertEq(registry.payoutOf(requester), 5e18, "compensation paid with the proof");

        vm.expectRevert(
            abi.encodeWithSelector(
                IProofMarketplace.InvalidAskState.selector, askId, IProofMarketplace.AskState.Completed
            )
        );
        market.slash(askId);
    }

    function test_slash_refundsWhenNoTimeRemains() public {
        uint256 askId = _ask(REWARD, block.timestamp + CHEAP_TIME);
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Refunded));
        assertEq(market.claimable(requester), REWARD);
        // The ask ends without a proof: no compensation (it could be farmed with unprovable inputs).
        assertEq(registry.payoutOf(requester), 0);
        assertEq(registry.payoutOf(treasury), PENALTY - 1e18);
    }

    function test_slash_capsKeeperReward() public {
        IProofMarketplace.Params memory p = market.params();
        p.keeperShareBps = 5000;
        p.requesterShareBps = 1000;
        p.maxKeeperReward = 2e18;
        vm.prank(admin);
        market.setParams(p);
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        assertEq(registry.payoutOf(keeper), 2e18);
        assertEq(market.heldCompensation(askId), 1e18);
        assertEq(registry.payoutOf(treasury), 7e18);
    }

    function test_withdraw_toAnotherAddressInParts() public {
        uint256 askId = _ask();
        vm.prank(requester);
        market.cancelAsk(askId);
        vm.startPrank(requester);
        market.withdraw(makeAddr("cold-wallet"), 2e6);
        market.withdraw(makeAddr("cold-wallet"), REWARD - 2e6);
        vm.stopPrank();
        assertEq(usdc.balanceOf(makeAddr("cold-wallet")), REWARD);
        assertEq(market.claimable(requester), 0);
        assertEq(usdc.balanceOf(address(market)), 0);
    }

    function test_RevertWhen_withdraw_moreThanClaimable() public {
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InsufficientBalance.selector, address(this), 1, 0));
        market.withdraw(address(this), 1);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Admin
    // ------------------------------------------------------------------------------------------------------------

    function test_pause_stopsNewBusinessButNotSettlement() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        uint256 open = _ask();
        vm.prank(admin);
        market.pause();

        vm.prank(requester);
        vm.expectRevert(IProofMarketplace.EnforcedPause.selector);
        market.createAsk(_request(marketId, REWARD, block.timestamp + 1 hours));
        vm.prank(me.addr);
        vm.expectRevert(IProofMarketplace.EnforcedPause.selector);
        market.assignTask(_item(open, cheap, ""));

        market.submitProof(askId, inputs, proof);
        vm.prank(requester);
        market.cancelAsk(open);
        vm.prank(requester);
        market.withdraw(requester, REWARD);

        vm.prank(admin);
        market.unpause();
        _ask();
    }

    function test_RevertWhen_adminFunctions_calledByOthers() public {
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), market.PAUSER_ROLE()
        );
        vm.expectRevert(err);
        market.pause();
        IProofMarketplace.Params memory p = market.params();
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        market.setParams(p);
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        market.upgradeToAndCall(address(1), "");
    }

    function test_RevertWhen_setParams_invalid() public {
        IProofMarketplace.Params memory p = market.params();
        p.requesterShareBps = 9001;
        p.keeperShareBps = 1000;
        vm.prank(admin);
        vm.expectRevert(IProofMarketplace.InvalidParams.selector);
        market.setParams(p);
    }

    function test_domainSeparator_isEip712OfTheProxy() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Kalypso ProofMarketplace"),
                keccak256("1"),
                block.chainid,
                address(market)
            )
        );
        assertEq(market.domainSeparator(), expected);
    }

    /// The tests' digests use the contract's type hashes, and agree with known answers that the Rust signer's test
    /// (crates/primitives/tests/it) pins too: a fixed domain (chain 31337, verifying contract 0x4b4b…4b).
    function test_digests_matchContractTypesAndKnownAnswers() public view {
        assertEq(MarketplaceDigests.ASSIGNMENT_TYPEHASH, market.ASSIGNMENT_TYPEHASH());
        assertEq(MarketplaceDigests.ASSIGN_BATCH_TYPEHASH, market.ASSIGN_BATCH_TYPEHASH());
        assertEq(MarketplaceDigests.INVALID_INPUT_TYPEHASH, market.INVALID_INPUT_TYPEHASH());

        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("Kalypso ProofMarketplace"),
                keccak256("1"),
                31_337,
                address(0x4b4b4B4b4b4B4b4b4B4B4B4B4B4B4B4B4B4B4b4b)
            )
        );
        IProofMarketplace.Assignment[] memory items = new IProofMarketplace.Assignment[](2);
        items[0] =
            IProofMarketplace.Assignment(1, address(0x1111111111111111111111111111111111111111), 1_000_000, 600, "");
        items[1] = IProofMarketplace.Assignment(
            42, address(0x2222222222222222222222222222222222222222), type(uint256).max, 60, "wrapped aes key"
        );
        assertEq(
            MarketplaceDigests.assignBatch(domain, items, 7, 1_900_000_000),
            0x8a55291fdda0de747880398eef3d0a2482ae230255ee763b34302319b2de5d9b
        );
        assertEq(
            MarketplaceDigests.invalidInput(domain, 3, 9, keccak256("inputs")),
            0xd7604c00dd511d90452484077989203e61fae43629b971f0a4d885ca0ee90044
        );
    }

    function test_upgrade_byAdminKeepsState() public {
        uint256 askId = _ask();
        ProofMarketplace next = new ProofMarketplace(
            IERC20(address(usdc)), registry, IEntityKeyRegistryView(address(keys)), d.verifierFactory
        );
        vm.prank(admin);
        market.upgradeToAndCall(address(next), "");
        assertEq(market.askOf(askId).reward, REWARD);
        assertEq(market.marketCount(), 1);
    }

    function test_RevertWhen_implementationInitialised() public {
        ProofMarketplace impl = new ProofMarketplace(
            IERC20(address(usdc)), registry, IEntityKeyRegistryView(address(keys)), d.verifierFactory
        );
        IProofMarketplace.Params memory p = market.params();
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(address(this), p);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Fuzz
    // ------------------------------------------------------------------------------------------------------------

    /// Settlement splits the escrow exactly: price to the generator, the rest to the requester, nothing stuck.
    function testFuzz_submitProof_conservesEscrow(uint256 reward, uint256 price) public {
        reward = bound(reward, 1, type(uint88).max);
        price = bound(price, 0, reward);
        address gen = makeAddr("fuzz-gen");
        _onboard(gen, gen, 1, marketId, 1, price, 60, MIN_STAKE);
        usdc.mint(requester, reward);
        uint256 askId = _ask(reward, block.timestamp + 1 hours);
        _assign(askId, gen);
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(gen), price);
        assertEq(market.claimable(requester), reward - price);
        assertEq(usdc.balanceOf(address(market)), reward);
    }

    /// The slash split never pays out more than the penalty, and the keeper never more than its cap.
    function testFuzz_slash_splitWithinPenalty(uint16 requesterBps, uint16 keeperBps, uint96 cap) public {
        requesterBps = uint16(bound(requesterBps, 0, 10_000));
        keeperBps = uint16(bound(keeperBps, 0, 10_000 - requesterBps));
        IProofMarketplace.Params memory p = market.params();
        (p.requesterShareBps, p.keeperShareBps, p.maxKeeperReward) = (requesterBps, keeperBps, cap);
        vm.prank(admin);
        market.setParams(p);
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        uint256 paid = market.heldCompensation(askId) + registry.payoutOf(keeper) + registry.payoutOf(treasury);
        assertEq(paid, PENALTY);
        assertEq(registry.payoutOf(address(market)), market.heldCompensation(askId));
        assertLe(registry.payoutOf(keeper), cap);
        assertEq(market.heldCompensation(askId), PENALTY * requesterBps / 10_000);
        (uint256 stake,) = _stakeOf(cheap);
        assertEq(stake, 100e18 - PENALTY);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Attacks: nobody profits from failure
    // ------------------------------------------------------------------------------------------------------------

    /// Attack (review): a requester posts inputs without a witness in a market without an IVS; every generator
    /// assigned to it discards, the engine re-matches it, and the requester cancels at the end. Each discard used
    /// to pay the requester a share (12 discards paid 15 POND on a devnet). Now the share is only held for a proof
    /// that never comes, the re-opens are bounded, and the loop costs the requester its input fees.
    function test_attack_discardFarmingLeavesRequesterPoorer() public {
        IProofMarketplace.Params memory p = market.params();
        p.feePerInputByte = 100;
        vm.prank(admin);
        market.setParams(p);
        uint256 usdcBefore = usdc.balanceOf(requester) + market.claimable(requester);
        uint256 pondBefore = pond.balanceOf(requester) + registry.payoutOf(requester);

        uint256 askId = _ask(REWARD, block.timestamp + 1 days);
        address[2] memory gens = [cheap, fast];
        for (uint256 i; i <= market.MAX_REOPENS(); ++i) {
            assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created));
            _assign(askId, gens[i % 2]);
            vm.prank(gens[i % 2]);
            market.discard(askId);
        }
        // The failure after MAX_REOPENS re-opens refunds the ask instead of re-opening it.
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Refunded));
        assertEq(market.askOf(askId).reopens, market.MAX_REOPENS());

        uint256 usdcAfter = usdc.balanceOf(requester) + market.claimable(requester);
        uint256 pondAfter = pond.balanceOf(requester) + registry.payoutOf(requester);
        assertLt(usdcAfter, usdcBefore, "poorer by the input fee");
        assertEq(pondAfter, pondBefore, "no compensation for an ask that was never proven");
        assertEq(market.heldCompensation(askId), 0);
        assertEq(registry.payoutOf(address(market)), 0, "everything held went to the treasury");
    }

    /// The same loop ended by the requester's cancel, with slashes of a generator that did not discard in time.
    function test_attack_slashThenCancelPaysRequesterNothing() public {
        uint256 askId = _ask(REWARD, block.timestamp + 1 days);
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        _assign(askId, fast);
        vm.warp(block.timestamp + FAST_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        uint256 held = market.heldCompensation(askId);
        assertEq(held, 10e18, "half of two penalties");
        uint256 treasuryBefore = registry.payoutOf(treasury);

        vm.expectEmit(address(market));
        emit IProofMarketplace.CompensationSettled(askId, treasury, held, false);
        vm.prank(requester);
        market.cancelAsk(askId);
        assertEq(registry.payoutOf(requester), 0);
        assertEq(registry.payoutOf(treasury), treasuryBefore + held);
        assertEq(market.claimable(requester), REWARD, "the reward comes back, nothing more");
    }

    /// An ask settled through an IVS attestation (its inputs were invalid) forfeits what was held for it.
    function test_attack_ivsSettledAskForfeitsCompensation() public {
        uint256 askId = _ask(REWARD, block.timestamp + 1 days);
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        _assign(askId, fast);
        vm.expectEmit(address(market));
        emit IProofMarketplace.CompensationSettled(askId, treasury, 5e18, false);
        market.submitInvalidInputAttestation(askId, _signInvalidInput(ivs, askId));
        assertEq(registry.payoutOf(requester), 0);
        assertEq(market.claimable(fastReward), FAST_PRICE, "the generator is paid for its work");
    }

    /// Attack (review): a generator slashing itself, or through its reward address, kept the keeper share.
    function test_attack_selfSlashEarnsNoKeeperShare() public {
        uint256 first = _ask();
        uint256 second = _ask();
        _assign(first, cheap);
        _assign(second, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskSlashed(first, cheap, cheap, PENALTY, 5e18, 0, 5e18, true);
        vm.prank(cheap);
        market.slash(first);
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskSlashed(second, cheap, cheapReward, PENALTY, 5e18, 0, 5e18, true);
        vm.prank(cheapReward);
        market.slash(second);
        assertEq(registry.payoutOf(cheap) + registry.payoutOf(cheapReward), 0);
        assertEq(registry.payoutOf(treasury), 10e18);
    }

    /// The Matching Engine cancels a batch it abandoned: nobody can relay it later.
    function test_invalidateNonces_cancelsSignedBatch() public {
        IProofMarketplace.Assignment[] memory items = _batch(1, cheap);
        uint256 expiry = block.timestamp + 60;
        uint256 nonce = 7 * 256 + 3;
        bytes memory sig = _signBatch(me, items, nonce, expiry);
        vm.expectEmit(address(market));
        emit IProofMarketplace.NoncesInvalidated(me.addr, 7, 1 << 3);
        vm.prank(me.addr);
        market.invalidateNonces(7, 1 << 3);
        assertTrue(market.nonceUsed(me.addr, nonce));
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.NonceUsed.selector, nonce));
        market.relayAssignments(items, nonce, expiry, sig);

        // Anyone else's invalidation marks only its own nonces.
        vm.prank(keeper);
        market.invalidateNonces(7, type(uint256).max);
        uint256 other = nonce + 1;
        market.relayAssignments(items, other, expiry, _signBatch(me, items, other, expiry));
        assertEq(market.askOf(items[0].askId).generator, cheap);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------

    function _batch(uint256 n, address generator) internal returns (IProofMarketplace.Assignment[] memory items) {
        items = new IProofMarketplace.Assignment[](n);
        for (uint256 i; i < n; ++i) {
            items[i] = _item(_ask(), generator, "");
        }
    }

    function _signInvalidInput(Vm.Wallet memory signer, uint256 askId) internal returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            signer, MarketplaceDigests.invalidInput(market.domainSeparator(), marketId, askId, keccak256(inputs))
        );
        return abi.encodePacked(r, s, v);
    }
}

/// A verifier whose owner can switch it to rejecting every proof: it passes the sample check when created, so
/// without the factory rule its creator could slash generators for valid proofs.
contract SwitchableVerifier is IVerifier {
    IVerifier internal immutable _inner;
    bool public rejecting;

    constructor(IVerifier inner) {
        _inner = inner;
    }

    function setRejecting(bool rejecting_) external {
        rejecting = rejecting_;
    }

    function verify(bytes calldata inputs, bytes calldata proof) external view returns (bool) {
        return !rejecting && _inner.verify(inputs, proof);
    }

    function verifyAsk(bytes calldata inputs, bytes calldata proof, bytes32 secretCommitment, address generator)
        external
        view
        returns (bool)
    {
        return !rejecting && _inner.verifyAsk(inputs, proof, secretCommitment, generator);
    }

    function verifyInputs(bytes calldata inputs) external view returns (bool) {
        return _inner.verifyInputs(inputs);
    }

    function sampleInput() external view returns (bytes memory) {
        return _inner.sampleInput();
    }

    function sampleProof() external view returns (bytes memory) {
        return _inner.sampleProof();
    }

    function checkSampleInputsAndProof() external view returns (bool) {
        return !rejecting && _inner.checkSampleInputsAndProof();
    }
}
