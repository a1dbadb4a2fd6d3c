// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "../../src/interfaces/ICollateralPool.sol";
import {IRestakingPool} from "../../src/interfaces/IRestakingPool.sol";
import {RestakingPool} from "../../src/staking/RestakingPool.sol";
import {Restaking} from "../utils/Restaking.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @notice Drives a RestakingPool as its registry would (locks, releases, slashes of tasks) between committee
/// snapshots (stake up and down, slashes settled, epochs skipped) and time passing, recording in ghost variables
/// what each call should have done.
/// @dev Inputs are bounded so no call reverts unexpectedly (`fail_on_revert`); try/catch appears only where a revert
/// is the outcome checked, and an unexpected outcome there is counted in a ghost that must stay zero.
contract RestakingHandler is CommonBase, StdCheats, StdUtils {
    RestakingPool public pool;
    Vm.Wallet[] internal committee;
    address[] public operators;

    uint256[] internal openTasks;
    mapping(uint256 taskId => address) internal taskOperator;
    mapping(uint256 taskId => uint256) internal taskAmount;
    uint256 internal nextTask = 1;

    mapping(address operator => uint256) public ghostLocked;
    mapping(address operator => uint256) public ghostPending;
    /// Slashes queued (each must have exactly one id), and their amounts by id.
    uint256 public ghostSlashes;
    mapping(uint256 slashId => uint256) internal slashAmount;
    mapping(uint256 slashId => address) internal slashOperator;
    /// A lock granted beyond the latest fresh snapshot minus locked and pending.
    uint256 public ghostLockBeyondSnapshot;
    /// A slash above its task's lock that did not revert.
    uint256 public ghostSlashAboveLock;

    uint256 internal constant MAX_STAKE = 100e18;

    constructor(Vm.Wallet[] memory committee_, address[] memory operators_) {
        for (uint256 i; i < committee_.length; ++i) {
            committee.push(committee_[i]);
        }
        operators = operators_;
    }

    function setPool(RestakingPool pool_) external {
        pool = pool_;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Relayers
    // ---------------------------------------------------------------------------------------------------------

    /// Posts the current epoch's stake of every operator not yet reported in it, settling some queued slashes.
    function snapshot(uint256[3] calldata stakes, uint256 settleSeed) external {
        uint256 now_ = block.timestamp;
        if (now_ < pool.EPOCH_START() + pool.EPOCH_DURATION()) return;
        uint64 epoch = uint64((now_ - pool.EPOCH_START()) / pool.EPOCH_DURATION());
        (uint64 latest,) = pool.latestEpoch();
        if (epoch < latest) return;
        IRestakingPool.Snapshot memory s;
        s.epoch = epoch;
        s.settledSlashes = uint64(bound(settleSeed, pool.settledSlashes(), pool.nextSlashId()));
        uint256 n;
        address[] memory ops = new address[](operators.length);
        uint256[] memory amounts = new uint256[](operators.length);
        for (uint256 i; i < operators.length; ++i) {
            if (pool.operatorOf(operators[i]).epoch == epoch) continue;
            ops[n] = operators[i];
            amounts[n] = bound(stakes[i % 3], MAX_STAKE / 10, MAX_STAKE);
            ++n;
        }
        assembly {
            mstore(ops, n)
            mstore(amounts, n)
        }
        (s.operators, s.stakes) = (ops, amounts);
        for (uint256 id = pool.settledSlashes(); id < s.settledSlashes; ++id) {
            ghostPending[slashOperator[id]] -= slashAmount[id];
        }
        pool.submitSnapshot(s, Restaking.sign(pool, s, committee));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Registry
    // ---------------------------------------------------------------------------------------------------------

    function lock(uint256 operatorSeed, uint256 amount, uint256 dueIn) external {
        address op = operators[operatorSeed % operators.length];
        amount = bound(amount, 0, MAX_STAKE / 4);
        (uint64 latest, bool fresh) = pool.latestEpoch();
        // Mostly due within the slashing window, sometimes (a tenth of the range) after it.
        uint256 windowEnd = pool.epochStart(latest) + pool.slashWindow();
        uint256 latestDue = windowEnd + pool.slashWindow() / 10;
        uint256 deadline = bound(dueIn, block.timestamp, latestDue > block.timestamp ? latestDue : block.timestamp);
        IRestakingPool.Operator memory before = pool.operatorOf(op);
        uint256 stake = fresh && before.epoch == latest ? before.stake : 0;
        uint256 taskId = nextTask++;
        if (pool.tryLock(op, taskId, amount, 0, deadline) != ICollateralPool.LockResult.Locked) return;
        if (uint256(before.locked) + before.pendingSlash + amount > stake) ++ghostLockBeyondSnapshot;
        if (deadline > pool.epochStart(latest) + pool.slashWindow()) ++ghostLockBeyondSnapshot;
        ghostLocked[op] += amount;
        taskOperator[taskId] = op;
        taskAmount[taskId] = amount;
        openTasks.push(taskId);
    }

    function release(uint256 taskSeed) external {
        (uint256 taskId, address op, uint256 amount) = _takeTask(taskSeed);
        if (op == address(0)) return;
        pool.release(op, taskId);
        ghostLocked[op] -= amount;
    }

    function slash(uint256 taskSeed, uint256 amount, bool tryAboveLock) external {
        (uint256 taskId, address op, uint256 locked) = _takeTask(taskSeed);
        if (op == address(0)) return;
        if (tryAboveLock) {
            try pool.slash(op, taskId, locked + 1) {
                ++ghostSlashAboveLock;
            } catch {}
        }
        amount = bound(amount, 0, locked);
        uint256 id = pool.nextSlashId();
        pool.slash(op, taskId, amount);
        ghostLocked[op] -= locked;
        if (amount == 0) return;
        ghostPending[op] += amount;
        slashAmount[id] = amount;
        slashOperator[id] = op;
        ++ghostSlashes;
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, pool.EPOCH_DURATION() / 4));
    }

    function _takeTask(uint256 seed) internal returns (uint256 taskId, address op, uint256 amount) {
        if (openTasks.length == 0) return (0, address(0), 0);
        uint256 i = seed % openTasks.length;
        taskId = openTasks[i];
        openTasks[i] = openTasks[openTasks.length - 1];
        openTasks.pop();
        return (taskId, taskOperator[taskId], taskAmount[taskId]);
    }
}

/// @notice The restaked pool's accounting: locks and pending slashes match what the registry did, no lock exceeds
/// the latest fresh snapshot minus locked and pending, every slash gets exactly one id, none exceeds its lock.
contract RestakingPoolInvariantTest is Test {
    RestakingHandler internal handler;
    RestakingPool internal pool;

    function setUp() public {
        vm.warp(1_700_000_000);
        Vm.Wallet[] memory committee = new Vm.Wallet[](2);
        committee[0] = vm.createWallet("committee-1");
        committee[1] = vm.createWallet("committee-2");
        address[] memory members = new address[](2);
        (members[0], members[1]) = (committee[0].addr, committee[1].addr);
        address[] memory operators = new address[](2);
        for (uint256 i; i < 2; ++i) {
            operators[i] = makeAddr(string.concat("operator-", vm.toString(i)));
        }
        handler = new RestakingHandler(committee, operators);
        // Epoch 1 starts now, so the first snapshot can come at once.
        pool = new RestakingPool(
            address(handler), address(this), Restaking.params(block.timestamp - 600, 600), members, 2
        );
        handler.setPool(pool);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = RestakingHandler.snapshot.selector;
        selectors[1] = RestakingHandler.lock.selector;
        selectors[2] = RestakingHandler.release.selector;
        selectors[3] = RestakingHandler.slash.selector;
        selectors[4] = RestakingHandler.warp.selector;
        targetSelector(FuzzSelector(address(handler), selectors));
    }

    function invariant_locksAndPendingMatchTheRegistry() public view {
        for (uint256 i; i < 2; ++i) {
            address op = handler.operators(i);
            IRestakingPool.Operator memory o = pool.operatorOf(op);
            assertEq(o.locked, handler.ghostLocked(op), "locked");
            assertEq(o.pendingSlash, handler.ghostPending(op), "pending");
        }
    }

    function invariant_noLockBeyondTheSnapshot() public view {
        assertEq(handler.ghostLockBeyondSnapshot(), 0);
    }

    function invariant_everySlashHasOneIdAndStaysWithinItsLock() public view {
        assertEq(pool.nextSlashId(), handler.ghostSlashes());
        assertLe(pool.settledSlashes(), pool.nextSlashId());
        assertEq(handler.ghostSlashAboveLock(), 0);
    }
}
