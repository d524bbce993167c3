"""Signed checkpoints: a Merkle root over every learner's chain head, and audits.

A checkpoint statement names the Merkle root over the leaves
``"<learner_id>:<seq>:<head_hash>"`` (sorted by learner id), the number of
leaves, the number of entries and the previous checkpoint; it is signed with
Ed25519 (key id ``kid``). The exported document adds the leaves, so an outside
auditor can later check, against the then-current ledger, that every chain still
passes through the head it had (history extended, never rewritten) — without
trusting the bank's database beyond what it can re-compute.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.errors import NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit.time import utc_now
from creditbank.ledger import merkle
from creditbank.ledger.chain import canonical_json, timestamp
from creditbank.ledger.keys import load_keys, verify_signature
from creditbank.ledger.models import LedgerCheckpoint
from creditbank.ledger.repository import LedgerRepository
from creditbank.ledger.service import ledger

STATEMENT_TYPE = "creditbank.ledger.checkpoint/v1"


def _leaf(row: list[Any]) -> bytes:
    return merkle.leaf_bytes(str(row[0]), int(row[1]), str(row[2]))


@dataclass
class AuditReport:
    """What ``ledger audit`` found: signature, root, and whether history extends it."""

    checkpoint_id: int | None
    learners: int = 0
    entries_at_checkpoint: int = 0
    entries_now: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class CheckpointService:
    async def create(
        self, session: AsyncSession, settings: Settings, *, skip_if_unchanged: bool = False
    ) -> LedgerCheckpoint | None:
        """Sign and store a checkpoint of every chain head now.

        ``skip_if_unchanged`` (the hourly job): no new checkpoint when the root is
        the same as the last one's; returns None then.
        """
        repo = LedgerRepository.from_session(session)
        heads = await repo.all_heads()
        ordered = sorted(heads, key=lambda h: str(h.learner_id))
        leaves: list[list[Any]] = [[str(h.learner_id), h.seq, h.hash] for h in ordered]
        root = merkle.root([_leaf(row) for row in leaves])
        previous = await repo.latest_checkpoint()
        if skip_if_unchanged and previous is not None and previous.root == root:
            return None
        keys = load_keys(settings)
        checkpoint = LedgerCheckpoint(
            created_at=utc_now(),
            root=root,
            entry_count=sum(h.seq for h in ordered),
            learner_count=len(leaves),
            statement={},
            kid=keys.current,
            signature="",
            leaves=leaves,
        )
        session.add(checkpoint)
        await session.flush()
        statement = {
            "type": STATEMENT_TYPE,
            "id": checkpoint.id,
            "created_at": timestamp(checkpoint.created_at),
            "root": root,
            "tree_size": checkpoint.learner_count,
            "entry_count": checkpoint.entry_count,
            "previous": None
            if previous is None
            else {"id": previous.id, "root": previous.root, "entry_count": previous.entry_count},
        }
        kid, signature = keys.sign(canonical_json(statement))
        checkpoint.statement, checkpoint.kid, checkpoint.signature = statement, kid, signature
        await session.flush()
        return checkpoint

    async def recent(
        self, session: AsyncSession, *, limit: int = 50, before_id: int | None = None
    ) -> list[LedgerCheckpoint]:
        return await LedgerRepository.from_session(session).checkpoints(
            limit=limit, before_id=before_id
        )

    async def get(self, session: AsyncSession, checkpoint_id: int | None) -> LedgerCheckpoint:
        """One checkpoint, or the latest when ``checkpoint_id`` is None."""
        repo = LedgerRepository.from_session(session)
        found = (
            await repo.latest_checkpoint()
            if checkpoint_id is None
            else await repo.checkpoint(checkpoint_id)
        )
        if found is None:
            raise NotFound(
                "no such ledger checkpoint / 无此账本检查点", code="checkpoint_not_found"
            )
        return found

    def document(self, checkpoint: LedgerCheckpoint, settings: Settings) -> dict[str, Any]:
        """The exportable checkpoint: signed statement, signature, public key and leaves."""
        jwk = next((k for k in load_keys(settings).jwks() if k["kid"] == checkpoint.kid), None)
        return {
            "statement": checkpoint.statement,
            "kid": checkpoint.kid,
            "signature": checkpoint.signature,
            "public_key": jwk,
            "leaves": checkpoint.leaves,
        }

    # -- a caller's view ---------------------------------------------------------------

    def keys_for(
        self, principal: Principal, settings: Settings
    ) -> tuple[str, list[dict[str, Any]]]:
        """The checkpoint signing keys (public JWKs, retired ones included) and the current
        key's id, for the operator."""
        authz.authorize(principal, "keys.manage")
        keys = load_keys(settings)
        return keys.current, keys.jwks()

    async def create_for(
        self, session: AsyncSession, principal: Principal, settings: Settings
    ) -> LedgerCheckpoint:
        """Sign a checkpoint now, for the operator."""
        authz.authorize(principal, "keys.manage")
        checkpoint = await self.create(session, settings)
        if checkpoint is None:  # pragma: no cover - only skip_if_unchanged skips
            raise NotFound("no checkpoint was made", code="checkpoint_not_found")
        return checkpoint

    async def document_for(
        self, session: AsyncSession, principal: Principal, checkpoint_id: int, settings: Settings
    ) -> dict[str, Any]:
        """The full document with its leaves (every learner's head), for the auditor."""
        authz.authorize(principal, "audit.read")
        return self.document(await self.get(session, checkpoint_id), settings)

    async def proof_for(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        learner_id: uuid.UUID,
        checkpoint_id: int | None = None,
    ) -> dict[str, Any]:
        """The learner's inclusion proof, for her or the operator."""
        authz.require_learner_access(principal, learner_id)
        return await self.inclusion_proof(
            session, learner_id=learner_id, checkpoint_id=checkpoint_id
        )

    async def inclusion_proof(
        self, session: AsyncSession, *, learner_id: uuid.UUID, checkpoint_id: int | None = None
    ) -> dict[str, Any]:
        """The audit path proving the learner's chain head is under the checkpoint's root."""
        checkpoint = await self.get(session, checkpoint_id)
        key = str(learner_id)
        index = next((i for i, row in enumerate(checkpoint.leaves) if row[0] == key), None)
        if index is None:
            raise NotFound(
                "this learner has no entries in that checkpoint / 该检查点中无此学习者",
                code="not_in_checkpoint",
            )
        row = checkpoint.leaves[index]
        leaves = [_leaf(r) for r in checkpoint.leaves]
        return {
            "checkpoint_id": checkpoint.id,
            "root": checkpoint.root,
            "tree_size": len(leaves),
            "index": index,
            "leaf": {"learner_id": row[0], "seq": row[1], "head_hash": row[2]},
            "leaf_data": _leaf(row).decode(),
            "proof": merkle.inclusion_proof(index, leaves),
            "statement": checkpoint.statement,
            "kid": checkpoint.kid,
            "signature": checkpoint.signature,
        }

    async def audit(
        self,
        session: AsyncSession,
        document: dict[str, Any],
        *,
        trusted_keys: list[dict[str, Any]],
    ) -> AuditReport:
        """Prove the current ledger extends a checkpoint document without rewriting it.

        Checks the signature against ``trusted_keys`` (JWKs the auditor trusts —
        never the key inside the document alone), the root and counts against the
        leaves, then that every learner's current chain passes through the head
        recorded in the checkpoint and still verifies from its first entry to now.
        """
        statement = document.get("statement") or {}
        report = AuditReport(checkpoint_id=statement.get("id"))
        kid, signature = document.get("kid"), document.get("signature", "")
        jwk = next((k for k in trusted_keys if k.get("kid") == kid), None)
        if jwk is None:
            report.problems.append(f"checkpoint signed with key {kid!r}, which is not trusted")
        elif not verify_signature(jwk, canonical_json(statement), str(signature)):
            report.problems.append("checkpoint signature does not verify")
        leaves = document.get("leaves") or []
        try:
            leaf_bytes = [_leaf(row) for row in leaves]
        except (IndexError, ValueError, TypeError):
            report.problems.append("checkpoint leaves are malformed")
            return report
        if merkle.root(leaf_bytes) != statement.get("root"):
            report.problems.append("leaves do not hash to the signed root")
        if len(leaves) != statement.get("tree_size"):
            report.problems.append("leaf count differs from the signed tree size")
        report.entries_at_checkpoint = sum(int(row[1]) for row in leaves)
        if report.entries_at_checkpoint != statement.get("entry_count"):
            report.problems.append("entry count differs from the signed count")
        repo = LedgerRepository.from_session(session)
        for learner_key, seq, head_hash in leaves:
            learner_id = uuid.UUID(str(learner_key))
            report.learners += 1
            entry = await repo.at_seq(learner_id, int(seq))
            if entry is None:
                report.problems.append(f"learner {learner_key}: entry {seq} has disappeared")
                continue
            if entry.hash != head_hash:
                report.problems.append(
                    f"learner {learner_key}: entry {seq} was rewritten since the checkpoint"
                )
                continue
            verified = await ledger.verify(session, learner_id=learner_id)
            for problem in verified.problems:
                report.problems.append(
                    f"learner {learner_key}: entry {problem.seq} ({problem.entry_id}): "
                    f"{problem.reason}"
                )
        report.entries_now = await repo.count_entries()
        if report.entries_now < report.entries_at_checkpoint:
            report.problems.append("the ledger has fewer entries than at the checkpoint")
        return report


checkpoints = CheckpointService()
