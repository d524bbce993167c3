"""Property tests: whatever postings happen, balances equal the entries and the chain verifies."""

from __future__ import annotations

import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.principal import Principal
from creditbank.ledger.errors import InsufficientCredits
from creditbank.ledger.service import ledger
from tests.ledger.helpers_ledger import deposit

OPERATOR = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"operator"}), label="ops")
ZERO = Decimal("0.00")
CATEGORIES = ("vocational", "mooc", "community", "senior")

amounts = st.integers(min_value=1, max_value=1000).map(lambda n: Decimal(n) / 100)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("deposit"), amounts, st.sampled_from(CATEGORIES), st.integers(1, 6)),
        st.tuples(st.just("convert"), st.integers(0, 20)),
        st.tuples(st.just("expire"), st.integers(0, 20)),
        st.tuples(st.just("reverse"), st.integers(0, 20)),
        st.tuples(st.just("adjust"), st.integers(-500, 500).map(lambda n: Decimal(n) / 100)),
    ),
    min_size=1,
    max_size=14,
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
async def test_balances_equal_the_entries_and_the_chain_verifies(
    session: AsyncSession, ops: list[tuple[object, ...]]
):
    learner = uuid.uuid4()
    outcomes: list[uuid.UUID] = []
    # A model of what each outcome has left: available, converted, expired.
    model: dict[uuid.UUID, list[Decimal]] = {}
    loose = ZERO  # adjustments not tied to an outcome
    for step, op in enumerate(ops):
        kind = op[0]
        if kind == "deposit":
            amount, category, level = op[1], op[2], op[3]
            assert isinstance(amount, Decimal)
            entry = await deposit(
                session,
                learner,
                str(amount),
                unit_code=f"U{step}",
                category=str(category),
                level=int(str(level)),
            )
            assert entry.outcome_id is not None
            outcomes.append(entry.outcome_id)
            model[entry.outcome_id] = [amount, ZERO, ZERO]
        elif kind == "adjust":
            amount = op[1]
            assert isinstance(amount, Decimal)
            if amount == 0:
                continue
            try:
                await ledger.adjust(
                    session,
                    principal=OPERATOR,
                    learner_id=learner,
                    amount=amount,
                    reason="property test",
                    idempotency_key=f"{learner}:{step}",
                )
                loose += amount
            except InsufficientCredits:
                # Only credits added by adjustments can be taken back without an outcome.
                assert loose + amount < 0
        elif outcomes:
            index = int(str(op[1])) % len(outcomes)
            outcome = outcomes[index]
            state = model[outcome]
            key = f"{learner}:{step}"
            if kind == "convert":
                try:
                    await ledger.convert(
                        session,
                        learner_id=learner,
                        conversion_id=uuid.uuid4(),
                        outcome_ids=[outcome],
                        target={},
                        rule_id="C",
                        rule_version="1",
                        standards_version="s",
                        actor="p",
                        idempotency_key=key,
                    )
                    state[1], state[0] = state[0], ZERO
                except InsufficientCredits:
                    assert state[0] == 0
            elif kind == "expire":
                expiry = await ledger.expire_outcome(
                    session, learner_id=learner, outcome_id=outcome, actor="p", idempotency_key=key
                )
                assert (expiry is None) == (state[0] == 0)
                state[2] += state[0]
                state[0] = ZERO
            elif kind == "reverse":
                await ledger.reverse_outcome(
                    session,
                    learner_id=learner,
                    outcome_id=outcome,
                    reason="property",
                    actor="p",
                    idempotency_key=key,
                )
                model[outcome] = [ZERO, ZERO, ZERO]
        figures = await ledger.balances(session, learner)
        available = sum(m[0] for m in model.values()) + loose
        converted = sum(m[1] for m in model.values())
        expired = sum(m[2] for m in model.values())
        assert (figures.available, figures.converted, figures.expired) == (
            available,
            converted,
            expired,
        )
        assert figures.banked == available + converted
        assert sum(b.banked for b in figures.by_category.values()) == figures.banked
        assert sum(b.available for b in figures.by_level.values()) == figures.available
    entries = await ledger.entries(session, learner, limit=1000)
    figures = await ledger.balances(session, learner)
    assert sum((e.delta_available for e in entries), ZERO) == figures.available
    assert sum((e.delta_converted for e in entries), ZERO) == figures.converted
    assert sum((e.delta_expired for e in entries), ZERO) == figures.expired
    assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
    report = await ledger.verify(session, learner_id=learner)
    assert report.ok, report.problems
    await session.rollback()
