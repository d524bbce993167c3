"""Preview and commit through /api/v1 on both databases; statements land in the LRS."""

from __future__ import annotations

import pytest

from tests.imports.conftest import XAPI, basic
from tests.imports.files import MAPPING, ROWS, csv_bytes, xlsx_bytes, zip_bomb_xlsx

BASE = "/api/v1/institutions/fxvs/imports"


async def preview(client, demo, filename, content, mapping=MAPPING, who="fxvs"):
    return await client.post(
        BASE,
        files={
            "file": (filename, content, "application/octet-stream"),
            "mapping": ("mapping.yaml", mapping.encode(), "application/yaml"),
        },
        auth=basic(demo, who),
    )


async def stored(client, demo, who="fxvs"):
    response = await client.get("/xapi/statements", headers=XAPI, auth=basic(demo, who))
    assert response.status_code == 200, response.text
    return response.json()["statements"]


async def test_preview_then_commit_stores_the_rows_as_the_institutions_statements(client, demo):
    response = await preview(client, demo, "grades.csv", csv_bytes(encoding="gb18030"))
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["rows"], body["valid"], body["error_count"]) == (
        "preview",
        3,
        3,
        0,
    )
    assert (body["new"], body["unchanged"], body["conflicts"]) == (3, 0, 0)
    assert body["encoding"] == "gb18030"
    assert await stored(client, demo) == []

    commit = await client.post(f"{BASE}/{body['id']}/commit", auth=basic(demo, "fxvs"))
    assert commit.status_code == 200, commit.text
    assert commit.json()["status"] == "committed"
    assert commit.json()["result"] == {
        "created": 3,
        "unchanged": 0,
        "conflicts": 0,
        "duplicate_rows": 0,
    }
    statements = await stored(client, demo)
    assert len(statements) == 3
    elec = next(s for s in statements if s["actor"]["account"]["name"] == "2024001")
    assert elec["object"]["id"].endswith("/cert-elec-4-assessment")
    assert elec["result"]["score"]["scaled"] == 0.82
    assert elec["authority"]["account"] == {
        "homePage": "https://fxvs.example.edu.cn",
        "name": "import",
    }
    # Committing again is a no-op answering the same result.
    again = await client.post(f"{BASE}/{body['id']}/commit", auth=basic(demo, "fxvs"))
    assert again.status_code == 200
    assert again.json()["result"]["created"] == 3
    assert len(await stored(client, demo)) == 3


async def test_reimport_stores_nothing_and_a_changed_row_is_a_conflict(client, demo):
    first = (await preview(client, demo, "g.xlsx", xlsx_bytes())).json()
    await client.post(f"{BASE}/{first['id']}/commit", auth=basic(demo, "fxvs"))
    before = await stored(client, demo)

    same = (await preview(client, demo, "g.csv", csv_bytes(bom=True))).json()
    assert (same["new"], same["unchanged"], same["conflicts"]) == (0, 3, 0)
    done = (await client.post(f"{BASE}/{same['id']}/commit", auth=basic(demo, "fxvs"))).json()
    assert done["result"]["created"] == 0

    changed_rows = [[*ROWS[0][:3], "99", *ROWS[0][4:]], *ROWS[1:]]
    changed = (await preview(client, demo, "g2.csv", csv_bytes(changed_rows))).json()
    assert (changed["new"], changed["unchanged"], changed["conflicts"]) == (0, 2, 1)
    assert changed["conflict_rows"][0]["row"] == 2
    assert changed["conflict_rows"][0]["message"]["en"].startswith("this record was imported")
    done = (await client.post(f"{BASE}/{changed['id']}/commit", auth=basic(demo, "fxvs"))).json()
    assert done["result"] == {"created": 0, "unchanged": 2, "conflicts": 1, "duplicate_rows": 0}
    after = await stored(client, demo)
    assert sorted(s["id"] for s in after) == sorted(s["id"] for s in before)
    elec = next(s for s in after if s["actor"]["account"]["name"] == "2024001")
    assert elec["result"]["score"]["raw"] == 82  # not overwritten


async def test_row_errors_are_listed_and_block_the_commit(client, demo):
    rows = [ROWS[0], ["2024009", "", "通过", "abc", "1", "2024-03-01"]]
    body = (await preview(client, demo, "bad.csv", csv_bytes(rows))).json()
    assert body["error_count"] == 2
    assert body["errors"][0] == {
        "row": 3,
        "column": "课程代码",
        "value": None,
        "code": "required",
        "message": {"zh-CN": "课程代码为空", "en": "the course code is empty"},
    }
    assert body["errors"][1]["column"] == "成绩"
    assert body["errors"][1]["value"] == "abc"
    commit = await client.post(f"{BASE}/{body['id']}/commit", auth=basic(demo, "fxvs"))
    assert commit.status_code == 409
    assert commit.json()["error"] == "import_has_errors"
    assert await stored(client, demo) == []


@pytest.mark.parametrize(
    ("filename", "content", "mapping", "code"),
    [
        ("g.csv", csv_bytes(encoding="gb18030"), "encoding: utf-8\n" + MAPPING, "wrong_encoding"),
        (
            "g.csv",
            csv_bytes(header=["学号", "日期"], rows=[["1", "2024-01-01"]]),
            MAPPING,
            "missing_columns",
        ),
        (
            "f.xlsx",
            xlsx_bytes([["1", "ELEC4", "通过", "=1+1", 1, "2024-03-01"]]),
            MAPPING,
            "formula_cell",
        ),
        ("e.xlsx", xlsx_bytes(empty=True), MAPPING, "empty_sheet"),
        ("w.csv", (",".join(["c"] * 1_000_000) + "\n").encode(), MAPPING, "too_many_columns"),
        ("bomb.xlsx", zip_bomb_xlsx(), MAPPING, "zip_bomb"),
        ("g.csv", csv_bytes(), MAPPING.replace("max: 100", "max: 0"), "mapping_invalid"),
        (
            "g.csv",
            csv_bytes(),
            MAPPING.replace("fxvs\n", "mooc1\n", 1),
            "mapping_institution_mismatch",
        ),
    ],
    ids=[
        "encoding",
        "columns",
        "formula",
        "empty",
        "million-columns",
        "zip-bomb",
        "mapping",
        "other-institution-mapping",
    ],
)
async def test_malformed_files_are_refused_and_nothing_is_stored(
    client, demo, filename, content, mapping, code
):
    response = await preview(client, demo, filename, content, mapping)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == code
    listing = await client.get(BASE, auth=basic(demo, "fxvs"))
    assert listing.json() == []
    assert await stored(client, demo) == []


async def test_only_the_institution_or_the_operator_imports(client, demo):
    response = await preview(client, demo, "g.csv", csv_bytes(), who="mooc1")
    assert response.status_code == 403
    body = (await preview(client, demo, "g.csv", csv_bytes())).json()
    other = await client.post(f"{BASE}/{body['id']}/commit", auth=basic(demo, "mooc1"))
    assert other.status_code == 403
    other_path = f"/api/v1/institutions/mooc1/imports/{body['id']}/commit"
    assert (await client.post(other_path, auth=basic(demo, "mooc1"))).status_code == 404
