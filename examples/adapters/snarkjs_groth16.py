#!/usr/bin/env python3
"""A Kalypso prover adapter for a circom circuit, proving with `snarkjs groth16 fullprove`.

It speaks the command backend's contract (docs/adapters.md): prover data in, the bytes to submit out,
both as 0x-hex text (stdin/stdout, or the files the backend names with {input}, {output}, {secret}).

  snarkjs_groth16.py prove    --wasm C.wasm --zkey C.zkey --inputs x [--outputs 1] [--input F] [--output F] [--secret F]
  snarkjs_groth16.py check    --wasm C.wasm --inputs x [--input F] [--secret F]
  snarkjs_groth16.py artifact --wasm C.wasm --zkey C.zkey --vk verification_key.json --inputs x [--outputs 1] --sample 0x…

The market statement is the circuit's public signals with the ask's inputs first and the outputs after them
(`Groth16Verifier`: `inputs` holds the first numInputs words, the proof is A ‖ B ‖ C ‖ outputs). circom orders
public signals the other way round (outputs, then public inputs), so `artifact` reorders the verifying key's
IC points to match, and `prove` appends the outputs after the proof.

--inputs names the circuit's public input signals in order, one word of prover data each (`name[n]` for an
array of n). A confidential ask's secret, when the backend passes one ({secret}), is a JSON object of private
signals merged into the circuit's input.

Exit codes: prove 0 with the proof printed, 2 bad prover data, 3 snarkjs failed (the backend reports any
non-zero exit as a failed proof, with stderr); check 0 provable, 1 not provable (the reason on stdout),
2 or 3 the check itself failed. Only the standard library and snarkjs ($SNARKJS, then `snarkjs` on PATH,
then .tools/node_modules/.bin/snarkjs of this checkout).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# BN254 scalar field modulus: public signals are below it.
R = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001
WORD = 32

EXIT_INVALID = 1
EXIT_BAD_DATA = 2
EXIT_TOOL = 3


class Fail(Exception):
    """An error with the exit code it ends the adapter with."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


def snarkjs():
    found = os.environ.get("SNARKJS") or shutil.which("snarkjs")
    if found:
        return found
    for base in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = base / ".tools" / "node_modules" / ".bin" / "snarkjs"
        if candidate.exists():
            return str(candidate)
    raise Fail(EXIT_TOOL, "snarkjs not found: set $SNARKJS or put it on PATH")


def read_hex(text, what):
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    try:
        return bytes.fromhex(text)
    except ValueError as e:
        raise Fail(EXIT_BAD_DATA, f"{what} is not hex: {e}") from None


def read_prover_data(path):
    text = Path(path).read_text() if path else sys.stdin.read()
    return read_hex(text, "the prover data")


def input_layout(spec):
    """`x,path[4]` -> [("x", None), ("path", 4)]."""
    layout = []
    for item in spec.split(","):
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(?:\[(\d+)\])?\s*", item)
        if not m:
            raise Fail(EXIT_TOOL, f"--inputs: cannot read '{item}' (expected name or name[n])")
        layout.append((m.group(1), int(m.group(2)) if m.group(2) else None))
    return layout


def circuit_input(data, layout, secret_path):
    """The circuit's input.json from the prover data (and the secret), or Fail(EXIT_INVALID) if the words
    are not a statement at all."""
    words = sum(n or 1 for _, n in layout)
    if len(data) < WORD * words:
        raise Fail(EXIT_INVALID, f"the prover data has {len(data)} bytes, the circuit takes {words} words of 32")
    values = []
    for i in range(words):
        v = int.from_bytes(data[WORD * i : WORD * (i + 1)], "big")
        if v >= R:
            raise Fail(EXIT_INVALID, f"input word {i} is not below the BN254 scalar field modulus")
        values.append(str(v))
    signals, at = {}, 0
    for name, n in layout:
        if n is None:
            signals[name] = values[at]
            at += 1
        else:
            signals[name] = values[at : at + n]
            at += n
    if secret_path:
        # With the hex encoding an ask without a secret gives "0x": no private signals.
        secret = read_hex(Path(secret_path).read_text(), "the secret")
        if secret:
            try:
                private = json.loads(secret)
            except ValueError as e:
                raise Fail(EXIT_INVALID, f"the secret is not a JSON object of signals: {e}") from None
            if not isinstance(private, dict):
                raise Fail(EXIT_INVALID, "the secret is not a JSON object of signals")
            clash = set(private) & set(signals)
            if clash:
                raise Fail(EXIT_INVALID, f"the secret sets public inputs: {sorted(clash)}")
            signals.update(private)
    return signals


def run(args, what):
    """Runs snarkjs; an assertion of the circuit that fails is an invalid statement, anything else a
    failure."""
    done = subprocess.run([snarkjs(), *args], capture_output=True, text=True)
    if done.returncode == 0:
        return
    out = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
    if "Assert Failed" in out:
        where = re.search(r"Assert Failed\.?\s*([^\n]*)", out)
        raise Fail(EXIT_INVALID, f"a constraint of the circuit fails for these inputs ({where.group(1).strip()})")
    raise Fail(EXIT_TOOL, f"snarkjs {what} exited with {done.returncode}: {out.strip()[-2000:]}")


def word(v):
    return int(v).to_bytes(WORD, "big")


def g1(p):
    """snarkjs G1 [x, y, z] (projective, z = 1 or the point at infinity) in the EVM layout."""
    if int(p[2]) == 0:
        return bytes(2 * WORD)
    if int(p[2]) != 1:
        raise Fail(EXIT_TOOL, "snarkjs printed a G1 point that is not affine")
    return word(p[0]) + word(p[1])


def g2(p):
    """snarkjs G2 [[x.c0, x.c1], [y.c0, y.c1], z] in the EVM (EIP-197) layout: imaginary parts first."""
    if p[2] == ["0", "0"]:
        return bytes(4 * WORD)
    if p[2] != ["1", "0"]:
        raise Fail(EXIT_TOOL, "snarkjs printed a G2 point that is not affine")
    return word(p[0][1]) + word(p[0][0]) + word(p[1][1]) + word(p[1][0])


def prove(a, data):
    """The submission bytes (A ‖ B ‖ C ‖ outputs) for the prover data."""
    signals = circuit_input(data, input_layout(a.inputs), a.secret)
    with tempfile.TemporaryDirectory(prefix="kalypso-snarkjs-") as tmp:
        tmp = Path(tmp)
        (tmp / "input.json").write_text(json.dumps(signals))
        run(["groth16", "fullprove", str(tmp / "input.json"), a.wasm, a.zkey,
             str(tmp / "proof.json"), str(tmp / "public.json")], "groth16 fullprove")
        proof = json.loads((tmp / "proof.json").read_text())
        public = json.loads((tmp / "public.json").read_text())
    outputs = public[: a.outputs]
    return g1(proof["pi_a"]) + g2(proof["pi_b"]) + g1(proof["pi_c"]) + b"".join(word(v) for v in outputs)


def cmd_prove(a):
    submission = "0x" + prove(a, read_prover_data(a.input)).hex() + "\n"
    if a.output:
        Path(a.output).write_text(submission)
    else:
        sys.stdout.write(submission)


def cmd_check(a):
    signals = circuit_input(read_prover_data(a.input), input_layout(a.inputs), a.secret)
    with tempfile.TemporaryDirectory(prefix="kalypso-snarkjs-") as tmp:
        tmp = Path(tmp)
        (tmp / "input.json").write_text(json.dumps(signals))
        run(["wtns", "calculate", a.wasm, str(tmp / "input.json"), str(tmp / "witness.wtns")], "wtns calculate")


def cmd_artifact(a):
    """A verifier artifact for `kalypso market deploy-verifier --artifact`: the constructor's verifying key
    (IC reordered: inputs, then outputs), numInputs, and a sample statement with its proof."""
    vk = json.loads(Path(a.vk).read_text())
    if vk.get("protocol") != "groth16" or vk.get("curve") != "bn128":
        raise Fail(EXIT_TOOL, f"{a.vk} is not a Groth16 BN254 verification key")
    ic = vk["IC"]
    n_public = len(ic) - 1
    n_inputs = n_public - a.outputs
    if n_inputs < 1:
        raise Fail(EXIT_TOOL, f"{n_public} public signals leave no input for {a.outputs} outputs")
    ic = [ic[0]] + ic[1 + a.outputs :] + ic[1 : 1 + a.outputs]
    key = g1(vk["vk_alpha_1"]) + g2(vk["vk_beta_2"]) + g2(vk["vk_gamma_2"]) + g2(vk["vk_delta_2"])
    key += b"".join(g1(p) for p in ic)
    sample = read_hex(a.sample, "--sample")
    artifact = {
        "description": f"{Path(a.zkey).name}: circom/snarkjs Groth16, inputs {a.inputs}, {a.outputs} outputs",
        "numPublicSignals": n_public,
        "numInputs": n_inputs,
        "vk": "0x" + key.hex(),
        "inputs": "0x" + sample.hex(),
        "proof": "0x" + prove(a, sample).hex(),
    }
    sys.stdout.write(json.dumps(artifact, indent=1) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("prove", "check", "artifact"):
        p = sub.add_parser(name)
        p.add_argument("--wasm", required=True, help="the circuit's witness generator (circom --wasm)")
        p.add_argument("--inputs", required=True, help="public input signals in order: x,path[4]")
        p.add_argument("--secret", help="file with the ask's secret ({secret}): a JSON object of private signals")
        if name != "check":
            p.add_argument("--zkey", required=True, help="the proving key (snarkjs groth16 setup)")
            p.add_argument("--outputs", type=int, default=0, help="output signals of the circuit")
        if name == "artifact":
            p.add_argument("--vk", required=True, help="verification_key.json (snarkjs zkey export)")
            p.add_argument("--sample", required=True, help="sample prover data (0x-hex)")
        else:
            p.add_argument("--input", help="file with the prover data ({input}) instead of stdin")
        if name == "prove":
            p.add_argument("--output", help="file for the proof ({output}) instead of stdout")
    a = parser.parse_args()
    if a.command == "artifact":
        a.secret = None
    try:
        {"prove": cmd_prove, "check": cmd_check, "artifact": cmd_artifact}[a.command](a)
    except Fail as e:
        if a.command == "check" and e.code == EXIT_INVALID:
            print(e)
        else:
            print(f"snarkjs_groth16: {e}", file=sys.stderr)
        # An unprovable statement reaching `prove` is a failed proof for the backend (exit 2).
        sys.exit(EXIT_BAD_DATA if a.command != "check" and e.code == EXIT_INVALID else e.code)
    except OSError as e:
        print(f"snarkjs_groth16: {e}", file=sys.stderr)
        sys.exit(EXIT_TOOL)


if __name__ == "__main__":
    main()
