"""Reading files and mappings, converting rows: real files, no database."""

from __future__ import annotations

import uuid

import pytest

from creditbank.imports.mapping import MappingInvalid, parse_mapping
from creditbank.imports.reader import ImportFileInvalid, read_table
from creditbank.imports.rows import RowConverter
from tests.imports.files import HEADER, MAPPING, ROWS, csv_bytes, xlsx_bytes, zip_bomb_xlsx

HOME = "https://fxvs.example.edu.cn"


def convert(filename: str, content: bytes, mapping_text: str = MAPPING):
    mapping = parse_mapping(mapping_text)
    table = read_table(filename, content, encoding=mapping.encoding, sheet=mapping.sheet)
    converter = RowConverter(mapping, table.header, institution_key="fxvs", home_page=HOME)
    return table, converter.convert_all(table.rows)


@pytest.mark.parametrize(
    ("filename", "content", "encoding"),
    [
        ("grades.csv", csv_bytes(), "utf-8"),
        ("grades.csv", csv_bytes(bom=True), "utf-8-sig"),
        ("grades.csv", csv_bytes(encoding="gb18030"), "gb18030"),
        ("grades.xlsx", xlsx_bytes(), None),
    ],
    ids=["utf8", "utf8-bom", "gb18030", "xlsx"],
)
def test_every_format_gives_the_same_statements(filename, content, encoding):
    table, converted = convert(filename, content)
    assert table.encoding == encoding
    assert converted.errors == []
    assert [s.row for s in converted.statements] == [2, 3, 4]
    first = converted.statements[0].statement
    assert first["actor"] == {
        "objectType": "Agent",
        "account": {"homePage": HOME, "name": "2024001"},
    }
    assert first["object"]["id"] == (
        "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"
    )
    assert first["verb"]["id"] == "http://adlnet.gov/expapi/verbs/passed"
    assert first["result"] == {
        "score": {"scaled": 0.82, "raw": 82, "min": 0, "max": 100},
        "success": True,
        "completion": True,
        "duration": "PT120H",
    }
    assert first["timestamp"] == "2024-03-01T00:00:00+08:00"
    second = converted.statements[1].statement
    assert second["verb"]["id"] == "http://adlnet.gov/expapi/verbs/failed"
    assert second["result"]["success"] is False
    third = converted.statements[2].statement
    assert third["object"]["id"] == "https://fxvs.example.edu.cn/courses/WELD1"
    assert third["result"]["score"]["scaled"] == 0.955
    assert third["timestamp"] == "2024-03-03T00:00:00+08:00"


def test_ids_are_deterministic_and_identical_across_formats():
    _, a = convert("a.csv", csv_bytes(encoding="gb18030"))
    _, b = convert("b.xlsx", xlsx_bytes())
    assert [s.id for s in a.statements] == [s.id for s in b.statements]
    assert all(s.id.version == 5 for s in a.statements)


def test_a_statement_id_column_is_the_row_identity():
    mapping = MAPPING + "statement_id: {column: 记录号}\n"
    own = str(uuid.uuid4())
    rows = [[*ROWS[0], own], [*ROWS[1], "MIS-77"]]
    _, converted = convert("g.csv", csv_bytes(rows, header=[*HEADER, "记录号"]), mapping)
    assert converted.statements[0].id == uuid.UUID(own)
    assert converted.statements[1].id.version == 5


def test_row_errors_name_row_column_value_in_both_languages():
    rows = [
        ["", "ELEC4", "通过", "82", "120", "2024-03-01"],
        ["2024002", "ELEC4", "优秀", "140", "-3", "2024-13-01"],
        ["2024003", "ELEC4", "通过", "八十", "1", "2099-01-01"],
    ]
    _, converted = convert("bad.csv", csv_bytes(rows))
    found = {(e.row, e.column, e.value, e.code) for e in converted.errors}
    assert found == {
        (2, "学号", None, "required"),
        (3, "结果", "优秀", "unknown_verb"),
        (3, "成绩", "140", "out_of_range"),
        (3, "学时", "-3", "invalid_hours"),
        (3, "日期", "2024-13-01", "invalid_date"),
        (4, "成绩", "八十", "not_a_number"),
        (4, "日期", "2099-01-01", "future_date"),
    }
    error = next(e for e in converted.errors if e.code == "out_of_range")
    assert error.as_dict()["message"] == {
        "zh-CN": "成绩须在 0 到 100 之间",
        "en": "the score must lie between 0 and 100",
    }
    assert converted.statements == []


def test_a_repeated_row_is_counted_once_and_a_contradicting_one_is_an_error():
    rows = [ROWS[0], ROWS[0], [*ROWS[0][:3], "83", *ROWS[0][4:]]]
    _, converted = convert("dup.csv", csv_bytes(rows))
    assert converted.duplicate_rows == 1
    assert len(converted.statements) == 1
    assert [(e.row, e.code) for e in converted.errors] == [(4, "duplicate_row_identity")]


# --------------------------------------------------------------------------- malformed


def refused(filename: str, content: bytes, mapping_text: str = MAPPING) -> ImportFileInvalid:
    with pytest.raises(ImportFileInvalid) as caught:
        convert(filename, content, mapping_text)
    return caught.value


def test_gb18030_declared_as_utf8_is_refused():
    error = refused("g.csv", csv_bytes(encoding="gb18030"), "encoding: utf-8\n" + MAPPING)
    assert error.code == "wrong_encoding"
    assert "UTF-8" in error.en
    assert "UTF-8" in error.zh


def test_bytes_neither_utf8_nor_gb18030_are_refused():
    assert refused("g.csv", "学号,课程代码\n".encode() + b"\xff\xfe\x80\n").code == "wrong_encoding"
    assert refused("g.csv", "学号,x\n".encode("utf-16")).code == "wrong_encoding"


def test_missing_columns_are_named():
    header = ["学号", "课程代码", "日期"]
    error = refused("m.csv", csv_bytes([["1", "ELEC4", "2024-03-01"]], header=header))
    assert error.code == "missing_columns"
    assert "结果" in error.zh
    assert "成绩" in error.en


def test_a_formula_cell_is_refused_with_its_address():
    content = xlsx_bytes([["2024001", "ELEC4", "通过", "=40+42", 120, "2024-03-01"]])
    error = refused("f.xlsx", content)
    assert error.code == "formula_cell"
    assert "D2" in error.en


def test_an_empty_sheet_is_refused():
    assert refused("e.xlsx", xlsx_bytes(empty=True)).code == "empty_sheet"
    assert refused("h.xlsx", xlsx_bytes(rows=[])).code == "no_rows"
    assert refused("e.csv", b"").code == "empty_file"


def test_a_million_columns_are_refused_before_parsing():
    content = (",".join(f"c{i}" for i in range(1_000_000)) + "\n1,2\n").encode()
    assert refused("wide.csv", content).code == "too_many_columns"


def test_a_wide_sheet_is_refused():
    header = [*HEADER, *(f"x{i}" for i in range(300))]
    assert refused("wide.xlsx", xlsx_bytes(header=header)).code == "too_many_columns"


def test_a_zip_bomb_disguised_as_xlsx_is_refused_without_inflating_it():
    content = zip_bomb_xlsx()
    assert len(content) < 1024 * 1024
    error = refused("bomb.xlsx", content)
    assert error.code == "zip_bomb"


def test_a_file_named_xlsx_that_is_not_a_zip_is_refused():
    assert refused("fake.xlsx", b"PK\x03\x04 not really a zip").code == "not_xlsx"
    assert refused("fake.xlsx", b"just text").code == "not_xlsx"


def test_mapping_errors_name_the_line():
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(MAPPING.replace("max: 100", "max: -1"))
    assert "mapping.yaml:8: score" in caught.value.detail
    with pytest.raises(MappingInvalid) as caught:
        parse_mapping(MAPPING + "colour: red\n")
    assert "mapping.yaml:11: colour" in caught.value.detail
    with pytest.raises(MappingInvalid):
        parse_mapping("learner: [unclosed\n")
