#!/usr/bin/env bash
# Installs the pinned toolchain into .tools/ (git-ignored): forge/anvil/cast 1.7.1, solc 0.8.30 (solcjs
# behind a native-looking wrapper), OpenZeppelin 5 and forge-std. Idempotent: quick when already present.
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
