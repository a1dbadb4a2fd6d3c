// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IMarketView} from "../../src/interfaces/IMarketView.sol";
import {IStakingPool} from "../../src/interfaces/IStakingPool.sol";
import {GeneratorRegistry} from "../../src/registry/GeneratorRegistry.sol";
import {Base} from "../Base.t.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";

/// @notice Unit tests of the GeneratorRegistry (registration, quotes, compute accounting) and the
/// native staking pool module (stake, unstake delay, payouts of slashed stake).
contract GeneratorRegistryTest is Base {
    address internal gen = makeAddr("gen");

    // ------------------------------------------------------------------------------------------------------------
    // Registration
    // ------------------------------------------------------------------------------------------------------------

    function test_register_storesGenerator() public {
        vm.expectEmit(address(registry));
        emit IGeneratorRegistry.GeneratorRegistered(gen, address(7), 8, "meta");
        vm.prank(gen);
        registry.register(address(7), 8, "meta");
        IGeneratorRegistry.Generator memory g = registry.generatorOf(gen);
        assertEq(g.rewardAddress, address(7));
        assertEq(g.declaredCompute, 8);
        assertEq(g.consumedCompute, 0);
        assertEq(g.marketsJoined, 0);
    }

    function test_RevertWhen_register_invalid() public {
        vm.startPrank(gen);
        vm.expectRevert(IGeneratorRegistry.ZeroRewardAddress.selector);
        registry.register(address(0), 8, "");
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCompute.selector, 0, 0));
        registry.register(gen, 0, "");
        registry.register(gen, 8, "");
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.AlreadyRegistered.selector, gen));
        registry.register(gen, 8, "");
        vm.stopPrank();
    }

    function test_updateRewardAddressAndCompute() public {
        vm.startPrank(gen);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.NotRegistered.selector, gen));
        registry.updateRewardAddress(address(9));
        registry.register(gen, 8, "");
        registry.updateRewardAddress(address(9));
        registry.updateDeclaredCompute(16);
        vm.expectRevert(IGeneratorRegistry.ZeroRewardAddress.selector);
        registry.updateRewardAddress(address(0));
        vm.stopPrank();
        assertEq(registry.generatorOf(gen).rewardAddress, address(9));
        assertEq(registry.generatorOf(gen).declaredCompute, 16);
    }

    function test_RevertWhen_updateDeclaredCompute_zeroOrTooLarge() public {
        vm.startPrank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCompute.selector, 0, 0));
        registry.updateDeclaredCompute(0);
        uint256 tooLarge = uint256(type(uint40).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCompute.selector, 0, tooLarge));
        registry.updateDeclaredCompute(tooLarge);
        vm.stopPrank();
    }

    function test_setMarketView_adminOnly() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        registry.setMarketView(market);
        vm.expectEmit(address(registry));
        emit GeneratorRegistry.MarketViewSet(address(0));
        vm.prank(admin);
        registry.setMarketView(IMarketView(address(0)));
        // Without a market view no market can be joined.
        vm.startPrank(gen);
        registry.register(gen, 8, "");
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.MarketNotFound.selector, marketId));
        registry.joinMarket(marketId, 1, 1, 1);
        vm.stopPrank();
    }

    function test_RevertWhen_updateDeclaredCompute_belowConsumed() public {
        _assign(_ask(), cheap);
        _assign(_ask(), cheap);
        vm.prank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.ComputeInUse.selector, 1, 2));
        registry.updateDeclaredCompute(1);
    }

    function test_deregister_onlyOutsideMarkets() public {
        vm.prank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.StillInMarkets.selector, cheap, 1));
        registry.deregister();
        _assign(_ask(), cheap);
        vm.startPrank(cheap);
        registry.leaveMarket(marketId);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.TasksInFlight.selector, cheap, 1));
        registry.deregister();
        vm.stopPrank();
        market.submitProof(1, inputs, proof);
        vm.startPrank(cheap);
        registry.deregister();
        vm.stopPrank();
        assertEq(registry.generatorOf(cheap).rewardAddress, address(0));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Markets and quotes
    // ------------------------------------------------------------------------------------------------------------

    function test_joinMarket_storesQuote() public {
        vm.startPrank(gen);
        registry.register(gen, 8, "");
        vm.expectEmit(address(registry));
        emit IGeneratorRegistry.MarketJoined(gen, marketId, 2, 7, 99);
        registry.joinMarket(marketId, 2, 7, 99);
        vm.stopPrank();
        IGeneratorRegistry.Quote memory q = registry.quoteOf(marketId, gen);
        assertEq(q.computePerProof, 2);
        assertEq(q.pricePerProof, 7);
        assertEq(q.maxProofTime, 99);
        assertEq(registry.generatorOf(gen).marketsJoined, 1);
    }

    function test_RevertWhen_joinMarket_invalid() public {
        vm.startPrank(gen);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.NotRegistered.selector, gen));
        registry.joinMarket(marketId, 1, 1, 1);
        registry.register(gen, 8, "");
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.MarketNotFound.selector, 99));
        registry.joinMarket(99, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCompute.selector, 9, 8));
        registry.joinMarket(marketId, 9, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCompute.selector, 0, 8));
        registry.joinMarket(marketId, 0, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidMaxProofTime.selector, 0));
        registry.joinMarket(marketId, 1, 1, 0);
        vm.expectRevert(
            abi.encodeWithSelector(IGeneratorRegistry.PriceTooLarge.selector, uint256(type(uint88).max) + 1)
        );
        registry.joinMarket(marketId, 1, uint256(type(uint88).max) + 1, 1);
        registry.joinMarket(marketId, 1, 1, 1);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.AlreadyJoined.selector, gen, marketId));
        registry.joinMarket(marketId, 1, 1, 1);
        vm.stopPrank();
    }

    function test_updateQuote_activeTasksKeepTheirTerms() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.prank(cheap);
        registry.updateQuote(marketId, 2, CHEAP_PRICE / 2, CHEAP_TIME * 2);
        IGeneratorRegistry.Quote memory q = registry.quoteOf(marketId, cheap);
        assertEq(q.pricePerProof, CHEAP_PRICE / 2);
        assertEq(q.computePerProof, 2);
        // The task settles at its assigned price and releases the compute it took.
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(cheapReward), CHEAP_PRICE);
        assertEq(_consumed(cheap), 0);
    }

    function test_RevertWhen_updateQuote_notInMarket() public {
        vm.prank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.NotInMarket.selector, cheap, 99));
        registry.updateQuote(99, 1, 1, 1);
    }

    function test_leaveMarket_tasksInFlightStayBinding() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.expectEmit(address(registry));
        emit IGeneratorRegistry.MarketLeft(cheap, marketId);
        vm.prank(cheap);
        registry.leaveMarket(marketId);
        assertEq(registry.quoteOf(marketId, cheap).maxProofTime, 0);
        assertEq(registry.generatorOf(cheap).marketsJoined, 0);
        // No new tasks...
        uint256 next = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.NotJoined, next, cheap));
        market.assignTask(_item(next, cheap, ""));
        // ...but the assigned one settles on its terms and releases its compute and stake.
        market.submitProof(askId, inputs, proof);
        assertEq(market.claimable(cheapReward), CHEAP_PRICE);
        assertEq(_consumed(cheap), 0);
        (, uint256 locked) = _stakeOf(cheap);
        assertEq(locked, 0);
        vm.prank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.NotInMarket.selector, cheap, marketId));
        registry.leaveMarket(marketId);
    }

    function test_RevertWhen_taskHooks_notMarketplace() public {
        bytes memory err = abi.encodeWithSelector(
            IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), registry.MARKETPLACE_ROLE()
        );
        vm.expectRevert(err);
        registry.tryAssign(cheap, 1, marketId, 1, 1, 1, 1);
        vm.expectRevert(err);
        registry.completeTask(cheap, 1, 1, 1, 0);
        vm.expectRevert(err);
        registry.slashTask(cheap, 1, 1, 1, 0, new address[](0), new uint256[](0));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Staking pool
    // ------------------------------------------------------------------------------------------------------------

    function test_stake_andUnstakeAfterDelay() public {
        pond.mint(gen, 50e18);
        vm.startPrank(gen);
        pond.approve(address(registry), 50e18);
        vm.expectEmit(address(registry));
        emit IStakingPool.Staked(gen, gen, 50e18, 50e18);
        registry.stake(50e18);
        assertEq(registry.positionOf(gen).stake, 50e18);
        registry.requestUnstake(20e18);
        assertEq(registry.positionOf(gen).stake, 30e18);
        assertEq(registry.positionOf(gen).pending, 20e18);
        assertEq(registry.freeStake(gen), 30e18);
        uint256 unlockAt = block.timestamp + 1 days;
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.WithdrawalLocked.selector, gen, unlockAt));
        registry.unstake(gen);
        vm.warp(unlockAt);
        assertEq(registry.unstake(gen), 20e18);
        assertEq(pond.balanceOf(gen), 20e18);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.NothingPending.selector, gen));
        registry.unstake(gen);
        vm.stopPrank();
    }

    function test_cancelUnstake_restoresStake() public {
        vm.startPrank(cheap);
        registry.requestUnstake(10e18);
        registry.cancelUnstake();
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.NothingPending.selector, cheap));
        registry.cancelUnstake();
        vm.stopPrank();
        assertEq(registry.positionOf(cheap).stake, 100e18);
        assertEq(registry.positionOf(cheap).pending, 0);
    }

    function test_RevertWhen_requestUnstake_lockedStake() public {
        _assign(_ask(), cheap);
        vm.startPrank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.InsufficientFreeStake.selector, cheap, 100e18, 90e18));
        registry.requestUnstake(100e18);
        vm.expectRevert(IStakingPool.ZeroAmount.selector);
        registry.requestUnstake(0);
        vm.stopPrank();
    }

    function test_RevertWhen_stake_zeroOrTooLarge() public {
        vm.expectRevert(IStakingPool.ZeroAmount.selector);
        registry.stake(0);
        pond.mint(address(this), type(uint96).max);
        pond.approve(address(registry), type(uint96).max);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.AmountTooLarge.selector, uint256(type(uint96).max)));
        registry.stakeFor(cheap, type(uint96).max);
    }

    function test_requestUnstake_delistsBelowMinStake() public {
        // Pending withdrawals stop counting at once: the generator falls below the market's minimum stake.
        vm.prank(cheap);
        registry.requestUnstake(100e18 - MIN_STAKE + 1);
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, askId, cheap));
        market.assignTask(_item(askId, cheap, ""));
    }

    function test_stakeFor_topsUpAnotherGenerator() public {
        pond.mint(address(this), 5e18);
        pond.approve(address(registry), 5e18);
        registry.stakeFor(cheap, 5e18);
        assertEq(registry.positionOf(cheap).stake, 105e18);
    }

    function test_withdrawPayout_ofSlashedStake() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        uint256 owed = registry.payoutOf(keeper);
        assertGt(owed, 0);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.InsufficientPayout.selector, keeper, owed + 1, owed));
        registry.withdrawPayout(keeper, owed + 1);
        vm.prank(keeper);
        registry.withdrawPayout(address(0xBEEF), owed);
        assertEq(pond.balanceOf(address(0xBEEF)), owed);
        assertEq(registry.payoutOf(keeper), 0);
    }

    function test_setWithdrawalDelay_adminOnly() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        registry.setWithdrawalDelay(1);
        vm.prank(admin);
        registry.setWithdrawalDelay(1);
        assertEq(registry.withdrawalDelay(), 1);
    }

    /// A huge delay must not wrap the 40-bit unlock time into the past (stake withdrawable at once).
    function test_RevertWhen_setWithdrawalDelay_aboveCap() public {
        uint256 max = registry.MAX_WITHDRAWAL_DELAY();
        assertEq(max, 365 days);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.WithdrawalDelayTooLong.selector, max + 1, max));
        registry.setWithdrawalDelay(max + 1);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.WithdrawalDelayTooLong.selector, type(uint256).max, max));
        registry.setWithdrawalDelay(type(uint256).max);
        // 2^40 - now would have wrapped `uint40(now + delay)` to zero before the cap.
        uint256 wrapping = (uint256(1) << 40) - block.timestamp;
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.WithdrawalDelayTooLong.selector, wrapping, max));
        registry.setWithdrawalDelay(wrapping);
        registry.setWithdrawalDelay(max);
        vm.stopPrank();

        vm.prank(cheap);
        registry.requestUnstake(1e18);
        assertEq(registry.positionOf(cheap).unlockAt, block.timestamp + max);
        vm.warp(block.timestamp + max - 1);
        vm.prank(cheap);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.WithdrawalLocked.selector, cheap, block.timestamp + 1));
        registry.unstake(cheap);
    }

    function test_transferPayout_movesOnlyOwnBalance() public {
        uint256 askId = _ask();
        _assign(askId, cheap);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(askId);
        uint256 kept = registry.payoutOf(keeper);
        assertGt(kept, 0);
        vm.prank(keeper);
        vm.expectRevert(abi.encodeWithSelector(IStakingPool.InsufficientPayout.selector, keeper, kept + 1, kept));
        registry.transferPayout(requester, kept + 1);
        vm.expectEmit(address(registry));
        emit IStakingPool.PayoutTransferred(keeper, requester, kept);
        vm.prank(keeper);
        registry.transferPayout(requester, kept);
        assertEq(registry.payoutOf(keeper), 0);
        assertEq(registry.payoutOf(requester), kept);
    }

    function test_RevertWhen_upgradeOrReinitialise() public {
        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        registry.upgradeToAndCall(address(1), "");
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        registry.initialize(address(this), market, 0);
        GeneratorRegistry impl = new GeneratorRegistry(pond);
        vm.expectRevert(Initializable.InvalidInitialization.selector);
        impl.initialize(address(this), market, 0);
    }
}
