"""Conversions (学分转换): dry run, applications, certifier review, appeals, notifications.

The rules themselves are pure (``creditbank.rules.conversion``); this service
feeds them the learner's outcomes (from the rules service), what the ledger says
is still unspent, and what she already converted, and it applies decisions.

Approval is one transaction: the application row is locked, the standards in
force must still be the ones the learner applied under (else 409
``stale_application``), the rule is checked again, the outcomes are consumed
(``conversion_consumptions``: primary key on the outcome id, so of two
concurrent approvals needing one outcome exactly one commits and the other gets
409 ``outcome_already_converted``) and the ledger posts the conversion entry.
Before the record is read for the re-check, the learner's ledger lock is taken
(:meth:`LedgerService.lock_account`): two approvals of *different* outcomes that
together break the programme cap, or exempt the same unit twice, are serialised,
and the second sees the first and answers 409 ``not_eligible``.
Decisions notify the learner (inbox) and the target institution (a signed
webhook, delivered with retries from the job table).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.config import Settings
from creditbank.conversions.errors import (
    AlreadyReviewed,
    ApplicationNotFound,
    DuplicateApplication,
    NotApplicant,
    NotEligible,
    OutcomeAlreadyConverted,
    OwnApplication,
    ReasonRequired,
    StaleApplication,
    UnknownRule,
    WrongStatus,
)
from creditbank.conversions.models import (
    OPEN_STATUSES,
    ApplicationStatus,
    ConversionApplication,
    ConversionConsumption,
    ConversionReview,
    Decision,
    InboxMessage,
    ReviewStage,
)
from creditbank.conversions.repository import ConversionRepository
from creditbank.conversions.schemas import (
    ApplicationDetail,
    ApplicationRead,
    MessageRead,
    ReviewRead,
)
from creditbank.errors import Forbidden, NotFound
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.principal import Principal
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit import events
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.ledger.service import ledger as ledger_service
from creditbank.rules.conversion import (
    ConversionCheck,
    ConversionOption,
    OutcomeFacts,
    check_conversion,
    conversion_options,
)
from creditbank.rules.schemas import OutcomeRead
from creditbank.rules.service import rules as rules_service
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import standards as standards_service

WEBHOOK_JOB = "conversions.webhook"


@dataclass(frozen=True)
class DryRun:
    """What the learner's record could convert to now, under the standards in force."""

    learner_id: uuid.UUID
    standards_id: str
    standards_version: str
    standards_hash: str
    as_of: datetime
    options: list[ConversionOption]


def _reasons(check: ConversionCheck) -> str:
    return "; ".join(f"{m.en} / {m.zh}" for m in check.reasons) or "not eligible"


class ConversionService:
    # -- what the record can convert to ---------------------------------------------------

    async def _context(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> tuple[list[OutcomeFacts], dict[str, Decimal], frozenset[str]]:
        """The learner's outcomes as facts, credits converted per programme, exempted units."""
        repo = ConversionRepository.from_session(session)
        outcomes = await rules_service.list_outcomes(session, learner_id)
        consumed = await repo.consumed_outcomes(learner_id)
        unspent = await ledger_service.unspent_outcomes(session, learner_id)
        facts: list[OutcomeFacts] = []
        for outcome in outcomes:
            facts.append(
                OutcomeFacts(
                    outcome_id=str(outcome.id),
                    unit_code=outcome.unit_code,
                    credits=outcome.credits,
                    scaled=Decimal(outcome.score_scaled) if outcome.score_scaled else None,
                    achieved_at=outcome.statement_timestamp,
                    expires_at=outcome.expires_at,
                    available=rules_service.is_active(outcome)
                    and outcome.id not in consumed
                    and outcome.id in unspent,
                )
            )
        converted: dict[str, Decimal] = {}
        exempted: set[str] = set()
        for approved in await repo.approved_of(learner_id):
            converted[approved.programme] = (
                converted.get(approved.programme, Decimal(0)) + approved.credits
            )
            if approved.target_unit:
                exempted.add(approved.target_unit)
        return facts, converted, frozenset(exempted)

    async def _standards(self, session: AsyncSession, settings: Settings) -> StandardsSet:
        published = await standards_service.in_force(session, set_id=settings.rules.standards_set)
        return published.standards

    async def options(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        *,
        learner_id: uuid.UUID,
    ) -> DryRun:
        """Dry run: every conversion the record satisfies now and the outcomes it would use."""
        authz.require_learner_access(principal, learner_id)
        standards = await self._standards(session, settings)
        facts, converted, exempted = await self._context(session, learner_id)
        now = utc_now()
        ref = standards.ref
        return DryRun(
            learner_id=learner_id,
            standards_id=ref.id,
            standards_version=ref.version,
            standards_hash=ref.hash,
            as_of=now,
            options=conversion_options(
                facts, standards, as_of=now, converted_credits=converted, exempted_units=exempted
            ),
        )

    # -- the learner's side ---------------------------------------------------------------

    async def apply(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        *,
        learner_id: uuid.UUID,
        rule_id: str,
        note: str | None = None,
    ) -> ConversionApplication:
        """Apply for conversion ``rule_id``; refused (409) unless the record satisfies it now."""
        authz.require_learner_access(principal, learner_id)
        standards = await self._standards(session, settings)
        rule = standards.conversion.rule(rule_id)
        if rule is None:
            raise UnknownRule(
                f"no conversion rule {rule_id!r} in standards {standards.ref.version} / "
                "无此转换规则"
            )
        repo = ConversionRepository.from_session(session)
        open_key = f"{learner_id}:{rule.id}"
        for existing in await repo.of_learner(learner_id):
            if existing.open_key == open_key:
                raise DuplicateApplication(
                    f"an application for {rule.id} is already open ({existing.id}) / "
                    "已有同一规则的待审申请"
                )
        facts, converted, exempted = await self._context(session, learner_id)
        check = check_conversion(
            rule,
            facts,
            standards,
            as_of=utc_now(),
            converted_credits=converted,
            exempted_units=exempted,
        )
        if not check.satisfied or check.option is None:
            raise NotEligible(f"{rule.id}: {_reasons(check)}")
        option = check.option
        programme = standards.conversion.programme(rule.programme)
        if programme is None:  # the standards loader cross-checks this; be explicit anyway
            raise UnknownRule(f"programme {rule.programme} of {rule.id} is not in the standards")
        application = ConversionApplication(
            learner_id=learner_id,
            applicant_user_id=principal.id if principal.kind == "user" else None,
            rule_id=rule.id,
            rule_version=rule.version,
            standards_id=option.standards.id,
            standards_version=option.standards.version,
            standards_hash=option.standards.hash,
            programme=programme.key,
            target_institution_key=programme.institution,
            target_kind=option.target_kind,
            target_unit=option.target_unit,
            title=option.title.model_dump(),
            credits=option.credits,
            outcome_ids=list(option.outcome_ids),
            source_units=list(option.source_units),
            status=ApplicationStatus.PENDING.value,
            required_approvals=2 if option.credits > settings.conversions.four_eyes_above else 1,
            note=note,
            open_key=open_key,
        )
        try:
            async with session.begin_nested():
                await repo.add(application)
        except IntegrityError as exc:
            raise DuplicateApplication(
                f"an application for {rule.id} is already open / 已有同一规则的待审申请"
            ) from exc
        await audit_service.record(
            session,
            actor=principal,
            action="conversion.apply",
            object_type="conversion_application",
            object_id=application.id,
            detail={"rule_id": rule.id, "credits": str(option.credits)},
        )
        return application

    async def withdraw(
        self, session: AsyncSession, principal: Principal, application_id: uuid.UUID
    ) -> ConversionApplication:
        """The applicant withdraws an application that is not decided yet."""
        application = await self._get(session, application_id, for_update=True)
        self._require_applicant(principal, application)
        if application.status not in OPEN_STATUSES:
            raise WrongStatus(
                f"only an undecided application can be withdrawn (it is {application.status}) / "
                "仅可撤回未决申请"
            )
        application.status = ApplicationStatus.WITHDRAWN.value
        application.open_key = None
        application.updated_at = utc_now()
        await session.flush()
        return application

    async def appeal(
        self,
        session: AsyncSession,
        principal: Principal,
        application_id: uuid.UUID,
        *,
        reason: str,
    ) -> ConversionApplication:
        """The applicant appeals a rejection; a different certifier will decide."""
        if not reason or not reason.strip():
            raise ReasonRequired("an appeal needs a reason / 申诉须说明理由")
        application = await self._get(session, application_id, for_update=True)
        self._require_applicant(principal, application)
        if application.status != ApplicationStatus.REJECTED.value:
            raise WrongStatus(
                f"only a rejected application can be appealed (it is {application.status}) / "
                "仅可对被驳回的申请提出申诉"
            )
        application.status = ApplicationStatus.APPEALED.value
        application.appeal_reason = reason.strip()
        application.open_key = f"{application.learner_id}:{application.rule_id}"
        application.updated_at = utc_now()
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise DuplicateApplication(
                "another application for this rule is open / 已有同一规则的待审申请"
            ) from exc
        return application

    # -- the certifier's side -------------------------------------------------------------

    async def review(
        self,
        session: AsyncSession,
        principal: Principal,
        settings: Settings,
        application_id: uuid.UUID,
        *,
        decision: Decision,
        reason: str,
    ) -> ConversionApplication:
        """A certifier in scope approves or rejects (with a reason); never her own.

        Above the four-eyes threshold, two different certifiers must approve; the
        second approval finalises. An appeal is decided by a certifier who took no
        part in the first review.
        """
        if not reason or not reason.strip():
            raise ReasonRequired("a decision needs a reason / 审核须说明理由")
        application = await self._get(session, application_id, for_update=True)
        reviewer_id = self._require_reviewer(principal, application)
        if application.status == ApplicationStatus.PENDING.value:
            stage = ReviewStage.REVIEW
        elif application.status == ApplicationStatus.APPEALED.value:
            stage = ReviewStage.APPEAL
        else:
            raise WrongStatus(
                f"the application is {application.status}, not awaiting a decision / "
                "申请不在待审状态"
            )
        repo = ConversionRepository.from_session(session)
        reviews = await repo.reviews(application.id)
        if any(r.stage == stage.value and r.reviewer_id == reviewer_id for r in reviews):
            raise AlreadyReviewed("you have already decided this application / 您已审核过此申请")
        if stage == ReviewStage.APPEAL and any(
            r.stage == ReviewStage.REVIEW.value and r.reviewer_id == reviewer_id for r in reviews
        ):
            raise Forbidden(
                "an appeal is reviewed by a different certifier / 申诉须由其他认证员审核",
                code="appeal_needs_another_certifier",
            )
        review = ConversionReview(
            application_id=application.id,
            stage=stage.value,
            reviewer_id=reviewer_id,
            reviewer_label=principal.label,
            decision=decision.value,
            reason=reason.strip(),
        )
        try:
            async with session.begin_nested():
                await repo.add_review(review)
        except IntegrityError as exc:
            raise AlreadyReviewed(
                "you have already decided this application / 您已审核过此申请"
            ) from exc
        now = utc_now()
        application.updated_at = now
        if decision == Decision.REJECT:
            application.status = (
                ApplicationStatus.REJECTED.value
                if stage == ReviewStage.REVIEW
                else ApplicationStatus.APPEAL_REJECTED.value
            )
            application.decision_reason = reason.strip()
            application.decided_at = now
            application.open_key = None
            await session.flush()
            await self._decided(session, settings, principal, application)
            return application
        approvals = {
            r.reviewer_id
            for r in [*reviews, review]
            if r.stage == stage.value and r.decision == Decision.APPROVE.value
        }
        if len(approvals) < application.required_approvals:
            await session.flush()
            await audit_service.record(
                session,
                actor=principal,
                action="conversion.approve_first",
                object_type="conversion_application",
                object_id=application.id,
                detail={"approvals": len(approvals), "required": application.required_approvals},
            )
            return application
        await self._approve(session, settings, principal, application, reason=reason.strip())
        return application

    async def _approve(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        application: ConversionApplication,
        *,
        reason: str,
    ) -> None:
        standards = await self._standards(session, settings)
        if standards.content_hash != application.standards_hash:
            raise StaleApplication(
                f"the standards changed since this application was made "
                f"({application.standards_version} -> {standards.ref.version}); apply again / "
                "标准已更新，请重新申请"
            )
        rule = standards.conversion.rule(application.rule_id)
        if rule is None or rule.version != application.rule_version:
            raise StaleApplication(
                f"conversion rule {application.rule_id} changed; apply again / 转换规则已变更"
            )
        # Her other approvals wait here (or we wait for theirs) before the record is
        # read: the programme cap and the exempted units are checked against what the
        # others committed, not a snapshot from before (issue 13, B2).
        await ledger_service.lock_account(session, application.learner_id)
        facts, converted, exempted = await self._context(session, application.learner_id)
        check = check_conversion(
            rule,
            facts,
            standards,
            as_of=utc_now(),
            converted_credits=converted,
            exempted_units=exempted,
        )
        if not check.satisfied or check.option is None:
            raise NotEligible(f"{rule.id}: {_reasons(check)}")
        if set(check.option.outcome_ids) != set(application.outcome_ids):
            raise NotEligible(
                "the outcomes this application named are no longer the ones to use; apply again / "
                "申请所用成果已变化，请重新申请"
            )
        outcome_ids = [uuid.UUID(o) for o in application.outcome_ids]
        repo = ConversionRepository.from_session(session)
        try:
            async with session.begin_nested():
                await repo.consume(
                    [
                        ConversionConsumption(
                            outcome_id=o,
                            application_id=application.id,
                            learner_id=application.learner_id,
                        )
                        for o in outcome_ids
                    ]
                )
        except IntegrityError as exc:
            raise OutcomeAlreadyConverted(
                "an outcome of this application was just used by another approved conversion / "
                "该成果已被其他转换使用"
            ) from exc
        entry = await ledger_service.convert(
            session,
            learner_id=application.learner_id,
            conversion_id=application.id,
            outcome_ids=outcome_ids,
            target={
                "institution_key": application.target_institution_key,
                "programme": application.programme,
                "kind": application.target_kind,
                "units": [
                    {"unit_code": application.target_unit, "credits": str(application.credits)}
                ]
                if application.target_unit
                else [],
                "credits": str(application.credits),
            },
            rule_id=application.rule_id,
            rule_version=str(application.rule_version),
            standards_version=application.standards_version,
            actor=f"certifier:{principal.label or principal.id}",
            idempotency_key=f"conversion:{application.id}",
        )
        now = utc_now()
        application.status = ApplicationStatus.APPROVED.value
        application.ledger_entry_id = entry.id
        application.decision_reason = reason
        application.decided_at = now
        application.updated_at = now
        application.open_key = None
        await session.flush()
        await self._decided(session, settings, principal, application)

    # -- reading --------------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, principal: Principal, application_id: uuid.UUID
    ) -> ConversionApplication:
        """One application, for its learner, the operator or a certifier in scope."""
        application = await self._get(session, application_id)
        if authz.allowed(
            principal, "learner.data", authz.Resource(learner_id=application.learner_id)
        ):
            return application
        authz.require_certifier_scope(
            principal, application.target_institution_key, programme=application.programme
        )
        return application

    async def reviews(
        self, session: AsyncSession, principal: Principal, application_id: uuid.UUID
    ) -> list[ConversionReview]:
        await self.get(session, principal, application_id)
        return await ConversionRepository.from_session(session).reviews(application_id)

    async def detail(
        self, session: AsyncSession, principal: Principal, application_id: uuid.UUID
    ) -> ApplicationDetail:
        """One application with its reviews, for whoever may see it (:meth:`get`)."""
        application = await self.get(session, principal, application_id)
        reviews = await ConversionRepository.from_session(session).reviews(application_id)
        return ApplicationDetail.model_validate(
            {
                **ApplicationRead.model_validate(application).model_dump(),
                "reviews": [ReviewRead.model_validate(r) for r in reviews],
            }
        )

    async def evidence(
        self, session: AsyncSession, principal: Principal, application_id: uuid.UUID
    ) -> list[tuple[OutcomeRead, dict[str, Any]]]:
        """The outcomes an application would use, each with its explanation: a certifier
        reaches a learner's evidence through the application she may review (:meth:`get`)."""
        application = await self.get(session, principal, application_id)
        found: list[tuple[OutcomeRead, dict[str, Any]]] = []
        for outcome_id in application.outcome_ids:
            try:
                outcome = await rules_service.get_outcome(session, uuid.UUID(outcome_id))
            except NotFound:
                continue
            explained = await rules_service.explain_outcome(session, outcome)
            found.append((OutcomeRead.model_validate(outcome), explained))
        return found

    async def of_learner(
        self, session: AsyncSession, principal: Principal, learner_id: uuid.UUID
    ) -> list[ConversionApplication]:
        authz.require_learner_access(principal, learner_id)
        return await ConversionRepository.from_session(session).of_learner(learner_id)

    async def queue(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        status: str | None = None,
        limit: int = 100,
    ) -> list[ConversionApplication]:
        """Applications awaiting a decision in the certifier's scope (operator: all)."""
        authz.authorize(principal, "application.list")
        statuses = [status] if status else sorted(OPEN_STATUSES)
        applications = await ConversionRepository.from_session(session).queue(
            scopes=authz.certifier_scopes(principal), statuses=statuses, limit=limit
        )
        # Never offer a certifier her own application.
        return [a for a in applications if a.learner_id != principal.learner_id]

    # -- internals ------------------------------------------------------------------------

    # -- the learner's data rights -------------------------------------------------------

    async def export_learner_data(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> dict[str, Any]:
        """Her section of the learner export: applications with their decisions, her inbox.

        Reviews are exported without the reviewer's identity (another person's data).
        """
        repo = ConversionRepository.from_session(session)
        applications = []
        for application in await repo.of_learner(learner_id):
            exported = ApplicationRead.model_validate(application).model_dump(mode="json")
            exported["reviews"] = [
                {
                    "stage": review.stage,
                    "decision": review.decision,
                    "reason": review.reason,
                    "created_at": isoformat_z(review.created_at),
                }
                for review in await repo.reviews(application.id)
            ]
            applications.append(exported)
        messages = [
            MessageRead.model_validate(message).model_dump(mode="json")
            for message in await repo.all_messages(learner_id)
        ]
        return {"applications": applications, "inbox": messages}

    async def erase_learner_data(self, session: AsyncSession, learner_id: uuid.UUID) -> None:
        """Delete her inbox, clear what she wrote, withdraw what is still open.

        Decided applications stay (the ledger's conversion entries refer to them, and a
        certifier's decision is accountable), keyed by the learner id only; so do the
        consumptions, which keep an outcome from being converted twice.
        """
        repo = ConversionRepository.from_session(session)
        await repo.delete_messages(learner_id)
        now = utc_now()
        for application in await repo.of_learner(learner_id):
            if application.status in OPEN_STATUSES:
                application.status = ApplicationStatus.WITHDRAWN.value
                application.open_key = None
            application.note = None
            application.appeal_reason = None
            application.updated_at = now
        await session.flush()

    async def _get(
        self, session: AsyncSession, application_id: uuid.UUID, *, for_update: bool = False
    ) -> ConversionApplication:
        application = await ConversionRepository.from_session(session).get(
            application_id, for_update=for_update
        )
        if application is None:
            raise ApplicationNotFound(f"no conversion application {application_id} / 申请不存在")
        return application

    @staticmethod
    def _require_applicant(principal: Principal, application: ConversionApplication) -> None:
        if authz.allowed(
            principal, "application.act_as_applicant", Resource(learner_id=application.learner_id)
        ):
            return
        raise NotApplicant("only the applicant may do this / 仅申请人可操作")

    @staticmethod
    def _require_reviewer(principal: Principal, application: ConversionApplication) -> uuid.UUID:
        if principal.id is None or not authz.allowed(principal, "application.decide"):
            raise Forbidden("only a certifier may decide / 仅认证员可审核", code="forbidden")
        if (
            principal.learner_id is not None and principal.learner_id == application.learner_id
        ) or (
            application.applicant_user_id is not None
            and application.applicant_user_id == principal.id
        ):
            raise OwnApplication(
                "a certifier never reviews her own application / 认证员不得审核本人的申请"
            )
        authz.require_certifier_scope(
            principal,
            application.target_institution_key,
            programme=application.programme,
            applicant_learner_id=application.learner_id,
        )
        return principal.id

    async def _decided(
        self,
        session: AsyncSession,
        settings: Settings,
        principal: Principal,
        application: ConversionApplication,
    ) -> None:
        """Audit, inbox message to the learner, signed webhook to the target institution."""
        event = f"conversion.{application.status}"
        await audit_service.record(
            session,
            actor=principal,
            action=event,
            object_type="conversion_application",
            object_id=application.id,
            detail={"rule_id": application.rule_id, "reason": application.decision_reason},
        )
        approved = application.status == ApplicationStatus.APPROVED.value
        title = application.title or {}
        unit = application.target_unit or application.programme
        await ConversionRepository.from_session(session).add_message(
            InboxMessage(
                learner_id=application.learner_id,
                kind=event,
                subject_zh=(
                    f"学分转换申请{'已批准' if approved else '未获批准'}：{title.get('zh', unit)}"
                ),
                subject_en=(
                    f"Conversion {'approved' if approved else 'not approved'}: "
                    f"{title.get('en', unit)}"
                ),
                body_zh=(
                    f"您的转换申请（{application.rule_id}，{unit}，{application.credits} 学分）"
                    f"{'已批准' if approved else '未获批准'}。理由：{application.decision_reason}"
                ),
                body_en=(
                    f"Your conversion application ({application.rule_id}, {unit}, "
                    f"{application.credits} credits) was "
                    f"{'approved' if approved else 'not approved'}. "
                    f"Reason: {application.decision_reason}"
                ),
                data={"application_id": str(application.id), "status": application.status},
            )
        )
        await events.emit(
            session,
            [
                events.Event(
                    type=events.CONVERSION_DECIDED,
                    id=f"{events.CONVERSION_DECIDED}:{application.id}:{application.status}",
                    institution_key=application.target_institution_key,
                    data=webhook_body(application, event)["application"],
                )
            ],
        )
        url = settings.conversions.webhooks.get(application.target_institution_key)
        if url:
            await jobs_service.enqueue_unique(
                session,
                WEBHOOK_JOB,
                {"url": url, "body": webhook_body(application, event)},
                dedupe_key=f"{WEBHOOK_JOB}:{application.id}:{application.status}",
            )


def webhook_body(application: ConversionApplication, event: str) -> dict[str, Any]:
    """What the target institution receives about a decision (no personal data but ids)."""
    return {
        "id": f"{application.id}:{application.status}",
        "event": event,
        "application": {
            "id": str(application.id),
            "learner_id": str(application.learner_id),
            "rule_id": application.rule_id,
            "rule_version": application.rule_version,
            "standards": {
                "id": application.standards_id,
                "version": application.standards_version,
                "hash": application.standards_hash,
            },
            "programme": application.programme,
            "institution": application.target_institution_key,
            "target_kind": application.target_kind,
            "target_unit": application.target_unit,
            "credits": str(application.credits),
            "source_units": list(application.source_units),
            "status": application.status,
            "reason": application.decision_reason,
            "decided_at": isoformat_z(application.decided_at) if application.decided_at else None,
        },
    }


class InboxService:
    """The learner's portal inbox."""

    async def messages(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        learner_id: uuid.UUID,
        unread_only: bool = False,
        limit: int = 100,
    ) -> list[InboxMessage]:
        authz.require_learner_access(principal, learner_id)
        return await ConversionRepository.from_session(session).messages(
            learner_id, unread_only=unread_only, limit=limit
        )

    async def mark_read(
        self, session: AsyncSession, principal: Principal, message_id: uuid.UUID
    ) -> InboxMessage:
        message = await ConversionRepository.from_session(session).message(message_id)
        if message is None:
            raise NotFound("no such message / 消息不存在", code="message_not_found")
        authz.require_learner_access(principal, message.learner_id)
        if message.read_at is None:
            message.read_at = utc_now()
            await session.flush()
        return message


conversions = ConversionService()
inbox = InboxService()
