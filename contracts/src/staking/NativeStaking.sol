// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IStakingPool} from "../interfaces/IStakingPool.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";

/// @title NativeStaking
/// @notice The staking pool that holds generators' stake in the protocol's staking token, as a module of the
/// contract that inherits it (the GeneratorRegistry). Per-task locking, releasing and slashing are internal, so
/// assigning and settling a task touches one contract.
/// @dev ERC-7201 storage of its own namespace. The inheriting contract decides who administers it
/// ({_checkStakingAdmin}).
abstract contract NativeStaking is IStakingPool {
    using SafeERC20 for IERC20;

    /// @notice Outcome of {_tryLock}.
    enum LockResult {
        Locked,
        InsufficientFreeStake,
        BelowMinStake
    }

    /// @inheritdoc IStakingPool
    uint256 public constant MAX_WITHDRAWAL_DELAY = 365 days;

    /// @custom:storage-location erc7201:kalypso.storage.NativeStaking
    struct StakingStorage {
        mapping(address generator => Position) positions;
        mapping(address account => uint256) payouts;
        uint256 withdrawalDelay;
    }

    // keccak256(abi.encode(uint256(keccak256("kalypso.storage.NativeStaking")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STAKING_STORAGE_SLOT = 0x2bd663aa9ec65f77627b19b517f0fab58ecbce9abda7aed32d635452e36e1a00;

    IERC20 private immutable _stakingToken;

    /// @param stakingToken_ The staking token (e.g. POND).
    constructor(IERC20 stakingToken_) {
        _stakingToken = stakingToken_;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Generators
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakingPool
    function stake(uint256 amount) external {
        _stake(msg.sender, amount);
    }

    /// @inheritdoc IStakingPool
    function stakeFor(address generator, uint256 amount) external {
        _stake(generator, amount);
    }

    /// @inheritdoc IStakingPool
    function requestUnstake(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        StakingStorage storage $ = _staking();
        Position storage p = $.positions[msg.sender];
        uint256 free = p.stake - p.locked;
        if (amount > free) revert InsufficientFreeStake(msg.sender, amount, free);
        uint256 unlockAt = block.timestamp + $.withdrawalDelay;
        // amount <= stake, and stake + pending < 2^96 (checked on stake).
        p.stake -= uint96(amount);
        p.pending += uint96(amount);
        // The delay is capped (setWithdrawalDelay), so this fits until the year 36,812; SafeCast keeps a wrapped
        // unlock time (stake withdrawable at once) impossible even then.
        p.unlockAt = SafeCast.toUint40(unlockAt);
        emit UnstakeRequested(msg.sender, amount, p.pending, unlockAt);
    }

    /// @inheritdoc IStakingPool
    function cancelUnstake() external {
        Position storage p = _staking().positions[msg.sender];
        uint96 pending = p.pending;
        if (pending == 0) revert NothingPending(msg.sender);
        p.pending = 0;
        p.unlockAt = 0;
        p.stake += pending;
        emit UnstakeCancelled(msg.sender, pending);
    }

    /// @inheritdoc IStakingPool
    function unstake(address to) external returns (uint256 amount) {
        Position storage p = _staking().positions[msg.sender];
        amount = p.pending;
        if (amount == 0) revert NothingPending(msg.sender);
        if (block.timestamp < p.unlockAt) revert WithdrawalLocked(msg.sender, p.unlockAt);
        p.pending = 0;
        p.unlockAt = 0;
        emit Unstaked(msg.sender, to, amount);
        _stakingToken.safeTransfer(to, amount);
    }

    /// @inheritdoc IStakingPool
    function withdrawPayout(address to, uint256 amount) external {
        mapping(address => uint256) storage payouts = _staking().payouts;
        uint256 available = payouts[msg.sender];
        if (amount > available) revert InsufficientPayout(msg.sender, amount, available);
        payouts[msg.sender] = available - amount;
        emit PayoutWithdrawn(msg.sender, to, amount);
        _stakingToken.safeTransfer(to, amount);
    }

    /// @inheritdoc IStakingPool
    function transferPayout(address to, uint256 amount) external {
        mapping(address => uint256) storage payouts = _staking().payouts;
        uint256 available = payouts[msg.sender];
        if (amount > available) revert InsufficientPayout(msg.sender, amount, available);
        payouts[msg.sender] = available - amount;
        payouts[to] += amount;
        emit PayoutTransferred(msg.sender, to, amount);
    }

    /// @inheritdoc IStakingPool
    function setWithdrawalDelay(uint256 delay) external {
        _checkStakingAdmin();
        _setWithdrawalDelay(delay);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IStakingPool
    function stakingToken() external view returns (address) {
        return address(_stakingToken);
    }

    /// @inheritdoc IStakingPool
    function withdrawalDelay() external view returns (uint256) {
        return _staking().withdrawalDelay;
    }

    /// @inheritdoc IStakingPool
    function positionOf(address generator) external view returns (Position memory) {
        return _staking().positions[generator];
    }

    /// @inheritdoc IStakingPool
    function freeStake(address generator) external view returns (uint256) {
        Position storage p = _staking().positions[generator];
        return p.stake - p.locked;
    }

    /// @inheritdoc IStakingPool
    function payoutOf(address account) external view returns (uint256) {
        return _staking().payouts[account];
    }

    // ---------------------------------------------------------------------------------------------------------
    // Per-task operations (internal)
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Locks `amount` of free stake if the generator's stake is at least `minStake` and its free stake covers
    /// `amount`; otherwise changes nothing and says why.
    function _tryLock(address generator, uint256 amount, uint256 minStake) internal returns (LockResult) {
        Position storage p = _staking().positions[generator];
        uint256 staked = p.stake;
        uint256 locked = p.locked;
        if (staked < minStake) return LockResult.BelowMinStake;
        if (staked - locked < amount) return LockResult.InsufficientFreeStake;
        // locked + amount <= stake < 2^96.
        p.locked = uint96(locked + amount);
        return LockResult.Locked;
    }

    /// @dev Releases `amount` locked by a task that settled.
    function _release(address generator, uint256 amount) internal {
        // Only amounts locked by _tryLock for a task are released, once, so this cannot underflow.
        _staking().positions[generator].locked -= uint96(amount);
    }

    /// @dev Releases `locked` and takes `amounts` (summing to at most `locked`) from the generator's stake,
    /// crediting `amounts[i]` to `recipients[i]`'s payout balance.
    function _slash(address generator, uint256 locked, address[] calldata recipients, uint256[] calldata amounts)
        internal
    {
        StakingStorage storage $ = _staking();
        // Locals start at zero in Solidity; the sum starts there on purpose.
        // slither-disable-next-line uninitialized-local
        uint256 total;
        for (uint256 i; i < recipients.length; ++i) {
            uint256 amount = amounts[i];
            if (amount == 0) continue;
            total += amount;
            $.payouts[recipients[i]] += amount;
        }
        // The marketplace computes shares of the locked penalty, so total <= locked <= stake < 2^96.
        assert(total <= locked);
        Position storage p = $.positions[generator];
        p.locked -= uint96(locked);
        p.stake -= uint96(total);
    }

    function _setWithdrawalDelay(uint256 delay) internal {
        if (delay > MAX_WITHDRAWAL_DELAY) revert WithdrawalDelayTooLong(delay, MAX_WITHDRAWAL_DELAY);
        _staking().withdrawalDelay = delay;
        emit WithdrawalDelaySet(delay);
    }

    /// @dev Reverts unless the caller may administer the pool.
    function _checkStakingAdmin() internal view virtual;

    function _stake(address generator, uint256 amount) private {
        if (amount == 0) revert ZeroAmount();
        Position storage p = _staking().positions[generator];
        uint256 newStake = uint256(p.stake) + amount;
        if (newStake + p.pending > type(uint96).max) revert AmountTooLarge(amount);
        p.stake = uint96(newStake);
        emit Staked(generator, msg.sender, amount, newStake);
        _stakingToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    function _staking() private pure returns (StakingStorage storage $) {
        assembly {
            $.slot := STAKING_STORAGE_SLOT
        }
    }
}
