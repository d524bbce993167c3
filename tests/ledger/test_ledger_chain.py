"""Hash chain, tamper detection (service and CLI), checkpoints, inclusion proofs, audits."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.ledger import merkle
from creditbank.ledger.chain import canonical_json
from creditbank.ledger.checkpoints import checkpoints
from creditbank.ledger.keys import load_keys
from creditbank.ledger.service import ledger
from tests.ledger.helpers_ledger import deposit

ROOT = Path(__file__).resolve().parents[2]


async def tamper(db: Database, session: AsyncSession, sql: str, **params: Any) -> None:
    """Edit ledger rows behind the application's back (PG: trigger off in this tx only)."""
    await session.rollback()  # end the test session's transaction (SQLite: one writer)
    async with db.write_engine.begin() as connection:
        if db.dialect == "postgresql":
            await connection.execute(
                text("ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_append_only")
            )
        statement = text(sql).bindparams(
            *(bindparam(k, type_=Uuid()) for k, v in params.items() if isinstance(v, uuid.UUID))
        )
        await connection.execute(statement, params)
        if db.dialect == "postgresql":
            await connection.execute(
                text("ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_append_only")
            )


def cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CREDITBANK_ENV": "test",
        "CREDITBANK_DATABASE_URL": settings.database_url,
        "CREDITBANK_KEY_DIR": str(settings.key_dir),
        "CREDITBANK_AUTO_MIGRATE": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "creditbank.cli", "ledger", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def three_entries(session: AsyncSession) -> uuid.UUID:
    learner = uuid.uuid4()
    await deposit(session, learner, "6.0")
    await deposit(session, learner, "2.0", unit_code="MOOC-PY-1", category="mooc")
    await deposit(session, learner, "1.0", unit_code="COMM-FA-16", category="community", level=2)
    await session.commit()
    return learner


_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12)
_CONTENT = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=500)
@given(content=_CONTENT)
def test_canonical_json_is_the_stdlib_form_chains_were_hashed_with(content: Any) -> None:
    stdlib = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert canonical_json(content) == stdlib.encode()


class TestVerify:
    async def test_clean_ledger_verifies(self, session: AsyncSession):
        learner = await three_entries(session)
        report = await ledger.verify(session)
        assert report.ok
        assert (report.learners, report.entries) == (1, 3)
        assert (await ledger.verify(session, learner_id=learner)).ok

    async def test_edited_amount_is_named(self, db: Database, session: AsyncSession):
        learner = await three_entries(session)
        second_id = (await ledger.entries(session, learner))[1].id
        await tamper(
            db, session, "UPDATE ledger_entries SET amount = 60000 WHERE id = :id", id=second_id
        )
        async with db.read_scope() as reader:
            report = await ledger.verify(reader)
        assert not report.ok
        assert report.problems[0].seq == 2
        assert report.problems[0].entry_id == second_id
        assert "hash" in report.problems[0].reason

    async def test_rewritten_chain_is_caught_at_the_link(self, db: Database, session: AsyncSession):
        learner = await three_entries(session)
        first_id = (await ledger.entries(session, learner))[0].id
        # Re-hash the row consistently: the next entry's prev_hash no longer matches.
        await tamper(
            db,
            session,
            "UPDATE ledger_entries SET hash = :h WHERE id = :id",
            h="f" * 64,
            id=first_id,
        )
        async with db.read_scope() as reader:
            report = await ledger.verify(reader, learner_id=learner)
        assert report.problems[0].seq == 1

    async def test_deleted_entry_is_a_gap(self, db: Database, session: AsyncSession):
        learner = await three_entries(session)
        second_id = (await ledger.entries(session, learner))[1].id
        await tamper(db, session, "DELETE FROM ledger_entries WHERE id = :id", id=second_id)
        async with db.read_scope() as reader:
            report = await ledger.verify(reader, learner_id=learner)
        assert report.problems[0].seq == 3
        assert "gap" in report.problems[0].reason

    async def test_cli_names_the_first_broken_entry(
        self, db: Database, session: AsyncSession, settings: Settings
    ):
        learner = await three_entries(session)
        clean = await asyncio.to_thread(cli, settings, "verify", "--json")
        assert clean.returncode == 0, clean.stderr
        assert json.loads(clean.stdout)["ok"] is True
        third_id = (await ledger.entries(session, learner))[2].id
        await tamper(
            db,
            session,
            "UPDATE ledger_entries SET actor = 'someone else' WHERE id = :id",
            id=third_id,
        )
        broken = await asyncio.to_thread(cli, settings, "verify", "--learner", str(learner))
        assert broken.returncode == 1
        assert f"id={third_id}" in broken.stdout
        assert "seq=3" in broken.stdout


@pytest.mark.postgres
class TestAppendOnlyTrigger:
    async def test_update_and_delete_are_refused(self, db: Database, session: AsyncSession):
        if db.dialect != "postgresql":
            pytest.skip("the trigger is PostgreSQL's; SQLite relies on the application")
        learner = await three_entries(session)
        for sql in (
            "UPDATE ledger_entries SET amount = 1 WHERE learner_id = :l",
            "DELETE FROM ledger_entries WHERE learner_id = :l",
        ):
            statement = text(sql).bindparams(bindparam("l", type_=Uuid()))
            async with db.write_engine.connect() as connection:
                with pytest.raises(DBAPIError, match="append-only"):
                    await connection.execute(statement, {"l": learner})
                await connection.rollback()
        assert (await ledger.verify(session, learner_id=learner)).ok


class TestConcurrentPostings:
    async def test_same_key_at_once_posts_once(self, db: Database):
        learner, outcome = uuid.uuid4(), uuid.uuid4()

        async def post() -> uuid.UUID:
            async with db.session_scope() as s:
                entry = await deposit(s, learner, "2.0", outcome_id=outcome, key="same")
                return entry.id

        ids = await asyncio.gather(post(), post(), post())
        assert len(set(ids)) == 1
        async with db.read_scope() as reader:
            assert len(await ledger.entries(reader, learner)) == 1

    async def test_parallel_deposits_keep_the_sequence_gapless(self, db: Database):
        learner = uuid.uuid4()

        async def post(i: int) -> None:
            async with db.session_scope() as s:
                await deposit(s, learner, "1.0", unit_code=f"U{i}")

        await asyncio.gather(*(post(i) for i in range(8)))
        async with db.read_scope() as reader:
            entries = await ledger.entries(reader, learner)
            assert [e.seq for e in entries] == list(range(1, 9))
            assert (await ledger.balances(reader, learner)).banked == Decimal("8.00")
            assert (await ledger.verify(reader)).ok


class TestMerkle:
    @pytest.mark.parametrize("size", [1, 2, 3, 5, 8, 13])
    def test_every_leaf_proves(self, size: int):
        leaves = [f"leaf-{i}".encode() for i in range(size)]
        root = merkle.root(leaves)
        for index, leaf in enumerate(leaves):
            proof = merkle.inclusion_proof(index, leaves)
            assert merkle.verify_inclusion(leaf, index, size, proof, root)
            assert not merkle.verify_inclusion(b"other", index, size, proof, root)

    def test_empty_tree(self):
        assert merkle.root([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


class TestCheckpoints:
    async def test_signed_root_and_inclusion_proof(self, session: AsyncSession, settings: Settings):
        learner = await three_entries(session)
        other = await three_entries(session)
        checkpoint = await checkpoints.create(session, settings)
        await session.commit()
        assert checkpoint is not None
        assert checkpoint.entry_count == 6
        assert checkpoint.learner_count == 2
        document = checkpoints.document(checkpoint, settings)
        report = await checkpoints.audit(session, document, trusted_keys=load_keys(settings).jwks())
        assert report.ok, report.problems
        proof = await checkpoints.inclusion_proof(session, learner_id=learner)
        head = await ledger.balances(session, learner)
        assert proof["leaf"]["head_hash"] == head.head_hash
        assert merkle.verify_inclusion(
            proof["leaf_data"].encode(),
            proof["index"],
            proof["tree_size"],
            proof["proof"],
            proof["root"],
        )
        assert other != learner

    async def test_unchanged_ledger_skips_the_hourly_checkpoint(
        self, session: AsyncSession, settings: Settings
    ):
        await three_entries(session)
        assert await checkpoints.create(session, settings, skip_if_unchanged=True) is not None
        assert await checkpoints.create(session, settings, skip_if_unchanged=True) is None

    async def test_forged_signature_and_untrusted_key_fail(
        self, session: AsyncSession, settings: Settings
    ):
        await three_entries(session)
        checkpoint = await checkpoints.create(session, settings)
        assert checkpoint is not None
        document = checkpoints.document(checkpoint, settings)
        forged = {**document, "statement": {**document["statement"], "entry_count": 99}}
        trusted = load_keys(settings).jwks()
        assert not (await checkpoints.audit(session, forged, trusted_keys=trusted)).ok
        assert not (await checkpoints.audit(session, document, trusted_keys=[])).ok

    async def test_cli_audit_accepts_extension_and_catches_rewrite(
        self, db: Database, session: AsyncSession, settings: Settings, tmp_path: Path
    ):
        learner = await three_entries(session)
        out = tmp_path / "checkpoint.json"
        made = await asyncio.to_thread(cli, settings, "checkpoint", "--out", str(out))
        assert made.returncode == 0, made.stderr
        # Later history: more entries for her and a new learner.
        await deposit(session, learner, "1.0", unit_code="SEN-CAL-1", category="senior", level=2)
        await deposit(session, uuid.uuid4(), "3.0")
        await session.commit()
        extended = await asyncio.to_thread(cli, settings, "audit", str(out), "--json")
        assert extended.returncode == 0, extended.stdout + extended.stderr
        result = json.loads(extended.stdout)
        assert (result["entries_at_checkpoint"], result["entries_now"]) == (3, 5)
        # Rewrite an entry the checkpoint covers.
        first_id = (await ledger.entries(session, learner))[0].id
        await tamper(
            db,
            session,
            "UPDATE ledger_entries SET reason = 'rewritten' WHERE id = :id",
            id=first_id,
        )
        rewritten = await asyncio.to_thread(cli, settings, "audit", str(out))
        assert rewritten.returncode == 1
        assert "PROBLEM" in rewritten.stdout
