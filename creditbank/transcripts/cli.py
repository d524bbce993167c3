"""``creditbank verify FILE [--jwks FILE] [--did FILE] [--status FILE ...]``: check one.

FILE holds a VC-JWT (``-`` reads standard input), or JSON with ``vc_jwt`` and optionally
``sm2`` (an issue answer as saved: the SM2 proof is checked too), or the credential as
JSON-LD with its Data Integrity proof (``application/vc+ld+json``), or an SD-JWT VC
presentation (``--nonce``/``--audience`` then require key binding with them; a share's
revocation or suspension is its bit in its own status list, so ``--status`` with the
share's saved lists tells it offline too). ``--did`` is a
saved copy of ``/.well-known/did.json`` for the Data Integrity proof's verification
method. Without ``--jwks`` (or ``--did``) the bank's own issuer key set is used (current
and retired keys); with it, the given JWK set (for example a saved copy of
``/.well-known/jwks.json``), so no network and no database are needed. ``--status
FILE`` (once per list) supplies a status list credential (a saved ``/status/{list}``
VC-JWT); without any, and without ``--jwks``/``--did``, the bank's own lists are read
from its database; offline without ``--status`` the report is not valid. Prints the JSON
report; exit status 0 only when it is valid, 1 when it is not, 2 when the input cannot
be read at all. Issuer keys themselves are managed by ``creditbank keys ...
--kind transcript-issuer``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from creditbank.config import Settings
from creditbank.errors import DomainError
from creditbank.kit.crypto import KeyringError
from creditbank.transcripts import keys  # noqa: F401  (registers the transcript-issuer purpose)

# What the command runs is imported when it runs: building the parser stays cheap.

__all__ = ["register"]


async def _bank_lists(settings: Settings, token: str | dict[str, Any]) -> dict[str, str]:
    """The bank's own status lists the credential names, read from its database."""
    from creditbank.db import Database
    from creditbank.transcripts import sdjwt, status
    from creditbank.transcripts.service import transcripts
    from creditbank.transcripts.vcjwt import parse

    payload: dict[str, Any] | None
    if isinstance(token, dict):
        payload = token
    elif sdjwt.is_sd_jwt(token):
        payload = sdjwt.peek(token)
    else:
        try:
            _, payload, _, _ = parse(token)
        except DomainError:
            return {}
    database = Database.from_settings(settings)
    try:
        async with database.read_scope() as session:
            return await transcripts.published_status_lists(
                session, settings, status.referenced_lists(payload)
            )
    finally:
        await database.dispose()


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.transcripts import sdjwt, status
    from creditbank.transcripts.service import transcripts
    from creditbank.transcripts.shares import shares
    from creditbank.transcripts.vcjwt import canonical_json

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        jwks = json.loads(Path(args.jwks).read_text("utf-8")) if args.jwks else None
        lists = status.lists_from_texts(Path(f).read_text("utf-8") for f in args.status or ())
        did_document = json.loads(Path(args.did).read_text("utf-8")) if args.did else None
        # JSON: the credential with its Data Integrity proof (vc+ld+json), or an issue
        # answer {"vc_jwt": ..., "sm2"?: ...}.
        token: Any = json.loads(text) if text.lstrip().startswith("{") else text
    except (OSError, ValueError, RecursionError) as exc:
        sys.stderr.write(f"creditbank verify: {exc}\n")
        return 2
    if jwks is not None and not isinstance(jwks, dict):
        sys.stderr.write("creditbank verify: --jwks is not a JWK set\n")
        return 2
    if did_document is not None and not isinstance(did_document, dict):
        sys.stderr.write("creditbank verify: --did is not a DID document\n")
        return 2
    sm2 = None
    if isinstance(token, dict) and "@context" not in token:
        if not isinstance(token.get("vc_jwt"), str):
            sys.stderr.write("creditbank verify: JSON input needs a vc_jwt string or @context\n")
            return 2
        token, sm2 = token["vc_jwt"], token.get("sm2")
    try:
        if isinstance(token, str) and sdjwt.is_sd_jwt(token):
            if not args.status and jwks is None:
                lists = asyncio.run(_bank_lists(settings, token))
            report = shares.verify_offline(
                settings,
                token,
                jwks=jwks,
                nonce=args.nonce,
                audience=args.audience,
                status_lists=lists,
            )
        else:
            if not args.status and jwks is None and did_document is None:
                lists = asyncio.run(_bank_lists(settings, token))
            report = transcripts.verify(
                settings,
                token,
                jwks=jwks,
                did_document=did_document,
                sm2=sm2,
                status_lists=lists,
            )
    except DomainError as exc:
        sys.stderr.write(f"creditbank verify: {exc.detail}\n")
        return 2
    except KeyringError as exc:
        sys.stderr.write(f"creditbank verify: {exc}\n")
        return 2
    sys.stdout.write(canonical_json(report) + "\n")
    return 0 if report["valid"] else 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="verify a transcript (VC-JWT, JSON-LD with its proof, SD-JWT) offline (0 if valid)",
    )
    parser.add_argument(
        "file", help="a file holding the VC-JWT, JSON-LD credential or SD-JWT, or - for stdin"
    )
    parser.add_argument("--jwks", default=None, help="a JWK set file instead of the bank's keys")
    parser.add_argument(
        "--status",
        action="append",
        metavar="FILE",
        help="a status list credential (VC-JWT) file; repeat for each list",
    )
    parser.add_argument(
        "--did",
        default=None,
        help="a saved /.well-known/did.json instead of the bank's keys (Data Integrity proofs)",
    )
    parser.add_argument("--nonce", default=None, help="SD-JWT: the nonce the KB-JWT must carry")
    parser.add_argument(
        "--audience", default=None, help="SD-JWT: the audience (aud) the KB-JWT must name"
    )
    parser.set_defaults(run=_cmd_verify)
