"""``GET /xapi/agents?agent=``: the Person object for an Agent (Communication 2.4)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep
from api.xapi.common import VERSION_HEADER, XapiVersion
from api.xapi.documents import parse_agent_param, query_params, require
from creditbank.lrs.agents import agents as agent_service

router = APIRouter(prefix="/xapi", tags=["xAPI agents"])


@router.head("/agents", include_in_schema=False)
@router.get("/agents")
async def get_person(
    request: Request,
    version: XapiVersion,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
) -> Response:
    """Every name and identifier known for the person behind ``agent``."""
    params = query_params(request, {"agent"})
    agent = parse_agent_param(require(params, "agent"))
    person = await agent_service.get_person(session, principal, agent)
    headers = {VERSION_HEADER: version}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    return Response(orjson.dumps(person), media_type="application/json", headers=headers)
