// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title ICollateralPool
/// @notice Collateral held outside the GeneratorRegistry that can back a generator's tasks (restaked stake, for
/// instance). The registry holds a list of them beside its native pool and calls them per task: it locks a task's
/// penalty in the first pool that can cover it, releases the lock when the task settles and slashes it when the
/// generator misses its deadline or discards the task. Only the registry may call the per-task functions.
/// @dev Collateral pool ids: 0 is the registry's native pool ({IStakingPool}); pool `i` of
/// `IGeneratorRegistry.collateralPools()` has id `i + 1`. A task is covered by exactly one pool, in full.
interface ICollateralPool {
    /// @notice Why {tryLock} did not lock.
    enum LockResult {
        Locked,
        InsufficientFreeStake,
        BelowMinStake,
        /// The pool's view of the generator's stake is too old to lock against.
        Stale,
        /// The task's deadline is later than the pool can still slash for.
        BeyondSlashWindow,
        /// The penalty is below the smallest amount the pool locks.
        BelowMinLock
    }

    /// @notice The caller is not the GeneratorRegistry (or a pool was built for the zero address).
    error NotRegistry(address caller);
    /// @notice No lock is held for the task.
    error NoLock(uint256 taskId);
    /// @notice A task already holds a lock.
    error AlreadyLocked(uint256 taskId);
    /// @notice A slash exceeds what was locked for the task.
    error SlashExceedsLock(uint256 taskId, uint256 amount, uint256 locked);

    /// @notice Locks `amount` of `generator`'s free collateral for task `taskId`, whose proof is due by `deadline`,
    /// if the generator has at least `minStake` in this pool (not counting what is pending to be slashed) and its free
    /// collateral covers `amount`; otherwise changes nothing and says why.
    function tryLock(address generator, uint256 taskId, uint256 amount, uint256 minStake, uint256 deadline)
        external
        returns (LockResult);

    /// @notice Releases the lock of task `taskId` (it settled well).
    function release(address generator, uint256 taskId) external;

    /// @notice Ends the lock of task `taskId` and slashes `amount` (at most the lock) of `generator`'s collateral.
    function slash(address generator, uint256 taskId, uint256 amount) external;

    /// @notice The registry that may lock, release and slash.
    function registry() external view returns (address);

    /// @notice Collateral `generator` could lock now (0 when the pool cannot lock at all).
    function freeStake(address generator) external view returns (uint256);
}
