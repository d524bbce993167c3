"""Reading an uploaded table (CSV or .xlsx) into a header and rows, refusing bad files.

Every refusal is an :class:`ImportFileInvalid` with a stable ``code`` and a message in
Chinese and English; nothing is stored for a refused file. ``.xlsx`` files are checked
as zip archives *before* openpyxl opens them (declared uncompressed sizes, compression
ratio, number of members), so a zip bomb is refused without inflating it; openpyxl
reads the sheet in ``read_only`` mode (streaming, no hand-written XML parsing).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from creditbank.errors import BadRequest

#: Limits of one file: well above a school's term export, far below what hurts.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_COLUMNS = 256
MAX_ROWS = 500_000
MAX_CELL_CHARS = 4096
#: ``.xlsx``: what the members may inflate to, and by how much, before we open it.
MAX_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_MEMBER_RATIO = 200
MAX_ZIP_MEMBERS = 1000

Encoding = Literal["auto", "utf-8", "gb18030"]
Cell = str | int | float | Decimal | datetime | date | time | bool | None


class ImportFileInvalid(BadRequest):
    """The file cannot be read as a table at all (nothing of it is stored)."""

    code = "import_file_invalid"

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(f"{en} / {zh}", code=code)
        self.zh = zh
        self.en = en


@dataclass(frozen=True)
class Table:
    """A header and its data rows; ``rows`` yields ``(row_number, cells)``, 1-based as
    a spreadsheet shows them (the header is row 1)."""

    format: Literal["csv", "xlsx"]
    header: list[str]
    rows: Iterator[tuple[int, list[Cell]]]
    encoding: str | None = None


def detect_format(filename: str, content: bytes) -> Literal["csv", "xlsx"]:
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".csv", ".txt", ".tsv")):
        return "csv"
    if content[:4] == b"PK\x03\x04":
        return "xlsx"
    return "csv"


def read_table(
    filename: str,
    content: bytes,
    *,
    encoding: Encoding = "auto",
    sheet: str | None = None,
) -> Table:
    """The table in ``content``; raises :class:`ImportFileInvalid` for a bad file."""
    if len(content) > MAX_FILE_BYTES:
        raise ImportFileInvalid(
            "file_too_large",
            f"文件过大（上限 {MAX_FILE_BYTES // (1024 * 1024)} MiB）",
            f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB",
        )
    if not content.strip():
        raise ImportFileInvalid("empty_file", "文件为空", "the file is empty")
    if detect_format(filename, content) == "xlsx":
        return _read_xlsx(content, sheet)
    return _read_csv(content, encoding)


# --------------------------------------------------------------------------- CSV


def decode(content: bytes, encoding: Encoding) -> tuple[str, str]:
    """``(text, encoding used)``: UTF-8 with or without BOM, or GB18030."""
    if content.startswith(codecs.BOM_UTF8):
        if encoding == "gb18030":
            raise ImportFileInvalid(
                "wrong_encoding",
                "映射文件声明 GB18030，但文件以 UTF-8 BOM 开头",
                "the mapping declares GB18030 but the file starts with a UTF-8 BOM",
            )
        return _decode_strict(content[len(codecs.BOM_UTF8) :], "utf-8"), "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportFileInvalid(
            "wrong_encoding",
            "文件是 UTF-16 编码；请另存为 UTF-8 或 GB18030 的 CSV",
            "the file is UTF-16; save it as CSV in UTF-8 or GB18030",
        )
    if encoding == "gb18030":
        return _decode_strict(content, "gb18030"), "gb18030"
    if encoding == "utf-8":
        return _decode_strict(content, "utf-8"), "utf-8"
    try:
        return content.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    return _decode_strict(content, "gb18030"), "gb18030"


def _decode_strict(content: bytes, encoding: str) -> str:
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        label = "UTF-8" if encoding == "utf-8" else "GB18030"
        raise ImportFileInvalid(
            "wrong_encoding",
            f"文件不是有效的 {label} 编码（第 {exc.start} 字节）",
            f"the file is not valid {label} (byte {exc.start})",
        ) from None
    if "\x00" in text:
        raise ImportFileInvalid(
            "wrong_encoding",
            "文件含有 NUL 字符，不是文本 CSV",
            "the file contains NUL characters; it is not a text CSV",
        )
    return text


def _read_csv(content: bytes, encoding: Encoding) -> Table:
    text, used = decode(content, encoding)
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    if first_line.count(delimiter) >= MAX_COLUMNS:
        raise _too_many_columns(first_line.count(delimiter) + 1)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header_cells = next(reader, None)
    except csv.Error as exc:
        raise _csv_error(1, exc) from None
    if header_cells is None or not any(cell.strip() for cell in header_cells):
        raise ImportFileInvalid("no_header", "文件没有表头行", "the file has no header row")
    header = _header(header_cells)

    def rows() -> Iterator[tuple[int, list[Cell]]]:
        count = 0
        try:
            for cells in reader:
                number = reader.line_num
                if not any(cell.strip() for cell in cells):
                    continue
                count += 1
                if count > MAX_ROWS:
                    raise _too_many_rows()
                if len(cells) > MAX_COLUMNS:
                    raise _too_many_columns(len(cells))
                yield number, list(cells)
        except csv.Error as exc:
            raise _csv_error(reader.line_num, exc) from None

    return Table(format="csv", header=header, rows=rows(), encoding=used)


def _csv_error(line: int, exc: csv.Error) -> ImportFileInvalid:
    return ImportFileInvalid(
        "malformed_csv",
        f"第 {line} 行不是有效的 CSV：{exc}",
        f"line {line} is not valid CSV: {exc}",
    )


# --------------------------------------------------------------------------- xlsx


def check_zip(content: bytes) -> None:
    """Refuse an archive whose declared sizes or ratios are out of bounds (zip bomb)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ImportFileInvalid(
            "not_xlsx",
            f"文件不是有效的 .xlsx（zip）文件：{exc}",
            f"the file is not a valid .xlsx (zip) file: {exc}",
        ) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ImportFileInvalid(
                "zip_bomb", "xlsx 文件包含的成员过多", "the .xlsx archive has too many members"
            )
        total = 0
        for member in members:
            total += member.file_size
            ratio = member.file_size / max(member.compress_size, 1)
            if ratio > MAX_MEMBER_RATIO and member.file_size > 1024 * 1024:
                raise ImportFileInvalid(
                    "zip_bomb",
                    f"xlsx 成员 {member.filename} 压缩比异常（{ratio:.0f}:1），疑似压缩炸弹",
                    f"the .xlsx member {member.filename} inflates {ratio:.0f}:1 (a zip bomb?)",
                )
        if total > MAX_UNCOMPRESSED_BYTES:
            raise ImportFileInvalid(
                "zip_bomb",
                f"xlsx 解压后过大（{total // (1024 * 1024)} MiB）",
                f"the .xlsx would inflate to {total // (1024 * 1024)} MiB",
            )
        names = {member.filename for member in members}
        if "[Content_Types].xml" not in names or not any(
            name.startswith("xl/worksheets/") for name in names
        ):
            raise ImportFileInvalid(
                "not_xlsx", "文件不是 Excel 工作簿", "the file is not an Excel workbook"
            )


def _read_xlsx(content: bytes, sheet: str | None) -> Table:
    check_zip(content)
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = openpyxl.load_workbook(
            io.BytesIO(content), read_only=True, data_only=False, keep_links=False
        )
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportFileInvalid(
            "not_xlsx",
            f"无法读取 Excel 工作簿：{exc}",
            f"the Excel workbook cannot be read: {exc}",
        ) from None
    worksheet: Any
    try:
        if sheet is not None:
            if sheet not in workbook.sheetnames:
                raise ImportFileInvalid(
                    "sheet_not_found",
                    f"工作簿中没有工作表 {sheet!r}",
                    f"the workbook has no sheet {sheet!r}",
                )
            worksheet = workbook[sheet]
        else:
            worksheet = workbook.worksheets[0]
        width = worksheet.max_column or 0
        if width > MAX_COLUMNS:
            raise _too_many_columns(width)
        if (worksheet.max_row or 0) > MAX_ROWS + 1:
            raise _too_many_rows()
        # Materialise the sheet now (streaming, bounded by the limits above), so a
        # formula or a broken cell anywhere is found before anything is stored.
        collected: list[tuple[int, list[Cell]]] = []
        header: list[str] | None = None
        for number, row in enumerate(worksheet.iter_rows(), start=1):
            if len(row) > MAX_COLUMNS:
                raise _too_many_columns(len(row))
            cells: list[Cell] = []
            for column, cell in enumerate(row, start=1):
                value = getattr(cell, "value", None)
                if getattr(cell, "data_type", None) == "f":
                    raise ImportFileInvalid(
                        "formula_cell",
                        f"单元格 {_cell_name(number, column)} 含公式；请粘贴为数值后再导入",
                        f"cell {_cell_name(number, column)} holds a formula; paste values "
                        "before importing",
                    )
                cells.append(_xlsx_value(value))
            if header is None:
                if not any(_blank(c) is False for c in cells):
                    continue
                header = _header(["" if c is None else str(c) for c in cells])
                continue
            if all(_blank(c) for c in cells):
                continue
            collected.append((number, cells))
            if len(collected) > MAX_ROWS:
                raise _too_many_rows()
    finally:
        workbook.close()
    if header is None:
        raise ImportFileInvalid("empty_sheet", "工作表为空", "the sheet is empty")
    return Table(format="xlsx", header=header, rows=iter(collected))


def _xlsx_value(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | datetime | date | time | bool):
        return value
    return str(value)


def _blank(value: Cell) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _cell_name(row: int, column: int) -> str:
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(column)}{row}"


# --------------------------------------------------------------------------- shared


def _header(cells: list[str]) -> list[str]:
    header = [cell.strip().lstrip("\ufeff") for cell in cells]
    while header and not header[-1]:
        header.pop()
    if len(header) > MAX_COLUMNS:
        raise _too_many_columns(len(header))
    seen: set[str] = set()
    for name in header:
        if name and name in seen:
            raise ImportFileInvalid(
                "duplicate_column", f"表头列名重复：{name}", f"the header repeats column {name!r}"
            )
        seen.add(name)
    return header


def _too_many_columns(count: int) -> ImportFileInvalid:
    return ImportFileInvalid(
        "too_many_columns",
        f"文件有 {count} 列，超过上限 {MAX_COLUMNS} 列",
        f"the file has {count} columns, more than the limit of {MAX_COLUMNS}",
    )


def _too_many_rows() -> ImportFileInvalid:
    return ImportFileInvalid(
        "too_many_rows",
        f"文件超过 {MAX_ROWS} 行的上限",
        f"the file has more than {MAX_ROWS} rows",
    )
