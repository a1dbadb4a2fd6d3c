// SPDX-License-Identifier: MIT
pragma solidity 0.8.25;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title DevToken
/// @notice Collateral token of local deployments and tests ("POND" on the devnet L1): mints `amount` to each holder
/// at deployment, nothing afterwards.
contract DevToken is ERC20 {
    constructor(string memory name, string memory symbol, address[] memory holders, uint256 amount)
        ERC20(name, symbol)
    {
        for (uint256 i; i < holders.length; ++i) {
            _mint(holders[i], amount);
        }
    }
}
