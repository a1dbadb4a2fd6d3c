// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IRestakingPool} from "../../src/interfaces/IRestakingPool.sol";
import {RestakingPool} from "../../src/staking/RestakingPool.sol";
import {Restaking} from "../utils/Restaking.sol";
import {TeeMarket} from "../utils/TeeMarket.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Gas of the happy path, written to snapshots/*.json and checked in CI (`FOUNDRY_PROFILE=gas` runs every
/// call as its own transaction, so cold and warm storage access is what a real transaction sees).
/// Each figure is recorded twice: `<name>` is execution gas (transaction gas minus the 21,000 intrinsic cost and
/// the calldata cost), `<name>_tx` is what the transaction pays.
contract GasTest is TeeMarket {
    uint256 internal constant BATCH = 32;
    address internal big = makeAddr("big");
    uint256 internal verifierGas;
    uint256 internal slashTarget;
    uint256 internal createFromBalance;

    function setUp() public override {
        super.setUp();
        // A generator with room for a full batch; the requester, reward address, keeper and treasury already hold
        // balances, as they do in a running market.
        _onboard(big, big, 1000, marketId, 1, CHEAP_PRICE, CHEAP_TIME, 1000 * PENALTY);
        _assign(_ask(), big);
        market.submitProof(1, inputs, proof);
        // Slash payouts already credited to requester, keeper and treasury (recurring actors).
        _assign(_ask(), big);
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        vm.prank(keeper);
        market.slash(2);
    }

    function test_gas_lifecycle() public {
        // createAsk with 256-byte inputs: the statement followed by witness bytes the verifier ignores.
        bytes memory data = new bytes(256);
        for (uint256 i; i < data.length; ++i) {
            data[i] = i < inputs.length ? inputs[i] : bytes1(uint8(i | 1));
        }
        IProofMarketplace.AskRequest memory r = _request(marketId, REWARD, block.timestamp + 1 hours);
        r.proverData = data;
        uint256 create =
            _measure("ProofMarketplace", "createAsk_256B", requester, abi.encodeCall(market.createAsk, (r)));
        uint256 first = market.askCount();
        // The same ask paid from the requester's balance in the marketplace (deposits, earlier refunds).
        vm.prank(requester);
        market.deposit(requester, REWARD);
        createFromBalance = _measure(
            "ProofMarketplace", "createAskFromBalance_256B", requester, abi.encodeCall(market.createAskFromBalance, (r))
        );
        uint256 assign = _assignBatch(r, first);
        uint256 submit = _submit(data, first);
        vm.snapshotValue("ProofMarketplace", "lifecycle_create_assign32_submit", create + assign + submit);
        vm.snapshotValue("ProofMarketplace", "lifecycle_excluding_verifier", create + assign + submit - verifierGas);
        vm.snapshotValue(
            "ProofMarketplace",
            "lifecycle_from_balance_excluding_verifier",
            createFromBalance + assign + submit - verifierGas
        );

        // Slash a missed deadline (the ask re-opens).
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        _measure("ProofMarketplace", "slash", keeper, abi.encodeCall(market.slash, (slashTarget)));
    }

    /// A signed batch of 32 assignments relayed by a third party; returns execution gas per ask.
    function _assignBatch(IProofMarketplace.AskRequest memory r, uint256 first) internal returns (uint256 perAsk) {
        IProofMarketplace.Assignment[] memory items = new IProofMarketplace.Assignment[](BATCH);
        for (uint256 i; i < BATCH; ++i) {
            uint256 askId = first;
            if (i != 0) {
                vm.prank(requester);
                askId = market.createAsk(r);
            }
            // The engine signs the quote it matched on.
            items[i] = IProofMarketplace.Assignment(askId, big, CHEAP_PRICE, CHEAP_TIME, "");
        }
        slashTarget = items[1].askId;
        uint256 expiry = block.timestamp + 60;
        bytes memory sig = _signBatch(me, items, 1, expiry);
        uint256 batch = _measure(
            "ProofMarketplace",
            "relayAssignments_batch32",
            makeAddr("relayer"),
            abi.encodeCall(market.relayAssignments, (items, 1, expiry, sig))
        );
        perAsk = batch / BATCH;
        vm.snapshotValue("ProofMarketplace", "assign_in_batch32_per_ask", perAsk);

        // Direct assignment of one ask by the Matching Engine key.
        vm.prank(requester);
        uint256 single = market.createAsk(r);
        _measure(
            "ProofMarketplace",
            "assignTask_direct",
            me.addr,
            abi.encodeCall(market.assignTask, (IProofMarketplace.Assignment(single, big, CHEAP_PRICE, CHEAP_TIME, "")))
        );
    }

    /// submitProof, and the verifier's share of it measured on its own; returns submitProof execution gas.
    function _submit(bytes memory data, uint256 askId) internal returns (uint256 submit) {
        submit =
            _measure("ProofMarketplace", "submitProof", big, abi.encodeCall(market.submitProof, (askId, data, proof)));
        uint256 verify = _measure(
            "ProofMarketplace",
            "groth16_verify_2_signals",
            big,
            abi.encodeCall(verifier.verify, (data, proof)),
            address(verifier)
        );
        // Called directly, the verifier pays the same cold-account access it pays when the marketplace calls it.
        vm.snapshotValue("ProofMarketplace", "submitProof_excluding_verifier", submit - verify);
        verifierGas = verify;
    }

    /// `submitProof` of a confidential ask in a TEE market: the marketplace reads the ask's secret commitment and the
    /// `TeeVerifier` recovers the enclave's signature and reads the key's image from the registry.
    function test_gas_teeSubmitProof() public {
        uint256 askId = _confidentialAsk("ciphertext");
        _assign(askId, cheap);
        bytes memory teeProof = _proof(askId, "output of the enclave", cheap);
        _measure(
            "ProofMarketplace",
            "submitProof_tee",
            cheap,
            abi.encodeCall(market.submitProof, (askId, TASK_INPUT, teeProof))
        );
    }

    function test_gas_generatorOperations() public {
        address gen = makeAddr("gas-gen");
        pond.mint(gen, 100e18);
        vm.prank(gen);
        pond.approve(address(registry), 100e18);
        _measure(
            "GeneratorRegistry",
            "register",
            gen,
            abi.encodeCall(registry.register, (gen, 8, "gpu-box")),
            address(registry)
        );
        _measure("GeneratorRegistry", "stake", gen, abi.encodeCall(registry.stake, (100e18)), address(registry));
        _measure(
            "GeneratorRegistry",
            "joinMarket",
            gen,
            abi.encodeCall(registry.joinMarket, (marketId, 1, CHEAP_PRICE, CHEAP_TIME)),
            address(registry)
        );
        _measure(
            "GeneratorRegistry",
            "updateQuote",
            gen,
            abi.encodeCall(registry.updateQuote, (marketId, 1, CHEAP_PRICE + 1, CHEAP_TIME)),
            address(registry)
        );
        _measure(
            "GeneratorRegistry", "leaveMarket", gen, abi.encodeCall(registry.leaveMarket, (marketId)), address(registry)
        );
    }

    /// Restaked collateral: a committee snapshot (2-of-3 signatures) of one and of 32 operators, then a task covered
    /// by the restaked pool (the native pool is tried first and falls short), slashed: the L2 half of a bridged slash.
    function test_gas_restaking() public {
        Vm.Wallet[] memory committee = new Vm.Wallet[](2);
        committee[0] = vm.createWallet("committee-1");
        committee[1] = vm.createWallet("committee-2");
        address[] memory members = new address[](3);
        (members[0], members[1], members[2]) = (committee[0].addr, committee[1].addr, makeAddr("committee-3"));
        RestakingPool pool =
            new RestakingPool(address(registry), admin, Restaking.params(block.timestamp - 600, 600), members, 2);
        vm.prank(admin);
        registry.addCollateralPool(pool);
        address restaker = makeAddr("restaker");
        vm.startPrank(restaker);
        registry.register(restaker, 4, "restaked-box");
        registry.joinMarket(marketId, 1, CHEAP_PRICE, CHEAP_TIME);
        vm.stopPrank();

        IRestakingPool.Snapshot memory one = Restaking.one(1, 0, restaker, 100e18);
        bytes[] memory sigs = Restaking.sign(pool, one, committee);
        _measure(
            "RestakingPool",
            "submitSnapshot_1op",
            keeper,
            abi.encodeCall(pool.submitSnapshot, (one, sigs)),
            address(pool)
        );
        vm.warp(pool.epochStart(2) + 1);
        IRestakingPool.Snapshot memory many;
        many.epoch = 2;
        many.operators = new address[](BATCH);
        many.stakes = new uint256[](BATCH);
        for (uint256 i; i < BATCH; ++i) {
            many.operators[i] = i == 0 ? restaker : makeAddr(string.concat("operator-", vm.toString(i)));
            many.stakes[i] = 100e18 + i;
        }
        sigs = Restaking.sign(pool, many, committee);
        _measure(
            "RestakingPool",
            "submitSnapshot_32ops",
            keeper,
            abi.encodeCall(pool.submitSnapshot, (many, sigs)),
            address(pool)
        );

        uint256 askId = _ask();
        _measure(
            "RestakingPool",
            "assignTask_restaked",
            me.addr,
            abi.encodeCall(market.assignTask, (_item(askId, restaker, "")))
        );
        vm.warp(block.timestamp + CHEAP_TIME + 1);
        _measure("RestakingPool", "slash_restaked", keeper, abi.encodeCall(market.slash, (askId)));
    }

    // ------------------------------------------------------------------------------------------------------------

    function _measure(string memory group, string memory name, address from, bytes memory data)
        internal
        returns (uint256)
    {
        return _measure(group, name, from, data, address(market));
    }

    /// Sends `data` to `to` from `from` as its own transaction; records execution and transaction gas.
    function _measure(string memory group, string memory name, address from, bytes memory data, address to)
        internal
        returns (uint256 exec)
    {
        vm.prank(from);
        (bool ok,) = to.call(data);
        require(ok, name);
        uint256 txGas = vm.snapshotGasLastCall(group, string.concat(name, "_tx"));
        exec = txGas - 21_000 - _calldataGas(data);
        vm.snapshotValue(group, name, exec);
    }

    /// EIP-2028 calldata cost: 4 gas per zero byte, 16 per non-zero byte.
    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }
}
