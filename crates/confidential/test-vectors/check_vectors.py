#!/usr/bin/env python3
"""Checks envelope-v1.json from the layout in the crate README alone, with Python's `cryptography`
package (an implementation independent of the Rust crate). Keccak-256 (the secret commitment and the
recipient address) is not in Python's standard library and is not checked here.

Usage: python3 check_vectors.py [envelope-v1.json]
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ACL_DOMAIN = b"kalypso-confidential/v1/acl"
SECRET_AAD_DOMAIN = b"kalypso-confidential/v1/secret"
KEY_COMMITMENT_DOMAIN = b"kalypso-confidential/v1/key-commitment"


def b(hex_string):
    return bytes.fromhex(hex_string.removeprefix("0x"))


def public_xy(secret):
    key = ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256K1())
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )[1:]


def check_wrap(wrap, commitment, data_key, context):
    acl = b(wrap["acl"])
    assert len(acl) == 134 and acl[0] == 1
    assert acl[1:33] == commitment
    ephemeral = acl[53:86]
    assert ephemeral == b(wrap["ephemeral_public_key_compressed"])
    recipient_secret = b(wrap["recipient_secret_key"])
    recipient = public_xy(recipient_secret)
    assert recipient == b(wrap["recipient_public_key"])
    # Recipient side: ECDH of the recipient's secret with the ephemeral point.
    me = ec.derive_private_key(int.from_bytes(recipient_secret, "big"), ec.SECP256K1())
    peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), ephemeral)
    shared_x = me.exchange(ec.ECDH(), peer)
    assert shared_x == b(wrap["ecdh_shared_x"])
    info = ACL_DOMAIN + ephemeral + recipient
    assert info == b(wrap["hkdf_info"])
    okm = HKDF(algorithm=hashes.SHA256(), length=44, salt=None, info=info).derive(shared_x)
    assert okm[:32] == b(wrap["wrap_key"]) and okm[32:] == b(wrap["wrap_nonce"])
    unwrapped = AESGCM(okm[:32]).decrypt(okm[32:], acl[86:], ACL_DOMAIN + acl[:86] + context)
    assert unwrapped == data_key


def main(path):
    v = json.load(open(path))
    data_key = b(v["data_key"])
    context = b(v["context_encoded"])
    assert len(context) == 136
    assert int.from_bytes(context[0:32], "big") == v["context_chain_id"]
    assert context[32:52] == b(v["context_marketplace"])
    assert int.from_bytes(context[52:84], "big") == v["context_market_id"]
    assert context[84:104] == b(v["context_requester"])
    assert context[104:136] == b(v["context_inputs_hash"])

    ciphertext = b(v["ciphertext"])
    header = ciphertext[:45]
    assert header[0] == 1
    assert header[1:33] == hashlib.sha256(KEY_COMMITMENT_DOMAIN + data_key).digest()
    assert header[1:33] == b(v["key_commitment"])
    assert header[33:45] == b(v["nonce"])
    plaintext = AESGCM(data_key).decrypt(header[33:45], ciphertext[45:], SECRET_AAD_DOMAIN + header + context)
    assert plaintext == b(v["plaintext"])

    commitment = b(v["secret_commitment"])
    check_wrap(v["to_matching_engine"], commitment, data_key, context)
    check_wrap(v["rewrapped_to_generator"], commitment, data_key, context)
    print(f"{path}: ok")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "envelope-v1.json")
