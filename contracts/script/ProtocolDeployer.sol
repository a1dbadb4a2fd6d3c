// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {AttestationVerifier} from "../src/attestation/AttestationVerifier.sol";
import {TestToken} from "../src/dev/TestToken.sol";
import {IAttestationVerifier} from "../src/interfaces/IAttestationVerifier.sol";
import {IEntityKeyRegistryView} from "../src/interfaces/IEntityKeyRegistry.sol";
import {IGeneratorRegistry} from "../src/interfaces/IGeneratorRegistry.sol";
import {IMarketView} from "../src/interfaces/IMarketView.sol";
import {IProofMarketplace} from "../src/interfaces/IProofMarketplace.sol";
import {ProofMarketplace} from "../src/marketplace/ProofMarketplace.sol";
import {EntityKeyRegistry} from "../src/registry/EntityKeyRegistry.sol";
import {GeneratorRegistry} from "../src/registry/GeneratorRegistry.sol";
import {VerifierFactory} from "../src/verifiers/VerifierFactory.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ProtocolDeployer
/// @notice Deploys and wires the whole protocol behind UUPS proxies, then hands every power to the account
/// configured for it: the deployer keeps none. Shared by the deploy script and the tests, so the tests exercise
/// exactly what gets deployed. Who holds what (docs/PROTOCOL.md, "Who can do what"):
/// - `admin`: DEFAULT_ADMIN_ROLE of every contract — upgrades, protocol parameters, the withdrawal delay, trusted
///   attestation signers, the ME image, role grants. In production a {TimelockController} (see {_deployTimelock}),
///   so every such change is announced `delay` seconds before it can take effect.
/// - `pauser`: PAUSER_ROLE of the marketplace and the key registry; acts at once (a guardian).
/// - `keyAdmin`: KEY_ADMIN_ROLE of the key registry (sets or removes the Matching Engine key); acts at once.
/// - `params.treasury`: receives creation and input fees and the protocol's share of penalties; no power.
abstract contract ProtocolDeployer {
    /// @notice A role holder of the configuration is the zero address.
    error RoleHolderMissing();

    /// @notice Deployment settings.
    struct DeployConfig {
        address deployer; // sends the deployment's calls; holds every role during deployment, none afterwards
        address admin; // DEFAULT_ADMIN_ROLE everywhere afterwards (a TimelockController in production)
        address pauser; // PAUSER_ROLE of the marketplace and the key registry afterwards
        address keyAdmin; // KEY_ADMIN_ROLE of the key registry afterwards
        bytes matchingEngineKey; // registered before the hand-over when not empty (64 bytes, x ‖ y)
        IERC20 paymentToken; // zero: deploy a mintable test token ("tUSDC", 6 decimals)
        IERC20 stakingToken; // zero: deploy a mintable test token ("tPOND", 18 decimals)
        uint256 withdrawalDelay;
        uint64 attestationMaxAgeMs;
        address[] attestationSigners;
        IProofMarketplace.Params params;
    }

    /// @notice Addresses of a deployment (proxies, which are what users talk to).
    struct Deployment {
        IERC20 paymentToken;
        IERC20 stakingToken;
        AttestationVerifier attestationVerifier;
        GeneratorRegistry generatorRegistry;
        EntityKeyRegistry keyRegistry;
        VerifierFactory verifierFactory;
        ProofMarketplace marketplace;
    }

    /// @notice Deploys everything; `cfg.deployer` must be the caller (msg.sender of the wiring calls). It ends
    /// with no role unless it is also named as a role holder.
    function _deployProtocol(DeployConfig memory cfg) internal returns (Deployment memory d) {
        if (cfg.admin == address(0) || cfg.pauser == address(0) || cfg.keyAdmin == address(0)) {
            revert RoleHolderMissing();
        }
        d.paymentToken =
            address(cfg.paymentToken) == address(0) ? IERC20(new TestToken("Test USDC", "tUSDC", 6)) : cfg.paymentToken;
        d.stakingToken = address(cfg.stakingToken) == address(0)
            ? IERC20(new TestToken("Test POND", "tPOND", 18))
            : cfg.stakingToken;

        d.attestationVerifier = AttestationVerifier(
            _proxy(
                address(new AttestationVerifier()),
                abi.encodeCall(
                    AttestationVerifier.initialize, (cfg.deployer, cfg.attestationMaxAgeMs, cfg.attestationSigners)
                )
            )
        );
        d.generatorRegistry = GeneratorRegistry(
            _proxy(
                address(new GeneratorRegistry(d.stakingToken)),
                abi.encodeCall(
                    GeneratorRegistry.initialize, (cfg.deployer, IMarketView(address(0)), cfg.withdrawalDelay)
                )
            )
        );
        d.keyRegistry = EntityKeyRegistry(
            _proxy(
                address(new EntityKeyRegistry()),
                abi.encodeCall(
                    EntityKeyRegistry.initialize,
                    (cfg.deployer, IAttestationVerifier(address(d.attestationVerifier)), IMarketView(address(0)))
                )
            )
        );
        d.verifierFactory = new VerifierFactory(d.keyRegistry);
        d.marketplace = ProofMarketplace(
            _proxy(
                address(
                    new ProofMarketplace(
                        d.paymentToken,
                        IGeneratorRegistry(address(d.generatorRegistry)),
                        IEntityKeyRegistryView(address(d.keyRegistry)),
                        d.verifierFactory
                    )
                ),
                abi.encodeCall(ProofMarketplace.initialize, (cfg.deployer, cfg.params))
            )
        );

        d.generatorRegistry.grantRole(d.generatorRegistry.MARKETPLACE_ROLE(), address(d.marketplace));
        d.generatorRegistry.setMarketView(IMarketView(address(d.marketplace)));
        d.keyRegistry.setMarketView(IMarketView(address(d.marketplace)));
        if (cfg.matchingEngineKey.length != 0) d.keyRegistry.setMatchingEngineKey(cfg.matchingEngineKey);

        _handOver(d, cfg);
    }

    /// @notice A TimelockController that owns the admin role: `proposers` schedule (and may cancel) operations,
    /// which anyone may execute once `delay` seconds have passed. Nobody administers the timelock itself but the
    /// timelock (changing its delay or proposers is itself a timelocked operation).
    function _deployTimelock(uint256 delay, address[] memory proposers) internal returns (TimelockController) {
        address[] memory executors = new address[](1); // address(0): open execution after the delay
        return new TimelockController(delay, proposers, executors, address(0));
    }

    /// @dev Grants each role to its holder, then renounces what the deployer held for the wiring.
    function _handOver(Deployment memory d, DeployConfig memory cfg) private {
        bytes32 adminRole = bytes32(0);
        _transfer(address(d.attestationVerifier), adminRole, cfg.deployer, cfg.admin);
        _transfer(address(d.generatorRegistry), adminRole, cfg.deployer, cfg.admin);
        _transfer(address(d.keyRegistry), d.keyRegistry.KEY_ADMIN_ROLE(), cfg.deployer, cfg.keyAdmin);
        _transfer(address(d.keyRegistry), d.keyRegistry.PAUSER_ROLE(), cfg.deployer, cfg.pauser);
        _transfer(address(d.keyRegistry), adminRole, cfg.deployer, cfg.admin);
        _transfer(address(d.marketplace), d.marketplace.PAUSER_ROLE(), cfg.deployer, cfg.pauser);
        _transfer(address(d.marketplace), adminRole, cfg.deployer, cfg.admin);
    }

    function _transfer(address target, bytes32 role, address from, address to) private {
        if (from == to) return;
        IAccessControl(target).grantRole(role, to);
        IAccessControl(target).renounceRole(role, from);
    }

    /// @notice Devnet defaults: 1-day withdrawal delay, 10-minute attestation freshness, 50% of a slash held for the
    /// requester (paid when a proof completes the ask) and 10% (capped) to the keeper, discards cost a quarter of
    /// the penalty, fallback delays of at least 5 minutes.
    /// `admin` deploys and keeps every role (tests); the deploy script names a timelock and separate accounts.
    function _defaultConfig(address admin, address treasury) internal pure returns (DeployConfig memory cfg) {
        cfg.deployer = admin;
        cfg.admin = admin;
        cfg.pauser = admin;
        cfg.keyAdmin = admin;
        cfg.withdrawalDelay = 1 days;
        cfg.attestationMaxAgeMs = 10 minutes * 1000;
        cfg.attestationSigners = new address[](0);
        cfg.params = IProofMarketplace.Params({
            treasury: treasury,
            marketCreationCost: 10e6,
            feePerInputByte: 0,
            activationDelay: 0,
            requesterShareBps: 5000,
            keeperShareBps: 1000,
            discardPenaltyBps: 2500,
            maxKeeperReward: 100e18,
            minFallbackDelay: 5 minutes
        });
    }

    function _proxy(address implementation, bytes memory init) private returns (address) {
        return address(new ERC1967Proxy(implementation, init));
    }
}
