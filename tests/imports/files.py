"""Real CSV and .xlsx files for the import tests (made with the csv module and openpyxl)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import openpyxl

HEADER = ["学号", "课程代码", "结果", "成绩", "学时", "日期"]
ROWS: list[list[Any]] = [
    ["2024001", "ELEC4", "通过", "82", "120", "2024-03-01"],
    ["2024002", "ELEC4", "未通过", "40", "120", "2024/03/02"],
    ["2024003", "WELD1", "通过", "95.5", "64", "2024年3月3日"],
]
MAPPING = """\
institution: fxvs
learner: {column: 学号}
activity:
  column: 课程代码
  base: https://fxvs.example.edu.cn/courses/
  codes: {ELEC4: "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"}
verb: {column: 结果, default: passed, values: {通过: passed, 未通过: failed}}
score: {column: 成绩, min: 0, max: 100, pass: 60}
hours: {column: 学时}
date: {column: 日期, timezone: "+08:00"}
"""


def csv_bytes(
    rows: list[list[Any]] | None = None,
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
    bom: bool = False,
) -> bytes:
    import csv

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header or HEADER)
    for row in ROWS if rows is None else rows:
        writer.writerow(row)
    data = buffer.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(
    rows: list[list[Any]] | None = None, *, header: list[Any] | None = None, empty: bool = False
) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "成绩"
    if not empty:
        sheet.append(header or HEADER)
        for row in ROWS if rows is None else rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def zip_bomb_xlsx() -> bytes:
    """A workbook whose sheet member inflates 50 MiB of zeros from a few KiB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w") as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(50):
                member.write(chunk)
    return buffer.getvalue()
