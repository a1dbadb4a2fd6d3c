// SPDX-License-Identifier: MIT
pragma solidity ^0.8.25;

import {SymbioticCoreDeployer} from "../script/SymbioticCoreDeployer.sol";
import {IKalypsoMiddleware} from "../src/IKalypsoMiddleware.sol";

import {IBaseDelegator} from "@symbioticfi/core/src/interfaces/delegator/IBaseDelegator.sol";
import {IOperatorSpecificDelegator} from "@symbioticfi/core/src/interfaces/delegator/IOperatorSpecificDelegator.sol";
import {IVetoSlasher} from "@symbioticfi/core/src/interfaces/slasher/IVetoSlasher.sol";
import {IVault} from "@symbioticfi/core/src/interfaces/vault/IVault.sol";

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

import {Test} from "forge-std/Test.sol";

/// @notice The real Symbiotic core deployed in the test (factories, registries, opt-in services), two operators with
/// one vault each (OperatorSpecificDelegator + VetoSlasher) holding `STAKE1` and `STAKE2` of a test token, Kalypso's
/// middleware set by the network, and a 2-of-3 committee. Time starts at `T0`, the start of epoch 0; every set-up step
/// happens at `T0`, so the epoch-0 capture sees all of it.
abstract contract Base is Test, SymbioticCoreDeployer {
    uint48 internal constant T0 = 1_700_000_000;
    uint48 internal constant EPOCH = 100;
    uint48 internal constant VETO = 50;
    uint48 internal constant MARGIN = 30;
    /// @dev The smallest vault epoch the middleware accepts: SLASH_WINDOW (2 * EPOCH) + VETO + MARGIN.
    uint48 internal constant VAULT_EPOCH = 280;
    uint256 internal constant RESOLVER_DELAY = 3;
    uint256 internal constant STAKE1 = 250e18;
    uint256 internal constant STAKE2 = 750e18;
    /// @dev Chain id of the L2 and the pool the slashes come from.
    uint256 internal constant L2_CHAIN = 42_161;

    SymbioticCore internal core;
    IERC20 internal token;
    IKalypsoMiddleware internal middleware;

    address internal network = makeAddr("network");
    address internal curator = makeAddr("curator");
    address internal resolver = makeAddr("resolver");
    address internal burner = makeAddr("burner");
    address internal depositor = makeAddr("depositor");
    address internal op1 = makeAddr("op1");
    address internal op2 = makeAddr("op2");
    address internal pool = makeAddr("pool");
    bytes32 internal subnetwork;

    /// @dev op1's vault.
    address internal vault1;
    address internal slasher1;
    /// @dev op2's vault.
    address internal vault2;
    address internal slasher2;

    uint256[] internal memberKeys;
    address[] internal members;

    function setUp() public virtual {
        vm.warp(T0);
        subnetwork = bytes32(uint256(uint160(network)) << 96);
        core = _deploySymbioticCore(address(this));
        address[] memory holders = new address[](1);
        holders[0] = depositor;
        token = _newToken(holders, 1e27);

        vm.prank(network);
        core.networkRegistry.registerNetwork();
        _operator(op1);
        _operator(op2);
        (vault1,, slasher1) = _newVault(op1, VAULT_EPOCH, VETO);
        (vault2,, slasher2) = _newVault(op2, VAULT_EPOCH, VETO);
        _deposit(vault1, STAKE1);
        _deposit(vault2, STAKE2);

        middleware = _newMiddleware();
        vm.prank(network);
        core.networkMiddlewareService.setMiddleware(address(middleware));
        middleware.registerVault(vault1);
        middleware.registerVault(vault2);
        middleware.registerOperator(op1);
        middleware.registerOperator(op2);

        for (uint256 i; i < 3; ++i) {
            (address member, uint256 key) = makeAddrAndKey(string.concat("member", vm.toString(i)));
            members.push(member);
            memberKeys.push(key);
        }
        middleware.setCommittee(members, 2);
        vm.warp(T0 + 10);
    }

    /// Deploys the DevToken built by `forge build` (solc 0.8.25), minting `amount` to each of `holders`.
    function _newToken(address[] memory holders, uint256 amount) internal returns (IERC20) {
        return
            IERC20(_deploy("DevToken.sol/DevToken.json", abi.encode(string("Pond"), string("POND"), holders, amount)));
    }

    /// Deploys the KalypsoMiddleware built by `forge build` (solc 0.8.25) for `network`, owned by this test.
    function _newMiddleware() internal returns (IKalypsoMiddleware) {
        return _newMiddleware(MARGIN);
    }

    function _newMiddleware(uint48 margin) internal returns (IKalypsoMiddleware) {
        return IKalypsoMiddleware(
            _deploy(
                "KalypsoMiddleware.sol/KalypsoMiddleware.json",
                abi.encode(
                    network,
                    address(core.vaultFactory),
                    address(core.operatorRegistry),
                    address(core.operatorNetworkOptInService),
                    address(token),
                    T0,
                    EPOCH,
                    margin,
                    address(this)
                )
            )
        );
    }

    /// Creates a vault of `token` backing `op` (OperatorSpecificDelegator) with a VetoSlasher, lets the network use it
    /// (maximum network limit, the curator's network limit, the resolver: the first `setResolver` applies at once) and
    /// opts `op` in to it.
    function _newVault(address op, uint48 vaultEpoch, uint48 veto)
        internal
        returns (address vault, address delegator, address slasher)
    {
        (vault, delegator, slasher) = _createVault(core, _spec(op, address(token), vaultEpoch, veto));
        vm.startPrank(network);
        IBaseDelegator(delegator).setMaxNetworkLimit(0, type(uint256).max);
        IVetoSlasher(slasher).setResolver(0, resolver, "");
        vm.stopPrank();
        vm.prank(curator);
        IOperatorSpecificDelegator(delegator).setNetworkLimit(subnetwork, type(uint256).max);
        vm.prank(op);
        core.operatorVaultOptInService.optIn(vault);
    }

    function _spec(address op, address collateral, uint48 vaultEpoch, uint48 veto)
        internal
        view
        returns (VaultSpec memory)
    {
        return VaultSpec({
            owner: curator,
            curator: curator,
            operator: op,
            collateral: collateral,
            burner: burner,
            epochDuration: vaultEpoch,
            delegatorIndex: OPERATOR_SPECIFIC_DELEGATOR,
            withSlasher: true,
            slasherIndex: VETO_SLASHER,
            vetoDuration: veto,
            resolverSetEpochsDelay: RESOLVER_DELAY
        });
    }

    /// Registers `op` as a Symbiotic operator opted in to the network.
    function _operator(address op) internal {
        vm.startPrank(op);
        core.operatorRegistry.registerOperator();
        core.operatorNetworkOptInService.optIn(network);
        vm.stopPrank();
    }

    function _deposit(address vault, uint256 amount) internal {
        vm.startPrank(depositor);
        token.approve(vault, amount);
        IVault(vault).deposit(depositor, amount);
        vm.stopPrank();
    }

    /// A request of `pool` on `L2_CHAIN`.
    function _request(uint64 slashId, address op, uint256 amount, uint48 capture)
        internal
        view
        returns (IKalypsoMiddleware.SlashRequest memory)
    {
        return IKalypsoMiddleware.SlashRequest({
            l2ChainId: L2_CHAIN, pool: pool, slashId: slashId, operator: op, amount: amount, captureTimestamp: capture
        });
    }

    /// The key of `slashId` of `pool` on `L2_CHAIN`, computed independently of the contract.
    function _key(uint64 slashId) internal view returns (bytes32) {
        return keccak256(abi.encode(L2_CHAIN, pool, slashId));
    }

    /// The EIP-712 digest of `req` under the domain ("KalypsoMiddleware", "1", `chainId`, `verifyingContract`),
    /// computed independently of the contract.
    function _digest(IKalypsoMiddleware.SlashRequest memory req, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("KalypsoMiddleware"),
                keccak256("1"),
                chainId,
                verifyingContract
            )
        );
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "SlashRequest(uint256 l2ChainId,address pool,uint64 slashId,address operator,uint256 amount,uint48 captureTimestamp)"
                ),
                req.l2ChainId,
                req.pool,
                req.slashId,
                req.operator,
                req.amount,
                req.captureTimestamp
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    /// Signatures of `digest` by `keys`, ordered by ascending signer address.
    function _signSorted(uint256[] memory keys, bytes32 digest) internal pure returns (bytes[] memory sigs) {
        uint256 n = keys.length;
        for (uint256 i = 1; i < n; ++i) {
            for (uint256 j = i; j > 0 && vm.addr(keys[j - 1]) > vm.addr(keys[j]); --j) {
                (keys[j - 1], keys[j]) = (keys[j], keys[j - 1]);
            }
        }
        sigs = new bytes[](n);
        for (uint256 i; i < n; ++i) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[i], digest);
            sigs[i] = abi.encodePacked(r, s, v);
        }
    }

    /// Signatures of `req` by the first `count` committee members, for this chain and middleware.
    function _sign(IKalypsoMiddleware.SlashRequest memory req, uint256 count) internal view returns (bytes[] memory) {
        uint256[] memory keys = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            keys[i] = memberKeys[i];
        }
        return _signSorted(keys, _digest(req, block.chainid, address(middleware)));
    }

    function _requestSlash(uint64 slashId, address op, uint256 amount, uint48 capture) internal returns (uint256) {
        return _submit(_request(slashId, op, amount, capture));
    }

    /// Requests `req` signed by two committee members.
    function _submit(IKalypsoMiddleware.SlashRequest memory req) internal returns (uint256) {
        return middleware.requestSlash(req, _sign(req, 2));
    }
}
