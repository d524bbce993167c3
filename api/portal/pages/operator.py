"""The operator's 数字驾驶舱 (dashboard): SVG charts, the numbers behind each as a table
and as CSV. The aggregates and their authorization are the reporting service's."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as StarletteUpload

from api.auth import client_ip
from api.deps import get_database
from api.portal.charts import bar_chart
from api.portal.web import CheckedForm, Page, UserPage, form_text
from api.replica import replica_scope
from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit as audit_service
from creditbank.errors import ValidationFailed
from creditbank.identity.schemas import AuditRead
from creditbank.jobs.schemas import JobRead
from creditbank.jobs.service import jobs as jobs_service
from creditbank.ledger.checkpoints import checkpoints as checkpoints_service
from creditbank.reporting.service import Dashboard, Total, region_name, totals
from creditbank.reporting.service import reporting as reporting_service
from creditbank.rules.schemas import ReevaluationRead
from creditbank.rules.service import rules as rules_service
from creditbank.standards.service import standards as standards_service
from creditbank.standards.version_schemas import StandardsVersionRead

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Chart:
    """One chart: its bars, and the table (headers and rows) of the numbers behind it."""

    key: str
    title: str
    svg: str
    headers: list[str]
    rows: list[list[str]]


def _type_name(page: Page, value: str) -> str:
    return page.t(f"type_{value}") if value else page.t("not_set")


def _charts(page: Page, board: Dashboard) -> list[Chart]:
    t = page.t
    charts: list[Chart] = []

    def add(
        key: str, headers: list[str], rows: list[list[str]], bars: list[tuple[str, Decimal]]
    ) -> None:
        title = t(f"chart_{key}")
        charts.append(Chart(key, title, bar_chart(f"chart-{key}", title, bars), headers, rows))

    months = _months(board)
    for key, source in (("recognised", board.recognised), ("converted", board.converted)):
        found = {m.key: m for m in totals(source, "period")}
        by_month = [found.get(m) or Total(key=m, credits=Decimal("0.00"), count=0) for m in months]
        add(
            f"{key}_month",
            [t("month"), t("credits_col"), t("count")],
            [[m.key, str(m.credits), str(m.count)] for m in by_month],
            [(m.key, m.credits) for m in by_month],
        )
    for key, by in (("type", "institution_type"), ("region", "region_code")):
        rec = {x.key: x for x in totals(board.recognised, by)}
        conv = {x.key: x for x in totals(board.converted, by)}
        keys = sorted(set(rec) | set(conv))

        def name(k: str, by: str = by) -> str:
            if by == "institution_type":
                return _type_name(page, k)
            return region_name(k, page.lang)

        zero = Decimal("0.00")
        add(
            f"by_{key}",
            [
                t("institution_type") if key == "type" else t("region"),
                t("chart_recognised_month"),
                t("chart_converted_month"),
            ],
            [
                [
                    name(k),
                    str(rec[k].credits if k in rec else zero),
                    str(conv[k].credits if k in conv else zero),
                ]
                for k in keys
            ],
            [(name(k), rec[k].credits if k in rec else zero) for k in keys],
        )
    add(
        "approval",
        [t("month"), t("submitted_n"), t("decided_n"), t("approved_n"), t("approval_rate")],
        [
            [
                d.month,
                str(d.submitted),
                str(d.decided),
                str(d.approved),
                _percent(d.approved, d.decided),
            ]
            for d in board.decisions
        ],
        [(d.month, Decimal(_percent(d.approved, d.decided) or "0")) for d in board.decisions],
    )
    add(
        "turnaround",
        [t("month"), t("turnaround_hours")],
        [[d.month, _hours(d.turnaround_seconds)] for d in board.decisions],
        [(d.month, Decimal(_hours(d.turnaround_seconds) or "0")) for d in board.decisions],
    )
    add(
        "learners",
        [t("month"), t("learners_n")],
        [[c.period, str(c.count)] for c in board.learners_active],
        [(c.period, Decimal(c.count)) for c in board.learners_active],
    )
    add(
        "statements",
        [t("day"), t("statements_n")],
        [[c.period, str(c.count)] for c in board.statements_per_day],
        [(c.period[5:], Decimal(c.count)) for c in board.statements_per_day],
    )
    return charts


def _months(board: Dashboard) -> list[str]:
    """Every month of the window, oldest first, so that a month without data shows as 0."""
    out: list[str] = []
    year, month = board.since_month.year, board.since_month.month
    while (year, month) <= (board.now.year, board.now.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _percent(part: int, whole: int) -> str:
    if not whole:
        return ""
    return str((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")))


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return ""
    return str((Decimal(str(seconds)) / 3600).quantize(Decimal("0.1")))


async def _dashboard(request: Request, page: Page) -> tuple[Dashboard, list[Chart]]:
    # Aggregates that may lag: on the hot standby when there is one (api.replica).
    async with replica_scope(request, page.principal) as session:
        board = await reporting_service.dashboard(session, page.principal)
    return board, _charts(page, board)


@router.get("/operate/dashboard")
async def dashboard(request: Request, page: UserPage) -> Response:
    board, charts = await _dashboard(request, page)
    return page.render(
        "operator/dashboard.html",
        board=board,
        charts=charts,
        recognised_total=sum((r.credits for r in board.recognised), Decimal("0.00")),
        converted_total=sum((r.credits for r in board.converted), Decimal("0.00")),
        learners_total=max((c.count for c in board.learners_active), default=0),
        statements_total=sum(c.count for c in board.statements_per_day),
    )


@router.get("/operate/dashboard/{key}.csv")
async def dashboard_csv(request: Request, page: UserPage, key: str) -> Response:
    _, charts = await _dashboard(request, page)
    chart = next((c for c in charts if c.key == key), None)
    if chart is None:
        return page.finish(Response(status_code=404))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chart.headers)
    writer.writerows(chart.rows)
    # A byte-order mark so that spreadsheet programs read the Chinese headers as UTF-8.
    body = "\ufeff" + out.getvalue()
    return page.finish(
        Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="dashboard-{key}.csv"'},
        )
    )


AUDIT_OUTCOMES = ("ok", "denied", "error")


def _when(value: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` from a date field as the start (or the end) of that UTC day."""
    day = date.fromisoformat(value)
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start + timedelta(days=1) if end else start


@router.get("/operate/audit")
async def audit_log(
    request: Request,
    page: UserPage,
    action: str = "",
    actor: str = "",
    object_type: str = "",
    object_id: str = "",
    outcome: str = "",
    since: str = "",
    until: str = "",
    before_id: int | None = None,
) -> Response:
    values = {
        "action": action.strip(),
        "actor": actor.strip(),
        "object_type": object_type.strip(),
        "object_id": object_id.strip(),
        "outcome": outcome if outcome in AUDIT_OUTCOMES else "",
        "since": since.strip(),
        "until": until.strip(),
    }
    errors: dict[str, str] = {}
    moments: dict[str, datetime | None] = {"since": None, "until": None}
    for name in ("since", "until"):
        if values[name]:
            try:
                moments[name] = _when(values[name], end=name == "until")
            except ValueError:
                errors[name] = page.t("bad_date")
    entries: list[AuditRead] = []
    if not errors:
        filters = AuditFilter(
            action=values["action"] or None,
            actor_id=values["actor"] or None,
            object_type=values["object_type"] or None,
            object_id=values["object_id"] or None,
            outcome=values["outcome"] or None,
            since=moments["since"],
            until=moments["until"],
            before_id=before_id,
            limit=AUDIT_PAGE,
        )
        async with get_database(request).read_scope() as session:
            entries = [
                AuditRead.model_validate(e)
                for e in await audit_service.read(session, page.principal, filters)
            ]
    more = None
    if len(entries) == AUDIT_PAGE:
        more = urlencode({**{k: v for k, v in values.items() if v}, "before_id": entries[-1].id})
    return page.render(
        "operator/audit.html",
        status_code=400 if errors else 200,
        entries=entries,
        values=values,
        errors=errors,
        outcomes=AUDIT_OUTCOMES,
        more=more,
    )


AUDIT_PAGE = 50


@router.get("/operate/jobs")
async def job_queue(request: Request, page: UserPage, done: str | None = None) -> Response:
    async with get_database(request).read_scope() as session:
        stats = await jobs_service.stats(session, page.principal)
        dead = [
            JobRead.model_validate(j)
            for j in await jobs_service.dead_letters(session, page.principal, limit=100)
        ]
    statuses = sorted({s for counts in stats.values() for s in counts})
    return page.render("operator/jobs.html", stats=stats, statuses=statuses, dead=dead, notice=done)


@router.post("/operate/jobs/{job_id}/replay")
async def replay_job(request: Request, page: UserPage, form: CheckedForm, job_id: int) -> Response:
    async with get_database(request).session_scope() as session:
        await jobs_service.replay(session, page.principal, job_id)
    return page.redirect("/operate/jobs?done=replayed")


@router.post("/operate/jobs/replay")
async def replay_all_jobs(request: Request, page: UserPage, form: CheckedForm) -> Response:
    async with get_database(request).session_scope() as session:
        await jobs_service.replay_all(session, page.principal)
    return page.redirect("/operate/jobs?done=replayed")


@router.get("/operate/keys")
async def signing_keys(page: UserPage) -> Response:
    current, keys = checkpoints_service.keys_for(page.principal, page.settings)
    return page.render("operator/keys.html", current=current, keys=keys)


# -- standards: versions, the dry run of a new version, publishing, applying ----------

#: The largest standards file the upload form takes (the demo set is ~20 kB as JSON).
MAX_STANDARDS_BYTES = 2_000_000


async def _standards_page(
    request: Request,
    page: Page,
    *,
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    content: str = "",
) -> Response:
    async with get_database(request).read_scope() as session:
        rows, current = await standards_service.versions_to_manage(
            session, page.principal, set_id=page.settings.rules.standards_set
        )
        versions = [StandardsVersionRead.model_validate(v) for v in rows]
        in_force = StandardsVersionRead.model_validate(current) if current else None
    return page.render(
        "operator/standards.html",
        status_code=400 if errors else 200,
        versions=versions,
        in_force=in_force,
        errors=errors or {},
        notice=notice,
        content=content,
    )


@router.get("/operate/standards")
async def standards_versions(request: Request, page: UserPage, done: str | None = None) -> Response:
    notice = done if done in ("published", "unchanged", "applied") else None
    return await _standards_page(request, page, notice=notice)


async def _uploaded_text(form: FormData) -> str:
    """The set as JSON text: the uploaded file if one was chosen, else the text field."""
    upload = form.get("file")
    if isinstance(upload, StarletteUpload) and upload.filename:
        raw = await upload.read(MAX_STANDARDS_BYTES + 1)
        if len(raw) > MAX_STANDARDS_BYTES:
            raise ValueError("too_large")
        return raw.decode("utf-8-sig")
    return form_text(form, "content")


def _content_of(text: str) -> dict[str, Any]:
    document = json.loads(text)
    if not isinstance(document, dict):
        raise ValueError("not an object")
    return document


@router.post("/operate/standards/preview")
async def standards_preview(request: Request, page: UserPage, form: CheckedForm) -> Response:
    """The dry run before publishing: the set checked, and what it changes for whom."""
    try:
        text = await _uploaded_text(form)
    except (ValueError, UnicodeDecodeError):
        errors = {"content": page.t("bad_standards_file")}
        return await _standards_page(request, page, errors=errors)
    if not text:
        errors = {"content": page.t("choose_standards")}
        return await _standards_page(request, page, errors=errors)
    try:
        content = _content_of(text)
    except ValueError:
        return await _standards_page(
            request, page, errors={"content": page.t("bad_json")}, content=text
        )
    try:
        async with get_database(request).read_scope() as session:
            preview = await rules_service.preview_content(session, page.principal, content)
    except ValidationFailed as exc:
        return await _standards_page(
            request,
            page,
            errors={"content": f"{page.t('invalid_standards')} {exc.detail}"},
            content=text,
        )
    canonical = preview.standards.canonical_json().decode()
    return page.render(
        "operator/standards_preview.html",
        preview=preview,
        meta=preview.standards.meta,
        report=ReevaluationRead.model_validate(preview.report),
        content=canonical,
    )


@router.post("/operate/standards/publish")
async def standards_publish(request: Request, page: UserPage, form: CheckedForm) -> Response:
    """Publish exactly the set whose dry run was shown (its hash travels with the form)."""
    try:
        content = _content_of(form_text(form, "content"))
    except ValueError:
        return await _standards_page(request, page, errors={"content": page.t("bad_json")})
    async with get_database(request).session_scope() as session:
        published = await standards_service.publish_content(
            session,
            page.principal,
            content,
            reviewed_hash=form_text(form, "content_hash"),
            ip=client_ip(request),
        )
    done = "published" if published.created else "unchanged"
    return page.redirect(f"/operate/standards?done={done}")


@router.get("/operate/standards/{set_id}/{version}")
async def standards_version(
    request: Request, page: UserPage, set_id: str, version: str
) -> Response:
    """A published version and what applying it to every learner would change."""
    async with get_database(request).read_scope() as session:
        row = StandardsVersionRead.model_validate(
            await standards_service.version_for(session, page.principal, set_id, version)
        )
        report = ReevaluationRead.model_validate(
            await rules_service.reevaluate_version(
                session, page.principal, set_id, version, apply=False
            )
        )
    return page.render("operator/standards_version.html", version=row, report=report)


@router.post("/operate/standards/{set_id}/{version}/apply")
async def standards_apply(
    request: Request, page: UserPage, form: CheckedForm, set_id: str, version: str
) -> Response:
    """Apply a published version: compensating entries (superseded outcomes reversed,
    new ones deposited), audited."""
    async with get_database(request).session_scope() as session:
        await rules_service.reevaluate_version(
            session, page.principal, set_id, version, apply=True, ip=client_ip(request)
        )
    return page.redirect("/operate/standards?done=applied")
