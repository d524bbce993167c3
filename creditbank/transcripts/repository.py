"""Every query of the transcripts context."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.transcripts.models import Transcript


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
