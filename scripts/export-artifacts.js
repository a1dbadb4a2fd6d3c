#!/usr/bin/env node
// Copies the ABI and bytecode of the public contracts from forge's out/ into crates/contracts/artifacts/, the
// checked-in inputs of the Rust bindings (`sol!`). CI re-runs this and fails if the folder changes, so the
// bindings never drift from contracts/src.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const out = path.join(root, 'contracts', 'out');
const dest = path.join(root, 'crates', 'contracts', 'artifacts');

// Contract name -> source file name (forge writes out/<File>.sol/<Name>.json).
const contracts = {
  ProofMarketplace: 'ProofMarketplace.sol',
  GeneratorRegistry: 'GeneratorRegistry.sol',
  EntityKeyRegistry: 'EntityKeyRegistry.sol',
  AttestationVerifier: 'AttestationVerifier.sol',
  Groth16Verifier: 'Groth16Verifier.sol',
  TeeVerifier: 'TeeVerifier.sol',
  VerifierFactory: 'VerifierFactory.sol',
  RestakingPool: 'RestakingPool.sol',
  TestToken: 'TestToken.sol',
  ERC1967Proxy: 'ERC1967Proxy.sol',
  TimelockController: 'TimelockController.sol',
};

fs.mkdirSync(dest, { recursive: true });
for (const [name, file] of Object.entries(contracts)) {
  const artifact = JSON.parse(fs.readFileSync(path.join(out, file, `${name}.json`), 'utf8'));
  const slim = {
    abi: artifact.abi,
    bytecode: { object: artifact.bytecode.object },
    deployedBytecode: { object: artifact.deployedBytecode.object },
  };
  fs.writeFileSync(path.join(dest, `${name}.json`), JSON.stringify(slim, null, 1) + '\n');
}
process.stderr.write(`export-artifacts: wrote ${Object.keys(contracts).length} artifacts to crates/contracts/artifacts\n`);
