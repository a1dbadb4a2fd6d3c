#!/usr/bin/env bash
# The main job, from a fresh clone: installs the pinned toolchain, builds `kalypso` and runs `kalypso devnet`:
# anvil, the protocol with five markets (MiMC and Merkle built in, a circom package, and the factors package as a
# confidential Groth16 market and a confidential TEE market), the matching engine, an IVS per market that needs
# one and three generator nodes as supervised processes, a second anvil as the L1 with the Symbiotic core and
# Kalypso's middleware (contracts-l1/, built here by forge), the restaking relayer and a generator backed only by
# its Symbiotic vault, a stream of asks with mixed COST/TIME preferences (plus a slashed generator, a restaked one
# whose slash is executed on the L1, invalid inputs, refused confidential asks and an expired ask), and a table per
# ask at the end. Arguments go to `kalypso devnet`:
#   --keep          leave everything running and print the endpoints (Ctrl-C stops)
#   --no-restaking  the L2 alone (no L1, relayer or restaked generators)
#   --asks N        valid asks to place (default 12)      --rate R   asks per second (default 1)
#   --node URL      use a running node holding anvil's dev accounts instead of starting anvil
#   --help          every option
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
./scripts/setup.sh
export PATH="$root/.tools/bin:$PATH"
echo "devnet: building kalypso (cargo build --locked -p kalypso-cli)" >&2
cargo build --locked -p kalypso-cli
exec "$root/target/debug/kalypso" devnet "$@"
