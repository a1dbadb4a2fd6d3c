// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Deploy} from "../../script/Deploy.s.sol";
import {ProtocolDeployer} from "../../script/ProtocolDeployer.sol";
import {IEntityKeyRegistryView} from "../../src/interfaces/IEntityKeyRegistry.sol";
import {IGeneratorRegistry} from "../../src/interfaces/IGeneratorRegistry.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IVerifier} from "../../src/interfaces/IVerifier.sol";
import {ProofMarketplace} from "../../src/marketplace/ProofMarketplace.sol";
import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {TimelockController} from "@openzeppelin/contracts/governance/TimelockController.sol";
import {Test, Vm} from "forge-std/Test.sol";

/// @notice The deploy script produces a wired, working protocol whose powers sit with the accounts named for
/// them: the admin role of every contract with a timelock, pausing with a guardian, the ME key with a key admin.
contract DeployTest is Test, ProtocolDeployer {
    uint256 internal constant DELAY = 3 days;

    address internal deployer = DEFAULT_SENDER; // the broadcaster when no key is given
    address internal governance = makeAddr("governance");
    address internal pauser = makeAddr("pauser");
    address internal keyAdmin = makeAddr("keyAdmin");
    address internal treasury = makeAddr("treasury");
    address internal stranger = makeAddr("stranger");

    Deployment internal d;
    TimelockController internal timelock;
    uint256 internal marketId;

    function setUp() public {
        vm.setEnv("GOVERNANCE", vm.toString(governance));
        vm.setEnv("PAUSER", vm.toString(pauser));
        vm.setEnv("KEY_ADMIN", vm.toString(keyAdmin));
        vm.setEnv("TREASURY", vm.toString(treasury));
        vm.setEnv("TIMELOCK_DELAY", vm.toString(DELAY));
        Deploy script = new Deploy();
        (d, marketId, timelock) = script.run();
    }

    function test_run_deploysWiredProtocolWithSampleMarket() public view {
        assertTrue(d.generatorRegistry.hasRole(d.generatorRegistry.MARKETPLACE_ROLE(), address(d.marketplace)));
        assertEq(address(d.generatorRegistry.marketView()), address(d.marketplace));
        assertEq(address(d.keyRegistry.marketView()), address(d.marketplace));
        assertEq(address(d.marketplace.generatorRegistry()), address(d.generatorRegistry));
        assertEq(d.marketplace.keyRegistry(), address(d.keyRegistry));
        assertEq(d.marketplace.paymentToken(), address(d.paymentToken));
        assertEq(d.generatorRegistry.stakingToken(), address(d.stakingToken));
        assertEq(d.marketplace.params().treasury, treasury);

        assertEq(marketId, 1);
        IProofMarketplace.Market memory m = d.marketplace.marketOf(marketId);
        IVerifier verifier = m.verifier;
        assertTrue(verifier.checkSampleInputsAndProof());
        assertTrue(verifier.verify(verifier.sampleInput(), verifier.sampleProof()));
        assertEq(d.paymentToken.balanceOf(treasury), d.marketplace.params().marketCreationCost);
    }

    function test_run_handsEveryRoleToItsHolderAndTheDeployerKeepsNone() public view {
        address[4] memory contracts_ = [
            address(d.marketplace), address(d.generatorRegistry), address(d.keyRegistry), address(d.attestationVerifier)
        ];
        for (uint256 i; i < contracts_.length; ++i) {
            IAccessControl c = IAccessControl(contracts_[i]);
            assertTrue(c.hasRole(bytes32(0), address(timelock)), "the timelock administers every contract");
            assertFalse(c.hasRole(bytes32(0), deployer), "the deployer keeps no admin role");
            assertFalse(c.hasRole(bytes32(0), governance), "governance acts only through the timelock");
        }
        assertTrue(d.marketplace.hasRole(d.marketplace.PAUSER_ROLE(), pauser));
        assertTrue(d.keyRegistry.hasRole(d.keyRegistry.PAUSER_ROLE(), pauser));
        assertTrue(d.keyRegistry.hasRole(d.keyRegistry.KEY_ADMIN_ROLE(), keyAdmin));
        assertFalse(d.marketplace.hasRole(d.marketplace.PAUSER_ROLE(), deployer));
        assertFalse(d.keyRegistry.hasRole(d.keyRegistry.PAUSER_ROLE(), deployer));
        assertFalse(d.keyRegistry.hasRole(d.keyRegistry.KEY_ADMIN_ROLE(), deployer));

        assertEq(timelock.getMinDelay(), DELAY);
        assertTrue(timelock.hasRole(timelock.PROPOSER_ROLE(), governance));
        assertTrue(timelock.hasRole(timelock.CANCELLER_ROLE(), governance));
        assertTrue(timelock.hasRole(timelock.EXECUTOR_ROLE(), address(0)), "anyone executes a ready operation");
        assertFalse(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), deployer), "nobody administers the timelock");
        assertTrue(timelock.hasRole(timelock.DEFAULT_ADMIN_ROLE(), address(timelock)));
        assertFalse(timelock.hasRole(timelock.PROPOSER_ROLE(), deployer));
    }

    function test_paramsChangeWaitsForTheTimelockDelay() public {
        IProofMarketplace.Params memory p = d.marketplace.params();
        p.feePerInputByte = 7;
        bytes memory call = abi.encodeCall(IProofMarketplace.setParams, (p));

        // Nobody changes parameters directly, not even governance or the deployer.
        vm.expectRevert(_unauthorized(governance, bytes32(0)));
        vm.prank(governance);
        d.marketplace.setParams(p);
        vm.expectRevert(_unauthorized(deployer, bytes32(0)));
        vm.prank(deployer);
        d.marketplace.setParams(p);

        // Only governance schedules, and never with less than the minimum delay.
        vm.expectPartialRevert(IAccessControl.AccessControlUnauthorizedAccount.selector);
        vm.prank(stranger);
        timelock.schedule(address(d.marketplace), 0, call, bytes32(0), bytes32(0), DELAY);
        vm.expectPartialRevert(TimelockController.TimelockInsufficientDelay.selector);
        vm.prank(governance);
        timelock.schedule(address(d.marketplace), 0, call, bytes32(0), bytes32(0), DELAY - 1);
        vm.prank(governance);
        timelock.schedule(address(d.marketplace), 0, call, bytes32(0), bytes32(0), DELAY);

        // Announced but not executable before the delay has passed.
        vm.warp(block.timestamp + DELAY - 1);
        vm.expectPartialRevert(TimelockController.TimelockUnexpectedOperationState.selector);
        vm.prank(stranger);
        timelock.execute(address(d.marketplace), 0, call, bytes32(0), bytes32(0));
        assertEq(d.marketplace.params().feePerInputByte, 0);

        vm.warp(block.timestamp + 1);
        vm.prank(stranger); // open execution: the operation was public for DELAY seconds
        timelock.execute(address(d.marketplace), 0, call, bytes32(0), bytes32(0));
        assertEq(d.marketplace.params().feePerInputByte, 7);
    }

    function test_governanceCancelsAScheduledChange() public {
        bytes memory call = abi.encodeCall(d.generatorRegistry.setWithdrawalDelay, (1));
        vm.startPrank(governance);
        timelock.schedule(address(d.generatorRegistry), 0, call, bytes32(0), bytes32(0), DELAY);
        bytes32 id = timelock.hashOperation(address(d.generatorRegistry), 0, call, bytes32(0), bytes32(0));
        timelock.cancel(id);
        vm.stopPrank();
        vm.warp(block.timestamp + DELAY);
        vm.expectPartialRevert(TimelockController.TimelockUnexpectedOperationState.selector);
        timelock.execute(address(d.generatorRegistry), 0, call, bytes32(0), bytes32(0));
    }

    function test_upgradeGoesThroughTheTimelock() public {
        address next = address(
            new ProofMarketplace(
                d.paymentToken,
                IGeneratorRegistry(address(d.generatorRegistry)),
                IEntityKeyRegistryView(address(d.keyRegistry)),
                d.verifierFactory
            )
        );
        vm.expectRevert(_unauthorized(deployer, bytes32(0)));
        vm.prank(deployer);
        d.marketplace.upgradeToAndCall(next, "");

        bytes memory call = abi.encodeCall(d.marketplace.upgradeToAndCall, (next, ""));
        vm.prank(governance);
        timelock.schedule(address(d.marketplace), 0, call, bytes32(0), bytes32(0), DELAY);
        vm.warp(block.timestamp + DELAY);
        timelock.execute(address(d.marketplace), 0, call, bytes32(0), bytes32(0));
        bytes32 implementationSlot = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;
        assertEq(address(uint160(uint256(vm.load(address(d.marketplace), implementationSlot)))), next);
    }

    function test_guardianAndKeyAdminActAtOnceWithinTheirRoleOnly() public {
        bytes memory mePubkey = _validPubkey();

        // The key admin sets the ME key at once, and can do nothing else.
        vm.prank(keyAdmin);
        d.keyRegistry.setMatchingEngineKey(mePubkey);
        vm.expectRevert(_unauthorized(keyAdmin, d.marketplace.PAUSER_ROLE()));
        vm.prank(keyAdmin);
        d.marketplace.pause();
        IProofMarketplace.Params memory p = d.marketplace.params();
        vm.expectRevert(_unauthorized(keyAdmin, bytes32(0)));
        vm.prank(keyAdmin);
        d.marketplace.setParams(p);

        // The guardian pauses both at once, and changes nothing else.
        vm.startPrank(pauser);
        d.marketplace.pause();
        d.keyRegistry.pause();
        assertTrue(d.marketplace.paused());
        assertTrue(d.keyRegistry.paused());
        vm.expectRevert(_unauthorized(pauser, bytes32(0)));
        d.marketplace.setParams(p);
        vm.expectRevert(_unauthorized(pauser, d.keyRegistry.KEY_ADMIN_ROLE()));
        d.keyRegistry.removeMatchingEngineKey();
        d.marketplace.unpause();
        d.keyRegistry.unpause();
        vm.stopPrank();
    }

    function test_RevertWhen_aRoleHolderIsMissing() public {
        DeployConfig memory cfg = _defaultConfig(address(this), treasury);
        cfg.pauser = address(0);
        vm.expectRevert(RoleHolderMissing.selector);
        this.deployExternally(cfg);
    }

    /// @dev External so that the expected revert is one call deep.
    function deployExternally(DeployConfig memory cfg) external returns (Deployment memory) {
        return _deployProtocol(cfg);
    }

    function _validPubkey() internal returns (bytes memory) {
        Vm.Wallet memory w = vm.createWallet("matching-engine");
        return abi.encodePacked(w.publicKeyX, w.publicKeyY);
    }

    function _unauthorized(address account, bytes32 role) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IAccessControl.AccessControlUnauthorizedAccount.selector, account, role);
    }
}
