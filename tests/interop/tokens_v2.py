#!/usr/bin/env python3
"""Tokens v2 client written from docs/tokens.md ("Tokens v2") and RFC 9497 alone.

RFC 9497 VOPRF (mode 0x01), ciphersuite ristretto255-SHA512, with libsodium's ristretto255
functions through ctypes (Debian's libsodium23, 1.0.18 or later) and Python's hashlib. Nothing
here comes from the Rust code.

  blind(input)            -> (r, M)        random blind r, blinded element M
  blind_with(input, r)    -> M             a given blind (test vectors only)
  verify_proof(pk, Ms, Zs, proof) -> bool  the batched DLEQ proof against the pinned key
  finalize(input, r, Z)   -> 64-byte output; the token digest is output[:32]

Run as a script: `python3 tokens_v2.py --check tests/data/token-vectors-v2.json` checks every
case of the vector file deterministically (blind given) and exits non-zero on a difference.
"""

from __future__ import annotations

import base64
import ctypes
import ctypes.util
import hashlib
import json
import sys

SUITE = "voprf-ristretto255-sha512"
CONTEXT = b"OPRFV1-\x01-ristretto255-SHA512"
PREFIX = "portcullis:v2:"
MAX_BATCH = 1024


def _load_sodium():
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    lib = ctypes.CDLL(name)
    if lib.sodium_init() < 0:
        raise RuntimeError("sodium_init failed")
    lib.crypto_core_ristretto255_from_hash  # noqa: B018 (fails early without ristretto255)
    return lib


_na = _load_sodium()


def _buf(n: int):
    return ctypes.create_string_buffer(n)


def _call(fn, n: int, *args) -> bytes:
    out = _buf(n)
    if fn(out, *args) != 0:
        raise ValueError(f"{fn.__name__} failed")
    return out.raw


# --- RFC 9380 expand_message_xmd with SHA-512 ------------------------------------------------


def expand_message_xmd(msg: bytes, dst: bytes, length: int) -> bytes:
    b_len, block = 64, 128
    ell = -(-length // b_len)
    if ell > 255 or len(dst) > 255:
        raise ValueError("expand_message_xmd: too long")
    dst_prime = dst + bytes([len(dst)])
    msg_prime = bytes(block) + msg + length.to_bytes(2, "big") + b"\x00" + dst_prime
    b0 = hashlib.sha512(msg_prime).digest()
    bi = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = bi
    for i in range(2, ell + 1):
        bi = hashlib.sha512(bytes(x ^ y for x, y in zip(b0, bi)) + bytes([i]) + dst_prime).digest()
        out += bi
    return out[:length]


# --- ristretto255 group operations (libsodium) -----------------------------------------------


def hash_to_group(x: bytes) -> bytes:
    uniform = expand_message_xmd(x, b"HashToGroup-" + CONTEXT, 64)
    return _call(_na.crypto_core_ristretto255_from_hash, 32, uniform)


def hash_to_scalar(x: bytes) -> bytes:
    uniform = expand_message_xmd(x, b"HashToScalar-" + CONTEXT, 64)
    out = _buf(32)
    _na.crypto_core_ristretto255_scalar_reduce(out, uniform)
    return out.raw


def mul(scalar: bytes, point: bytes) -> bytes:
    return _call(_na.crypto_scalarmult_ristretto255, 32, scalar, point)


def mul_base(scalar: bytes) -> bytes:
    return _call(_na.crypto_scalarmult_ristretto255_base, 32, scalar)


def add(p: bytes, q: bytes) -> bytes:
    return _call(_na.crypto_core_ristretto255_add, 32, p, q)


def is_valid_point(p: bytes) -> bool:
    return len(p) == 32 and _na.crypto_core_ristretto255_is_valid_point(p) == 1


def random_scalar() -> bytes:
    out = _buf(32)
    _na.crypto_core_ristretto255_scalar_random(out)
    return out.raw


def invert(scalar: bytes) -> bytes:
    return _call(_na.crypto_core_ristretto255_scalar_invert, 32, scalar)


def _i2osp2(n: int) -> bytes:
    return n.to_bytes(2, "big")


def _lp(b: bytes) -> bytes:
    return _i2osp2(len(b)) + b


# --- the VOPRF client ------------------------------------------------------------------------


def token_input(label: str, canonical: str) -> bytes:
    """docs/tokens.md: "portcullis:v2:" || label || ":" || canonical, UTF-8."""
    return (PREFIX + label + ":" + canonical).encode("utf-8")


def blind_with(x: bytes, r: bytes) -> bytes:
    return mul(r, hash_to_group(x))


def blind(x: bytes) -> tuple[bytes, bytes]:
    r = random_scalar()
    return r, blind_with(x, r)


def _composites(pk: bytes, ms: list[bytes], zs: list[bytes]) -> tuple[bytes, bytes]:
    seed_dst = b"Seed-" + CONTEXT
    seed = hashlib.sha512(_lp(pk) + _lp(seed_dst)).digest()
    m = z = None
    for i, (mi, zi) in enumerate(zip(ms, zs)):
        transcript = _lp(seed) + _i2osp2(i) + _lp(mi) + _lp(zi) + b"Composite"
        di = hash_to_scalar(transcript)
        dm, dz = mul(di, mi), mul(di, zi)
        m = dm if m is None else add(dm, m)
        z = dz if z is None else add(dz, z)
    return m, z


def verify_proof(pk: bytes, ms: list[bytes], zs: list[bytes], proof: bytes) -> bool:
    """RFC 9497 VerifyProof(G, pkS, blinded elements, evaluated elements, proof)."""
    if len(proof) != 64 or len(ms) != len(zs) or not ms:
        return False
    if not all(is_valid_point(p) for p in [pk, *ms, *zs]):
        return False
    c, s = proof[:32], proof[32:]
    try:
        m, z = _composites(pk, ms, zs)
        t2 = add(mul_base(s), mul(c, pk))
        t3 = add(mul(s, m), mul(c, z))
    except ValueError:
        return False
    transcript = _lp(pk) + _lp(m) + _lp(z) + _lp(t2) + _lp(t3) + b"Challenge"
    return hash_to_scalar(transcript) == c


def finalize(x: bytes, r: bytes, z: bytes) -> bytes:
    n = mul(invert(r), z)
    return hashlib.sha512(_lp(x) + _lp(n) + b"Finalize").digest()


def parse_pinned(line: str) -> tuple[str, bytes]:
    """`<key_id>:voprf-ristretto255-sha512:<base64 of 32 bytes>` (docs/tokens.md)."""
    key_id, suite, b64 = line.strip().split(":", 2)
    if suite != SUITE:
        raise ValueError(f"key {key_id}: scheme must be {SUITE}")
    pk = base64.b64decode(b64, validate=True)
    if not is_valid_point(pk):
        raise ValueError(f"key {key_id}: not a ristretto255 public key")
    return key_id, pk


def check_vectors(path: str) -> list[str]:
    """Every case of tests/data/token-vectors-v2.json, step by step; the differences found."""
    data = json.load(open(path, encoding="utf-8"))
    key_id, pk = parse_pinned(data["key"]["pinned_line"])
    problems = []
    if pk.hex() != data["key"]["public_key"]:
        problems.append("pinned_line and public_key differ")
    if mul_base(bytes.fromhex(data["key"]["private_scalar"])) != pk:
        problems.append("public key is not private_scalar times the generator")
    labels = {}
    for case in data["cases"]:
        x = case["input_utf8"].encode("utf-8")
        label = x.decode().split(":")[2]
        labels.setdefault(case["kind"], label)
        if x != token_input(label, case["canonical"]):
            problems.append(f"{case['case']}: input")
        r = bytes.fromhex(case["blind"])
        m = blind_with(x, r)
        if m.hex() != case["blinded_element"]:
            problems.append(f"{case['case']} {case['kind']}: blinded element")
            continue
        z = bytes.fromhex(case["evaluated_element"])
        if not verify_proof(pk, [m], [z], bytes.fromhex(case["proof"])):
            problems.append(f"{case['case']} {case['kind']}: proof does not verify")
        out = finalize(x, r, z)
        if out.hex() != case["output"] or out[:32].hex() != case["digest"]:
            problems.append(f"{case['case']} {case['kind']}: output/digest")
        bad = bytearray(bytes.fromhex(case["proof"]))
        bad[5] ^= 1
        if verify_proof(pk, [m], [z], bytes(bad)):
            problems.append(f"{case['case']}: a tampered proof verifies")
    return problems


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--check":
        print(__doc__)
        sys.exit(2)
    found = check_vectors(sys.argv[2])
    for p in found:
        print("FAIL", p)
    print(f"{'ok' if not found else 'FAILED'}: {sys.argv[2]}")
    sys.exit(1 if found else 0)
