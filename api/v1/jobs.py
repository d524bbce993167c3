"""The operator's view of the job table: dead letters and replay: ``/api/v1/jobs``."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep
from creditbank.errors import Forbidden
from creditbank.identity.principal import Principal
from creditbank.jobs.schemas import JobRead
from creditbank.jobs.service import jobs as jobs_service

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


def _operator(principal: Principal) -> None:
    if not principal.is_operator:
        raise Forbidden("operators only / 仅限管理员", code="forbidden")


@router.get("/stats")
async def stats(principal: CurrentPrincipal, session: ReadSessionDep) -> dict[str, dict[str, int]]:
    """Job counts by name and status."""
    _operator(principal)
    return await jobs_service.stats(session)


@router.get("/dead", response_model=list[JobRead])
async def dead_letters(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    name: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> object:
    """Dead letters, newest first, each with the reason (``last_error``)."""
    _operator(principal)
    return await jobs_service.dead_letters(
        session, name=name, limit=max(1, min(limit, 1000)), before_id=before_id
    )


@router.post("/dead/replay")
async def replay_all(
    principal: CurrentPrincipal, session: SessionDep, name: str | None = None
) -> dict[str, list[int]]:
    """Replay every dead letter (of ``name``)."""
    _operator(principal)
    return {"replayed": await jobs_service.replay_all(session, name=name)}


@router.get("/{job_id}", response_model=JobRead)
async def read_job(job_id: int, principal: CurrentPrincipal, session: ReadSessionDep) -> object:
    _operator(principal)
    return await jobs_service.get(session, job_id)


@router.post("/{job_id}/replay", response_model=JobRead)
async def replay(job_id: int, principal: CurrentPrincipal, session: SessionDep) -> object:
    """Put a dead letter back in the queue with fresh attempts."""
    _operator(principal)
    return await jobs_service.replay(session, job_id)
