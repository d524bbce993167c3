"""The PDF of a transcript: bilingual, the CJK font embedded (a subset), and a QR code
that opens the public verify page of this transcript.

fpdf2 embeds a subset of an OpenType font with CFF outlines taken from a font
collection (Debian's ``fonts-noto-cjk`` ships only ``.ttc`` files with CFF outlines);
ReportLab's TTFont refuses CFF outlines and its CID fonts are not embedded, so a PDF
from it would not render the Chinese text on a machine without those fonts.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import segno
from fontTools.ttLib import TTCollection, TTFont
from fpdf import FPDF
from fpdf.fonts import FontFace

from api.portal.transcript_view import TranscriptView
from api.portal.web import format_credits

#: Where Debian's fonts-noto-cjk puts its fonts (fc-match is asked first).
KNOWN_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
#: A font outside those: CREDITBANK_CJK_FONT=/path/font.ttc (or .otf/.ttf).
FONT_ENV = "CREDITBANK_CJK_FONT"
_PROBE = ord("学")


class NoCjkFont(RuntimeError):
    """No installed font covers Chinese (install fonts-noto-cjk)."""


def _covers(path: str, index: int) -> bool:
    try:
        if path.lower().endswith((".ttc", ".otc")):
            font = TTCollection(path, lazy=True).fonts[index]
        else:
            font = TTFont(path, lazy=True)
        return _PROBE in (font.getBestCmap() or {})
    except (OSError, IndexError, KeyError, AssertionError):
        return False


def _simplified_index(path: str) -> int:
    """The Simplified Chinese face of a collection (Noto's order is JP, KR, SC, TC, HK)."""
    if not path.lower().endswith((".ttc", ".otc")):
        return 0
    try:
        collection = TTCollection(path, lazy=True)
    except (OSError, AssertionError):
        return 0
    for index, font in enumerate(collection.fonts):
        family = font["name"].getDebugName(1) or ""
        if family.endswith(" SC") or "SC" in family.split():
            return index
    return 0


def _from_fontconfig() -> tuple[str, int] | None:
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        found = subprocess.run(  # noqa: S603 - a fixed program and arguments
            [fc_match, "-f", "%{file}\n%{index}", "Noto Sans CJK SC:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = found.stdout.splitlines()
    if found.returncode != 0 or len(lines) < 2 or not lines[1].strip().isdigit():
        return None
    return lines[0], int(lines[1])


@functools.lru_cache(maxsize=1)
def cjk_font() -> tuple[str, int]:
    """``(file, index in its collection)`` of an installed font that covers Chinese."""
    candidates: list[tuple[str, int]] = []
    if os.environ.get(FONT_ENV):
        path = os.environ[FONT_ENV]
        candidates.append((path, _simplified_index(path)))
    matched = _from_fontconfig()
    if matched is not None:
        candidates.append(matched)
    candidates += [(p, _simplified_index(p)) for p in KNOWN_FONTS if Path(p).exists()]
    for path, index in candidates:
        if Path(path).exists() and _covers(path, index):
            return path, index
    raise NoCjkFont("no installed font covers Chinese: install fonts-noto-cjk")


def qr_png(url: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=6, border=2)
    return buffer.getvalue()


def _c(value: object) -> str:
    return format_credits(value) if value is not None else "—"  # type: ignore[arg-type]


def render(
    view: TranscriptView,
    *,
    verify_url: str,
    issued_at: datetime,
    status: str,
) -> bytes:
    """The transcript as a PDF (A4, both languages on the page)."""
    path, index = cjk_font()
    pdf = FPDF(format="A4")
    pdf.set_creation_date(issued_at)
    pdf.set_title("学习成果证明 / Learning record transcript")
    pdf.set_author(view.issuer_name or "creditbank")
    pdf.set_lang("zh-CN")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("cjk", "", path, collection_font_number=index)
    pdf.add_page()
    pdf.set_font("cjk", size=18)
    pdf.cell(0, 10, "学习成果证明  Learning record transcript", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=10)
    pdf.image(io.BytesIO(qr_png(verify_url)), x=pdf.w - pdf.r_margin - 38, y=10, w=38)
    for label, value in (
        ("签发机构 Issuer", f"{view.issuer_name}  {view.issuer_id}"),
        ("证明编号 Transcript", view.transcript_id),
        ("持有人 Subject", view.subject),
        ("记录截至 As of", view.as_of[:10]),
        ("有效期 Valid", f"{view.valid_from[:10]} — {view.valid_until[:10] or '长期 no end'}"),
        ("状态 Status", status),
    ):
        pdf.set_x(pdf.l_margin)
        pdf.multi_cell(
            pdf.w - pdf.l_margin - pdf.r_margin - 42,
            6,
            f"{label}: {value}",
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(2)
    pdf.set_font("cjk", size=12)
    totals = view.totals
    pdf.cell(
        0,
        8,
        f"累计学分 Banked {_c(totals.get('banked'))}    可用学分 Available "
        f"{_c(totals.get('available'))}    已转换 Converted {_c(totals.get('converted'))}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    heading = FontFace(fill_color=(230, 238, 247))
    pdf.cell(0, 8, "学习成果 Learning outcomes", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=9)
    with pdf.table(
        col_widths=(22, 62, 40, 12, 18, 24), headings_style=heading, text_align="LEFT"
    ) as table:
        table.row(
            [
                "单元 Unit",
                "名称 Title",
                "机构 Institution",
                "级别 Level",
                "学分 Credits",
                "日期 Date",
            ]
        )
        for o in view.outcomes:
            table.row(
                [
                    o.unit_code,
                    f"{o.title_zh}\n{o.title_en}".strip(),
                    f"{o.institution_zh}\n{o.institution_en}".strip(),
                    o.level,
                    _c(o.credits),
                    o.awarded,
                ]
            )
    if view.conversions:
        pdf.ln(4)
        pdf.set_font("cjk", size=12)
        pdf.cell(0, 8, "学分转换 Credit conversions", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("cjk", size=9)
        with pdf.table(
            col_widths=(30, 62, 30, 18, 38), headings_style=heading, text_align="LEFT"
        ) as table:
            table.row(["专业 Programme", "目标 Target", "机构 Institution", "学分", "决定 Decided"])
            for c in view.conversions:
                table.row(
                    [
                        c.programme,
                        f"{c.target_unit} {c.title_zh}\n{c.title_en}".strip(),
                        c.target_institution,
                        _c(c.credits),
                        c.decided,
                    ]
                )
    pdf.ln(6)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(
        0,
        5,
        "扫描二维码或打开以下网址验证本证明（签名、状态与有效期）："
        f"\nScan the QR code or open this address to verify it:\n{verify_url}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
