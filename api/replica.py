"""Reads on the hot standby, with read-your-writes (``CREDITBANK_READ_DATABASE_URL``).

Which reads go to the standby is explicit: the routes that take ``ReplicaSessionDep``
or open ``replica_scope`` (xAPI statement GETs, ledger balances and entries, the
portal's balance page and the operator dashboard). Everything else reads the primary.

Read-your-writes: when a request by a caller commits a write, the primary's WAL
position (LSN) is taken before the answer starts and kept in this process as the
caller's *write mark*. The caller's next replica read asks the standby whether it has
replayed that far (``pg_last_wal_replay_lsn()``); if not, the read goes to the primary.
Once the standby has passed the mark it is forgotten. Marks live in the process that
took the write, so behind a load balancer one caller's reads see its writes when they
reach the same process (docs/scaling.md).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import current_principal
from api.deps import caller_key, get_database
from creditbank.db import WRITE_NOTE, ReadSession, WriteNote, on_standby
from creditbank.identity.principal import Principal

log = logging.getLogger("creditbank.replica")

#: Marks older than this are dropped (a standby that far behind is an incident).
MARK_SECONDS = 3600.0
#: Callers with a mark kept at most (the oldest goes first).
MAX_MARKS = 100_000


class WriteMarks:
    """Caller key -> the primary's LSN after that caller's last write (per process)."""

    def __init__(self, *, max_marks: int = MAX_MARKS, max_age: float = MARK_SECONDS) -> None:
        self._marks: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.max_marks = max_marks
        self.max_age = max_age

    def record(self, who: str, lsn: str) -> None:
        self._marks.pop(who, None)
        self._marks[who] = (lsn, time.monotonic())
        while len(self._marks) > self.max_marks:
            self._marks.popitem(last=False)

    def pending(self, who: str) -> str | None:
        """The caller's mark, if any (the LSN its replica reads must wait for)."""
        found = self._marks.get(who)
        if found is None:
            return None
        if time.monotonic() - found[1] > self.max_age:
            del self._marks[who]
            return None
        return found[0]

    def passed(self, who: str, lsn: str) -> None:
        """The standby replayed ``lsn``: forget the mark unless a newer write replaced it."""
        found = self._marks.get(who)
        if found is not None and found[0] == lsn:
            del self._marks[who]

    def __len__(self) -> int:
        return len(self._marks)


def write_marks(state: object) -> WriteMarks:
    marks: WriteMarks | None = getattr(state, "write_marks", None)
    if marks is None:
        marks = WriteMarks()
        state.write_marks = marks  # type: ignore[attr-defined]
    return marks


class ReadYourWritesMiddleware:
    """Takes a caller's write mark before the answer to a request that wrote starts
    (only with a standby configured)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope.get("app")
        database = getattr(getattr(app, "state", None), "database", None)
        if scope["type"] != "http" or getattr(database, "standby_engine", None) is None:
            await self.app(scope, receive, send)
            return
        note = WriteNote()
        token = WRITE_NOTE.set(note)

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start" and note.wrote and note.who:
                try:
                    lsn = await database.primary_lsn()  # type: ignore[union-attr]
                except Exception:  # the answer goes out; this caller's next reads may lag
                    log.warning("no write mark: the primary's LSN could not be read")
                else:
                    write_marks(app.state).record(note.who, lsn)  # type: ignore[union-attr]
                note.wrote = False
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        finally:
            WRITE_NOTE.reset(token)


@asynccontextmanager
async def replica_scope(request: Request, principal: Principal) -> AsyncIterator[ReadSession]:
    """A read that may lag: the standby, unless it lacks the caller's last write."""
    database = get_database(request)
    who = caller_key(principal)
    marks = write_marks(request.app.state)
    after = marks.pending(who) if who is not None else None
    async with database.replica_scope(after=after) as session:
        if who is not None and after is not None and on_standby(session):
            marks.passed(who, after)
        yield session


async def get_replica_session(
    request: Request, principal: Annotated[Principal, Depends(current_principal)]
) -> AsyncIterator[ReadSession]:
    async with replica_scope(request, principal) as session:
        yield session


ReplicaSessionDep = Annotated[ReadSession, Depends(get_replica_session)]
