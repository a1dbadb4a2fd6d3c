// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "../../src/interfaces/ICollateralPool.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IRestakingPool} from "../../src/interfaces/IRestakingPool.sol";
import {RestakingPool} from "../../src/staking/RestakingPool.sol";
import {Base} from "../Base.t.sol";
import {Restaking} from "../utils/Restaking.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {Vm} from "forge-std/Test.sol";

/// @notice Restaked collateral in the marketplace: committee snapshots, the native-first pool rule, locks against
/// the latest fresh snapshot, slashes queued for the L1 and settled by later snapshots.
contract RestakingPoolTest is Base {
    RestakingPool internal pool;
    Vm.Wallet[] internal members;

    /// A generator with no native stake, backed by restaked collateral only.
    address internal restaker = makeAddr("restaker");
    address internal restakerReward = makeAddr("restakerReward");

    uint256 internal constant EPOCH = 600;
    uint256 internal constant OFFSET = 60;
    uint256 internal constant RESTAKER_PRICE = 2e6;
    uint256 internal constant RESTAKER_TIME = 300;
    uint256 internal constant RESTAKED = 100e18;

    function setUp() public override {
        super.setUp();
        members.push(vm.createWallet("committee-1"));
        members.push(vm.createWallet("committee-2"));
        members.push(vm.createWallet("committee-3"));
        address[] memory addrs = new address[](3);
        for (uint256 i; i < 3; ++i) {
            addrs[i] = members[i].addr;
        }
        pool = new RestakingPool(address(registry), admin, Restaking.params(block.timestamp - 10, EPOCH), addrs, 2);
        vm.prank(admin);
        registry.addCollateralPool(pool);

        vm.startPrank(restaker);
        registry.register(restakerReward, 4, "restaked-box");
        registry.joinMarket(marketId, 1, RESTAKER_PRICE, RESTAKER_TIME);
        vm.stopPrank();

        _toEpoch(1);
        _snapshot(Restaking.one(1, 0, restaker, RESTAKED));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Helpers
    // ------------------------------------------------------------------------------------------------------------

    function _toEpoch(uint256 epoch) internal {
        vm.warp(pool.epochStart(epoch) + 1);
    }

    function _signers(uint256 n) internal view returns (Vm.Wallet[] memory w) {
        w = new Vm.Wallet[](n);
        for (uint256 i; i < n; ++i) {
            w[i] = members[i];
        }
    }

    function _snapshot(IRestakingPool.Snapshot memory s) internal {
        pool.submitSnapshot(s, Restaking.sign(pool, s, _signers(2)));
    }

    function _committee() internal view returns (address[] memory m) {
        (m,) = pool.committee();
    }

    function _op(address operator) internal view returns (IRestakingPool.Operator memory) {
        return pool.operatorOf(operator);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Registry: pools
    // ------------------------------------------------------------------------------------------------------------

    function test_addCollateralPool_numbersPoolsFromOne() public {
        RestakingPool second =
            new RestakingPool(address(registry), admin, Restaking.params(block.timestamp, EPOCH), _committee(), 2);
        vm.expectEmit(address(registry));
        emit IGeneratorRegistry.CollateralPoolAdded(2, address(second));
        vm.prank(admin);
        registry.addCollateralPool(second);
        assertEq(address(registry.collateralPools()[0]), address(pool));
        assertEq(address(registry.collateralPools()[1]), address(second));
    }

    function test_RevertWhen_addCollateralPool_invalid() public {
        RestakingPool foreign =
            new RestakingPool(address(0xdead), admin, Restaking.params(block.timestamp, EPOCH), _committee(), 2);
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCollateralPool.selector, address(foreign)));
        registry.addCollateralPool(foreign);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.InvalidCollateralPool.selector, address(pool)));
        registry.addCollateralPool(pool);
        for (uint256 i = 1; i < registry.MAX_COLLATERAL_POOLS(); ++i) {
            registry.addCollateralPool(
                new RestakingPool(address(registry), admin, Restaking.params(block.timestamp, EPOCH), _committee(), 1)
            );
        }
        RestakingPool ninth =
            new RestakingPool(address(registry), admin, Restaking.params(block.timestamp, EPOCH), _committee(), 1);
        vm.expectRevert(abi.encodeWithSelector(IGeneratorRegistry.TooManyCollateralPools.selector, 8));
        registry.addCollateralPool(ninth);
        vm.stopPrank();

        vm.expectRevert(
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0))
        );
        registry.addCollateralPool(ninth);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Which pool covers a task
    // ------------------------------------------------------------------------------------------------------------

    function test_assign_locksRestakedStakeWhenNoNativeStake() public {
        uint256 askId = _ask();
        vm.expectEmit(address(pool));
        emit IRestakingPool.RestakeLocked(restaker, askId, PENALTY, 1);
        _assign(askId, restaker);
        assertEq(market.askOf(askId).collateralPool, 1);
        assertEq(_op(restaker).locked, PENALTY);
        assertEq(pool.freeStake(restaker), RESTAKED - PENALTY);
        (uint256 stake, uint256 locked) = _stakeOf(restaker);
        assertEq(stake + locked, 0, "no native stake involved");
    }

    function test_assign_prefersNativeStake() public {
        pond.mint(restaker, 100e18);
        vm.startPrank(restaker);
        pond.approve(address(registry), 100e18);
        registry.stake(100e18);
        vm.stopPrank();
        uint256 askId = _ask();
        _assign(askId, restaker);
        assertEq(market.askOf(askId).collateralPool, 0);
        assertEq(_op(restaker).locked, 0);
        (, uint256 locked) = _stakeOf(restaker);
        assertEq(locked, PENALTY);
    }

    function test_assign_fallsBackToRestakedWhenNativeRunsShort() public {
        // Native stake of exactly the minimum covers two penalties of 10, the third task goes to the pool.
        pond.mint(restaker, MIN_STAKE);
        vm.startPrank(restaker);
        pond.approve(address(registry), MIN_STAKE);
        registry.stake(MIN_STAKE);
        vm.stopPrank();
        uint256[3] memory ids = [_ask(), _ask(), _ask()];
        for (uint256 i; i < 3; ++i) {
            _assign(ids[i], restaker);
        }
        assertEq(market.askOf(ids[0]).collateralPool, 0);
        assertEq(market.askOf(ids[1]).collateralPool, 0);
        assertEq(market.askOf(ids[2]).collateralPool, 1);
        assertEq(_op(restaker).locked, PENALTY);
    }

    function test_assign_neverAddsStakeAcrossPools() public {
        // 15 native (below the minimum of 20) plus 15 restaked (below it too): no pool alone meets the minimum.
        pond.mint(restaker, 15e18);
        vm.startPrank(restaker);
        pond.approve(address(registry), 15e18);
        registry.stake(15e18);
        vm.stopPrank();
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, 15e18));
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, askId, restaker));
        market.assignTask(_item(askId, restaker, ""));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Settlement
    // ------------------------------------------------------------------------------------------------------------

    function test_submitProof_releasesRestakedLock() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        vm.expectEmit(address(pool));
        emit IRestakingPool.RestakeReleased(restaker, askId, PENALTY);
        vm.prank(restaker);
        market.submitProof(askId, inputs, proof);
        assertEq(_op(restaker).locked, 0);
        assertEq(pool.freeStake(restaker), RESTAKED);
        assertEq(market.claimable(restakerReward), RESTAKER_PRICE);
    }

    function test_slash_queuesAnL1SlashAndCreditsNothingHere() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        vm.warp(block.timestamp + RESTAKER_TIME + 1);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(0, restaker, askId, PENALTY, pool.epochStart(1));
        vm.expectEmit(address(market));
        emit IProofMarketplace.TaskSlashed(askId, restaker, keeper, PENALTY, 0, 0, PENALTY, true);
        vm.prank(keeper);
        market.slash(askId);

        assertEq(registry.payoutOf(keeper), 0);
        assertEq(registry.payoutOf(treasury), 0);
        assertEq(market.heldCompensation(askId), 0);
        IRestakingPool.Operator memory op = _op(restaker);
        assertEq(op.locked, 0);
        assertEq(op.pendingSlash, PENALTY);
        assertEq(pool.freeStake(restaker), RESTAKED - PENALTY, "pending slashes are not lockable");
        assertEq(pool.nextSlashId(), 1);
        IRestakingPool.Slash memory s = pool.slashOf(0);
        assertEq(s.operator, restaker);
        assertEq(s.amount, PENALTY);
        assertEq(uint8(_state(askId)), uint8(IProofMarketplace.AskState.Created), "reopened");
    }

    function test_discard_queuesTheDiscardPenalty() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        uint256 penalty = PENALTY * market.params().discardPenaltyBps / 10_000;
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(0, restaker, askId, penalty, pool.epochStart(1));
        vm.prank(restaker);
        market.discard(askId);
        assertEq(_op(restaker).pendingSlash, penalty);
        assertEq(_op(restaker).locked, 0);
        assertEq(registry.payoutOf(treasury), 0);
    }

    function test_submitSnapshot_settlesPendingSlashes() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        vm.warp(block.timestamp + RESTAKER_TIME + 1);
        market.slash(askId);
        // Epoch 2's capture is before the L1 executed the slash: still pending.
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, RESTAKED));
        assertEq(pool.freeStake(restaker), RESTAKED - PENALTY);
        // Epoch 3's capture is after: the stake shows the slash and the pending amount is released.
        _toEpoch(3);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashSettled(0, restaker, PENALTY);
        _snapshot(Restaking.one(3, 1, restaker, RESTAKED - PENALTY));
        assertEq(_op(restaker).pendingSlash, 0);
        assertEq(pool.freeStake(restaker), RESTAKED - PENALTY);
        assertEq(pool.settledSlashes(), 1);
    }

    /// A pending slash counts as gone for the market's minimum, as a native slash takes the stake at once: an
    /// operator restaking exactly the minimum is slashed once and gets nothing more until the L1 executes the slash
    /// and its stake is topped up, although its free stake would still cover another penalty.
    function test_tryLock_countsPendingSlashesAgainstTheMinimumStake() public {
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, MIN_STAKE));
        uint256 askId = _ask();
        _assign(askId, restaker);
        vm.warp(block.timestamp + RESTAKER_TIME + 1);
        market.slash(askId);
        assertEq(pool.freeStake(restaker), MIN_STAKE - PENALTY, "another penalty would fit");
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, askId, restaker));
        market.assignTask(_item(askId, restaker, ""));
        // Settled on the L1 and topped up: back in the market.
        _toEpoch(3);
        _snapshot(Restaking.one(3, 1, restaker, MIN_STAKE + PENALTY));
        _assign(askId, restaker);
        assertEq(_op(restaker).locked, PENALTY);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Epochs
    // ------------------------------------------------------------------------------------------------------------

    function test_epochRolloverMidTask_keepsTheLockAndSlashesAgainstItsCapture() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        // The next epoch's stake falls below what is locked: no new locks, the task in flight keeps its lock.
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, 15e18));
        uint256 second = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, second, restaker));
        market.assignTask(_item(second, restaker, ""));
        assertEq(pool.freeStake(restaker), 5e18);
        assertEq(_op(restaker).locked, PENALTY);
        // The slash is requested against epoch 1's capture, when the stake backing the task was counted.
        vm.warp(block.timestamp + RESTAKER_TIME);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(0, restaker, askId, PENALTY, pool.epochStart(1));
        market.slash(askId);
    }

    /// Every slash of an operator names the capture of its latest lock: that stake covered the slashed task's lock
    /// too, and the operator's L1 captures never go backwards (Symbiotic slashes nothing for a capture older than
    /// one already slashed, so an older capture executed after a newer one would be worth nothing).
    function test_slash_namesTheCaptureOfTheOperatorsLatestLock() public {
        uint256 first = _ask();
        _assign(first, restaker);
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, RESTAKED));
        uint256 second = _ask();
        _assign(second, restaker);
        assertEq(_op(restaker).lastLockEpoch, 2);
        vm.warp(block.timestamp + RESTAKER_TIME + 1);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(0, restaker, first, PENALTY, pool.epochStart(2));
        market.slash(first);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(1, restaker, second, PENALTY, pool.epochStart(2));
        market.slash(second);
    }

    function test_RevertWhen_slashWindowBeyondTheL1Window() public {
        // The L1 takes captures at most two epochs old; the latency (half an epoch here) must fit too.
        uint256 max = 2 * EPOCH - pool.SLASH_LATENCY();
        vm.prank(admin);
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SlashWindowTooLong.selector, max + 1, max));
        pool.setSlashWindow(max + 1);
        IRestakingPool.Params memory p = Restaking.params(block.timestamp, EPOCH);
        p.slashWindow = uint64(max + 1);
        address[] memory members = _committee();
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SlashWindowTooLong.selector, max + 1, max));
        new RestakingPool(address(registry), admin, p, members, 1);
    }

    function test_tryLock_leavesPenaltiesBelowTheMinimumLockToNativeStake() public {
        IRestakingPool.Params memory p = Restaking.params(pool.EPOCH_START(), EPOCH);
        p.minLock = uint96(PENALTY + 1);
        RestakingPool strict = new RestakingPool(address(registry), admin, p, _committee(), 2);
        IRestakingPool.Snapshot memory s = Restaking.one(1, 0, restaker, RESTAKED);
        strict.submitSnapshot(s, Restaking.sign(strict, s, _signers(2)));
        vm.startPrank(address(registry));
        assertEq(
            uint8(strict.tryLock(restaker, 1, PENALTY, 0, block.timestamp)),
            uint8(ICollateralPool.LockResult.BelowMinLock)
        );
        assertEq(
            uint8(strict.tryLock(restaker, 1, PENALTY + 1, 0, block.timestamp)),
            uint8(ICollateralPool.LockResult.Locked)
        );
        vm.stopPrank();
    }

    /// One snapshot settles at most MAX_SETTLE_PER_SNAPSHOT slashes, so dust slashes cannot push it past the block
    /// gas limit.
    function test_RevertWhen_submitSnapshot_settlesTooMany() public {
        uint256 n = pool.MAX_SETTLE_PER_SNAPSHOT() + 1;
        vm.startPrank(address(registry));
        for (uint256 i = 1; i <= n; ++i) {
            pool.tryLock(restaker, i, 1, 0, block.timestamp);
            pool.slash(restaker, i, 1);
        }
        vm.stopPrank();
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, uint64(n), restaker, RESTAKED);
        bytes[] memory sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.TooManySettled.selector, n, n - 1));
        pool.submitSnapshot(s, sigs);
        _snapshot(Restaking.one(2, uint64(n - 1), restaker, RESTAKED));
        assertEq(pool.settledSlashes(), n - 1);
        assertEq(_op(restaker).pendingSlash, 1);
    }

    function test_relayerDownForTwoEpochs_stopsNewLocksAndLosesNothing() public {
        // Two tasks assigned late in epoch 1, due after the snapshot goes stale.
        vm.warp(pool.epochStart(2) - 100);
        uint256 proven = _ask(REWARD, block.timestamp + 3 hours);
        uint256 missed = _ask(REWARD, block.timestamp + 3 hours);
        _assign(proven, restaker);
        _assign(missed, restaker);
        // No snapshot for epochs 2 and 3: epoch 1's applies until epoch 2 starts plus the offset.
        vm.warp(pool.epochStart(2) + OFFSET - 1);
        (, bool fresh) = pool.latestEpoch();
        assertTrue(fresh);
        vm.warp(pool.epochStart(2) + OFFSET);
        (, fresh) = pool.latestEpoch();
        assertFalse(fresh);
        assertEq(pool.freeStake(restaker), 0);
        uint256 askId = _ask(REWARD, block.timestamp + 3 hours);
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.CollateralStale, askId, restaker));
        market.assignTask(_item(askId, restaker, ""));
        // The tasks in flight still settle: one proven (lock released), one slashed (queued for the L1).
        vm.prank(restaker);
        market.submitProof(proven, inputs, proof);
        vm.warp(pool.epochStart(2) + 201);
        vm.expectEmit(address(pool));
        emit IRestakingPool.SlashQueued(0, restaker, missed, PENALTY, pool.epochStart(1));
        market.slash(missed);
        assertEq(_op(restaker).locked, 0);
        assertEq(_op(restaker).pendingSlash, PENALTY);

        vm.warp(pool.epochStart(3) + OFFSET);
        // The relayer is back: epoch 2's snapshot is too late, epoch 3's applies.
        IRestakingPool.Snapshot memory late = Restaking.one(2, 0, restaker, RESTAKED);
        bytes[] memory sigs = Restaking.sign(pool, late, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SnapshotStale.selector, 2, pool.epochStart(3) + OFFSET));
        pool.submitSnapshot(late, sigs);
        _snapshot(Restaking.one(3, 0, restaker, RESTAKED));
        _assign(askId, restaker);
        assertEq(market.askOf(askId).collateralPool, 1);
        assertEq(_op(restaker).locked, PENALTY);
        assertEq(pool.freeStake(restaker), RESTAKED - 2 * PENALTY, "the pending slash still counts");
    }

    function test_assign_skipsTasksDueAfterTheSlashWindow() public {
        vm.prank(admin);
        pool.setSlashWindow(RESTAKER_TIME);
        // The capture of epoch 1 was a second ago; the task would be due RESTAKER_TIME from now.
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BeyondSlashWindow, askId, restaker));
        market.assignTask(_item(askId, restaker, ""));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Snapshots: bad input
    // ------------------------------------------------------------------------------------------------------------

    function test_RevertWhen_submitSnapshot_signedByUnknownKey() public {
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, 1000e18);
        Vm.Wallet memory stranger = vm.createWallet("stranger");
        Vm.Wallet[] memory w = new Vm.Wallet[](2);
        (w[0], w[1]) = (members[0], stranger);
        bytes[] memory sigs = Restaking.sign(pool, s, w);
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.NotCommitteeMember.selector, stranger.addr));
        pool.submitSnapshot(s, sigs);
    }

    function test_RevertWhen_submitSnapshot_belowThresholdOrDuplicateSigner() public {
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, 1000e18);
        bytes[] memory one = Restaking.sign(pool, s, _signers(1));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.BelowThreshold.selector, 1, 2));
        pool.submitSnapshot(s, one);
        bytes[] memory twice = new bytes[](2);
        (twice[0], twice[1]) = (one[0], one[0]);
        vm.expectRevert(
            abi.encodeWithSelector(IRestakingPool.SignersNotAscending.selector, members[0].addr, members[0].addr)
        );
        pool.submitSnapshot(s, twice);
    }

    function test_RevertWhen_submitSnapshot_signaturesForOtherContent() public {
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, RESTAKED);
        bytes[] memory sigs = Restaking.sign(pool, s, _signers(2));
        s.stakes[0] = 1000e18;
        // The digest differs, so the recovered signers are strangers.
        vm.expectPartialRevert(IRestakingPool.NotCommitteeMember.selector);
        pool.submitSnapshot(s, sigs);
    }

    function test_RevertWhen_submitSnapshot_replayedOrOutOfOrder() public {
        IRestakingPool.Snapshot memory s = Restaking.one(1, 0, restaker, RESTAKED);
        bytes[] memory sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SnapshotReplay.selector, restaker, 1));
        pool.submitSnapshot(s, sigs);
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, RESTAKED));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SnapshotOutOfOrder.selector, 1, 2));
        pool.submitSnapshot(s, sigs);
    }

    function test_RevertWhen_submitSnapshot_futureOrZeroEpoch() public {
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, RESTAKED);
        bytes[] memory sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SnapshotFromFuture.selector, 2, pool.epochStart(2)));
        pool.submitSnapshot(s, sigs);
        s = Restaking.one(0, 0, restaker, RESTAKED);
        sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(IRestakingPool.EpochZero.selector);
        pool.submitSnapshot(s, sigs);
    }

    function test_RevertWhen_submitSnapshot_malformed() public {
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, RESTAKED);
        s.stakes = new uint256[](2);
        bytes[] memory sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.SnapshotLengthMismatch.selector, 1, 2));
        pool.submitSnapshot(s, sigs);

        s = Restaking.one(2, 1, restaker, RESTAKED);
        sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.InvalidSlashCursor.selector, 1, 0, 0));
        pool.submitSnapshot(s, sigs);

        s = Restaking.one(2, 0, restaker, uint256(type(uint96).max) + 1);
        sigs = Restaking.sign(pool, s, _signers(2));
        vm.expectRevert(
            abi.encodeWithSelector(IRestakingPool.StakeTooLarge.selector, restaker, uint256(type(uint96).max) + 1)
        );
        pool.submitSnapshot(s, sigs);
    }

    function test_submitSnapshot_acceptsAnEpochInParts() public {
        _toEpoch(2);
        address other = makeAddr("other-operator");
        _snapshot(Restaking.one(2, 0, restaker, 50e18));
        _snapshot(Restaking.one(2, 0, other, 70e18));
        assertEq(pool.freeStake(restaker), 50e18);
        assertEq(pool.freeStake(other), 70e18);
    }

    function test_freeStake_isZeroForOperatorsMissingFromTheLatestEpoch() public {
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, makeAddr("other-operator"), 70e18));
        assertEq(pool.freeStake(restaker), 0);
        uint256 askId = _ask();
        vm.prank(me.addr);
        vm.expectRevert(_skip(IGeneratorRegistry.SkipReason.BelowMinStake, askId, restaker));
        market.assignTask(_item(askId, restaker, ""));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Access control
    // ------------------------------------------------------------------------------------------------------------

    function test_RevertWhen_perTaskCalls_notRegistry() public {
        bytes memory err = abi.encodeWithSelector(ICollateralPool.NotRegistry.selector, address(this));
        vm.expectRevert(err);
        pool.tryLock(restaker, 1, 1, 0, block.timestamp);
        vm.expectRevert(err);
        pool.release(restaker, 1);
        vm.expectRevert(err);
        pool.slash(restaker, 1, 1);
    }

    function test_RevertWhen_slash_exceedsTheLock() public {
        uint256 askId = _ask();
        _assign(askId, restaker);
        vm.prank(address(registry));
        vm.expectRevert(abi.encodeWithSelector(ICollateralPool.SlashExceedsLock.selector, askId, PENALTY + 1, PENALTY));
        pool.slash(restaker, askId, PENALTY + 1);
        vm.prank(address(registry));
        vm.expectRevert(abi.encodeWithSelector(ICollateralPool.NoLock.selector, askId + 1));
        pool.release(restaker, askId + 1);
    }

    function test_RevertWhen_admin_notAdmin() public {
        bytes memory err =
            abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, address(this), bytes32(0));
        address[] memory m = new address[](1);
        m[0] = address(this);
        vm.expectRevert(err);
        pool.setCommittee(m, 1);
        vm.expectRevert(err);
        pool.setSlashWindow(1);
    }

    function test_setCommittee_replacesMembers() public {
        address[] memory m = new address[](1);
        m[0] = members[2].addr;
        vm.prank(admin);
        pool.setCommittee(m, 1);
        _toEpoch(2);
        IRestakingPool.Snapshot memory s = Restaking.one(2, 0, restaker, RESTAKED);
        bytes[] memory old = Restaking.sign(pool, s, _signers(1));
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.NotCommitteeMember.selector, members[0].addr));
        pool.submitSnapshot(s, old);
        Vm.Wallet[] memory w = new Vm.Wallet[](1);
        w[0] = members[2];
        pool.submitSnapshot(s, Restaking.sign(pool, s, w));
    }

    function test_RevertWhen_setCommittee_invalid() public {
        address[] memory m = new address[](2);
        m[0] = members[0].addr;
        m[1] = members[0].addr;
        vm.startPrank(admin);
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.InvalidCommittee.selector, 2, 1));
        pool.setCommittee(m, 1);
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.InvalidCommittee.selector, 2, 3));
        pool.setCommittee(m, 3);
        vm.expectRevert(abi.encodeWithSelector(IRestakingPool.InvalidCommittee.selector, 0, 0));
        pool.setCommittee(new address[](0), 0);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Fuzz
    // ------------------------------------------------------------------------------------------------------------

    /// Locks never take more than the latest snapshot minus what is locked and pending.
    function testFuzz_tryLock_neverExceedsSnapshotMinusLockedAndPending(
        uint96 stake,
        uint96 first,
        uint96 slashed,
        uint96 amount
    ) public {
        _toEpoch(2);
        _snapshot(Restaking.one(2, 0, restaker, stake));
        vm.startPrank(address(registry));
        if (pool.tryLock(restaker, 1, first, 0, block.timestamp) == ICollateralPool.LockResult.Locked) {
            pool.slash(restaker, 1, bound(slashed, 0, first));
        }
        IRestakingPool.Operator memory before = _op(restaker);
        ICollateralPool.LockResult r = pool.tryLock(restaker, 2, amount, 0, block.timestamp);
        vm.stopPrank();
        bool fits = uint256(before.locked) + before.pendingSlash + amount <= stake;
        assertEq(r == ICollateralPool.LockResult.Locked, fits);
        IRestakingPool.Operator memory afterLock = _op(restaker);
        assertLe(uint256(afterLock.locked) + afterLock.pendingSlash, stake);
    }
}
