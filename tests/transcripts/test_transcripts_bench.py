"""The verify hot path's shortcuts give what the plain code gives, and ``creditbank
bench transcripts`` runs (tiny parameters; output shape only, never timings)."""

from __future__ import annotations

import contextlib
import io
import json
import re
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from creditbank.cli import build_parser
from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.transcripts import fast, vcjwt
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=40,
)


@hypothesis_settings(max_examples=300, deadline=None)
@given(json_values)
def test_report_json_is_canonical_json(value: Any):
    report = {"valid": True, "credential": value}
    assert fast.report_json(report).decode() == vcjwt.canonical_json(report)


@hypothesis_settings(max_examples=300, deadline=None)
@given(json_values)
def test_text_depth_is_the_walked_depth(value: Any):
    text = vcjwt.canonical_json(value).encode()
    assert vcjwt._text_depth(text) == min(vcjwt._depth(value), vcjwt.MAX_DEPTH + 1)


def test_deep_nesting_is_caught_from_the_text():
    deep = "[" * 40 + "]" * 40
    assert vcjwt._text_depth(deep.encode()) > vcjwt.MAX_DEPTH
    assert vcjwt._text_depth(json.dumps({"a": "[[[[" * 20}).encode()) == 1


def test_the_key_cache_sees_new_and_retired_keys(tmp_path: Path):
    settings = Settings(env="test", key_dir=tmp_path / "keys")
    cache = fast.IssuerKeyCache(TRANSCRIPT_ISSUER, ttl=3600)
    first = signing.key_set(settings, TRANSCRIPT_ISSUER, create=True).current_key("RS256").kid
    assert cache.lookup(settings, first) is not None
    assert cache.lookup(settings, first)[1] == "active"  # type: ignore[index]
    # In this process: rotate, retire; the cache sees both at once.
    second = signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm="RS256")
    signing.retire(settings, TRANSCRIPT_ISSUER, first)
    assert cache.lookup(settings, first)[1] == "retired"  # type: ignore[index]
    assert cache.lookup(settings, second) is not None
    assert cache.lookup(settings, "ti-00000000") is None


def test_a_key_added_by_another_process_is_found_at_once(tmp_path: Path):
    settings = Settings(env="test", key_dir=tmp_path / "keys")
    signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    cache = fast.IssuerKeyCache(TRANSCRIPT_ISSUER, ttl=3600)
    assert cache.lookup(settings, "ti-x") is None
    # As another process would: the file changes, this process's generation does not.
    path = TRANSCRIPT_ISSUER.path(settings)
    data = json.loads(path.read_text())
    donor = Settings(env="test", key_dir=tmp_path / "other")
    kid = signing.key_set(donor, TRANSCRIPT_ISSUER, create=True).current_key("RS256").kid
    other = json.loads(TRANSCRIPT_ISSUER.path(donor).read_text())
    data["keys"][kid] = {**other["keys"][kid], "private": None, "status": "retired"}
    time.sleep(0.01)
    path.write_text(json.dumps(data))
    found = cache.lookup(settings, kid)
    assert found is not None
    assert found[1] == "retired"


def test_verify_with_jwk_caches_loaded_keys_and_still_checks():
    algo = signing.algorithm("ES256")
    private = algo.generate()
    jwk = {**algo.public_jwk(algo.public_key(private)), "alg": "ES256"}
    signature = algo.sign(private, b"data")
    assert signing.verify_with_jwk(jwk, b"data", signature)
    assert signing.verify_with_jwk(dict(jwk), b"data", signature)  # from the cache
    assert not signing.verify_with_jwk(jwk, b"datb", signature)
    stranger = {**algo.public_jwk(algo.public_key(algo.generate())), "alg": "ES256"}
    assert not signing.verify_with_jwk(stranger, b"data", signature)


RATE = r"[\d,]+/s wall, [\d,]+/s per core \(CPU\), p50 [\d.]+ ms p95 [\d.]+ ms p99 [\d.]+ ms"


def test_bench_transcripts_runs_with_tiny_parameters(tmp_path: Path):
    settings = Settings(env="test", key_dir=tmp_path / "keys")
    args = build_parser().parse_args(
        [
            "bench",
            "transcripts",
            "--transcripts=2",
            "--verifications=6",
            "--outcomes=1",
            "--algorithms=RS256,EdDSA",
            "--sm2",
        ]
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert args.run(args, settings) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("transcripts: 2 of 1 outcomes")
    for label in (
        "issue VC-JWT RS256",
        "verify VC-JWT RS256 (POST /api/v1/verify code path)",
        "verify VC-JWT EdDSA",
        "issue SM2 proof",
        "verify VC-JWT RS256 + SM2 proof",
        "issue Data Integrity",
        "verify Data Integrity",
        "issue SD-JWT VC ES256 (a share)",
        "verify SD-JWT VC presentation (KB-JWT, status)",
    ):
        line = next((x for x in lines if x.startswith(label)), None)
        assert line is not None, (label, lines)
        assert re.search(RATE, line), line
    assert "2 status lists of 131,072 entries (cached)" in lines[0]
    # The deployment's keys were not touched: the bench used a scratch directory.
    assert not (tmp_path / "keys").exists()


@pytest.mark.parametrize("value", [Decimal("6.00"), Decimal("-0.5"), 2**70])
def test_report_json_numbers(value: Any):
    assert fast.report_json({"n": value}).decode() == vcjwt.canonical_json({"n": value})
