// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title IStakingPool
/// @notice Collateral behind generators' deadline commitments: generators stake, request an unstake (the amount
/// stops counting at once) and withdraw it after a delay. Per task, the protocol locks a market's slashing
/// penalty, releases it when the task settles and slashes it when the generator misses its deadline; slashed
/// stake is credited to the recipients' payout balances.
/// @dev The native pool is a module of the GeneratorRegistry (`NativeStaking`), so the task hot paths pay no
/// extra contract call. Its per-task operations are internal: `_tryLock`, `_release`, `_slash`.
interface IStakingPool {
    /// @notice A generator's position.
    /// @param stake Stake that can back tasks (locked or free).
    /// @param locked Part of `stake` locked by active tasks.
    /// @param unlockAt Time from which `pending` can be withdrawn.
    /// @param pending Stake requested for withdrawal; neither lockable nor counted towards minimum stake.
    struct Position {
        uint96 stake;
        uint96 locked;
        uint40 unlockAt;
        uint96 pending;
    }

    /// @notice Zero amount given.
    error ZeroAmount();
    /// @notice The amount exceeds the generator's free stake.
    error InsufficientFreeStake(address generator, uint256 requested, uint256 available);
    /// @notice Nothing has been requested for withdrawal.
    error NothingPending(address generator);
    /// @notice The withdrawal delay has not passed yet.
    error WithdrawalLocked(address generator, uint256 unlockAt);
    /// @notice The amount does not fit the pool's 96-bit accounting.
    error AmountTooLarge(uint256 amount);
    /// @notice More payout was requested than is credited.
    error InsufficientPayout(address account, uint256 requested, uint256 available);
    /// @notice The withdrawal delay is above {MAX_WITHDRAWAL_DELAY} (a larger one could wrap the unlock time).
    error WithdrawalDelayTooLong(uint256 delay, uint256 max);

    /// @notice `generator` added `amount` to its stake (now `stake`), paid by `payer`.
    event Staked(address indexed generator, address indexed payer, uint256 amount, uint256 stake);
    /// @notice `generator` asked to withdraw `amount`, available from `unlockAt` (total pending `pending`).
    event UnstakeRequested(address indexed generator, uint256 amount, uint256 pending, uint256 unlockAt);
    /// @notice `generator` cancelled its pending withdrawal, returning `amount` to its stake.
    event UnstakeCancelled(address indexed generator, uint256 amount);
    /// @notice `generator` withdrew `amount` to `to`.
    event Unstaked(address indexed generator, address indexed to, uint256 amount);
    /// @notice `account` withdrew `amount` of slashed stake credited to it.
    event PayoutWithdrawn(address indexed account, address indexed to, uint256 amount);
    /// @notice `from` moved `amount` of its payout balance to `to`'s payout balance.
    event PayoutTransferred(address indexed from, address indexed to, uint256 amount);
    /// @notice The withdrawal delay changed.
    event WithdrawalDelaySet(uint256 delay);

    /// @notice Adds `amount` of the staking token (pulled from the caller) to the caller's stake.
    function stake(uint256 amount) external;

    /// @notice Adds `amount` (pulled from the caller) to `generator`'s stake.
    function stakeFor(address generator, uint256 amount) external;

    /// @notice Moves `amount` of free stake to pending withdrawal; restarts the withdrawal delay.
    function requestUnstake(uint256 amount) external;

    /// @notice Returns all pending stake to the caller's stake.
    function cancelUnstake() external;

    /// @notice Withdraws all pending stake to `to` once the delay has passed.
    function unstake(address to) external returns (uint256 amount);

    /// @notice Withdraws `amount` of slashed stake credited to the caller (slash compensation, keeper reward,
    /// treasury share).
    function withdrawPayout(address to, uint256 amount) external;

    /// @notice Moves `amount` of the caller's payout balance to `to`'s (the marketplace pays out slash compensation
    /// it held for an ask this way).
    function transferPayout(address to, uint256 amount) external;

    /// @notice Sets the withdrawal delay (admin), at most {MAX_WITHDRAWAL_DELAY}.
    function setWithdrawalDelay(uint256 delay) external;

    /// @notice The longest withdrawal delay the admin may set (365 days).
    function MAX_WITHDRAWAL_DELAY() external view returns (uint256);

    /// @notice The staking token.
    function stakingToken() external view returns (address);

    /// @notice The withdrawal delay in seconds.
    function withdrawalDelay() external view returns (uint256);

    /// @notice `generator`'s position.
    function positionOf(address generator) external view returns (Position memory);

    /// @notice Stake that can still be locked for new tasks.
    function freeStake(address generator) external view returns (uint256);

    /// @notice Slashed stake credited to `account` and not yet withdrawn.
    function payoutOf(address account) external view returns (uint256);
}
