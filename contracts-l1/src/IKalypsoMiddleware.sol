// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

/// @title IKalypsoMiddleware
/// @notice Kalypso's Symbiotic network middleware on the L1. Kalypso is a Symbiotic network (an address registered in
/// the NetworkRegistry that set this contract as its middleware in the NetworkMiddlewareService); generators are
/// Symbiotic operators and registered vaults delegate restaked collateral to them on the subnetwork
/// `(network, 0)`. A relayer reads each epoch's stake snapshot (`snapshot`) at the epoch's capture timestamp
/// (its start) and bridges it to the L2 pool; restaked slashes on the L2 come back signed by the committee and are
/// requested here (`requestSlash`), then executed through each vault's VetoSlasher once the veto period has passed
/// (`executeSlash`) unless the subnetwork's resolver vetoed them.
/// Every vault delegates through an OperatorSpecificDelegator: it backs exactly one operator, so a slash of one
/// operator never reduces another's stake and the L2 pool's per-operator accounting is exact.
/// @dev Timing rules (Symbiotic core 1.0.3, VetoSlasher.sol): a slash for capture timestamp `c` can be requested while
/// `c >= now + vetoDuration - vaultEpochDuration` (l. 93), executes at or after `request + vetoDuration` (l. 106,
/// 148) and only while `now - c <= vaultEpochDuration` (l. 153). The middleware accepts requests for captures at
/// most `SLASH_WINDOW = 2 * EPOCH_DURATION` old, and `registerVault` requires
/// `vaultEpochDuration >= SLASH_WINDOW + vetoDuration + EXECUTION_MARGIN`, so every request it accepts can be
/// requested in every vault and executed after its veto period, with `EXECUTION_MARGIN` to spare before the vault's
/// slashing window for `c` closes.
/// Ordering: Symbiotic's `slashableStake` is zero for captures older than the operator's latest executed slash
/// capture (BaseSlasher.sol:114-119), so an operator's slashes must execute in capture order. `requestSlash` accepts
/// an operator's captures in non-decreasing order only (`CaptureOutOfOrder`), and `executeSlash` refuses a slash
/// while the same operator has an open slash with an older capture (`OlderSlashOpen`). Equal captures run in any
/// order; closing a fully vetoed slash is always allowed.
interface IKalypsoMiddleware {
    /// @notice Lifecycle of a committee-signed slash. A slash whose every part was vetoed by the resolver is
    /// `Vetoed`; a partly vetoed slash becomes `Executed` for the parts that were not.
    enum SlashStatus {
        None,
        Requested,
        Executed,
        Vetoed
    }

    /// @notice What the committee signs (EIP-712, domain "KalypsoMiddleware" / "1" / chain id / this contract).
    /// A slash is identified by `slashKey(l2ChainId, pool, slashId)` and can be requested exactly once.
    /// @param l2ChainId Chain id of the L2 the pool lives on.
    /// @param pool The L2 pool that queued the slash.
    /// @param slashId Id the pool gave the slash (unique within the pool).
    /// @param operator The operator (generator) to slash.
    /// @param amount Collateral to slash, split over the registered vaults.
    /// @param captureTimestamp Capture timestamp of the stake snapshot the slashed stake was locked under (an epoch
    /// start).
    struct SlashRequest {
        uint256 l2ChainId;
        address pool;
        uint64 slashId;
        address operator;
        uint256 amount;
        uint48 captureTimestamp;
    }

    /// @notice One vault's share of a slash: a request in the vault's VetoSlasher.
    /// @param vault The vault whose slasher holds the request.
    /// @param slashIndex Index of the request in the VetoSlasher (`slashRequests(slashIndex)`).
    /// @param amount Amount requested from this vault (capped by its slashable stake at request time).
    struct SlashPart {
        address vault;
        uint64 slashIndex;
        uint256 amount;
    }

    /// @notice A slash as stored.
    /// @param operator The slashed operator.
    /// @param captureTimestamp The capture timestamp the slash applies to.
    /// @param executableAt Earliest execution time (the latest veto deadline of the parts).
    /// @param status Stored status (`slashStatus` also reports `Vetoed` for a requested slash all of whose parts
    /// were vetoed).
    /// @param partCount Number of parts (one per vault of the operator that had slashable stake).
    struct Slash {
        address operator;
        uint48 captureTimestamp;
        uint48 executableAt;
        SlashStatus status;
        uint8 partCount;
    }

    /// @notice A constructor argument is the zero address.
    error ZeroAddress();
    /// @notice The network epoch duration is zero.
    error InvalidEpochDuration(uint48 epochDuration);
    /// @notice `vault` was not created by Symbiotic's VaultFactory.
    error NotVault(address vault);
    /// @notice `vault`'s delegator or slasher is not initialized yet.
    error VaultNotInitialized(address vault);
    /// @notice `vault`'s collateral is not the middleware's collateral.
    error WrongCollateral(address vault, address collateral, address expected);
    /// @notice `vault`'s delegator is not an OperatorSpecificDelegator (type 2).
    error WrongDelegatorType(address vault, uint64 delegatorType);
    /// @notice `vault` has no slasher.
    error NoSlasher(address vault);
    /// @notice `vault`'s slasher is not a VetoSlasher (type 1).
    error WrongSlasherType(address vault, uint64 slasherType);
    /// @notice `vault`'s epoch is shorter than `SLASH_WINDOW + vetoDuration + EXECUTION_MARGIN` (`minimum`).
    error VaultEpochTooShort(address vault, uint48 vaultEpochDuration, uint256 minimum);
    /// @notice `vault` is already registered.
    error VaultAlreadyRegistered(address vault);
    /// @notice `vault` is not registered.
    error VaultNotRegistered(address vault);
    /// @notice The vault's operator already has `max` vaults (its slashes and stake reads loop over them).
    error TooManyVaults(uint256 max);
    /// @notice `operator` is not registered in Symbiotic's OperatorRegistry.
    error NotOperator(address operator);
    /// @notice `operator` has not opted in to the network.
    error OperatorNotOptedIn(address operator);
    /// @notice `operator` is already registered.
    error OperatorAlreadyRegistered(address operator);
    /// @notice `operator` is not registered.
    error OperatorNotRegistered(address operator);
    /// @notice The committee has `size` members and a threshold of `threshold` (needs 1 <= threshold <= size <= max).
    error InvalidCommittee(uint256 size, uint256 threshold);
    /// @notice `member` is zero or listed twice.
    error InvalidCommitteeMember(address member);
    /// @notice No committee is set yet.
    error NoCommittee();
    /// @notice `timestamp` lies before the first epoch's start `epochStart`.
    error BeforeFirstEpoch(uint48 timestamp, uint48 epochStart);
    /// @notice `captureTimestamp` is not the start of an epoch.
    error CaptureNotEpochStart(uint48 captureTimestamp);
    /// @notice `captureTimestamp` is not before `currentTime`: its stake may still change.
    error CaptureNotPast(uint48 captureTimestamp, uint48 currentTime);
    /// @notice `captureTimestamp` is older than the slash window allows (`oldestCapture`).
    error CaptureTooOld(uint48 captureTimestamp, uint48 oldestCapture);
    /// @notice The slash `key` (`slashKey(l2ChainId, pool, slashId)`) was requested already.
    error SlashIdUsed(bytes32 key);
    /// @notice `signatures` signatures were given, `threshold` are needed.
    error BelowThreshold(uint256 signatures, uint256 threshold);
    /// @notice Signature number `index` is malformed.
    error InvalidSignature(uint256 index);
    /// @notice A signature recovers to `signer`, not a committee member (or signs another message or domain).
    error UnknownSigner(address signer);
    /// @notice Signers must be strictly ascending (this rejects duplicates): `signer` follows `previous`.
    error SignersNotAscending(address previous, address signer);
    /// @notice `operator` was not registered at `captureTimestamp`.
    error OperatorNotActiveAt(address operator, uint48 captureTimestamp);
    /// @notice No registered vault has slashable stake of `operator` for `captureTimestamp`.
    error NothingSlashable(address operator, uint48 captureTimestamp);
    /// @notice Slash `key` is not pending (its status is `status`).
    error SlashNotPending(bytes32 key, SlashStatus status);
    /// @notice The veto period of slash `key` ends at `executableAt`.
    error VetoPeriodNotEnded(bytes32 key, uint48 executableAt);
    /// @notice `capture` is older than `latest`, the latest capture requested for `operator`: an operator's slashes
    /// must arrive in non-decreasing capture order.
    error CaptureOutOfOrder(address operator, uint48 capture, uint48 latest);
    /// @notice Slash `key` of the same operator, with an older capture, is still open (requested and not closed):
    /// execute or close it first.
    error OlderSlashOpen(bytes32 key);

    /// @notice `vault` now delegates stake to the network's operators.
    event VaultRegistered(address indexed vault);
    /// @notice `vault` no longer counts for captures from now on.
    event VaultUnregistered(address indexed vault);
    /// @notice `operator` now counts as a Kalypso generator on the L1.
    event OperatorRegistered(address indexed operator);
    /// @notice `operator` no longer counts for captures from now on.
    event OperatorUnregistered(address indexed operator);
    /// @notice The committee changed.
    event CommitteeSet(address[] members, uint256 threshold);
    /// @notice Part of slash `key` was requested in `vault`'s VetoSlasher as request `slashIndex`.
    event SlashPartRequested(bytes32 indexed key, address indexed vault, uint256 slashIndex, uint256 amount);
    /// @notice Slash `key` (`slashId` of `pool` on chain `l2ChainId`) of `operator` at `captureTimestamp` was
    /// requested: `covered` of `requested` found slashable stake; it executes from `executableAt`.
    event SlashRequested(
        bytes32 indexed key,
        address indexed operator,
        uint256 l2ChainId,
        address pool,
        uint64 slashId,
        uint48 captureTimestamp,
        uint256 requested,
        uint256 covered,
        uint48 executableAt
    );
    /// @notice Part `slashIndex` of slash `key` in `vault` slashed `amount`.
    event SlashPartExecuted(bytes32 indexed key, address indexed vault, uint256 slashIndex, uint256 amount);
    /// @notice Part `slashIndex` of slash `key` in `vault` was vetoed by the resolver.
    event SlashPartVetoed(bytes32 indexed key, address indexed vault, uint256 slashIndex);
    /// @notice Slash `key` executed, slashing `amountSlashed` in total.
    event SlashExecuted(bytes32 indexed key, uint256 amountSlashed);
    /// @notice Every part of slash `key` was vetoed; nothing was slashed.
    event SlashVetoed(bytes32 indexed key);

    /// @notice The network (a Symbiotic network address; its middleware is this contract).
    function NETWORK() external view returns (address);

    /// @notice The subnetwork `(NETWORK, 0)` stake is delegated to and slashed on.
    function SUBNETWORK() external view returns (bytes32);

    /// @notice The collateral every registered vault holds (stake is counted at par).
    function COLLATERAL() external view returns (address);

    /// @notice Start of epoch 0 (its capture timestamp).
    function EPOCH_START() external view returns (uint48);

    /// @notice Length of a network epoch.
    function EPOCH_DURATION() external view returns (uint48);

    /// @notice How old a capture timestamp may be when its slash is requested (`2 * EPOCH_DURATION`).
    function SLASH_WINDOW() external view returns (uint48);

    /// @notice Slack every vault's epoch must leave after `SLASH_WINDOW + vetoDuration`: time to execute a slash
    /// requested at the edge of the window (relayer delays, an older slash of the operator executed first).
    function EXECUTION_MARGIN() external view returns (uint48);

    /// @notice EIP-712 typehash of `SlashRequest`.
    function SLASH_REQUEST_TYPEHASH() external view returns (bytes32);

    /// @notice The epoch `timestamp` falls in.
    function epochAt(uint48 timestamp) external view returns (uint64);

    /// @notice Start (capture timestamp) of `epoch`.
    function epochStart(uint64 epoch) external view returns (uint48);

    /// @notice The current epoch.
    function currentEpoch() external view returns (uint64);

    /// @notice Registers `vault` (owner). It must come from Symbiotic's VaultFactory, be initialized, hold
    /// `COLLATERAL`, use an OperatorSpecificDelegator (type 2) and a VetoSlasher (type 1), and have
    /// `epochDuration() >= SLASH_WINDOW + vetoDuration() + EXECUTION_MARGIN`. The vault backs its delegator's
    /// `operator()` only.
    /// @dev OperatorSpecificDelegator: the vault backs exactly one operator, so a slash of one operator never reduces
    /// another operator's stake and the L2 pool, which locks and slashes per operator, accounts exactly. With a
    /// NetworkRestakeDelegator every operator of a vault shares its stake: a slash of one shrinks all the others'
    /// stake, so operators sharing a vault could together lock more than it holds. A FullRestakeDelegator lets every
    /// operator count the same collateral outright.
    function registerVault(address vault) external;

    /// @notice Unregisters `vault` (owner): it stops counting for captures from now on. Captures before stay as they
    /// were, and slashes for them still reach the vault.
    function unregisterVault(address vault) external;

    /// @notice Registers `operator` (owner): it must be a Symbiotic operator opted in to the network.
    function registerOperator(address operator) external;

    /// @notice Unregisters `operator` (owner): it stops counting for captures from now on.
    function unregisterOperator(address operator) external;

    /// @notice Replaces the committee (owner) with `members`, of which `threshold` must sign a slash.
    function setCommittee(address[] calldata members, uint256 threshold) external;

    /// @notice Requests committee-signed slash `req` (anyone may submit) under `slashKey(req.l2ChainId, req.pool,
    /// req.slashId)`, once per key. `signatures` are EIP-712 signatures of `req` by at least `threshold` distinct
    /// committee members, ordered by strictly ascending signer address. The capture timestamp must be an epoch start,
    /// in the past, at most `SLASH_WINDOW` old and not older than the latest capture requested for the operator
    /// (`CaptureOutOfOrder`). `req.amount` is split over the operator's vaults registered at the capture, in
    /// registration order, each part capped by the vault's slashable stake; each part is requested in the vault's
    /// VetoSlasher.
    /// @return covered The sum of the parts (at most `req.amount`).
    function requestSlash(SlashRequest calldata req, bytes[] calldata signatures) external returns (uint256 covered);

    /// @notice Executes slash `key` (anyone) once its veto period has passed and no slash of the same operator with an
    /// older capture is open (`OlderSlashOpen`): every part the resolver did not veto is executed in its
    /// VetoSlasher. A slash whose parts were all vetoed is closed as `Vetoed` (at any time, in any order).
    /// @return amountSlashed Collateral slashed (sent to the vaults' burners).
    function executeSlash(bytes32 key) external returns (uint256 amountSlashed);

    /// @notice Key of slash `slashId` of `pool` on chain `l2ChainId`: `keccak256(abi.encode(l2ChainId, pool,
    /// slashId))`.
    function slashKey(uint256 l2ChainId, address pool, uint64 slashId) external pure returns (bytes32);

    /// @notice Status of slash `key`.
    function slashStatus(bytes32 key) external view returns (SlashStatus);

    /// @notice Stored record of slash `key`.
    function slashes(bytes32 key) external view returns (Slash memory);

    /// @notice Parts of slash `key`, in request order.
    function slashParts(bytes32 key) external view returns (SlashPart[] memory);

    /// @notice EIP-712 digest the committee signs for `req`.
    function hashSlashRequest(SlashRequest calldata req) external view returns (bytes32);

    /// @notice The committee members and the threshold.
    function committee() external view returns (address[] memory members, uint256 threshold);

    /// @notice Whether `account` is a committee member.
    function isCommitteeMember(address account) external view returns (bool);

    /// @notice Operators registered now.
    function operators() external view returns (address[] memory);

    /// @notice Vaults registered now, in registration order.
    function vaults() external view returns (address[] memory);

    /// @notice Whether `operator` was registered at `timestamp`.
    function isOperatorActiveAt(address operator, uint48 timestamp) external view returns (bool);

    /// @notice Whether `vault` was registered at `timestamp`.
    function isVaultActiveAt(address vault, uint48 timestamp) external view returns (bool);

    /// @notice Stake of `operator` at `timestamp`: the sum over vaults registered at `timestamp` of the delegator's
    /// `stakeAt` on the subnetwork (only the operator's own vaults contribute; zero unless the operator was opted in
    /// to the vault and the network at `timestamp`); zero if the operator was not registered at `timestamp`.
    function stakeAt(address operator, uint48 timestamp) external view returns (uint256);

    /// @notice Stake snapshot of `epoch`, whose capture timestamp must be in the past: the operators registered at the
    /// capture and their stakes.
    function snapshot(uint64 epoch)
        external
        view
        returns (uint48 captureTimestamp, address[] memory operators_, uint256[] memory stakes);
}
