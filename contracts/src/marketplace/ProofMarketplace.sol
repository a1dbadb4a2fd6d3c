// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IEntityKeyRegistryView} from "../interfaces/IEntityKeyRegistry.sol";
import {IGeneratorRegistry} from "../interfaces/IGeneratorRegistry.sol";
import {IMarketView} from "../interfaces/IMarketView.sol";
import {IProofMarketplace} from "../interfaces/IProofMarketplace.sol";
import {IVerifier} from "../interfaces/IVerifier.sol";
import {IVerifierFactory} from "../interfaces/IVerifierFactory.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";

/// @title ProofMarketplace
/// @notice The settlement layer of Kalypso: markets, asks, assignment, proofs, slashing and payouts.
/// @dev Upgradeable (UUPS) with ERC-7201 storage. The payment token and the two registries are immutables of
/// the implementation, which keeps them off the storage-read bill of every hot path; replacing one takes an
/// upgrade. Every rule is re-checked here: the Matching Engine can pick a worse generator, never an ineligible one.
///
/// Reentrancy: the contract calls only the payment token (fixed at deployment), the generator and key
/// registries (protocol contracts), and market verifiers through STATICCALL (`view`), which cannot change state.
/// Every function finishes its own state changes before the token call that ends it (checks-effects-
/// interactions), so even a payment token with transfer hooks cannot double-spend (tested with such a token).
contract ProofMarketplace is IProofMarketplace, Initializable, UUPSUpgradeable, AccessControlUpgradeable {
    using SafeERC20 for IERC20;

    /// @notice May pause and unpause.
    bytes32 public constant PAUSER_ROLE = keccak256("PAUSER_ROLE");

    /// @notice EIP-712 type of one assignment of a Matching Engine batch.
    bytes32 public constant ASSIGNMENT_TYPEHASH =
        keccak256("Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)");

    /// @notice EIP-712 type of a Matching Engine assignment batch.
    bytes32 public constant ASSIGN_BATCH_TYPEHASH = keccak256(
        "AssignBatch(Assignment[] assignments,uint256 nonce,uint256 expiry)"
        "Assignment(uint256 askId,address generator,uint256 maxPrice,uint256 maxProofTime,bytes acl)"
    );

    /// @notice EIP-712 type of an IVS invalid-input attestation.
    bytes32 public constant INVALID_INPUT_TYPEHASH =
        keccak256("InvalidInput(uint256 marketId,uint256 askId,bytes32 inputsHash)");

    /// @dev Gas `createAsk` gives the market verifier's `verifyInputs` (a format check, not a proof).
    uint256 private constant VERIFY_INPUTS_GAS = 100_000;

    /// @dev Prefix of an ask's secret commitment: `keccak256(SECRET_COMMITMENT_DOMAIN ‖ secret)` (the ciphertext).
    bytes private constant SECRET_COMMITMENT_DOMAIN = "kalypso-confidential/v1/secret-commitment";

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    string private constant DOMAIN_NAME = "Kalypso ProofMarketplace";
    string private constant DOMAIN_VERSION = "1";

    uint256 private constant BPS = 10_000;
    /// @dev Collateral pool id of the registry's native pool.
    uint256 private constant NATIVE_POOL = 0;

    /// @inheritdoc IProofMarketplace
    uint256 public constant MAX_REOPENS = 3;

    /// @dev New business (markets, asks, assignments) stops while paused; settlement and withdrawals go on.
    modifier whenNotPaused() {
        _requireNotPaused();
        _;
    }

    /// @custom:storage-location erc7201:kalypso.storage.ProofMarketplace
    /// @dev The first slot holds everything `createAsk` and the assignment paths read besides the ask and market
    /// records (counters, pause switch, input fee), so each pays for one storage slot of protocol state.
    struct Storage {
        uint64 askCount;
        uint32 marketCount;
        bool paused;
        uint64 feePerInputByte;
        Params params;
        mapping(uint256 marketId => Market) markets;
        mapping(uint256 marketId => mapping(bytes32 imageId => bool)) extraImages;
        mapping(uint256 askId => Ask) asks;
        mapping(address account => uint256) claimable;
        mapping(address signer => mapping(uint256 word => uint256 bits)) usedNonces;
        mapping(uint256 askId => uint256) heldCompensation;
        mapping(uint256 askId => bytes32) secretCommitments;
    }

    // keccak256(abi.encode(uint256(keccak256("kalypso.storage.ProofMarketplace")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0xdae4bf99c1712c4c9a27350e29150f0e54d5432bfef28971e03ff8fd6c39ee00;

    IERC20 private immutable _paymentToken;
    IGeneratorRegistry private immutable _registry;
    IEntityKeyRegistryView private immutable _keys;
    IVerifierFactory private immutable _verifierFactory;

    /// @param paymentToken_ Token rewards are escrowed and paid in.
    /// @param registry_ The generator registry (this contract needs its MARKETPLACE_ROLE).
    /// @param keys_ The entity key registry (Matching Engine, IVS and enclave keys).
    /// @param verifierFactory_ The only source of market verifiers (their code cannot change).
    constructor(
        IERC20 paymentToken_,
        IGeneratorRegistry registry_,
        IEntityKeyRegistryView keys_,
        IVerifierFactory verifierFactory_
    ) {
        _paymentToken = paymentToken_;
        _registry = registry_;
        _keys = keys_;
        _verifierFactory = verifierFactory_;
        _disableInitializers();
    }

    /// @notice Initialises the proxy.
    /// @param admin Receives DEFAULT_ADMIN_ROLE and PAUSER_ROLE.
    /// @param params_ Protocol parameters.
    function initialize(address admin, Params calldata params_) external initializer {
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(PAUSER_ROLE, admin);
        _setParams(params_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Markets
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function createMarket(
        IVerifier verifier,
        bytes32 proverImageId_,
        bytes32 ivsImageId_,
        uint256 slashingPenalty,
        uint256 minStake,
        uint256 fallbackDelay,
        bytes calldata metadata
    ) external whenNotPaused returns (uint256 marketId) {
        Storage storage $ = _s();
        if (
            slashingPenalty == 0 || minStake < slashingPenalty || minStake > type(uint96).max
                || fallbackDelay > type(uint32).max || (fallbackDelay != 0 && fallbackDelay < $.params.minFallbackDelay)
        ) {
            revert InvalidMarketParams(address(verifier), slashingPenalty, minStake, fallbackDelay);
        }
        // Only verifiers whose code cannot change (a switchable one would let the creator reject valid proofs
        // after assignment and slash the generator). The factory deployed them only after their sample proof
        // verified, and their code cannot change, so the sample check needs no repeating.
        if (!_verifierFactory.isVerifier(address(verifier))) revert VerifierNotAllowed(address(verifier));

        marketId = ++$.marketCount;
        uint256 activationTime = block.timestamp + $.params.activationDelay;
        $.markets[marketId] = Market({
            slashingPenalty: uint96(slashingPenalty),
            minStake: uint96(minStake),
            activationTime: uint40(activationTime),
            frozen: false,
            confidential: proverImageId_ != bytes32(0),
            verifier: verifier,
            fallbackDelay: uint32(fallbackDelay),
            creator: msg.sender,
            proverImageId: proverImageId_,
            ivsImageId: ivsImageId_
        });
        emit MarketCreated(
            marketId,
            msg.sender,
            address(verifier),
            proverImageId_,
            ivsImageId_,
            slashingPenalty,
            minStake,
            activationTime,
            fallbackDelay,
            metadata
        );
        uint256 cost = $.params.marketCreationCost;
        if (cost != 0) _paymentToken.safeTransferFrom(msg.sender, $.params.treasury, cost);
    }

    /// @inheritdoc IProofMarketplace
    function setMarketFrozen(uint256 marketId, bool frozen) external {
        Market storage m = _market(marketId);
        if (msg.sender != m.creator && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) {
            revert NotMarketCreator(marketId, msg.sender);
        }
        m.frozen = frozen;
        emit MarketFrozen(marketId, frozen);
    }

    /// @inheritdoc IProofMarketplace
    function addExtraImage(uint256 marketId, bytes32 imageId) external {
        Market storage m = _creatorMarket(marketId);
        if (!m.confidential || imageId == bytes32(0) || imageId == m.proverImageId) {
            revert ImageUnchanged(marketId, imageId);
        }
        mapping(bytes32 => bool) storage images = _s().extraImages[marketId];
        if (images[imageId]) revert ImageUnchanged(marketId, imageId);
        images[imageId] = true;
        emit ExtraImageAdded(marketId, imageId);
    }

    /// @inheritdoc IProofMarketplace
    function removeExtraImage(uint256 marketId, bytes32 imageId) external {
        _creatorMarket(marketId);
        mapping(bytes32 => bool) storage images = _s().extraImages[marketId];
        if (!images[imageId]) revert ImageUnchanged(marketId, imageId);
        delete images[imageId];
        emit ExtraImageRemoved(marketId, imageId);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Asks
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function createAsk(AskRequest calldata request) external whenNotPaused returns (uint256 askId) {
        uint256 due;
        (askId, due) = _createAsk(request);
        _paymentToken.safeTransferFrom(msg.sender, address(this), due);
    }

    /// @inheritdoc IProofMarketplace
    function createAskFromBalance(AskRequest calldata request) external whenNotPaused returns (uint256 askId) {
        uint256 due;
        (askId, due) = _createAsk(request);
        mapping(address => uint256) storage balances = _s().claimable;
        uint256 available = balances[msg.sender];
        if (due > available) revert InsufficientBalance(msg.sender, due, available);
        balances[msg.sender] = available - due;
    }

    /// @inheritdoc IProofMarketplace
    function deposit(address account, uint256 amount) external {
        _s().claimable[account] += amount;
        emit Deposited(account, msg.sender, amount);
        _paymentToken.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc IProofMarketplace
    function cancelAsk(uint256 askId) external {
        Ask storage a = _ask(askId);
        if (a.state != AskState.Created) revert InvalidAskState(askId, a.state);
        if (msg.sender != a.refundAddress) revert NotRequester(askId, msg.sender);
        _refund(askId, a, true);
    }

    /// @inheritdoc IProofMarketplace
    function refundExpired(uint256 askId) external {
        Ask storage a = _ask(askId);
        if (a.state != AskState.Created) revert InvalidAskState(askId, a.state);
        if (block.timestamp <= a.deadline) revert AskNotExpired(askId, a.deadline);
        _refund(askId, a, false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Assignment
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function assignTask(Assignment calldata assignment) external whenNotPaused {
        if (msg.sender != _keys.matchingEngine()) revert NotMatchingEngine(msg.sender);
        IGeneratorRegistry.SkipReason reason = _tryAssign(assignment, false);
        if (reason != IGeneratorRegistry.SkipReason.None) {
            revert AskNotAssignable(assignment.askId, assignment.generator, reason);
        }
    }

    /// @inheritdoc IProofMarketplace
    function relayAssignments(
        Assignment[] calldata assignments,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) external whenNotPaused returns (uint256 assigned) {
        if (block.timestamp > expiry) revert BatchExpired(expiry, block.timestamp);
        address signer = ECDSA.recover(_assignBatchDigest(assignments, nonce, expiry), signature);
        if (signer != _keys.matchingEngine()) revert InvalidBatchSignature(signer);
        _useNonce(signer, nonce);
        for (uint256 i; i < assignments.length; ++i) {
            Assignment memory item = assignments[i];
            IGeneratorRegistry.SkipReason reason = _tryAssign(item, false);
            // An enum compared with its value, not a balance: exact equality is the meaning.
            // slither-disable-next-line incorrect-equality
            if (reason == IGeneratorRegistry.SkipReason.None) {
                ++assigned;
            } else {
                emit AssignmentSkipped(item.askId, item.generator, reason);
            }
        }
    }

    /// @inheritdoc IProofMarketplace
    function selfAssign(uint256 askId) external whenNotPaused {
        // The generator takes the ask at its own quote: the only caps are the ask's reward and deadline.
        Assignment memory own = Assignment(askId, msg.sender, type(uint256).max, type(uint256).max, "");
        IGeneratorRegistry.SkipReason reason = _tryAssign(own, true);
        if (reason != IGeneratorRegistry.SkipReason.None) revert AskNotAssignable(askId, msg.sender, reason);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function submitProof(uint256 askId, bytes calldata proverData, bytes calldata proof) external {
        _submitProof(askId, proverData, proof);
    }

    /// @inheritdoc IProofMarketplace
    function submitInvalidInputAttestation(uint256 askId, bytes calldata signature) external {
        Ask storage a = _assignedBeforeDeadline(askId);
        uint256 marketId = a.marketId;
        address signer = ECDSA.recover(_invalidInputDigest(marketId, askId, a.inputsHash), signature);
        if (!_keys.isIvsSigner(marketId, signer)) revert InvalidAttestation(askId, signer);
        (address rewardAddress, uint256 price, uint256 refund) = _complete(askId, a, false);
        emit InvalidInputsSettled(askId, a.generator, signer, rewardAddress, price, refund);
    }

    /// @inheritdoc IProofMarketplace
    function discard(uint256 askId) external {
        Ask storage a = _assignedBeforeDeadline(askId);
        address generator = a.generator;
        if (msg.sender != generator) revert NotAssignedGenerator(askId, msg.sender);
        Storage storage $ = _s();
        uint256 lockedPenalty = $.markets[a.marketId].slashingPenalty;
        uint256 penalty = lockedPenalty * $.params.discardPenaltyBps / BPS;
        bool reopen = _canReopen(a);
        // Held is a share of the penalty actually taken (rounded down first on purpose); the parts sum to it exactly.
        // Restaked collateral is slashed on its own chain: nothing is held here.
        // slither-disable-next-line divide-before-multiply
        uint256 held = reopen && a.collateralPool == NATIVE_POOL ? penalty * $.params.requesterShareBps / BPS : 0;

        address[] memory recipients = new address[](2);
        uint256[] memory amounts = new uint256[](2);
        (recipients[0], amounts[0]) = (address(this), held);
        (recipients[1], amounts[1]) = ($.params.treasury, penalty - held);
        _penalise(askId, a, lockedPenalty, recipients, amounts, reopen);
        emit TaskDiscarded(askId, generator, penalty, held, reopen);
    }

    /// @inheritdoc IProofMarketplace
    function slash(uint256 askId) external {
        Ask storage a = _ask(askId);
        if (a.state != AskState.Assigned) revert InvalidAskState(askId, a.state);
        if (block.timestamp <= a.taskDeadline) revert TaskDeadline(askId, a.taskDeadline, block.timestamp);
        address generator = a.generator;
        Storage storage $ = _s();
        Params storage p = $.params;
        uint256 penalty = $.markets[a.marketId].slashingPenalty;
        bool reopen = _canReopen(a);
        // Restaked collateral is slashed on its own chain (to the vault's burner): the requester's and the keeper's
        // shares are paid only from native stake.
        bool native = a.collateralPool == NATIVE_POOL;
        uint256 held = reopen && native ? penalty * p.requesterShareBps / BPS : 0;
        uint256 toKeeper = native ? penalty * p.keeperShareBps / BPS : 0;
        if (toKeeper > p.maxKeeperReward) toKeeper = p.maxKeeperReward;
        // The slashed generator earns nothing from its own slash, neither itself nor through its reward address.
        if (msg.sender == generator || msg.sender == _registry.rewardAddressOf(generator)) toKeeper = 0;

        address[] memory recipients = new address[](3);
        uint256[] memory amounts = new uint256[](3);
        (recipients[0], amounts[0]) = (address(this), held);
        (recipients[1], amounts[1]) = (msg.sender, toKeeper);
        (recipients[2], amounts[2]) = (p.treasury, penalty - held - toKeeper);
        _penalise(askId, a, penalty, recipients, amounts, reopen);
        emit TaskSlashed(askId, generator, msg.sender, penalty, held, toKeeper, amounts[2], reopen);
    }

    /// @inheritdoc IProofMarketplace
    function withdraw(address to, uint256 amount) external {
        mapping(address => uint256) storage balances = _s().claimable;
        uint256 available = balances[msg.sender];
        if (amount > available) revert InsufficientBalance(msg.sender, amount, available);
        balances[msg.sender] = available - amount;
        emit Withdrawn(msg.sender, to, amount);
        _paymentToken.safeTransfer(to, amount);
    }

    /// @inheritdoc IProofMarketplace
    function invalidateNonces(uint256 word, uint256 mask) external {
        _s().usedNonces[msg.sender][word] |= mask;
        emit NoncesInvalidated(msg.sender, word, mask);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function setParams(Params calldata params_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setParams(params_);
    }

    /// @inheritdoc IProofMarketplace
    function pause() external {
        _setPaused(true);
    }

    /// @inheritdoc IProofMarketplace
    function unpause() external {
        _setPaused(false);
    }

    /// @inheritdoc IProofMarketplace
    function paused() external view returns (bool) {
        return _s().paused;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IProofMarketplace
    function marketOf(uint256 marketId) external view returns (Market memory) {
        return _s().markets[marketId];
    }

    /// @inheritdoc IProofMarketplace
    function askOf(uint256 askId) external view returns (Ask memory) {
        return _s().asks[askId];
    }

    /// @inheritdoc IProofMarketplace
    function askState(uint256 askId) external view returns (AskState) {
        Ask storage a = _s().asks[askId];
        AskState state = a.state;
        if (state == AskState.Created && block.timestamp > a.deadline) return AskState.Expired;
        return state;
    }

    /// @inheritdoc IProofMarketplace
    function claimable(address account) external view returns (uint256) {
        return _s().claimable[account];
    }

    /// @inheritdoc IProofMarketplace
    function params() external view returns (Params memory) {
        return _s().params;
    }

    /// @inheritdoc IProofMarketplace
    function marketCount() external view returns (uint256) {
        return _s().marketCount;
    }

    /// @inheritdoc IProofMarketplace
    function askCount() external view returns (uint256) {
        return _s().askCount;
    }

    /// @inheritdoc IProofMarketplace
    function nonceUsed(address signer, uint256 nonce) external view returns (bool) {
        return _s().usedNonces[signer][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IProofMarketplace
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IProofMarketplace
    function paymentToken() external view returns (address) {
        return address(_paymentToken);
    }

    /// @inheritdoc IProofMarketplace
    function generatorRegistry() external view returns (IGeneratorRegistry) {
        return _registry;
    }

    /// @inheritdoc IProofMarketplace
    function keyRegistry() external view returns (address) {
        return address(_keys);
    }

    /// @inheritdoc IProofMarketplace
    function verifierFactory() external view returns (address) {
        return address(_verifierFactory);
    }

    /// @inheritdoc IProofMarketplace
    function secretCommitmentOf(uint256 askId) external view returns (bytes32) {
        return _s().secretCommitments[askId];
    }

    /// @inheritdoc IProofMarketplace
    function heldCompensation(uint256 askId) external view returns (uint256) {
        return _s().heldCompensation[askId];
    }

    /// @inheritdoc IMarketView
    function marketExists(uint256 marketId) external view returns (bool) {
        return _s().markets[marketId].activationTime != 0;
    }

    /// @inheritdoc IMarketView
    function marketCreator(uint256 marketId) external view returns (address) {
        return _s().markets[marketId].creator;
    }

    /// @inheritdoc IMarketView
    function proverImageId(uint256 marketId) external view returns (bytes32) {
        return _s().markets[marketId].proverImageId;
    }

    /// @inheritdoc IMarketView
    function ivsImageId(uint256 marketId) external view returns (bytes32) {
        return _s().markets[marketId].ivsImageId;
    }

    /// @inheritdoc IMarketView
    function isProverImage(uint256 marketId, bytes32 imageId) external view returns (bool) {
        Storage storage $ = _s();
        bytes32 primary = $.markets[marketId].proverImageId;
        return primary != bytes32(0) && (imageId == primary || $.extraImages[marketId][imageId]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Validates, stores and announces a new ask; returns what the requester owes (reward and input fee).
    function _createAsk(AskRequest calldata request) internal returns (uint256 askId, uint256 due) {
        askId = _openAsk(request);
        Storage storage $ = _s();
        uint256 fee = $.feePerInputByte * (request.proverData.length + request.secret.length + request.acl.length);
        emit AskCreated(askId, request.marketId, msg.sender, request, fee);
        if (fee != 0) $.claimable[$.params.treasury] += fee;
        return (askId, request.reward + fee);
    }

    /// @dev Validates a new ask against its market and stores it.
    function _openAsk(AskRequest calldata r) internal returns (uint256 askId) {
        Storage storage $ = _s();
        uint256 marketId = r.marketId;
        Market storage m = $.markets[marketId];
        uint256 activationTime = m.activationTime;
        if (activationTime == 0) revert MarketNotFound(marketId);
        if (m.frozen || block.timestamp < activationTime) revert MarketNotActive(marketId, activationTime, m.frozen);
        uint256 reward = r.reward;
        if (reward == 0 || reward > type(uint96).max) revert InvalidReward(reward);
        uint256 deadline = r.deadline;
        if (deadline <= block.timestamp || deadline > type(uint40).max) {
            revert InvalidDeadline(deadline, block.timestamp);
        }
        if (r.refundAddress == address(0)) revert ZeroRefundAddress();
        if (r.proverData.length == 0) revert EmptyInputs();
        // Inputs no proof can satisfy (malformed for the circuit) never reach a generator: otherwise a requester
        // could post them, wait for the assigned generator to miss its deadline and farm the slash.
        _checkInputs(marketId, m.verifier, r.proverData);
        bool confidential = m.confidential;
        if (confidential != (r.secret.length != 0) || confidential != (r.acl.length != 0)) {
            revert SecretMismatch(marketId, confidential);
        }
        askId = ++$.askCount;
        if (confidential) $.secretCommitments[askId] = keccak256(bytes.concat(SECRET_COMMITMENT_DOMAIN, r.secret));
        Ask storage a = $.asks[askId];
        bytes32 inputsHash = keccak256(r.proverData);
        address refundAddress = r.refundAddress;
        uint256 preference = uint256(r.preference);
        // One SSTORE per slot, in the layout of `Ask` (members packed from the low-order bits):
        // slot 0 = refundAddress | reward << 160; slot 1 = inputsHash;
        // slot 2 = marketId | deadline << 32 | openedAt << 72 | state << 112 | preference << 120 (the task fields
        // above bit 128 start at zero). Ranges were checked above: marketId <= marketCount < 2^32 (it exists),
        // deadline < 2^40, reward < 2^96. `askOf` reads the record back through the struct (tested).
        uint256 created = uint256(AskState.Created);
        assembly ("memory-safe") {
            let slot := a.slot
            sstore(slot, or(refundAddress, shl(160, reward)))
            sstore(add(slot, 1), inputsHash)
            sstore(
                add(slot, 2),
                or(
                    or(marketId, shl(32, deadline)),
                    or(shl(72, timestamp()), or(shl(112, created), shl(120, preference)))
                )
            )
        }
    }

    /// @dev Checks the ask- and market-level rules, then lets the registry check and reserve the generator's
    /// compute and stake. Returns the first failing rule instead of reverting, so batches are not atomic.
    function _tryAssign(Assignment memory x, bool fallbackAssignment) internal returns (IGeneratorRegistry.SkipReason) {
        Ask storage a = _s().asks[x.askId];
        if (a.state != AskState.Created) return IGeneratorRegistry.SkipReason.AskNotOpen;
        uint256 deadline = a.deadline;
        if (block.timestamp > deadline) return IGeneratorRegistry.SkipReason.AskExpired;
        uint256 marketId = a.marketId;
        Market storage m = _s().markets[marketId];
        if (m.frozen) return IGeneratorRegistry.SkipReason.MarketNotActive;
        if (fallbackAssignment) {
            uint256 delay = m.fallbackDelay;
            // The protocol minimum applies to markets created before it was raised, too.
            uint256 minDelay = _s().params.minFallbackDelay;
            if (m.confidential || delay == 0 || block.timestamp < a.openedAt + (delay < minDelay ? minDelay : delay)) {
                return IGeneratorRegistry.SkipReason.FallbackNotOpen;
            }
        }
        // A view of the protocol's own EntityKeyRegistry; the loop is a batch the Matching Engine signed.
        // slither-disable-next-line calls-loop
        if (m.confidential && !_keys.hasGeneratorKey(marketId, x.generator)) {
            return IGeneratorRegistry.SkipReason.NoEnclaveKey;
        }
        return _reserve(a, m, x, fallbackAssignment);
    }

    /// @dev Reserves the generator's compute and stake in the registry and records the task. The quote must fit
    /// the ask (reward, deadline) and the terms the Matching Engine signed (maxPrice, maxProofTime), so a quote
    /// raised between matching and relaying does not apply.
    function _reserve(Ask storage a, Market storage m, Assignment memory x, bool fallbackAssignment)
        internal
        returns (IGeneratorRegistry.SkipReason reason)
    {
        {
            uint256 price;
            uint256 maxProofTime;
            uint256 compute;
            uint256 collateralPool;
            // _registry is the protocol's own GeneratorRegistry (immutable address); its marketplace functions only
            // update its own storage and the admin-added collateral pools', so no code runs during this call that
            // could re-enter. The loop around it is a batch the Matching Engine signed.
            // slither-disable-next-line calls-loop,reentrancy-events
            (reason, price, maxProofTime, compute, collateralPool) = _registry.tryAssign(
                x.generator,
                x.askId,
                a.marketId,
                _min(a.reward, x.maxPrice),
                _min(a.deadline, block.timestamp + _min(x.maxProofTime, type(uint64).max)),
                m.slashingPenalty,
                m.minStake
            );
            if (reason != IGeneratorRegistry.SkipReason.None) return reason;
            a.state = AskState.Assigned;
            a.taskDeadline = uint40(block.timestamp + maxProofTime);
            a.price = uint88(price);
            a.generator = x.generator;
            a.computePerProof = uint40(compute);
            // At most MAX_COLLATERAL_POOLS.
            a.collateralPool = uint8(collateralPool);
        }
        emit TaskAssigned(
            x.askId, a.marketId, x.generator, a.price, a.taskDeadline, a.computePerProof, fallbackAssignment, x.acl
        );
    }

    function _submitProof(uint256 askId, bytes calldata proverData, bytes calldata proof) internal {
        Ask storage a = _assignedBeforeDeadline(askId);
        bytes32 inputsHash = keccak256(proverData);
        if (inputsHash != a.inputsHash) revert InputsMismatch(askId, a.inputsHash, inputsHash);
        Storage storage $ = _s();
        Market storage m = $.markets[a.marketId];
        // Only a confidential market's asks have a commitment (the flag shares the slot `_complete` reads anyway).
        bytes32 secretCommitment = m.confidential ? $.secretCommitments[askId] : bytes32(0);
        // A reverting verifier counts as a rejection. Reverting (not returning false) on a bad proof also keeps
        // eth_estimateGas honest: a verifier starved of gas fails here instead of quietly returning false.
        try m.verifier.verifyAsk(proverData, proof, secretCommitment, a.generator) returns (bool ok) {
            if (!ok) revert InvalidProof(askId);
        } catch {
            revert InvalidProof(askId);
        }
        (address rewardAddress, uint256 price, uint256 refund) = _complete(askId, a, true);
        emit ProofSubmitted(askId, a.generator, rewardAddress, price, refund, proof);
    }

    /// @dev Marks an assigned task completed, releases the generator's compute and stake and credits the price
    /// to its reward address and the rest of the reward to the refund address. Compensation held for the ask goes
    /// to the requester only when a proof completed it (`proven`).
    function _complete(uint256 askId, Ask storage a, bool proven)
        internal
        returns (address rewardAddress, uint256 price, uint256 refund)
    {
        Storage storage $ = _s();
        a.state = AskState.Completed;
        uint256 marketId = a.marketId;
        // _registry is the protocol's own GeneratorRegistry (immutable address); its marketplace functions only update
        // its own storage and call nothing, so no code runs during this call that could re-enter.
        // slither-disable-next-line reentrancy-no-eth,reentrancy-events
        rewardAddress = _registry.completeTask(
            a.generator, askId, a.computePerProof, $.markets[marketId].slashingPenalty, a.collateralPool
        );
        price = a.price;
        refund = a.reward - price;
        if (price != 0) $.claimable[rewardAddress] += price;
        if (refund != 0) $.claimable[a.refundAddress] += refund;
        _settleHeld(askId, a, proven);
    }

    /// @dev Takes `lockedPenalty` from the assigned generator's stake to `recipients` (the first is this contract,
    /// for the requester's held share) and reopens or refunds the ask.
    function _penalise(
        uint256 askId,
        Ask storage a,
        uint256 lockedPenalty,
        address[] memory recipients,
        uint256[] memory amounts,
        bool reopen
    ) internal {
        uint256 held = amounts[0];
        if (held != 0) _s().heldCompensation[askId] += held;
        // _registry is the protocol's own GeneratorRegistry (immutable address); its marketplace functions only update
        // its own storage and call nothing, so no code runs during this call that could re-enter.
        // slither-disable-next-line reentrancy-no-eth,reentrancy-events
        _registry.slashTask(a.generator, askId, a.computePerProof, lockedPenalty, a.collateralPool, recipients, amounts);
        _reopenOrRefund(askId, a, reopen);
    }

    /// @dev Whether a failed task's ask goes back to Created: its deadline has not passed and it was re-opened
    /// fewer than {MAX_REOPENS} times.
    function _canReopen(Ask storage a) internal view returns (bool) {
        return block.timestamp < a.deadline && a.reopens < MAX_REOPENS;
    }

    /// @dev After a discard or slash: back to Created (it will be matched again) or refunded.
    function _reopenOrRefund(uint256 askId, Ask storage a, bool reopen) internal {
        a.generator = address(0);
        a.computePerProof = 0;
        a.taskDeadline = 0;
        a.price = 0;
        if (reopen) {
            a.state = AskState.Created;
            a.openedAt = uint40(block.timestamp);
            ++a.reopens;
        } else {
            _refund(askId, a, false);
        }
    }

    function _refund(uint256 askId, Ask storage a, bool cancelled) internal {
        a.state = AskState.Refunded;
        address refundAddress = a.refundAddress;
        uint256 amount = a.reward;
        _s().claimable[refundAddress] += amount;
        emit AskRefunded(askId, refundAddress, amount, cancelled);
        _settleHeld(askId, a, false);
    }

    /// @dev Pays out the slash and discard compensation held for the ask: to its refund address when a proof
    /// completed it, else to the treasury. Held only for asks that were re-opened, so settling an ask that never
    /// failed reads no extra slot. A requester thus never gains from an ask that no proof exists for.
    function _settleHeld(uint256 askId, Ask storage a, bool proven) internal {
        if (a.reopens == 0) return;
        Storage storage $ = _s();
        uint256 amount = $.heldCompensation[askId];
        if (amount == 0) return;
        delete $.heldCompensation[askId];
        address to = proven ? a.refundAddress : $.params.treasury;
        // _registry is the protocol's own GeneratorRegistry (immutable address); its marketplace functions only update
        // its own storage and call nothing, so no code runs during this call that could re-enter.
        // slither-disable-next-line reentrancy-no-eth,reentrancy-events
        _registry.transferPayout(to, amount);
        emit CompensationSettled(askId, to, amount, proven);
    }

    function _assignedBeforeDeadline(uint256 askId) internal view returns (Ask storage a) {
        a = _ask(askId);
        if (a.state != AskState.Assigned) revert InvalidAskState(askId, a.state);
        if (block.timestamp > a.taskDeadline) revert TaskDeadline(askId, a.taskDeadline, block.timestamp);
    }

    function _useNonce(address signer, uint256 nonce) internal {
        mapping(uint256 => uint256) storage used = _s().usedNonces[signer];
        uint256 bit = 1 << (nonce & 0xff);
        uint256 word = used[nonce >> 8];
        if (word & bit != 0) revert NonceUsed(nonce);
        used[nonce >> 8] = word | bit;
    }

    function _assignBatchDigest(Assignment[] calldata assignments, uint256 nonce, uint256 expiry)
        internal
        view
        returns (bytes32)
    {
        uint256 n = assignments.length;
        bytes32[] memory itemHashes = new bytes32[](n);
        for (uint256 i; i < n; ++i) {
            Assignment calldata x = assignments[i];
            itemHashes[i] = keccak256(
                abi.encode(ASSIGNMENT_TYPEHASH, x.askId, x.generator, x.maxPrice, x.maxProofTime, keccak256(x.acl))
            );
        }
        return _hashTypedData(
            keccak256(abi.encode(ASSIGN_BATCH_TYPEHASH, keccak256(abi.encodePacked(itemHashes)), nonce, expiry))
        );
    }

    function _invalidInputDigest(uint256 marketId, uint256 askId, bytes32 inputsHash) internal view returns (bytes32) {
        return _hashTypedData(keccak256(abi.encode(INVALID_INPUT_TYPEHASH, marketId, askId, inputsHash)));
    }

    /// @dev The EIP-712 domain is derived on the fly (name and version are constants; the verifying contract is
    /// the proxy, `address(this)` under delegatecall), so it needs no storage and follows a chain fork.
    function _domainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH,
                keccak256(bytes(DOMAIN_NAME)),
                keccak256(bytes(DOMAIN_VERSION)),
                block.chainid,
                address(this)
            )
        );
    }

    function _hashTypedData(bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_domainSeparator(), structHash);
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }

    /// @dev Reverts {InvalidInputs} with the verifier's own error (which rule failed) unless `verifyInputs` passes.
    function _checkInputs(uint256 marketId, IVerifier verifier, bytes calldata proverData) internal view {
        try verifier.verifyInputs{gas: VERIFY_INPUTS_GAS}(proverData) returns (bool ok) {
            if (!ok) revert InvalidInputs(marketId, "");
        } catch (bytes memory reason) {
            revert InvalidInputs(marketId, reason);
        }
    }

    function _setParams(Params calldata p) internal {
        if (
            p.treasury == address(0) || p.requesterShareBps + uint256(p.keeperShareBps) > BPS
                || p.discardPenaltyBps > BPS
        ) revert InvalidParams();
        Storage storage $ = _s();
        $.params = p;
        $.feePerInputByte = p.feePerInputByte;
        emit ParamsSet(p);
    }

    function _market(uint256 marketId) internal view returns (Market storage m) {
        m = _s().markets[marketId];
        if (m.activationTime == 0) revert MarketNotFound(marketId);
    }

    function _creatorMarket(uint256 marketId) internal view returns (Market storage m) {
        m = _market(marketId);
        if (msg.sender != m.creator) revert NotMarketCreator(marketId, msg.sender);
    }

    function _ask(uint256 askId) internal view returns (Ask storage a) {
        a = _s().asks[askId];
        if (a.state == AskState.None) revert AskNotFound(askId);
    }

    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    function _setPaused(bool paused_) private onlyRole(PAUSER_ROLE) {
        _s().paused = paused_;
        if (paused_) emit Paused(msg.sender);
        else emit Unpaused(msg.sender);
    }

    function _requireNotPaused() private view {
        if (_s().paused) revert EnforcedPause();
    }

    function _s() private pure returns (Storage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
