// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ICollateralPool} from "./ICollateralPool.sol";
import {IStakingPool} from "./IStakingPool.sol";

/// @title IGeneratorRegistry
/// @notice Generators, their quotes per market, the compute each has committed across all markets, and (as its
/// native staking pool, {IStakingPool}) the stake behind their deadline commitments.
/// @dev A generator declares its total compute once; each market it joins states how much one proof takes
/// (`computePerProof`). An assigned task consumes that share until the task settles, so capacity used in one
/// market removes the generator from every market where it no longer fits. The marketplace (MARKETPLACE_ROLE)
/// drives the per-task accounting; the registry never decides on its own when a task starts or ends.
///
/// A task's penalty is covered by exactly one collateral pool, in full: the native pool (id 0) when the
/// generator's native stake meets the market's minimum and its free native stake covers the penalty, otherwise the
/// first of the registry's external collateral pools ({ICollateralPool}, ids 1, 2, … in the order they were
/// added) whose own stake for the generator meets the minimum and covers the penalty. Stake in different pools is
/// never added up.
interface IGeneratorRegistry is IStakingPool {
    /// @notice A registered generator. `rewardAddress == 0` means not registered.
    struct Generator {
        address rewardAddress;
        uint40 declaredCompute;
        uint40 consumedCompute;
        uint16 marketsJoined;
    }

    /// @notice A generator's quote in one market. A quote exists while `maxProofTime != 0`.
    /// @param pricePerProof Price in payment-token units the generator charges per proof.
    /// @param maxProofTime Seconds within which the generator commits to deliver a proof after assignment.
    /// @param computePerProof Share of the generator's declared compute one proof of this market occupies.
    struct Quote {
        uint88 pricePerProof;
        uint32 maxProofTime;
        uint40 computePerProof;
    }

    /// @notice Why an assignment was not made. Shared with the marketplace's `AssignmentSkipped` event and
    /// mirrored by the off-chain matching engine's eligibility predicates. Numbered like
    /// `kalypso_primitives::SkipReason` (Rust): keep the two in the same order.
    enum SkipReason {
        None,
        AskNotOpen,
        AskExpired,
        MarketNotActive,
        NotJoined,
        PriceAboveReward,
        DeadlineTooSoon,
        InsufficientCompute,
        InsufficientStake,
        BelowMinStake,
        NoEnclaveKey,
        FallbackNotOpen,
        /// Only a collateral pool could cover the task, and its stake view is stale.
        CollateralStale,
        /// Only a collateral pool could cover the task, and the task is due after the pool's slashing window.
        BeyondSlashWindow,
        /// Only a collateral pool could cover the task, and the penalty is below the smallest it locks.
        PenaltyBelowMinLock
    }

    /// @notice The caller is already registered.
    error AlreadyRegistered(address generator);
    /// @notice The generator is not registered.
    error NotRegistered(address generator);
    /// @notice A zero reward address was given.
    error ZeroRewardAddress();
    /// @notice Compute values must be positive and fit the declared compute.
    error InvalidCompute(uint256 computePerProof, uint256 declaredCompute);
    /// @notice The declared compute cannot drop below what active tasks consume.
    error ComputeInUse(uint256 requested, uint256 consumed);
    /// @notice `maxProofTime` must be positive and fit 32 bits.
    error InvalidMaxProofTime(uint256 maxProofTime);
    /// @notice The price does not fit 88 bits.
    error PriceTooLarge(uint256 pricePerProof);
    /// @notice The generator still belongs to `marketsJoined` markets.
    error StillInMarkets(address generator, uint256 marketsJoined);
    /// @notice The generator still has tasks in flight holding `consumedCompute`.
    error TasksInFlight(address generator, uint256 consumedCompute);
    /// @notice The market does not exist.
    error MarketNotFound(uint256 marketId);
    /// @notice The generator already joined the market.
    error AlreadyJoined(address generator, uint256 marketId);
    /// @notice The generator is not in the market.
    error NotInMarket(address generator, uint256 marketId);
    /// @notice The pool does not name this registry as its registry, or is already added.
    error InvalidCollateralPool(address pool);
    /// @notice The registry holds at most {MAX_COLLATERAL_POOLS} external pools.
    error TooManyCollateralPools(uint256 max);

    /// @notice A generator registered.
    event GeneratorRegistered(
        address indexed generator, address indexed rewardAddress, uint256 declaredCompute, bytes metadata
    );
    /// @notice A generator changed its reward address.
    event RewardAddressUpdated(address indexed generator, address indexed rewardAddress);
    /// @notice A generator changed its declared compute.
    event DeclaredComputeUpdated(address indexed generator, uint256 declaredCompute);
    /// @notice A generator deregistered.
    event GeneratorDeregistered(address indexed generator);
    /// @notice A generator joined a market with a quote.
    event MarketJoined(
        address indexed generator,
        uint256 indexed marketId,
        uint256 computePerProof,
        uint256 pricePerProof,
        uint256 maxProofTime
    );
    /// @notice A generator changed its quote in a market.
    event QuoteUpdated(
        address indexed generator,
        uint256 indexed marketId,
        uint256 computePerProof,
        uint256 pricePerProof,
        uint256 maxProofTime
    );
    /// @notice A generator left a market.
    event MarketLeft(address indexed generator, uint256 indexed marketId);
    /// @notice An external collateral pool was added with id `poolId`.
    event CollateralPoolAdded(uint256 indexed poolId, address indexed pool);

    // --- generators ---

    /// @notice Registers the caller as a generator.
    function register(address rewardAddress, uint256 declaredCompute, bytes calldata metadata) external;

    /// @notice Changes the caller's reward address.
    function updateRewardAddress(address rewardAddress) external;

    /// @notice Changes the caller's declared compute (not below what active tasks consume).
    function updateDeclaredCompute(uint256 declaredCompute) external;

    /// @notice Removes the caller's registration; it must have left every market and settled every task.
    function deregister() external;

    /// @notice Joins `marketId` with a quote.
    function joinMarket(uint256 marketId, uint256 computePerProof, uint256 pricePerProof, uint256 maxProofTime) external;

    /// @notice Changes the caller's quote in `marketId` without leaving it. Active tasks keep the terms they
    /// were assigned with.
    function updateQuote(uint256 marketId, uint256 computePerProof, uint256 pricePerProof, uint256 maxProofTime)
        external;

    /// @notice Leaves `marketId` at once: no new tasks are assigned. Tasks already assigned stay binding (they are
    /// proven, discarded or slashed on the terms they were assigned with).
    function leaveMarket(uint256 marketId) external;

    // --- marketplace ---

    /// @notice Checks every per-generator eligibility rule for task `taskId` and, if all pass, consumes compute and
    /// locks `penalty` in one collateral pool (see the contract's rule). Never reverts for an ineligible generator:
    /// returns the reason instead.
    /// @return reason `SkipReason.None` when assigned.
    /// @return price The generator's price per proof.
    /// @return maxProofTime The generator's committed proving time.
    /// @return computePerProof The compute the task consumes (to be handed back on settlement).
    /// @return collateralPool The pool that locked the penalty (0: native).
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
        returns (
            SkipReason reason,
            uint256 price,
            uint256 maxProofTime,
            uint256 computePerProof,
            uint256 collateralPool
        );

    /// @notice Ends task `taskId` well (proof or invalid-input attestation): frees compute and the locked penalty.
    /// @return rewardAddress Where the generator is paid.
    function completeTask(
        address generator,
        uint256 taskId,
        uint256 computePerProof,
        uint256 penalty,
        uint256 collateralPool
    ) external returns (address rewardAddress);

    /// @notice Ends task `taskId` badly (discard or missed deadline): frees compute and the lock, and takes
    /// `amounts` of the locked penalty from the generator's collateral. Native stake is credited to `recipients`'
    /// payout balances; restaked collateral is slashed on its own chain (the sum of `amounts`), so the marketplace
    /// passes zero amounts for everyone but the treasury slot there.
    function slashTask(
        address generator,
        uint256 taskId,
        uint256 computePerProof,
        uint256 penalty,
        uint256 collateralPool,
        address[] calldata recipients,
        uint256[] calldata amounts
    ) external;

    // --- admin ---

    /// @notice Adds an external collateral pool (admin); it gets the next id. Pools cannot be removed (tasks in
    /// flight refer to them by id); a pool stops locking by its own rules.
    function addCollateralPool(ICollateralPool pool) external;

    /// @notice The external collateral pools; pool `i` has id `i + 1`.
    function collateralPools() external view returns (ICollateralPool[] memory);

    /// @notice The most external collateral pools the registry holds.
    function MAX_COLLATERAL_POOLS() external view returns (uint256);

    // --- views ---

    /// @notice `generator`'s registration.
    function generatorOf(address generator) external view returns (Generator memory);

    /// @notice Where `generator`'s earnings go (zero when not registered).
    function rewardAddressOf(address generator) external view returns (address);

    /// @notice `generator`'s quote in `marketId`.
    function quoteOf(uint256 marketId, address generator) external view returns (Quote memory);
}
