// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "../interfaces/ICollateralPool.sol";
import {IGeneratorRegistry} from "../interfaces/IGeneratorRegistry.sol";
import {IMarketView} from "../interfaces/IMarketView.sol";
import {NativeStaking} from "../staking/NativeStaking.sol";
import {AccessControlUpgradeable} from "@openzeppelin/contracts-upgradeable/access/AccessControlUpgradeable.sol";
import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title GeneratorRegistry
/// @notice Generators, their per-market quotes, their compute accounting across markets and their stake (the
/// native staking pool is a module of this contract, {NativeStaking}; external collateral pools such as restaked
/// stake are separate contracts it calls per task, {ICollateralPool}).
/// @dev Upgradeable (UUPS) with ERC-7201 storage. The staking token is an immutable of the implementation; the
/// market view is in storage because the marketplace proxy is deployed after the registry.
contract GeneratorRegistry is
    IGeneratorRegistry,
    NativeStaking,
    Initializable,
    UUPSUpgradeable,
    AccessControlUpgradeable
{
    /// @notice Role of the marketplace, which starts and ends tasks.
    bytes32 public constant MARKETPLACE_ROLE = keccak256("MARKETPLACE_ROLE");

    /// @inheritdoc IGeneratorRegistry
    uint256 public constant MAX_COLLATERAL_POOLS = 8;

    /// @notice Collateral pool id of the native pool.
    uint256 internal constant NATIVE_POOL = 0;

    /// @notice Emitted when the admin points the registry at the marketplace.
    event MarketViewSet(address indexed marketView);

    /// @custom:storage-location erc7201:kalypso.storage.GeneratorRegistry
    struct Storage {
        mapping(address generator => Generator) generators;
        mapping(uint256 marketId => mapping(address generator => Quote)) quotes;
        IMarketView marketView;
        ICollateralPool[] collateralPools;
    }

    // keccak256(abi.encode(uint256(keccak256("kalypso.storage.GeneratorRegistry")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0x97ce2fb05d82ef3fa4c8e23ff94fcf3e2dc8fd308976ba87caaf1c20a5ecfc00;

    /// @param stakingToken_ The staking token generators stake (e.g. POND).
    constructor(IERC20 stakingToken_) NativeStaking(stakingToken_) {
        _disableInitializers();
    }

    /// @notice Initialises the proxy.
    /// @param admin Receives DEFAULT_ADMIN_ROLE.
    /// @param marketView_ The marketplace (may be zero and set later with {setMarketView}).
    /// @param withdrawalDelay_ Seconds between an unstake request and the withdrawal.
    function initialize(address admin, IMarketView marketView_, uint256 withdrawalDelay_) external initializer {
        __AccessControl_init();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _s().marketView = marketView_;
        emit MarketViewSet(address(marketView_));
        _setWithdrawalDelay(withdrawalDelay_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Generators
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IGeneratorRegistry
    function register(address rewardAddress, uint256 declaredCompute, bytes calldata metadata) external {
        Generator storage g = _s().generators[msg.sender];
        if (g.rewardAddress != address(0)) revert AlreadyRegistered(msg.sender);
        if (rewardAddress == address(0)) revert ZeroRewardAddress();
        if (declaredCompute == 0 || declaredCompute > type(uint40).max) revert InvalidCompute(0, declaredCompute);
        g.rewardAddress = rewardAddress;
        g.declaredCompute = uint40(declaredCompute);
        emit GeneratorRegistered(msg.sender, rewardAddress, declaredCompute, metadata);
    }

    /// @inheritdoc IGeneratorRegistry
    function updateRewardAddress(address rewardAddress) external {
        Generator storage g = _registered(msg.sender);
        if (rewardAddress == address(0)) revert ZeroRewardAddress();
        g.rewardAddress = rewardAddress;
        emit RewardAddressUpdated(msg.sender, rewardAddress);
    }

    /// @inheritdoc IGeneratorRegistry
    function updateDeclaredCompute(uint256 declaredCompute) external {
        Generator storage g = _registered(msg.sender);
        if (declaredCompute == 0 || declaredCompute > type(uint40).max) revert InvalidCompute(0, declaredCompute);
        if (declaredCompute < g.consumedCompute) revert ComputeInUse(declaredCompute, g.consumedCompute);
        g.declaredCompute = uint40(declaredCompute);
        emit DeclaredComputeUpdated(msg.sender, declaredCompute);
    }

    /// @inheritdoc IGeneratorRegistry
    function deregister() external {
        Generator storage g = _registered(msg.sender);
        if (g.marketsJoined != 0) revert StillInMarkets(msg.sender, g.marketsJoined);
        if (g.consumedCompute != 0) revert TasksInFlight(msg.sender, g.consumedCompute);
        delete _s().generators[msg.sender];
        emit GeneratorDeregistered(msg.sender);
    }

    /// @inheritdoc IGeneratorRegistry
    function joinMarket(uint256 marketId, uint256 computePerProof, uint256 pricePerProof, uint256 maxProofTime)
        external
    {
        Generator storage g = _registered(msg.sender);
        IMarketView view_ = _s().marketView;
        if (address(view_) == address(0) || !view_.marketExists(marketId)) revert MarketNotFound(marketId);
        Quote storage q = _s().quotes[marketId][msg.sender];
        if (q.maxProofTime != 0) revert AlreadyJoined(msg.sender, marketId);
        _checkQuote(g, computePerProof, pricePerProof, maxProofTime);
        _s().quotes[marketId][msg.sender] = Quote(uint88(pricePerProof), uint32(maxProofTime), uint40(computePerProof));
        ++g.marketsJoined;
        emit MarketJoined(msg.sender, marketId, computePerProof, pricePerProof, maxProofTime);
    }

    /// @inheritdoc IGeneratorRegistry
    function updateQuote(uint256 marketId, uint256 computePerProof, uint256 pricePerProof, uint256 maxProofTime)
        external
    {
        Generator storage g = _registered(msg.sender);
        Quote storage q = _s().quotes[marketId][msg.sender];
        if (q.maxProofTime == 0) revert NotInMarket(msg.sender, marketId);
        _checkQuote(g, computePerProof, pricePerProof, maxProofTime);
        _s().quotes[marketId][msg.sender] = Quote(uint88(pricePerProof), uint32(maxProofTime), uint40(computePerProof));
        emit QuoteUpdated(msg.sender, marketId, computePerProof, pricePerProof, maxProofTime);
    }

    /// @inheritdoc IGeneratorRegistry
    function leaveMarket(uint256 marketId) external {
        Generator storage g = _registered(msg.sender);
        if (_s().quotes[marketId][msg.sender].maxProofTime == 0) revert NotInMarket(msg.sender, marketId);
        delete _s().quotes[marketId][msg.sender];
        --g.marketsJoined;
        emit MarketLeft(msg.sender, marketId);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Marketplace
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IGeneratorRegistry
    function tryAssign(
        address generator,
        uint256 taskId,
        uint256 marketId,
        uint256 reward,
        uint256 deadline,
        uint256 penalty,
        uint256 minStake
    )
        external
        onlyRole(MARKETPLACE_ROLE)
        returns (
            SkipReason reason,
            uint256 price,
            uint256 maxProofTime,
            uint256 computePerProof,
            uint256 collateralPool
        )
    {
        Quote memory quote = _s().quotes[marketId][generator];
        reason = _quoteFits(quote, reward, deadline);
        if (reason != SkipReason.None) return (reason, 0, 0, 0, 0);
        (reason, collateralPool) =
            _reserve(generator, taskId, quote.computePerProof, penalty, minStake, block.timestamp + quote.maxProofTime);
        if (reason != SkipReason.None) return (reason, 0, 0, 0, 0);
        return (SkipReason.None, quote.pricePerProof, quote.maxProofTime, quote.computePerProof, collateralPool);
    }

    /// @inheritdoc IGeneratorRegistry
    function completeTask(
        address generator,
        uint256 taskId,
        uint256 computePerProof,
        uint256 penalty,
        uint256 collateralPool
    ) external onlyRole(MARKETPLACE_ROLE) returns (address rewardAddress) {
        rewardAddress = _endTask(generator, computePerProof);
        if (collateralPool == NATIVE_POOL) {
            _release(generator, penalty);
        } else {
            // A pool the admin added; it only updates its own storage.
            // slither-disable-next-line reentrancy-events
            _collateralPool(collateralPool).release(generator, taskId);
        }
    }

    /// @inheritdoc IGeneratorRegistry
    function slashTask(
        address generator,
        uint256 taskId,
        uint256 computePerProof,
        uint256 penalty,
        uint256 collateralPool,
        address[] calldata recipients,
        uint256[] calldata amounts
    ) external onlyRole(MARKETPLACE_ROLE) {
        _endTask(generator, computePerProof);
        if (collateralPool == NATIVE_POOL) {
            _slash(generator, penalty, recipients, amounts);
        } else {
            // Locals start at zero in Solidity; the sum starts there on purpose.
            // slither-disable-next-line uninitialized-local
            uint256 total;
            for (uint256 i; i < amounts.length; ++i) {
                total += amounts[i];
            }
            _collateralPool(collateralPool).slash(generator, taskId, total);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IGeneratorRegistry
    function addCollateralPool(ICollateralPool pool) external onlyRole(DEFAULT_ADMIN_ROLE) {
        ICollateralPool[] storage pools = _s().collateralPools;
        if (pools.length == MAX_COLLATERAL_POOLS) revert TooManyCollateralPools(MAX_COLLATERAL_POOLS);
        if (pool.registry() != address(this)) revert InvalidCollateralPool(address(pool));
        for (uint256 i; i < pools.length; ++i) {
            if (pools[i] == pool) revert InvalidCollateralPool(address(pool));
        }
        pools.push(pool);
        emit CollateralPoolAdded(pools.length, address(pool));
    }

    /// @notice Points the registry at the marketplace (used to check that joined markets exist).
    function setMarketView(IMarketView marketView_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _s().marketView = marketView_;
        emit MarketViewSet(address(marketView_));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IGeneratorRegistry
    function generatorOf(address generator) external view returns (Generator memory) {
        return _s().generators[generator];
    }

    /// @inheritdoc IGeneratorRegistry
    function rewardAddressOf(address generator) external view returns (address) {
        return _s().generators[generator].rewardAddress;
    }

    /// @inheritdoc IGeneratorRegistry
    function quoteOf(uint256 marketId, address generator) external view returns (Quote memory) {
        return _s().quotes[marketId][generator];
    }

    /// @inheritdoc IGeneratorRegistry
    function collateralPools() external view returns (ICollateralPool[] memory) {
        return _s().collateralPools;
    }

    /// @notice The marketplace the registry checks markets against.
    function marketView() external view returns (IMarketView) {
        return _s().marketView;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    function _endTask(address generator, uint256 computePerProof) internal returns (address rewardAddress) {
        Generator storage g = _s().generators[generator];
        // The marketplace only ends tasks it started through tryAssign, which consumed exactly this compute, so
        // this cannot underflow.
        g.consumedCompute -= uint40(computePerProof);
        return g.rewardAddress;
    }

    /// @dev The quote-level rules: joined, cheap enough, fast enough.
    function _quoteFits(Quote memory quote, uint256 reward, uint256 deadline) internal view returns (SkipReason) {
        if (quote.maxProofTime == 0) return SkipReason.NotJoined;
        if (quote.pricePerProof > reward) return SkipReason.PriceAboveReward;
        if (block.timestamp + quote.maxProofTime > deadline) return SkipReason.DeadlineTooSoon;
        return SkipReason.None;
    }

    /// @dev The capacity rules: free compute, then free and minimum stake in one collateral pool (locked on
    /// success): native first, then the external pools in order.
    function _reserve(
        address generator,
        uint256 taskId,
        uint256 computePerProof,
        uint256 penalty,
        uint256 minStake,
        uint256 taskDeadline
    ) internal returns (SkipReason reason, uint256 collateralPool) {
        Generator storage g = _s().generators[generator];
        uint256 consumed = g.consumedCompute + computePerProof;
        if (consumed > g.declaredCompute) return (SkipReason.InsufficientCompute, 0);
        LockResult lock = _tryLock(generator, penalty, minStake);
        if (lock != LockResult.Locked) {
            reason = lock == LockResult.BelowMinStake ? SkipReason.BelowMinStake : SkipReason.InsufficientStake;
            (reason, collateralPool) = _tryCollateralPools(generator, taskId, penalty, minStake, taskDeadline, reason);
            if (reason != SkipReason.None) return (reason, 0);
        }
        // consumed <= declaredCompute < 2^40.
        g.consumedCompute = uint40(consumed);
        return (SkipReason.None, collateralPool);
    }

    /// @dev Locks `penalty` in the first external pool that covers it. When none does, the native pool's reason
    /// stands unless the generator is below the native minimum: then the last pool's reason says more.
    function _tryCollateralPools(
        address generator,
        uint256 taskId,
        uint256 penalty,
        uint256 minStake,
        uint256 taskDeadline,
        SkipReason nativeReason
    ) internal returns (SkipReason reason, uint256 collateralPool) {
        reason = nativeReason;
        ICollateralPool[] storage pools = _s().collateralPools;
        uint256 n = pools.length;
        for (uint256 i; i < n; ++i) {
            // Pools the admin added; each only updates its own storage. The loop is bounded by MAX_COLLATERAL_POOLS.
            // slither-disable-next-line calls-loop
            ICollateralPool.LockResult lock = pools[i].tryLock(generator, taskId, penalty, minStake, taskDeadline);
            // An enum compared with one of its own values, not a balance.
            // slither-disable-next-line incorrect-equality
            if (lock == ICollateralPool.LockResult.Locked) return (SkipReason.None, i + 1);
            if (nativeReason == SkipReason.BelowMinStake) reason = _poolReason(lock);
        }
    }

    function _poolReason(ICollateralPool.LockResult lock) internal pure returns (SkipReason) {
        // Indexed by LockResult: Locked, InsufficientFreeStake, BelowMinStake, Stale, BeyondSlashWindow, BelowMinLock.
        SkipReason[6] memory reasons = [
            SkipReason.None,
            SkipReason.InsufficientStake,
            SkipReason.BelowMinStake,
            SkipReason.CollateralStale,
            SkipReason.BeyondSlashWindow,
            SkipReason.PenaltyBelowMinLock
        ];
        return reasons[uint8(lock)];
    }

    function _collateralPool(uint256 id) internal view returns (ICollateralPool) {
        return _s().collateralPools[id - 1];
    }

    function _checkQuote(Generator storage g, uint256 computePerProof, uint256 pricePerProof, uint256 maxProofTime)
        internal
        view
    {
        if (computePerProof == 0 || computePerProof > g.declaredCompute) {
            revert InvalidCompute(computePerProof, g.declaredCompute);
        }
        if (maxProofTime == 0 || maxProofTime > type(uint32).max) revert InvalidMaxProofTime(maxProofTime);
        if (pricePerProof > type(uint88).max) revert PriceTooLarge(pricePerProof);
    }

    function _registered(address generator) internal view returns (Generator storage g) {
        g = _s().generators[generator];
        if (g.rewardAddress == address(0)) revert NotRegistered(generator);
    }

    function _checkStakingAdmin() internal view override {
        _checkRole(DEFAULT_ADMIN_ROLE);
    }

    function _authorizeUpgrade(address) internal override onlyRole(DEFAULT_ADMIN_ROLE) {}

    function _s() private pure returns (Storage storage $) {
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
