// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {Base} from "./Base.t.sol";

import {IKalypsoMiddleware} from "../src/IKalypsoMiddleware.sol";

import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
import {IOperatorSpecificDelegator} from "@symbioticfi/core/src/interfaces/delegator/IOperatorSpecificDelegator.sol";
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
        assertEq(middleware.EXECUTION_MARGIN(), MARGIN);
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
        assertEq(middleware.stakeAt(op1, T0 + EPOCH), STAKE1);
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
        (address v,,) = _createVault(core, _spec(op1, other, VAULT_EPOCH, VETO));
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongCollateral.selector, v, other, address(token)));
        middleware.registerVault(v);

        // Shared-stake delegators are refused: a NetworkRestakeDelegator splits one vault among operators (a slash of
        // one shrinks the others' stake), a FullRestakeDelegator lets them all count the same collateral.
        VaultSpec memory spec = _spec(op1, address(token), VAULT_EPOCH, VETO);
        spec.delegatorIndex = NETWORK_RESTAKE_DELEGATOR;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongDelegatorType.selector, v, 0));
        middleware.registerVault(v);

        spec.delegatorIndex = FULL_RESTAKE_DELEGATOR;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongDelegatorType.selector, v, 1));
        middleware.registerVault(v);

        spec = _spec(op1, address(token), VAULT_EPOCH, VETO);
        spec.slasherIndex = INSTANT_SLASHER;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.WrongSlasherType.selector, v, 0));
        middleware.registerVault(v);

        spec = _spec(op1, address(token), VAULT_EPOCH, VETO);
        spec.withSlasher = false;
        (v,,) = _createVault(core, spec);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NoSlasher.selector, v));
        middleware.registerVault(v);

        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VaultAlreadyRegistered.selector, vault1));
        middleware.registerVault(vault1);
    }

    /// The vault epoch must cover the slash window, the veto period and the execution margin.
    function test_registerVault_requiresExecutionMargin() public {
        uint256 minimum = 2 * EPOCH + VETO + MARGIN;
        (address v,,) = _createVault(core, _spec(op1, address(token), VAULT_EPOCH - 1, VETO));
        vm.expectRevert(
            abi.encodeWithSelector(IKalypsoMiddleware.VaultEpochTooShort.selector, v, VAULT_EPOCH - 1, minimum)
        );
        middleware.registerVault(v);

        // A longer veto period needs a longer vault epoch.
        (v,,) = _createVault(core, _spec(op1, address(token), VAULT_EPOCH, VETO + 1));
        vm.expectRevert(
            abi.encodeWithSelector(IKalypsoMiddleware.VaultEpochTooShort.selector, v, VAULT_EPOCH, minimum + 1)
        );
        middleware.registerVault(v);

        // Without the margin the vault would fit: a middleware with margin 0 takes it.
        (v,,) = _createVault(core, _spec(op1, address(token), 2 * EPOCH + VETO, VETO));
        vm.expectRevert(
            abi.encodeWithSelector(IKalypsoMiddleware.VaultEpochTooShort.selector, v, 2 * EPOCH + VETO, minimum)
        );
        middleware.registerVault(v);
        IKalypsoMiddleware noMargin = _newMiddleware(0);
        assertEq(noMargin.EXECUTION_MARGIN(), 0);
        noMargin.registerVault(v);

        // Exactly the minimum is enough.
        (v,,) = _createVault(core, _spec(op1, address(token), VAULT_EPOCH, VETO));
        middleware.registerVault(v);
        assertTrue(middleware.isVaultActiveAt(v, uint48(block.timestamp)));
    }

    /// Each operator may have several vaults (its stake is their sum), up to `MAX_VAULTS_PER_OPERATOR`.
    function test_registerVault_perOperatorVaults() public {
        (address vaultB,,) = _newVault(op1, VAULT_EPOCH, VETO);
        _deposit(vaultB, 100e18);
        middleware.registerVault(vaultB);
        address[] memory vs = middleware.vaults();
        assertEq(vs.length, 3);
        assertEq(vs[0], vault1);
        assertEq(vs[1], vault2);
        assertEq(vs[2], vaultB);
        uint48 now_ = uint48(block.timestamp);
        assertEq(middleware.stakeAt(op1, now_), STAKE1 + 100e18);
        assertEq(middleware.stakeAt(op2, now_), STAKE2);

        for (uint256 i = 2; i < 16; ++i) {
            (address v,,) = _createVault(core, _spec(op1, address(token), VAULT_EPOCH, VETO));
            middleware.registerVault(v);
        }
        (address extra,,) = _createVault(core, _spec(op1, address(token), VAULT_EPOCH, VETO));
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.TooManyVaults.selector, 16));
        middleware.registerVault(extra);
        // The cap is per operator.
        (address forOp2,,) = _createVault(core, _spec(op2, address(token), VAULT_EPOCH, VETO));
        middleware.registerVault(forOp2);
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
        emit IKalypsoMiddleware.VaultUnregistered(vault2);
        middleware.unregisterVault(vault2);
        assertEq(middleware.vaults().length, 1);
        assertEq(middleware.stakeAt(op2, T0 + EPOCH), STAKE2);
        assertEq(middleware.stakeAt(op2, uint48(block.timestamp)), 0);
        assertEq(middleware.stakeAt(op1, uint48(block.timestamp)), STAKE1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VaultNotRegistered.selector, vault2));
        middleware.unregisterVault(vault2);
        // A slash for the earlier capture still reaches the vault.
        _requestSlash(1, op2, 10e18, T0 + EPOCH);
        assertEq(middleware.slashParts(_key(1))[0].vault, vault2);
        // Re-registering counts from now on, without re-checking the vault.
        middleware.registerVault(vault2);
        assertEq(middleware.stakeAt(op2, uint48(block.timestamp)), STAKE2);
    }

    // ------------------------------------------------------------ stake

    function test_stakeAt_laterDepositAndWithdrawalLeaveCaptureUnchanged() public {
        assertEq(middleware.stakeAt(op1, T0), STAKE1);
        assertEq(middleware.stakeAt(op2, T0), STAKE2);

        _deposit(vault1, 400e18);
        vm.prank(depositor);
        IVault(vault1).withdraw(depositor, 200e18);
        uint48 now_ = uint48(block.timestamp);
        assertEq(middleware.stakeAt(op1, now_), STAKE1 + 200e18);
        assertEq(middleware.stakeAt(op1, T0), STAKE1);
        assertEq(middleware.stakeAt(op2, now_), STAKE2);

        (uint48 capture, address[] memory ops, uint256[] memory stakes) = middleware.snapshot(0);
        assertEq(capture, T0);
        assertEq(ops.length, 2);
        assertEq(ops[0], op1);
        assertEq(stakes[0], STAKE1);
        assertEq(stakes[1], STAKE2);
        // Each operator's stake is its own vault's, never shared.
        assertEq(stakes[0], IVault(vault1).activeStakeAt(T0, ""));
        assertEq(stakes[1], IVault(vault2).activeStakeAt(T0, ""));

        vm.warp(T0 + EPOCH + 1);
        (capture,, stakes) = middleware.snapshot(1);
        assertEq(capture, T0 + EPOCH);
        assertEq(stakes[0], STAKE1 + 200e18);
        assertEq(stakes[1], STAKE2);
    }

    function test_stakeAt_zeroWithoutVaultOptInAtCapture() public {
        address op3 = makeAddr("op3");
        _operator(op3);
        (address vault3, address delegator3,) = _createVault(core, _spec(op3, address(token), VAULT_EPOCH, VETO));
        vm.prank(network);
        IBaseDelegator(delegator3).setMaxNetworkLimit(0, type(uint256).max);
        vm.prank(curator);
        IOperatorSpecificDelegator(delegator3).setNetworkLimit(subnetwork, type(uint256).max);
        _deposit(vault3, 500e18);
        middleware.registerVault(vault3);
        middleware.registerOperator(op3);
        // A vault of its own but no vault opt-in: Symbiotic's delegator reports zero.
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), 0);
        vm.prank(op3);
        core.operatorVaultOptInService.optIn(vault3);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), 500e18);
        // An opt-out later does not change the capture.
        vm.warp(block.timestamp + 1);
        vm.prank(op3);
        core.operatorNetworkOptInService.optOut(network);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp - 1)), 500e18);
        assertEq(middleware.stakeAt(op3, uint48(block.timestamp)), 0);
    }

    /// An OperatorSpecificDelegator vault backs its operator only: another operator opted in to it gets nothing.
    function test_stakeAt_otherOperatorsVaultGivesNothing() public {
        vm.prank(op2);
        core.operatorVaultOptInService.optIn(vault1);
        uint48 now_ = uint48(block.timestamp);
        assertEq(IBaseDelegator(IVault(vault1).delegator()).stakeAt(subnetwork, op2, now_, ""), 0);
        assertEq(middleware.stakeAt(op2, now_), STAKE2);
        assertEq(middleware.stakeAt(op1, now_), STAKE1);
    }

    /// M3: a slash of one operator never reduces another operator's stake, so the L2's per-operator locks are backed.
    function test_slash_leavesOtherOperatorsStake() public {
        assertEq(_requestSlash(1, op1, STAKE1, T0), STAKE1);
        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(_key(1)), STAKE1);
        uint48 now_ = uint48(block.timestamp);
        assertEq(middleware.stakeAt(op1, now_), 0);
        assertEq(middleware.stakeAt(op2, now_), STAKE2);
        assertEq(IVetoSlasher(slasher2).slashableStake(subnetwork, op2, T0, ""), STAKE2);
        // op2 can still be slashed in full for the same capture.
        assertEq(_requestSlash(2, op2, STAKE2, T0), STAKE2);
        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(_key(2)), STAKE2);
        assertEq(token.balanceOf(burner), STAKE1 + STAKE2);
    }

    function test_RevertWhen_snapshotOfCurrentInstant() public {
        vm.warp(T0 + EPOCH);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureNotPast.selector, T0 + EPOCH, T0 + EPOCH));
        middleware.snapshot(1);
    }

    // ------------------------------------------------------------ slashing

    function test_requestSlash_executesAfterVetoPeriod() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(7, op1, 100e18, T0);
        bytes32 key = _key(7);
        assertEq(middleware.slashKey(L2_CHAIN, pool, 7), key);
        assertEq(middleware.hashSlashRequest(req), _digest(req, block.chainid, address(middleware)));
        bytes[] memory sigs = _sign(req, 2);

        uint48 executableAt = uint48(block.timestamp) + VETO;
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartRequested(key, vault1, 0, 100e18);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashRequested(key, op1, L2_CHAIN, pool, 7, T0, 100e18, 100e18, executableAt);
        vm.prank(makeAddr("relayer"));
        assertEq(middleware.requestSlash(req, sigs), 100e18);
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.Requested));
        IKalypsoMiddleware.Slash memory slash = middleware.slashes(key);
        assertEq(slash.operator, op1);
        assertEq(slash.captureTimestamp, T0);
        assertEq(slash.executableAt, executableAt);
        assertEq(slash.partCount, 1);

        vm.warp(executableAt - 1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.VetoPeriodNotEnded.selector, key, executableAt));
        middleware.executeSlash(key);

        vm.warp(executableAt);
        uint256 activeBefore = IVault(vault1).activeStake();
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartExecuted(key, vault1, 0, 100e18);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashExecuted(key, 100e18);
        vm.prank(makeAddr("keeper"));
        assertEq(middleware.executeSlash(key), 100e18);

        assertEq(IVault(vault1).activeStake(), activeBefore - 100e18);
        assertEq(token.balanceOf(burner), 100e18);
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.Executed));
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.SlashNotPending.selector, key, IKalypsoMiddleware.SlashStatus.Executed
            )
        );
        middleware.executeSlash(key);
    }

    function test_RevertWhen_executeUnknownSlash() public {
        bytes32 key = _key(1);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.SlashNotPending.selector, key, IKalypsoMiddleware.SlashStatus.None
            )
        );
        middleware.executeSlash(key);
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.None));
        assertEq(middleware.slashParts(key).length, 0);
    }

    function test_requestSlash_capsAtSlashableStake() public {
        assertEq(_requestSlash(1, op1, 10 * STAKE1, T0), STAKE1);
        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(_key(1)), STAKE1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.NothingSlashable.selector, op1, T0));
        _requestSlash(2, op1, 1, T0);
        // A failed request leaves its id unused.
        assertEq(uint8(middleware.slashStatus(_key(2))), uint8(IKalypsoMiddleware.SlashStatus.None));
    }

    function test_vetoSlash_nothingSlashedStatusVetoed() public {
        _requestSlash(3, op1, 100e18, T0);
        bytes32 key = _key(3);
        uint256 slashIndex = middleware.slashParts(key)[0].slashIndex;
        vm.prank(resolver);
        IVetoSlasher(slasher1).vetoSlash(slashIndex, "");
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));
        assertEq(uint8(middleware.slashes(key).status), uint8(IKalypsoMiddleware.SlashStatus.Requested));

        // Closing a fully vetoed slash needs no waiting.
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartVetoed(key, vault1, slashIndex);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashVetoed(key);
        assertEq(middleware.executeSlash(key), 0);
        assertEq(uint8(middleware.slashes(key).status), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));
        assertEq(IVault(vault1).activeStake(), STAKE1);
        assertEq(token.balanceOf(burner), 0);
        vm.expectRevert(
            abi.encodeWithSelector(
                IKalypsoMiddleware.SlashNotPending.selector, key, IKalypsoMiddleware.SlashStatus.Vetoed
            )
        );
        middleware.executeSlash(key);
    }

    function test_executeSlash_partlyVetoedSlashesTheRest() public {
        (address vaultB,,) = _newVault(op1, VAULT_EPOCH, VETO);
        _deposit(vaultB, 400e18);
        middleware.registerVault(vaultB);
        vm.warp(T0 + EPOCH + 1);

        // op1 holds 250 in its first vault and 400 in B at the epoch-1 capture; 300 splits into 250 + 50 (B).
        assertEq(_requestSlash(4, op1, 300e18, T0 + EPOCH), 300e18);
        bytes32 key = _key(4);
        IKalypsoMiddleware.SlashPart[] memory parts = middleware.slashParts(key);
        assertEq(parts.length, 2);
        assertEq(parts[0].vault, vault1);
        assertEq(parts[0].amount, 250e18);
        assertEq(parts[1].vault, vaultB);
        assertEq(parts[1].amount, 50e18);

        vm.prank(resolver);
        IVetoSlasher(slasher1).vetoSlash(parts[0].slashIndex, "");
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.Requested));

        vm.warp(block.timestamp + VETO);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashPartVetoed(key, vault1, parts[0].slashIndex);
        assertEq(middleware.executeSlash(key), 50e18);
        assertEq(uint8(middleware.slashStatus(key)), uint8(IKalypsoMiddleware.SlashStatus.Executed));
        assertEq(token.balanceOf(burner), 50e18);
        assertEq(IVault(vault1).activeStake(), STAKE1);
        assertEq(IVault(vaultB).activeStake(), 350e18);
    }

    function test_requestSlash_atWindowEdgeStillExecutes() public {
        // The latest request the middleware accepts for capture T0 (T0 + SLASH_WINDOW) executes after its veto
        // period, EXECUTION_MARGIN before the vault's slashing window for T0 (one vault epoch) closes ...
        vm.warp(T0 + 2 * EPOCH);
        _requestSlash(5, op2, 100e18, T0);
        _requestSlash(6, op2, 100e18, T0);
        vm.warp(T0 + 2 * EPOCH + VETO);
        assertEq(uint48(block.timestamp), T0 + VAULT_EPOCH - MARGIN);
        assertEq(middleware.executeSlash(_key(5)), 100e18);
        // ... so it still executes when the relayer is up to EXECUTION_MARGIN late.
        vm.warp(T0 + VAULT_EPOCH);
        assertEq(middleware.executeSlash(_key(6)), 100e18);
    }

    function test_executeSlash_afterVaultWindowSlashesNothing() public {
        _requestSlash(6, op2, 100e18, T0);
        vm.warp(T0 + VAULT_EPOCH + 1);
        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashExecuted(_key(6), 0);
        assertEq(middleware.executeSlash(_key(6)), 0);
        assertEq(IVault(vault2).activeStake(), STAKE2);
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
        (address vault3,,) = _newVault(op3, VAULT_EPOCH, VETO);
        _deposit(vault3, 100e18);
        middleware.registerVault(vault3);
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
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SlashIdUsed.selector, _key(9)));
        middleware.requestSlash(req, sigs);
        // Another request under a used key too, even after the slash closed.
        vm.warp(block.timestamp + VETO);
        middleware.executeSlash(_key(9));
        req.amount = 2e18;
        sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SlashIdUsed.selector, _key(9)));
        middleware.requestSlash(req, sigs);
    }

    /// M4: a slash is keyed by (L2 chain id, pool, slash id): the same id from another pool or chain is another slash.
    function test_requestSlash_sameIdFromOtherPoolOrChainIsDistinct() public {
        address pool2 = makeAddr("pool2");
        IKalypsoMiddleware.SlashRequest memory a = _request(1, op1, 10e18, T0);
        IKalypsoMiddleware.SlashRequest memory b = _request(1, op1, 20e18, T0);
        b.pool = pool2;
        IKalypsoMiddleware.SlashRequest memory c = _request(1, op1, 30e18, T0);
        c.l2ChainId = L2_CHAIN + 1;
        bytes32 keyA = keccak256(abi.encode(L2_CHAIN, pool, uint64(1)));
        bytes32 keyB = keccak256(abi.encode(L2_CHAIN, pool2, uint64(1)));
        bytes32 keyC = keccak256(abi.encode(L2_CHAIN + 1, pool, uint64(1)));
        assertEq(middleware.slashKey(L2_CHAIN, pool, 1), keyA);
        assertEq(middleware.slashKey(L2_CHAIN, pool2, 1), keyB);
        assertEq(middleware.slashKey(L2_CHAIN + 1, pool, 1), keyC);
        assertTrue(keyA != keyB && keyA != keyC && keyB != keyC);

        vm.expectEmit(address(middleware));
        emit IKalypsoMiddleware.SlashRequested(
            keyB, op1, L2_CHAIN, pool2, 1, T0, 20e18, 20e18, uint48(block.timestamp) + VETO
        );
        _submit(b);
        _submit(a);
        _submit(c);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.SlashIdUsed.selector, keyB));
        _submit(b);

        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(keyA), 10e18);
        assertEq(middleware.executeSlash(keyB), 20e18);
        assertEq(middleware.executeSlash(keyC), 30e18);
        assertEq(token.balanceOf(burner), 60e18);
    }

    // ------------------------------------------------------------ ordering (H1)

    /// An operator's captures must arrive in non-decreasing order; other operators and equal captures are unaffected.
    function test_RevertWhen_captureOutOfOrder() public {
        vm.warp(T0 + EPOCH + 1);
        _requestSlash(1, op1, 10e18, T0 + EPOCH);
        IKalypsoMiddleware.SlashRequest memory req = _request(2, op1, 10e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureOutOfOrder.selector, op1, T0, T0 + EPOCH));
        middleware.requestSlash(req, sigs);
        // Per operator: op2 may still be slashed for the older capture.
        _requestSlash(3, op2, 10e18, T0);
        // An equal capture is fine.
        _requestSlash(4, op1, 10e18, T0 + EPOCH);
        // Closing the newer slash does not lower the bar.
        vm.warp(block.timestamp + VETO);
        middleware.executeSlash(_key(1));
        middleware.executeSlash(_key(4));
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.CaptureOutOfOrder.selector, op1, T0, T0 + EPOCH));
        middleware.requestSlash(req, sigs);
    }

    /// The H1 attack: executing a newer-capture slash first would make Symbiotic value every older-capture slash of
    /// the operator at zero (BaseSlasher: captures before `latestSlashedCaptureTimestamp` are unslashable). The
    /// middleware refuses it; executed in capture order both slash in full.
    function test_executeSlash_olderOpenSlashBlocksNewer() public {
        vm.warp(T0 + EPOCH + 1);
        _requestSlash(1, op1, 100e18, T0);
        _requestSlash(2, op1, 100e18, T0 + EPOCH);
        vm.warp(block.timestamp + VETO);

        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OlderSlashOpen.selector, _key(1)));
        middleware.executeSlash(_key(2));

        assertEq(middleware.executeSlash(_key(1)), 100e18);
        assertEq(middleware.executeSlash(_key(2)), 100e18);
        assertEq(token.balanceOf(burner), 200e18);
        assertEq(IVault(vault1).activeStake(), STAKE1 - 200e18);
        assertEq(IVetoSlasher(slasher1).latestSlashedCaptureTimestamp(subnetwork, op1), T0 + EPOCH);
    }

    /// Equal captures execute in any order; the cursor skips closed slashes and stops at the first open one.
    function test_executeSlash_equalCapturesAnyOrder() public {
        vm.warp(T0 + EPOCH + 1);
        _requestSlash(1, op1, 10e18, T0);
        _requestSlash(2, op1, 20e18, T0);
        _requestSlash(3, op1, 30e18, T0 + EPOCH);
        _requestSlash(4, op1, 40e18, T0 + EPOCH);
        vm.warp(block.timestamp + VETO);

        assertEq(middleware.executeSlash(_key(2)), 20e18);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OlderSlashOpen.selector, _key(1)));
        middleware.executeSlash(_key(4));
        assertEq(middleware.executeSlash(_key(1)), 10e18);
        assertEq(middleware.executeSlash(_key(4)), 40e18);
        assertEq(middleware.executeSlash(_key(3)), 30e18);
        assertEq(token.balanceOf(burner), 100e18);
    }

    /// A fully vetoed slash counts as open until it is closed, and closing it is always allowed.
    function test_executeSlash_vetoedOlderSlashBlocksUntilClosed() public {
        vm.warp(T0 + EPOCH + 1);
        _requestSlash(1, op1, 100e18, T0);
        _requestSlash(2, op1, 100e18, T0 + EPOCH);
        _requestSlash(3, op1, 100e18, T0 + EPOCH);
        vm.startPrank(resolver);
        IVetoSlasher(slasher1).vetoSlash(middleware.slashParts(_key(1))[0].slashIndex, "");
        IVetoSlasher(slasher1).vetoSlash(middleware.slashParts(_key(3))[0].slashIndex, "");
        vm.stopPrank();
        assertEq(uint8(middleware.slashStatus(_key(1))), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));

        // Closing the vetoed newer slash needs neither the veto period nor the older slash.
        assertEq(middleware.executeSlash(_key(3)), 0);
        assertEq(uint8(middleware.slashes(_key(3)).status), uint8(IKalypsoMiddleware.SlashStatus.Vetoed));

        vm.warp(block.timestamp + VETO);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OlderSlashOpen.selector, _key(1)));
        middleware.executeSlash(_key(2));
        assertEq(middleware.executeSlash(_key(1)), 0);
        assertEq(middleware.executeSlash(_key(2)), 100e18);
    }

    /// Another operator's older open slash does not block; an older slash past the vault's window closes with 0.
    function test_executeSlash_orderIsPerOperator() public {
        vm.warp(T0 + EPOCH + 1);
        _requestSlash(1, op2, 100e18, T0);
        _requestSlash(2, op1, 100e18, T0 + EPOCH);
        _requestSlash(3, op2, 100e18, T0 + EPOCH);
        vm.warp(block.timestamp + VETO);
        assertEq(middleware.executeSlash(_key(2)), 100e18);

        // op2's older slash is never executed in time: it still closes (slashing nothing), unblocking the newer one.
        vm.warp(T0 + VAULT_EPOCH + 1);
        vm.expectRevert(abi.encodeWithSelector(IKalypsoMiddleware.OlderSlashOpen.selector, _key(1)));
        middleware.executeSlash(_key(3));
        assertEq(middleware.executeSlash(_key(1)), 0);
        assertEq(middleware.executeSlash(_key(3)), 100e18);
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

        // A signature of other request fields does not carry over either: amount, pool, L2 chain.
        IKalypsoMiddleware.SlashRequest memory other = _request(1, op1, 2e18, T0);
        sigs = _sign(other, 2);
        vm.expectPartialRevert(IKalypsoMiddleware.UnknownSigner.selector);
        middleware.requestSlash(req, sigs);

        other = _request(1, op1, 1e18, T0);
        other.pool = makeAddr("otherPool");
        sigs = _sign(other, 2);
        vm.expectPartialRevert(IKalypsoMiddleware.UnknownSigner.selector);
        middleware.requestSlash(req, sigs);

        other = _request(1, op1, 1e18, T0);
        other.l2ChainId = L2_CHAIN + 1;
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
        middleware.registerVault(vault1);
        vm.expectRevert(unauthorized);
        middleware.unregisterVault(vault1);
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
        assertEq(IVetoSlasher(slasher1).resolverAt(subnetwork, T0, ""), resolver);
        address next = makeAddr("nextResolver");
        vm.prank(network);
        IVetoSlasher(slasher1).setResolver(0, next, "");
        uint48 effective = IVault(vault1).currentEpochStart() + uint48(RESOLVER_DELAY) * VAULT_EPOCH;
        assertEq(IVetoSlasher(slasher1).resolver(subnetwork, ""), resolver);
        assertEq(IVetoSlasher(slasher1).resolverAt(subnetwork, effective - 1, ""), resolver);
        assertEq(IVetoSlasher(slasher1).resolverAt(subnetwork, effective, ""), next);
    }

    /// Symbiotic's VetoSlasher only lets the network's middleware request and execute slashes.
    function test_RevertWhen_slasherCalledDirectly() public {
        vm.expectRevert(IBaseSlasher.NotNetworkMiddleware.selector);
        vm.prank(network);
        IVetoSlasher(slasher1).requestSlash(subnetwork, op1, 1e18, T0, "");
    }

    // ------------------------------------------------------------ fuzz

    /// Over two vaults of the operator the parts never exceed a vault's slashable stake, they add up to the covered
    /// amount, the covered amount is min(requested, total slashable), and executing slashes exactly that.
    function testFuzz_requestSlash_splitWithinSlashableStake(uint256 deposit1, uint256 depositB, uint256 amount)
        public
    {
        deposit1 = bound(deposit1, 0, 1e24);
        depositB = bound(depositB, 0, 1e24);
        amount = bound(amount, 1, 3e24);
        (address vaultB,, address slasherB) = _newVault(op1, VAULT_EPOCH + 7, VETO + 3);
        if (deposit1 != 0) _deposit(vault1, deposit1);
        if (depositB != 0) _deposit(vaultB, depositB);
        middleware.registerVault(vaultB);
        vm.warp(T0 + EPOCH + 1);
        uint48 capture = T0 + EPOCH;

        uint256 slashable1 = IVetoSlasher(slasher1).slashableStake(subnetwork, op1, capture, "");
        uint256 slashableB = IVetoSlasher(slasherB).slashableStake(subnetwork, op1, capture, "");
        assertEq(slashable1, STAKE1 + deposit1);
        assertEq(slashable1 + slashableB, middleware.stakeAt(op1, capture));
        uint256 expected = amount < slashable1 + slashableB ? amount : slashable1 + slashableB;

        uint256 covered = _requestSlash(1, op1, amount, capture);
        assertEq(covered, expected);
        IKalypsoMiddleware.SlashPart[] memory parts = middleware.slashParts(_key(1));
        uint256 sum;
        for (uint256 i; i < parts.length; ++i) {
            uint256 cap = parts[i].vault == vault1 ? slashable1 : slashableB;
            assertLe(parts[i].amount, cap);
            assertGt(parts[i].amount, 0);
            sum += parts[i].amount;
        }
        assertEq(sum, covered);
        assertLe(sum, amount);

        vm.warp(block.timestamp + VETO + 3);
        assertEq(middleware.executeSlash(_key(1)), covered);
        assertEq(token.balanceOf(burner), covered);
        // op2's stake is untouched.
        assertEq(middleware.stakeAt(op2, uint48(block.timestamp)), STAKE2);
    }

    /// Whatever order slashes of one operator are executed in, a slash either executes in capture order or reverts
    /// `OlderSlashOpen`, and every requested amount is slashed in the end (never zeroed by a newer capture).
    function testFuzz_executeSlash_anyOrderSlashesAll(uint256 seed) public {
        uint48[4] memory captures = [T0, T0 + EPOCH, T0 + EPOCH, T0 + 2 * EPOCH];
        vm.warp(T0 + EPOCH + 1);
        for (uint64 i; i < 3; ++i) {
            _requestSlash(i + 1, op1, 10e18, captures[i]);
        }
        vm.warp(T0 + 2 * EPOCH + 1);
        _requestSlash(4, op1, 10e18, captures[3]);
        vm.warp(block.timestamp + VETO);
        bool[4] memory done;
        uint256 executed;
        for (uint256 round; executed < 4; ++round) {
            uint256 i = uint256(keccak256(abi.encode(seed, round))) % 4;
            if (done[i]) continue;
            bool olderOpen;
            for (uint256 j; j < 4; ++j) {
                if (!done[j] && captures[j] < captures[i]) olderOpen = true;
            }
            if (olderOpen) {
                vm.expectPartialRevert(IKalypsoMiddleware.OlderSlashOpen.selector);
                middleware.executeSlash(_key(uint64(i + 1)));
            } else {
                assertEq(middleware.executeSlash(_key(uint64(i + 1))), 10e18);
                done[i] = true;
                ++executed;
            }
        }
        assertEq(token.balanceOf(burner), 40e18);
    }
}
