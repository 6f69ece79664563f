#!/usr/bin/env python3
"""Interop check: a Python gRPC client, built only from the project's published contract, against
a running Portcullis gateway started with `serve --dev`.

What it checks (each printed as `ok` or `FAIL`; exit status 0 only if every check passes):
  1. Every vector of tests/data/token-vectors.json against the Python token implementation
     (tests/interop/token_vectors.py, written independently of src/tokens.rs).
  2. Over mutual TLS with stubs generated at run time from proto/ (nothing generated is kept):
     alpha vets a subject -> NO_TRACE; the official publishes an advisory on the same person
     written differently; alpha vets again -> HIGH, STRONG, on PERSON_NAME_DOB and
     PERSON_NAME_YOB; a 31-byte digest -> INVALID_ARGUMENT naming `tokens[0].digest`.
  3. If an AuditService is served: the auditor replays entries 0..checkpoint size, finds the vet
     entries, and recomputes the RFC 9162 Merkle root of the leaves (skipped if UNIMPLEMENTED).
  4. With --portcullis BIN: `BIN token --json` gives the same tokens as Python for a non-ASCII name.
  5. Tokens v2 (tests/interop/tokens_v2.py, written from docs/tokens.md and RFC 9497 with
     libsodium's ristretto255 functions): every case of tests/data/token-vectors-v2.json and
     every RFC 9497 ristretto255-SHA512 VOPRF vector; then live: Python blinds, the dev key
     service evaluates, Python verifies the batched proof against certs-dev/keyservice.pub and
     finalizes, the gateway accepts a vet with those tokens, and `BIN token --dev --json` gives
     the same digests.

Usage: client.py --port PORT [--host localhost] [--portcullis target/debug/portcullis]
Needs grpcio, grpcio-tools and protobuf (tests/interop/setup.sh installs pinned versions) and
libsodium >= 1.0.18 (Debian: libsodium23; setup.sh installs it when missing and run as root).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.resources
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Keep the source tree clean: no __pycache__ next to token_vectors.py or in the stubs' temp dir.
sys.dont_write_bytecode = True

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PROTO_DIR = REPO / "proto"
CERTS = REPO / "certs-dev"
VECTORS = REPO / "tests" / "data" / "token-vectors.json"
VECTORS_KEY = REPO / "tests" / "data" / "vectors.key"
DEV_MATCHING_KEY = CERTS / "matching.key"

ALPHA_URI = "spiffe://portcullis.dev/party/alpha/alice"
OFFICIAL_URI = "spiffe://portcullis.dev/official/liaison/olivia"
VET_PATH = "/portcullis.v1.VettingService/Vet"
TIMEOUT = 15.0


def load_token_module():
    """tests/interop/token_vectors.py, imported by path (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("portcullis_token_vectors", HERE / "token_vectors.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclass/typing machinery may look the module up
    spec.loader.exec_module(module)
    return module


tv = load_token_module()


def load_v2_module():
    """tests/interop/tokens_v2.py (the v2 client from docs/tokens.md), imported by path."""
    spec = importlib.util.spec_from_file_location("portcullis_tokens_v2", HERE / "tokens_v2.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


v2 = load_v2_module()


class Checks:
    """Prints each check as it is made and remembers failures."""

    def __init__(self) -> None:
        self.passed = 0
        self.failed: list[str] = []

    def check(self, ok: bool, what: str, detail: str = "") -> bool:
        if ok:
            self.passed += 1
            print(f"ok    {what}")
        else:
            self.failed.append(what)
            print(f"FAIL  {what}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()
        return ok

    def skip(self, what: str, why: str) -> None:
        print(f"skip  {what}: {why}")
        sys.stdout.flush()

    def crashed(self, step: str) -> None:
        self.failed.append(step)
        print(f"FAIL  {step}: unexpected exception")
        traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()


# ---------------------------------------------------------------------------------------------
# 1. Token vectors
# ---------------------------------------------------------------------------------------------


def check_vectors(c: Checks) -> None:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    c.check(data.get("spec") == tv.SPEC, "vectors: spec is " + tv.SPEC, repr(data.get("spec")))
    key_id, key = tv.parse_key(data["key"]["file_line"])
    c.check(
        key_id == data["key"]["key_id"] and key.hex() == data["key"]["key_hex"],
        "vectors: key file_line agrees with key_id and key_hex",
    )
    file_key_id, file_key = tv.parse_key(VECTORS_KEY.read_text(encoding="utf-8"))
    c.check(
        (file_key_id, file_key) == (key_id, key),
        "vectors: tests/data/vectors.key is the vectors' key",
    )
    differences = []
    for case in data["cases"]:
        expected = {k: case[k] for k in ("tokens", "error") if k in case}
        try:
            got = {"tokens": tv.derive(key, case["fields"])}
        except tv.TokenError as e:
            got = {"error": {"field": e.field, "reason": e.reason}}
        if got != expected:
            differences.append(
                f"{case['id']}: expected {json.dumps(expected, ensure_ascii=False)}, "
                f"got {json.dumps(got, ensure_ascii=False)}"
            )
    for d in differences:
        print(f"      {d}")
    n_tokens = sum(1 for case in data["cases"] if "tokens" in case)
    c.check(
        not differences and len(data["cases"]) >= 40,
        f"vectors: all {len(data['cases'])} cases ({n_tokens} with tokens, "
        f"{len(data['cases']) - n_tokens} rejections) agree with the Python implementation",
        f"{len(differences)} differences",
    )


# ---------------------------------------------------------------------------------------------
# 2. Stubs generated from proto/ at run time
# ---------------------------------------------------------------------------------------------


def generate_stubs(out_dir: Path):
    """Runs grpc_tools.protoc over proto/ into out_dir; returns the pb2 and pb2_grpc modules."""
    from grpc_tools import protoc

    well_known = importlib.resources.files("grpc_tools") / "_proto"
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed on {protos}")
    sys.path.insert(0, str(out_dir))
    mods = {}
    for name in ("common", "vetting", "advisory", "audit", "keyservice"):
        mods[name] = importlib.import_module(f"portcullis.v1.{name}_pb2")
        mods[name + "_grpc"] = importlib.import_module(f"portcullis.v1.{name}_pb2_grpc")
    return mods, protos


# ---------------------------------------------------------------------------------------------
# 3. The gateway over mTLS
# ---------------------------------------------------------------------------------------------


def channel(host: str, port: int, who: str):
    import grpc

    creds = grpc.ssl_channel_credentials(
        root_certificates=(CERTS / "ca.crt").read_bytes(),
        private_key=(CERTS / "clients" / f"{who}.key").read_bytes(),
        certificate_chain=(CERTS / "clients" / f"{who}.crt").read_bytes(),
    )
    return grpc.secure_channel(f"{host}:{port}", creds)


def tokens_for(pb, key: bytes, fields: dict) -> list:
    """MatchTokens computed in Python (docs/tokens.md) for the identity fields."""
    return [
        pb["common"].MatchToken(
            kind=pb["common"].TokenKind.Value(t["kind"]), digest=bytes.fromhex(t["digest"])
        )
        for t in tv.derive(key, fields)
    ]


def enum_names(enum_type, values) -> list[str]:
    return [enum_type.Name(v) for v in values]


def gateway_checks(c: Checks, pb, host: str, port: int) -> dict:
    """The vet / publish / vet / bad-request sequence. Returns what the audit step needs."""
    import grpc

    common, vetting, advisory = pb["common"], pb["vetting"], pb["advisory"]
    key_id, key = tv.parse_key(DEV_MATCHING_KEY.read_text(encoding="utf-8"))
    party_fields = {"name": "José García-Pérez", "dob": "1971-04-12"}
    official_fields = {"name": "GARCIA PEREZ, Jose", "dob": "12/04/1971"}
    party_tokens = tokens_for(pb, key, party_fields)
    official_tokens = tokens_for(pb, key, official_fields)
    kinds = [common.TokenKind.Name(t.kind) for t in party_tokens]
    c.check(
        [t.digest for t in party_tokens[:3]] == [t.digest for t in official_tokens[:3]]
        and kinds[:3] == ["PERSON_NAME_DOB", "PERSON_NAME_YOB", "PERSON_NAME_BIRTH_MONTH"]
        and {"PERSON_NAME_LETTERS_DOB", "PERSON_NAME_SOUND_DOB", "PERSON_NAME_PART_DOB"}
        <= set(kinds),
        "tokens: the party's and the official's spellings give the same exact tokens in Python, "
        "and variant tokens besides",
        str(kinds),
    )
    seen: dict = {"party_tokens": party_tokens}

    alpha_ch = channel(host, port, "alpha-officer")
    official_ch = channel(host, port, "official")
    alpha = pb["vetting_grpc"].VettingServiceStub(alpha_ch)
    official = pb["advisory_grpc"].AdvisoryServiceStub(official_ch)

    # Alpha vets: nothing held yet.
    req = vetting.VetRequest(
        request_id="interop-vet-1",
        subject_kind=common.SubjectKind.Value("DONOR_INDIVIDUAL"),
        key_id=key_id,
        tokens=party_tokens,
        case_reference="INTEROP/1",
    )
    resp = alpha.Vet(req, timeout=TIMEOUT)
    c.check(
        common.RiskGrade.Name(resp.grade) == "NO_TRACE" and not resp.matches,
        "vet as alpha before any advisory: NO_TRACE",
        f"grade {common.RiskGrade.Name(resp.grade)}, {len(resp.matches)} matches",
    )
    c.check(resp.request_id == "interop-vet-1", "vet: request_id echoed", resp.request_id)
    seen["vet1"] = resp

    # The official publishes on the same person, written differently.
    pub = official.Publish(
        advisory.PublishRequest(
            request_id="interop-pub-1",
            key_id=key_id,
            tokens=official_tokens,
            grade=common.RiskGrade.Value("HIGH"),
            likelihood=common.Likelihood.Value("LIKELY"),
            handling=common.Handling.Value("TLP_AMBER_STRICT"),
            guidance="Funds traced to a foreign state proxy; consult the liaison.",
            audience=["alpha"],
            internal_reference="OP-INTEROP-7",
        ),
        timeout=TIMEOUT,
    )
    adv = pub.advisory
    c.check(
        bool(adv.advisory_id)
        and adv.version == 1
        and common.AdvisoryState.Name(adv.state) == "ACTIVE"
        and common.RiskGrade.Name(adv.grade) == "HIGH"
        and pub.token_count == len(official_tokens)
        and list(pub.audience) == ["alpha"]
        and pub.published_by == OFFICIAL_URI,
        "publish as official: ACTIVE v1 HIGH, every token, audience [alpha], published_by the caller",
        str(pub).replace("\n", " "),
    )
    seen["advisory_id"] = adv.advisory_id

    # Alpha vets again (a new request id: a repeated one would return the original answer).
    req2 = vetting.VetRequest()
    req2.CopyFrom(req)
    req2.request_id = "interop-vet-2"
    resp2 = alpha.Vet(req2, timeout=TIMEOUT)
    m = resp2.matches[0] if len(resp2.matches) == 1 else None
    c.check(
        common.RiskGrade.Name(resp2.grade) == "HIGH",
        "vet as alpha after the advisory: HIGH",
        common.RiskGrade.Name(resp2.grade),
    )
    c.check(
        m is not None
        and m.advisory.advisory_id == adv.advisory_id
        and {"PERSON_NAME_DOB", "PERSON_NAME_YOB", "PERSON_NAME_BIRTH_MONTH"}
        <= set(enum_names(common.TokenKind, m.matched_on))
        and common.MatchStrength.Name(m.strength) == "STRONG"
        and common.MatchTier.Name(m.tier) == "EXACT",
        "vet: one match, the published advisory, on PERSON_NAME_DOB, _YOB and _BIRTH_MONTH, STRONG, "
        "tier EXACT",
        str(resp2).replace("\n", " "),
    )

    c.check(
        b"OP-INTEROP-7" not in resp2.SerializeToString(),
        "vet: the internal reference never reaches the party",
    )
    c.check(
        resp2.audit_index > resp.audit_index,
        "vet: audit indexes increase",
        f"{resp.audit_index} then {resp2.audit_index}",
    )
    seen["vet2"] = resp2

    # A 31-byte digest: INVALID_ARGUMENT naming the field.
    bad = vetting.VetRequest()
    bad.CopyFrom(req)
    bad.request_id = "interop-vet-bad"
    bad.tokens[0].digest = bad.tokens[0].digest[:31]
    try:
        alpha.Vet(bad, timeout=TIMEOUT)
        c.check(False, "vet with a 31-byte digest: INVALID_ARGUMENT", "the call succeeded")
    except grpc.RpcError as e:
        c.check(
            e.code() == grpc.StatusCode.INVALID_ARGUMENT
            and (e.details() or "").startswith("tokens[0].digest"),
            "vet with a 31-byte digest: INVALID_ARGUMENT, details start with tokens[0].digest",
            f"{e.code()} {e.details()!r}",
        )
        print(f"      (details: {e.details()!r})")

    # A misspelt name (a changed vowel) meets the advisory only through variant tokens derived
    # in Python: tier PHONETIC, never more than PARTIAL.
    req3 = vetting.VetRequest(
        request_id="interop-vet-3",
        subject_kind=common.SubjectKind.Value("DONOR_INDIVIDUAL"),
        key_id=key_id,
        tokens=tokens_for(pb, key, {"name": "Jose Garcya Perez", "dob": "1971-04-12"}),
    )
    resp3 = alpha.Vet(req3, timeout=TIMEOUT)
    m3 = resp3.matches[0] if len(resp3.matches) == 1 else None
    c.check(
        m3 is not None
        and m3.advisory.advisory_id == adv.advisory_id
        and "PERSON_NAME_DOB" not in enum_names(common.TokenKind, m3.matched_on)
        and common.MatchTier.Name(m3.tier) == "PHONETIC"
        and common.MatchStrength.Name(m3.strength) == "PARTIAL",
        "vet with a misspelt name: matched on variants, tier PHONETIC, strength PARTIAL",
        str(resp3).replace("\n", " "),
    )

    alpha_ch.close()
    official_ch.close()
    return seen


# ---------------------------------------------------------------------------------------------
# 4. The audit log, if served
# ---------------------------------------------------------------------------------------------


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.1 Merkle Tree Hash of the given leaves."""

    def mth(hashes: list[bytes]) -> bytes:
        if len(hashes) == 1:
            return hashes[0]
        k = 1
        while k * 2 < len(hashes):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()

    if not leaves:
        return hashlib.sha256(b"").digest()
    return mth([hashlib.sha256(b"\x00" + leaf).digest() for leaf in leaves])


def audit_checks(c: Checks, pb, host: str, port: int, seen: dict) -> None:
    import grpc

    common, audit = pb["common"], pb["audit"]
    ch = channel(host, port, "auditor")
    stub = pb["audit_grpc"].AuditServiceStub(ch)
    try:
        cp = stub.GetCheckpoint(audit.GetCheckpointRequest(), timeout=TIMEOUT)
    except grpc.RpcError as e:
        if e.code() == grpc.StatusCode.UNIMPLEMENTED:
            c.skip("audit replay", "the gateway does not serve AuditService (UNIMPLEMENTED)")
            ch.close()
            return
        raise

    # Checkpoints are signed at intervals: wait until one covers the bad request's entry,
    # which comes after the second vet's.
    need = seen["vet2"].audit_index + 2
    deadline = time.monotonic() + 20
    while cp.size < need and time.monotonic() < deadline:
        time.sleep(0.2)
        cp = stub.GetCheckpoint(audit.GetCheckpointRequest(), timeout=TIMEOUT)
    c.check(cp.size >= need, f"audit: a checkpoint covers the test's entries (size {cp.size})",
            f"size {cp.size}, needed {need}")
    lines = cp.signed_note.split("\n")
    c.check(
        len(lines) >= 3
        and lines[1] == str(cp.size)
        and base64.b64decode(lines[2]) == cp.root_hash
        and len(cp.root_hash) == 32,
        "audit: the signed note's size and root hash equal the checkpoint's",
        repr(cp.signed_note[:200]),
    )

    records = list(stub.Replay(audit.ReplayRequest(start=0, end=cp.size), timeout=TIMEOUT))
    c.check(
        [r.index for r in records] == list(range(cp.size)),
        f"audit: replay 0..{cp.size} returns every index once, in order",
        f"got {len(records)} records",
    )
    well_formed = True
    for r in records:
        decoded = audit.AuditEntry()
        decoded.ParseFromString(r.leaf)
        if decoded != r.entry or decoded.index != r.index:
            well_formed = False
            print(f"      record {r.index}: leaf does not decode to its entry")
    c.check(well_formed, "audit: every leaf decodes to its entry, whose index is its own")
    c.check(
        merkle_root([r.leaf for r in records]) == cp.root_hash,
        "audit: the RFC 9162 Merkle root of the replayed leaves equals the checkpoint's root",
    )

    by_request = {
        r.entry.request_id: r.entry
        for r in records
        if r.entry.method == VET_PATH and r.entry.actor.uri == ALPHA_URI
    }
    e1, e2, eb = (by_request.get(k) for k in ("interop-vet-1", "interop-vet-2", "interop-vet-bad"))
    digests = [t.digest for t in seen["party_tokens"]]
    c.check(
        e1 is not None
        and e1.index == seen["vet1"].audit_index
        and e1.code == 0
        and common.RiskGrade.Name(e1.grade) == "NO_TRACE"
        and [t.digest for t in e1.tokens] == digests,
        "audit: the first vet's entry (alpha, OK, NO_TRACE, the Python tokens) at its audit_index",
        str(e1).replace("\n", " "),
    )
    c.check(
        e2 is not None
        and e2.index == seen["vet2"].audit_index
        and e2.code == 0
        and common.RiskGrade.Name(e2.grade) == "HIGH"
        and list(e2.advisory_ids) == [seen["advisory_id"]],
        "audit: the second vet's entry (HIGH, the advisory id) at its audit_index",
        str(e2).replace("\n", " "),
    )
    c.check(
        eb is not None and eb.code == grpc.StatusCode.INVALID_ARGUMENT.value[0],
        "audit: the rejected vet is recorded with INVALID_ARGUMENT",
        str(eb).replace("\n", " "),
    )
    c.check(
        all(b"OP-INTEROP-7" not in r.leaf for r in records if r.entry.actor.uri == ALPHA_URI),
        "audit: the party's entries do not carry the internal reference",
    )
    ch.close()


# ---------------------------------------------------------------------------------------------
# 5. The Rust CLI's tokens
# ---------------------------------------------------------------------------------------------


def cli_checks(c: Checks, binary: str) -> None:
    fields = {"name": "Dr. Søren Åßmann-Łukasiewicz", "dob": "31/07/1985"}
    out = subprocess.run(
        [binary, "token", "--key-file", str(VECTORS_KEY), "--name", fields["name"],
         "--dob", fields["dob"], "--json"],
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )
    if not c.check(out.returncode == 0, "cli: `portcullis token --json` runs", out.stderr.strip()):
        return
    listed = json.loads(out.stdout)
    c.check(all(t.get("scheme") == "hmac-sha256" for t in listed),
            "cli: `portcullis token --key-file` says its scheme is hmac-sha256")
    rust = [{k: t[k] for k in ("kind", "canonical", "digest")} for t in listed]
    _, key = tv.parse_key(VECTORS_KEY.read_text(encoding="utf-8"))
    python = [
        {"kind": t["kind"], "canonical": t["canonical"], "digest": t["digest"]}
        for t in tv.derive(key, fields)
    ]
    print(f"      name {fields['name']!r} -> {python[0]['canonical'].split('|')[0]!r}")
    c.check(
        rust == python,
        "cli: the Rust CLI's tokens for a non-ASCII name equal Python's (kind, canonical, digest)",
        f"rust {rust} python {python}",
    )


# ---------------------------------------------------------------------------------------------
# 6. Tokens v2 (tests/interop/tokens_v2.py, from docs/tokens.md and RFC 9497 alone)
# ---------------------------------------------------------------------------------------------


def v2_vector_checks(c: Checks) -> None:
    problems = v2.check_vectors(str(REPO / "tests" / "data" / "token-vectors-v2.json"))
    c.check(not problems, "v2: every case of token-vectors-v2.json (blind, proof, finalize, digest)",
            "; ".join(problems[:5]))
    rfc = json.loads((REPO / "tests" / "data" / "voprf-rfc9497.json").read_text(encoding="utf-8"))
    pk = v2.mul_base(bytes.fromhex(rfc["key"]["skSm"]))
    ok = pk.hex() == rfc["key"]["pkSm"]
    for vec in rfc["vectors"]:
        xs = [bytes.fromhex(h) for h in vec["Input"].split(",")]
        rs = [bytes.fromhex(h) for h in vec["Blind"].split(",")]
        zs = [bytes.fromhex(h) for h in vec["EvaluationElement"].split(",")]
        ms = [v2.blind_with(x, r) for x, r in zip(xs, rs)]
        ok = ok and [m.hex() for m in ms] == vec["BlindedElement"].split(",")
        ok = ok and v2.verify_proof(pk, ms, zs, bytes.fromhex(vec["Proof"]))
        ok = ok and [v2.finalize(x, r, z).hex() for x, r, z in zip(xs, rs, zs)] == vec["Output"].split(",")
    c.check(ok, "v2: every RFC 9497 ristretto255-SHA512 VOPRF vector (batched proof included)")


def v2_live_checks(c: Checks, pb, host: str, port: int, binary: str | None) -> None:
    """Python blinds, the dev key service (serve --dev) evaluates, Python verifies the batched
    proof against certs-dev/keyservice.pub and finalizes; the digests equal the Rust CLI's."""
    ks, vetting, common = pb["keyservice"], pb["vetting"], pb["common"]
    key_id, pk = v2.parse_pinned((CERTS / "keyservice.pub").read_text(encoding="utf-8"))
    fields = {"name": "Dr. Søren Åßmann-Łukasiewicz", "dob": "31/07/1985", "email": "S@Example.org"}
    tokens = tv.derive(bytes(32), fields)  # the key is unused: only kinds and canonical forms
    inputs = [v2.token_input(t["label"], t["canonical"]) for t in tokens]
    blinded = [v2.blind(x) for x in inputs]
    stub = pb["keyservice_grpc"].KeyServiceStub(channel(host, port, "alpha-officer"))
    answer = stub.Evaluate(ks.EvaluateRequest(key_id=key_id, blinded_elements=[m for _, m in blinded]))
    zs = list(answer.evaluated_elements)
    ok = v2.verify_proof(pk, [m for _, m in blinded], zs, answer.proof)
    c.check(ok, f"v2: the key service's batched proof verifies against the pinned {key_id} key")
    tampered = bytearray(answer.proof)
    tampered[0] ^= 1
    c.check(not v2.verify_proof(pk, [m for _, m in blinded], zs, bytes(tampered)),
            "v2: a tampered proof does not verify")
    digests = [v2.finalize(x, r, z)[:32].hex() for x, (r, _), z in zip(inputs, blinded, zs)]
    vet = pb["vetting_grpc"].VettingServiceStub(channel(host, port, "alpha-officer")).Vet(
        vetting.VetRequest(
            request_id="py-v2-1", subject_kind=common.SubjectKind.Value("DONOR_INDIVIDUAL"),
            key_id=key_id,
            tokens=[common.MatchToken(kind=common.TokenKind.Value(t["kind"]), digest=bytes.fromhex(d))
                    for t, d in zip(tokens, digests)]))
    c.check(vet.request_id == "py-v2-1", "v2: the gateway accepts a vet with Python's v2 tokens")
    if binary is None:
        c.skip("v2 cli", "no --portcullis binary given")
        return
    cmd = [binary, "token", "--dev", "--identity", str(CERTS / "clients" / "alpha-officer"),
           "--server", f"https://{host}:{port}", "--json"]
    for k, v in (("name", fields["name"]), ("dob", fields["dob"]), ("email", fields["email"])):
        cmd += [f"--{k}", v]
    out = subprocess.run(cmd, capture_output=True, text=True, encoding="utf-8", timeout=60, check=False)
    if not c.check(out.returncode == 0, "v2: `portcullis token --dev --json` runs", out.stderr.strip()):
        return
    rust = [(t["kind"], t["canonical"], t["digest"], t["scheme"]) for t in json.loads(out.stdout)]
    python = [(t["kind"], t["canonical"], d, v2.SUITE) for t, d in zip(tokens, digests)]
    c.check(rust == python, "v2: the Rust client's digests equal Python's (kind, canonical, digest)",
            f"rust {rust} python {python}")


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the gateway's port")
    parser.add_argument("--host", default="localhost", help="the gateway's host (default localhost)")
    parser.add_argument("--portcullis", metavar="BIN", help="the portcullis binary, for the CLI check")
    args = parser.parse_args()

    import grpc
    import grpc_tools
    import google.protobuf

    print(
        f"python {sys.version.split()[0]}, grpcio {grpc.__version__}, "
        f"protobuf {google.protobuf.__version__}, grpc_tools from {Path(grpc_tools.__file__).parent}"
    )
    c = Checks()
    try:
        check_vectors(c)
    except Exception:
        c.crashed("vectors")

    with tempfile.TemporaryDirectory(prefix="portcullis-stubs-") as tmp:
        try:
            pb, protos = generate_stubs(Path(tmp))
            c.check(True, f"stubs: generated from proto/ ({', '.join(protos)})")
        except Exception:
            c.crashed("stubs")
            pb = None
        seen = None
        if pb is not None:
            try:
                seen = gateway_checks(c, pb, args.host, args.port)
            except Exception:
                c.crashed("gateway")
        if seen is not None:
            try:
                audit_checks(c, pb, args.host, args.port, seen)
            except Exception:
                c.crashed("audit")
        try:
            v2_vector_checks(c)
        except Exception:
            c.crashed("v2 vectors")
        if pb is not None:
            try:
                v2_live_checks(c, pb, args.host, args.port, args.portcullis)
            except Exception:
                c.crashed("v2 live")

    if args.portcullis:
        try:
            cli_checks(c, args.portcullis)
        except Exception:
            c.crashed("cli")
    else:
        c.skip("cli", "no --portcullis binary given")

    print(f"{c.passed} checks passed, {len(c.failed)} failed")
    for f in c.failed:
        print(f"  failed: {f}")
    return 1 if c.failed else 0


if __name__ == "__main__":
    sys.exit(main())
