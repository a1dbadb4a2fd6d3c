// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestToken} from "../../src/dev/TestToken.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IStakingPool} from "../../src/interfaces/IStakingPool.sol";
import {ProofMarketplace} from "../../src/marketplace/ProofMarketplace.sol";
import {GeneratorRegistry} from "../../src/registry/GeneratorRegistry.sol";
import {Base} from "../Base.t.sol";
import {MarketplaceDigests} from "../utils/MarketplaceDigests.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Drives the marketplace, the generator registry and its staking pool through random sequences of every
/// path of the protocol (two markets, a non-zero input fee, deposits, signed batches relayed by third parties and
/// their replays and cancellations, the self-assignment fallback, proofs, IVS attestations, discards, keeper
/// slashes, re-opens up to `MAX_REOPENS`, quotes, stake and unstake, payouts), recording in ghost variables what
/// each call was expected to do and what it did.
/// @dev Every action bounds its inputs so it cannot revert unexpectedly (`fail_on_revert`): a revert fails the run
/// with the contract's own error. Low-level calls and try/catch appear only where a revert is the outcome being
/// checked; an unexpected outcome there is counted in a ghost the invariants require to stay zero. Lifecycle
/// actions create or assign an ask when none is in the state they need, so short runs still reach deep states.
contract MarketplaceHandler is CommonBase, StdCheats, StdUtils {
    /// Actors and fixtures of a run.
    struct Config {
        ProofMarketplace market;
        uint256 enginePk;
        uint256 ivsPk;
        address treasury;
        address funder;
        address[] generators;
        address[] requesters;
        address[] refundAddresses;
        address[] keepers;
        address[] everyone;
        uint256[] marketIds;
        bytes inputs;
        bytes proof;
    }

    /// A task as it was assigned, with the terms it was assigned under.
    struct Task {
        uint256 askId;
        address generator;
        uint256 price;
        uint256 taskDeadline;
        uint256 reward;
        uint256 askDeadline;
        uint256 assignedAt;
        uint256 quotePrice;
        uint256 quoteTime;
        uint256 maxPrice;
        uint256 maxProofTime;
    }

    /// What one settling call (proof, attestation, discard, slash, refund) was expected to credit and what it
    /// credited: payment-token claimable balances, staking-token payouts, the stake it took and the compensation the
    /// marketplace holds afterwards.
    struct Settlement {
        uint256 askId;
        uint8 kind;
        uint256 expectedToGenerator;
        uint256 toGenerator;
        uint256 expectedToRequester;
        uint256 toRequester;
        uint256 expectedHeldToRequester;
        uint256 heldToRequester;
        uint256 expectedToTreasury;
        uint256 toTreasury;
        uint256 expectedToKeeper;
        uint256 toKeeper;
        uint256 expectedHeldAfter;
        uint256 heldAfter;
        uint256 expectedStakeTaken;
        uint256 stakeTaken;
        uint8 expectedState;
        uint8 state;
    }

    /// Balances around a settling call.
    struct Snap {
        uint256 genClaim;
        uint256 reqClaim;
        uint256 reqPayout;
        uint256 treasuryPayout;
        uint256 keeperPayout;
        uint256 marketPayout;
        uint256 held;
        uint256 stake;
        uint256 pending;
    }

    /// A relayed batch: its calldata (to replay verbatim), nonce and expiry.
    struct Batch {
        bytes data;
        uint256 nonce;
        uint256 expiry;
    }

    uint8 internal constant PROOF = 1;
    uint8 internal constant ATTESTATION = 2;
    uint8 internal constant DISCARD = 3;
    uint8 internal constant SLASH = 4;
    uint8 internal constant REFUND = 5;
    uint256 internal constant BPS = 10_000;

    ProofMarketplace internal market;
    GeneratorRegistry internal registry;
    TestToken internal usdc;
    TestToken internal pond;
    uint256 internal enginePk;
    address internal engine;
    uint256 internal ivsPk;
    address public treasury;
    address internal funder;
    bytes internal inputs;
    bytes internal proof;

    address[] public generators;
    address[] public requesters;
    address[] public refundAddresses;
    address[] public keepers;
    /// Every account that can hold a claimable balance or a payout (no duplicates).
    address[] public everyone;
    uint256[] public marketIds;
    uint256[] public askIds;

    Task[] internal _tasks;
    Settlement[] internal _settlements;
    Batch[] internal _batches;

    /// Sum of rewards of asks still open or assigned (escrow not yet credited to anyone).
    uint256 public ghostOpenEscrow;
    /// Payment tokens that entered (asks, deposits) and left (withdrawals) the marketplace.
    uint256 public ghostUsdcIn;
    uint256 public ghostUsdcOut;
    /// Staking tokens that entered (stakes) and left (unstakes, payout withdrawals) the registry.
    uint256 public ghostPondIn;
    uint256 public ghostPondOut;
    /// Times each ask reached a terminal state, and the state it reached.
    mapping(uint256 askId => uint256) public ghostSettlements;
    mapping(uint256 askId => IProofMarketplace.AskState) public ghostTerminal;
    uint256 public ghostMaxSettlements;
    /// Price of the ask's current task, as assigned.
    mapping(uint256 askId => uint256) public ghostTaskPrice;
    /// Each generator's stake and pending withdrawal as the calls should have left them.
    mapping(address generator => uint256) public ghostStake;
    mapping(address generator => uint256) public ghostPending;
    /// Next assignment-batch nonce of the Matching Engine (used or invalidated, never reused).
    uint256 public ghostNextNonce = 1000;

    /// Outcomes that must never happen (the invariants require zero).
    uint256 public ghostAssignMispredicted;
    uint256 public ghostRelayMiscounted;
    uint256 public ghostReplayAccepted;
    uint256 public ghostReplayWrongError;
    uint256 public ghostCancelledBatchRelayed;
    uint256 public ghostForeignInvalidationLeaked;
    uint256 public ghostTerminalMutated;
    /// 1-based index of the first task recorded outside its terms / first settlement that credited something other
    /// than expected; 0 while there is none. Records are immutable, so each is checked once, when it is recorded;
    /// the invariant then reports the offending record field by field.
    uint256 public ghostBadTask;
    uint256 public ghostBadSettlement;

    mapping(bytes32 => uint256) public calls;

    constructor(Config memory c) {
        market = c.market;
        registry = GeneratorRegistry(address(c.market.generatorRegistry()));
        usdc = TestToken(c.market.paymentToken());
        pond = TestToken(registry.stakingToken());
        enginePk = c.enginePk;
        engine = vm.addr(c.enginePk);
        ivsPk = c.ivsPk;
        treasury = c.treasury;
        funder = c.funder;
        generators = c.generators;
        requesters = c.requesters;
        refundAddresses = c.refundAddresses;
        keepers = c.keepers;
        everyone = c.everyone;
        marketIds = c.marketIds;
        inputs = c.inputs;
        proof = c.proof;
        for (uint256 i; i < c.generators.length; ++i) {
            IStakingPool.Position memory p = registry.positionOf(c.generators[i]);
            ghostStake[c.generators[i]] = p.stake;
            ghostPending[c.generators[i]] = p.pending;
        }
        ghostUsdcIn = usdc.balanceOf(address(c.market));
        ghostPondIn = pond.balanceOf(address(registry));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Asks and payments
    // ---------------------------------------------------------------------------------------------------------

    /// A requester creates an ask, paying reward and input fee with `transferFrom`.
    function createAsk(uint256 reward, uint256 ttl, uint256 seed) external {
        _createAsk(reward, ttl, seed);
        calls["createAsk"]++;
    }

    /// A requester creates an ask paid from its balance in the marketplace, depositing the shortfall first.
    function createAskFromBalance(uint256 reward, uint256 ttl, uint256 seed) external {
        (IProofMarketplace.AskRequest memory r, address payer, uint256 due) = _request(reward, ttl, seed);
        uint256 available = market.claimable(payer);
        if (available < due) _deposit(funder, payer, due - available);
        uint256 before = market.claimable(payer);
        vm.prank(payer);
        askIds.push(market.createAskFromBalance(r));
        require(market.claimable(payer) == before - due, "paid from balance");
        _opened(r.reward, 0);
        calls["createAskFromBalance"]++;
    }

    /// Anybody deposits into anybody's balance.
    function deposit(uint256 seed, uint256 amount) external {
        address payer = seed % 2 == 0 ? funder : requesters[(seed >> 8) % requesters.length];
        _deposit(payer, everyone[(seed >> 16) % everyone.length], bound(amount, 0, 100e6));
        calls["deposit"]++;
    }

    /// The requester cancels an open ask, or anyone refunds it after its deadline.
    function refundOrCancel(uint256 askSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Created);
        if (askId == 0) return;
        _refund(askId);
        calls["refund"]++;
    }

    /// Somebody withdraws part of its claimable payment-token balance.
    function withdraw(uint256 accountSeed, uint256 amount) external {
        address account = everyone[accountSeed % everyone.length];
        amount = bound(amount, 0, market.claimable(account));
        vm.prank(account);
        market.withdraw(account, amount);
        ghostUsdcOut += amount;
        calls["withdraw"]++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Assignment
    // ---------------------------------------------------------------------------------------------------------

    /// The Matching Engine's key assigns one ask; the outcome must be the one the rules predict.
    function assign(uint256 askSeed, uint256 genSeed, uint256 capSeed) external {
        uint256 askId = _open(askSeed);
        address gen = generators[genSeed % generators.length];
        (uint256 maxPrice, uint256 maxProofTime) = _caps(askId, gen, capSeed);
        _assignChecked(askId, gen, maxPrice, maxProofTime, false);
        calls["assign"]++;
    }

    /// A third party relays a batch the Matching Engine signed (distinct asks in any state, random generators
    /// and caps); relaying the same signed batch again must revert.
    function relayBatch(uint256 seed, uint256 size, uint256 capSeed) external {
        _open(seed);
        size = bound(size, 1, askIds.length < 4 ? askIds.length : 4);
        (IProofMarketplace.Assignment[] memory items, IGeneratorRegistry.Quote[] memory quotes, bool[] memory wasOpen) =
            _buildBatch(seed, size, capSeed);
        uint256 nonce = _nextNonce(seed);
        uint256 expiry = block.timestamp + bound(capSeed, 0, 10 minutes);
        bytes memory data = abi.encodeCall(
            IProofMarketplace.relayAssignments, (items, nonce, expiry, _signBatch(items, nonce, expiry))
        );
        uint256 assigned = abi.decode(_call(keepers[(seed >> 64) % keepers.length], data), (uint256));
        uint256 counted;
        for (uint256 i; i < size; ++i) {
            IProofMarketplace.Ask memory a = market.askOf(items[i].askId);
            if (wasOpen[i] && a.state == IProofMarketplace.AskState.Assigned) {
                if (a.generator != items[i].generator) ++ghostRelayMiscounted;
                _recordTask(items[i].askId, quotes[i], items[i].maxPrice, items[i].maxProofTime);
                ++counted;
            }
        }
        if (counted != assigned) ++ghostRelayMiscounted;
        _batches.push(Batch(data, nonce, expiry));
        _replay(_batches.length - 1, keepers[(seed >> 72) % keepers.length]);
        calls["relayBatch"]++;
        calls["relayBatch-assigned"] += assigned;
    }

    /// Somebody relays an old batch again: it must revert (with `NonceUsed` while it has not expired).
    function replayBatch(uint256 seed) external {
        if (_batches.length == 0) return;
        _replay(seed % _batches.length, everyone[(seed >> 8) % everyone.length]);
        calls["replayBatch"]++;
    }

    /// The Matching Engine abandons a signed batch and invalidates its nonce: nobody can relay it. Another account
    /// invalidating the same nonces marks only its own.
    function cancelBatch(uint256 askSeed, uint256 genSeed) external {
        uint256 askId = _open(askSeed);
        IProofMarketplace.Assignment[] memory items = new IProofMarketplace.Assignment[](1);
        items[0] = IProofMarketplace.Assignment(
            askId, generators[genSeed % generators.length], type(uint256).max, type(uint256).max, ""
        );
        uint256 nonce = _nextNonce(askSeed);
        uint256 expiry = block.timestamp + 1 hours;
        bytes memory sig = _signBatch(items, nonce, expiry);
        vm.prank(keepers[genSeed % keepers.length]);
        market.invalidateNonces(ghostNextNonce >> 8, type(uint256).max);
        if (market.nonceUsed(engine, ghostNextNonce)) ++ghostForeignInvalidationLeaked;
        vm.prank(engine);
        market.invalidateNonces(nonce >> 8, 1 << (nonce & 0xff));
        vm.prank(keepers[(genSeed >> 8) % keepers.length]);
        try market.relayAssignments(items, nonce, expiry, sig) {
            ++ghostCancelledBatchRelayed;
        } catch (bytes memory err) {
            if (keccak256(err) != keccak256(abi.encodeWithSelector(IProofMarketplace.NonceUsed.selector, nonce))) {
                ++ghostCancelledBatchRelayed;
            }
        }
        calls["cancelBatch"]++;
    }

    /// An eligible generator takes an ask itself once the market's fallback delay has passed (warping there when
    /// the ask's deadline allows); the outcome must be the one the rules predict.
    function selfAssign(uint256 askSeed, uint256 genSeed) external {
        uint256 askId = _open(askSeed);
        IProofMarketplace.Ask memory a = market.askOf(askId);
        uint256 opensAt = a.openedAt + _fallbackDelay(a.marketId);
        // Mostly wait for the fallback (on a fresh ask if this one's deadline comes first); sometimes try early.
        if (genSeed % 8 != 0) {
            if (opensAt + 20 minutes > a.deadline) {
                askId = _createAsk(askSeed, 4 hours, askSeed);
                a = market.askOf(askId);
                opensAt = a.openedAt + _fallbackDelay(a.marketId);
            }
            if (block.timestamp < opensAt) vm.warp(opensAt);
        }
        // Mostly a generator that can take the ask (bar the fallback delay), sometimes any.
        address gen = (genSeed >> 3) % 4 == 0 ? address(0) : _eligible(askId, genSeed >> 5);
        if (gen == address(0)) gen = generators[(genSeed >> 3) % generators.length];
        _assignChecked(askId, gen, type(uint256).max, type(uint256).max, true);
        calls["selfAssign"]++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Settlement
    // ---------------------------------------------------------------------------------------------------------

    /// Anybody relays the proof of an assigned task before its deadline.
    function submitProof(uint256 askSeed, uint256 relayerSeed) external {
        uint256 askId = _live(askSeed);
        if (askId == 0) return;
        _complete(askId, true, everyone[relayerSeed % everyone.length]);
        calls["submitProof"]++;
    }

    /// Anybody relays an IVS attestation that the task's inputs are invalid.
    function attestInvalid(uint256 askSeed, uint256 relayerSeed) external {
        uint256 askId = _live(askSeed);
        if (askId == 0) return;
        _complete(askId, false, everyone[relayerSeed % everyone.length]);
        calls["attestInvalid"]++;
    }

    /// The assigned generator gives its task up before the deadline.
    function discard(uint256 askSeed) external {
        uint256 askId = _live(askSeed);
        if (askId == 0) return;
        _fail(askId, market.askOf(askId).generator, false);
        calls["discard"]++;
    }

    /// A keeper (or the generator, or its reward address) slashes a task once its deadline passed (warping there).
    function slash(uint256 askSeed, uint256 keeperSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Assigned);
        if (askId == 0) askId = _live(askSeed);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (block.timestamp <= a.taskDeadline) vm.warp(uint256(a.taskDeadline) + 1);
        address caller = _keeper(a.generator, keeperSeed);
        _fail(askId, caller, true);
        calls["slash"]++;
    }

    /// One ask fails again and again (assigned to whoever can take it, then discarded or slashed) until it is
    /// refunded: it re-opens at most `MAX_REOPENS` times, and the compensation held for it goes to the treasury.
    function failRepeatedly(uint256 askSeed, uint256 seed) external {
        uint256 askId = _open(askSeed);
        for (uint256 round; round <= market.MAX_REOPENS(); ++round) {
            address gen = _eligible(askId, seed >> (round * 8));
            if (gen == address(0)) break;
            _assignChecked(askId, gen, type(uint256).max, type(uint256).max, false);
            if ((seed >> (round * 8 + 4)) % 2 == 0) {
                _fail(askId, gen, false);
            } else {
                vm.warp(uint256(market.askOf(askId).taskDeadline) + 1);
                _fail(askId, _keeper(gen, seed >> (round * 8 + 5)), true);
            }
            calls["failRepeatedly-round"]++;
            if (market.askOf(askId).state != IProofMarketplace.AskState.Created) break;
        }
        calls["failRepeatedly"]++;
    }

    /// Somebody tries to settle, cancel, refund or re-assign an ask that already ended: every attempt reverts.
    function pokeSettled(uint256 askSeed, uint256 action) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Completed);
        if (askId == 0) askId = _pick(askSeed, IProofMarketplace.AskState.Refunded);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        address gen = a.generator != address(0) ? a.generator : generators[action % generators.length];
        bytes memory data;
        address caller = keepers[action % keepers.length];
        action = action % 8;
        if (action == 0) {
            (caller, data) = (a.refundAddress, abi.encodeCall(IProofMarketplace.cancelAsk, (askId)));
        } else if (action == 1) {
            data = abi.encodeCall(IProofMarketplace.refundExpired, (askId));
        } else if (action == 2) {
            data = abi.encodeCall(IProofMarketplace.slash, (askId));
        } else if (action == 3) {
            (caller, data) = (gen, abi.encodeCall(IProofMarketplace.discard, (askId)));
        } else if (action == 4) {
            data = abi.encodeCall(IProofMarketplace.submitProof, (askId, inputs, proof));
        } else if (action == 5) {
            bytes memory sig = _signInvalidInput(a.marketId, askId, a.inputsHash);
            data = abi.encodeCall(IProofMarketplace.submitInvalidInputAttestation, (askId, sig));
        } else if (action == 6) {
            (caller, data) = (gen, abi.encodeCall(IProofMarketplace.selfAssign, (askId)));
        } else {
            IProofMarketplace.Assignment memory x =
                IProofMarketplace.Assignment(askId, gen, type(uint256).max, type(uint256).max, "");
            (caller, data) = (engine, abi.encodeCall(IProofMarketplace.assignTask, (x)));
        }
        vm.prank(caller);
        (bool ok,) = address(market).call(data);
        if (ok) ++ghostTerminalMutated;
        calls["pokeSettled"]++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Generators and stake
    // ---------------------------------------------------------------------------------------------------------

    /// A generator changes its quote in a market it joined (tasks in flight keep their terms).
    function updateQuote(uint256 genSeed, uint256 compute, uint256 price, uint256 time) external {
        address gen = generators[genSeed % generators.length];
        uint256 id = marketIds[(genSeed >> 8) % marketIds.length];
        if (registry.quoteOf(id, gen).maxProofTime == 0) return;
        compute = bound(compute, 1, registry.generatorOf(gen).declaredCompute);
        price = bound(price, 0, 12e6);
        time = bound(time, 30, 3 hours);
        vm.prank(gen);
        registry.updateQuote(id, compute, price, time);
        calls["updateQuote"]++;
    }

    /// A generator leaves a market (tasks in flight stay) or joins it again.
    function leaveOrRejoin(uint256 genSeed) external {
        address gen = generators[genSeed % generators.length];
        uint256 id = marketIds[(genSeed >> 8) % marketIds.length];
        vm.startPrank(gen);
        if (registry.quoteOf(id, gen).maxProofTime != 0) {
            registry.leaveMarket(id);
        } else {
            registry.joinMarket(id, 1, 1e6, 120);
        }
        vm.stopPrank();
        calls["leaveOrRejoin"]++;
    }

    /// A generator stakes more, itself or through a sponsor (`stakeFor`).
    function stake(uint256 genSeed, uint256 amount) external {
        address gen = generators[genSeed % generators.length];
        amount = bound(amount, 1, 50e18);
        address payer = (genSeed & (1 << 128)) == 0 ? gen : funder;
        pond.mint(payer, amount);
        vm.startPrank(payer);
        pond.approve(address(registry), amount);
        if (payer == gen) registry.stake(amount);
        else registry.stakeFor(gen, amount);
        vm.stopPrank();
        ghostStake[gen] += amount;
        ghostPondIn += amount;
        calls["stake"]++;
    }

    /// A generator requests to withdraw part of its free stake.
    function requestUnstake(uint256 genSeed, uint256 amount) external {
        address gen = generators[genSeed % generators.length];
        uint256 free = registry.freeStake(gen);
        if (free == 0) return;
        amount = bound(amount, 1, free);
        vm.prank(gen);
        registry.requestUnstake(amount);
        ghostStake[gen] -= amount;
        ghostPending[gen] += amount;
        calls["requestUnstake"]++;
    }

    /// A generator cancels its pending withdrawal.
    function cancelUnstake(uint256 genSeed) external {
        address gen = generators[genSeed % generators.length];
        if (ghostPending[gen] == 0) return;
        vm.prank(gen);
        registry.cancelUnstake();
        ghostStake[gen] += ghostPending[gen];
        ghostPending[gen] = 0;
        calls["cancelUnstake"]++;
    }

    /// A generator withdraws its pending stake once the withdrawal delay has passed (warping there).
    function unstake(uint256 genSeed) external {
        address gen = generators[genSeed % generators.length];
        uint256 pending = ghostPending[gen];
        if (pending == 0) return;
        uint256 unlockAt = registry.positionOf(gen).unlockAt;
        if (block.timestamp < unlockAt) vm.warp(unlockAt);
        vm.prank(gen);
        uint256 amount = registry.unstake(gen);
        require(amount == pending, "unstakes exactly the pending stake");
        ghostPending[gen] = 0;
        ghostPondOut += amount;
        calls["unstake"]++;
    }

    /// Somebody withdraws part of the slashed stake credited to it.
    function withdrawPayout(uint256 accountSeed, uint256 amount) external {
        address account = everyone[accountSeed % everyone.length];
        amount = bound(amount, 0, registry.payoutOf(account));
        vm.prank(account);
        registry.withdrawPayout(account, amount);
        ghostPondOut += amount;
        calls["withdrawPayout"]++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 15 minutes));
        calls["warp"]++;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views for the invariants
    // ---------------------------------------------------------------------------------------------------------

    function askCount() external view returns (uint256) {
        return askIds.length;
    }

    function everyoneCount() external view returns (uint256) {
        return everyone.length;
    }

    function generatorCount() external view returns (uint256) {
        return generators.length;
    }

    function keeperCount() external view returns (uint256) {
        return keepers.length;
    }

    function everyoneList() external view returns (address[] memory) {
        return everyone;
    }

    function generatorList() external view returns (address[] memory) {
        return generators;
    }

    /// Every ask id with the terminal state it reached (None while open) and its current task's assigned price.
    function askGhosts()
        external
        view
        returns (uint256[] memory ids, IProofMarketplace.AskState[] memory terminal, uint256[] memory taskPrice)
    {
        ids = askIds;
        terminal = new IProofMarketplace.AskState[](ids.length);
        taskPrice = new uint256[](ids.length);
        for (uint256 i; i < ids.length; ++i) {
            terminal[i] = ghostTerminal[ids[i]];
            taskPrice[i] = ghostTaskPrice[ids[i]];
        }
    }

    function taskCount() external view returns (uint256) {
        return _tasks.length;
    }

    function task(uint256 i) external view returns (Task memory) {
        return _tasks[i];
    }

    function settlementCount() external view returns (uint256) {
        return _settlements.length;
    }

    function settlement(uint256 i) external view returns (Settlement memory) {
        return _settlements[i];
    }

    function batchCount() external view returns (uint256) {
        return _batches.length;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internal
    // ---------------------------------------------------------------------------------------------------------

    function _request(uint256 reward, uint256 ttl, uint256 seed)
        internal
        view
        returns (IProofMarketplace.AskRequest memory r, address payer, uint256 due)
    {
        r.marketId = marketIds[seed % marketIds.length];
        r.reward = bound(reward, 1, 20e6);
        r.deadline = block.timestamp + bound(ttl, 5 minutes, 4 hours);
        r.preference = (seed >> 8) % 2 == 0 ? IProofMarketplace.Preference.Cost : IProofMarketplace.Preference.Time;
        r.refundAddress = refundAddresses[(seed >> 16) % refundAddresses.length];
        r.proverData = inputs;
        payer = requesters[(seed >> 24) % requesters.length];
        due = r.reward + market.params().feePerInputByte * inputs.length;
    }

    function _createAsk(uint256 reward, uint256 ttl, uint256 seed) internal returns (uint256 askId) {
        (IProofMarketplace.AskRequest memory r, address payer, uint256 due) = _request(reward, ttl, seed);
        usdc.mint(payer, due);
        vm.prank(payer);
        askId = market.createAsk(r);
        askIds.push(askId);
        _opened(r.reward, due);
    }

    /// An open ask (possibly past its deadline), scanning from a random position; a new one if there is none, so
    /// the lifecycle actions always have something to act on.
    function _open(uint256 seed) internal returns (uint256 askId) {
        // Mostly one still before its deadline; sometimes any (an expired one must then be skipped).
        askId = seed % 8 == 0 ? _pick(seed, IProofMarketplace.AskState.Created) : _pickUnexpired(seed);
        if (askId == 0) {
            askId = _createAsk(seed >> 32, seed >> 96, seed);
            calls["createAsk-auto"]++;
        }
    }

    /// An assigned task before its deadline; if there is none, an open ask assigned to a generator that can take
    /// it; 0 if no generator can.
    function _live(uint256 seed) internal returns (uint256 askId) {
        askId = _pickLive(seed);
        if (askId != 0) return askId;
        askId = _open(seed);
        address gen = _eligible(askId, seed >> 160);
        if (gen == address(0)) return 0;
        _assignChecked(askId, gen, type(uint256).max, type(uint256).max, false);
        calls["assign-auto"]++;
    }

    function _opened(uint256 reward, uint256 pulled) internal {
        ghostOpenEscrow += reward;
        ghostUsdcIn += pulled;
    }

    function _deposit(address payer, address account, uint256 amount) internal {
        usdc.mint(payer, amount);
        vm.prank(payer);
        market.deposit(account, amount);
        ghostUsdcIn += amount;
    }

    /// Caps the engine signs: usually the quote it saw, sometimes one unit below it (the item is then skipped),
    /// sometimes none.
    function _caps(uint256 askId, address gen, uint256 seed)
        internal
        view
        returns (uint256 maxPrice, uint256 maxProofTime)
    {
        IGeneratorRegistry.Quote memory q = registry.quoteOf(market.askOf(askId).marketId, gen);
        uint256 mode = seed % 8;
        maxPrice =
            mode == 0 ? type(uint256).max : (mode == 1 && q.pricePerProof != 0 ? q.pricePerProof - 1 : q.pricePerProof);
        maxProofTime = mode == 0 ? type(uint256).max : (mode == 2 ? uint256(q.maxProofTime) / 2 : q.maxProofTime);
    }

    /// `size` distinct asks (any state) from a random position, each to a random generator with random caps, and
    /// the quotes and states they had before the relay.
    function _buildBatch(uint256 seed, uint256 size, uint256 capSeed)
        internal
        view
        returns (
            IProofMarketplace.Assignment[] memory items,
            IGeneratorRegistry.Quote[] memory quotes,
            bool[] memory wasOpen
        )
    {
        items = new IProofMarketplace.Assignment[](size);
        quotes = new IGeneratorRegistry.Quote[](size);
        wasOpen = new bool[](size);
        uint256[] memory chosen = _chooseAsks(seed, size);
        for (uint256 i; i < size; ++i) {
            uint256 askId = chosen[i];
            uint256 genSeed = seed >> (8 + i * 8);
            // Mostly a generator that can take the ask (as the engine would pick), sometimes any.
            address gen = genSeed % 4 == 0 ? address(0) : _eligible(askId, genSeed >> 2);
            if (gen == address(0)) gen = generators[genSeed % generators.length];
            (uint256 maxPrice, uint256 maxProofTime) = _caps(askId, gen, capSeed >> (i * 8));
            items[i] = IProofMarketplace.Assignment(askId, gen, maxPrice, maxProofTime, "");
            IProofMarketplace.Ask memory a = market.askOf(askId);
            quotes[i] = registry.quoteOf(a.marketId, gen);
            wasOpen[i] = a.state == IProofMarketplace.AskState.Created;
        }
    }

    /// `size` distinct asks from a random position: open ones first, then any (which the batch must skip).
    function _chooseAsks(uint256 seed, uint256 size) internal view returns (uint256[] memory chosen) {
        uint256 n = askIds.length;
        chosen = new uint256[](size);
        bool[] memory taken = new bool[](n);
        uint256 k;
        for (uint256 pass; pass < 2 && k < size; ++pass) {
            for (uint256 i; i < n && k < size; ++i) {
                uint256 at = (seed % n + i) % n;
                if (taken[at]) continue;
                if (pass == 0 && market.askOf(askIds[at]).state != IProofMarketplace.AskState.Created) continue;
                taken[at] = true;
                chosen[k++] = askIds[at];
            }
        }
    }

    /// Calls the marketplace as `caller`, bubbling up a revert (an unexpected one fails the run).
    function _call(address caller, bytes memory data) internal returns (bytes memory ret) {
        bool ok;
        vm.prank(caller);
        (ok, ret) = address(market).call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    /// Assigns through the engine key or `selfAssign`, requiring the outcome the rules predict.
    function _assignChecked(uint256 askId, address gen, uint256 maxPrice, uint256 maxProofTime, bool fallback_)
        internal
    {
        IGeneratorRegistry.SkipReason expected = _predict(askId, gen, maxPrice, maxProofTime, fallback_);
        IGeneratorRegistry.Quote memory q = registry.quoteOf(market.askOf(askId).marketId, gen);
        bytes memory data = fallback_
            ? abi.encodeCall(IProofMarketplace.selfAssign, (askId))
            : abi.encodeCall(
                IProofMarketplace.assignTask, (IProofMarketplace.Assignment(askId, gen, maxPrice, maxProofTime, ""))
            );
        vm.prank(fallback_ ? gen : engine);
        (bool ok, bytes memory err) = address(market).call(data);
        if (expected == IGeneratorRegistry.SkipReason.None) {
            // Eligible by the rules but refused: fail the run with the marketplace's own reason.
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(err, 32), mload(err))
                }
            }
            _recordTask(askId, q, maxPrice, maxProofTime);
        } else if (
            ok
                || keccak256(err)
                    != keccak256(
                        abi.encodeWithSelector(IProofMarketplace.AskNotAssignable.selector, askId, gen, expected)
                    )
        ) {
            ++ghostAssignMispredicted;
            if (ok) _recordTask(askId, q, maxPrice, maxProofTime);
        }
        if (ok) calls[fallback_ ? bytes32("selfAssign-assigned") : bytes32("assign-assigned")]++;
    }

    /// The rule an assignment fails on, in the order the marketplace and registry check them (none if it passes).
    function _predict(uint256 askId, address gen, uint256 maxPrice, uint256 maxProofTime, bool fallback_)
        internal
        view
        returns (IGeneratorRegistry.SkipReason)
    {
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (a.state != IProofMarketplace.AskState.Created) return IGeneratorRegistry.SkipReason.AskNotOpen;
        if (block.timestamp > a.deadline) return IGeneratorRegistry.SkipReason.AskExpired;
        IProofMarketplace.Market memory m = market.marketOf(a.marketId);
        if (m.frozen) return IGeneratorRegistry.SkipReason.MarketNotActive;
        if (fallback_ && (m.fallbackDelay == 0 || block.timestamp < a.openedAt + _fallbackDelay(a.marketId))) {
            return IGeneratorRegistry.SkipReason.FallbackNotOpen;
        }
        IGeneratorRegistry.Quote memory q = registry.quoteOf(a.marketId, gen);
        if (q.maxProofTime == 0) return IGeneratorRegistry.SkipReason.NotJoined;
        if (q.pricePerProof > _min(a.reward, maxPrice)) return IGeneratorRegistry.SkipReason.PriceAboveReward;
        if (block.timestamp + q.maxProofTime > _min(a.deadline, block.timestamp + _min(maxProofTime, type(uint64).max)))
        {
            return IGeneratorRegistry.SkipReason.DeadlineTooSoon;
        }
        IGeneratorRegistry.Generator memory g = registry.generatorOf(gen);
        if (uint256(g.consumedCompute) + q.computePerProof > g.declaredCompute) {
            return IGeneratorRegistry.SkipReason.InsufficientCompute;
        }
        IStakingPool.Position memory p = registry.positionOf(gen);
        if (p.stake < m.minStake) return IGeneratorRegistry.SkipReason.BelowMinStake;
        if (p.stake - p.locked < m.slashingPenalty) return IGeneratorRegistry.SkipReason.InsufficientStake;
        return IGeneratorRegistry.SkipReason.None;
    }

    /// A generator the engine could assign the ask to now, scanning from a random one; zero if none.
    function _eligible(uint256 askId, uint256 seed) internal view returns (address) {
        uint256 n = generators.length;
        for (uint256 i; i < n; ++i) {
            address gen = generators[(seed % n + i) % n];
            if (_predict(askId, gen, type(uint256).max, type(uint256).max, false) == IGeneratorRegistry.SkipReason.None)
            {
                return gen;
            }
        }
        return address(0);
    }

    function _fallbackDelay(uint256 id) internal view returns (uint256) {
        uint256 delay = market.marketOf(id).fallbackDelay;
        uint256 minDelay = market.params().minFallbackDelay;
        return delay < minDelay ? minDelay : delay;
    }

    function _recordTask(uint256 askId, IGeneratorRegistry.Quote memory q, uint256 maxPrice, uint256 maxProofTime)
        internal
    {
        IProofMarketplace.Ask memory a = market.askOf(askId);
        _tasks.push(
            Task({
                askId: askId,
                generator: a.generator,
                price: a.price,
                taskDeadline: a.taskDeadline,
                reward: a.reward,
                askDeadline: a.deadline,
                assignedAt: block.timestamp,
                quotePrice: q.pricePerProof,
                quoteTime: q.maxProofTime,
                maxPrice: maxPrice,
                maxProofTime: maxProofTime
            })
        );
        ghostTaskPrice[askId] = a.price;
        Task storage t = _tasks[_tasks.length - 1];
        bool ok = t.price <= t.reward && t.taskDeadline <= t.askDeadline && t.price == t.quotePrice
            && t.price <= t.maxPrice && t.taskDeadline == t.assignedAt + t.quoteTime && t.quoteTime <= t.maxProofTime;
        if (!ok && ghostBadTask == 0) ghostBadTask = _tasks.length;
    }

    function _pushSettlement(Settlement memory s) internal {
        _settlements.push(s);
        bool ok = s.toGenerator == s.expectedToGenerator && s.toRequester == s.expectedToRequester
            && s.heldToRequester == s.expectedHeldToRequester && s.toTreasury == s.expectedToTreasury
            && s.toKeeper == s.expectedToKeeper && s.heldAfter == s.expectedHeldAfter
            && s.stakeTaken == s.expectedStakeTaken && s.state == s.expectedState;
        if (!ok && ghostBadSettlement == 0) ghostBadSettlement = _settlements.length;
    }

    /// Settles an assigned task with a proof or an IVS attestation, recording what it credited.
    function _complete(uint256 askId, bool proven, address relayer) internal {
        IProofMarketplace.Ask memory a = market.askOf(askId);
        address rewardAddress = registry.rewardAddressOf(a.generator);
        Snap memory b = _snap(askId, rewardAddress, a.refundAddress, address(0), a.generator);
        vm.prank(relayer);
        if (proven) {
            market.submitProof(askId, inputs, proof);
        } else {
            market.submitInvalidInputAttestation(askId, _signInvalidInput(a.marketId, askId, a.inputsHash));
        }
        Snap memory x = _snap(askId, rewardAddress, a.refundAddress, address(0), a.generator);
        Settlement memory s;
        s.askId = askId;
        s.kind = proven ? PROOF : ATTESTATION;
        s.expectedToGenerator = ghostTaskPrice[askId];
        s.expectedToRequester = a.reward - ghostTaskPrice[askId];
        // Held compensation goes to the requester only with a proof; an attested-invalid ask forfeits it.
        s.expectedHeldToRequester = proven ? b.held : 0;
        s.expectedToTreasury = proven ? 0 : b.held;
        s.expectedHeldAfter = b.marketPayout - b.held;
        s.expectedState = uint8(IProofMarketplace.AskState.Completed);
        _measure(s, b, x, askId);
        ghostOpenEscrow -= a.reward;
    }

    /// Discards (`slash_ == false`, by the generator) or slashes a task, recording the split of the penalty.
    function _fail(uint256 askId, address caller, bool slash_) internal {
        IProofMarketplace.Ask memory a = market.askOf(askId);
        address rewardAddress = registry.rewardAddressOf(a.generator);
        Snap memory b = _snap(askId, rewardAddress, a.refundAddress, caller, a.generator);
        Settlement memory s = _expectFailure(askId, a, caller, slash_, b);
        vm.prank(caller);
        if (slash_) market.slash(askId);
        else market.discard(askId);
        Snap memory x = _snap(askId, rewardAddress, a.refundAddress, caller, a.generator);
        ghostStake[a.generator] -= s.expectedStakeTaken;
        if (s.expectedState == uint8(IProofMarketplace.AskState.Created)) {
            _pushSettlement(_fill(s, b, x));
        } else {
            _measure(s, b, x, askId);
            ghostOpenEscrow -= a.reward;
        }
    }

    /// What a discard or slash must do: take the (discard) penalty from the stake, hold the requester's share while
    /// the ask re-opens (deadline not passed, fewer than `MAX_REOPENS` re-opens), pay the keeper its capped share
    /// (none to the generator or its reward address) and the rest to the treasury; an ask that does not re-open is
    /// refunded and what it held goes to the treasury.
    function _expectFailure(uint256 askId, IProofMarketplace.Ask memory a, address caller, bool slash_, Snap memory b)
        internal
        view
        returns (Settlement memory s)
    {
        IProofMarketplace.Params memory p = market.params();
        uint256 penalty = market.marketOf(a.marketId).slashingPenalty;
        if (slash_) {
            s.expectedToKeeper = _min(penalty * p.keeperShareBps / BPS, p.maxKeeperReward);
            if (caller == a.generator || caller == registry.rewardAddressOf(a.generator)) s.expectedToKeeper = 0;
        } else {
            penalty = penalty * p.discardPenaltyBps / BPS;
        }
        bool reopen = block.timestamp < a.deadline && a.reopens < market.MAX_REOPENS();
        uint256 held = reopen ? penalty * p.requesterShareBps / BPS : 0;
        s.askId = askId;
        s.kind = slash_ ? SLASH : DISCARD;
        s.expectedToRequester = reopen ? 0 : a.reward;
        s.expectedToTreasury = penalty - held - s.expectedToKeeper + (reopen ? 0 : b.held);
        s.expectedHeldAfter = reopen ? b.marketPayout + held : b.marketPayout - b.held;
        s.expectedStakeTaken = penalty;
        s.expectedState = uint8(reopen ? IProofMarketplace.AskState.Created : IProofMarketplace.AskState.Refunded);
    }

    /// Cancels an open ask (its refund address) or refunds it past its deadline (anyone).
    function _refund(uint256 askId) internal {
        IProofMarketplace.Ask memory a = market.askOf(askId);
        Snap memory b = _snap(askId, address(0), a.refundAddress, address(0), address(0));
        if (block.timestamp > a.deadline) {
            market.refundExpired(askId);
        } else {
            vm.prank(a.refundAddress);
            market.cancelAsk(askId);
        }
        Snap memory x = _snap(askId, address(0), a.refundAddress, address(0), address(0));
        Settlement memory s;
        s.askId = askId;
        s.kind = REFUND;
        s.expectedToRequester = a.reward;
        s.expectedToTreasury = b.held;
        s.expectedHeldAfter = b.marketPayout - b.held;
        s.expectedState = uint8(IProofMarketplace.AskState.Refunded);
        _measure(s, b, x, askId);
        ghostOpenEscrow -= a.reward;
    }

    /// Records a settlement that ended the ask.
    function _measure(Settlement memory s, Snap memory b, Snap memory x, uint256 askId) internal {
        _pushSettlement(_fill(s, b, x));
        uint256 n = ++ghostSettlements[askId];
        if (n > ghostMaxSettlements) ghostMaxSettlements = n;
        if (ghostTerminal[askId] == IProofMarketplace.AskState.None) ghostTerminal[askId] = market.askOf(askId).state;
    }

    function _fill(Settlement memory s, Snap memory b, Snap memory x) internal view returns (Settlement memory) {
        s.toGenerator = x.genClaim - b.genClaim;
        s.toRequester = x.reqClaim - b.reqClaim;
        s.heldToRequester = x.reqPayout - b.reqPayout;
        s.toTreasury = x.treasuryPayout - b.treasuryPayout;
        s.toKeeper = x.keeperPayout - b.keeperPayout;
        s.heldAfter = x.marketPayout;
        s.stakeTaken = b.stake - x.stake;
        s.state = uint8(market.askOf(s.askId).state);
        return s;
    }

    function _snap(uint256 askId, address rewardAddress, address refundAddress, address caller, address gen)
        internal
        view
        returns (Snap memory s)
    {
        s.genClaim = market.claimable(rewardAddress);
        s.reqClaim = market.claimable(refundAddress);
        s.reqPayout = registry.payoutOf(refundAddress);
        s.treasuryPayout = registry.payoutOf(treasury);
        s.keeperPayout = caller == address(0) ? 0 : registry.payoutOf(caller);
        s.marketPayout = registry.payoutOf(address(market));
        s.held = market.heldCompensation(askId);
        IStakingPool.Position memory p = registry.positionOf(gen);
        s.stake = p.stake;
        s.pending = p.pending;
    }

    /// Relays a used batch again: it must revert, with `NonceUsed` unless it expired.
    function _replay(uint256 i, address relayer) internal {
        Batch storage batch = _batches[i];
        vm.prank(relayer);
        (bool ok, bytes memory err) = address(market).call(batch.data);
        if (ok || !market.nonceUsed(engine, batch.nonce)) {
            ++ghostReplayAccepted;
        } else if (
            block.timestamp <= batch.expiry
                && keccak256(err)
                    != keccak256(abi.encodeWithSelector(IProofMarketplace.NonceUsed.selector, batch.nonce))
        ) {
            ++ghostReplayWrongError;
        }
    }

    /// A fresh nonce, jumping ahead now and then so batches use several bitmap words.
    function _nextNonce(uint256 seed) internal returns (uint256 nonce) {
        nonce = ghostNextNonce;
        ghostNextNonce = nonce + 1 + (seed % 4 == 0 ? seed % 300 : 0);
    }

    function _signBatch(IProofMarketplace.Assignment[] memory items, uint256 nonce, uint256 expiry)
        internal
        view
        returns (bytes memory)
    {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(enginePk, MarketplaceDigests.assignBatch(market.domainSeparator(), items, nonce, expiry));
        return abi.encodePacked(r, s, v);
    }

    function _signInvalidInput(uint256 id, uint256 askId, bytes32 inputsHash) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(ivsPk, MarketplaceDigests.invalidInput(market.domainSeparator(), id, askId, inputsHash));
        return abi.encodePacked(r, s, v);
    }

    /// Who slashes: a keeper, another generator, or (no keeper share) the generator itself or its reward address.
    function _keeper(address gen, uint256 seed) internal view returns (address) {
        uint256 mode = seed % 8;
        if (mode == 0) return gen;
        if (mode == 1) return registry.rewardAddressOf(gen);
        if (mode == 2) return generators[(seed >> 8) % generators.length];
        return keepers[(seed >> 8) % keepers.length];
    }

    /// An ask in `state`, scanning from a random position; 0 if there is none.
    function _pick(uint256 seed, IProofMarketplace.AskState state) internal view returns (uint256) {
        uint256 n = askIds.length;
        for (uint256 i; i < n; ++i) {
            uint256 askId = askIds[(seed % n + i) % n];
            if (market.askOf(askId).state == state) return askId;
        }
        return 0;
    }

    /// An open ask before its deadline; 0 if there is none.
    function _pickUnexpired(uint256 seed) internal view returns (uint256) {
        uint256 n = askIds.length;
        for (uint256 i; i < n; ++i) {
            uint256 askId = askIds[(seed % n + i) % n];
            IProofMarketplace.Ask memory a = market.askOf(askId);
            if (a.state == IProofMarketplace.AskState.Created && block.timestamp <= a.deadline) return askId;
        }
        return 0;
    }

    /// An assigned ask whose task deadline has not passed; 0 if there is none.
    function _pickLive(uint256 seed) internal view returns (uint256) {
        uint256 n = askIds.length;
        for (uint256 i; i < n; ++i) {
            uint256 askId = askIds[(seed % n + i) % n];
            IProofMarketplace.Ask memory a = market.askOf(askId);
            if (a.state == IProofMarketplace.AskState.Assigned && block.timestamp <= a.taskDeadline) return askId;
        }
        return 0;
    }

    function _min(uint256 a, uint256 b) internal pure returns (uint256) {
        return a < b ? a : b;
    }
}

/// @notice Invariants of the marketplace, registry and staking pool under random sequences of every path.
/// @dev One campaign checks every property after every call: a campaign per property would replay the same
/// sequences once per property, so the deep profile reaches ten times the runs in the same time this way. Each
/// property is its own `_check` function with assertion messages naming it.
contract MarketplaceInvariantTest is Base {
    MarketplaceHandler internal handler;
    uint256 internal smallMarketId;

    uint256 internal constant SMALL_PENALTY = 4e18;
    uint256 internal constant SMALL_MIN_STAKE = 8e18;
    uint256 internal constant FEE_PER_INPUT_BYTE = 1000;
    uint256 internal constant WITHDRAWAL_DELAY = 30 minutes;

    function setUp() public override {
        super.setUp();
        // A non-zero input fee, and a withdrawal delay short enough for unstakes to happen within a run.
        IProofMarketplace.Params memory p = market.params();
        p.feePerInputByte = uint64(FEE_PER_INPUT_BYTE);
        vm.startPrank(admin);
        market.setParams(p);
        registry.setWithdrawalDelay(WITHDRAWAL_DELAY);
        vm.stopPrank();

        // A second market: smaller penalty and minimum stake, a shorter fallback delay.
        address creator = makeAddr("creator");
        usdc.mint(creator, 10e6);
        vm.startPrank(creator);
        usdc.approve(address(market), 10e6);
        smallMarketId =
            market.createMarket(verifier, bytes32(0), bytes32(0), SMALL_PENALTY, SMALL_MIN_STAKE, 10 minutes, "mimc-s");
        keys.addIvsSigner(smallMarketId, _pubkey(ivs));
        vm.stopPrank();

        address[] memory gens = new address[](4);
        (gens[0], gens[1], gens[2], gens[3]) = (cheap, fast, makeAddr("mid"), makeAddr("tiny"));
        _onboard(gens[2], gens[2], 3, marketId, 2, 2e6, 300, 60e18);
        _onboard(gens[3], gens[3], 1, marketId, 1, 1, 30, MIN_STAKE);
        _join(cheap, smallMarketId, 1, 2e6, 300);
        _join(gens[2], smallMarketId, 1, 1e6, 900);
        _join(gens[3], smallMarketId, 1, 0, 120);

        MarketplaceHandler.Config memory c;
        c.market = market;
        c.enginePk = me.privateKey;
        c.ivsPk = ivs.privateKey;
        c.treasury = treasury;
        c.funder = makeAddr("funder");
        c.generators = gens;
        c.requesters = new address[](2);
        (c.requesters[0], c.requesters[1]) = (requester, makeAddr("requester2"));
        c.refundAddresses = new address[](3);
        (c.refundAddresses[0], c.refundAddresses[1], c.refundAddresses[2]) =
        (requester, c.requesters[1], makeAddr("refundee"));
        c.keepers = new address[](3);
        (c.keepers[0], c.keepers[1], c.keepers[2]) = (keeper, makeAddr("keeper2"), makeAddr("relayer"));
        c.everyone = new address[](14);
        c.everyone[0] = treasury;
        for (uint256 i; i < 4; ++i) {
            c.everyone[1 + i] = gens[i];
        }
        (c.everyone[5], c.everyone[6]) = (cheapReward, fastReward);
        (c.everyone[7], c.everyone[8], c.everyone[9]) =
        (c.refundAddresses[0], c.refundAddresses[1], c.refundAddresses[2]);
        (c.everyone[10], c.everyone[11], c.everyone[12]) = (c.keepers[0], c.keepers[1], c.keepers[2]);
        c.everyone[13] = c.funder;
        c.marketIds = new uint256[](2);
        (c.marketIds[0], c.marketIds[1]) = (marketId, smallMarketId);
        c.inputs = inputs;
        c.proof = proof;
        // Payers approve the marketplace once (deposits and asks pull from them).
        address[3] memory payers = [requester, c.requesters[1], c.funder];
        for (uint256 i; i < payers.length; ++i) {
            vm.prank(payers[i]);
            usdc.approve(address(market), type(uint256).max);
        }
        handler = new MarketplaceHandler(c);
        targetContract(address(handler));
    }

    function _join(address gen, uint256 id, uint256 compute, uint256 price, uint256 time) internal {
        vm.prank(gen);
        registry.joinMarket(id, compute, price, time);
    }

    /// Every property, after every call of every run.
    function invariant_protocol() public view {
        _checkPaymentTokenConservation();
        _checkStakingTokenConservation();
        _checkAsks();
        _checkTasksWithinAskTerms();
        _checkSettlementsPayExactly();
        _checkBatchNonceUsedOnce();
        _checkAssignmentsFollowTheRules();
    }

    /// Every payment token the marketplace holds is either escrow of an unsettled ask or somebody's claimable
    /// balance (nothing is created, lost or stuck), and equals what came in minus what was withdrawn.
    function _checkPaymentTokenConservation() internal view {
        address[] memory everyone = handler.everyoneList();
        uint256 claimable;
        for (uint256 i; i < everyone.length; ++i) {
            claimable += market.claimable(everyone[i]);
        }
        uint256 balance = usdc.balanceOf(address(market));
        _eq(balance, handler.ghostOpenEscrow() + claimable, "payment token: escrow + claimable");
        _eq(balance, handler.ghostUsdcIn() - handler.ghostUsdcOut(), "payment token: in - out");
        _eq(usdc.balanceOf(address(registry)), 0, "payment token: none in the registry");
    }

    /// Every staking token the registry holds is somebody's stake, pending withdrawal or payout (compensation the
    /// marketplace holds included), and equals what was staked minus what was withdrawn.
    function _checkStakingTokenConservation() internal view {
        address[] memory everyone = handler.everyoneList();
        address[] memory gens = handler.generatorList();
        uint256 total = registry.payoutOf(address(market));
        for (uint256 i; i < gens.length; ++i) {
            IStakingPool.Position memory p = registry.positionOf(gens[i]);
            total += uint256(p.stake) + p.pending;
        }
        for (uint256 i; i < everyone.length; ++i) {
            total += registry.payoutOf(everyone[i]);
        }
        uint256 balance = pond.balanceOf(address(registry));
        _eq(balance, total, "staking token: stake + pending + payouts");
        _eq(balance, handler.ghostPondIn() - handler.ghostPondOut(), "staking token: in - out");
        _eq(pond.balanceOf(address(market)), 0, "staking token: none in the marketplace");
    }

    /// One pass over every ask:
    /// - held compensation: exactly what re-opened, unsettled asks hold, backed by the marketplace's payout balance
    ///   (compensation held for an ask never re-opened would be missing from the sum); asks that ended hold nothing
    ///   (it was paid with a proof or went to the treasury); re-opens are bounded;
    /// - terminal states: each ask reaches one at most once, through a settling call, and it never changes;
    /// - assigned tasks: within the ask (price <= reward, task deadline <= ask deadline) at the assigned price;
    /// - locks: each generator's locked stake and consumed compute are exactly what its assigned tasks hold (each
    ///   its market's penalty), whatever quotes changed and markets were left since.
    function _checkAsks() internal view {
        address[] memory gens = handler.generatorList();
        uint256[] memory compute = new uint256[](gens.length);
        uint256[] memory penalties = new uint256[](gens.length);
        (uint256[] memory ids, IProofMarketplace.AskState[] memory terminal, uint256[] memory taskPrice) =
            handler.askGhosts();
        uint256 held;
        for (uint256 j; j < ids.length; ++j) {
            IProofMarketplace.Ask memory a = market.askOf(ids[j]);
            bool ended =
                a.state == IProofMarketplace.AskState.Completed || a.state == IProofMarketplace.AskState.Refunded;
            if (a.reopens != 0) {
                uint256 h = market.heldCompensation(ids[j]);
                if (ended) _eq(h, 0, "held: a settled ask holds nothing");
                _le(a.reopens, 3, "held: at most MAX_REOPENS re-opens");
                held += h;
            }
            if (terminal[j] != IProofMarketplace.AskState.None) {
                _eq(uint8(a.state), uint8(terminal[j]), "terminal: final");
            }
            if (ended) _eq(uint8(terminal[j]), uint8(a.state), "terminal: reached through a settling call");
            if (a.state == IProofMarketplace.AskState.Assigned) {
                _le(a.price, a.reward, "task: price <= reward");
                _le(a.taskDeadline, a.deadline, "task: task deadline <= ask deadline");
                _eq(a.price, taskPrice[j], "task: price as assigned");
                for (uint256 i; i < gens.length; ++i) {
                    if (gens[i] != a.generator) continue;
                    compute[i] += a.computePerProof;
                    penalties[i] += a.marketId == marketId ? PENALTY : SMALL_PENALTY;
                }
            }
        }
        _eq(registry.payoutOf(address(market)), held, "held: backed by the marketplace's payout");
        _eq(market.MAX_REOPENS(), 3, "held: MAX_REOPENS as assumed");
        _le(handler.ghostMaxSettlements(), 1, "terminal: settles once");
        _eq(handler.ghostTerminalMutated(), 0, "terminal: a settled ask accepted a call");
        for (uint256 i; i < gens.length; ++i) {
            IStakingPool.Position memory p = registry.positionOf(gens[i]);
            IGeneratorRegistry.Generator memory info = registry.generatorOf(gens[i]);
            _eq(info.consumedCompute, compute[i], "locks: compute held by tasks");
            _eq(p.locked, penalties[i], "locks: stake locked by tasks");
            _le(p.locked, p.stake, "locks: locked <= stake");
            _le(info.consumedCompute, info.declaredCompute, "locks: consumed <= declared");
            // Stake requested for withdrawal is never locked or slashed: pending and stake are exactly what stakes,
            // unstake requests, cancellations, withdrawals and penalties should have left.
            _eq(p.pending, handler.ghostPending(gens[i]), "pending: untouched by tasks");
            _eq(p.stake, handler.ghostStake(gens[i]), "stake: changed only by the calls that should");
        }
    }

    /// Every task ever assigned was within its ask (price <= reward, task deadline <= ask deadline), at the
    /// generator's quote and within the caps the engine signed (checked as each task is recorded).
    function _checkTasksWithinAskTerms() internal view {
        uint256 bad = handler.ghostBadTask();
        if (bad == 0) return;
        MarketplaceHandler.Task memory t = handler.task(bad - 1);
        _le(t.price, t.reward, "task: price <= reward");
        _le(t.taskDeadline, t.askDeadline, "task: task deadline <= ask deadline");
        _eq(t.price, t.quotePrice, "task: at the quote");
        _le(t.price, t.maxPrice, "task: price <= signed max price");
        _eq(t.taskDeadline, t.assignedAt + t.quoteTime, "task: deadline = assignment + quoted time");
        _le(t.quoteTime, t.maxProofTime, "task: proof time <= signed max proof time");
    }

    /// Every settling call credited exactly what it should (claimable and payout deltas measured around the call):
    /// a completion price to the generator's reward address and reward - price to the requester; held compensation
    /// to the requester only with a proof, else to the treasury; a slash or discard exactly its penalty, split
    /// between held, keeper and treasury; a refund the reward.
    function _checkSettlementsPayExactly() internal view {
        uint256 bad = handler.ghostBadSettlement();
        if (bad == 0) return;
        MarketplaceHandler.Settlement memory s = handler.settlement(bad - 1);
        _eq(s.toGenerator, s.expectedToGenerator, "settlement: to the generator");
        _eq(s.toRequester, s.expectedToRequester, "settlement: to the requester");
        _eq(s.heldToRequester, s.expectedHeldToRequester, "settlement: held to the requester");
        _eq(s.toTreasury, s.expectedToTreasury, "settlement: to the treasury");
        _eq(s.toKeeper, s.expectedToKeeper, "settlement: to the keeper");
        _eq(s.heldAfter, s.expectedHeldAfter, "settlement: held by the marketplace");
        _eq(s.stakeTaken, s.expectedStakeTaken, "settlement: stake taken");
        _eq(s.state, s.expectedState, "settlement: resulting state");
    }

    /// A batch nonce is used once: relaying a used or cancelled batch always reverts (with `NonceUsed` until it
    /// expires), and one account's invalidation never marks another's nonces.
    function _checkBatchNonceUsedOnce() internal view {
        _eq(handler.ghostReplayAccepted(), 0, "nonce: a replayed batch was accepted");
        _eq(handler.ghostReplayWrongError(), 0, "nonce: a replay failed on something other than NonceUsed");
        _eq(handler.ghostCancelledBatchRelayed(), 0, "nonce: a cancelled batch was relayed");
        _eq(handler.ghostForeignInvalidationLeaked(), 0, "nonce: another account's invalidation applied");
    }

    /// Every single assignment (engine key, self-assignment) succeeded or failed exactly as the rules predict, and
    /// every relayed batch reported the assignments it made, to the generators it named.
    function _checkAssignmentsFollowTheRules() internal view {
        _eq(handler.ghostAssignMispredicted(), 0, "assignment: outcome differs from the rules");
        _eq(handler.ghostRelayMiscounted(), 0, "assignment: batch count or generator differs");
    }

    /// `assertEq` / `assertLe` that reach the cheatcode only on a failure: the checks run after every call, and
    /// most of their time went into passing assertions.
    function _eq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) assertEq(a, b, what);
    }

    function _le(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) assertLe(a, b, what);
    }

    /// Unwinds everything: every open or assigned ask is slashed or refunded after its deadline, every generator
    /// unstakes and withdraws after the delay, and everybody claims every balance and payout. Then the marketplace
    /// and the registry hold nothing of either token: every wei came back to somebody.
    function afterInvariant() external {
        uint256 latest = block.timestamp;
        for (uint256 j; j < handler.askCount(); ++j) {
            uint256 deadline = market.askOf(handler.askIds(j)).deadline;
            if (deadline > latest) latest = deadline;
        }
        vm.warp(latest + 1);
        for (uint256 j; j < handler.askCount(); ++j) {
            uint256 askId = handler.askIds(j);
            IProofMarketplace.AskState s = market.askOf(askId).state;
            if (s == IProofMarketplace.AskState.Assigned) {
                vm.prank(keeper);
                market.slash(askId);
            } else if (s == IProofMarketplace.AskState.Created) {
                market.refundExpired(askId);
            }
            s = market.askOf(askId).state;
            assertTrue(
                s == IProofMarketplace.AskState.Completed || s == IProofMarketplace.AskState.Refunded,
                "unwind: every ask ended"
            );
        }
        assertEq(registry.payoutOf(address(market)), 0, "unwind: no compensation held");

        for (uint256 i; i < handler.generatorCount(); ++i) {
            address g = handler.generators(i);
            IStakingPool.Position memory p = registry.positionOf(g);
            assertEq(p.locked, 0, "unwind: nothing locked");
            assertEq(_consumed(g), 0, "unwind: no compute in use");
            if (p.stake != 0) {
                vm.prank(g);
                registry.requestUnstake(p.stake);
            }
        }
        vm.warp(block.timestamp + registry.withdrawalDelay());
        for (uint256 i; i < handler.generatorCount(); ++i) {
            address g = handler.generators(i);
            if (registry.positionOf(g).pending == 0) continue;
            vm.prank(g);
            registry.unstake(g);
        }

        for (uint256 i; i < handler.everyoneCount(); ++i) {
            address a = handler.everyone(i);
            vm.startPrank(a);
            market.withdraw(a, market.claimable(a));
            registry.withdrawPayout(a, registry.payoutOf(a));
            vm.stopPrank();
        }
        assertEq(usdc.balanceOf(address(market)), 0, "unwind: no payment token left in the marketplace");
        assertEq(pond.balanceOf(address(market)), 0, "unwind: no staking token left in the marketplace");
        assertEq(usdc.balanceOf(address(registry)), 0, "unwind: no payment token left in the registry");
        assertEq(pond.balanceOf(address(registry)), 0, "unwind: no staking token left in the registry");
    }
}
