"""``creditbank keys`` (the field-encryption keyring and every signing-key purpose of
:mod:`creditbank.kit.signing`) and ``creditbank users`` (create an operator or any user).

    creditbank keys list
    creditbank keys init                          # create missing key files (production set-up)
    creditbank keys init --kind transcript-issuer --algorithm ES256 --algorithm SM2
                                                  # a current key of each named algorithm
    creditbank keys list [--kind transcript-issuer]   # keys per algorithm: current, active, retired
    creditbank keys rotate --kind transcript-issuer --algorithm SM2   # one algorithm's key
    creditbank keys rotate --kind encryption      # new current AES key; old ones still decrypt
    creditbank keys reencrypt                     # move every value to the current AES key
    creditbank keys rotate --kind access-tokens   # new signing key; old tokens verify until expiry
    creditbank keys rotate --kind ledger-checkpoints [--algorithm ES256]
    creditbank keys retire --kind access-tokens --kid at-1234abcd   # refuse its tokens now
    creditbank users create --username ops --role operator [--password-stdin]
    creditbank users list
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from typing import Any

from creditbank.config import Settings
from creditbank.errors import DomainError
from creditbank.kit import signing
from creditbank.kit.crypto import (
    KeyringError,
    create_keyring_file,
    keyring_path,
    load_keyring,
    rotate_keyring_file,
)

# The database and the services are imported when a command needs them: building the
# parser stays cheap (it needs only the signing purposes, for the --kind choices).

ENCRYPTION = "encryption"
#: The names of the command line before the signing facility.
KIND_ALIASES = {"access-token": "access-tokens", "ledger-checkpoint": "ledger-checkpoints"}


def _purpose(kind: str) -> signing.Purpose:
    return signing.purpose_named(KIND_ALIASES.get(kind, kind))


def _kinds() -> list[str]:
    return [p.name for p in signing.purposes()] + sorted(KIND_ALIASES)


def _out(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


async def _audit_cli(
    settings: Settings, action: str, object_id: str, detail: dict[str, Any]
) -> None:
    from creditbank.audit.service import audit
    from creditbank.db import Database

    database = Database.from_settings(settings)
    try:
        async with database.session_scope() as session:
            await audit.record(
                session,
                actor="cli",
                action=action,
                object_type="keyring",
                object_id=object_id,
                detail=detail,
            )
    finally:
        await database.dispose()


def _keys_list(args: argparse.Namespace, settings: Settings) -> int:
    out: dict[str, Any] = {}
    if args.kind not in (None, ENCRYPTION):
        try:
            out[args.kind] = signing.describe(settings, _purpose(args.kind))
        except KeyringError as exc:
            out[args.kind] = {"error": str(exc)}
        _out(out)
        return 0
    try:
        ring = load_keyring(keyring_path(settings), create=False)
        out[ENCRYPTION] = {
            "path": str(keyring_path(settings)),
            "current": ring.current,
            "keys": sorted(ring.keys),
        }
    except KeyringError as exc:
        out[ENCRYPTION] = {"error": str(exc)}
    for purpose in signing.purposes():
        try:
            out[purpose.name] = signing.describe(settings, purpose)
        except KeyringError as exc:
            out[purpose.name] = {"error": str(exc)}
    _out(out)
    return 0


def _keys_init(args: argparse.Namespace, settings: Settings) -> int:
    created = []
    if not keyring_path(settings).exists():
        create_keyring_file(keyring_path(settings))
        created.append(str(keyring_path(settings)))
    for purpose in signing.purposes():
        if not purpose.path(settings).exists():
            signing.key_set(settings, purpose, create=True)
            created.append(str(purpose.path(settings)))
        for alg in purpose.companion_algorithms:  # sets made before a companion existed
            if alg not in signing.key_set(settings, purpose, create=False).current:
                kid = signing.ensure_current(settings, purpose, alg, create=True).kid
                created.append(f"{purpose.path(settings)}#{kid}")
    if not args.algorithm:
        _out({"created": created})
        return 0
    if args.kind in (None, ENCRYPTION):
        sys.stderr.write("creditbank keys: --algorithm needs --kind (a signing-key purpose)\n")
        return 1
    purpose = _purpose(args.kind)
    current: dict[str, str] = {}
    try:
        for alg in args.algorithm:  # only those without a current key get one
            keys = signing.key_set(settings, purpose, create=False)
            if alg in keys.current:
                current[alg] = keys.current[alg]
                continue
            current[alg] = signing.rotate(settings, purpose, algorithm=alg)
            asyncio.run(_audit_cli(settings, "keys.rotate", current[alg], {"kind": args.kind}))
    except KeyringError as exc:
        sys.stderr.write(f"creditbank keys: {exc}\n")
        return 1
    _out({"created": created, "kind": args.kind, "current": current})
    return 0


def _keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.kind == ENCRYPTION:
            kid = rotate_keyring_file(keyring_path(settings))
        else:
            kid = signing.rotate(settings, _purpose(args.kind), algorithm=args.algorithm)
    except KeyringError as exc:
        sys.stderr.write(f"creditbank keys: {exc}\n")
        return 1
    asyncio.run(_audit_cli(settings, "keys.rotate", kid, {"kind": args.kind}))
    _out({"kind": args.kind, "current": kid})
    return 0


def _keys_retire(args: argparse.Namespace, settings: Settings) -> int:
    try:
        signing.retire(settings, _purpose(args.kind), args.kid)
    except KeyringError as exc:
        sys.stderr.write(f"creditbank keys: {exc}\n")
        return 1
    asyncio.run(_audit_cli(settings, "keys.retire", args.kid, {"kind": args.kind}))
    _out({"kind": args.kind, "retired": args.kid})
    return 0


def _keys_reencrypt(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.identity.service import identity

    ring = load_keyring(keyring_path(settings), create=False)

    async def run() -> int:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                return await identity.reencrypt_all(session, keyring=ring)
        finally:
            await database.dispose()

    _out({"current": ring.current, "reencrypted": asyncio.run(run())})
    return 0


def _users_create(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.identity.service import identity
    from creditbank.identity.signin import RoleSpec, sign_in

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                institution = (
                    await identity.get_institution(session, args.institution)
                    if args.institution
                    else None
                )
                specs = [
                    RoleSpec(role, institution=institution, programme=args.programme)
                    for role in args.role
                ]
                user = await sign_in.create_user(
                    session,
                    "cli",
                    settings=settings,
                    username=args.username,
                    password=password,
                    display_name=args.display_name,
                    roles=specs,
                )
                return sign_in.describe_user(user)
        finally:
            await database.dispose()

    try:
        _out(asyncio.run(run()))
    except DomainError as exc:
        sys.stderr.write(f"creditbank users: {exc.detail}\n")
        return 1
    return 0


def _users_list(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.identity.repository import IdentityRepository
    from creditbank.identity.signin import sign_in

    async def run() -> list[dict[str, Any]]:
        database = Database.from_settings(settings)
        try:
            async with database.read_scope() as session:
                users = await IdentityRepository.from_session(session).list_users()
                return [sign_in.describe_user(u) for u in users]
        finally:
            await database.dispose()

    _out(asyncio.run(run()))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    # Another context may own "keys" (e.g. transcript issuer keys): then ours is identity-keys.
    name = "identity-keys" if "keys" in subparsers.choices else "keys"
    keys = subparsers.add_parser(name, help="field-encryption and signing keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True)
    listing = ksub.add_parser("list", help="key ids and status (per algorithm)")
    listing.add_argument("--kind", choices=(ENCRYPTION, *_kinds()), default=None)
    listing.set_defaults(run=_keys_list)
    init = ksub.add_parser("init", help="create missing key files (and algorithms' keys)")
    init.add_argument("--kind", choices=(ENCRYPTION, *_kinds()), default=None)
    init.add_argument(
        "--algorithm",
        action="append",
        default=[],
        help=f"with --kind: ensure a current key of this algorithm ({signing.algorithms()})",
    )
    init.set_defaults(run=_keys_init)
    rotate = ksub.add_parser("rotate", help="add a new current key")
    rotate.add_argument("--kind", choices=(ENCRYPTION, *_kinds()), required=True)
    rotate.add_argument(
        "--algorithm", default=None, help=f"signing keys: one of {signing.algorithms()}"
    )
    rotate.set_defaults(run=_keys_rotate)
    retire = ksub.add_parser(
        "retire", help="destroy a signing key's private part (access tokens refuse at once)"
    )
    retire.add_argument("--kind", choices=_kinds(), default="access-tokens")
    retire.add_argument("--kid", required=True)
    retire.set_defaults(run=_keys_retire)
    ksub.add_parser(
        "reencrypt", help="re-encrypt learner fields under the current key"
    ).set_defaults(run=_keys_reencrypt)

    users = subparsers.add_parser("users", help="users and roles")
    usub = users.add_subparsers(dest="users_command", required=True)
    create = usub.add_parser("create", help="create a user (e.g. the first operator)")
    create.add_argument("--username", required=True)
    create.add_argument("--display-name", default=None)
    create.add_argument(
        "--role",
        action="append",
        required=True,
        choices=("operator", "institution_admin", "certifier"),
    )
    create.add_argument("--institution", default=None, help="institution key for the role")
    create.add_argument("--programme", default=None, help="programme id (certifier)")
    create.add_argument("--password-stdin", action="store_true")
    create.set_defaults(run=_users_create)
    usub.add_parser("list", help="every user and role").set_defaults(run=_users_list)
