"""Every route's write session commits before the answer is sent (issue #9, item 0).

A yield dependency of the default ("request") scope is finished by FastAPI after the
response has gone out; the request's write session must have ``scope="function"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from api.app import create_app
from api.deps import get_session
from creditbank.config import Settings


def _session_scopes(dependant: Dependant) -> list[str | None]:
    found: list[str | None] = []
    for sub in dependant.dependencies:
        if sub.call is get_session:
            found.append(sub.scope)
        found += _session_scopes(sub)
    return found


def _api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)  # FastAPI >= 0.13x nests routers
        if included is not None:
            yield from _api_routes(included.routes)


def test_every_write_session_commits_before_the_answer(tmp_path):
    app = create_app(Settings(env="test", database_url="sqlite+aiosqlite://", key_dir=tmp_path))
    writers = 0
    for route in _api_routes(app.routes):
        scopes = _session_scopes(route.dependant)
        writers += bool(scopes)
        assert all(scope == "function" for scope in scopes), route.path
    assert writers > 20  # the check does see the routes
