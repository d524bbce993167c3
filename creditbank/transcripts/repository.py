"""Every query of the transcripts context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.transcripts.models import (
    StatusEntry,
    StatusList,
    Transcript,
    TranscriptOutcome,
    TranscriptShare,
)


class TranscriptRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> TranscriptRepository:
        return cls(session)

    async def add(self, transcript: Transcript) -> Transcript:
        self.session.add(transcript)
        await self.session.flush()
        return transcript

    async def get(self, transcript_id: uuid.UUID) -> Transcript | None:
        return await self.session.get(Transcript, transcript_id)

    async def of_learner(self, learner_id: uuid.UUID) -> list[Transcript]:
        result = await self.session.execute(
            select(Transcript)
            .where(Transcript.learner_id == learner_id)
            .order_by(Transcript.issued_at, Transcript.id)
        )
        return list(result.scalars())


class StatusRepository:
    """Status lists, their entries, and the transcript-outcome links."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> StatusRepository:
        return cls(session)

    async def open_list(self, purpose: str) -> StatusList | None:
        """A list of ``purpose`` with a free index, locked for the rest of the transaction
        on PostgreSQL (its ``allocated`` count is what the caller changes)."""
        query = (
            select(StatusList)
            .where(StatusList.purpose == purpose, StatusList.allocated < StatusList.size)
            .order_by(StatusList.created_at, StatusList.id)
            .limit(1)
        )
        if self.session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        return (await self.session.execute(query)).scalar_one_or_none()

    async def add_list(self, status_list: StatusList) -> StatusList:
        self.session.add(status_list)
        await self.session.flush()
        return status_list

    async def get_list(self, list_id: str) -> StatusList | None:
        return await self.session.get(StatusList, list_id)

    async def versions(self, list_ids: Sequence[str]) -> dict[str, int]:
        result = await self.session.execute(
            select(StatusList.id, StatusList.version).where(StatusList.id.in_(list_ids))
        )
        return {row.id: row.version for row in result}

    async def index_taken(self, list_id: str, index: int) -> bool:
        found = await self.session.execute(
            select(StatusEntry.id).where(StatusEntry.list_id == list_id, StatusEntry.index == index)
        )
        return found.first() is not None

    async def taken_indexes(self, list_id: str) -> set[int]:
        result = await self.session.execute(
            select(StatusEntry.index).where(StatusEntry.list_id == list_id)
        )
        return set(result.scalars())

    async def try_add_entry(self, entry: StatusEntry) -> bool:
        """Insert ``entry``; False (and nothing inserted) when its index is taken."""
        try:
            async with self.session.begin_nested():
                self.session.add(entry)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def set_indexes(self, list_id: str) -> list[int]:
        result = await self.session.execute(
            select(StatusEntry.index).where(
                StatusEntry.list_id == list_id, StatusEntry.is_set.is_(True)
            )
        )
        return list(result.scalars())

    async def entries(
        self,
        *,
        transcript_ids: Sequence[uuid.UUID] = (),
        share_id: uuid.UUID | None = None,
        purpose: str | None = None,
        own_only: bool = False,
    ) -> list[StatusEntry]:
        """Entries of these transcripts (theirs and their shares'), or of one share."""
        query = select(StatusEntry)
        if share_id is not None:
            query = query.where(StatusEntry.share_id == share_id)
        else:
            query = query.where(StatusEntry.transcript_id.in_(transcript_ids))
            if own_only:
                query = query.where(StatusEntry.share_id.is_(None))
        if purpose is not None:
            query = query.where(StatusEntry.purpose == purpose)
        result = await self.session.execute(query.order_by(StatusEntry.list_id, StatusEntry.index))
        return list(result.scalars())

    async def bump(self, list_ids: Sequence[str], now: datetime) -> None:
        if not list_ids:
            return
        await self.session.execute(
            update(StatusList)
            .where(StatusList.id.in_(sorted(set(list_ids))))
            .values(version=StatusList.version + 1, changed_at=now)
        )

    async def link_outcomes(
        self, transcript_id: uuid.UUID, outcome_ids: Sequence[uuid.UUID]
    ) -> None:
        self.session.add_all(
            TranscriptOutcome(transcript_id=transcript_id, outcome_id=o) for o in set(outcome_ids)
        )
        await self.session.flush()

    async def transcripts_with(self, outcome_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
        if not outcome_ids:
            return []
        result = await self.session.execute(
            select(TranscriptOutcome.transcript_id)
            .where(TranscriptOutcome.outcome_id.in_(list(outcome_ids)))
            .distinct()
        )
        return sorted(result.scalars())


class ShareRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> ShareRepository:
        return cls(session)

    async def add(self, share: TranscriptShare) -> TranscriptShare:
        self.session.add(share)
        await self.session.flush()
        return share

    async def get(self, share_id: uuid.UUID) -> TranscriptShare | None:
        return await self.session.get(TranscriptShare, share_id)

    async def of_transcript(self, transcript_id: uuid.UUID) -> list[TranscriptShare]:
        result = await self.session.execute(
            select(TranscriptShare)
            .where(TranscriptShare.transcript_id == transcript_id)
            .order_by(TranscriptShare.created_at, TranscriptShare.id)
        )
        return list(result.scalars())

    async def suspended_of(self, transcript_id: uuid.UUID) -> list[uuid.UUID]:
        """The transcript's shares suspended on their own (not through the transcript)."""
        result = await self.session.execute(
            select(TranscriptShare.id).where(
                TranscriptShare.transcript_id == transcript_id,
                TranscriptShare.suspended_at.is_not(None),
            )
        )
        return list(result.scalars())
