"""An institution asserts only about its own learners (issue 13, B5).

An unaccredited training centre (``shady``) must not post about a MOOC platform's
student account, nor name another institution's account as instructor or team
member; an mbox linked to a learner through another institution is refused (or held,
by the operator's policy).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.lrs.conftest import Lrs

MOOC1 = "https://mooc1.example.cn"


def _about(lrs: Lrs, actor: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {**lrs.statement(), "actor": actor, **extra}


class TestAccounts:
    @pytest.mark.parametrize(
        "home_page", [MOOC1, MOOC1 + "/", "https://MOOC1.example.cn", "HTTPS://mooc1.example.cn/"]
    )
    async def test_another_institutions_account_as_actor_is_refused(
        self, shady, everyone, home_page
    ):
        actor = {"objectType": "Agent", "account": {"homePage": home_page, "name": "lina_1988"}}
        response = await shady.post(_about(shady, actor))
        assert response.status_code == 403, response.text
        body = response.json()
        assert body["error"] == "not_your_learner"
        assert "$.actor.account.homePage" in body["detail"]
        assert "mooc1" in body["detail"]
        assert "荆楚慕课" in body["detail"]
        assert await everyone.stored_ids() == []

    async def test_put_is_refused_too(self, shady, everyone):
        actor = {"objectType": "Agent", "account": {"homePage": MOOC1, "name": "lina_1988"}}
        response = await shady.put(_about(shady, actor), "7f0c3b1e-5a53-4d0e-9a53-0c0f0b2a0001")
        assert response.status_code == 403
        assert await everyone.stored_ids() == []

    @pytest.mark.parametrize(
        ("context", "where"),
        [
            (
                {
                    "instructor": {
                        "objectType": "Agent",
                        "account": {"homePage": MOOC1, "name": "t"},
                    }
                },
                "$[1].context.instructor.account.homePage",
            ),
            (
                {
                    "team": {
                        "objectType": "Group",
                        "member": [{"account": {"homePage": MOOC1, "name": "lina_1988"}}],
                    }
                },
                "$[1].context.team.member[0].account.homePage",
            ),
        ],
    )
    async def test_context_agents_of_another_institution_are_refused(
        self, shady, everyone, context, where
    ):
        # The whole batch is refused: the good first statement is not stored either.
        batch = [shady.statement(), {**shady.statement(), "context": context}]
        response = await shady.post(batch)
        assert response.status_code == 403, response.text
        assert where in response.json()["detail"]
        assert await everyone.stored_ids() == []

    async def test_group_actor_with_a_foreign_member_is_refused(self, shady):
        group = {
            "objectType": "Group",
            "member": [
                shady.actor("s1"),
                {"objectType": "Agent", "account": {"homePage": MOOC1, "name": "lina_1988"}},
            ],
        }
        response = await shady.post(_about(shady, group))
        assert response.status_code == 403
        assert "$.actor.member[1].account.homePage" in response.json()["detail"]

    async def test_own_accounts_and_unregistered_home_pages_are_accepted(self, shady, mooc1):
        assert (await shady.post(shady.statement())).status_code == 200
        stranger = {"account": {"homePage": "https://elsewhere.example.org", "name": "x"}}
        assert (await shady.post(_about(shady, stranger))).status_code == 200
        lina = {"objectType": "Agent", "account": {"homePage": MOOC1, "name": "lina_1988"}}
        assert (await mooc1.post(_about(mooc1, lina))).status_code == 200

    async def test_the_li_na_attack_no_longer_credits_her(self, shady, mooc1, everyone):
        """The reproduction of the issue: shady posts a completion for her MOOC account."""
        lina = {"objectType": "Agent", "account": {"homePage": MOOC1, "name": "lina_1988"}}
        statement = _about(
            shady,
            lina,
            verb={"id": "http://adlnet.gov/expapi/verbs/completed", "display": {"en-US": "done"}},
            object={"id": f"{MOOC1}/courses/python", "objectType": "Activity"},
        )
        assert (await shady.post(statement)).status_code == 403
        assert await everyone.stored_ids() == []


class TestLinkedMbox:
    @pytest.fixture
    async def linked_through_mooc1(self, session, settings, demo):
        from creditbank.identity.service import identity
        from creditbank.identity.tokens import keyring_for

        mooc1 = await identity.get_institution(session, "mooc1")
        learner = await identity.create_learner(
            session, "test", keyring=keyring_for(settings), name="测试"
        )
        agent = {"mbox": "mailto:li.na@example.cn"}
        await identity.link_by_operator(
            session, "test", learner, agent=agent, institution=mooc1, process_waiting=False
        )
        await session.commit()
        return {"objectType": "Agent", **agent}

    async def test_refused_from_another_institution(self, shady, mooc1, linked_through_mooc1):
        response = await shady.post(_about(shady, linked_through_mooc1))
        assert response.status_code == 403, response.text
        assert "$.actor.mbox" in response.json()["detail"]
        assert "mooc1" in response.json()["detail"]
        # The institution it was linked through may.
        assert (await mooc1.post(_about(mooc1, linked_through_mooc1))).status_code == 200

    async def test_unlinked_mbox_is_accepted(self, shady):
        stranger = {"objectType": "Agent", "mbox": "mailto:nobody@example.cn"}
        assert (await shady.post(_about(shady, stranger))).status_code == 200

    async def test_hold_policy_stores_and_parks_the_recognition(
        self, settings, session, shady, everyone, linked_through_mooc1
    ):
        from sqlalchemy import select

        from creditbank.jobs.models import Job

        settings.lrs.foreign_ifi = "hold"
        response = await shady.post(_about(shady, linked_through_mooc1))
        assert response.status_code == 200, response.text
        statement_id = response.json()[0]
        assert await everyone.stored_ids() == [statement_id]
        jobs = (
            await session.execute(select(Job).where(Job.name == "lrs.statement_stored"))
        ).scalars()
        (job,) = [j for j in jobs if j.payload["statement_id"] == statement_id]
        assert job.status == "dead"
        assert "linked through institution mooc1" in (job.last_error or "")
