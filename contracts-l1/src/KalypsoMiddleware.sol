// SPDX-License-Identifier: MIT
pragma solidity 0.8.25;

import {IKalypsoMiddleware} from "./IKalypsoMiddleware.sol";

import {IEntity} from "@symbioticfi/core/src/interfaces/common/IEntity.sol";
import {IRegistry} from "@symbioticfi/core/src/interfaces/common/IRegistry.sol";
import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
import {IOperatorSpecificDelegator} from "@symbioticfi/core/src/interfaces/delegator/IOperatorSpecificDelegator.sol";
import {IOptInService} from "@symbioticfi/core/src/interfaces/service/IOptInService.sol";
import {IVetoSlasher} from "@symbioticfi/core/src/interfaces/slasher/IVetoSlasher.sol";
import {IVault} from "@symbioticfi/core/src/interfaces/vault/IVault.sol";

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {Checkpoints} from "@openzeppelin/contracts/utils/structs/Checkpoints.sol";
import {Time} from "@openzeppelin/contracts/utils/types/Time.sol";

/// @title KalypsoMiddleware
/// @notice Kalypso's Symbiotic network middleware: registered vaults and operators, stake snapshots per epoch for the
/// L2 relayer, and committee-signed slashes through the vaults' VetoSlashers.
/// @dev Registrations are checkpointed (OpenZeppelin `Checkpoints.Trace208`, 1 = registered), so snapshots and
/// slashes for a past capture see the vaults and operators registered at that capture, whatever changed since.
/// Every vault backs one operator (OperatorSpecificDelegator); the middleware keeps each operator's vaults in
/// registration order, and each operator's slashes in request order (non-decreasing captures) with a cursor to the
/// oldest one that may still be open.
contract KalypsoMiddleware is IKalypsoMiddleware, Ownable2Step, EIP712, ReentrancyGuard {
    using Checkpoints for Checkpoints.Trace208;
    using SafeCast for uint256;

    /// @notice Symbiotic's delegator type of an OperatorSpecificDelegator.
    uint64 public constant OPERATOR_SPECIFIC_DELEGATOR_TYPE = 2;
    /// @notice Symbiotic's slasher type of a VetoSlasher.
    uint64 public constant VETO_SLASHER_TYPE = 1;
    /// @notice Most vaults an operator ever has in the middleware (its stake reads and slashes loop over them).
    uint256 public constant MAX_VAULTS_PER_OPERATOR = 16;
    /// @notice Largest committee.
    uint256 public constant MAX_COMMITTEE = 32;
    /// @inheritdoc IKalypsoMiddleware
    bytes32 public constant SLASH_REQUEST_TYPEHASH = keccak256(
        "SlashRequest(uint256 l2ChainId,address pool,uint64 slashId,address operator,uint256 amount,uint48 captureTimestamp)"
    );

    /// @inheritdoc IKalypsoMiddleware
    address public immutable NETWORK;
    /// @inheritdoc IKalypsoMiddleware
    bytes32 public immutable SUBNETWORK;
    /// @notice Symbiotic's VaultFactory.
    address public immutable VAULT_FACTORY;
    /// @notice Symbiotic's OperatorRegistry.
    address public immutable OPERATOR_REGISTRY;
    /// @notice Symbiotic's operator-network OptInService.
    address public immutable OPERATOR_NETWORK_OPT_IN_SERVICE;
    /// @inheritdoc IKalypsoMiddleware
    address public immutable COLLATERAL;
    /// @inheritdoc IKalypsoMiddleware
    uint48 public immutable EPOCH_START;
    /// @inheritdoc IKalypsoMiddleware
    uint48 public immutable EPOCH_DURATION;
    /// @inheritdoc IKalypsoMiddleware
    uint48 public immutable SLASH_WINDOW;
    /// @inheritdoc IKalypsoMiddleware
    uint48 public immutable EXECUTION_MARGIN;

    /// @dev An operator's slashes in request order (non-decreasing captures): entries `[head, tail)` of
    /// `_operatorSlashes` may still be open, those before `head` are closed. `latestCapture` is the latest capture
    /// requested.
    struct SlashQueue {
        uint48 latestCapture;
        uint64 head;
        uint64 tail;
    }

    /// @dev Every vault ever registered, in first-registration order.
    address[] internal _vaultList;
    mapping(address vault => Checkpoints.Trace208 registered) internal _vaultStatus;
    mapping(address vault => address slasher) internal _slasherOf;
    mapping(address vault => address delegator) internal _delegatorOf;
    /// @dev Every vault ever registered for an operator (its delegator's `operator()`), in first-registration order.
    mapping(address operator => address[] vaults) internal _operatorVaults;

    /// @dev Every operator ever registered, in first-registration order.
    address[] internal _operatorList;
    mapping(address operator => Checkpoints.Trace208 registered) internal _operatorStatus;

    address[] internal _committee;
    uint256 internal _threshold;
    /// @dev A member of the current committee maps to the current version; `setCommittee` bumps the version.
    uint256 internal _committeeVersion;
    mapping(address member => uint256 version) internal _memberVersion;

    mapping(bytes32 key => Slash) internal _slashes;
    mapping(bytes32 key => mapping(uint256 index => SlashPart)) internal _parts;
    mapping(address operator => SlashQueue) internal _slashQueue;
    mapping(address operator => mapping(uint256 index => bytes32 key)) internal _operatorSlashes;

    /// @param network The Symbiotic network (registered in the NetworkRegistry; sets this contract as its middleware).
    /// @param vaultFactory Symbiotic's VaultFactory.
    /// @param operatorRegistry Symbiotic's OperatorRegistry.
    /// @param operatorNetworkOptInService Symbiotic's operator-network OptInService.
    /// @param collateral The collateral token of every vault.
    /// @param epochStart_ Start of epoch 0.
    /// @param epochDuration Length of a network epoch.
    /// @param executionMargin Slack a vault's epoch must leave after `SLASH_WINDOW + vetoDuration`.
    /// @param owner_ Owner (registers vaults and operators, sets the committee).
    constructor(
        address network,
        address vaultFactory,
        address operatorRegistry,
        address operatorNetworkOptInService,
        address collateral,
        uint48 epochStart_,
        uint48 epochDuration,
        uint48 executionMargin,
        address owner_
    ) Ownable(owner_) EIP712("KalypsoMiddleware", "1") {
        if (
            network == address(0) || vaultFactory == address(0) || operatorRegistry == address(0)
                || operatorNetworkOptInService == address(0) || collateral == address(0)
        ) revert ZeroAddress();
        if (epochDuration == 0) revert InvalidEpochDuration(epochDuration);
        NETWORK = network;
        SUBNETWORK = bytes32(uint256(uint160(network)) << 96); // Subnetwork.subnetwork(network, 0)
        VAULT_FACTORY = vaultFactory;
        OPERATOR_REGISTRY = operatorRegistry;
        OPERATOR_NETWORK_OPT_IN_SERVICE = operatorNetworkOptInService;
        COLLATERAL = collateral;
        EPOCH_START = epochStart_;
        EPOCH_DURATION = epochDuration;
        SLASH_WINDOW = (uint256(epochDuration) * 2).toUint48();
        EXECUTION_MARGIN = executionMargin;
    }

    // ---------------------------------------------------------------- epochs

    /// @inheritdoc IKalypsoMiddleware
    function epochAt(uint48 timestamp) public view returns (uint64) {
        if (timestamp < EPOCH_START) revert BeforeFirstEpoch(timestamp, EPOCH_START);
        return uint64((timestamp - EPOCH_START) / EPOCH_DURATION);
    }

    /// @inheritdoc IKalypsoMiddleware
    function epochStart(uint64 epoch) public view returns (uint48) {
        return (uint256(EPOCH_START) + uint256(epoch) * EPOCH_DURATION).toUint48();
    }

    /// @inheritdoc IKalypsoMiddleware
    function currentEpoch() external view returns (uint64) {
        return epochAt(Time.timestamp());
    }

    // ---------------------------------------------------------------- registry (owner)

    /// @inheritdoc IKalypsoMiddleware
    function registerVault(address vault) external onlyOwner {
        if (_isActive(_vaultStatus[vault])) revert VaultAlreadyRegistered(vault);
        bool known = _vaultStatus[vault].length() != 0;
        if (!known) {
            address[] storage own = _operatorVaults[_checkVault(vault)];
            if (own.length == MAX_VAULTS_PER_OPERATOR) revert TooManyVaults(MAX_VAULTS_PER_OPERATOR);
            own.push(vault);
            _vaultList.push(vault);
        }
        _vaultStatus[vault].push(Time.timestamp(), 1);
        emit VaultRegistered(vault);
    }

    /// @inheritdoc IKalypsoMiddleware
    function unregisterVault(address vault) external onlyOwner {
        if (!_isActive(_vaultStatus[vault])) revert VaultNotRegistered(vault);
        _vaultStatus[vault].push(Time.timestamp(), 0);
        emit VaultUnregistered(vault);
    }

    /// @inheritdoc IKalypsoMiddleware
    function registerOperator(address operator) external onlyOwner {
        if (_isActive(_operatorStatus[operator])) revert OperatorAlreadyRegistered(operator);
        if (!IRegistry(OPERATOR_REGISTRY).isEntity(operator)) revert NotOperator(operator);
        if (!IOptInService(OPERATOR_NETWORK_OPT_IN_SERVICE).isOptedIn(operator, NETWORK)) {
            revert OperatorNotOptedIn(operator);
        }
        if (_operatorStatus[operator].length() == 0) _operatorList.push(operator);
        _operatorStatus[operator].push(Time.timestamp(), 1);
        emit OperatorRegistered(operator);
    }

    /// @inheritdoc IKalypsoMiddleware
    function unregisterOperator(address operator) external onlyOwner {
        if (!_isActive(_operatorStatus[operator])) revert OperatorNotRegistered(operator);
        _operatorStatus[operator].push(Time.timestamp(), 0);
        emit OperatorUnregistered(operator);
    }

    /// @inheritdoc IKalypsoMiddleware
    function setCommittee(address[] calldata members, uint256 threshold) external onlyOwner {
        uint256 size = members.length;
        if (threshold == 0 || threshold > size || size > MAX_COMMITTEE) revert InvalidCommittee(size, threshold);
        uint256 version = ++_committeeVersion;
        for (uint256 i; i < size; ++i) {
            address member = members[i];
            if (member == address(0) || _memberVersion[member] == version) revert InvalidCommitteeMember(member);
            _memberVersion[member] = version;
        }
        _committee = members;
        _threshold = threshold;
        emit CommitteeSet(members, threshold);
    }

    // ---------------------------------------------------------------- slashing

    /// @inheritdoc IKalypsoMiddleware
    function requestSlash(SlashRequest calldata req, bytes[] calldata signatures)
        external
        nonReentrant
        returns (uint256 covered)
    {
        bytes32 key = _slashKey(req.l2ChainId, req.pool, req.slashId);
        Slash storage slash = _slashes[key];
        if (slash.status != SlashStatus.None) revert SlashIdUsed(key);
        _checkSignatures(_hashSlashRequest(req), signatures);

        address operator = req.operator;
        uint48 capture = req.captureTimestamp;
        _checkCapture(operator, capture);
        _enqueue(operator, capture, key);

        slash.operator = operator;
        slash.captureTimestamp = capture;
        slash.status = SlashStatus.Requested;

        (uint256 partCount, uint48 executableAt, uint256 remaining) = _requestParts(key, operator, capture, req.amount);
        if (partCount == 0) revert NothingSlashable(operator, capture);

        slash.executableAt = executableAt;
        slash.partCount = uint8(partCount); // at most MAX_VAULTS_PER_OPERATOR
        covered = req.amount - remaining;
        _emitSlashRequested(key, req, covered, executableAt);
    }

    /// @inheritdoc IKalypsoMiddleware
    function executeSlash(bytes32 key) external nonReentrant returns (uint256 amountSlashed) {
        Slash storage slash = _slashes[key];
        if (slash.status != SlashStatus.Requested) revert SlashNotPending(key, slash.status);
        uint256 partCount = slash.partCount;
        mapping(uint256 => SlashPart) storage parts = _parts[key];

        if (_allVetoed(parts, partCount)) {
            // Closing a fully vetoed slash slashes nothing, so it never waits for older slashes.
            slash.status = SlashStatus.Vetoed;
            for (uint256 i; i < partCount; ++i) {
                emit SlashPartVetoed(key, parts[i].vault, parts[i].slashIndex);
            }
            emit SlashVetoed(key);
            return 0;
        }
        address operator = slash.operator;
        uint48 capture = slash.captureTimestamp;
        _checkNoOlderOpen(operator, capture);
        if (Time.timestamp() < slash.executableAt) revert VetoPeriodNotEnded(key, slash.executableAt);
        slash.status = SlashStatus.Executed;

        for (uint256 i; i < partCount; ++i) {
            SlashPart memory part = parts[i];
            IVetoSlasher slasher = IVetoSlasher(_slasherOf[part.vault]);
            if (_isCompleted(slasher, part.slashIndex)) {
                // Only this middleware executes its requests, and only here: a completed request was vetoed.
                emit SlashPartVetoed(key, part.vault, part.slashIndex);
                continue;
            }
            // The slasher reverts on nothing to slash (the vault's slashing window for the capture closed, or the
            // stake is gone): that part slashes zero instead of blocking the others.
            uint256 slashed;
            if (slasher.slashableStake(SUBNETWORK, operator, capture, "") != 0) {
                slashed = slasher.executeSlash(part.slashIndex, "");
            }
            amountSlashed += slashed;
            emit SlashPartExecuted(key, part.vault, part.slashIndex, slashed);
        }
        emit SlashExecuted(key, amountSlashed);
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashKey(uint256 l2ChainId, address pool, uint64 slashId) external pure returns (bytes32) {
        return _slashKey(l2ChainId, pool, slashId);
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashStatus(bytes32 key) external view returns (SlashStatus) {
        Slash storage slash = _slashes[key];
        if (slash.status == SlashStatus.Requested && _allVetoed(_parts[key], slash.partCount)) {
            return SlashStatus.Vetoed;
        }
        return slash.status;
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashes(bytes32 key) external view returns (Slash memory) {
        return _slashes[key];
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashParts(bytes32 key) external view returns (SlashPart[] memory parts) {
        uint256 partCount = _slashes[key].partCount;
        parts = new SlashPart[](partCount);
        for (uint256 i; i < partCount; ++i) {
            parts[i] = _parts[key][i];
        }
    }

    /// @inheritdoc IKalypsoMiddleware
    function hashSlashRequest(SlashRequest calldata req) external view returns (bytes32) {
        return _hashSlashRequest(req);
    }

    /// @inheritdoc IKalypsoMiddleware
    function committee() external view returns (address[] memory members, uint256 threshold) {
        return (_committee, _threshold);
    }

    /// @inheritdoc IKalypsoMiddleware
    function isCommitteeMember(address account) public view returns (bool) {
        uint256 version = _committeeVersion;
        return version != 0 && _memberVersion[account] == version;
    }

    // ---------------------------------------------------------------- stake views

    /// @inheritdoc IKalypsoMiddleware
    function operators() external view returns (address[] memory) {
        return _activeAt(_operatorList, _operatorStatus, Time.timestamp());
    }

    /// @inheritdoc IKalypsoMiddleware
    function vaults() external view returns (address[] memory) {
        return _activeAt(_vaultList, _vaultStatus, Time.timestamp());
    }

    /// @inheritdoc IKalypsoMiddleware
    function isOperatorActiveAt(address operator, uint48 timestamp) external view returns (bool) {
        return _isActiveAt(_operatorStatus[operator], timestamp);
    }

    /// @inheritdoc IKalypsoMiddleware
    function isVaultActiveAt(address vault, uint48 timestamp) external view returns (bool) {
        return _isActiveAt(_vaultStatus[vault], timestamp);
    }

    /// @inheritdoc IKalypsoMiddleware
    function stakeAt(address operator, uint48 timestamp) public view returns (uint256 stake) {
        if (!_isActiveAt(_operatorStatus[operator], timestamp)) return 0;
        // Other operators' vaults give this operator nothing (OperatorSpecificDelegator), so only its own are read.
        address[] storage own = _operatorVaults[operator];
        uint256 vaultCount = own.length;
        for (uint256 i; i < vaultCount; ++i) {
            address vault = own[i];
            if (!_isActiveAt(_vaultStatus[vault], timestamp)) continue;
            // BaseDelegator.stakeAt returns zero unless the operator was opted in to the vault and to the network at
            // `timestamp`.
            stake += IBaseDelegator(_delegatorOf[vault]).stakeAt(SUBNETWORK, operator, timestamp, "");
        }
    }

    /// @inheritdoc IKalypsoMiddleware
    function snapshot(uint64 epoch)
        external
        view
        returns (uint48 captureTimestamp, address[] memory operators_, uint256[] memory stakes)
    {
        captureTimestamp = epochStart(epoch);
        uint48 now_ = Time.timestamp();
        if (captureTimestamp >= now_) revert CaptureNotPast(captureTimestamp, now_);
        operators_ = _activeAt(_operatorList, _operatorStatus, captureTimestamp);
        stakes = new uint256[](operators_.length);
        for (uint256 i; i < operators_.length; ++i) {
            stakes[i] = stakeAt(operators_[i], captureTimestamp);
        }
    }

    // ---------------------------------------------------------------- internal

    /// @dev Checks `vault` and records its delegator and slasher; returns the operator it backs.
    function _checkVault(address vault) internal returns (address operator) {
        if (!IRegistry(VAULT_FACTORY).isEntity(vault)) revert NotVault(vault);
        IVault v = IVault(vault);
        if (!v.isInitialized()) revert VaultNotInitialized(vault);
        address collateral = v.collateral();
        if (collateral != COLLATERAL) revert WrongCollateral(vault, collateral, COLLATERAL);
        address delegator = v.delegator();
        uint64 delegatorType = IEntity(delegator).TYPE();
        if (delegatorType != OPERATOR_SPECIFIC_DELEGATOR_TYPE) revert WrongDelegatorType(vault, delegatorType);
        address slasher = v.slasher();
        if (slasher == address(0)) revert NoSlasher(vault);
        uint64 slasherType = IEntity(slasher).TYPE();
        if (slasherType != VETO_SLASHER_TYPE) revert WrongSlasherType(vault, slasherType);
        uint48 vaultEpoch = v.epochDuration();
        uint256 minimum = uint256(SLASH_WINDOW) + IVetoSlasher(slasher).vetoDuration() + EXECUTION_MARGIN;
        if (vaultEpoch < minimum) revert VaultEpochTooShort(vault, vaultEpoch, minimum);
        // A vault's delegator and slasher never change once initialized, nor the delegator's operator.
        _delegatorOf[vault] = delegator;
        _slasherOf[vault] = slasher;
        operator = IOperatorSpecificDelegator(delegator).operator();
    }

    /// @dev Checks that `capture` is an epoch start, in the past, within the slash window, and that `operator` was
    /// registered then.
    function _checkCapture(address operator, uint48 capture) internal view {
        uint48 now_ = Time.timestamp();
        if (capture < EPOCH_START || (capture - EPOCH_START) % EPOCH_DURATION != 0) {
            revert CaptureNotEpochStart(capture);
        }
        if (capture >= now_) revert CaptureNotPast(capture, now_);
        if (now_ - capture > SLASH_WINDOW) revert CaptureTooOld(capture, now_ - SLASH_WINDOW);
        if (!_isActiveAt(_operatorStatus[operator], capture)) revert OperatorNotActiveAt(operator, capture);
    }

    /// @dev Appends slash `key` to `operator`'s queue; its capture must not be older than the latest requested.
    function _enqueue(address operator, uint48 capture, bytes32 key) internal {
        SlashQueue storage queue = _slashQueue[operator];
        uint48 latest = queue.latestCapture;
        if (capture < latest) revert CaptureOutOfOrder(operator, capture, latest);
        uint64 tail = queue.tail;
        _operatorSlashes[operator][tail] = key;
        queue.latestCapture = capture;
        queue.tail = tail + 1;
    }

    /// @dev Reverts if `operator` has an open slash older than `capture`. The queue's captures never decrease, so it
    /// suffices to skip the closed slashes at its head (moving the head past them for good) and compare the first
    /// open one.
    function _checkNoOlderOpen(address operator, uint48 capture) internal {
        SlashQueue storage queue = _slashQueue[operator];
        mapping(uint256 => bytes32) storage keys = _operatorSlashes[operator];
        uint64 head = queue.head;
        uint64 tail = queue.tail;
        for (; head < tail; ++head) {
            bytes32 key = keys[head];
            Slash storage open = _slashes[key];
            if (open.status == SlashStatus.Requested) {
                if (open.captureTimestamp < capture) revert OlderSlashOpen(key);
                break;
            }
        }
        if (head != queue.head) queue.head = head;
    }

    /// @dev Splits `amount` over `operator`'s vaults registered at `capture`, in registration order, each part capped
    /// by the vault's slashable stake, and requests each part in the vault's VetoSlasher.
    function _requestParts(bytes32 key, address operator, uint48 capture, uint256 amount)
        internal
        returns (uint256 partCount, uint48 executableAt, uint256 remaining)
    {
        remaining = amount;
        address[] storage own = _operatorVaults[operator];
        uint256 vaultCount = own.length;
        for (uint256 i; i < vaultCount && remaining != 0; ++i) {
            address vault = own[i];
            if (!_isActiveAt(_vaultStatus[vault], capture)) continue;
            (uint256 part, uint48 vetoDeadline) = _requestPart(key, partCount, vault, operator, capture, remaining);
            if (part == 0) continue;
            ++partCount;
            if (vetoDeadline > executableAt) executableAt = vetoDeadline;
            remaining -= part;
        }
    }

    /// @dev Requests part `index` of slash `key` in `vault`'s VetoSlasher: at most `remaining`, capped by the vault's
    /// slashable stake of `operator` at `capture` (nothing, returning zero, when there is none).
    function _requestPart(
        bytes32 key,
        uint256 index,
        address vault,
        address operator,
        uint48 capture,
        uint256 remaining
    ) internal returns (uint256 part, uint48 vetoDeadline) {
        IVetoSlasher slasher = IVetoSlasher(_slasherOf[vault]);
        part = Math.min(remaining, slasher.slashableStake(SUBNETWORK, operator, capture, ""));
        if (part == 0) return (0, 0);
        uint256 slashIndex = slasher.requestSlash(SUBNETWORK, operator, part, capture, "");
        _parts[key][index] = SlashPart({vault: vault, slashIndex: slashIndex.toUint64(), amount: part});
        vetoDeadline = Time.timestamp() + slasher.vetoDuration();
        emit SlashPartRequested(key, vault, slashIndex, part);
    }

    function _checkSignatures(bytes32 digest, bytes[] calldata signatures) internal view {
        uint256 threshold = _threshold;
        if (threshold == 0) revert NoCommittee();
        if (signatures.length < threshold) revert BelowThreshold(signatures.length, threshold);
        uint256 version = _committeeVersion;
        address previous;
        for (uint256 i; i < signatures.length; ++i) {
            (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, signatures[i]);
            if (err != ECDSA.RecoverError.NoError) revert InvalidSignature(i);
            if (signer <= previous) revert SignersNotAscending(previous, signer);
            if (_memberVersion[signer] != version) revert UnknownSigner(signer);
            previous = signer;
        }
    }

    function _hashSlashRequest(SlashRequest calldata req) internal view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SLASH_REQUEST_TYPEHASH,
                    req.l2ChainId,
                    req.pool,
                    req.slashId,
                    req.operator,
                    req.amount,
                    req.captureTimestamp
                )
            )
        );
    }

    function _slashKey(uint256 l2ChainId, address pool, uint64 slashId) internal pure returns (bytes32) {
        return keccak256(abi.encode(l2ChainId, pool, slashId));
    }

    function _emitSlashRequested(bytes32 key, SlashRequest calldata req, uint256 covered, uint48 executableAt)
        internal
    {
        emit SlashRequested(
            key,
            req.operator,
            req.l2ChainId,
            req.pool,
            req.slashId,
            req.captureTimestamp,
            req.amount,
            covered,
            executableAt
        );
    }

    /// @dev Whether every part's slasher request is completed without this contract having executed it (vetoed).
    /// Only meaningful while the slash is `Requested`.
    function _allVetoed(mapping(uint256 => SlashPart) storage parts, uint256 partCount) internal view returns (bool) {
        for (uint256 i; i < partCount; ++i) {
            if (!_isCompleted(IVetoSlasher(_slasherOf[parts[i].vault]), parts[i].slashIndex)) return false;
        }
        return partCount != 0;
    }

    function _isCompleted(IVetoSlasher slasher, uint256 slashIndex) internal view returns (bool completed) {
        (,,,,, completed) = slasher.slashRequests(slashIndex);
    }

    function _isActive(Checkpoints.Trace208 storage status) internal view returns (bool) {
        return status.latest() == 1;
    }

    function _isActiveAt(Checkpoints.Trace208 storage status, uint48 timestamp) internal view returns (bool) {
        return status.upperLookupRecent(timestamp) == 1;
    }

    function _activeAt(
        address[] storage list,
        mapping(address => Checkpoints.Trace208) storage status,
        uint48 timestamp
    ) internal view returns (address[] memory active) {
        uint256 length = list.length;
        active = new address[](length);
        uint256 count;
        for (uint256 i; i < length; ++i) {
            address entry = list[i];
            if (_isActiveAt(status[entry], timestamp)) active[count++] = entry;
        }
        assembly ("memory-safe") {
            mstore(active, count) // shrink to the active entries
        }
    }
}
