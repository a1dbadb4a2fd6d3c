// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IRestakingPool} from "../../src/interfaces/IRestakingPool.sol";
import {RestakingPool} from "../../src/staking/RestakingPool.sol";
import {Vm} from "forge-std/Vm.sol";

/// @notice Committee-signed snapshots for a RestakingPool in tests.
library Restaking {
    Vm private constant VM = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// Signs `snapshot` with `signers` in ascending address order (the order the pool requires).
    function sign(RestakingPool pool, IRestakingPool.Snapshot memory snapshot, Vm.Wallet[] memory signers)
        internal
        returns (bytes[] memory signatures)
    {
        bytes32 digest = pool.snapshotDigest(snapshot);
        Vm.Wallet[] memory sorted = sortByAddress(signers);
        signatures = new bytes[](sorted.length);
        for (uint256 i; i < sorted.length; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = VM.sign(sorted[i], digest);
            signatures[i] = abi.encodePacked(r, s, v);
        }
    }

    /// Pool parameters: epochs of `epoch` seconds from `start`, an offset of a tenth of an epoch, a slash latency of
    /// half an epoch and the longest slash window that leaves (1.5 epochs), no minimum lock.
    function params(uint256 start, uint256 epoch) internal pure returns (IRestakingPool.Params memory) {
        return IRestakingPool.Params({
            epochStart: uint64(start),
            epochDuration: uint64(epoch),
            offset: uint64(epoch / 10),
            slashLatency: uint64(epoch / 2),
            slashWindow: uint64(2 * epoch - epoch / 2),
            minLock: 0
        });
    }

    /// A snapshot of one operator.
    function one(uint64 epoch, uint64 settledSlashes, address operator, uint256 stake)
        internal
        pure
        returns (IRestakingPool.Snapshot memory snapshot)
    {
        snapshot.epoch = epoch;
        snapshot.settledSlashes = settledSlashes;
        snapshot.operators = new address[](1);
        snapshot.operators[0] = operator;
        snapshot.stakes = new uint256[](1);
        snapshot.stakes[0] = stake;
    }

    function sortByAddress(Vm.Wallet[] memory wallets) internal pure returns (Vm.Wallet[] memory) {
        for (uint256 i = 1; i < wallets.length; ++i) {
            for (uint256 j = i; j > 0 && wallets[j - 1].addr > wallets[j].addr; --j) {
                (wallets[j - 1], wallets[j]) = (wallets[j], wallets[j - 1]);
            }
        }
        return wallets;
    }
}
