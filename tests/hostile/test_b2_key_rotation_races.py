"""B2: issuer keys rotated while transcripts are being issued, on both databases
(issue 13).

A real ``creditbank serve`` process issues transcripts for 李娜 to several concurrent
clients (``POST /api/v1/learners/{id}/transcripts`` over HTTP) while operators rotate
the transcript issuer keys with real ``creditbank keys rotate`` processes: rounds of
rotations of every algorithm a transcript is signed with (RS256 for the VC-JWT, EdDSA
for the Data Integrity proof, ES256 for the SD-JWT VC), the rotations of one round
running at the same time.

Afterwards every issued transcript:

- was answered ``201`` (no 5xx, no other answer at all);
- names, in each of its signatures (VC-JWT, ``vc+jwt`` form, SD-JWT VC, Data
  Integrity proof), a key that existed before the drill or that a rotation created,
  and that ``/.well-known/jwks.json`` (and ``/.well-known/did.json``) publishes;
- verifies at ``POST /api/v1/verify`` (the VC-JWT and the JSON-LD credential with
  its proof) and with the offline verifier ``creditbank verify`` against the saved
  JWK set, DID document and status lists (no database, no network).

Between them, the transcripts are signed by more than one key of the VC-JWT
algorithm, so issuance really did straddle the rotations.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.cli import build_parser
from creditbank.config import Settings
from tests.conftest import ROOT, LiveServer
from tests.hostile.conftest import Demo
from tests.reliability.harness import report as drill_report

ALGORITHMS = ("RS256", "EdDSA", "ES256")
ROUNDS = 2
CLIENTS = 3
#: Between two issues by one client: the drill is about overlap, not volume.
PAUSE = 0.3
KIND = "transcript-issuer"


@pytest.fixture(autouse=True)
def _verify_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The public verify endpoint's per-address limit (60/min) would refuse the drill's
    own checks; the live server reads its environment when it starts."""
    monkeypatch.setenv("CREDITBANK_IDENTITY__VERIFY_RATE_LIMIT", "100000")


def _part(token: str, index: int) -> dict[str, Any]:
    text = token.split("~")[0].split(".")[index]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return loaded


async def _rotate(env: dict[str, str], algorithm: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "creditbank.cli",
        "keys",
        "rotate",
        "--kind",
        KIND,
        "--algorithm",
        algorithm,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    kid: str = json.loads(out)["current"]
    return kid


def _offline(settings: Settings, *argv: str) -> tuple[int, dict[str, Any]]:
    """``creditbank verify`` as the command line runs it (in this process: it is
    called once per transcript)."""
    args = build_parser().parse_args(["verify", *argv])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code: int = args.run(args, settings)
    return code, json.loads(out.getvalue())


@pytest.mark.server
async def test_rotations_during_issuance_every_transcript_verifies(
    live_server: LiveServer, demo: Demo, settings: Settings, tmp_path: Path
) -> None:
    learner_id = demo.data["users"]["learner"]["learner_id"]
    env = {
        k: v for k, v in live_server.env.items() if k != "CREDITBANK_IDENTITY__VERIFY_RATE_LIMIT"
    }
    async with httpx.AsyncClient(base_url=live_server.url, timeout=120) as client:
        login = await client.post(
            "/api/v1/auth/login",
            json=dict(zip(("username", "password"), demo.user("operator"), strict=True)),
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def issue() -> httpx.Response:
            return await client.post(f"/api/v1/learners/{learner_id}/transcripts", headers=headers)

        first = await issue()  # creates the issuer keys of every algorithm
        assert first.status_code == 201, first.text
        before = {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]}

        answers: list[httpx.Response] = [first]
        created: set[str] = set()
        done = asyncio.Event()

        async def issuer() -> None:
            while not done.is_set():
                answers.append(await issue())
                await asyncio.sleep(PAUSE)

        async def operators() -> None:
            try:
                for _ in range(ROUNDS):
                    kids = await asyncio.gather(*(_rotate(env, alg) for alg in ALGORITHMS))
                    created.update(kids)
                    await asyncio.sleep(0.3)  # let issuance pick the new keys up
            finally:
                done.set()

        await asyncio.gather(operators(), *(issuer() for _ in range(CLIENTS)))

        bad = [(r.status_code, r.text[:300]) for r in answers if r.status_code != 201]
        assert not bad, bad
        assert len(created) == ROUNDS * len(ALGORITHMS)

        jwks = (await client.get("/.well-known/jwks.json")).json()
        did = (await client.get("/.well-known/did.json")).text
        published = {k["kid"] for k in jwks["keys"]}
        # kid URLs are rooted at the bank's configured base URL.
        prefix = first.json()["kid"].rsplit("/", 1)[0] + "/"
        assert not before - published
        assert {prefix + kid for kid in created} <= published
        known = before | {prefix + kid for kid in created}

        transcripts = [r.json() for r in answers]
        lists: dict[str, str] = {}
        for t in transcripts:
            for entry in t["credential"]["credentialStatus"]:
                url = entry["statusListCredential"]
                if url not in lists:
                    got = await client.get(httpx.URL(url).path)
                    assert got.status_code == 200, got.text
                    lists[url] = got.text

        signers: set[str] = set()
        for t in transcripts:
            kids = {
                "vc_jwt": _part(t["vc_jwt"], 0)["kid"],
                "vc_jose": _part(t["vc_jose"], 0)["kid"],
                "sd_jwt": _part(t["sd_jwt"], 0)["kid"],
                "proof": prefix + t["credential"]["proof"]["verificationMethod"].split("#")[-1],
            }
            assert kids["vc_jwt"] == t["kid"]
            unknown = {name: kid for name, kid in kids.items() if kid not in known}
            assert not unknown, (t["id"], unknown)
            unpublished = {name: kid for name, kid in kids.items() if kid not in published}
            assert not unpublished, (t["id"], unpublished)
            signers.add(kids["vc_jwt"])

            online = await client.post(
                "/api/v1/verify", content=t["vc_jwt"], headers={"Content-Type": "text/plain"}
            )
            assert online.status_code == 200, online.text
            assert online.json()["valid"] is True, (t["id"], online.json()["errors"])
            proof = await client.post(
                "/api/v1/verify",
                content=json.dumps(t["credential"]),
                headers={"Content-Type": "application/vc+ld+json"},
            )
            assert proof.status_code == 200, proof.text
            assert proof.json()["valid"] is True, (t["id"], proof.json()["errors"])

    # Offline: the saved JWK set, DID document and status lists, nothing else.
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    (tmp_path / "did.json").write_text(did)
    status_args: list[str] = []
    for index, text in enumerate(lists.values()):
        (tmp_path / f"status-{index}.jwt").write_text(text)
        status_args += ["--status", str(tmp_path / f"status-{index}.jwt")]
    for t in transcripts:
        (tmp_path / "t.jwt").write_text(t["vc_jwt"])
        code, report = _offline(
            settings, str(tmp_path / "t.jwt"), "--jwks", str(tmp_path / "jwks.json"), *status_args
        )
        assert code == 0, (t["id"], report["errors"])
        (tmp_path / "t.json").write_text(json.dumps(t["credential"]))
        code, report = _offline(
            settings, str(tmp_path / "t.json"), "--did", str(tmp_path / "did.json"), *status_args
        )
        assert code == 0, (t["id"], report["errors"])

    # And once as a separate process, exactly as a verifier would run it.
    last = transcripts[-1]
    (tmp_path / "t.jwt").write_text(last["vc_jwt"])
    offline_env = {**os.environ, "CREDITBANK_KEY_DIR": str(tmp_path / "elsewhere")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "creditbank.cli",
        "verify",
        str(tmp_path / "t.jwt"),
        "--jwks",
        str(tmp_path / "jwks.json"),
        *status_args,
        cwd=ROOT,
        env=offline_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, (out.decode()[:500], err.decode()[:500])

    # Issuance straddled the rotations: several VC-JWT keys signed.
    assert len(signers) >= 2, signers
    assert len(transcripts) >= CLIENTS
    drill_report(
        "b2_key_rotation",
        {
            "transcripts": len(transcripts),
            "rotations": len(created),
            "vc_jwt_signers": len(signers),
            "published_keys": len(published),
        },
    )
