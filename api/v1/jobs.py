"""The operator's view of the job table: dead letters and replay: ``/api/v1/jobs``."""

from __future__ import annotations

from fastapi import APIRouter

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep, SessionDep
from creditbank.jobs.schemas import JobRead, JobStats, Replayed
from creditbank.jobs.service import jobs as jobs_service

router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])


@router.get("/stats", response_model=JobStats)
async def stats(principal: CurrentPrincipal, session: ReadSessionDep) -> object:
    """Job counts by name and status."""
    return await jobs_service.stats(session, principal)


@router.get("/dead", response_model=list[JobRead])
async def dead_letters(
    principal: CurrentPrincipal,
    session: ReadSessionDep,
    name: str | None = None,
    limit: int = 100,
    before_id: int | None = None,
) -> object:
    """Dead letters, newest first, each with the reason (``last_error``)."""
    return await jobs_service.dead_letters(
        session, principal, name=name, limit=max(1, min(limit, 1000)), before_id=before_id
    )


@router.post("/dead/replay", response_model=Replayed)
async def replay_all(
    principal: CurrentPrincipal, session: SessionDep, name: str | None = None
) -> object:
    """Replay every dead letter (of ``name``)."""
    return {"replayed": await jobs_service.replay_all(session, principal, name=name)}


@router.get("/{job_id}", response_model=JobRead)
async def read_job(job_id: int, principal: CurrentPrincipal, session: ReadSessionDep) -> object:
    return await jobs_service.get(session, principal, job_id)


@router.post("/{job_id}/replay", response_model=JobRead)
async def replay(job_id: int, principal: CurrentPrincipal, session: SessionDep) -> object:
    """Put a dead letter back in the queue with fresh attempts."""
    return await jobs_service.replay(session, principal, job_id)
