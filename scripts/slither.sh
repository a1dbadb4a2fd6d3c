#!/usr/bin/env bash
# Runs Slither on contracts/src and fails on any finding not triaged. The triage lives in
# contracts/slither.config.json (whole detectors left out, each with its reason) and in
# `// slither-disable-next-line <detector>` comments in contracts/src (each with its reason on the line above);
# docs/PROTOCOL.md ("Static analysis") lists them. Extra arguments go to slither
# (e.g. --show-ignored-findings, --json -). Needs ./scripts/setup.sh first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$root/.tools/bin:$PATH"
cd "$root/contracts"

# Slither compiles through forge (src/ only, `--build-info`): into folders of its own, so out/ and cache/ of the
# normal build are left as they are.
export FOUNDRY_OUT=cache/slither/out FOUNDRY_CACHE_PATH=cache/slither/cache
# Absolute remappings for this compile. With foundry.toml's relative `../.tools/...` ones, solc is handed some
# OpenZeppelin files under two names (relative and absolute: the libraries live outside the project root), Slither
# cannot resolve the duplicated ids and silently drops inheritance and calls of most contracts ("Missing
# inheritance"), hiding findings. The compiled code is the same either way.
nm="$root/.tools/node_modules"
export FOUNDRY_REMAPPINGS="@openzeppelin/contracts/=$nm/@openzeppelin/contracts/
@openzeppelin/contracts-upgradeable/=$nm/@openzeppelin/contracts-upgradeable/
forge-std/=$nm/@layerzerolabs/toolbox-foundry/lib/forge-std/"

log="$(mktemp -t kalypso-slither.XXXXXX)"
trap 'rm -f "$log"' EXIT
status=0
slither . --config-file slither.config.json "$@" 2>&1 | tee "$log" || status=$?
# A partial parse is not a pass: it is how findings were hidden before the remappings above.
if grep -qE 'Failed to resolved name|Missing inheritance|Missing params|ERROR:' "$log"; then
  echo "slither: the contracts were not fully parsed (see the errors above): results are incomplete" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "slither: failed or found untriaged findings (exit $status): fix or triage them (docs/PROTOCOL.md, Static analysis)" >&2
  exit "$status"
fi
