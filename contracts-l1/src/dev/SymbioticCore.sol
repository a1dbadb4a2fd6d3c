// SPDX-License-Identifier: MIT
pragma solidity 0.8.25;

// Pulls the Symbiotic core contracts Kalypso deploys (tests, script/DeployL1.s.sol) into this project's build, so
// `forge build` writes their artifacts to out/ with the compiler and settings of the middleware (solc 0.8.25).
// Nothing here is Kalypso code; the core stays in node_modules (BUSL-1.1) and its artifacts in the git-ignored out/.
import {DelegatorFactory} from "@symbioticfi/core/src/contracts/DelegatorFactory.sol";
import {NetworkRegistry} from "@symbioticfi/core/src/contracts/NetworkRegistry.sol";
import {OperatorRegistry} from "@symbioticfi/core/src/contracts/OperatorRegistry.sol";
import {SlasherFactory} from "@symbioticfi/core/src/contracts/SlasherFactory.sol";
import {VaultConfigurator} from "@symbioticfi/core/src/contracts/VaultConfigurator.sol";
import {VaultFactory} from "@symbioticfi/core/src/contracts/VaultFactory.sol";
import {FullRestakeDelegator} from "@symbioticfi/core/src/contracts/delegator/FullRestakeDelegator.sol";
import {NetworkRestakeDelegator} from "@symbioticfi/core/src/contracts/delegator/NetworkRestakeDelegator.sol";
import {OperatorSpecificDelegator} from "@symbioticfi/core/src/contracts/delegator/OperatorSpecificDelegator.sol";
import {MetadataService} from "@symbioticfi/core/src/contracts/service/MetadataService.sol";
import {NetworkMiddlewareService} from "@symbioticfi/core/src/contracts/service/NetworkMiddlewareService.sol";
import {OptInService} from "@symbioticfi/core/src/contracts/service/OptInService.sol";
import {Slasher} from "@symbioticfi/core/src/contracts/slasher/Slasher.sol";
import {VetoSlasher} from "@symbioticfi/core/src/contracts/slasher/VetoSlasher.sol";
import {Vault} from "@symbioticfi/core/src/contracts/vault/Vault.sol";
