#!/usr/bin/env bash
# Builds the artifacts of a circom circuit of circuits/ with circom2 and snarkjs from npm (pinned in
# toolchain/package.json, installed by scripts/setup.sh):
#   NAME.wasm  NAME.r1cs  NAME.zkey  verification_key.json  input.json  proof.json  public.json
#
#   scripts/circom-circuit.sh OUT_DIR ROUNDS [PTAU_POWER]        the chain circuit (circuits/chain)
#   CIRCUIT=NAME scripts/circom-circuit.sh OUT_DIR [PTAU_POWER]  any other circuit of circuits/
#
# chain: ROUNDS rounds give 3·ROUNDS + 1 constraints (one public input x, one public output y; input x = 5).
# Other circuits: circuits/NAME/NAME.circom declares its own `component main`, circuits/NAME/input.json is the
# sample input. PTAU_POWER (default: the smallest that fits) sizes the powers of tau; set KALYPSO_PTAU to a
# prepared .ptau file to reuse one (a larger one works for smaller circuits).
#
# INSECURE and deterministic: the powers of tau and the zkey get only a public beacon contribution (no secret
# randomness), so anyone can forge proofs for these keys. That keeps the committed fixtures reproducible byte for
# byte (except proof.json, which snarkjs blinds at random); real markets need a real ceremony.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
usage() { sed -n '2,16p' "$0" >&2; exit 2; }
name="${CIRCUIT:-chain}"
case "$name" in ''|*[!a-z0-9_-]*) echo "CIRCUIT must name a folder of circuits/, got '$name'" >&2; exit 2;; esac
src="$root/circuits/$name"
[ -f "$src/$name.circom" ] || { echo "$src/$name.circom not found" >&2; exit 2; }
if [ "$name" = chain ]; then
  [ $# -ge 2 ] && [ $# -le 3 ] || usage
  out="$1"; rounds="$2"; power="${3:-}"
  case "$rounds" in ''|*[!0-9]*) echo "ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2;; esac
else
  [ $# -ge 1 ] && [ $# -le 2 ] || usage
  out="$1"; power="${2:-}"
  [ -f "$src/input.json" ] || { echo "$src/input.json (the sample input) not found" >&2; exit 2; }
fi
case "$power" in *[!0-9]*) echo "PTAU_POWER must be a positive integer, got '$power'" >&2; exit 2;; esac
bin="${KALYPSO_NODE_BIN:-$root/.tools/node_modules/.bin}"
for tool in circom2 snarkjs; do
  [ -x "$bin/$tool" ] || { echo "$bin/$tool not found: run scripts/setup.sh (or set KALYPSO_NODE_BIN)" >&2; exit 1; }
done
beacon=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f

mkdir -p "$out"; out="$(cd "$out" && pwd)"
work="$(mktemp -d -t kalypso-circom.XXXXXX)"; trap 'rm -rf "$work"' EXIT
cd "$work"
# circom2 (WASI) sees only the working directory: compile copies there.
cp "$src"/*.circom .
if [ "$name" = chain ]; then
  main=chain_main
  printf 'pragma circom 2.1.6;\ninclude "chain.circom";\ncomponent main {public [x]} = Chain(%s);\n' "$rounds" >"$main.circom"
  echo '{"x": "5"}' >input.json
  echo "circom-circuit: compiling Chain($rounds) ($((3 * rounds + 1)) constraints)" >&2
else
  main="$name"
  cp "$src/input.json" input.json
  echo "circom-circuit: compiling $name" >&2
fi
"$bin/circom2" "$main.circom" --r1cs --wasm -o . >compile.log

if [ -z "$power" ]; then
  # The domain holds the constraints plus one row per public signal and the constant.
  info="$("$bin/snarkjs" r1cs info "$main.r1cs")"
  count() { printf '%s\n' "$info" | sed -n "s/.*# of $1: *\([0-9]*\).*/\1/p"; }
  rows=$(($(count Constraints) + $(count 'Public Inputs') + $(count Outputs) + 1))
  power=1; while [ $((1 << power)) -lt "$rows" ]; do power=$((power + 1)); done
fi
if [ -n "${KALYPSO_PTAU:-}" ]; then
  ptau="$KALYPSO_PTAU"
else
  echo "circom-circuit: powers of tau 2^$power (beacon only: INSECURE)" >&2
  "$bin/snarkjs" powersoftau new bn128 "$power" pot0.ptau >/dev/null
  "$bin/snarkjs" powersoftau beacon pot0.ptau pot1.ptau "$beacon" 10 -n="kalypso insecure beacon" >/dev/null
  "$bin/snarkjs" powersoftau prepare phase2 pot1.ptau pot.ptau >/dev/null
  ptau=pot.ptau
fi
echo "circom-circuit: groth16 setup" >&2
"$bin/snarkjs" groth16 setup "$main.r1cs" "$ptau" "${name}0.zkey" >/dev/null
"$bin/snarkjs" zkey beacon "${name}0.zkey" "$name.zkey" "$beacon" 10 -n="kalypso insecure beacon" >/dev/null
"$bin/snarkjs" zkey export verificationkey "$name.zkey" verification_key.json >/dev/null
cp "${main}_js/$main.wasm" "$name.wasm"
[ "$main" = "$name" ] || cp "$main.r1cs" "$name.r1cs"
"$bin/snarkjs" groth16 fullprove input.json "$name.wasm" "$name.zkey" proof.json public.json >/dev/null
"$bin/snarkjs" groth16 verify verification_key.json public.json proof.json >/dev/null
cp "$name.wasm" "$name.r1cs" "$name.zkey" verification_key.json input.json proof.json public.json "$out/"
echo "circom-circuit: wrote $out ($(du -sh "$out" | cut -f1))" >&2
