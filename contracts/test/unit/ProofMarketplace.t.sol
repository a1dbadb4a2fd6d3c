// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntityKeyRegistryView} from "../../src/interfaces/IEntityKeyRegistry.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IVerifier} from "../../src/interfaces/IVerifier.sol";
import {ProofMarketplace} from "../../src/marketplace/ProofMarketplace.sol";
import {Base} from "../Base.t.sol";
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

    function test_RevertWhen_createMarket_verifierFailsSelfCheck() public {
        // A contract that is not a verifier: the self-check call reverts, which counts as a failure.
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.VerifierSelfCheckFailed.selector, address(usdc)));
        market.createMarket(IVerifier(address(usdc)), bytes32(0), bytes32(0), PENALTY, MIN_STAKE, 0, "");
    }

    function test_RevertWhen_createMarket_invalidParams() public {
        address eoa = makeAddr("eoa");
        _expectInvalidMarket(eoa, PENALTY, MIN_STAKE, 0);
        market.createMarket(IVerifier(eoa), bytes32(0), bytes32(0), PENALTY, MIN_STAKE, 0, "");
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
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidInputs.selector, marketId));
        market.createAsk(r);
        r.proverData = hex"0102";
        vm.expectRevert(abi.encodeWithSelector(IProofMarketplace.InvalidInputs.selector, marketId));
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
        bytes32 digest = other.marketplace.assignBatchDigest(items, 1, block.timestamp + 60);
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

    function test_submitProofs_settlesBatch() public {
        uint256[] memory ids = new uint256[](2);
        bytes[] memory data = new bytes[](2);
        bytes[] memory proofs = new bytes[](2);
        for (uint256 i; i < 2; ++i) {
            ids[i] = _ask();
            _assign(ids[i], fast);
            (data[i], proofs[i]) = (inputs, proof);
        }
        market.submitProofs(ids, data, proofs);
        assertEq(market.claimable(fastReward), 2 * FAST_PRICE);
        vm.expectRevert(IProofMarketplace.LengthMismatch.selector);
        market.submitProofs(ids, new bytes[](1), proofs);
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
        (uint8 v, bytes32 r, bytes32 s_) =
            vm.sign(ivs, market.invalidInputDigest(marketId + 1, askId, keccak256(inputs)));
        vm.expectRevert();
        market.submitInvalidInputAttestation(askId, abi.encodePacked(r, s_, v));
    }

    function test_discard_paysSmallerPenaltyAndReopens() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        uint256 penalty = PENALTY * 2500 / 10_000;
        uint256 toRequester = penalty / 2;
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskDiscarded(askId, cheap, penalty, toRequester, true);
        vm.prank(cheap);
        market.discard(askId);

        (uint256 stake, uint256 locked) = _stakeOf(cheap);
        assertEq(stake, 100e18 - penalty);
        assertEq(locked, 0);
        assertEq(registry.payoutOf(requester), toRequester);
        assertEq(registry.payoutOf(treasury), penalty - toRequester);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created));
        assertEq(market.askOf(askId).generator, address(0));
        // Re-matched and proven by another generator.
        _assign(askId, fast);
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(fastReward), FAST_PRICE);
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

        assertEq(registry.payoutOf(requester), 5e18);
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
        assertEq(registry.payoutOf(requester), 1e18);
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

    function test_upgrade_byAdminKeepsState() public {
        uint256 askId = _ask();
        ProofMarketplace next =
            new ProofMarketplace(IERC20(address(usdc)), registry, IEntityKeyRegistryView(address(keys)));
        vm.prank(admin);
        market.upgradeToAndCall(address(next), "");
        assertEq(market.askOf(askId).reward, REWARD);
        assertEq(market.marketCount(), 1);
    }

    function test_RevertWhen_implementationInitialised() public {
        ProofMarketplace impl =
            new ProofMarketplace(IERC20(address(usdc)), registry, IEntityKeyRegistryView(address(keys)));
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
        uint256 paid = registry.payoutOf(requester) + registry.payoutOf(keeper) + registry.payoutOf(treasury);
        assertEq(paid, PENALTY);
        assertLe(registry.payoutOf(keeper), cap);
        assertEq(registry.payoutOf(requester), PENALTY * requesterBps / 10_000);
        (uint256 stake,) = _stakeOf(cheap);
        assertEq(stake, 100e18 - PENALTY);
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
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signer, market.invalidInputDigest(marketId, askId, keccak256(inputs)));
        return abi.encodePacked(r, s, v);
    }
}

