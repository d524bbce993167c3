"""The learner's transcript pages (issue, view, signed file, PDF) and the public verify
page, over real HTTP (ASGI) on both databases."""

from __future__ import annotations

import base64
import io
import json
import re
import uuid

import pytest

from tests.portal.helpers_portal import (
    csrf_of,
    figure,
    load_story,
    sign_in,
    sign_in_as_another_learner,
)

pypdf = pytest.importorskip("pypdf")

TRANSCRIPT = re.compile(r"/me/transcripts/([0-9a-f-]{36})")


async def _issued(client, demo) -> tuple[str, str]:
    """Sign in as 李娜, issue a transcript from her page: ``(id, its page's HTML)``."""
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    listing = await client.get("/me/transcripts")
    assert listing.status_code == 200
    assert "签发新的学习成果证明" in listing.text
    issued = await client.post("/me/transcripts", data={"csrf_token": csrf_of(listing.text)})
    assert issued.status_code == 303
    found = TRANSCRIPT.search(issued.headers["location"])
    assert found
    page = await client.get(issued.headers["location"])
    assert page.status_code == 200
    return found.group(1), page.text


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["creditTotals"]["banked"] = 99
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{forged}.{signature}"


async def test_li_na_issues_opens_and_downloads_her_transcript(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, html = await _issued(client, demo)

    # the human view: status, issuer, totals, outcomes and the C1 conversion, in Chinese
    assert '<html lang="zh-CN">' in html
    assert "学习成果证明已签发" in html
    assert 'data-status="valid"' in html
    assert "终身学习学分银行" in html
    assert figure(html, "transcript-banked") == "10.0"
    assert figure(html, "transcript-available") == "4.0"
    for unit in ("CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1"):
        assert f'data-unit="{unit}"' in html
    assert "HBOU-EE-101" in html
    assert f'href="/verify/{transcript_id}"' in html

    listing = await client.get("/me/transcripts")
    assert f'data-transcript="{transcript_id}"' in listing.text

    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get(f"/me/transcripts/{transcript_id}")
    assert '<html lang="en">' in english.text
    assert "Learning outcomes" in english.text
    assert "Credit conversions" in english.text
    assert "Valid" in english.text

    # the signed file: the VC-JWT the API hands out, and it verifies
    signed = await client.get(f"/me/transcripts/{transcript_id}.jwt")
    assert signed.status_code == 200
    assert signed.headers["content-type"].startswith("application/jwt")
    assert f"transcript-{transcript_id}.jwt" in signed.headers["content-disposition"]
    assert signed.text.count(".") == 2
    report = await client.post(
        "/api/v1/verify", content=signed.text, headers={"content-type": "text/plain"}
    )
    assert report.json()["valid"] is True

    # the PDF: Chinese text, the CJK font embedded (a subset), the QR code an image
    pdf = await client.get(f"/me/transcripts/{transcript_id}.pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(pdf.content))
    # pypdf reads the two-byte codes of fpdf2's embedded encoding CMap a byte at a time
    # (NULs between the characters; poppler's pdftotext reads them whole).
    text = re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in reader.pages))
    for words in ("学习成果证明", "累计学分", "CERT-ELEC-4", transcript_id, "有效"):
        assert words in text, words
    assert f"/verify/{transcript_id}" in text
    first = reader.pages[0]
    fonts = [f.get_object() for f in first["/Resources"]["/Font"].values()]
    assert fonts
    for font in fonts:
        assert "+" in font["/BaseFont"]  # a subset
        descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor.keys())
    assert len(first.images) >= 1  # the QR code


async def test_another_learner_cannot_open_li_nas_transcript(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, html = await _issued(client, demo)
    await client.post("/logout", data={"csrf_token": csrf_of(html)})
    await sign_in_as_another_learner(client, db, settings, "zhangwei-t")
    for suffix in ("", ".jwt", ".pdf"):
        response = await client.get(f"/me/transcripts/{transcript_id}{suffix}")
        assert response.status_code in (403, 404), suffix
        assert response.headers["content-type"].startswith("text/html")
    mine = await client.get("/me/transcripts")
    assert transcript_id not in mine.text


async def test_an_employer_verifies_without_signing_in(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, _ = await _issued(client, demo)
    token = (await client.get(f"/me/transcripts/{transcript_id}.jwt")).text
    client.cookies.clear()

    form = await client.get("/verify")
    assert form.status_code == 200
    assert 'for="transcript"' in form.text
    assert 'for="file"' in form.text
    csrf = csrf_of(form.text)

    pasted = await client.post("/verify", data={"csrf_token": csrf, "transcript": token})
    assert pasted.status_code == 200
    assert 'data-valid="true"' in pasted.text
    assert "终身学习学分银行" in pasted.text
    assert 'data-unit="CERT-ELEC-4"' in pasted.text
    assert figure(pasted.text, "transcript-banked") == "10.0"

    as_json = await client.post(
        "/verify", data={"csrf_token": csrf, "transcript": json.dumps({"vc_jwt": token})}
    )
    assert 'data-valid="true"' in as_json.text

    uploaded = await client.post(
        "/verify",
        data={"csrf_token": csrf},
        files={"file": ("transcript.jwt", token.encode(), "application/jwt")},
    )
    assert 'data-valid="true"' in uploaded.text

    # the QR link: the verification of that transcript's signed form
    linked = await client.get(f"/verify/{transcript_id}")
    assert linked.status_code == 200
    assert 'data-valid="true"' in linked.text
    assert 'data-unit="MOOC-PY-1"' in linked.text

    # in English too
    await client.get("/lang", params={"to": "en", "next": "/verify"})
    english = await client.get(f"/verify/{transcript_id}")
    assert '<html lang="en">' in english.text
    assert "What this transcript proves" in english.text


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("tampered", None),
        ("garbage", "verify_unparseable"),
        ("{not json", "verify_not_json"),
        ('{"name": "x"}', "verify_no_token"),
        ("a.b.c", "verify_unparseable"),
    ],
)
async def test_bad_input_is_not_valid_with_its_reason_never_an_error(
    client, db, settings, given, reason
):
    demo = await load_story(db, settings)
    transcript_id, _ = await _issued(client, demo)
    token = (await client.get(f"/me/transcripts/{transcript_id}.jwt")).text
    client.cookies.clear()
    csrf = csrf_of((await client.get("/verify")).text)
    text = _tampered(token) if given == "tampered" else given
    response = await client.post("/verify", data={"csrf_token": csrf, "transcript": text})
    assert response.status_code == 200
    assert 'data-valid="false"' in response.text
    assert "无效" in response.text
    assert 'data-unit="' not in response.text  # nothing unproven is shown
    if reason:
        assert f'data-reason="{reason}"' in response.text
    else:
        assert 'data-check="signature" data-valid="false"' in response.text
        assert "签名" in response.text


async def test_verify_page_edge_cases(client, db, settings):
    await load_story(db, settings)
    form = await client.get("/verify")
    csrf = csrf_of(form.text)
    empty = await client.post("/verify", data={"csrf_token": csrf, "transcript": "  "})
    assert empty.status_code == 400
    assert 'id="transcript-error"' in empty.text
    binary = await client.post(
        "/verify",
        data={"csrf_token": csrf},
        files={"file": ("x.jwt", b"\xff\xfe\x00bad", "application/octet-stream")},
    )
    assert 'data-reason="verify_not_text"' in binary.text
    unknown = await client.get(f"/verify/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert 'data-reason="verify_unknown_id"' in unknown.text
    not_an_id = await client.get("/verify/not-a-uuid")
    assert not_an_id.status_code == 404
    assert not_an_id.headers["content-type"].startswith("text/html")
    forged = await client.post("/verify", data={"transcript": "a.b.c"})
    assert forged.status_code == 403


def test_the_view_reads_what_an_sd_jwt_share_disclosed():
    from api.portal import transcript_view

    view = transcript_view.read(
        {
            "iss": "https://bank.example",
            "jti": "urn:uuid:00000000-0000-4000-8000-000000000001",
            "vct": "https://bank.example/vct/transcript",
            "nbf": 1764633600,
            "as_of": "2025-12-02T00:00:00Z",
            "achievements": [
                {
                    "name": "电工 / Electrician",
                    "credentialSubject": {
                        "creditsEarned": 6,
                        "achievement": {"humanCode": "CERT-ELEC-4", "name": "电工"},
                    },
                }
            ],
            "conversions": [],
        }
    )
    assert view is not None
    assert [o.unit_code for o in view.outcomes] == ["CERT-ELEC-4"]
    assert view.outcomes[0].title("en") == "Electrician"
    assert view.totals == {}  # credit totals were not disclosed
    assert view.subject == ""
    assert view.valid_from.startswith("2025-12-02")
    assert transcript_view.read("not json") is None
    assert transcript_view.read(["a list"]) is None  # type: ignore[arg-type]
