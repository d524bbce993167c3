"""Operations: liveness and readiness."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import DatabaseDep, SettingsDep
from creditbank.migrate import current_heads, script_heads

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(database: DatabaseDep, settings: SettingsDep) -> JSONResponse:
    """The database answers and its schema is at the code's migration heads."""
    checks: dict[str, str] = {}
    try:
        async with database.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
        at = await current_heads(database.write_engine)
        expected = script_heads(settings.database_url)
        checks["migrations"] = (
            "ok" if at == expected else f"at {sorted(at)}, need {sorted(expected)}"
        )
    except Exception as exc:  # readiness reports, it does not crash
        checks.setdefault("database", f"error: {type(exc).__name__}")
    ready = all(value == "ok" for value in checks.values()) and len(checks) == 2
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
