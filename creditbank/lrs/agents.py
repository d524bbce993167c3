"""The Agents resource: the Person object for an Agent (Communication 2.4).

A Person lists, as arrays, every name and inverse functional identifier known for
the person behind the Agent asked about: the Agent's own, the names that agent
carried in the newest statements the caller may read, and the IFIs of every
account linked to the same learner (identity links).

Linked identifiers reveal a learner's accounts at other institutions, so (as the
spec suggests for multiple identifying properties) they are given only to
credentials with the explicit ``all/read`` permission; any other caller gets the
Person of the Agent it asked about, as if nothing else were known.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.lrs.activities import require_read
from creditbank.lrs.repository import AgentRepository
from creditbank.lrs.xapi.ifi import agent_ifi, ifi_to_agent

#: How many of the agent's newest statements are read for the names it went by.
MAX_STATEMENTS = 50
_IFI_PROPERTIES = ("mbox", "mbox_sha1sum", "openid", "account")
#: The permission that lets a caller see every identifier linked to a learner.
LINKED_IFIS_SCOPE = "all/read"


def person_of(agents: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The Person object gathering the names and IFIs of ``agents`` (first seen first)."""
    names: dict[str, None] = {}
    values: dict[str, dict[str, Any]] = {prop: {} for prop in _IFI_PROPERTIES}
    for agent in agents:
        name = agent.get("name")
        if isinstance(name, str):
            names.setdefault(name)
        for prop in _IFI_PROPERTIES:
            value = agent.get(prop)
            if value is None:
                continue
            ifi = agent_ifi({prop: value})
            if ifi is not None:
                values[prop].setdefault(ifi, value)
    person: dict[str, Any] = {"objectType": "Person"}
    if names:
        person["name"] = list(names)
    for prop in _IFI_PROPERTIES:
        if values[prop]:
            person[prop] = list(values[prop].values())
    return person


class AgentService:
    async def get_person(
        self, session: AsyncSession, principal: Principal, agent: dict[str, Any]
    ) -> dict[str, Any]:
        """The Person for a validated Agent."""
        institution = require_read(principal)
        own = agent_ifi(agent)
        seen: list[dict[str, Any]] = [agent]
        actors = await AgentRepository.from_session(session).actors_of(
            agent, institution_id=institution, limit=MAX_STATEMENTS
        )
        seen += [a for a in actors if isinstance(a, dict) and agent_ifi(a) == own]
        if own is not None and principal.has_scope(LINKED_IFIS_SCOPE):
            learner = await identity_service.learner_for_ifi(session, own)
            if learner is not None:
                linked = await identity_service.ifis_of(session, learner.id)
                seen += [ifi_to_agent(ifi) for ifi in linked if ifi != own]
        return person_of(seen)


agents = AgentService()
