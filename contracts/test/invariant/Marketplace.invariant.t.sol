// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestToken} from "../../src/dev/TestToken.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {ProofMarketplace} from "../../src/marketplace/ProofMarketplace.sol";
import {GeneratorRegistry} from "../../src/registry/GeneratorRegistry.sol";
import {Base} from "../Base.t.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

/// @notice Drives the marketplace through random sequences of the whole ask lifecycle, tracking what must hold
/// in ghost variables.
contract MarketplaceHandler is CommonBase, StdCheats, StdUtils {
    ProofMarketplace internal market;
    GeneratorRegistry internal registry;
    TestToken internal usdc;
    address internal me;
    address internal requester;
    bytes internal inputs;
    bytes internal proof;
    uint256 internal marketId;

    address[] public generators;
    address[] public accounts;
    uint256[] public askIds;

    /// Sum of rewards of asks still open or assigned (escrow not yet credited to anyone).
    uint256 public ghostOpenEscrow;
    /// Times each ask reached a terminal state (Completed or Refunded).
    mapping(uint256 askId => uint256) public ghostSettlements;
    uint256 public ghostMaxSettlements;
    mapping(bytes32 => uint256) public calls;

    constructor(
        ProofMarketplace market_,
        address me_,
        address requester_,
        address[] memory generators_,
        address[] memory accounts_,
        bytes memory inputs_,
        bytes memory proof_,
        uint256 marketId_
    ) {
        market = market_;
        registry = GeneratorRegistry(address(market_.generatorRegistry()));
        usdc = TestToken(market_.paymentToken());
        me = me_;
        requester = requester_;
        generators = generators_;
        accounts = accounts_;
        inputs = inputs_;
        proof = proof_;
        marketId = marketId_;
    }

    function createAsk(uint256 reward, uint256 ttl, bool timePreferred) external {
        reward = bound(reward, 1, 1000e6);
        ttl = bound(ttl, 1 minutes, 4 hours);
        IProofMarketplace.AskRequest memory r;
        r.marketId = marketId;
        r.reward = reward;
        r.deadline = block.timestamp + ttl;
        r.preference = timePreferred ? IProofMarketplace.Preference.Time : IProofMarketplace.Preference.Cost;
        r.refundAddress = requester;
        r.proverData = inputs;
        usdc.mint(requester, reward);
        vm.prank(requester);
        askIds.push(market.createAsk(r));
        ghostOpenEscrow += reward;
        calls["createAsk"]++;
    }

    function assign(uint256 askSeed, uint256 genSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Created);
        if (askId == 0) return;
        address gen = generators[genSeed % generators.length];
        vm.prank(me);
        try market.assignTask(IProofMarketplace.Assignment(askId, gen, type(uint256).max, type(uint256).max, "")) {
            calls["assign"]++;
        } catch {
            calls["assign-skipped"]++;
        }
    }

    function submitProof(uint256 askSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Assigned);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (a.state != IProofMarketplace.AskState.Assigned || block.timestamp > a.taskDeadline) return;
        market.submitProof(askId, inputs, proof);
        _settled(askId, a.reward);
        calls["submitProof"]++;
    }

    function discard(uint256 askSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Assigned);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (a.state != IProofMarketplace.AskState.Assigned || block.timestamp > a.taskDeadline) return;
        vm.prank(a.generator);
        market.discard(askId);
        if (market.askOf(askId).state == IProofMarketplace.AskState.Refunded) _settled(askId, a.reward);
        calls["discard"]++;
    }

    function slash(uint256 askSeed, uint256 keeperSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Assigned);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (a.state != IProofMarketplace.AskState.Assigned || block.timestamp <= a.taskDeadline) return;
        vm.prank(accounts[keeperSeed % accounts.length]);
        market.slash(askId);
        if (market.askOf(askId).state == IProofMarketplace.AskState.Refunded) _settled(askId, a.reward);
        calls["slash"]++;
    }

    function refundOrCancel(uint256 askSeed) external {
        uint256 askId = _pick(askSeed, IProofMarketplace.AskState.Created);
        if (askId == 0) return;
        IProofMarketplace.Ask memory a = market.askOf(askId);
        if (a.state != IProofMarketplace.AskState.Created) return;
        if (block.timestamp > a.deadline) {
            market.refundExpired(askId);
        } else {
            vm.prank(requester);
            market.cancelAsk(askId);
        }
        _settled(askId, a.reward);
        calls["refund"]++;
    }

    function withdraw(uint256 accountSeed, uint256 amount) external {
        address account = accounts[accountSeed % accounts.length];
        amount = bound(amount, 0, market.claimable(account));
        vm.prank(account);
        market.withdraw(account, amount);
        calls["withdraw"]++;
    }

    function leaveOrRejoin(uint256 genSeed) external {
        address gen = generators[genSeed % generators.length];
        vm.startPrank(gen);
        if (registry.quoteOf(marketId, gen).maxProofTime != 0) {
            registry.leaveMarket(marketId);
        } else {
            registry.joinMarket(marketId, 1, 1e6, 120);
        }
        vm.stopPrank();
        calls["leaveOrRejoin"]++;
    }

    function warp(uint256 secs) external {
        vm.warp(block.timestamp + bound(secs, 1, 15 minutes));
        calls["warp"]++;
    }

    function askCount() external view returns (uint256) {
        return askIds.length;
    }

    function accountCount() external view returns (uint256) {
        return accounts.length;
    }

    function generatorCount() external view returns (uint256) {
        return generators.length;
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

    function _settled(uint256 askId, uint256 reward) internal {
        ghostOpenEscrow -= reward;
        uint256 n = ++ghostSettlements[askId];
        if (n > ghostMaxSettlements) ghostMaxSettlements = n;
    }
}

/// @notice Invariants of the marketplace, registry and staking pool under random lifecycles.
contract MarketplaceInvariantTest is Base {
    MarketplaceHandler internal handler;

    function setUp() public override {
        super.setUp();
        address[] memory gens = new address[](4);
        gens[0] = cheap;
        gens[1] = fast;
        gens[2] = makeAddr("mid");
        gens[3] = makeAddr("tiny");
        _onboard(gens[2], gens[2], 3, marketId, 2, 2e6, 300, 60e18);
        _onboard(gens[3], gens[3], 1, marketId, 1, 1, 30, MIN_STAKE);

        address[] memory accounts = new address[](7);
        accounts[0] = requester;
        accounts[1] = cheapReward;
        accounts[2] = fastReward;
        accounts[3] = gens[2];
        accounts[4] = gens[3];
        accounts[5] = treasury;
        accounts[6] = keeper;
        handler = new MarketplaceHandler(market, me.addr, requester, gens, accounts, inputs, proof, marketId);
        targetContract(address(handler));
    }

    /// Every payment token the marketplace holds is either escrow of an unsettled ask or somebody's claimable
    /// balance: nothing is created, lost or stuck.
    function invariant_paymentTokenConservation() public view {
        uint256 claimable;
        for (uint256 i; i < handler.accountCount(); ++i) {
            claimable += market.claimable(handler.accounts(i));
        }
        assertEq(usdc.balanceOf(address(market)), handler.ghostOpenEscrow() + claimable);
    }

    /// Locked stake never exceeds stake, and consumed compute never exceeds declared compute.
    function invariant_locksWithinStakeAndCompute() public view {
        for (uint256 i; i < handler.generatorCount(); ++i) {
            address g = handler.generators(i);
            (uint256 stake, uint256 locked) = _stakeOf(g);
            assertLe(locked, stake, "locked <= stake");
            IGeneratorRegistry.Generator memory info = registry.generatorOf(g);
            assertLe(info.consumedCompute, info.declaredCompute, "consumed <= declared");
        }
    }

    /// Locked stake and consumed compute are exactly what the assigned tasks hold.
    function invariant_locksMatchAssignedTasks() public view {
        for (uint256 i; i < handler.generatorCount(); ++i) {
            address g = handler.generators(i);
            uint256 compute;
            uint256 tasks;
            // Leaving and re-joining markets must not disturb tasks in flight (exercised by the handler).
            for (uint256 j; j < handler.askCount(); ++j) {
                IProofMarketplace.Ask memory a = market.askOf(handler.askIds(j));
                if (a.state == IProofMarketplace.AskState.Assigned && a.generator == g) {
                    compute += a.computePerProof;
                    ++tasks;
                }
            }
            (, uint256 locked) = _stakeOf(g);
            assertEq(_consumed(g), compute, "compute held by tasks");
            assertEq(locked, tasks * PENALTY, "stake locked by tasks");
        }
    }

    /// Every staking token the registry holds is somebody's stake, pending withdrawal or slashed payout.
    function invariant_stakingTokenConservation() public view {
        uint256 total;
        for (uint256 i; i < handler.generatorCount(); ++i) {
            address g = handler.generators(i);
            total += registry.positionOf(g).stake + registry.positionOf(g).pending;
        }
        for (uint256 i; i < handler.accountCount(); ++i) {
            address a = handler.accounts(i);
            bool isGenerator;
            for (uint256 j; j < handler.generatorCount(); ++j) {
                if (handler.generators(j) == a) isGenerator = true;
            }
            if (!isGenerator) total += registry.payoutOf(a);
        }
        for (uint256 j; j < handler.generatorCount(); ++j) {
            total += registry.payoutOf(handler.generators(j));
        }
        total += registry.payoutOf(address(market));
        assertEq(pond.balanceOf(address(registry)), total);
    }

    /// Compensation held by the marketplace is exactly what its re-opened, unsettled asks hold; asks that ended
    /// hold nothing (it was paid with a proof or went to the treasury).
    function invariant_heldCompensationBacked() public view {
        uint256 held;
        for (uint256 j; j < handler.askCount(); ++j) {
            uint256 askId = handler.askIds(j);
            IProofMarketplace.Ask memory a = market.askOf(askId);
            uint256 h = market.heldCompensation(askId);
            if (a.state == IProofMarketplace.AskState.Completed || a.state == IProofMarketplace.AskState.Refunded) {
                assertEq(h, 0, "a settled ask holds nothing");
            }
            if (a.reopens == 0) assertEq(h, 0, "only re-opened asks hold compensation");
            assertLe(a.reopens, market.MAX_REOPENS(), "re-opens bounded");
            held += h;
        }
        assertEq(registry.payoutOf(address(market)), held);
    }

    /// Each ask reaches a terminal state at most once.
    function invariant_eachAskSettlesOnce() public view {
        assertLe(handler.ghostMaxSettlements(), 1);
    }

    /// Once every ask has expired and been cleaned up and every balance withdrawn, the marketplace holds nothing.
    function afterInvariant() external {
        vm.warp(block.timestamp + 5 hours);
        for (uint256 j; j < handler.askCount(); ++j) {
            uint256 askId = handler.askIds(j);
            IProofMarketplace.AskState s = market.askOf(askId).state;
            if (s == IProofMarketplace.AskState.Assigned) market.slash(askId);
            else if (s == IProofMarketplace.AskState.Created) market.refundExpired(askId);
        }
        address[] memory everyone = new address[](handler.accountCount() + 1);
        for (uint256 i; i < handler.accountCount(); ++i) {
            everyone[i] = handler.accounts(i);
        }
        everyone[handler.accountCount()] = address(this);
        for (uint256 i; i < everyone.length; ++i) {
            uint256 amount = market.claimable(everyone[i]);
            vm.prank(everyone[i]);
            market.withdraw(everyone[i], amount);
        }
        assertEq(usdc.balanceOf(address(market)), 0, "no stuck funds");
    }
}
