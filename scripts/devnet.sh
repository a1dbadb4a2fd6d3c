#!/usr/bin/env bash
# The main job, from a fresh clone: installs the pinned toolchain, starts a local anvil, deploys the whole
# protocol with test tokens and a sample Groth16 market, and prints the addresses.
#   --keep          leave anvil running (Ctrl-C stops it)
#   --rpc-url URL   deploy to an existing node instead of starting anvil (with PRIVATE_KEY set)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
keep=0
rpc_url=""
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=1 ;;
    --rpc-url) rpc_url="${2:?--rpc-url needs a URL}"; shift ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "devnet: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done

./scripts/setup.sh
export PATH="$root/.tools/bin:$PATH"

# anvil's first default account: a well-known devnet key, never used on a real network.
key="${PRIVATE_KEY:-0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80}"
if [ -z "$rpc_url" ]; then
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  log="$(mktemp -t kalypso-anvil.XXXXXX)"
  anvil --host 127.0.0.1 --port "$port" --silent >"$log" 2>&1 &
  anvil_pid=$!
  trap 'kill $anvil_pid 2>/dev/null || true' EXIT
  rpc_url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do
    cast chain-id --rpc-url "$rpc_url" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "devnet: anvil running at $rpc_url (pid $anvil_pid)" >&2
fi

deploy_log="$(mktemp -t kalypso-deploy.XXXXXX)"
echo "devnet: deploying the protocol (forge script; log: $deploy_log)" >&2
if ! (cd contracts && forge script script/Deploy.s.sol:Deploy --rpc-url "$rpc_url" --private-key "$key" \
  --broadcast --slow) >"$deploy_log" 2>&1; then
  cat "$deploy_log" >&2
  echo "devnet: deployment failed (see above)" >&2
  exit 1
fi
sed -n '/Kalypso protocol deployed/,/written to/p' "$deploy_log"

# Read the deployment back from the chain: the sample market exists and its verifier accepts its sample proof.
chain_id="$(cast chain-id --rpc-url "$rpc_url")"
deployment="contracts/deployments/$chain_id.json"
field() { node -e "process.stdout.write(String(require('./$deployment')['$1']))"; }
marketplace="$(field marketplace)"
verifier="$(field sampleVerifier)"
markets="$(cast call --rpc-url "$rpc_url" "$marketplace" 'marketCount()(uint256)')"
check="$(cast call --rpc-url "$rpc_url" "$verifier" 'checkSampleInputsAndProof()(bool)')"
echo "  on-chain check: $markets market(s); sample Groth16 proof verifies: $check"
[ "$check" = true ] || { echo "devnet: the sample proof did not verify on-chain" >&2; exit 1; }

if [ "$keep" = 1 ] && [ -n "${anvil_pid:-}" ]; then
  echo "devnet: keeping anvil at $rpc_url; Ctrl-C to stop" >&2
  wait "$anvil_pid"
fi
