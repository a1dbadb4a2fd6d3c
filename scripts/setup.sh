#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (git-ignored): forge/anvil/cast 1.7.1, solc 0.8.30 (solcjs
# behind a native-looking wrapper), OpenZeppelin 5 and forge-std, circom2 and snarkjs (circom circuits:
# scripts/circom-circuit.sh and the tests that run `snarkjs groth16 verify`), and Slither in a Python venv
# (.tools/slither-venv, pinned by toolchain/requirements-slither.txt). Idempotent: quick when already present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

if ! cmp -s "$root/toolchain/package-lock.json" "$tools/package-lock.json" || [ ! -x "$tools/node_modules/.bin/forge" ]; then
  echo "setup: installing pinned toolchain into .tools/ (npm ci)" >&2
  cp "$root/toolchain/package.json" "$root/toolchain/package-lock.json" "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

# forge wants an executable `solc`; the wrapper lives next to node_modules so it finds solcjs.
install -m 0755 "$root/toolchain/solc.js" "$tools/solc"
mkdir -p "$tools/bin"
for bin in forge anvil cast; do
  ln -sf "../node_modules/.bin/$bin" "$tools/bin/$bin"
done
ln -sf ../solc "$tools/bin/solc"

if [ "$("$tools/bin/forge" --version | head -1 | grep -c '1.7.1')" != 1 ]; then
  echo "setup: unexpected forge version: $("$tools/bin/forge" --version | head -1)" >&2
  exit 1
fi
echo "setup: toolchain ready in .tools/bin ($("$tools/bin/forge" --version | head -1 | cut -d' ' -f1-3), solc $("$tools/solc" --version | tail -1 | cut -d' ' -f2))" >&2

# Slither (static analysis, run by scripts/test.sh): every package pinned exactly and installed with --no-deps, so
# the venv holds exactly toolchain/requirements-slither.txt; `pip check` proves that closure is complete. A copy of
# the requirements file is the stamp: reinstalled from scratch when it changes (cold install ≈ 1.5 min).
venv="$tools/slither-venv"
if ! cmp -s "$root/toolchain/requirements-slither.txt" "$venv/requirements-slither.txt" || [ ! -x "$venv/bin/slither" ]; then
  echo "setup: installing pinned Slither into .tools/slither-venv (pip)" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --disable-pip-version-check --quiet --no-deps -r "$root/toolchain/requirements-slither.txt"
  "$venv/bin/pip" check --disable-pip-version-check >/dev/null
  cp "$root/toolchain/requirements-slither.txt" "$venv/requirements-slither.txt"
fi
ln -sf ../slither-venv/bin/slither "$tools/bin/slither"
echo "setup: slither $("$tools/bin/slither" --version) ready in .tools/bin" >&2
