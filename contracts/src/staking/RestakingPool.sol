// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "../interfaces/ICollateralPool.sol";
import {IRestakingPool} from "../interfaces/IRestakingPool.sol";
import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";

/// @title RestakingPool
/// @notice Restaked collateral bridged in from a Symbiotic network by a committee of relayers, epoch by epoch; a
/// collateral pool of the GeneratorRegistry. See {IRestakingPool} for the protocol.
/// @dev Trust: the committee (threshold ECDSA, the same keys the L1 middleware accepts slash requests from) is
/// trusted to report the L1 stake truthfully; a dishonest majority could report stake that does not exist. Its
/// slash requests are checked on the L1 by the veto resolver instead.
contract RestakingPool is IRestakingPool, AccessControl, EIP712 {
    /// @notice The EIP-712 type of a snapshot (arrays hashed as EIP-712 arrays of atomic values).
    bytes32 public constant SNAPSHOT_TYPEHASH =
        keccak256("Snapshot(uint64 epoch,uint64 settledSlashes,address[] operators,uint256[] stakes)");

    /// @dev A task's lock: its amount and the epoch of the snapshot it was taken against (never 0 while held).
    struct TaskLock {
        uint96 amount;
        uint64 epoch;
    }

    address private immutable _registry;
    /// @inheritdoc IRestakingPool
    uint256 public immutable EPOCH_START;
    /// @inheritdoc IRestakingPool
    uint256 public immutable EPOCH_DURATION;
    /// @inheritdoc IRestakingPool
    uint256 public immutable OFFSET;
    /// @inheritdoc IRestakingPool
    uint256 public immutable SLASH_LATENCY;
    /// @inheritdoc IRestakingPool
    uint256 public immutable MIN_LOCK;
    /// @inheritdoc IRestakingPool
    uint256 public constant MAX_SETTLE_PER_SNAPSHOT = 128;

    mapping(address operator => Operator) private _operators;
    mapping(uint256 taskId => TaskLock) private _locks;
    mapping(uint256 slashId => Slash) private _slashes;
    mapping(address member => bool) private _isMember;
    address[] private _members;
    uint256 private _threshold;
    uint256 private _slashWindow;
    uint64 private _latestEpoch;
    uint64 private _nextSlashId;
    uint64 private _settledSlashes;

    /// @param registry_ The GeneratorRegistry (the only caller of the per-task functions).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (committee and slashing window).
    /// @param params Epochs (the L1 middleware's), offset, slash latency and window, minimum lock.
    /// @param members The committee.
    /// @param threshold Signatures a snapshot needs.
    constructor(address registry_, address admin, Params memory params, address[] memory members, uint256 threshold)
        EIP712("KalypsoRestakingPool", "1")
    {
        if (registry_ == address(0)) revert NotRegistry(registry_);
        if (params.epochDuration == 0 || params.offset >= params.epochDuration) {
            revert InvalidEpochs(params.epochDuration, params.offset);
        }
        _registry = registry_;
        EPOCH_START = params.epochStart;
        EPOCH_DURATION = params.epochDuration;
        OFFSET = params.offset;
        SLASH_LATENCY = params.slashLatency;
        MIN_LOCK = params.minLock;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setSlashWindow(params.slashWindow);
        _setCommittee(members, threshold);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Relayers
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IRestakingPool
    function submitSnapshot(Snapshot calldata snapshot, bytes[] calldata signatures) external {
        uint64 epoch = snapshot.epoch;
        if (epoch == 0) revert EpochZero();
        uint64 latest = _latestEpoch;
        if (epoch < latest) revert SnapshotOutOfOrder(epoch, latest);
        uint256 capture = epochStart(epoch);
        if (capture > block.timestamp) revert SnapshotFromFuture(epoch, capture);
        uint256 until = _validUntil(epoch);
        if (block.timestamp >= until) revert SnapshotStale(epoch, until);
        uint256 n = snapshot.operators.length;
        if (n != snapshot.stakes.length) revert SnapshotLengthMismatch(n, snapshot.stakes.length);
        _checkSignatures(snapshotDigest(snapshot), signatures);

        _settle(snapshot.settledSlashes);
        if (epoch > latest) _latestEpoch = epoch;
        for (uint256 i; i < n; ++i) {
            address operator = snapshot.operators[i];
            uint256 stake = snapshot.stakes[i];
            Operator storage op = _operators[operator];
            // epoch >= latest >= op.epoch, so equality is the only way to apply an operator twice.
            if (op.epoch == epoch) revert SnapshotReplay(operator, epoch);
            if (stake > type(uint96).max) revert StakeTooLarge(operator, stake);
            op.stake = uint96(stake);
            op.epoch = epoch;
            emit OperatorStake(operator, epoch, stake);
        }
        emit SnapshotApplied(epoch, capture, n, snapshot.settledSlashes);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Registry
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ICollateralPool
    function tryLock(address generator, uint256 taskId, uint256 amount, uint256 minStake, uint256 deadline)
        external
        returns (LockResult)
    {
        _checkRegistry();
        if (amount < MIN_LOCK) return LockResult.BelowMinLock;
        uint64 epoch = _latestEpoch;
        if (epoch == 0 || block.timestamp >= _validUntil(epoch)) return LockResult.Stale;
        Operator storage op = _operators[generator];
        uint256 stake = op.epoch == epoch ? op.stake : 0;
        // Stake pending to be slashed is gone already, as a native slash takes it at once: an operator slashed below
        // the minimum gets nothing more until its stake is topped up.
        if (stake < minStake + op.pendingSlash) return LockResult.BelowMinStake;
        if (deadline > epochStart(epoch) + _slashWindow) return LockResult.BeyondSlashWindow;
        uint256 locked = op.locked;
        // Never more than the latest snapshot minus what is locked and what is pending to be slashed.
        if (locked + op.pendingSlash + amount > stake) return LockResult.InsufficientFreeStake;
        if (_locks[taskId].epoch != 0) revert AlreadyLocked(taskId);
        // locked + amount <= stake < 2^96.
        op.locked = uint96(locked + amount);
        op.lastLockEpoch = epoch;
        _locks[taskId] = TaskLock(uint96(amount), epoch);
        emit RestakeLocked(generator, taskId, amount, epoch);
        return LockResult.Locked;
    }

    /// @inheritdoc ICollateralPool
    function release(address generator, uint256 taskId) external {
        _checkRegistry();
        uint256 amount = _takeLock(generator, taskId).amount;
        emit RestakeReleased(generator, taskId, amount);
    }

    /// @inheritdoc ICollateralPool
    function slash(address generator, uint256 taskId, uint256 amount) external {
        _checkRegistry();
        TaskLock memory lock = _takeLock(generator, taskId);
        if (amount > lock.amount) revert SlashExceedsLock(taskId, amount, lock.amount);
        if (amount == 0) {
            emit RestakeReleased(generator, taskId, 0);
            return;
        }
        Operator storage op = _operators[generator];
        // amount <= lock.amount < 2^96, and pending + locked <= stake held before the lock was taken.
        op.pendingSlash += uint96(amount);
        uint64 slashId = _nextSlashId++;
        _slashes[slashId] = Slash(generator, uint96(amount));
        // The operator's latest lock epoch (>= this lock's): its stake covered this lock too, and the operator's
        // L1 captures never go backwards.
        emit SlashQueued(slashId, generator, taskId, amount, epochStart(op.lastLockEpoch));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IRestakingPool
    function setCommittee(address[] calldata members, uint256 threshold) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setCommittee(members, threshold);
    }

    /// @inheritdoc IRestakingPool
    function setSlashWindow(uint256 window) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setSlashWindow(window);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ICollateralPool
    function registry() external view returns (address) {
        return _registry;
    }

    /// @inheritdoc ICollateralPool
    function freeStake(address generator) external view returns (uint256) {
        uint64 epoch = _latestEpoch;
        if (epoch == 0 || block.timestamp >= _validUntil(epoch)) return 0;
        Operator storage op = _operators[generator];
        if (op.epoch != epoch) return 0;
        uint256 used = uint256(op.locked) + op.pendingSlash;
        return used >= op.stake ? 0 : op.stake - used;
    }

    /// @inheritdoc IRestakingPool
    function snapshotDigest(Snapshot calldata snapshot) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SNAPSHOT_TYPEHASH,
                    snapshot.epoch,
                    snapshot.settledSlashes,
                    // abi.encodePacked pads array elements to 32 bytes: the EIP-712 encoding of an atomic array.
                    keccak256(abi.encodePacked(snapshot.operators)),
                    keccak256(abi.encodePacked(snapshot.stakes))
                )
            )
        );
    }

    /// @inheritdoc IRestakingPool
    function epochStart(uint256 epoch) public view returns (uint256) {
        return EPOCH_START + epoch * EPOCH_DURATION;
    }

    /// @inheritdoc IRestakingPool
    function latestEpoch() external view returns (uint64 epoch, bool fresh) {
        epoch = _latestEpoch;
        fresh = epoch != 0 && block.timestamp < _validUntil(epoch);
    }

    /// @inheritdoc IRestakingPool
    function slashWindow() external view returns (uint256) {
        return _slashWindow;
    }

    /// @inheritdoc IRestakingPool
    function committee() external view returns (address[] memory members, uint256 threshold) {
        return (_members, _threshold);
    }

    /// @inheritdoc IRestakingPool
    function operatorOf(address operator) external view returns (Operator memory) {
        return _operators[operator];
    }

    /// @inheritdoc IRestakingPool
    function slashOf(uint256 slashId) external view returns (Slash memory) {
        return _slashes[slashId];
    }

    /// @inheritdoc IRestakingPool
    function nextSlashId() external view returns (uint256) {
        return _nextSlashId;
    }

    /// @inheritdoc IRestakingPool
    function settledSlashes() external view returns (uint256) {
        return _settledSlashes;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Snapshot `epoch` applies until the next epoch's start plus the offset.
    function _validUntil(uint256 epoch) internal view returns (uint256) {
        return epochStart(epoch + 1) + OFFSET;
    }

    function _takeLock(address generator, uint256 taskId) internal returns (TaskLock memory lock) {
        lock = _locks[taskId];
        if (lock.epoch == 0) revert NoLock(taskId);
        delete _locks[taskId];
        _operators[generator].locked -= lock.amount;
    }

    /// @dev Moves the settled-slash cursor to `settled`, releasing those slashes' pending amounts.
    function _settle(uint64 settled) internal {
        uint64 cursor = _settledSlashes;
        uint64 next = _nextSlashId;
        if (settled < cursor || settled > next) revert InvalidSlashCursor(settled, cursor, next);
        if (settled - cursor > MAX_SETTLE_PER_SNAPSHOT) {
            revert TooManySettled(settled - cursor, MAX_SETTLE_PER_SNAPSHOT);
        }
        for (uint64 id = cursor; id < settled; ++id) {
            Slash memory s = _slashes[id];
            _operators[s.operator].pendingSlash -= s.amount;
            emit SlashSettled(id, s.operator, s.amount);
        }
        _settledSlashes = settled;
    }

    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 threshold = _threshold;
        if (signatures.length < threshold) revert BelowThreshold(signatures.length, threshold);
        // Locals start at zero in Solidity; the first signer only has to be above address(0).
        // slither-disable-next-line uninitialized-local
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            address signer = ECDSA.recover(digest, signatures[i]);
            if (!_isMember[signer]) revert NotCommitteeMember(signer);
            if (signer <= previous) revert SignersNotAscending(signer, previous);
            previous = signer;
        }
    }

    function _setCommittee(address[] memory members, uint256 threshold) internal {
        if (members.length == 0 || threshold == 0 || threshold > members.length) {
            revert InvalidCommittee(members.length, threshold);
        }
        address[] storage old = _members;
        uint256 n = old.length;
        for (uint256 i; i < n; ++i) {
            _isMember[old[i]] = false;
        }
        for (uint256 i; i < members.length; ++i) {
            if (members[i] == address(0) || _isMember[members[i]]) revert InvalidCommittee(members.length, threshold);
            _isMember[members[i]] = true;
        }
        _members = members;
        _threshold = threshold;
        emit CommitteeSet(members, threshold);
    }

    function _setSlashWindow(uint256 slashWindow_) internal {
        uint256 max = 2 * EPOCH_DURATION;
        max = max > SLASH_LATENCY ? max - SLASH_LATENCY : 0;
        if (slashWindow_ > max) revert SlashWindowTooLong(slashWindow_, max);
        _slashWindow = slashWindow_;
        emit SlashWindowSet(slashWindow_);
    }

    function _checkRegistry() internal view {
        if (msg.sender != _registry) revert NotRegistry(msg.sender);
    }
}
