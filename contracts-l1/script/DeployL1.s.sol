// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {IKalypsoMiddleware} from "../src/IKalypsoMiddleware.sol";
import {SymbioticCoreDeployer} from "./SymbioticCoreDeployer.sol";

import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
import {IOperatorSpecificDelegator} from "@symbioticfi/core/src/interfaces/delegator/IOperatorSpecificDelegator.sol";
import {IVetoSlasher} from "@symbioticfi/core/src/interfaces/slasher/IVetoSlasher.sol";
import {IVault} from "@symbioticfi/core/src/interfaces/vault/IVault.sol";

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Script} from "forge-std/Script.sol";
import {console} from "forge-std/console.sol";

/// @notice Deploys Kalypso's L1 side on a local chain (a fresh anvil; real time, no warps): the Symbiotic core, the
/// collateral token ("POND"), the network (the broadcaster) with KalypsoMiddleware as its middleware and the committee,
/// and the operators: each registers in Symbiotic's OperatorRegistry and opts in to the network; the curator (the
/// broadcaster) creates one vault per operator (OperatorSpecificDelegator backing that operator, VetoSlasher with a
/// resolver; same epoch, veto, resolver and burner for all), sets its network limit and the middleware registers it;
/// the operator opts in to its vault and the middleware registers the operator; then the depositors deposit into the
/// vaults. Writes every address to `deployments/<chainid>.json` (or `L1_DEPLOYMENT_OUT`).
///
///   forge script script/DeployL1.s.sol:DeployL1 --rpc-url $RPC --private-key $KEY --broadcast --slow
///
/// Build first (`forge build`: the deployed contracts, solc 0.8.25, in out/); the script itself is compiled by the
/// harness profile: `FOUNDRY_PROFILE=harness forge script ...`.
///
/// Environment (all optional; lists comma-separated):
///   L1_NETWORK_EPOCH (20 s), L1_VAULT_EPOCH (90 s), L1_VETO_DURATION (20 s), L1_EXECUTION_MARGIN (20 s; the vault
///   epoch must be at least 2 * network epoch + veto + margin), L1_RESOLVER_SET_EPOCHS_DELAY (3),
///   L1_EPOCH_START (the latest block's timestamp when the script runs),
///   L1_OPERATOR_KEYS (anvil dev keys 1 and 2; one vault each),
///   L1_DEPOSITS (500 POND into each operator's vault; one amount per operator, in operator order),
///   L1_DEPOSITOR_KEYS (anvil dev key 3; one key deposits into every vault, or one key per operator's vault),
///   L1_COMMITTEE (the broadcaster), L1_COMMITTEE_THRESHOLD (1), L1_RESOLVER (the broadcaster),
///   L1_BURNER (0x…dEaD), L1_TOKEN_HOLDERS (broadcaster, operators, depositors), L1_TOKEN_MINT (1,000,000 POND each),
///   L1_DEPLOYMENT_OUT (deployments/<chainid>.json; must lie under deployments/, the only writable folder).
contract DeployL1 is Script, SymbioticCoreDeployer {
    // anvil's public dev keys 1-3 (never used on a real network)
    uint256 internal constant ANVIL_KEY_1 = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal constant ANVIL_KEY_2 = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant ANVIL_KEY_3 = 0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6;

    /// @notice Everything the deployment is made of.
    struct Config {
        uint48 networkEpoch;
        uint48 vaultEpoch;
        uint48 vetoDuration;
        uint48 executionMargin;
        uint256 resolverSetEpochsDelay;
        uint48 epochStart;
        uint256[] operatorKeys;
        uint256[] depositorKeys;
        uint256[] deposits;
        address[] committee;
        uint256 threshold;
        address resolver;
        address burner;
        address[] holders;
        uint256 mint;
        string out;
    }

    /// @notice One operator's vault.
    struct OperatorVault {
        address operator;
        address vault;
        address delegator;
        address slasher;
    }

    SymbioticCore internal core;
    IERC20 internal token;
    IKalypsoMiddleware internal middleware;
    OperatorVault[] internal vaults;

    function run() external {
        vm.startBroadcast();
        (, address deployer,) = vm.readCallers();
        vm.stopBroadcast();
        Config memory cfg = _config(deployer);
        bytes32 subnetwork = bytes32(uint256(uint160(deployer)) << 96);

        vm.startBroadcast(deployer);
        core = _deploySymbioticCore(deployer);
        token = IERC20(
            _deploy(
                "DevToken.sol/DevToken.json", abi.encode(string("Marlin POND"), string("POND"), cfg.holders, cfg.mint)
            )
        );
        core.networkRegistry.registerNetwork();
        middleware = IKalypsoMiddleware(
            _deploy(
                "KalypsoMiddleware.sol/KalypsoMiddleware.json",
                abi.encode(
                    deployer,
                    address(core.vaultFactory),
                    address(core.operatorRegistry),
                    address(core.operatorNetworkOptInService),
                    address(token),
                    cfg.epochStart,
                    cfg.networkEpoch,
                    cfg.executionMargin,
                    deployer
                )
            )
        );
        core.networkMiddlewareService.setMiddleware(address(middleware));
        middleware.setCommittee(cfg.committee, cfg.threshold);
        vm.stopBroadcast();

        // An OperatorSpecificDelegator can only be created for a registered operator.
        address[] memory operators = new address[](cfg.operatorKeys.length);
        for (uint256 i; i < operators.length; ++i) {
            operators[i] = vm.addr(cfg.operatorKeys[i]);
            vm.startBroadcast(cfg.operatorKeys[i]);
            core.operatorRegistry.registerOperator();
            core.operatorNetworkOptInService.optIn(deployer);
            vm.stopBroadcast();
        }
        vm.startBroadcast(deployer);
        for (uint256 i; i < operators.length; ++i) {
            vaults.push(_operatorVault(cfg, deployer, subnetwork, operators[i]));
            middleware.registerVault(vaults[i].vault);
        }
        vm.stopBroadcast();
        for (uint256 i; i < operators.length; ++i) {
            vm.startBroadcast(cfg.operatorKeys[i]);
            core.operatorVaultOptInService.optIn(vaults[i].vault);
            vm.stopBroadcast();
        }
        vm.startBroadcast(deployer);
        for (uint256 i; i < operators.length; ++i) {
            middleware.registerOperator(operators[i]);
        }
        vm.stopBroadcast();
        for (uint256 i; i < operators.length; ++i) {
            uint256 key = cfg.depositorKeys[cfg.depositorKeys.length == 1 ? 0 : i];
            vm.startBroadcast(key);
            token.approve(vaults[i].vault, cfg.deposits[i]);
            IVault(vaults[i].vault).deposit(vm.addr(key), cfg.deposits[i]);
            vm.stopBroadcast();
        }

        _write(cfg, deployer, subnetwork, operators);
        console.log("KalypsoMiddleware", address(middleware));
        console.log("deployment written to", cfg.out);
    }

    /// Creates `operator`'s vault (the curator is the broadcaster) and lets the network use it: maximum network limit
    /// (the network), the curator's network limit, and the resolver.
    function _operatorVault(Config memory cfg, address deployer, bytes32 subnetwork, address operator)
        internal
        returns (OperatorVault memory v)
    {
        v.operator = operator;
        (v.vault, v.delegator, v.slasher) = _createVault(
            core,
            VaultSpec({
                owner: deployer,
                curator: deployer,
                operator: operator,
                collateral: address(token),
                burner: cfg.burner,
                epochDuration: cfg.vaultEpoch,
                delegatorIndex: OPERATOR_SPECIFIC_DELEGATOR,
                withSlasher: true,
                slasherIndex: VETO_SLASHER,
                vetoDuration: cfg.vetoDuration,
                resolverSetEpochsDelay: cfg.resolverSetEpochsDelay
            })
        );
        IBaseDelegator(v.delegator).setMaxNetworkLimit(0, type(uint256).max);
        IOperatorSpecificDelegator(v.delegator).setNetworkLimit(subnetwork, type(uint256).max);
        // The subnetwork's first resolver applies at once (VetoSlasher.setResolver); later changes wait
        // `resolverSetEpochsDelay` vault epochs.
        IVetoSlasher(v.slasher).setResolver(0, cfg.resolver, "");
    }

    function _config(address deployer) internal view returns (Config memory cfg) {
        cfg.networkEpoch = uint48(vm.envOr("L1_NETWORK_EPOCH", uint256(20)));
        cfg.vaultEpoch = uint48(vm.envOr("L1_VAULT_EPOCH", uint256(90)));
        cfg.vetoDuration = uint48(vm.envOr("L1_VETO_DURATION", uint256(20)));
        cfg.executionMargin = uint48(vm.envOr("L1_EXECUTION_MARGIN", uint256(20)));
        cfg.resolverSetEpochsDelay = vm.envOr("L1_RESOLVER_SET_EPOCHS_DELAY", uint256(3));
        cfg.epochStart = uint48(vm.envOr("L1_EPOCH_START", block.timestamp));

        uint256[] memory keys = new uint256[](2);
        keys[0] = ANVIL_KEY_1;
        keys[1] = ANVIL_KEY_2;
        cfg.operatorKeys = vm.envOr("L1_OPERATOR_KEYS", ",", keys);
        keys = new uint256[](1);
        keys[0] = ANVIL_KEY_3;
        cfg.depositorKeys = vm.envOr("L1_DEPOSITOR_KEYS", ",", keys);
        cfg.deposits = vm.envOr("L1_DEPOSITS", ",", _filled(cfg.operatorKeys.length, 500e18));
        require(cfg.deposits.length == cfg.operatorKeys.length, "L1_DEPOSITS: one per operator vault");
        require(
            cfg.depositorKeys.length == 1 || cfg.depositorKeys.length == cfg.operatorKeys.length,
            "L1_DEPOSITOR_KEYS: one key, or one per operator vault"
        );

        address[] memory one = new address[](1);
        one[0] = deployer;
        cfg.committee = vm.envOr("L1_COMMITTEE", ",", one);
        cfg.threshold = vm.envOr("L1_COMMITTEE_THRESHOLD", uint256(1));
        cfg.resolver = vm.envOr("L1_RESOLVER", deployer);
        cfg.burner = vm.envOr("L1_BURNER", address(0xdEaD));

        address[] memory holders = new address[](1 + cfg.operatorKeys.length + cfg.depositorKeys.length);
        holders[0] = deployer;
        for (uint256 i; i < cfg.operatorKeys.length; ++i) {
            holders[1 + i] = vm.addr(cfg.operatorKeys[i]);
        }
        for (uint256 i; i < cfg.depositorKeys.length; ++i) {
            holders[1 + cfg.operatorKeys.length + i] = vm.addr(cfg.depositorKeys[i]);
        }
        cfg.holders = vm.envOr("L1_TOKEN_HOLDERS", ",", holders);
        cfg.mint = vm.envOr("L1_TOKEN_MINT", uint256(1_000_000e18));
        cfg.out = vm.envOr(
            "L1_DEPLOYMENT_OUT", string.concat(vm.projectRoot(), "/deployments/", vm.toString(block.chainid), ".json")
        );
    }

    function _write(Config memory cfg, address deployer, bytes32 subnetwork, address[] memory operators) internal {
        string memory s = "symbiotic";
        vm.serializeAddress(s, "vaultFactory", address(core.vaultFactory));
        vm.serializeAddress(s, "delegatorFactory", address(core.delegatorFactory));
        vm.serializeAddress(s, "slasherFactory", address(core.slasherFactory));
        vm.serializeAddress(s, "networkRegistry", address(core.networkRegistry));
        vm.serializeAddress(s, "operatorRegistry", address(core.operatorRegistry));
        vm.serializeAddress(s, "operatorMetadataService", address(core.operatorMetadataService));
        vm.serializeAddress(s, "networkMetadataService", address(core.networkMetadataService));
        vm.serializeAddress(s, "networkMiddlewareService", address(core.networkMiddlewareService));
        vm.serializeAddress(s, "operatorVaultOptInService", address(core.operatorVaultOptInService));
        vm.serializeAddress(s, "operatorNetworkOptInService", address(core.operatorNetworkOptInService));
        string memory symbiotic = vm.serializeAddress(s, "vaultConfigurator", address(core.vaultConfigurator));

        // One object per operator, in operator order; serializeString parses each element as a JSON object.
        string[] memory vaultObjects = new string[](vaults.length);
        for (uint256 i; i < vaults.length; ++i) {
            string memory v = string.concat("vault", vm.toString(i));
            vm.serializeAddress(v, "operator", vaults[i].operator);
            vm.serializeAddress(v, "vault", vaults[i].vault);
            vm.serializeAddress(v, "delegator", vaults[i].delegator);
            vaultObjects[i] = vm.serializeAddress(v, "slasher", vaults[i].slasher);
        }

        string memory j = "deployment";
        vm.serializeUint(j, "chainId", block.chainid);
        vm.serializeAddress(j, "network", deployer);
        vm.serializeBytes32(j, "subnetwork", subnetwork);
        vm.serializeAddress(j, "middleware", address(middleware));
        vm.serializeAddress(j, "collateral", address(token));
        vm.serializeString(j, "vaults", vaultObjects);
        vm.serializeAddress(j, "burner", cfg.burner);
        vm.serializeAddress(j, "resolver", cfg.resolver);
        vm.serializeUint(j, "epochStart", cfg.epochStart);
        vm.serializeUint(j, "networkEpochDuration", cfg.networkEpoch);
        vm.serializeUint(j, "vaultEpochDuration", cfg.vaultEpoch);
        vm.serializeUint(j, "vetoDuration", cfg.vetoDuration);
        vm.serializeUint(j, "executionMargin", cfg.executionMargin);
        vm.serializeUint(j, "resolverSetEpochsDelay", cfg.resolverSetEpochsDelay);
        vm.serializeAddress(j, "committee", cfg.committee);
        vm.serializeUint(j, "committeeThreshold", cfg.threshold);
        vm.serializeAddress(j, "operators", operators);
        string memory json = vm.serializeString(j, "symbiotic", symbiotic);
        vm.createDir(string.concat(vm.projectRoot(), "/deployments"), true);
        vm.writeJson(json, cfg.out);
    }

    function _filled(uint256 n, uint256 value) internal pure returns (uint256[] memory a) {
        a = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            a[i] = value;
        }
    }
}
