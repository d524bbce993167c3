"""Every query of the transcripts context."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.transcripts.models import Transcript, TranscriptShare


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
