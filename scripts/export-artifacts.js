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

// The L1 side (contracts-l1/, solc 0.8.25): Kalypso's own Symbiotic middleware only. Never export the Symbiotic core
// (BUSL-1.1): neither its sources nor its bytecode are committed.
const l1Out = path.join(root, 'contracts-l1', 'out');
const l1Contracts = {
  KalypsoMiddleware: 'KalypsoMiddleware.sol',
};

fs.mkdirSync(dest, { recursive: true });
const all = [
  ...Object.entries(contracts).map(([name, file]) => [name, file, out]),
  ...Object.entries(l1Contracts).map(([name, file]) => [name, file, l1Out]),
];
for (const [name, file, dir] of all) {
  const artifact = JSON.parse(fs.readFileSync(path.join(dir, file, `${name}.json`), 'utf8'));
  const slim = {
    abi: artifact.abi,
    bytecode: { object: artifact.bytecode.object },
    deployedBytecode: { object: artifact.deployedBytecode.object },
  };
  fs.writeFileSync(path.join(dest, `${name}.json`), JSON.stringify(slim, null, 1) + '\n');
}
process.stderr.write(`export-artifacts: wrote ${all.length} artifacts to crates/contracts/artifacts\n`);
