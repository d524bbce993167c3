"""Routers only resolve the caller and call a service: ``api/`` decides no authorization
(the services ask ``creditbank.identity.authz``), and every JSON endpoint declares a
typed response model."""

from __future__ import annotations

import ast
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel

from api.app import create_app
from creditbank.config import Settings

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "api"

#: What deciding "may this caller do it" looks like on a principal.
DECIDING_ATTRIBUTES = {"is_operator", "has_role", "has_scope", "admin_of", "certifier_scopes"}
#: Membership tests on these (``"operator" in principal.roles``) decide too.
GRANT_SETS = {"roles", "scopes"}

#: xAPI resources answer raw xAPI documents (bytes byte-compatible with the ADL suites,
#: any JSON a client stored, or multipart); their routes write the body themselves.
RAW_XAPI = {
    "GET /xapi/statements",
    "GET /xapi/activities/state",
    "GET /xapi/activities/profile",
    "GET /xapi/agents/profile",
    "GET /xapi/activities",
    "GET /xapi/agents",
}


def _python_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _decisions(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"import {a.name}" for a in node.names if a.name == "creditbank.identity.authz"
            ]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = {a.name for a in node.names}
            if node.module == "creditbank.identity.authz" or (
                node.module == "creditbank.identity" and "authz" in names
            ):
                found.append(f"line {node.lineno}: imports authz")
            if node.module.startswith("creditbank") and "Forbidden" in names:
                found.append(f"line {node.lineno}: imports Forbidden (refusing is the service's)")
        elif isinstance(node, ast.Attribute) and node.attr in DECIDING_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            for side in node.comparators:
                if isinstance(side, ast.Attribute) and side.attr in GRANT_SETS:
                    found.append(f"line {node.lineno}: membership in .{side.attr}")
    return found


@pytest.mark.parametrize("path", _python_files(API), ids=lambda p: str(p.relative_to(ROOT)))
def test_api_decides_no_authorization(path: Path):
    found = _decisions(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(ROOT)} decides authorization itself: {found}"


def test_the_check_recognises_a_router_deciding():
    decided = """
from creditbank.identity import authz
from creditbank.errors import Forbidden
if not principal.is_operator or "operator" not in principal.roles:
    raise Forbidden("no")
"""
    assert len(_decisions(ast.parse(decided))) == 4


#: Service calls a router may make without the caller: resolving path names to objects
#: (the operation that follows authorizes), signing in, public reads, LRS plumbing,
#: start-up wiring.
CALLER_FREE = {
    "get_institution",
    "get_learner",
    "get_user",
    "find_institution",
    "describe_user",
    "authenticate_basic",
    "principal_from_token",
    "principal_from_refresh",
    "login",
    "refresh",
    "logout",
    "client_credentials",
    "checkpoint_service.recent",  # signed checkpoints are public
    "checkpoint_service.get",
    "transcripts_service.verify",  # verifying a presented transcript is public
    "transcripts_service.verify_published",
    "transcripts_service.status_list",  # status lists are public (Bitstring Status List)
    "transcripts_service.jwks",
    "transcripts_service.did_document",
    "transcripts_service.signed_form_by_link",  # the QR link: the random id is the capability
    "transcripts_service.jwk",
    "shares_service.verify_presentation",  # verifying a presented SD-JWT is public too
    "shares_service.presentation",  # a share's URL is its capability
    "shares_service.verify_by_link",  # so is a share's verify link
    "consistent_through",
    "configure_credential_cache",  # start-up wiring in api/app.py
    "attachment_parts",
}


def _tail(node: ast.expr) -> str | None:
    """``principal`` for ``principal`` and for ``page.principal``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _caller_free_calls(tree: ast.AST) -> list[str]:
    """``x_service.method(...)`` calls that do not pass ``principal`` (so the service
    cannot check who asks) and are not in :data:`CALLER_FREE`."""
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id.endswith("_service")
        ):
            continue
        passed = {_tail(a) for a in node.args} | {_tail(k.value) for k in node.keywords}
        qualified = f"{node.func.value.id}.{node.func.attr}"
        free = node.func.attr in CALLER_FREE or qualified in CALLER_FREE
        if "principal" not in passed and not free:
            found.append(f"line {node.lineno}: {qualified}")
    return found


@pytest.mark.parametrize("path", _python_files(API), ids=lambda p: str(p.relative_to(ROOT)))
def test_api_calls_services_for_the_caller(path: Path):
    """A router (or a portal page) cannot reach a context's data past its check: it calls
    the operations that take the principal, never the trusted ones other contexts use."""
    found = _caller_free_calls(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(ROOT)} calls a service without the caller: {found}"


def _routes(routes: list[Any]) -> list[APIRoute]:
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # an included router (newer FastAPI)
            out += _routes(route.original_router.routes)
    return out


def _typed(model: Any) -> bool:
    """A pydantic model, a list or union of typed shapes, or a plain scalar; never a bare
    dict or ``Any`` (an untyped answer)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return True
    origin = typing.get_origin(model)
    if origin is list:
        return all(_typed(arg) for arg in typing.get_args(model))
    if origin in (typing.Union, types.UnionType):
        return all(_typed(arg) for arg in typing.get_args(model))
    return model in (str, int, bool)


def test_every_json_endpoint_has_a_typed_response_model(settings: Settings):
    untyped = []
    for route in _routes(list(create_app(settings).routes)):
        for method in sorted((route.methods or set()) - {"HEAD"}):
            name = f"{method} {route.path}"
            if route.status_code == 204 or name in RAW_XAPI:
                continue
            if route.response_model is None or not _typed(route.response_model):
                untyped.append(f"{name} -> {route.response_model}")
    assert not untyped, f"endpoints without a typed response_model: {untyped}"


def test_the_check_recognises_a_call_past_the_check():
    calls = """
ledger_service.balances(session, learner_id)
rules_service.get_outcome(session, outcome_id)
ledger_service.account(session, principal, learner_id)
checkpoint_service.get(session, None)
"""
    assert len(_caller_free_calls(ast.parse(calls))) == 2
