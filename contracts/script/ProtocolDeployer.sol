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
import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title ProtocolDeployer
/// @notice Deploys and wires the whole protocol behind UUPS proxies. Shared by the deploy script and the tests,
/// so the tests exercise exactly what gets deployed.
abstract contract ProtocolDeployer {
    /// @notice Deployment settings.
    struct DeployConfig {
        address admin;
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

    /// @notice Deploys everything; `cfg.admin` must be the caller (msg.sender of the wiring calls), which holds
    /// every admin role afterwards.
    function _deployProtocol(DeployConfig memory cfg) internal returns (Deployment memory d) {
        d.paymentToken =
            address(cfg.paymentToken) == address(0) ? IERC20(new TestToken("Test USDC", "tUSDC", 6)) : cfg.paymentToken;
        d.stakingToken = address(cfg.stakingToken) == address(0)
            ? IERC20(new TestToken("Test POND", "tPOND", 18))
            : cfg.stakingToken;

        d.attestationVerifier = AttestationVerifier(
            _proxy(
                address(new AttestationVerifier()),
                abi.encodeCall(
                    AttestationVerifier.initialize, (cfg.admin, cfg.attestationMaxAgeMs, cfg.attestationSigners)
                )
            )
        );
        d.generatorRegistry = GeneratorRegistry(
            _proxy(
                address(new GeneratorRegistry(d.stakingToken)),
                abi.encodeCall(GeneratorRegistry.initialize, (cfg.admin, IMarketView(address(0)), cfg.withdrawalDelay))
            )
        );
        d.keyRegistry = EntityKeyRegistry(
            _proxy(
                address(new EntityKeyRegistry()),
                abi.encodeCall(
                    EntityKeyRegistry.initialize,
                    (cfg.admin, IAttestationVerifier(address(d.attestationVerifier)), IMarketView(address(0)))
                )
            )
        );
        d.verifierFactory = new VerifierFactory();
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
                abi.encodeCall(ProofMarketplace.initialize, (cfg.admin, cfg.params))
            )
        );

        d.generatorRegistry.grantRole(d.generatorRegistry.MARKETPLACE_ROLE(), address(d.marketplace));
        d.generatorRegistry.setMarketView(IMarketView(address(d.marketplace)));
        d.keyRegistry.setMarketView(IMarketView(address(d.marketplace)));
    }

    /// @notice Devnet defaults: 1-day withdrawal delay, 10-minute attestation freshness, 50% of a slash held for the
    /// requester (paid when a proof completes the ask) and 10% (capped) to the keeper, discards cost a quarter of
    /// the penalty, fallback delays of at least 5 minutes.
    function _defaultConfig(address admin, address treasury) internal pure returns (DeployConfig memory cfg) {
        cfg.admin = admin;
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
