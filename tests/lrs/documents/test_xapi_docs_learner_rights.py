"""A learner's State and Agent Profile documents in the data export, and erased on request."""

from __future__ import annotations

import uuid

from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.lrs.documents.service import export_learner_documents
from creditbank.lrs.xapi.ifi import agent_ifi
from tests.lrs.documents.conftest import ACTIVITY, AGENT_PROFILE, STATE


async def test_export_then_erase_the_learners_documents(lrs, session, demo):
    # The demo links 李娜's fxvs account FX2019001 to her bank account.
    lina = {"account": {"homePage": demo["fxvs"]["home_page"], "name": "FX2019001"}}
    stranger = {"account": {"homePage": demo["fxvs"]["home_page"], "name": "FX2019999"}}
    state = {"activityId": ACTIVITY, "agent": lina, "stateId": "bookmark"}
    assert (await lrs.put(STATE, state, json={"page": 3})).status_code == 204
    profile = {"agent": lina, "profileId": "avatar"}
    png = b"\x89PNG\r\n\x1a\n\x00"
    headers = {"Content-Type": "image/png", "If-None-Match": "*"}
    assert (await lrs.put(AGENT_PROFILE, profile, content=png, headers=headers)).status_code == 204
    other = {"activityId": ACTIVITY, "agent": stranger, "stateId": "bookmark"}
    assert (await lrs.put(STATE, other, json={"page": 1})).status_code == 204

    ifi = agent_ifi(lina)
    assert ifi is not None
    learner = await identity_service.learner_for_ifi(session, ifi)
    assert learner is not None
    learner_id = learner.id
    exported = await export_learner_documents(session, learner_id)
    by_kind = {item["kind"]: item for item in exported}
    assert set(by_kind) == {"state", "agent_profile"}
    assert by_kind["state"]["content"] == '{"page":3}'
    assert by_kind["state"]["activity_id"] == ACTIVITY
    assert by_kind["agent_profile"]["content_base64"] == "iVBORw0KGgoA"

    # The learner's erasure request (through identity) reaches her documents too.
    operator = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"operator"}))
    await identity_service.erase_learner(session, operator, learner.id)
    await session.commit()
    assert (await lrs.get(STATE, state)).status_code == 404
    assert (await lrs.get(AGENT_PROFILE, profile)).status_code == 404
    assert (await lrs.get(STATE, other)).status_code == 200
