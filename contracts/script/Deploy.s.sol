// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {TestToken} from "../src/dev/TestToken.sol";
import {IVerifier} from "../src/interfaces/IVerifier.sol";
import {ProtocolDeployer} from "./ProtocolDeployer.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Script, console} from "forge-std/Script.sol";

/// @title Deploy
/// @notice Deploys the whole protocol with mintable test tokens, plus a sample Groth16 market (MiMC hash chain,
/// verifying key from test/fixtures/groth16_mimc.json), and writes the addresses to deployments/<chainId>.json.
/// @dev `forge script script/Deploy.s.sol --rpc-url $RPC --broadcast --private-key $KEY`. The admin role of every
/// contract goes to a new TimelockController (delay TIMELOCK_DELAY seconds, default 2 days) whose proposer is
/// GOVERNANCE; PAUSER, KEY_ADMIN and TREASURY name the other role holders. Each defaults to the broadcaster, which
/// keeps no role it is not named for. MATCHING_ENGINE_PUBKEY (64 bytes) registers the ME key.
contract Deploy is Script, ProtocolDeployer {
    /// @notice The timelock's delay when TIMELOCK_DELAY is not set.
    uint256 public constant DEFAULT_TIMELOCK_DELAY = 2 days;

    function run() external returns (Deployment memory d, uint256 sampleMarketId, TimelockController timelock) {
        string memory fixture = vm.readFile(string.concat(vm.projectRoot(), "/test/fixtures/groth16_mimc.json"));

        uint256 deployBlock = block.number;
        vm.startBroadcast();
        (, address deployer,) = vm.readCallers(); // the broadcaster (--private-key / --sender)
        address[] memory proposers = new address[](1);
        proposers[0] = vm.envOr("GOVERNANCE", deployer);
        timelock = _deployTimelock(vm.envOr("TIMELOCK_DELAY", DEFAULT_TIMELOCK_DELAY), proposers);
        DeployConfig memory cfg = _defaultConfig(deployer, vm.envOr("TREASURY", deployer));
        cfg.admin = address(timelock);
        cfg.pauser = vm.envOr("PAUSER", deployer);
        cfg.keyAdmin = vm.envOr("KEY_ADMIN", deployer);
        cfg.matchingEngineKey = vm.envOr("MATCHING_ENGINE_PUBKEY", bytes(""));
        d = _deployProtocol(cfg);
        IVerifier verifier = IVerifier(
            d.verifierFactory
                .deployGroth16(
                    vm.parseJsonBytes(fixture, ".vk"),
                    vm.parseJsonUint(fixture, ".numInputs"),
                    vm.parseJsonBytes(fixture, ".inputs"),
                    vm.parseJsonBytes(fixture, ".proof")
                )
        );
        uint256 cost = d.marketplace.params().marketCreationCost;
        TestToken(address(d.paymentToken)).mint(deployer, cost); // creating a market needs no role
        d.paymentToken.approve(address(d.marketplace), cost);
        sampleMarketId = d.marketplace
            .createMarket(
                verifier,
                bytes32(0),
                bytes32(0),
                10e18,
                20e18,
                1 hours,
                bytes('{"name":"mimc-chain-64","kind":"groth16"}')
            );
        vm.stopBroadcast();

        _write(d, address(timelock), address(verifier), sampleMarketId, deployBlock);
    }

    function _write(
        Deployment memory d,
        address timelock,
        address verifier,
        uint256 sampleMarketId,
        uint256 deployBlock
    ) internal {
        string memory k = "deployment";
        vm.serializeAddress(k, "timelock", timelock);
        vm.serializeUint(k, "chainId", block.chainid);
        vm.serializeUint(k, "deployBlock", deployBlock);
        vm.serializeAddress(k, "paymentToken", address(d.paymentToken));
        vm.serializeAddress(k, "stakingToken", address(d.stakingToken));
        vm.serializeAddress(k, "attestationVerifier", address(d.attestationVerifier));
        vm.serializeAddress(k, "generatorRegistry", address(d.generatorRegistry));
        vm.serializeAddress(k, "keyRegistry", address(d.keyRegistry));
        vm.serializeAddress(k, "verifierFactory", address(d.verifierFactory));
        vm.serializeAddress(k, "sampleVerifier", verifier);
        vm.serializeUint(k, "sampleMarketId", sampleMarketId);
        string memory json = vm.serializeAddress(k, "marketplace", address(d.marketplace));
        string memory dir = string.concat(vm.projectRoot(), "/deployments");
        vm.createDir(dir, true);
        string memory path = string.concat(dir, "/", vm.toString(block.chainid), ".json");
        vm.writeJson(json, path);

        console.log("Kalypso protocol deployed (chain %s)", block.chainid);
        console.log("  ProofMarketplace     %s", address(d.marketplace));
        console.log("  GeneratorRegistry    %s (and staking pool)", address(d.generatorRegistry));
        console.log("  EntityKeyRegistry    %s", address(d.keyRegistry));
        console.log("  AttestationVerifier  %s", address(d.attestationVerifier));
        console.log("  VerifierFactory      %s", address(d.verifierFactory));
        console.log("  TimelockController   %s (admin of every contract)", timelock);
        console.log("  payment token tUSDC  %s", address(d.paymentToken));
        console.log("  staking token tPOND  %s", address(d.stakingToken));
        console.log("  sample market %s: Groth16Verifier %s", sampleMarketId, verifier);
        console.log("  written to %s", path);
    }
}
