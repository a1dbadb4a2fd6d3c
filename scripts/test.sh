#!/usr/bin/env bash
# Runs every test of the project from a fresh clone: installs the pinned toolchain, then the Solidity suite
# (unit, fuzz, invariant), the gas snapshot check, the bindings drift check, and the Rust workspace tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
export PATH="$root/.tools/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

step "forge build + bindings drift check"
(cd contracts && forge build)
node scripts/export-artifacts.js
if ! git diff --quiet -- crates/contracts/artifacts || [ -n "$(git ls-files --others --exclude-standard crates/contracts/artifacts)" ]; then
  echo "crates/contracts/artifacts differs from contracts/src: run scripts/export-artifacts.js and commit" >&2
  git status --short crates/contracts/artifacts >&2
  exit 1
fi

step "forge test (unit, fuzz, invariant)"
(cd contracts && FORGE_SNAPSHOT_CHECK=true forge test)

step "forge gas snapshots (checked against contracts/snapshots)"
(cd contracts && FOUNDRY_PROFILE=gas FORGE_SNAPSHOT_CHECK=true forge test)

step "cargo test (workspace)"
cargo test --workspace --locked
