// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {Base} from "./Base.t.sol";

import {IKalypsoMiddleware} from "../src/IKalypsoMiddleware.sol";

import {INetworkRestakeDelegator} from "@symbioticfi/core/src/interfaces/delegator/INetworkRestakeDelegator.sol";
import {IBaseSlasher} from "@symbioticfi/core/src/interfaces/slasher/IBaseSlasher.sol";
import {IVetoSlasher} from "@symbioticfi/core/src/interfaces/slasher/IVetoSlasher.sol";
import {IVault} from "@symbioticfi/core/src/interfaces/vault/IVault.sol";

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

contract KalypsoMiddlewareTest is Base {
    // ------------------------------------------------------------ epochs

    function test_epochs_startAtEpochStart() public view {
        assertEq(middleware.EPOCH_START(), T0);
        assertEq(middleware.SLASH_WINDOW(), 2 * EPOCH);
        assertEq(middleware.epochAt(T0), 0);
        assertEq(middleware.epochAt(T0 + EPOCH - 1), 0);
        assertEq(middleware.epochAt(T0 + EPOCH), 1);
        assertEq(middleware.epochStart(3), T0 + 3 * EPOCH);
        assertEq(middleware.currentEpoch(), 0);
        assertEq(middleware.SUBNETWORK(), subnetwork);
    }

    function test_RevertWhen_epochAtBeforeFirstEpoch() public {
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.BeforeFirstEpoch.selector, T0 - 1, T0));
        middleware.epochAt(T0 - 1);
    }

    // ------------------------------------------------------------ operators

    function test_registerOperator_requiresSymbioticOperatorOptedIn() public {
        address op3 = makeAddr("op3");
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NotOperator.selector, op3));
        middleware.registerOperator(op3);

        vm.prank(op3);
        core.operatorRegistry.registerOperator();
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OperatorNotOptedIn.selector, op3));
        middleware.registerOperator(op3);

        vm.prank(op3);
        core.operatorNetworkOptInService.optIn(network);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.OperatorRegistered(op3);
        middleware.registerOperator(op3);
        assertEq(middleware.operators().length, 3);
        assertTrue(middleware.isOperatorActiveAt(op3, uint48(block.timestamp)));

        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OperatorAlreadyRegistered.selector, op3));
        middleware.registerOperator(op3);
    }

    function test_unregisterOperator_keepsEarlierCaptures() public {
        vm.warp(T0 + EPOCH + 1);
        middleware.unregisterOperator(op1);
        address[] memory ops = middleware.operators();
        assertEq(ops.length, 1);
        assertEq(ops[0], op2);
        // Captures before the unregistration still see op1; later ones do not.
        assertEq(middleware.stakeAt(op1, T0 + EPOCH), DEPOSIT / 4);
        assertEq(middleware.stakeAt(op1, uint48(block.timestamp)), 0);
        (, address[] memory snapOps,) = middleware.snapshot(1);
        assertEq(snapOps.length, 2);

        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OperatorNotRegistered.selector, op1));
        middleware.unregisterOperator(op1);
        // Re-registering keeps the operator's place in the list and counts from now on.
        middleware.registerOperator(op1);
        assertEq(middleware.operators().length, 2);
        assertTrue(middleware.isOperatorActiveAt(op1, uint48(block.timestamp)));
        assertTrue(middleware.isOperatorActiveAt(op1, T0 + EPOCH));
    }

    // ------------------------------------------------------------ vaults

    function test_registerVault_rejectsUnsuitableVaults() public {
        address stranger = makeAddr("notAVault");
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NotVault.selector, stranger));
        middleware.registerVault(stranger);

        address other = address(_newToken(new address[](0), 0));
        (address v,,) = _createVault(core, _spec(other, VAULT_EPOCH, VETO));
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongCollateral.selector, v, other, address(token)));
        middleware.registerVault(v);

        VaultSpec memory spec = _spec(address(token), VAULT_EPOCH, VETO);
        spec.delegatorIndex = FULL_RESTAKE_DELEGATOR;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongDelegatorType.selector, v, 1));
        middleware.registerVault(v);

        spec = _spec(address(token), VAULT_EPOCH, VETO);
        spec.slasherIndex = INSTANT_SLASHER;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongSlasherType.selector, v, 0));
        middleware.registerVault(v);

        spec = _spec(address(token), VAULT_EPOCH, VETO);
        spec.withSlasher = false;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NoSlasher.selector, v));
        middleware.registerVault(v);

        // The vault epoch must cover the slash window plus the veto period.
        (v,,) = _createVault(core, _spec(address(token), VAULT_EPOCH - 1, VETO));
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.VaultEpochTooShort.selector, v, VAULT_EPOCH - 1, uint256(2 * EPOCH + VETO)
            )
        );
        middleware.registerVault(v);

        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VaultAlreadyRegistered.selector, vaultA));
        middleware.registerVault(vaultA);
    }

    function test_RevertWhen_vaultNotInitialized() public {
        address v = core.vaultFactory
            .create(
                VAULT_VERSION,
                curator,
                abi.encode(
                    IVault.InitParams({
                        collateral: address(token),
                        burner: burner,
                        epochDuration: VAULT_EPOCH,
                        depositWhitelist: false,
                        isDepositLimit: false,
                        depositLimit: 0,
                        defaultAdminRoleHolder: curator,
                        depositWhitelistSetRoleHolder: address(0),
                        depositorWhitelistRoleHolder: address(0),
                        isDepositLimitSetRoleHolder: address(0),
                        depositLimitSetRoleHolder: address(0)
                    })
                )
            );
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VaultNotInitialized.selector, v));
        middleware.registerVault(v);
    }

    function test_unregisterVault_stopsCountingFromNow() public {
        vm.warp(T0 + EPOCH + 1);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.VaultUnregistered(vaultA);
        middleware.unregisterVault(vaultA);
        assertEq(middleware.vaults().length, 0);
        assertEq(middleware.stakeAt(op2, T0 + EPOCH), DEPOSIT * 3 / 4);
        assertEq(middleware.stakeAt(op2, uint48(block.timestamp)), 0);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VaultNotRegistered.selector, vaultA));
        middleware.unregisterVault(vaultA);
        // A slash for the earlier capture still reaches the vault.
        _requestSlash(1, op2, 10e18, T0 + EPOCH);
        assertEq(middleware.slashParts(1)[0].vault, vaultA);
    }

    // ------------------------------------------------------------ stake

    function test_stakeAt_laterDepositAndWithdrawalLeaveCaptureUnchanged() public {
        assertEq(middleware.stakeAt(op1, T0), DEPOSIT / 4);
        assertEq(middleware.stakeAt(op2, T0), DEPOSIT * 3 / 4);

        _deposit(vaultA, 400e18);
        vm.prank(depositor);
        IVault(vaultA).withdraw(depositor, 200e18);
        uint48 now_ = uint48(block.timestamp);
        assertEq(middleware.stakeAt(op1, now_), (DEPOSIT + 200e18) / 4);
        assertEq(middleware.stakeAt(op1, T0), DEPOSIT / 4);

        (uint48 capture, address[] memory ops, uint256[] memory stakes) = middleware.snapshot(0);
        assertEq(capture, T0);
        assertEq(ops.length, 2);
        assertEq(ops[0], op1);
        assertEq(stakes[0], DEPOSIT / 4);
        assertEq(stakes[1], DEPOSIT * 3 / 4);
        // Within the network a vault's stake is split, never counted twice.
        assertEq(stakes[0] + stakes[1], IVault(vaultA).activeStakeAt(T0, ""));

        vm.warp(T0 + EPOCH + 1);
        (capture,, stakes) = middleware.snapshot(1);
        assertEq(capture, T0 + EPOCH);
        assertEq(stakes[0], (DEPOSIT + 200e18) / 4);
    }

    function test_stakeAt_zeroWithoutVaultOptInAtCapture() public {
        address op3 = makeAddr("op3");
        _operator(op3);
        vm.prank(curator);
        INetworkRestakeDelegator(delegatorA).setOperatorNetworkShares(subnetwork, op3, 4);
        middleware.registerOperator(op3);
        // Shares but no vault opt-in: Symbiotic's delegator reports zero.
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), 0);
        vm.prank(op3);
        core.operatorVaultOptInService.optIn(vaultA);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), DEPOSIT / 2);
        // An opt-out later does not change the capture.
        vm.warp(block.timestamp + 1);
        vm.prank(op3);
        core.operatorNetworkOptInService.optOut(network);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp - 1)), DEPOSIT / 2);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), 0);
    }

    function test_RevertWhen_snapshotOfCurrentInstant() public {
        vm.warp(T0 + EPOCH);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureNotPast.selector, T0 + EPOCH, T0 + EPOCH));
        middleware.snapshot(1);
    }

    // ------------------------------------------------------------ slashing

    function test_requestSlash_executesAfterVetoPeriod() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(7, op1, 100e18, T0);
        assertEq(middleware.hashSlashRequest(req), _digest(req, block.chainid, address(middleware)));
        bytes[] memory sigs = _sign(req, 2);

        uint48 executableAt = uint48(block.timestamp) + VETO;
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartRequested(7, vaultA, 0, 100e18);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashRequested(7, op1, T0, 100e18, 100e18, executableAt);
        vm.prank(makeAddr("relayer"));
        assertEq(middleware.requestSlash(req, sigs), 100e18);
        assertEq(uint8(middleware.slashStatus(7)), uint8(IKalypsoMiddleware.SlashStatus.Requested));
        IKalypsoMiddleware.Slash memory slash = middleware.slashes(7);
        assertEq(slash.operator, op1);
        assertEq(slash.captureTimestamp, T0);
        assertEq(slash.executableAt, executableAt);

        vm.warp(executableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VetoPeriodNotEnded.selector, 7, executableAt));
        middleware.executeSlash(7);

        vm.warp(executableAt);
        uint256 activeBefore = IVault(vaultA).activeStake();
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartExecuted(7, vaultA, 0, 100e18);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashExecuted(7, 100e18);
        vm.prank(makeAddr("keeper"));
        assertEq(middleware.executeSlash(7), 100e18);

        assertEq(IVault(vaultA).activeStake(), activeBefore - 100e18);
        assertEq(token.balanceOf(burner), 100e18);
        assertEq(uint8(middleware.slashStatus(7)), uint8(IKalypsoMiddleware.SlashStatus.Executed));
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.SlashNotPending.selector, 7, IKalypsoMiddleware.SlashStatus.Executed
            )
        );
        middleware.executeSlash(7);
    }

    function test_requestSlash_capsAtSlashableStake() public {
        assertEq(_requestSlash(1, op1, 10 * DEPOSIT, T0), DEPOSIT / 4);
        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(1), DEPOSIT / 4);
        // op2's stake at the capture is untouched by op1's slash (its shares, not op1's, back it).
        assertEq(IVetoSlasher(slasherA).slashableStake(subnetwork, op2, T0, ""), DEPOSIT * 3 / 4);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NothingSlashable.selector, op1, T0));
        _requestSlash(2, op1, 1, T0);
    }

    function test_vetoSlash_nothingSlashedStatusVetoed() public {
        _requestSlash(3, op1, 100e18, T0);
        uint256 slashIndex = middleware.slashParts(3)[0].slashIndex;
        vm.prank(resolver);
        IVetoSlasher(slasherA).vetoSlash(slashIndex, "");
        assertEq(uint8(middleware.slashStatus(3)), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));

        // Closing a fully vetoed slash needs no waiting.
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashVetoed(3);
        assertEq(middleware.executeSlash(3), 0);
        assertEq(uint8(middleware.slashes(3).status), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));
        assertEq(IVault(vaultA).activeStake(), DEPOSIT);
        assertEq(token.balanceOf(burner), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.SlashNotPending.selector, 3, IKalypsoMiddleware.SlashStatus.Vetoed
            )
        );
        middleware.executeSlash(3);
    }

    function test_executeSlash_partlyVetoedSlashesTheRest() public {
        (address vaultB,,) = _newVault(address(token), VAULT_EPOCH, VETO);
        _delegate(vaultB, op1, 1);
        _deposit(vaultB, 400e18);
        middleware.registerVault(vaultB);
        vm.warp(T0 + EPOCH + 1);

        // op1 holds 250 in A and 400 in B at the epoch-1 capture; 300 splits into 250 (A) + 50 (B).
        assertEq(_requestSlash(4, op1, 300e18, T0 + EPOCH), 300e18);
        IKalypsoMiddleware.SlashPart[] memory parts = middleware.slashParts(4);
        assertEq(parts.length, 2);
        assertEq(parts[0].vault, vaultA);
        assertEq(parts[0].amount, 250e18);
        assertEq(parts[1].vault, vaultB);
        assertEq(parts[1].amount, 50e18);

        vm.prank(resolver);
        IVetoSlasher(slasherA).vetoSlash(parts[0].slashIndex, "");
        assertEq(uint8(middleware.slashStatus(4)), uint8(IKalypsoMiddleware.SlashStatus.Requested));

        vm.warp(block.timestamp + VETO);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartVetoed(4, vaultA, parts[0].slashIndex);
        assertEq(middleware.executeSlash(4), 50e18);
        assertEq(uint8(middleware.slashStatus(4)), uint8(IKalypsoMiddleware.SlashStatus.Executed));
        assertEq(token.balanceOf(burner), 50e18);
        assertEq(IVault(vaultA).activeStake(), DEPOSIT);
        assertEq(IVault(vaultB).activeStake(), 350e18);
    }

    function test_requestSlash_atWindowEdgeStillExecutes() public {
        // The latest request the middleware accepts for capture T0 (T0 + SLASH_WINDOW) executes after its veto
        // period, exactly when the vault's slashing window for T0 (one vault epoch) closes.
        vm.warp(T0 + 2 * EPOCH);
        _requestSlash(5, op2, 100e18, T0);
        vm.warp(T0 + 2 * EPOCH + VETO);
        assertEq(uint48(block.timestamp), T0 + VAULT_EPOCH);
        assertEq(middleware.executeSlash(5), 100e18);
    }

    function test_executeSlash_afterVaultWindowSlashesNothing() public {
        _requestSlash(6, op2, 100e18, T0);
        vm.warp(T0 + VAULT_EPOCH + 1);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashExecuted(6, 0);
        assertEq(middleware.executeSlash(6), 0);
        assertEq(IVault(vaultA).activeStake(), DEPOSIT);
    }

    function test_RevertWhen_captureTooOld() public {
        vm.warp(T0 + 2 * EPOCH + 1);
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureTooOld.selector, T0, T0 + 1));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_captureNotEpochStart() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0 + 1);
        bytes[] memory sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureNotEpochStart.selector, T0 + 1));
        middleware.requestSlash(req, sigs);

        req = _request(1, op1, 1e18, T0 - EPOCH);
        sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureNotEpochStart.selector, T0 - EPOCH));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_captureNotPast() public {
        vm.warp(T0 + EPOCH);
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0 + EPOCH);
        bytes[] memory sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureNotPast.selector, T0 + EPOCH, T0 + EPOCH));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_operatorNotRegisteredAtCapture() public {
        address op3 = makeAddr("op3");
        _operator(op3);
        _delegate(vaultA, op3, 4);
        vm.warp(T0 + EPOCH + 1);
        middleware.registerOperator(op3);
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op3, 1e18, T0 + EPOCH);
        bytes[] memory sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OperatorNotActiveAt.selector, op3, T0 + EPOCH));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_slashIdReplayed() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(9, op1, 1e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        middleware.requestSlash(req, sigs);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SlashIdUsed.selector, 9));
        middleware.requestSlash(req, sigs);
        // Another request under a used id too.
        req.amount = 2e18;
        sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SlashIdUsed.selector, 9));
        middleware.requestSlash(req, sigs);
    }

    // ------------------------------------------------------------ signatures

    function test_RevertWhen_unknownSigner() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        (address stranger, uint256 strangerKey) = makeAddrAndKey("stranger");
        uint256[] memory keys = new uint256[](2);
        keys[0] = memberKeys[0];
        keys[1] = strangerKey;
        bytes[] memory sigs = _signSorted(keys, _digest(req, block.chainid, address(middleware)));
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.UnknownSigner.selector, stranger));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_belowThreshold() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory sigs = _sign(req, 1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.BelowThreshold.selector, 1, 2));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_duplicateSigner() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory one = _sign(req, 1);
        bytes[] memory sigs = new bytes[](2);
        sigs[0] = one[0];
        sigs[1] = one[0];
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SignersNotAscending.selector, members[0], members[0]));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_signersDescending() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        (sigs[0], sigs[1]) = (sigs[1], sigs[0]);
        address low = members[0] < members[1] ? members[0] : members[1];
        address high = members[0] < members[1] ? members[1] : members[0];
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SignersNotAscending.selector, high, low));
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_wrongChainOrContract() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        uint256[] memory keys = new uint256[](2);
        keys[0] = memberKeys[0];
        keys[1] = memberKeys[1];
        bytes32 wrongChain = _digest(req, block.chainid + 1, address(middleware));
        bytes[] memory sigs = _signSorted(keys, wrongChain);
        // The signatures recover to other addresses, which are no members.
        vm.expectPartialRevert(IKalypsoMiddleware.UnknownSigner.selector);
        middleware.requestSlash(req, sigs);

        bytes32 wrongContract = _digest(req, block.chainid, address(0xBEEF));
        sigs = _signSorted(keys, wrongContract);
        vm.expectPartialRevert(IKalypsoMiddleware.UnknownSigner.selector);
        middleware.requestSlash(req, sigs);

        // A signature of other request fields does not carry over either.
        IKalypsoMiddleware.SlashRequest memory other = _request(1, op1, 2e18, T0);
        sigs = _sign(other, 2);
        vm.expectPartialRevert(IKalypsoMiddleware.UnknownSigner.selector);
        middleware.requestSlash(req, sigs);
    }

    function test_RevertWhen_malformedSignature() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        sigs[1] = hex"1234";
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.InvalidSignature.selector, 1));
        middleware.requestSlash(req, sigs);
    }

    function test_setCommittee_replacesMembers() public {
        address[] memory next = new address[](1);
        next[0] = members[2];
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.CommitteeSet(next, 1);
        middleware.setCommittee(next, 1);
        assertFalse(middleware.isCommitteeMember(members[0]));
        assertTrue(middleware.isCommitteeMember(members[2]));
        (address[] memory got, uint256 threshold) = middleware.committee();
        assertEq(got.length, 1);
        assertEq(threshold, 1);

        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 1e18, T0);
        bytes[] memory old = _sign(req, 1); // members[0], no longer a member
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.UnknownSigner.selector, members[0]));
        middleware.requestSlash(req, old);
        uint256[] memory keys = new uint256[](1);
        keys[0] = memberKeys[2];
        middleware.requestSlash(req, _signSorted(keys, _digest(req, block.chainid, address(middleware))));
    }

    function test_RevertWhen_committeeInvalid() public {
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.InvalidCommittee.selector, 3, 4));
        middleware.setCommittee(members, 4);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.InvalidCommittee.selector, 3, 0));
        middleware.setCommittee(members, 0);
        address[] memory dup = new address[](2);
        dup[0] = members[0];
        dup[1] = members[0];
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.InvalidCommitteeMember.selector, members[0]));
        middleware.setCommittee(dup, 1);
    }

    function test_RevertWhen_noCommittee() public {
        IKalypsoMiddleware fresh = _newMiddleware();
        vm.expectRevert(IKalypsoMiddleware.NoCommittee.selector);
        fresh.requestSlash(_request(1, op1, 1e18, T0), new bytes[](0));
    }

    // ------------------------------------------------------------ access control

    function test_RevertWhen_ownerFunctionsCalledByStranger() public {
        address stranger = makeAddr("stranger");
        bytes memory unauthorized = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger);
        vm.startPrank(stranger);
        vm.expectRevert(unauthorized);
        middleware.registerVault(vaultA);
        vm.expectRevert(unauthorized);
        middleware.unregisterVault(vaultA);
        vm.expectRevert(unauthorized);
        middleware.registerOperator(op1);
        vm.expectRevert(unauthorized);
        middleware.unregisterOperator(op1);
        vm.expectRevert(unauthorized);
        middleware.setCommittee(members, 1);
        vm.stopPrank();
    }

    function test_transferOwnership_twoSteps() public {
        address next = makeAddr("nextOwner");
        Ownable2Step owned = Ownable2Step(address(middleware));
        owned.transferOwnership(next);
        assertEq(owned.owner(), address(this));
        vm.prank(next);
        owned.acceptOwnership();
        assertEq(owned.owner(), next);
    }

    // ------------------------------------------------------------ Symbiotic timing facts the design relies on

    /// The first `setResolver` of a subnetwork applies at once (VetoSlasher.sol:262-268); a change applies from the
    /// vault epoch start `resolverSetEpochsDelay` epochs ahead (l. 254-260); a slash whose capture precedes the
    /// first resolver cannot be vetoed and needs no veto wait in the slasher (l. 144-151, 207-215).
    function test_setResolver_firstAppliesAtOnceChangesWaitEpochs() public {
        assertEq(IVetoSlasher(slasherA).resolverAt(subnetwork, T0, ""), resolver);
        address next = makeAddr("nextResolver");
        vm.prank(network);
        IVetoSlasher(slasherA).setResolver(0, next, "");
        uint48 effective = IVault(vaultA).currentEpochStart() + uint48(RESOLVER_DELAY) * VAULT_EPOCH;
        assertEq(IVetoSlasher(slasherA).resolver(subnetwork, ""), resolver);
        assertEq(IVetoSlasher(slasherA).resolverAt(subnetwork, effective - 1, ""), resolver);
        assertEq(IVetoSlasher(slasherA).resolverAt(subnetwork, effective, ""), next);
    }

    /// Symbiotic's VetoSlasher only lets the network's middleware request and execute slashes.
    function test_RevertWhen_slasherCalledDirectly() public {
        vm.expectRevert(IBaseSlasher.NotNetworkMiddleware.selector);
        vm.prank(network);
        IVetoSlasher(slasherA).requestSlash(subnetwork, op1, 1e18, T0, "");
    }

    // ------------------------------------------------------------ fuzz

    /// Over two vaults the parts never exceed a vault's slashable stake, they add up to the covered amount, the
    /// covered amount is min(requested, total slashable), and executing slashes exactly that.
    function testFuzz_requestSlash_splitWithinSlashableStake(
        uint256 depositB,
        uint256 sharesA,
        uint256 sharesB,
        uint256 amount
    ) public {
        depositB = bound(depositB, 0, 1e24);
        sharesA = bound(sharesA, 1, 1e6);
        sharesB = bound(sharesB, 1, 1e6);
        amount = bound(amount, 1, 3e24);
        (address vaultB,,) = _newVault(address(token), VAULT_EPOCH + 7, VETO + 3);
        _delegate(vaultB, op1, sharesB);
        if (depositB != 0) _deposit(vaultB, depositB);
        if (sharesA != 1) {
            vm.prank(curator);
            INetworkRestakeDelegator(delegatorA).setOperatorNetworkShares(subnetwork, op1, sharesA);
        }
        middleware.registerVault(vaultB);
        vm.warp(T0 + EPOCH + 1);
        uint48 capture = T0 + EPOCH;

        uint256 slashableA = IVetoSlasher(slasherA).slashableStake(subnetwork, op1, capture, "");
        uint256 slashableB = IVetoSlasher(IVault(vaultB).slasher()).slashableStake(subnetwork, op1, capture, "");
        assertEq(slashableA + slashableB, middleware.stakeAt(op1, capture));
        uint256 expected = amount < slashableA + slashableB ? amount : slashableA + slashableB;
        vm.assume(expected != 0);

        uint256 covered = _requestSlash(1, op1, amount, capture);
        assertEq(covered, expected);
        IKalypsoMiddleware.SlashPart[] memory parts = middleware.slashParts(1);
        uint256 sum;
        for (uint256 i; i < parts.length; ++i) {
            uint256 cap = parts[i].vault == vaultA ? slashableA : slashableB;
            assertLe(parts[i].amount, cap);
            assertGt(parts[i].amount, 0);
            sum += parts[i].amount;
        }
        assertEq(sum, covered);
        assertLe(sum, amount);

        vm.warp(block.timestamp + VETO + 3);
        assertEq(middleware.executeSlash(1), covered);
        assertEq(token.balanceOf(burner), covered);
    }
}
