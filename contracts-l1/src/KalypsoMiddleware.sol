// SPDX-License-Identifier: MIT
pragma solidity 0.8.25;

import {IKalypsoMiddleware} from "./IKalypsoMiddleware.sol";

import {IEntity} from "@symbioticfi/core/src/interfaces/common/IEntity.sol";
import {IRegistry} from "@symbioticfi/core/src/interfaces/common/IRegistry.sol";
import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
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
contract KalypsoMiddleware is IKalypsoMiddleware, Ownable2Step, EIP712, ReentrancyGuard {
    using Checkpoints for Checkpoints.Trace208;
    using SafeCast for uint256;

    /// @notice Symbiotic's delegator type of a NetworkRestakeDelegator.
    uint64 public constant NETWORK_RESTAKE_DELEGATOR_TYPE = 0;
    /// @notice Symbiotic's slasher type of a VetoSlasher.
    uint64 public constant VETO_SLASHER_TYPE = 1;
    /// @notice Most vaults the middleware ever knows (stake reads and slashes loop over them).
    uint256 public constant MAX_VAULTS = 16;
    /// @notice Largest committee.
    uint256 public constant MAX_COMMITTEE = 32;
    /// @inheritdoc IKalypsoMiddleware
    bytes32 public constant SLASH_REQUEST_TYPEHASH =
        keccak256("SlashRequest(uint64 slashId,address operator,uint256 amount,uint48 captureTimestamp)");

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

    /// @dev Every vault ever registered, in first-registration order.
    address[] internal _vaultList;
    mapping(address vault => Checkpoints.Trace208 registered) internal _vaultStatus;
    mapping(address vault => address slasher) internal _slasherOf;
    mapping(address vault => address delegator) internal _delegatorOf;

    /// @dev Every operator ever registered, in first-registration order.
    address[] internal _operatorList;
    mapping(address operator => Checkpoints.Trace208 registered) internal _operatorStatus;

    address[] internal _committee;
    uint256 internal _threshold;
    /// @dev A member of the current committee maps to the current version; `setCommittee` bumps the version.
    uint256 internal _committeeVersion;
    mapping(address member => uint256 version) internal _memberVersion;

    mapping(uint64 slashId => Slash) internal _slashes;
    mapping(uint64 slashId => mapping(uint256 index => SlashPart)) internal _parts;

    /// @param network The Symbiotic network (registered in the NetworkRegistry; sets this contract as its middleware).
    /// @param vaultFactory Symbiotic's VaultFactory.
    /// @param operatorRegistry Symbiotic's OperatorRegistry.
    /// @param operatorNetworkOptInService Symbiotic's operator-network OptInService.
    /// @param collateral The collateral token of every vault.
    /// @param epochStart_ Start of epoch 0.
    /// @param epochDuration Length of a network epoch.
    /// @param owner_ Owner (registers vaults and operators, sets the committee).
    constructor(
        address network,
        address vaultFactory,
        address operatorRegistry,
        address operatorNetworkOptInService,
        address collateral,
        uint48 epochStart_,
        uint48 epochDuration,
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
            if (_vaultList.length == MAX_VAULTS) revert TooManyVaults(MAX_VAULTS);
            _checkVault(vault);
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
        returns (uint256 amountCovered)
    {
        Slash storage slash = _slashes[req.slashId];
        if (slash.status != SlashStatus.None) revert SlashIdUsed(req.slashId);
        _checkSignatures(_hashSlashRequest(req), signatures);

        address operator = req.operator;
        uint48 capture = req.captureTimestamp;
        uint48 now_ = Time.timestamp();
        if (capture < EPOCH_START || (capture - EPOCH_START) % EPOCH_DURATION != 0) {
            revert CaptureNotEpochStart(capture);
        }
        if (capture >= now_) revert CaptureNotPast(capture, now_);
        if (now_ - capture > SLASH_WINDOW) revert CaptureTooOld(capture, now_ - SLASH_WINDOW);
        if (!_isActiveAt(_operatorStatus[operator], capture)) revert OperatorNotActiveAt(operator, capture);

        slash.operator = operator;
        slash.captureTimestamp = capture;
        slash.status = SlashStatus.Requested;

        (uint256 partCount, uint48 executableAt, uint256 remaining) =
            _requestParts(req.slashId, operator, capture, req.amount);
        if (partCount == 0) revert NothingSlashable(operator, capture);

        slash.executableAt = executableAt;
        slash.partCount = uint8(partCount); // at most MAX_VAULTS
        amountCovered = req.amount - remaining;
        emit SlashRequested(req.slashId, operator, capture, req.amount, amountCovered, executableAt);
    }

    /// @inheritdoc IKalypsoMiddleware
    function executeSlash(uint64 slashId) external nonReentrant returns (uint256 amountSlashed) {
        Slash storage slash = _slashes[slashId];
        if (slash.status != SlashStatus.Requested) revert SlashNotPending(slashId, slash.status);
        uint256 partCount = slash.partCount;
        mapping(uint256 => SlashPart) storage parts = _parts[slashId];

        if (_allVetoed(parts, partCount)) {
            slash.status = SlashStatus.Vetoed;
            for (uint256 i; i < partCount; ++i) {
                emit SlashPartVetoed(slashId, parts[i].vault, parts[i].slashIndex);
            }
            emit SlashVetoed(slashId);
            return 0;
        }
        if (Time.timestamp() < slash.executableAt) revert VetoPeriodNotEnded(slashId, slash.executableAt);
        slash.status = SlashStatus.Executed;

        address operator = slash.operator;
        uint48 capture = slash.captureTimestamp;
        for (uint256 i; i < partCount; ++i) {
            SlashPart memory part = parts[i];
            IVetoSlasher slasher = IVetoSlasher(_slasherOf[part.vault]);
            if (_isCompleted(slasher, part.slashIndex)) {
                // Only this middleware executes its requests, and only here: a completed request was vetoed.
                emit SlashPartVetoed(slashId, part.vault, part.slashIndex);
                continue;
            }
            // The slasher reverts on nothing to slash (stake slashed meanwhile by a later capture, or the vault's
            // slashing window for the capture closed): that part slashes zero instead of blocking the others.
            uint256 slashed;
            if (slasher.slashableStake(SUBNETWORK, operator, capture, "") != 0) {
                slashed = slasher.executeSlash(part.slashIndex, "");
            }
            amountSlashed += slashed;
            emit SlashPartExecuted(slashId, part.vault, part.slashIndex, slashed);
        }
        emit SlashExecuted(slashId, amountSlashed);
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashStatus(uint64 slashId) external view returns (SlashStatus) {
        Slash storage slash = _slashes[slashId];
        if (slash.status == SlashStatus.Requested && _allVetoed(_parts[slashId], slash.partCount)) {
            return SlashStatus.Vetoed;
        }
        return slash.status;
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashes(uint64 slashId) external view returns (Slash memory) {
        return _slashes[slashId];
    }

    /// @inheritdoc IKalypsoMiddleware
    function slashParts(uint64 slashId) external view returns (SlashPart[] memory parts) {
        uint256 partCount = _slashes[slashId].partCount;
        parts = new SlashPart[](partCount);
        for (uint256 i; i < partCount; ++i) {
            parts[i] = _parts[slashId][i];
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
        uint256 vaultCount = _vaultList.length;
        for (uint256 i; i < vaultCount; ++i) {
            address vault = _vaultList[i];
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

    function _checkVault(address vault) internal {
        if (!IRegistry(VAULT_FACTORY).isEntity(vault)) revert NotVault(vault);
        IVault v = IVault(vault);
        if (!v.isInitialized()) revert VaultNotInitialized(vault);
        address collateral = v.collateral();
        if (collateral != COLLATERAL) revert WrongCollateral(vault, collateral, COLLATERAL);
        address delegator = v.delegator();
        uint64 delegatorType = IEntity(delegator).TYPE();
        if (delegatorType != NETWORK_RESTAKE_DELEGATOR_TYPE) revert WrongDelegatorType(vault, delegatorType);
        address slasher = v.slasher();
        if (slasher == address(0)) revert NoSlasher(vault);
        uint64 slasherType = IEntity(slasher).TYPE();
        if (slasherType != VETO_SLASHER_TYPE) revert WrongSlasherType(vault, slasherType);
        uint48 vaultEpoch = v.epochDuration();
        uint256 minimum = uint256(SLASH_WINDOW) + IVetoSlasher(slasher).vetoDuration();
        if (vaultEpoch < minimum) revert VaultEpochTooShort(vault, vaultEpoch, minimum);
        // A vault's delegator and slasher never change once initialized.
        _delegatorOf[vault] = delegator;
        _slasherOf[vault] = slasher;
    }

    /// @dev Splits `amount` over the vaults registered at `capture`, in registration order, each part capped by the
    /// vault's slashable stake, and requests each part in the vault's VetoSlasher.
    function _requestParts(uint64 slashId, address operator, uint48 capture, uint256 amount)
        internal
        returns (uint256 partCount, uint48 executableAt, uint256 remaining)
    {
        remaining = amount;
        uint256 vaultCount = _vaultList.length;
        for (uint256 i; i < vaultCount && remaining != 0; ++i) {
            address vault = _vaultList[i];
            if (!_isActiveAt(_vaultStatus[vault], capture)) continue;
            IVetoSlasher slasher = IVetoSlasher(_slasherOf[vault]);
            uint256 part = Math.min(remaining, slasher.slashableStake(SUBNETWORK, operator, capture, ""));
            if (part == 0) continue;
            uint256 slashIndex = slasher.requestSlash(SUBNETWORK, operator, part, capture, "");
            _parts[slashId][partCount++] = SlashPart({vault: vault, slashIndex: slashIndex.toUint64(), amount: part});
            uint48 vetoDeadline = Time.timestamp() + slasher.vetoDuration();
            if (vetoDeadline > executableAt) executableAt = vetoDeadline;
            remaining -= part;
            emit SlashPartRequested(slashId, vault, slashIndex, part);
        }
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
            keccak256(abi.encode(SLASH_REQUEST_TYPEHASH, req.slashId, req.operator, req.amount, req.captureTimestamp))
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
