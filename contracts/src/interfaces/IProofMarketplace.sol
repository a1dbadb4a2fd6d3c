// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IGeneratorRegistry} from "./IGeneratorRegistry.sol";
import {IMarketView} from "./IMarketView.sol";
import {IVerifier} from "./IVerifier.sol";

/// @title IProofMarketplace
/// @notice Markets (one per circuit or zkVM program), asks (proof requests with escrowed rewards), their
/// assignment to generators by the Matching Engine, and settlement: proof, invalid-input attestation, discard,
/// slash, refund.
/// @dev Payouts are credited to `claimable` balances and withdrawn with {withdraw} (pull payments: a token that
/// blocks one recipient cannot block settlement). Slashed stake is credited in the staking token to payout
/// balances of the generator registry (its native staking pool), withdrawn with `withdrawPayout`.
interface IProofMarketplace is IMarketView {
    // ---------------------------------------------------------------------------------------------------------
    // Types
    // ---------------------------------------------------------------------------------------------------------

    /// @notice What the requester optimises for when several generators can meet an ask.
    enum Preference {
        Cost,
        Time
    }

    /// @notice Lifecycle of an ask. `Expired` is never stored: {askState} reports it for an open ask past its
    /// deadline (refundable).
    enum AskState {
        None,
        Created,
        Assigned,
        Completed,
        Refunded,
        Expired
    }

    /// @notice A market. Packed: slot 0 is everything the assignment hot path reads.
    /// @param slashingPenalty Staking-token amount locked per task and slashed on a missed deadline.
    /// @param minStake Total stake a generator needs to be assigned tasks of this market.
    /// @param activationTime When asks can first be created.
    /// @param frozen Set by the creator: no new asks or assignments; open tasks still settle.
    /// @param confidential Whether the market takes secret inputs (it has a prover enclave image).
    /// @param verifier The proof check.
    /// @param fallbackDelay Seconds an ask must stay unassigned before an eligible generator may take it
    ///        itself; zero disables the fallback.
    struct Market {
        uint96 slashingPenalty;
        uint96 minStake;
        uint40 activationTime;
        bool frozen;
        bool confidential;
        IVerifier verifier;
        uint32 fallbackDelay;
        address creator;
        bytes32 proverImageId;
        bytes32 ivsImageId;
    }

    /// @notice An ask and, once assigned, its task. Packed into four slots; the inputs themselves live in
    /// calldata and the `AskCreated` event, storage keeps their hash.
    /// @param refundAddress Receives the unspent reward, refunds and slashing compensation.
    /// @param reward Maximum price the requester pays (escrowed).
    /// @param inputsHash keccak256 of the prover data.
    /// @param marketId The market.
    /// @param deadline Time by which the proof must be on-chain.
    /// @param openedAt When the ask was created or last re-opened (start of the fallback delay).
    /// @param state Stored lifecycle state.
    /// @param preference Cost or time.
    /// @param taskDeadline Generator's committed deadline (assignment time + its maxProofTime).
    /// @param price Generator's price, paid on completion.
    /// @param generator Assigned generator.
    /// @param computePerProof Compute the task holds in the registry.
    /// @param reopens How often a failed task (slash, discard) re-opened the ask; at most {MAX_REOPENS}.
    /// @param collateralPool The registry's collateral pool that locked the task's penalty (0: native stake).
    struct Ask {
        address refundAddress;
        uint96 reward;
        bytes32 inputsHash;
        uint32 marketId;
        uint40 deadline;
        uint40 openedAt;
        AskState state;
        Preference preference;
        uint40 taskDeadline;
        uint88 price;
        address generator;
        uint40 computePerProof;
        uint8 reopens;
        uint8 collateralPool;
    }

    /// @notice A new ask, as given to {createAsk} and emitted in `AskCreated`.
    /// @param marketId The market.
    /// @param reward Maximum price the requester pays (escrowed).
    /// @param deadline Time by which the proof must be on-chain.
    /// @param preference Cost or time.
    /// @param refundAddress Receives the unspent reward, refunds and slashing compensation.
    /// @param proverData The inputs (public statement plus any non-secret witness data).
    /// @param secret Encrypted secret inputs (confidential markets only).
    /// @param acl The secret's key wrapped to the Matching Engine's key (confidential markets only).
    struct AskRequest {
        uint256 marketId;
        uint256 reward;
        uint256 deadline;
        Preference preference;
        address refundAddress;
        bytes proverData;
        bytes secret;
        bytes acl;
    }

    /// @notice One assignment of the Matching Engine: `askId` to `generator`, valid only while the generator's
    /// quote is within the terms the engine matched on (so a quote raised after matching does not apply).
    /// @param askId The ask.
    /// @param generator The generator.
    /// @param maxPrice The highest price the ask may be assigned at (the quote the engine saw).
    /// @param maxProofTime The longest committed proving time the ask may be assigned with.
    /// @param acl The secret's key re-wrapped to the generator's enclave key (confidential markets; else empty).
    struct Assignment {
        uint256 askId;
        address generator;
        uint256 maxPrice;
        uint256 maxProofTime;
        bytes acl;
    }

    /// @notice Protocol parameters (admin).
    /// @param treasury Receives market creation fees, input fees and the treasury share of slashes.
    /// @param marketCreationCost Payment-token fee to create a market.
    /// @param feePerInputByte Payment-token fee per byte of prover data and secret, on top of the reward.
    /// @param activationDelay Seconds between market creation and its first ask.
    /// @param requesterShareBps Share of a slash or discard penalty held for the requester as compensation, paid
    ///        when a proof completes the ask (to the treasury when the ask ends without a proof).
    /// @param keeperShareBps Share of a slashed penalty paid to whoever called {slash}, capped by
    ///        `maxKeeperReward`.
    /// @param discardPenaltyBps Share of the slashing penalty a voluntary discard costs.
    /// @param maxKeeperReward Cap on the keeper's share.
    /// @param minFallbackDelay Shortest fallback delay a market may have (seconds), so generators cannot
    ///        self-assign ahead of the Matching Engine; applies to existing markets too.
    struct Params {
        address treasury;
        uint96 marketCreationCost;
        uint64 feePerInputByte;
        uint32 activationDelay;
        uint16 requesterShareBps;
        uint16 keeperShareBps;
        uint16 discardPenaltyBps;
        uint96 maxKeeperReward;
        uint16 minFallbackDelay;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The market does not exist.
    error MarketNotFound(uint256 marketId);
    /// @notice The market is frozen or not yet active (`activationTime`).
    error MarketNotActive(uint256 marketId, uint256 activationTime, bool frozen);
    /// @notice Only the market's creator (or an admin) may do this.
    error NotMarketCreator(uint256 marketId, address caller);
    /// @notice A market parameter is out of range: the verifier has no code, the penalty is zero, the minimum
    /// stake is below the penalty or above 2^96, or the fallback delay above 2^32 or non-zero and below the
    /// protocol's `minFallbackDelay`.
    error InvalidMarketParams(address verifier, uint256 slashingPenalty, uint256 minStake, uint256 fallbackDelay);
    /// @notice The image is already in the market's list / not in it / is the primary image.
    error ImageUnchanged(uint256 marketId, bytes32 imageId);
    /// @notice The ask does not exist.
    error AskNotFound(uint256 askId);
    /// @notice The reward is zero or does not fit 96 bits.
    error InvalidReward(uint256 reward);
    /// @notice The deadline is not in the future (or does not fit 40 bits).
    error InvalidDeadline(uint256 deadline, uint256 now_);
    /// @notice The prover data is empty.
    error EmptyInputs();
    /// @notice The market's verifier rejects the inputs' format (`verifyInputs`); no proof could satisfy them.
    /// `reason` is the verifier's own revert data saying which rule failed (e.g. `InputsTooShort`,
    /// `InputNotInField` of a Groth16 verifier), empty when it just returned false.
    error InvalidInputs(uint256 marketId, bytes reason);
    /// @notice The verifier was not deployed by the protocol's verifier factory, so its code could change.
    error VerifierNotAllowed(address verifier);
    /// @notice The refund address is zero.
    error ZeroRefundAddress();
    /// @notice A confidential market needs a secret and its ACL; a public market takes neither.
    error SecretMismatch(uint256 marketId, bool confidential);
    /// @notice The ask is not in the state this call needs.
    error InvalidAskState(uint256 askId, AskState state);
    /// @notice The caller is not the ask's refund address.
    error NotRequester(uint256 askId, address caller);
    /// @notice The ask's deadline has not passed yet.
    error AskNotExpired(uint256 askId, uint256 deadline);
    /// @notice The ask could not be assigned to `generator`. `PriceAboveReward` and `DeadlineTooSoon` also cover a
    /// quote above the assignment's signed `maxPrice` / `maxProofTime`.
    error AskNotAssignable(uint256 askId, address generator, IGeneratorRegistry.SkipReason reason);
    /// @notice The caller is not the Matching Engine.
    error NotMatchingEngine(address caller);
    /// @notice The batch signature is not the Matching Engine's.
    error InvalidBatchSignature(address signer);
    /// @notice The batch nonce was already used.
    error NonceUsed(uint256 nonce);
    /// @notice The batch expired.
    error BatchExpired(uint256 expiry, uint256 now_);
    /// @notice The caller is not the generator assigned to the task.
    error NotAssignedGenerator(uint256 askId, address caller);
    /// @notice The task's deadline has passed (submit/discard) or not yet passed (slash).
    error TaskDeadline(uint256 askId, uint256 taskDeadline, uint256 now_);
    /// @notice The prover data does not hash to the ask's `inputsHash`.
    error InputsMismatch(uint256 askId, bytes32 expected, bytes32 actual);
    /// @notice The verifier rejected the proof (or reverted).
    error InvalidProof(uint256 askId);
    /// @notice The invalid-input attestation is not signed by an IVS key of the market.
    error InvalidAttestation(uint256 askId, address signer);
    /// @notice More than the claimable balance was requested.
    error InsufficientBalance(address account, uint256 requested, uint256 available);
    /// @notice The marketplace is paused: no new markets, asks or assignments.
    error EnforcedPause();
    /// @notice A basis-point parameter is above 10 000, or shares exceed the whole.
    error InvalidParams();

    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A market was created. `metadata` is the creator's description (name, circuit, prover artifact,
    /// input format); only its hash is stored.
    event MarketCreated(
        uint256 indexed marketId,
        address indexed creator,
        address indexed verifier,
        bytes32 proverImageId,
        bytes32 ivsImageId,
        uint256 slashingPenalty,
        uint256 minStake,
        uint256 activationTime,
        uint256 fallbackDelay,
        bytes metadata
    );
    /// @notice The market was frozen or unfrozen.
    event MarketFrozen(uint256 indexed marketId, bool frozen);
    /// @notice An extra prover enclave image was allowed in the market.
    event ExtraImageAdded(uint256 indexed marketId, bytes32 indexed imageId);
    /// @notice An extra prover enclave image was removed from the market.
    event ExtraImageRemoved(uint256 indexed marketId, bytes32 indexed imageId);
    /// @notice An ask was created. Carries the whole request, inputs included, so nobody needs storage to
    /// prove it; `fee` is the input fee paid on top of the reward.
    event AskCreated(
        uint256 indexed askId, uint256 indexed marketId, address indexed requester, AskRequest request, uint256 fee
    );
    /// @notice An ask was assigned; the generator must submit by `taskDeadline`. `acl` is the secret's key
    /// re-wrapped to the generator's enclave key (confidential markets).
    event TaskAssigned(
        uint256 indexed askId,
        uint256 indexed marketId,
        address indexed generator,
        uint256 price,
        uint256 taskDeadline,
        uint256 computePerProof,
        bool fallbackAssignment,
        bytes acl
    );
    /// @notice An item of an assignment batch was skipped.
    event AssignmentSkipped(uint256 indexed askId, address indexed generator, IGeneratorRegistry.SkipReason reason);
    /// @notice A proof was accepted: the generator's reward address is credited `price`, the refund address
    /// `refund`.
    event ProofSubmitted(
        uint256 indexed askId,
        address indexed generator,
        address rewardAddress,
        uint256 price,
        uint256 refund,
        bytes proof
    );
    /// @notice The ask's inputs were attested invalid by `signer` (an IVS key); settled like a proof.
    event InvalidInputsSettled(
        uint256 indexed askId,
        address indexed generator,
        address indexed signer,
        address rewardAddress,
        uint256 price,
        uint256 refund
    );
    /// @notice The generator gave the task up and paid `penalty` of its stake: `held` is kept for the requester
    /// until the ask ends (see {CompensationSettled}), the rest goes to the treasury (staking-token payouts in the
    /// generator registry).
    event TaskDiscarded(uint256 indexed askId, address indexed generator, uint256 penalty, uint256 held, bool reopened);
    /// @notice The generator missed its deadline and was slashed `penalty`: `held` is kept for the requester until
    /// the ask ends (see {CompensationSettled}), `toKeeper` to the caller (zero when the caller is the generator or
    /// its reward address), `toTreasury` to the treasury (staking-token payouts in the generator registry).
    event TaskSlashed(
        uint256 indexed askId,
        address indexed generator,
        address indexed keeper,
        uint256 penalty,
        uint256 held,
        uint256 toKeeper,
        uint256 toTreasury,
        bool reopened
    );
    /// @notice Compensation held for the ask (from slashes and discards of its earlier tasks) was paid out: to the
    /// refund address when a proof completed the ask (`toRequester`), else to the treasury.
    event CompensationSettled(uint256 indexed askId, address indexed to, uint256 amount, bool toRequester);
    /// @notice `signer` marked the assignment-batch nonces `word * 256 + i` for every bit `i` of `mask` as used.
    event NoncesInvalidated(address indexed signer, uint256 word, uint256 mask);
    /// @notice The ask ended without a proof; `amount` was credited to its refund address.
    event AskRefunded(uint256 indexed askId, address indexed refundAddress, uint256 amount, bool cancelled);
    /// @notice `payer` deposited `amount` into `account`'s balance.
    event Deposited(address indexed account, address indexed payer, uint256 amount);
    /// @notice `account` withdrew `amount` of its claimable balance to `to`.
    event Withdrawn(address indexed account, address indexed to, uint256 amount);
    /// @notice Protocol parameters changed.
    event ParamsSet(Params params);
    /// @notice `account` paused new business.
    // The signature of OpenZeppelin's Pausable events (unindexed), so tools that know that topic match.
    // slither-disable-next-line unindexed-event-address
    event Paused(address account);
    /// @notice `account` lifted the pause.
    // slither-disable-next-line unindexed-event-address
    event Unpaused(address account);

    // ---------------------------------------------------------------------------------------------------------
    // Markets
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Creates a market; the caller pays `marketCreationCost` to the treasury. The verifier must come from
    /// the protocol's verifier factory (which deploys only verifiers whose sample proof verifies).
    function createMarket(
        IVerifier verifier,
        // A parameter of an interface declaration named like a getter: with no body, nothing is shadowed.
        // slither-disable-next-line shadowing-local
        bytes32 proverImageId,
        // slither-disable-next-line shadowing-local
        bytes32 ivsImageId,
        uint256 slashingPenalty,
        uint256 minStake,
        uint256 fallbackDelay,
        bytes calldata metadata
    ) external returns (uint256 marketId);

    /// @notice Freezes or unfreezes a market (creator or admin).
    function setMarketFrozen(uint256 marketId, bool frozen) external;

    /// @notice Allows another prover enclave image in a confidential market (creator).
    function addExtraImage(uint256 marketId, bytes32 imageId) external;

    /// @notice Removes an extra prover enclave image (creator).
    function removeExtraImage(uint256 marketId, bytes32 imageId) external;

    // ---------------------------------------------------------------------------------------------------------
    // Asks
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Creates an ask, pulling `reward` plus the input fee from the caller. The inputs must pass the
    /// market verifier's format check (`verifyInputs`).
    function createAsk(AskRequest calldata request) external returns (uint256 askId);

    /// @notice Creates an ask paid from the caller's balance in the marketplace (deposits and earlier refunds).
    function createAskFromBalance(AskRequest calldata request) external returns (uint256 askId);

    /// @notice Pulls `amount` from the caller into `account`'s balance (to pay future asks).
    function deposit(address account, uint256 amount) external;

    /// @notice Cancels an unassigned ask (its refund address only) and credits the reward back.
    function cancelAsk(uint256 askId) external;

    /// @notice Credits the reward of an unassigned ask past its deadline back to its refund address (anyone).
    function refundExpired(uint256 askId) external;

    // ---------------------------------------------------------------------------------------------------------
    // Assignment
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Assigns one ask, called by the Matching Engine's key itself. Reverts with {AskNotAssignable}.
    function assignTask(Assignment calldata assignment) external;

    /// @notice Relays a batch of assignments signed by the Matching Engine (EIP-712 `AssignBatch`, unordered
    /// nonces per signer); anyone may pay the gas. Not atomic: an item that fails a check emits
    /// {AssignmentSkipped} and the rest proceed.
    /// @return assigned How many items were assigned.
    function relayAssignments(
        Assignment[] calldata assignments,
        uint256 nonce,
        uint256 expiry,
        bytes calldata signature
    ) external returns (uint256 assigned);

    /// @notice Fallback when the Matching Engine is absent: an eligible generator assigns itself an ask of a
    /// public market that stayed unassigned for the market's fallback delay, at its own quote.
    function selfAssign(uint256 askId) external;

    // ---------------------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Submits the proof of an assigned task before its deadline (anyone may relay it). Pays the
    /// generator its price and refunds the rest of the reward.
    function submitProof(uint256 askId, bytes calldata proverData, bytes calldata proof) external;

    /// @notice Settles a task whose inputs an IVS key attested invalid (EIP-712 `InvalidInput`). The generator
    /// is paid for its work, the rest refunded.
    function submitInvalidInputAttestation(uint256 askId, bytes calldata signature) external;

    /// @notice The assigned generator gives the task up before its deadline, paying the discard penalty. The
    /// ask re-opens if its deadline has not passed.
    function discard(uint256 askId) external;

    /// @notice Slashes a generator that missed its task deadline (anyone; the caller earns the keeper share).
    /// The ask re-opens if its deadline has not passed, else its reward is refunded.
    function slash(uint256 askId) external;

    /// @notice Withdraws `amount` of the caller's claimable payment-token balance to `to`.
    function withdraw(address to, uint256 amount) external;

    /// @notice Marks the caller's assignment-batch nonces `word * 256 + i` for each set bit `i` of `mask` as used,
    /// so batches it signed with them can no longer be relayed (the Matching Engine cancels abandoned batches this
    /// way instead of waiting for their expiry).
    function invalidateNonces(uint256 word, uint256 mask) external;

    // ---------------------------------------------------------------------------------------------------------
    // Admin
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the protocol parameters.
    // A parameter of an interface declaration named like a getter: with no body, nothing is shadowed.
    // slither-disable-next-line shadowing-local
    function setParams(Params calldata params) external;

    /// @notice Stops market creation, new asks and assignments (settlement and withdrawals keep working).
    function pause() external;

    /// @notice Lifts {pause}.
    function unpause() external;

    /// @notice Whether new business is paused.
    function paused() external view returns (bool);

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The market's record.
    function marketOf(uint256 marketId) external view returns (Market memory);

    /// @notice The ask's record.
    function askOf(uint256 askId) external view returns (Ask memory);

    /// @notice The ask's state, reporting `Expired` for an open ask past its deadline.
    function askState(uint256 askId) external view returns (AskState);

    /// @notice Payment-token balance `account` can withdraw.
    function claimable(address account) external view returns (uint256);

    /// @notice Protocol parameters.
    function params() external view returns (Params memory);

    /// @notice Number of markets created (ids are 1..marketCount).
    function marketCount() external view returns (uint256);

    /// @notice Number of asks created (ids are 1..askCount).
    function askCount() external view returns (uint256);

    /// @notice Whether `signer` already used an assignment-batch nonce.
    function nonceUsed(address signer, uint256 nonce) external view returns (bool);

    /// @notice The EIP-712 domain separator (name "Kalypso ProofMarketplace", version "1", chain id, this proxy).
    function domainSeparator() external view returns (bytes32);

    /// @notice The payment token.
    function paymentToken() external view returns (address);

    /// @notice The generator registry.
    function generatorRegistry() external view returns (IGeneratorRegistry);

    /// @notice The entity key registry.
    function keyRegistry() external view returns (address);

    /// @notice The verifier factory: markets are created only on verifiers it deployed.
    function verifierFactory() external view returns (address);

    /// @notice The commitment of a confidential ask to its secret inputs,
    /// `keccak256("kalypso-confidential/v1/secret-commitment" ‖ secret)` over the encrypted `secret` it was created
    /// with; zero for an ask without secret inputs. The marketplace hands it to the verifier with each proof
    /// (`IVerifier.verifyAsk`), so a TEE proof made for one secret settles no ask with another.
    function secretCommitmentOf(uint256 askId) external view returns (bytes32);

    /// @notice Staking-token compensation held for `askId` (from slashes and discards), paid when it ends.
    function heldCompensation(uint256 askId) external view returns (uint256);

    /// @notice How often an ask may be re-opened after failed tasks before it is refunded instead.
    function MAX_REOPENS() external view returns (uint256);
}
