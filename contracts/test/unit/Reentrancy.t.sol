// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ProtocolDeployer} from "../../script/ProtocolDeployer.sol";
import {IProofMarketplace} from "../../src/interfaces/IProofMarketplace.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Test} from "forge-std/Test.sol";

/// A payment token that calls the recipient back on every transfer (ERC-777-style hooks).
contract HookToken is ERC20("Hook", "HOOK") {
    address public hooked;

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function setHooked(address account) external {
        hooked = account;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (to == hooked) Attacker(to).onTokens();
    }
}

/// Tries to withdraw twice by re-entering from the token hook.
contract Attacker {
    IProofMarketplace internal immutable market;
    uint256 public reentries;

    constructor(IProofMarketplace market_) {
        market = market_;
    }

    function deposit(IERC20 token, uint256 amount) external {
        token.approve(address(market), amount);
        market.deposit(address(this), amount);
    }

    function withdraw(uint256 amount) external {
        market.withdraw(address(this), amount);
    }

    function onTokens() external {
        if (reentries++ > 0) return;
        uint256 amount = market.claimable(address(this)) + 1;
        try market.withdraw(address(this), amount) {} catch {}
        try market.withdraw(address(this), market.claimable(address(this))) {} catch {}
    }
}

/// The marketplace has no reentrancy lock: it relies on checks-effects-interactions. With a payment token that
/// hands control to the recipient mid-transfer, no sequence of re-entries pays out more than was credited.
contract ReentrancyTest is Test, ProtocolDeployer {
    function test_withdraw_reentrantTokenCannotDoubleSpend() public {
        HookToken token = new HookToken();
        DeployConfig memory cfg = _defaultConfig(address(this), makeAddr("treasury"));
        cfg.paymentToken = IERC20(address(token));
        Deployment memory d = _deployProtocol(cfg);
        IProofMarketplace market = IProofMarketplace(address(d.marketplace));

        // Honest users' money sits in the marketplace too.
        token.mint(address(this), 1000);
        token.approve(address(market), 1000);
        market.deposit(makeAddr("honest"), 1000);

        Attacker attacker = new Attacker(market);
        token.mint(address(attacker), 100);
        attacker.deposit(IERC20(address(token)), 100);
        token.setHooked(address(attacker));
        attacker.withdraw(100);

        assertGt(attacker.reentries(), 0, "the hook re-entered");
        assertEq(token.balanceOf(address(attacker)), 100, "exactly what was credited");
        assertEq(market.claimable(address(attacker)), 0);
        assertEq(token.balanceOf(address(market)), 1000, "honest balances untouched");
    }
}
