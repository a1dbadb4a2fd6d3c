#!/usr/bin/env bash
# Native circom proving (kalypso-circom) against `snarkjs groth16 fullprove`, same circuit, same input, same run:
#
#   scripts/bench-circom.sh [POWER...]        # default: 15 16 18
#
# For each POWER k it builds the chain circuit (circuits/chain/chain.circom) with (2^k − 4)/3 rounds, the most
# whose 3·rounds + 1 constraints plus snarkjs's rows for the public signals (x, y and the constant) fit a 2^k
# domain, then proves `{"x": "5"}` RUNS times each way, alternating (odd runs snarkjs first, even runs native
# first), so both see the same machine load:
#   - snarkjs: `snarkjs groth16 fullprove` as a user runs it (wall clock, node start-up and zkey read included);
#   - native: the `circom_prove` example, which loads the wasm and zkey once (reported apart as `load`) and then
#     serves one witness + proof per request (`--serve`); every native proof is checked with
#     `snarkjs groth16 verify` (outside the timing) and its public signals compared with snarkjs's.
# Prints a markdown table (medians, with min–max) and the raw figures on stderr.
#
# Environment: NATIVE_FLAGS (extra flags of the example, e.g. `--arkworks` for arkworks' own prover); RUNS (default 5 for k < 18, 3 for k ≥ 18); BENCH_DIR (default target/bench-circom) holds the
# circuits and the powers of tau, reused by later runs (delete a chain-2^k folder to rebuild it);
# KALYPSO_PTAU: a prepared powers-of-tau file of power ≥ the largest k (default: BENCH_DIR/pot18.ptau, written
# once by the `insecure_ptau` example from a public seed — INSECURE, benchmark use only: snarkjs's own
# `powersoftau prepare phase2` takes hours at 2^18 on two cores, the example 95 s).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
powers=("$@"); [ ${#powers[@]} -gt 0 ] || powers=(15 16 18)
for k in "${powers[@]}"; do
  case "$k" in ''|*[!0-9]*) echo "POWER must be an integer, got '$k'" >&2; exit 2;; esac
  [ "$k" -ge 4 ] && [ "$k" -le 20 ] || { echo "POWER $k out of range 4..20" >&2; exit 2; }
done
bin="${KALYPSO_NODE_BIN:-$root/.tools/node_modules/.bin}"
snarkjs="$bin/snarkjs"
[ -x "$snarkjs" ] || { echo "$snarkjs not found: run scripts/setup.sh (or set KALYPSO_NODE_BIN)" >&2; exit 1; }
dir="${BENCH_DIR:-$root/target/bench-circom}"
mkdir -p "$dir"; dir="$(cd "$dir" && pwd)"
log() { echo "bench-circom: $*" >&2; }

max_power=0; for k in "${powers[@]}"; do [ "$k" -gt "$max_power" ] && max_power=$k; done
log "building the native prover and the insecure powers-of-tau writer (cargo build --workspace --examples --locked)"
cargo build --workspace --examples --locked >&2
examples="${CARGO_TARGET_DIR:-$root/target}/debug/examples"
native="$examples/circom_prove"
[ -x "$native" ] || { echo "$native not built" >&2; exit 1; }
ptau="${KALYPSO_PTAU:-}"
if [ -z "$ptau" ]; then
  p=$((max_power > 18 ? max_power : 18))
  ptau="$dir/pot$p.ptau"
  if [ ! -f "$ptau" ]; then
    log "powers of tau 2^$p (τ from a public seed: INSECURE; about a minute and a half at 2^18 on two cores)"
    "$examples/insecure_ptau" "$p" "$ptau"
  fi
fi

# Median (with min and max) of the numbers on stdin: "median min max".
stats() { sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.2f %.2f %.2f\n", m, v[1], v[NR]}'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f\n", b - a}'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

rows=()
for k in "${powers[@]}"; do
  rounds=$(( ((1 << k) - 4) / 3 ))
  circuit="$dir/chain-2^$k"
  if [ ! -f "$circuit/chain.zkey" ]; then
    log "circuit 2^$k: Chain($rounds)"
    KALYPSO_PTAU="$ptau" nice -n 10 scripts/circom-circuit.sh "$circuit" "$rounds" >&2
  fi
  runs="${RUNS:-$([ "$k" -ge 18 ] && echo 3 || echo 5)}"
  work="$(mktemp -d -t bench-circom.XXXXXX)"
  coproc NATIVE { exec "$native" ${NATIVE_FLAGS:-} --serve --out "$work" "$circuit/chain.wasm" "$circuit/chain.zkey" "$circuit/input.json"; }
  native_in=${NATIVE[1]}; native_out=${NATIVE[0]}; native_pid=$NATIVE_PID
  read -r header <&"$native_out"
  load=$(field load <<<"$header"); constraints=$(field constraints <<<"$header"); domain=$(field domain <<<"$header")
  log "2^$k: $header"
  : >"$work/snarkjs.txt"; : >"$work/native.txt"; : >"$work/witness.txt"; : >"$work/prove.txt"; : >"$work/load.txt"
  for run in $(seq 1 "$runs"); do
    cut -d' ' -f1 /proc/loadavg >>"$work/load.txt"
    for side in $([ $((run % 2)) -eq 1 ] && echo "snarkjs native" || echo "native snarkjs"); do
      if [ "$side" = snarkjs ]; then
        t=$(now)
        "$snarkjs" groth16 fullprove "$circuit/input.json" "$circuit/chain.wasm" "$circuit/chain.zkey" \
          "$work/snarkjs-proof.json" "$work/snarkjs-public.json" >/dev/null
        s=$(since "$t"); echo "$s" >>"$work/snarkjs.txt"
        log "2^$k run $run: snarkjs fullprove=$s"
      else
        echo prove >&"$native_in"
        read -r line <&"$native_out" || { echo "the native prover died" >&2; exit 1; }
        field total <<<"$line" >>"$work/native.txt"
        field witness <<<"$line" >>"$work/witness.txt"
        field prove <<<"$line" >>"$work/prove.txt"
        log "2^$k run $run: native $line"
        out=$("$snarkjs" groth16 verify "$circuit/verification_key.json" "$work/public.json" "$work/proof.json")
        grep -q 'OK!' <<<"$out" || { echo "snarkjs rejects the native proof of 2^$k run $run: $out" >&2; exit 1; }
      fi
    done
    cmp -s <(tr -d ' \n' <"$work/public.json") <(tr -d ' \n' <"$work/snarkjs-public.json") \
      || { echo "public signals differ: $(cat "$work/public.json") vs $(cat "$work/snarkjs-public.json")" >&2; exit 1; }
  done
  exec {native_in}>&-
  wait "$native_pid" || { echo "the native prover failed" >&2; exit 1; }
  read -r sj sj_min sj_max < <(stats <"$work/snarkjs.txt")
  read -r nt nt_min nt_max < <(stats <"$work/native.txt")
  read -r wt _ _ < <(stats <"$work/witness.txt")
  read -r pv _ _ < <(stats <"$work/prove.txt")
  read -r _ ld_min ld_max < <(stats <"$work/load.txt")
  speedup=$(awk -v a="$sj" -v b="$nt" 'BEGIN {printf "%.1f", a / b}')
  rows+=("| 2^$k: Chain($rounds), $constraints constraints (domain $domain) | $runs | $sj ($sj_min–$sj_max) | $load | $wt | $pv | $nt ($nt_min–$nt_max) | **×$speedup** | $ld_min–$ld_max |")
  rm -rf "$work"
done

echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates/circom || echo '+changes'); seconds, median (min–max); every native proof accepted by \`snarkjs groth16 verify\`."
echo
echo "| circuit | runs | snarkjs fullprove | native load (once) | native witness | native prove | native witness + prove | speed-up | load average |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
