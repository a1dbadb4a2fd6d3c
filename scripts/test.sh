#!/usr/bin/env bash
# Runs every test of the project from a fresh clone: installs the pinned toolchain, then the Solidity suite
# (unit, fuzz, invariant), the gas snapshot check, the bindings drift check, the L1 (Symbiotic) project and its
# deployment, the portal bundle check, Slither (every finding triaged), and the Rust workspace tests (including the
# end-to-end suite and the portal in headless Chromium).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
export PATH="$root/.tools/bin:$PATH"

step() { printf '\n==> %s\n' "$*" >&2; }

step "forge build + bindings drift check"
(cd contracts && forge build)
(cd contracts-l1 && forge build)
node scripts/export-artifacts.js
if ! git diff --quiet -- crates/contracts/artifacts || [ -n "$(git ls-files --others --exclude-standard crates/contracts/artifacts)" ]; then
  echo "crates/contracts/artifacts differs from contracts/src: run scripts/export-artifacts.js and commit" >&2
  git status --short crates/contracts/artifacts >&2
  exit 1
fi

step "portal: rebuild the page (esbuild) and check it matches the committed portal/dist"
node portal/build.mjs
if ! git diff --quiet -- portal/dist || [ -n "$(git ls-files --others --exclude-standard portal/dist)" ]; then
  echo "portal/dist differs from portal/src: run node portal/build.mjs and commit" >&2
  git status --short portal/dist >&2
  exit 1
fi

step "forge test (unit, fuzz, invariant)"
(cd contracts && FORGE_SNAPSHOT_CHECK=true forge test)

step "forge gas snapshots (checked against contracts/snapshots)"
(cd contracts && FOUNDRY_PROFILE=gas FORGE_SNAPSHOT_CHECK=true forge test)

step "forge script Deploy.s.sol broadcast to a throwaway anvil (the sample proof verifies on-chain)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
anvil --host 127.0.0.1 --port "$port" --silent >/dev/null 2>&1 &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null || true' EXIT
rpc_url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do cast chain-id --rpc-url "$rpc_url" >/dev/null 2>&1 && break; sleep 0.1; done
# anvil's first dev key: public, never used on a real network.
deploy_out="$(mktemp -d -t kalypso-deploy.XXXXXX)"
if ! (cd contracts && forge script script/Deploy.s.sol:Deploy \
  --rpc-url "$rpc_url" --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
  --broadcast --slow) >"$deploy_out/log" 2>&1; then
  cat "$deploy_out/log" >&2; echo "forge script deployment failed" >&2; exit 1
fi
verifier="$(sed -n 's/.*sample market .*Groth16Verifier \(0x[0-9a-fA-F]\{40\}\).*/\1/p' "$deploy_out/log" | head -n 1)"
[ -n "$verifier" ] || { cat "$deploy_out/log" >&2; echo "no sample verifier in the deploy log" >&2; exit 1; }
[ "$(cast call --rpc-url "$rpc_url" "$verifier" 'checkSampleInputsAndProof()(bool)')" = true ] \
  || { echo "the sample proof did not verify on-chain" >&2; exit 1; }
kill $anvil_pid; trap - EXIT

step "contracts-l1: forge build (Symbiotic core + KalypsoMiddleware, solc 0.8.25) + tests (harness profile)"
(cd contracts-l1 && forge build && FOUNDRY_PROFILE=harness FORGE_SNAPSHOT_CHECK=true forge test)

step "contracts-l1: DeployL1.s.sol broadcast to a throwaway anvil (operators have stake on-chain, each in its own vault)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
anvil --host 127.0.0.1 --port "$port" --silent >/dev/null 2>&1 &
anvil_pid=$!
trap 'kill $anvil_pid 2>/dev/null || true' EXIT
rpc_url="http://127.0.0.1:$port"
for _ in $(seq 1 100); do cast chain-id --rpc-url "$rpc_url" >/dev/null 2>&1 && break; sleep 0.1; done
l1_json="$root/contracts-l1/deployments/$(cast chain-id --rpc-url "$rpc_url").json"
if ! (cd contracts-l1 && FOUNDRY_PROFILE=harness forge script script/DeployL1.s.sol:DeployL1 \
  --rpc-url "$rpc_url" --private-key 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80 \
  --broadcast --slow) >"$deploy_out/l1.log" 2>&1; then
  cat "$deploy_out/l1.log" >&2; echo "DeployL1.s.sol failed" >&2; exit 1
fi
middleware="$(node -p "require('$l1_json').middleware")"
now="$(cast block latest -f timestamp --rpc-url "$rpc_url")"
for operator in $(node -p "require('$l1_json').operators.join(' ')"); do
  stake="$(cast call --rpc-url "$rpc_url" "$middleware" 'stakeAt(address,uint48)(uint256)' "$operator" "$now" | cut -d' ' -f1)"
  [ "$stake" != 0 ] || { echo "operator $operator has no stake in the L1 middleware" >&2; exit 1; }
done
# One OperatorSpecificDelegator vault per operator, in operator order, registered in the middleware.
[ "$(node -p "const d=require('$l1_json'); d.vaults.map(v => v.operator).join() === d.operators.join()")" = true ] \
  || { echo "deployment: vaults do not match the operators one to one" >&2; exit 1; }
node -p "require('$l1_json').vaults.map(v => [v.operator, v.vault, v.delegator].join(' ')).join('\n')" |
  while read -r operator vault delegator; do
    [ "$(cast call --rpc-url "$rpc_url" "$delegator" 'operator()(address)')" = "$operator" ] \
      || { echo "vault $vault does not back operator $operator" >&2; exit 1; }
    [ "$(cast call --rpc-url "$rpc_url" "$middleware" 'isVaultActiveAt(address,uint48)(bool)' "$vault" "$now")" = true ] \
      || { echo "vault $vault is not registered in the L1 middleware" >&2; exit 1; }
  done
kill $anvil_pid; trap - EXIT

step "slither (static analysis of contracts/src; fails on any finding not triaged, see docs/PROTOCOL.md)"
./scripts/slither.sh

step "cargo test (workspace, including the end-to-end suite)"
cargo test --workspace --locked
