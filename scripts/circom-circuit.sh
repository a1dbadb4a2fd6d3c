#!/usr/bin/env bash
# Builds the artifacts of the circom chain circuit (circuits/chain/chain.circom) with circom2 and snarkjs from
# npm (pinned in toolchain/package.json, installed by scripts/setup.sh):
#   chain.wasm  chain.r1cs  chain.zkey  verification_key.json  input.json  proof.json  public.json
#
#   scripts/circom-circuit.sh OUT_DIR ROUNDS [PTAU_POWER]
#
# ROUNDS rounds give 3·ROUNDS + 1 constraints (one public input x, one public output y). PTAU_POWER (default: the
# smallest that fits) sizes the powers of tau; set KALYPSO_PTAU to a prepared .ptau file to reuse one (a larger
# one works for smaller circuits).
#
# INSECURE and deterministic: the powers of tau and the zkey get only a public beacon contribution (no secret
# randomness), so anyone can forge proofs for these keys. That keeps the committed fixture reproducible byte for
# byte (except proof.json, which snarkjs blinds at random); real markets need a real ceremony.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ $# -ge 2 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
out="$1"; rounds="$2"
case "$rounds" in ''|*[!0-9]*) echo "ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2;; esac
bin="${KALYPSO_NODE_BIN:-$root/.tools/node_modules/.bin}"
for tool in circom2 snarkjs; do
  [ -x "$bin/$tool" ] || { echo "$bin/$tool not found: run scripts/setup.sh (or set KALYPSO_NODE_BIN)" >&2; exit 1; }
done
beacon=0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
constraints=$((3 * rounds + 1))
if [ $# -ge 3 ]; then power="$3"; else
  # The domain holds the constraints plus one row per public signal and the constant.
  power=1; while [ $((1 << power)) -lt $((constraints + 3)) ]; do power=$((power + 1)); done
fi

mkdir -p "$out"; out="$(cd "$out" && pwd)"
work="$(mktemp -d -t kalypso-circom.XXXXXX)"; trap 'rm -rf "$work"' EXIT
cd "$work"
# circom2 (WASI) sees only the working directory: compile a copy there.
cp "$root/circuits/chain/chain.circom" .
printf 'pragma circom 2.1.6;\ninclude "chain.circom";\ncomponent main {public [x]} = Chain(%s);\n' "$rounds" >chain_main.circom
echo "circom-circuit: compiling Chain($rounds) ($constraints constraints)" >&2
"$bin/circom2" chain_main.circom --r1cs --wasm -o . >compile.log
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
"$bin/snarkjs" groth16 setup chain_main.r1cs "$ptau" chain0.zkey >/dev/null
"$bin/snarkjs" zkey beacon chain0.zkey chain.zkey "$beacon" 10 -n="kalypso insecure beacon" >/dev/null
"$bin/snarkjs" zkey export verificationkey chain.zkey verification_key.json >/dev/null
cp chain_main_js/chain_main.wasm chain.wasm
cp chain_main.r1cs chain.r1cs
echo '{"x": "5"}' >input.json
"$bin/snarkjs" groth16 fullprove input.json chain.wasm chain.zkey proof.json public.json >/dev/null
"$bin/snarkjs" groth16 verify verification_key.json public.json proof.json >/dev/null
cp chain.wasm chain.r1cs chain.zkey verification_key.json input.json proof.json public.json "$out/"
echo "circom-circuit: wrote $out ($(du -sh "$out" | cut -f1))" >&2
