"""``GET /xapi/activities?activityId=``: the canonical Activity object (Communication 2.5)."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response

from api.auth import CurrentPrincipal
from api.deps import ReadSessionDep
from api.xapi.common import VERSION_HEADER, XapiVersion
from api.xapi.documents import parse_activity_id, query_params, require
from creditbank.lrs.activities import activities as activity_service

router = APIRouter(prefix="/xapi", tags=["xAPI activities"])


@router.head("/activities", include_in_schema=False)
@router.get("/activities")
async def get_activity(
    request: Request,
    version: XapiVersion,
    principal: CurrentPrincipal,
    session: ReadSessionDep,
) -> Response:
    """The Activity with its definition merged from the statements that carried it."""
    params = query_params(request, {"activityId"})
    activity_id = parse_activity_id(require(params, "activityId"))
    activity = await activity_service.get_activity(session, principal, activity_id)
    headers = {VERSION_HEADER: version}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    return Response(orjson.dumps(activity), media_type="application/json", headers=headers)
