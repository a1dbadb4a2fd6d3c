// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Deploy} from "../../script/Deploy.s.sol";
import {ProtocolDeployer} from "../../script/ProtocolDeployer.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {IVerifier} from "../../src/interfaces/IVerifier.sol";
import {Test} from "forge-std/Test.sol";

/// @notice The deploy script produces a wired, working protocol.
contract DeployTest is Test {
    function test_run_deploysWiredProtocolWithSampleMarket() public {
        vm.setEnv("TREASURY", vm.toString(makeAddr("treasury")));
        Deploy script = new Deploy();
        (ProtocolDeployer.Deployment memory d, uint256 marketId) = script.run();

        address admin = DEFAULT_SENDER; // the broadcaster when no key is given
        assertTrue(d.marketplace.hasRole(bytes32(0), admin), "marketplace admin");
        assertTrue(d.generatorRegistry.hasRole(d.generatorRegistry.MARKETPLACE_ROLE(), address(d.marketplace)));
        assertEq(address(d.generatorRegistry.marketView()), address(d.marketplace));
        assertEq(address(d.keyRegistry.marketView()), address(d.marketplace));
        assertEq(address(d.marketplace.generatorRegistry()), address(d.generatorRegistry));
        assertEq(d.marketplace.keyRegistry(), address(d.keyRegistry));
        assertEq(d.marketplace.paymentToken(), address(d.paymentToken));
        assertEq(d.generatorRegistry.stakingToken(), address(d.stakingToken));
        assertEq(d.marketplace.params().treasury, makeAddr("treasury"));

        assertEq(marketId, 1);
        IProofMarketplace.Market memory m = d.marketplace.marketOf(marketId);
        IVerifier verifier = m.verifier;
        assertTrue(verifier.checkSampleInputsAndProof());
        assertTrue(verifier.verify(verifier.sampleInput(), verifier.sampleProof()));
        assertEq(d.paymentToken.balanceOf(makeAddr("treasury")), d.marketplace.params().marketCreationCost);
    }
}
