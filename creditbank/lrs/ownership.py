"""An institution asserts only about its own learners.

Checked on every stored statement before anything is written:

- an ``account`` (of the actor, a Group member, ``context.instructor``, ``context.team``,
  ``contextAgents`` or ``contextGroups``) whose ``homePage`` an institution registered
  belongs to that institution: any other sender is refused with ``403`` naming the
  owner. A homePage no institution registered belongs to nobody and is accepted (such
  an account can be linked to a learner only by the operator).
- an actor identified by ``mbox`` / ``mbox_sha1sum`` / ``openid`` that is linked to a
  learner through another institution (or by the operator): the operator's policy
  ``CREDITBANK_LRS__FOREIGN_IFI`` decides — ``refuse`` (default, ``403``) or ``hold``
  (stored, its recognition job parked as a dead letter for the operator to review and
  replay). An unlinked actor is stored and waits for a link as before.

A principal without an institution (the operator) is not restricted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import Forbidden
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.identity.service import normalise_home_page
from creditbank.lrs.xapi.ifi import agent_ifi

ForeignIfiPolicy = Literal["refuse", "hold"]


class NotYourLearner(Forbidden):
    """The statement asserts about a learner of another institution."""

    code = "not_your_learner"


@dataclass(frozen=True)
class _Agent:
    path: str
    agent: Mapping[str, Any]
    #: Whether the statement is about this agent's learning (actor and its members).
    learner: bool


def _with_members(agent: Any, path: str, *, learner: bool) -> Iterator[_Agent]:
    if not isinstance(agent, Mapping):
        return
    yield _Agent(path, agent, learner)
    for index, member in enumerate(agent.get("member") or ()):
        if isinstance(member, Mapping):
            yield _Agent(f"{path}.member[{index}]", member, learner)


def statement_agents(body: Mapping[str, Any], path: str) -> Iterator[_Agent]:
    """The agents a statement names whose accounts must be the sender's own."""
    yield from _with_members(body.get("actor"), f"{path}.actor", learner=True)
    context = body.get("context")
    if not isinstance(context, Mapping):
        return
    yield from _with_members(context.get("instructor"), f"{path}.context.instructor", learner=False)
    yield from _with_members(context.get("team"), f"{path}.context.team", learner=False)
    for index, item in enumerate(context.get("contextAgents") or ()):
        if isinstance(item, Mapping):
            yield from _with_members(
                item.get("agent"), f"{path}.context.contextAgents[{index}].agent", learner=False
            )
    for index, item in enumerate(context.get("contextGroups") or ()):
        if isinstance(item, Mapping):
            yield from _with_members(
                item.get("group"), f"{path}.context.contextGroups[{index}].group", learner=False
            )


async def check_ownership(
    session: AsyncSession,
    principal: Principal,
    statements: list[tuple[str, Mapping[str, Any]]],
    *,
    policy: ForeignIfiPolicy,
) -> dict[int, str]:
    """Refuse (``NotYourLearner``) statements about another institution's learners.

    ``statements`` are ``(path, body)`` pairs; returns, by index, the reason each
    statement to be held is held (policy ``hold``), empty when none is.
    """
    mine = principal.institution_id
    if mine is None:
        return {}
    owners: dict[str, Any] | None = None
    foreign_ifis: list[tuple[int, str, str]] = []
    for index, (path, body) in enumerate(statements):
        for named in statement_agents(body, path):
            account = named.agent.get("account")
            if isinstance(account, Mapping) and isinstance(account.get("homePage"), str):
                if owners is None:
                    owners = await identity_service.home_page_owners(session)
                owner = owners.get(normalise_home_page(account["homePage"]))
                if owner is not None and owner.id != mine:
                    raise NotYourLearner(
                        f"{named.path}.account.homePage: {account['homePage']} belongs to "
                        f"institution {owner.key} ({owner.name_zh}); an institution may send "
                        f"statements only about its own learners / 该账号属于机构 {owner.key}"
                        f"（{owner.name_zh}），机构只能提交本机构学习者的记录"
                    )
            elif named.learner:
                ifi = agent_ifi(named.agent)
                if ifi is not None:
                    foreign_ifis.append((index, named.path, ifi))
    if not foreign_ifis:
        return {}
    through = await identity_service.linked_through(session, [ifi for _, _, ifi in foreign_ifis])
    held: dict[int, str] = {}
    for index, path, ifi in foreign_ifis:
        if ifi not in through or through[ifi] == mine:
            continue
        whose = await _whose(session, through[ifi])
        if policy == "refuse":
            kind = ifi.partition(":")[0]
            raise NotYourLearner(
                f"{path}.{kind}: this identifier belongs to a learner linked through {whose}; "
                "an institution may send statements only about learners linked through it / "
                f"该标识属于经{whose}关联的学习者，机构只能提交经本机构关联的学习者的记录"
            )
        held[index] = f"held for review: the actor is a learner linked through {whose}"
    return held


async def _whose(session: AsyncSession, institution_id: uuid.UUID | None) -> str:
    if institution_id is None:
        return "the operator"
    institution = await identity_service.institution_by_id(session, institution_id)
    return "another institution" if institution is None else f"institution {institution.key}"
