"""Server-rendered SVG charts (no script, no inline style: presentation attributes only)."""

from __future__ import annotations

import math
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


def bar_chart(
    chart_id: str,
    title: str,
    bars: Sequence[tuple[str, Decimal]],
    *,
    width: int = 640,
    height: int = 220,
) -> str:
    """Vertical bars with their values; the table beside it carries the same numbers."""
    if not bars:
        return ""
    # Long category names are written at a slant below their bars.
    slanted = len(bars) > 1 and max(len(label) for label, _ in bars) * 6 > (width - 64) / len(bars)
    longest = max(len(label) for label, _ in bars)
    left = min(max(48, longest * 5), 160) if slanted else 48
    right, top, bottom = 16, 20, (96 if slanted else 36)
    height += bottom - 36
    plot_w, plot_h = width - left - right, height - top - bottom
    vmax = _nice_top(float(max(v for _, v in bars)))
    slot = plot_w / len(bars)
    bar_w = max(min(slot * 0.7, 48.0), 2.0)
    title_id = f"{chart_id}-title"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{title_id}" class="chart">',
        f'<title id="{title_id}">{escape(title)}</title>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" '
        'stroke="#555" stroke-width="1"/>',
    ]
    for tick in range(5):
        tick_value = vmax * tick / 4
        ty = top + plot_h - tick_value / vmax * plot_h
        parts.append(
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#333">{_tick(tick_value)}</text>'
        )
    every = max(1, len(bars) // 8)
    for index, (label, value) in enumerate(bars):
        h = float(value) / vmax * plot_h
        bx = left + index * slot + (slot - bar_w) / 2
        parts.append(
            f'<rect x="{bx:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" '
            f'height="{h:.1f}" fill="#0b5cad"><title>{escape(label)}: {value}</title></rect>'
        )
        if len(bars) <= 12 and value:
            parts.append(
                f'<text x="{bx + bar_w / 2:.1f}" y="{top + plot_h - h - 4:.1f}" '
                f'text-anchor="middle" font-size="11" fill="#222">{value}</text>'
            )
        if index % every == 0:
            lx, ly = bx + bar_w / 2, top + plot_h + 16
            slant = f' transform="rotate(-30 {lx:.1f} {ly})"' if slanted else ""
            parts.append(
                f'<text x="{lx:.1f}" y="{ly}" text-anchor="{"end" if slanted else "middle"}" '
                f'font-size="11" fill="#333"{slant}>{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _nice_top(value: float) -> float:
    """The axis top: four ticks of 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 4.0
    raw = value / 4
    power: float = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return max(step * 4, 4.0) if value >= 1 else step * 4


def _tick(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"
