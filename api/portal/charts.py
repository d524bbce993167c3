"""Server-rendered SVG charts (no script, no inline style: presentation attributes only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[datetime, Decimal]]
    dashed: bool = False


def line_chart(title: str, series: Sequence[Series], *, width: int = 640, height: int = 240) -> str:
    """A step line chart of credit figures over time, with its title for screen readers."""
    left, right, top, bottom = 48, 16, 16, 32
    all_points = [p for s in series for p in s.points]
    if not all_points:
        return ""
    times = [p[0].timestamp() for p in all_points]
    t0, t1 = min(times), max(times)
    if t1 == t0:
        t1 = t0 + 86400
    vmax = max(float(max(p[1] for p in all_points)), 1.0)
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(ts: datetime) -> float:
        return left + (ts.timestamp() - t0) / (t1 - t0) * plot_w

    def y(value: Decimal) -> float:
        return top + plot_h - float(value) / vmax * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#555" stroke-width="1"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555" '
        'stroke-width="1"/>',
    ]
    for tick in range(5):
        value = Decimal(str(vmax * tick / 4)).quantize(Decimal("0.1"))
        ty = y(value)
        parts.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#333">{value}</text>'
        )
    fmt = "%Y-%m-%d %H:%M" if t1 - t0 < 2 * 86400 else "%Y-%m-%d"
    for label_ts in (t0, t1):
        when = datetime.fromtimestamp(label_ts, tz=UTC).strftime(fmt)
        anchor = "start" if label_ts == t0 else "end"
        lx = left if label_ts == t0 else width - right
        parts.append(
            f'<text x="{lx}" y="{height - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="#333">{when}</text>'
        )
    colours = ("#0b5cad", "#b3261e", "#2e7d32")
    for index, s in enumerate(series):
        if not s.points:
            continue
        coords: list[str] = []
        previous: float | None = None
        for ts, value in s.points:
            px, py = x(ts), y(value)
            if previous is not None:
                coords.append(f"{px:.1f},{previous:.1f}")
            coords.append(f"{px:.1f},{py:.1f}")
            previous = py
        coords.append(f"{left + plot_w:.1f},{previous:.1f}")
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<polyline points="{" ".join(coords)}" fill="none" '
            f'stroke="{colours[index % len(colours)]}" stroke-width="2"{dash}>'
            f"<title>{escape(s.label)}</title></polyline>"
        )
    parts.append("</svg>")
    return "".join(parts)
