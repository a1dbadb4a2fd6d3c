// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ProtocolDeployer} from "../script/ProtocolDeployer.sol";
import {TestToken} from "../src/dev/TestToken.sol";
import {IGeneratorRegistry} from "../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../src/interfaces/IProofMarketplace.sol";
import {IStakingPool} from "../src/interfaces/IStakingPool.sol";
import {IVerifier} from "../src/interfaces/IVerifier.sol";
import {ProofMarketplace} from "../src/marketplace/ProofMarketplace.sol";
import {EntityKeyRegistry} from "../src/registry/EntityKeyRegistry.sol";
import {GeneratorRegistry} from "../src/registry/GeneratorRegistry.sol";
import {Groth16Verifier} from "../src/verifiers/Groth16Verifier.sol";
import {MarketplaceDigests} from "./utils/MarketplaceDigests.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @notice The deployed protocol with one real Groth16 market (MiMC hash chain, proof fixture produced by the
/// Rust prover) and helpers to drive it.
abstract contract Base is Test, ProtocolDeployer {
    Deployment internal d;
    ProofMarketplace internal market;
    GeneratorRegistry internal registry;
    EntityKeyRegistry internal keys;
    TestToken internal usdc;
    TestToken internal pond;

    address internal admin = makeAddr("admin");
    address internal treasury = makeAddr("treasury");
    address internal requester = makeAddr("requester");
    address internal keeper = makeAddr("keeper");
    Vm.Wallet internal me;
    Vm.Wallet internal ivs;

    /// Generators: `cheap` (slow and cheap), `fast` (fast and expensive).
    address internal cheap = makeAddr("cheap");
    address internal fast = makeAddr("fast");
    address internal cheapReward = makeAddr("cheapReward");
    address internal fastReward = makeAddr("fastReward");

    Groth16Verifier internal verifier;
    uint256 internal marketId;
    bytes internal inputs;
    bytes internal proof;

    uint256 internal constant PENALTY = 10e18;
    uint256 internal constant MIN_STAKE = 20e18;
    uint256 internal constant FALLBACK_DELAY = 1 hours;
    uint256 internal constant REWARD = 5e6;
    uint256 internal constant CHEAP_PRICE = 1e6;
    uint256 internal constant CHEAP_TIME = 600;
    uint256 internal constant FAST_PRICE = 3e6;
    uint256 internal constant FAST_TIME = 60;

    function setUp() public virtual {
        vm.warp(1_700_000_000);
        me = vm.createWallet("matching-engine");
        ivs = vm.createWallet("ivs");

        vm.startPrank(admin);
        d = _deployProtocol(_defaultConfig(admin, treasury));
        market = d.marketplace;
        registry = d.generatorRegistry;
        keys = d.keyRegistry;
        usdc = TestToken(address(d.paymentToken));
        pond = TestToken(address(d.stakingToken));
        keys.setMatchingEngineKey(_pubkey(me));
        vm.stopPrank();

        (inputs, proof) = _fixtureStatement();
        verifier = _deployVerifier();
        marketId = _createMarket(bytes32(0));
        vm.prank(makeAddr("creator"));
        keys.addIvsSigner(marketId, _pubkey(ivs));

        _onboard(cheap, cheapReward, 4, marketId, 1, CHEAP_PRICE, CHEAP_TIME, 100e18);
        _onboard(fast, fastReward, 4, marketId, 1, FAST_PRICE, FAST_TIME, 100e18);

        usdc.mint(requester, 1_000_000e6);
        vm.prank(requester);
        usdc.approve(address(market), type(uint256).max);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Fixture
    // ------------------------------------------------------------------------------------------------------------

    function _fixture() internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/groth16_mimc.json"));
    }

    function _fixtureStatement() internal view returns (bytes memory inputs_, bytes memory proof_) {
        string memory json = _fixture();
        inputs_ = vm.parseJsonBytes(json, ".inputs");
        proof_ = vm.parseJsonBytes(json, ".proof");
    }

    function _deployVerifier() internal returns (Groth16Verifier) {
        string memory json = _fixture();
        return Groth16Verifier(
            d.verifierFactory
                .deployGroth16(vm.parseJsonBytes(json, ".vk"), vm.parseJsonUint(json, ".numInputs"), inputs, proof)
        );
    }

    // ------------------------------------------------------------------------------------------------------------
    // Actors
    // ------------------------------------------------------------------------------------------------------------

    function _pubkey(Vm.Wallet memory w) internal pure returns (bytes memory) {
        return abi.encodePacked(w.publicKeyX, w.publicKeyY);
    }

    function _createMarket(bytes32 proverImage) internal returns (uint256 id) {
        address creator = makeAddr("creator");
        usdc.mint(creator, 10e6);
        vm.startPrank(creator);
        usdc.approve(address(market), 10e6);
        id = market.createMarket(verifier, proverImage, bytes32(0), PENALTY, MIN_STAKE, FALLBACK_DELAY, "mimc-64");
        vm.stopPrank();
    }

    function _onboard(
        address generator,
        address rewardAddress,
        uint256 declaredCompute,
        uint256 marketId_,
        uint256 computePerProof,
        uint256 price,
        uint256 maxProofTime,
        uint256 stake
    ) internal {
        pond.mint(generator, stake);
        vm.startPrank(generator);
        registry.register(rewardAddress, declaredCompute, "gpu-box");
        pond.approve(address(registry), stake);
        registry.stake(stake);
        registry.joinMarket(marketId_, computePerProof, price, maxProofTime);
        vm.stopPrank();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Asks and tasks
    // ------------------------------------------------------------------------------------------------------------

    function _request(uint256 marketId_, uint256 reward, uint256 deadline)
        internal
        view
        returns (IProofMarketplace.AskRequest memory r)
    {
        r.marketId = marketId_;
        r.reward = reward;
        r.deadline = deadline;
        r.preference = IProofMarketplace.Preference.Cost;
        r.refundAddress = requester;
        r.proverData = inputs;
    }

    function _ask() internal returns (uint256) {
        return _ask(REWARD, block.timestamp + 1 hours);
    }

    function _ask(uint256 reward, uint256 deadline) internal returns (uint256 askId) {
        vm.prank(requester);
        askId = market.createAsk(_request(marketId, reward, deadline));
    }

    function _assign(uint256 askId, address generator) internal {
        vm.prank(me.addr);
        market.assignTask(_item(askId, generator, ""));
    }

    /// An assignment with no signed caps beyond the ask's own reward and deadline.
    function _item(uint256 askId, address generator, bytes memory acl)
        internal
        pure
        returns (IProofMarketplace.Assignment memory)
    {
        return IProofMarketplace.Assignment(askId, generator, type(uint256).max, type(uint256).max, acl);
    }

    function _signBatch(
        Vm.Wallet memory signer,
        IProofMarketplace.Assignment[] memory items,
        uint256 nonce,
        uint256 expiry
    ) internal returns (bytes memory) {
        bytes32 digest = MarketplaceDigests.assignBatch(market.domainSeparator(), items, nonce, expiry);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signer, digest);
        return abi.encodePacked(r, s, v);
    }

    function _stakeOf(address generator) internal view returns (uint256 stake, uint256 locked) {
        IStakingPool.Position memory p = registry.positionOf(generator);
        return (p.stake, p.locked);
    }

    function _consumed(address generator) internal view returns (uint256) {
        return registry.generatorOf(generator).consumedCompute;
    }

    function _state(uint256 askId) internal view returns (IProofMarketplace.AskState) {
        return market.askState(askId);
    }

    function _skip(IGeneratorRegistry.SkipReason reason, uint256 askId, address generator)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IProofMarketplace.AskNotAssignable.selector, askId, generator, reason);
    }
}
