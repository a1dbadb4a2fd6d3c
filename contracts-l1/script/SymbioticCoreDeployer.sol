// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {IDelegatorFactory} from "@symbioticfi/core/src/interfaces/IDelegatorFactory.sol";
import {INetworkRegistry} from "@symbioticfi/core/src/interfaces/INetworkRegistry.sol";
import {IOperatorRegistry} from "@symbioticfi/core/src/interfaces/IOperatorRegistry.sol";
import {ISlasherFactory} from "@symbioticfi/core/src/interfaces/ISlasherFactory.sol";
import {IVaultConfigurator} from "@symbioticfi/core/src/interfaces/IVaultConfigurator.sol";
import {IVaultFactory} from "@symbioticfi/core/src/interfaces/IVaultFactory.sol";
import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
import {INetworkRestakeDelegator} from "@symbioticfi/core/src/interfaces/delegator/INetworkRestakeDelegator.sol";
import {IOperatorSpecificDelegator} from "@symbioticfi/core/src/interfaces/delegator/IOperatorSpecificDelegator.sol";
import {IMetadataService} from "@symbioticfi/core/src/interfaces/service/IMetadataService.sol";
import {INetworkMiddlewareService} from "@symbioticfi/core/src/interfaces/service/INetworkMiddlewareService.sol";
import {IOptInService} from "@symbioticfi/core/src/interfaces/service/IOptInService.sol";
import {IBaseSlasher} from "@symbioticfi/core/src/interfaces/slasher/IBaseSlasher.sol";
import {ISlasher} from "@symbioticfi/core/src/interfaces/slasher/ISlasher.sol";
import {IVetoSlasher} from "@symbioticfi/core/src/interfaces/slasher/IVetoSlasher.sol";
import {IVault} from "@symbioticfi/core/src/interfaces/vault/IVault.sol";

import {Vm} from "forge-std/Vm.sol";

/// @notice Deploys the real Symbiotic core (npm @symbioticfi/core 1.0.3) the way its own
/// `script/deploy/base/DeployCoreBase.s.sol` does, and creates vaults through its VaultConfigurator. Shared by the
/// tests and DeployL1.s.sol. Symbiotic's script cannot be reused as is: it starts its own broadcast and keeps the
/// addresses in a local. This deploys the implementations Kalypso needs, whitelisted in Symbiotic's type order:
/// vault version 1 (Vault); delegator types 0 (NetworkRestakeDelegator) and 1 (FullRestakeDelegator), both for tests
/// of the type check, and 2 (OperatorSpecificDelegator, the one Kalypso's vaults use); slasher types 0 (Slasher) and
/// 1 (VetoSlasher).
abstract contract SymbioticCoreDeployer {
    Vm private constant _VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    /// @dev Artifacts of the default profile (solc 0.8.25; `forge build`), read by the harness profile.
    string private constant ARTIFACTS = "out/";

    /// @notice Vault version of `Vault` in the VaultFactory.
    uint64 internal constant VAULT_VERSION = 1;
    uint64 internal constant NETWORK_RESTAKE_DELEGATOR = 0;
    uint64 internal constant FULL_RESTAKE_DELEGATOR = 1;
    uint64 internal constant OPERATOR_SPECIFIC_DELEGATOR = 2;
    uint64 internal constant INSTANT_SLASHER = 0;
    uint64 internal constant VETO_SLASHER = 1;

    /// @notice The deployed core.
    struct SymbioticCore {
        IVaultFactory vaultFactory;
        IDelegatorFactory delegatorFactory;
        ISlasherFactory slasherFactory;
        INetworkRegistry networkRegistry;
        IOperatorRegistry operatorRegistry;
        IMetadataService operatorMetadataService;
        IMetadataService networkMetadataService;
        INetworkMiddlewareService networkMiddlewareService;
        IOptInService operatorVaultOptInService;
        IOptInService operatorNetworkOptInService;
        IVaultConfigurator vaultConfigurator;
    }

    /// @notice What a vault is created with.
    /// @param owner Owner of the vault (migrations).
    /// @param curator Holds the vault's and the delegator's admin, network-limit and operator-shares roles.
    /// @param operator The operator an OperatorSpecificDelegator backs (a registered Symbiotic operator; ignored by the
    /// other delegator types).
    /// @param collateral Collateral token.
    /// @param burner Receives slashed collateral.
    /// @param epochDuration Vault epoch (withdrawal delay is one to two of them; captures are slashable for one).
    /// @param delegatorIndex Delegator type.
    /// @param withSlasher Whether the vault gets a slasher.
    /// @param slasherIndex Slasher type.
    /// @param vetoDuration VetoSlasher veto period (must be below `epochDuration`).
    /// @param resolverSetEpochsDelay VetoSlasher resolver change delay in vault epochs (at least 3).
    struct VaultSpec {
        address owner;
        address curator;
        address operator;
        address collateral;
        address burner;
        uint48 epochDuration;
        uint64 delegatorIndex;
        bool withSlasher;
        uint64 slasherIndex;
        uint48 vetoDuration;
        uint256 resolverSetEpochsDelay;
    }

    /// @notice Deploys the core; `deployer` (the caller of these deployments) owns the factories.
    /// @dev Contracts are deployed from the artifacts `forge build` wrote to out/ (solc 0.8.25), not with `new`: this
    /// file is compiled by the harness profile (solc 0.8.30), see foundry.toml.
    function _deploySymbioticCore(address deployer) internal returns (SymbioticCore memory core) {
        core.vaultFactory = IVaultFactory(_deploy("VaultFactory.sol/VaultFactory.json", abi.encode(deployer)));
        core.delegatorFactory =
            IDelegatorFactory(_deploy("DelegatorFactory.sol/DelegatorFactory.json", abi.encode(deployer)));
        core.slasherFactory = ISlasherFactory(_deploy("SlasherFactory.sol/SlasherFactory.json", abi.encode(deployer)));
        core.networkRegistry = INetworkRegistry(_deploy("NetworkRegistry.sol/NetworkRegistry.json", ""));
        core.operatorRegistry = IOperatorRegistry(_deploy("OperatorRegistry.sol/OperatorRegistry.json", ""));
        core.operatorMetadataService = IMetadataService(
            _deploy("MetadataService.sol/MetadataService.json", abi.encode(address(core.operatorRegistry)))
        );
        core.networkMetadataService = IMetadataService(
            _deploy("MetadataService.sol/MetadataService.json", abi.encode(address(core.networkRegistry)))
        );
        core.networkMiddlewareService = INetworkMiddlewareService(
            _deploy(
                "NetworkMiddlewareService.sol/NetworkMiddlewareService.json", abi.encode(address(core.networkRegistry))
            )
        );
        core.operatorVaultOptInService = IOptInService(
            _deploy(
                "OptInService.sol/OptInService.json",
                abi.encode(
                    address(core.operatorRegistry), address(core.vaultFactory), string("OperatorVaultOptInService")
                )
            )
        );
        core.operatorNetworkOptInService = IOptInService(
            _deploy(
                "OptInService.sol/OptInService.json",
                abi.encode(
                    address(core.operatorRegistry), address(core.networkRegistry), string("OperatorNetworkOptInService")
                )
            )
        );

        core.vaultFactory
            .whitelist(
                _deploy(
                    "Vault.sol/Vault.json",
                    abi.encode(address(core.delegatorFactory), address(core.slasherFactory), address(core.vaultFactory))
                )
            );

        bytes memory delegatorArgs = abi.encode(
            address(core.networkRegistry),
            address(core.vaultFactory),
            address(core.operatorVaultOptInService),
            address(core.operatorNetworkOptInService),
            address(core.delegatorFactory)
        );
        core.delegatorFactory
            .whitelist(
                _deploy(
                    "NetworkRestakeDelegator.sol/NetworkRestakeDelegator.json",
                    bytes.concat(delegatorArgs, abi.encode(NETWORK_RESTAKE_DELEGATOR))
                )
            );
        core.delegatorFactory
            .whitelist(
                _deploy(
                    "FullRestakeDelegator.sol/FullRestakeDelegator.json",
                    bytes.concat(delegatorArgs, abi.encode(FULL_RESTAKE_DELEGATOR))
                )
            );
        core.delegatorFactory
            .whitelist(
                _deploy(
                    "OperatorSpecificDelegator.sol/OperatorSpecificDelegator.json",
                    bytes.concat(
                        abi.encode(address(core.operatorRegistry)),
                        delegatorArgs,
                        abi.encode(OPERATOR_SPECIFIC_DELEGATOR)
                    )
                )
            );

        core.slasherFactory
            .whitelist(
                _deploy(
                    "Slasher.sol/Slasher.json",
                    abi.encode(
                        address(core.vaultFactory),
                        address(core.networkMiddlewareService),
                        address(core.slasherFactory),
                        INSTANT_SLASHER
                    )
                )
            );
        core.slasherFactory
            .whitelist(
                _deploy(
                    "VetoSlasher.sol/VetoSlasher.json",
                    abi.encode(
                        address(core.vaultFactory),
                        address(core.networkMiddlewareService),
                        address(core.networkRegistry),
                        address(core.slasherFactory),
                        VETO_SLASHER
                    )
                )
            );

        core.vaultConfigurator = IVaultConfigurator(
            _deploy(
                "VaultConfigurator.sol/VaultConfigurator.json",
                abi.encode(address(core.vaultFactory), address(core.delegatorFactory), address(core.slasherFactory))
            )
        );
    }

    /// @dev Deploys the artifact `out/<artifact>` with ABI-encoded constructor arguments `args`.
    function _deploy(string memory artifact, bytes memory args) internal returns (address) {
        return _VM.deployCode(string.concat(ARTIFACTS, artifact), args);
    }

    /// @notice Creates a vault per `spec` through the VaultConfigurator (no deposit whitelist, no deposit limit).
    function _createVault(SymbioticCore memory core, VaultSpec memory spec)
        internal
        returns (address vault, address delegator, address slasher)
    {
        address[] memory curators = new address[](1);
        curators[0] = spec.curator;
        IBaseDelegator.BaseParams memory baseParams = IBaseDelegator.BaseParams({
            defaultAdminRoleHolder: spec.curator, hook: address(0), hookSetRoleHolder: spec.curator
        });
        // NetworkRestakeDelegator and FullRestakeDelegator take the same layout: base params, then the holders of
        // their two limit/share roles. OperatorSpecificDelegator: base params, network-limit role holders, operator.
        bytes memory delegatorParams = spec.delegatorIndex == OPERATOR_SPECIFIC_DELEGATOR
            ? abi.encode(
                IOperatorSpecificDelegator.InitParams({
                    baseParams: baseParams, networkLimitSetRoleHolders: curators, operator: spec.operator
                })
            )
            : abi.encode(
                INetworkRestakeDelegator.InitParams({
                    baseParams: baseParams,
                    networkLimitSetRoleHolders: curators,
                    operatorNetworkSharesSetRoleHolders: curators
                })
            );
        bytes memory slasherParams = spec.slasherIndex == VETO_SLASHER
            ? abi.encode(
                IVetoSlasher.InitParams({
                    baseParams: IBaseSlasher.BaseParams({isBurnerHook: false}),
                    vetoDuration: spec.vetoDuration,
                    resolverSetEpochsDelay: spec.resolverSetEpochsDelay
                })
            )
            : abi.encode(ISlasher.InitParams({baseParams: IBaseSlasher.BaseParams({isBurnerHook: false})}));
        return core.vaultConfigurator
            .create(
                IVaultConfigurator.InitParams({
                    version: VAULT_VERSION,
                    owner: spec.owner,
                    vaultParams: abi.encode(
                        IVault.InitParams({
                            collateral: spec.collateral,
                            burner: spec.burner,
                            epochDuration: spec.epochDuration,
                            depositWhitelist: false,
                            isDepositLimit: false,
                            depositLimit: 0,
                            defaultAdminRoleHolder: spec.curator,
                            depositWhitelistSetRoleHolder: address(0),
                            depositorWhitelistRoleHolder: address(0),
                            isDepositLimitSetRoleHolder: address(0),
                            depositLimitSetRoleHolder: address(0)
                        })
                    ),
                    delegatorIndex: spec.delegatorIndex,
                    delegatorParams: delegatorParams,
                    withSlasher: spec.withSlasher,
                    slasherIndex: spec.slasherIndex,
                    slasherParams: slasherParams
                })
            );
    }
}
