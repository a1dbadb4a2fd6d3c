#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (git-ignored): forge/anvil/cast 1.7.1, solc 0.8.30 and 0.8.25 (solcjs
# behind native-looking wrappers), OpenZeppelin 5 and forge-std, the Symbiotic core (@symbioticfi/core, BUSL-1.1:
# installed, never committed; it brings its own OpenZeppelin 5.0.2 under its node_modules) for contracts-l1/,
# circom2 and snarkjs (circom circuits: scripts/circom-circuit.sh and the tests that run `snarkjs groth16 verify`),
# the portal's front-end packages (esbuild, preact, htm, uPlot, viem; playwright-core for its browser tests), Slither
# in a Python venv (.tools/slither-venv, pinned by toolchain/requirements-slither.txt) and Debian's chromium for the
# portal's browser tests. Idempotent: quick when already present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
mkdir -p "$tools"

if ! cmp -s "$root/toolchain/package-lock.json" "$tools/package-lock.json" || [ ! -x "$tools/node_modules/.bin/forge" ]; then
  echo "setup: installing pinned toolchain into .tools/ (npm ci)" >&2
  cp "$root/toolchain/package.json" "$root/toolchain/package-lock.json" "$tools/"
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi

# forge wants an executable `solc`; the wrapper lives next to node_modules so it finds solcjs, and loads the solcjs
# package named like the file it is installed as (solc -> 0.8.30, solc-0.8.25 -> 0.8.25).
install -m 0755 "$root/toolchain/solc.js" "$tools/solc"
install -m 0755 "$root/toolchain/solc.js" "$tools/solc-0.8.25"
mkdir -p "$tools/bin"
for bin in forge anvil cast; do
  ln -sf "../node_modules/.bin/$bin" "$tools/bin/$bin"
done
ln -sf ../solc "$tools/bin/solc"

if [ "$("$tools/bin/forge" --version | head -1 | grep -c '1.7.1')" != 1 ]; then
  echo "setup: unexpected forge version: $("$tools/bin/forge" --version | head -1)" >&2
  exit 1
fi
if [ "$("$tools/solc-0.8.25" --version | tail -1 | grep -c 'Version: 0.8.25+')" != 1 ]; then
  echo "setup: unexpected solc-0.8.25 version: $("$tools/solc-0.8.25" --version | tail -1)" >&2
  exit 1
fi
echo "setup: toolchain ready in .tools/bin ($("$tools/bin/forge" --version | head -1 | cut -d' ' -f1-3), solc $("$tools/solc" --version | tail -1 | cut -d' ' -f2), $("$tools/solc-0.8.25" --version | tail -1 | cut -d' ' -f2))" >&2

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

# Chromium for the portal's browser tests (Debian's package, driven by playwright-core from the toolchain): installed
# when missing (apt-get as root, else through sudo; ≈ 1 min, 350 MB).
if ! command -v chromium >/dev/null 2>&1; then
  echo "setup: installing chromium (Debian) for the portal's browser tests" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup: cannot install chromium (not root, no sudo): install Debian's chromium for the portal's tests" >&2
    exit 1
  fi
fi
echo "setup: $(chromium --version 2>/dev/null | head -1) ready for the portal's browser tests" >&2
