"""Issuer keys per algorithm (RSA, P-256, Ed25519, SM2) through ``creditbank keys``:
init, rotate, list, retire; after rotating and retiring, a transcript signed by the old
key still verifies (its public key stays published) and the retired key signs nothing."""

from __future__ import annotations

import contextlib
import io
import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creditbank.cli import build_parser
from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.kit.time import utc_now
from creditbank.transcripts import credential as builder
from creditbank.transcripts import sm2 as sm2_proof
from creditbank.transcripts import vcjwt
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER
from creditbank.transcripts.service import issuer_id, kid_url, transcripts

ALGORITHMS = ("RS256", "ES256", "EdDSA", "SM2")
KIND = "transcript-issuer"


def keys(settings: Settings, *argv: str) -> tuple[int, dict[str, Any]]:
    args = build_parser().parse_args(["keys", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code: int = args.run(args, settings)
    return code, json.loads(out.getvalue()) if out.getvalue() else {}


def _credential(settings: Settings) -> dict[str, Any]:
    now = utc_now()
    return builder.build(
        transcript_id=uuid.uuid4(),
        issuer_id=issuer_id(settings),
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=now - timedelta(minutes=1),
        as_of=now - timedelta(minutes=1),
        outcomes=[],
        conversions=[],
        totals=builder.Totals(Decimal("0"), Decimal("0"), Decimal("0")),
        valid_until=None,
    )


def _signed(settings: Settings, alg: str) -> tuple[str, dict[str, Any] | None]:
    """A token by the current key of ``alg`` (SM2: an RS256 token plus the SM2 proof)."""
    keyset = signing.key_set(settings, TRANSCRIPT_ISSUER)
    jose = keyset.current_key("RS256" if alg == "SM2" else alg)
    token = vcjwt.sign(_credential(settings), jose, kid_url(settings, jose.kid))
    if alg != "SM2":
        return token, None
    key = keyset.current_key("SM2")
    return token, sm2_proof.proof(token, key, kid_url(settings, key.kid))


def test_per_algorithm_init_rotate_list_retire(settings: Settings):
    code, out = keys(settings, "init", "--kind", KIND, *(f"--algorithm={a}" for a in ALGORITHMS))
    assert code == 0
    first = out["current"]
    assert sorted(first) == sorted(ALGORITHMS)
    # init again: nothing new
    assert keys(settings, "init", "--kind", KIND, "--algorithm", "SM2")[1]["current"] == {
        "SM2": first["SM2"]
    }
    old = {alg: _signed(settings, alg) for alg in ALGORITHMS}

    for alg in ALGORITHMS:
        code, rotated = keys(settings, "rotate", "--kind", KIND, "--algorithm", alg)
        assert code == 0
        assert rotated["current"] != first[alg]
        # the current key of an algorithm cannot be retired: rotate first
        assert keys(settings, "retire", "--kind", KIND, "--kid", rotated["current"])[0] == 1
        assert keys(settings, "retire", "--kind", KIND, "--kid", first[alg])[0] == 0

    listing = keys(settings, "list", "--kind", KIND)[1][KIND]
    for alg in ALGORITHMS:
        entry = listing["by_algorithm"][alg]
        assert entry["retired"] == [first[alg]]
        assert entry["active"] == [entry["current"]] != [first[alg]]
        assert listing["keys"][first[alg]]["status"] == "retired"

    keyset = signing.key_set(settings, TRANSCRIPT_ISSUER)
    published = {k["kid"] for k in transcripts.jwks(settings)["keys"]}
    for alg in ALGORITHMS:
        retired = keyset.get(first[alg])
        assert retired is not None
        assert retired.private_key is None
        assert kid_url(settings, retired.kid) in published  # still published
        assert keyset.current_key(alg).kid != retired.kid  # signs nothing any more
        token, proof = old[alg]
        report = transcripts.verify(settings, token, sm2=proof)
        assert report["valid"] is True, (alg, report["errors"])
        check = report["checks"]["sm2" if alg == "SM2" else "issuer_key"]
        assert check["status"] == "retired"
        new_token, new_proof = _signed(settings, alg)
        new_kid = (new_proof or {}).get("kid") or json.loads(vcjwt._b64d(new_token.split(".")[0]))[
            "kid"
        ]
        assert new_kid == kid_url(settings, keyset.current_key(alg).kid)

    # The retired key cannot be made to sign through the facility either.
    with pytest.raises(signing.SigningKeyError):
        sm2_proof.proof(old["SM2"][0], keyset.get(first["SM2"]), "k")  # type: ignore[arg-type]


#: One rotation in a process of its own. RS256: generating the key takes long enough
#: for the rotations to overlap.
_ROTATE = """
import sys
from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER
settings = Settings(env="test", key_dir=sys.argv[1], auto_migrate=False)
print(signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm="RS256"))
"""


def test_concurrent_rotations_in_several_processes_lose_no_key(tmp_path: Path):
    """Each rotation reads, extends and rewrites the key file: without the file lock the
    later of two concurrent writers dropped the other's new key (B2 drill, issue 13).
    No database: it runs once, not per dialect."""
    import subprocess
    import sys

    settings = Settings(env="test", key_dir=tmp_path / "keys", auto_migrate=False)
    signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    root = Path(__file__).resolve().parents[2]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _ROTATE, str(settings.key_dir)],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    created = set()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
        created.add(out.decode().strip())
    assert len(created) == 4
    listed = keys(settings, "list", "--kind", KIND)[1][KIND]["keys"]
    assert created <= set(listed), created - set(listed)
