"""``creditbank bench transcripts``: issue and verify throughput of the transcript forms,
and verify latency through ``POST /api/v1/verify``'s code path.

In process, with a throw-away issuer key set in a temporary directory (the deployment's
keys are never touched): ``--transcripts`` credentials of ``--outcomes`` outcomes each
(li-na sized by default) are built and signed per algorithm (issue: the VC-JWT and its
``typ: vc+jwt`` twin, as ``transcripts.issue`` signs them; the ledger reads of the HTTP
issue are not in it), then ``--verifications`` verifications round-robin over them
through what the verify route runs after reading the body: ``transcripts.verify`` and
the report's JSON. Every credential carries two ``BitstringStatusListEntry``s (random
indexes in a revocation and a suspension list of 131,072 entries, about 1% of the bits
set for others), and every verification checks them against the two signed status
list credentials held in memory, as the verify route does once the publisher has
signed a list version ("status lists cached": each list's own signature is verified
once per list version, by :class:`creditbank.transcripts.status.VerifiedLists`, then
a check is a lookup by the list's exact text and a bit; the route adds one versions
query). The Data Integrity proof (``eddsa-rdfc-2022``, RDF
canonicalisation) likewise, fewer times (it is far slower). SD-JWT VC: a share as
``shares.create`` signs it (ES256, one outcome and the credit totals disclosed, the
holder's ``cnf.jwk``, the status entries), verified as a key-bound presentation
(KB-JWT with nonce and audience, made beforehand: the holder's cost is not the
verifier's) through ``shares.verify_offline`` and the report's JSON.

Figures: wall-clock rate and latency percentiles, and the rate per CPU-second of this
process (``time.process_time``): one loop on one core, so that is "per core", and less
disturbed than wall time when other work shares the machine.

With ``--url`` the VC-JWTs (signed with the deployment's own issuer keys, so outside
production only) are also POSTed to a running server's ``/api/v1/verify``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from creditbank.bench.runner import percentile
from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.kit.time import utc_now
from creditbank.transcripts import credential as builder
from creditbank.transcripts import dataintegrity, sdjwt, status, vcjwt
from creditbank.transcripts import did as didweb
from creditbank.transcripts import sm2 as sm2_proof
from creditbank.transcripts.fast import report_json
from creditbank.transcripts.keys import SM2, TRANSCRIPT_ISSUER
from creditbank.transcripts.service import issuer_id, kid_url, subject_id, transcripts
from creditbank.transcripts.shares import shares


@dataclass
class Timing:
    label: str
    count: int
    wall: float
    cpu: float
    latencies_ms: list[float]

    def line(self) -> str:
        per_wall = self.count / self.wall if self.wall else 0.0
        per_cpu = self.count / self.cpu if self.cpu else 0.0
        return (
            f"{self.label}: {per_wall:,.0f}/s wall, {per_cpu:,.0f}/s per core (CPU), "
            f"p50 {percentile(self.latencies_ms, 0.5):.3f} ms "
            f"p95 {percentile(self.latencies_ms, 0.95):.3f} ms "
            f"p99 {percentile(self.latencies_ms, 0.99):.3f} ms (n {self.count})"
        )


def _timed(label: str, items: list[Any], run: Callable[[Any], Any]) -> tuple[Timing, list[Any]]:
    results = []
    latencies = []
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        started = time.perf_counter()
        results.append(run(item))
        latencies.append((time.perf_counter() - started) * 1000)
    timing = Timing(
        label, len(items), time.perf_counter() - wall, time.process_time() - cpu, latencies
    )
    return timing, results


def _credentials(settings: Settings, count: int, outcomes: int) -> list[dict[str, Any]]:
    now = utc_now() - timedelta(minutes=1)
    made = []
    for n in range(count):
        claims = [
            builder.OutcomeClaim(
                outcome_id=uuid.uuid4(),
                unit_code=f"CERT-ELEC-{i}",
                title_zh="电工职业技能等级证书（中级）",
                title_en="Electrician certificate (intermediate)",
                level=4,
                category="vocational",
                unit_credits=Decimal("6.0"),
                credits=Decimal("6.0"),
                awarded_at=now - timedelta(days=30 + i),
                expires_at=None,
                institution_key="fxvs",
                institution_name_zh="房县职业技术学校",
                institution_name_en="Fangxian Vocational School",
                statement_ids=[str(uuid.uuid4())],
            )
            for i in range(outcomes)
        ]
        total = Decimal("6.0") * outcomes
        made.append(
            builder.build(
                transcript_id=uuid.uuid4(),
                issuer_id=issuer_id(settings),
                subject_id=subject_id(settings, uuid.UUID(int=n + 1)),
                issued_at=now,
                as_of=now,
                outcomes=claims,
                conversions=[],
                totals=builder.Totals(total, total, Decimal("0")),
                valid_until=None,
                issuer_did=transcripts.did(settings),
            )
        )
    return made


def _key(settings: Settings, alg: str) -> signing.SigningKey:
    keys = signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    if alg not in keys.current:
        signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm=alg)
        keys = signing.key_set(settings, TRANSCRIPT_ISSUER)
    return keys.current_key(alg)


def _round_robin(items: list[Any], count: int) -> list[Any]:
    return [items[i % len(items)] for i in range(count)]


def _with_status(settings: Settings, credentials: list[dict[str, Any]]) -> dict[str, str]:
    """Give each credential status entries in two fresh lists; the lists as published
    (URL -> VC-JWT, signed by the status list signer: the default VC-JWT key)."""
    chooser = random.Random(20261202)
    issuer = issuer_id(settings)
    size = status.LIST_SIZE
    lists: dict[str, str] = {}
    key = _key(settings, settings.transcripts.algorithm)
    for purpose in status.PURPOSES:
        list_id = uuid.UUID(int=chooser.getrandbits(128)).hex
        indexes = chooser.sample(range(size), len(credentials) + size // 100)
        for credential, index in zip(credentials, indexes, strict=False):
            credential.setdefault("credentialStatus", []).append(
                status.entry(issuer, list_id, index, purpose)
            )
        others = indexes[len(credentials) :]  # set for other holders
        listed = status.list_credential(
            issuer=issuer,
            list_id=list_id,
            purpose=purpose,
            encoded=status.encode(others, size),
            ttl_seconds=settings.transcripts.status_ttl_seconds,
            at=utc_now(),
            issuer_did=transcripts.did(settings),
        )
        lists[status.list_url(issuer, list_id)] = vcjwt.sign(
            listed, key, kid_url(settings, key.kid)
        )
    return lists


def _check(report: dict[str, Any]) -> None:
    if not report["valid"]:
        raise RuntimeError(f"bench transcript did not verify: {report['errors']}")


def bench(
    settings: Settings,
    *,
    count: int,
    verifications: int,
    outcomes: int,
    algorithms: list[str],
    sm2: bool,
) -> tuple[list[str], dict[str, list[str]]]:
    """(report lines, the VC-JWTs per algorithm)."""
    lines: list[str] = []
    tokens: dict[str, list[str]] = {}
    credentials = _credentials(settings, count, outcomes)
    lists = _with_status(settings, credentials)
    size = len(vcjwt.canonical_json(credentials[0]).encode())
    lines.append(
        f"transcripts: {count} of {outcomes} outcomes ({size:,} bytes of credential), "
        f"{len(lists)} status lists of {status.LIST_SIZE:,} entries (cached)"
    )
    for alg in algorithms:
        key = _key(settings, alg)
        url = kid_url(settings, key.kid)

        def issue(credential: dict[str, Any], key: signing.SigningKey = key, url: str = url) -> str:
            token = vcjwt.sign(credential, key, url)
            vcjwt.sign(credential, key, url, typ="vc+jwt")
            return token

        timing, signed = _timed(f"issue VC-JWT {alg} (both typ forms)", credentials, issue)
        lines.append(timing.line())
        tokens[alg] = signed

        def verify(token: str) -> bytes:
            report = transcripts.verify(settings, token, status_lists=lists)
            _check(report)
            return report_json(report)

        verify(signed[0])  # warm: the key set read, the public key loaded
        timing, _ = _timed(
            f"verify VC-JWT {alg} (POST /api/v1/verify code path)",
            _round_robin(signed, verifications),
            verify,
        )
        lines.append(timing.line())
    if sm2:
        key = _key(settings, SM2)
        url = kid_url(settings, key.kid)
        base = tokens.get(algorithms[0]) if algorithms else None
        if base:
            timing, proofs = _timed("issue SM2 proof", base, lambda t: sm2_proof.proof(t, key, url))
            lines.append(timing.line())
            pairs = list(zip(base, proofs, strict=True))

            def verify_sm2(pair: tuple[str, dict[str, Any]]) -> bytes:
                report = transcripts.verify(settings, pair[0], sm2=pair[1], status_lists=lists)
                _check(report)
                return report_json(report)

            timing, _ = _timed(
                f"verify VC-JWT {algorithms[0]} + SM2 proof",
                _round_robin(pairs, max(1, verifications // 20)),
                verify_sm2,
            )
            lines.append(timing.line())
    key = _key(settings, "EdDSA")
    method = didweb.verification_method_id(transcripts.did(settings), key.kid)
    timing, secured = _timed(
        "issue Data Integrity eddsa-rdfc-2022",
        credentials,
        lambda c: dataintegrity.sign(c, key, method, created=utc_now()),
    )
    lines.append(timing.line())

    def verify_di(document: dict[str, Any]) -> bytes:
        report = transcripts.verify(settings, document, status_lists=lists)
        _check(report)
        return report_json(report)

    timing, _ = _timed(
        "verify Data Integrity eddsa-rdfc-2022",
        _round_robin(secured, max(1, verifications // 20)),
        verify_di,
    )
    lines.append(timing.line())
    lines += _sd_jwt(settings, credentials, lists, verifications)
    return lines, tokens


def _sd_jwt(
    settings: Settings, credentials: list[dict[str, Any]], lists: dict[str, str], count: int
) -> list[str]:
    """A share's SD-JWT VC issued, then verified as a key-bound presentation."""
    key = _key(settings, sdjwt.ALG)
    url = kid_url(settings, key.kid)
    algo = signing.algorithm("ES256")
    private = algo.generate()
    holder = signing.SigningKey(
        kid="holder",
        alg="ES256",
        status=signing.ACTIVE,
        created_at="2026-12-02T00:00:00Z",
        public_key=algo.public_key(private),
        private_key=private,
    )
    holder_jwk = algo.public_jwk(holder.public_key)
    vct = sdjwt.vct_of(issuer_id(settings))
    nonce, audience = "bench-nonce", "https://hr.example.com"

    def issue(credential: dict[str, Any]) -> str:
        first = credential["credentialSubject"]["verifiableCredential"][0]
        unit = first["credentialSubject"]["achievement"]["humanCode"]
        return sdjwt.issue(
            credential,
            key,
            url,
            jti=f"urn:uuid:{uuid.uuid4()}",
            vct=vct,
            issued_at=utc_now(),
            holder_jwk=holder_jwk,
            selection=sdjwt.Selection.of(outcomes=[unit], personal=["credit_totals"]),
            credential_status=credential["credentialStatus"],
        )

    timing, issued = _timed("issue SD-JWT VC ES256 (a share)", credentials, issue)
    out = [timing.line()]
    presented = [
        sdjwt.key_binding(t, holder, nonce=nonce, audience=audience, issued_at=utc_now())
        for t in issued
    ]

    def verify(presentation: str) -> str:
        report = shares.verify_offline(
            settings, presentation, nonce=nonce, audience=audience, status_lists=lists
        )
        _check(report)
        return vcjwt.canonical_json(report)

    verify(presented[0])  # warm
    timing, _ = _timed(
        "verify SD-JWT VC presentation (KB-JWT, status)",
        _round_robin(presented, max(1, count // 5)),
        verify,
    )
    out.append(timing.line())
    return out


async def _over_http(url: str, tokens: list[str], count: int, concurrency: int) -> str:
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in _round_robin(tokens, count):
        queue.put_nowait(token)
    latencies: list[float] = []
    errors = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            try:
                token = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            response = await client.post(
                "/api/v1/verify", content=token, headers={"Content-Type": "text/plain"}
            )
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or not response.json().get("valid"):
                errors += 1

    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return (
        f"verify over HTTP ({concurrency} clients): {len(latencies) / elapsed:,.0f}/s "
        f"p50 {percentile(latencies, 0.5):.1f} ms p95 {percentile(latencies, 0.95):.1f} ms "
        f"p99 {percentile(latencies, 0.99):.1f} ms errors {errors}"
    )


def run(args: argparse.Namespace, settings: Settings) -> list[str]:
    algorithms = [a for a in args.algorithms.split(",") if a]
    if args.url:
        if settings.env == "prod":
            raise SystemExit("bench transcripts --url signs with the issuer keys: not in prod")
        lines, tokens = bench(
            settings,
            count=args.transcripts,
            verifications=args.verifications,
            outcomes=args.outcomes,
            algorithms=algorithms,
            sm2=args.sm2,
        )
        first = tokens[algorithms[0]]
        lines.append(asyncio.run(_over_http(args.url, first, args.requests, args.concurrency)))
        return lines
    with tempfile.TemporaryDirectory(prefix="creditbank-bench-") as tmp:
        scratch = settings.model_copy(
            update={
                "env": "dev",
                "key_dir": Path(tmp),
                "security": settings.security.model_copy(update={"keyring_path": None}),
            }
        )
        lines, _ = bench(
            scratch,
            count=args.transcripts,
            verifications=args.verifications,
            outcomes=args.outcomes,
            algorithms=algorithms,
            sm2=args.sm2,
        )
    return lines


def _cmd_transcripts(args: argparse.Namespace, settings: Settings) -> int:
    for line in run(args, settings):
        print(line)
    return 0
