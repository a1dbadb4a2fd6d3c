// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {Base} from "../Base.t.sol";

import {IKalypsoMiddleware} from "../../src/IKalypsoMiddleware.sol";

/// @notice Gas of the slash path against the real VetoSlasher (the operator's one vault, a 2-of-3 committee; the
/// operator's first slash), written to
/// snapshots/KalypsoMiddleware.json: execution gas of the call frame (no intrinsic or calldata cost). Figures change
/// only with the middleware or the core; `FORGE_SNAPSHOT_CHECK=true` fails the run when they do.
contract GasTest is Base {
    function test_gas_slash() public {
        IKalypsoMiddleware.SlashRequest memory req = _request(1, op1, 100e18, T0);
        bytes[] memory sigs = _sign(req, 2);
        middleware.requestSlash(req, sigs);
        vm.snapshotGasLastCall("KalypsoMiddleware", "requestSlash_1vault_2sigs");

        vm.warp(block.timestamp + VETO);
        middleware.executeSlash(_key(1));
        vm.snapshotGasLastCall("KalypsoMiddleware", "executeSlash_1part");

        (,, uint256[] memory stakes) = middleware.snapshot(0);
        assertEq(stakes.length, 2);
        middleware.snapshot(0);
        vm.snapshotGasLastCall("KalypsoMiddleware", "snapshot_2operators_1vault_each");
    }
}
