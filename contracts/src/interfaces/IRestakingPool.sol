// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "./ICollateralPool.sol";

/// @title IRestakingPool
/// @notice Restaked collateral from a Symbiotic network on another chain (the L1), bridged in by epochs.
///
/// Each epoch, a committee of relayers reads every operator's stake for the Kalypso network at the epoch's capture
/// timestamp on the L1 (`epochStart(epoch)`, the same epoch geometry as the L1 middleware) and posts it here as a
/// snapshot signed by at least `threshold` members. A snapshot applies until the next epoch's start plus `offset`
/// (the time the relayers have to bridge the next one); after that the pool is stale and locks nothing new.
///
/// A lock is taken against the latest snapshot, never more than its stake minus what is already locked and what
/// is pending to be slashed, and only for a task due early enough that its slash can still reach the L1 within the
/// vault's slashing window (`slashWindow` after the capture). A slash here queues a slash request with a unique,
/// sequential `slashId` that the relayers carry to the L1 middleware, where it executes after the veto period
/// unless a resolver vetoes it. The queued amount counts as pending until a snapshot reports the slash settled on
/// the L1 (executed or vetoed) by its capture time (`settledSlashes`, a cursor over slash ids).
/// @dev Slashed restaked collateral stays on the L1 (the vault's burner); nothing is credited on this chain.
interface IRestakingPool is ICollateralPool {
    /// @notice One operator's restaked collateral as the pool sees it.
    /// @param stake Stake at the capture timestamp of `epoch`.
    /// @param epoch The epoch of `stake` (counts only while it is the pool's latest epoch; 0: none yet).
    /// @param locked Collateral locked by tasks in flight.
    /// @param pendingSlash Slashed here but not yet settled on the L1.
    /// @param lastLockEpoch The epoch of the operator's latest lock: every slash of the operator is requested
    /// against this epoch's capture, so its L1 captures never decrease (Symbiotic slashes nothing for a capture
    /// older than one already slashed) and the stake there covered every lock and pending slash it had.
    struct Operator {
        uint96 stake;
        uint64 epoch;
        uint96 locked;
        uint96 pendingSlash;
        uint64 lastLockEpoch;
    }

    /// @notice A pool's fixed parameters.
    /// @param epochStart The L1 middleware's epoch start (capture timestamp of epoch 0).
    /// @param epochDuration The L1 middleware's epoch length; the middleware accepts slash requests for captures
    /// at most `2 * epochDuration` old.
    /// @param offset How long past the next epoch's start a snapshot still applies; shorter than an epoch.
    /// @param slashLatency The time a slash needs from a task's deadline to its request on the L1 (the keeper, the
    /// relayers, L1 inclusion, clock skew): `slashWindow + slashLatency` may not exceed `2 * epochDuration`.
    /// @param slashWindow Initial {slashWindow}.
    /// @param minLock The smallest penalty the pool locks: each slash costs the relayers two L1 transactions, so
    /// dust penalties are left to native stake.
    struct Params {
        uint64 epochStart;
        uint64 epochDuration;
        uint64 offset;
        uint64 slashLatency;
        uint64 slashWindow;
        uint96 minLock;
    }

    /// @notice A committee-signed view of operators' stake at the capture timestamp of `epoch` (may be split over
    /// several submissions of the same epoch, each operator at most once per epoch).
    /// @param epoch The L1 network epoch (from 1).
    /// @param settledSlashes Every slash id below this was settled on the L1 by the capture timestamp.
    /// @param operators Operators (generator addresses).
    /// @param stakes Each operator's stake at the capture timestamp.
    struct Snapshot {
        uint64 epoch;
        uint64 settledSlashes;
        address[] operators;
        uint256[] stakes;
    }

    /// @notice A queued slash of restaked collateral, carried to the L1 by the relayers.
    struct Slash {
        address operator;
        uint96 amount;
    }

    /// @notice Epoch 0 has no snapshot (its capture is the network's start).
    error EpochZero();
    /// @notice The snapshot is of an epoch before the latest.
    error SnapshotOutOfOrder(uint256 epoch, uint256 latestEpoch);
    /// @notice The snapshot's epoch has not started yet.
    error SnapshotFromFuture(uint256 epoch, uint256 captureTimestamp);
    /// @notice The snapshot's validity (the next epoch's start plus the offset) has ended.
    error SnapshotStale(uint256 epoch, uint256 validUntil);
    /// @notice The operator's stake for this epoch was already applied.
    error SnapshotReplay(address operator, uint256 epoch);
    /// @notice The operators and stakes differ in length.
    error SnapshotLengthMismatch(uint256 operators, uint256 stakes);
    /// @notice The slash cursor moved backwards or past the queued slashes.
    error InvalidSlashCursor(uint256 settledSlashes, uint256 current, uint256 next);
    /// @notice A signature is not from a committee member.
    error NotCommitteeMember(address signer);
    /// @notice Signers must be in strictly ascending address order (no signer counts twice).
    error SignersNotAscending(address signer, address previous);
    /// @notice Fewer committee signatures than the threshold.
    error BelowThreshold(uint256 signatures, uint256 threshold);
    /// @notice A committee must have members and a threshold between one and its size.
    error InvalidCommittee(uint256 members, uint256 threshold);
    /// @notice A stake does not fit the pool's 96-bit accounting.
    error StakeTooLarge(address operator, uint256 stake);
    /// @notice The epoch duration must be non-zero and the offset shorter than an epoch.
    error InvalidEpochs(uint256 duration, uint256 offset);
    /// @notice The slash window plus the slash latency exceeds the L1's window (`2 * EPOCH_DURATION`): a slash
    /// could no longer be requested there.
    error SlashWindowTooLong(uint256 slashWindow, uint256 max);
    /// @notice A snapshot may settle at most {MAX_SETTLE_PER_SNAPSHOT} slashes.
    error TooManySettled(uint256 count, uint256 max);

    /// @notice The committee changed.
    event CommitteeSet(address[] members, uint256 threshold);
    /// @notice The slashing window changed.
    event SlashWindowSet(uint256 slashWindow);
    /// @notice A snapshot (part) of `epoch` was applied to `operators` operators; slashes below `settledSlashes` are
    /// settled.
    event SnapshotApplied(uint256 indexed epoch, uint256 captureTimestamp, uint256 operators, uint256 settledSlashes);
    /// @notice `operator`'s stake at the capture of `epoch` is `stake`.
    event OperatorStake(address indexed operator, uint256 indexed epoch, uint256 stake);
    /// @notice Task `taskId` locked `amount` of `operator`'s restaked collateral against the snapshot of `epoch`.
    event RestakeLocked(address indexed operator, uint256 indexed taskId, uint256 amount, uint256 epoch);
    /// @notice Task `taskId`'s lock was released.
    event RestakeReleased(address indexed operator, uint256 indexed taskId, uint256 amount);
    /// @notice Slash `slashId` of `amount` of `operator`'s restaked collateral for task `taskId`, to be requested on
    /// the L1 against the stake at `captureTimestamp` (the capture of the operator's latest lock).
    event SlashQueued(
        uint256 indexed slashId,
        address indexed operator,
        uint256 indexed taskId,
        uint256 amount,
        uint256 captureTimestamp
    );
    /// @notice Slash `slashId` was settled on the L1 (its amount no longer counts as pending).
    event SlashSettled(uint256 indexed slashId, address indexed operator, uint256 amount);

    /// @notice Applies a committee-signed snapshot. Anyone may submit it; the signatures (65-byte ECDSA over
    /// {snapshotDigest}) must come from at least `threshold` distinct committee members, in ascending signer order.
    function submitSnapshot(Snapshot calldata snapshot, bytes[] calldata signatures) external;

    /// @notice Replaces the committee (admin).
    function setCommittee(address[] calldata members, uint256 threshold) external;

    /// @notice Sets how long after an epoch's capture a task locked against it may be due (admin), at most
    /// `2 * EPOCH_DURATION - SLASH_LATENCY` (the L1 middleware refuses older captures).
    function setSlashWindow(uint256 window) external;

    /// @notice The EIP-712 digest the committee signs for `snapshot`.
    function snapshotDigest(Snapshot calldata snapshot) external view returns (bytes32);

    /// @notice The start of the L1 epochs (capture timestamp of epoch 0).
    function EPOCH_START() external view returns (uint256);

    /// @notice The L1 network epoch's length in seconds.
    function EPOCH_DURATION() external view returns (uint256);

    /// @notice How long past the next epoch's start a snapshot still applies (the relayers' bridging time).
    function OFFSET() external view returns (uint256);

    /// @notice See {Params}.
    function SLASH_LATENCY() external view returns (uint256);

    /// @notice See {Params}.
    function MIN_LOCK() external view returns (uint256);

    /// @notice The most slashes one snapshot settles (bounds its gas; the relayers settle the rest next epoch).
    function MAX_SETTLE_PER_SNAPSHOT() external view returns (uint256);

    /// @notice The capture timestamp of `epoch`.
    function epochStart(uint256 epoch) external view returns (uint256);

    /// @notice The latest epoch a snapshot was applied for (0: none yet), and whether it still applies (`fresh`).
    function latestEpoch() external view returns (uint64 epoch, bool fresh);

    /// @notice See {setSlashWindow}.
    function slashWindow() external view returns (uint256);

    /// @notice The committee and its threshold.
    function committee() external view returns (address[] memory members, uint256 threshold);

    /// @notice `operator`'s restaked collateral.
    function operatorOf(address operator) external view returns (Operator memory);

    /// @notice Slash `slashId`.
    function slashOf(uint256 slashId) external view returns (Slash memory);

    /// @notice The id the next slash gets (slashes are numbered from 0).
    function nextSlashId() external view returns (uint256);

    /// @notice Slash ids below this are settled on the L1.
    function settledSlashes() external view returns (uint256);
}
