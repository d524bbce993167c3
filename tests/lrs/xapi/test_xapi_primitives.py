"""IRIs, RFC 5646 language tags, UUIDs, ISO 8601 durations and timestamps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbank.lrs.xapi import (
    XAPIValidationError,
    is_uuid,
    parse_duration,
    parse_timestamp,
    validate_agent,
    validate_iri,
    validate_language_map,
)
from creditbank.lrs.xapi.validate import (
    is_language_tag,
    validate_duration,
    validate_extensions,
    validate_timestamp,
)


class TestErrors:
    def test_str_is_path_and_message(self):
        error = XAPIValidationError("$.actor.mbox", "is not a mailto IRI")
        assert str(error) == "$.actor.mbox: is not a mailto IRI"
        assert error.path == "$.actor.mbox"
        assert error.message == "is not a mailto IRI"
        assert isinstance(error, ValueError)


class TestIri:
    @pytest.mark.parametrize(
        "value",
        [
            "http://adlnet.gov/expapi/verbs/passed",
            "https://uni.example.cn/课程/高等数学",
            "urn:uuid:8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "mailto:li.na@example.cn",
            "tag:example.cn,2024:credit",
            "http://example.com/xapi/verbs#defenestrated",
            "https://x.cn/a%20b",
        ],
    )
    def test_valid(self, value):
        assert validate_iri(value, "$.verb.id") == value

    @pytest.mark.parametrize(
        ("value", "fragment"),
        [
            ("", "empty"),
            ("passed", "no scheme"),
            ("/expapi/verbs/passed", "no scheme"),
            ("1http://x.cn", "no scheme"),
            ("http://x.cn/a b", "not a valid IRI"),
            ("http://x.cn/<a>", "not a valid IRI"),
            ('http://x.cn/"a"', "not a valid IRI"),
            ("http://x.cn/a%2", "percent"),
            ("http:", "not a valid IRI"),
        ],
    )
    def test_invalid(self, value, fragment):
        with pytest.raises(XAPIValidationError, match=fragment) as info:
            validate_iri(value, "$.verb.id")
        assert info.value.path == "$.verb.id"

    @pytest.mark.parametrize("value", [None, 1, True, ["http://x.cn"], {"id": "http://x.cn"}])
    def test_must_be_string(self, value):
        with pytest.raises(XAPIValidationError, match="must be an IRI string"):
            validate_iri(value, "$.verb.id")


class TestLanguageTags:
    @pytest.mark.parametrize(
        "tag",
        [
            "zh",
            "zh-CN",
            "zh-Hans",
            "zh-Hans-CN",
            "zh-yue-HK",
            "yue-Hant-HK",
            "en-US",
            "EN-us",
            "es-419",
            "de-CH-1901",
            "sl-rozaj-biske",
            "en-a-bbb-x-a-ccc",
            "x-whatever",
            "qaa-Qaaa-QM-x-southern",
            "i-klingon",
            "zh-min-nan",
            "en-GB-oed",
            "und",
        ],
    )
    def test_valid(self, tag):
        assert is_language_tag(tag)

    @pytest.mark.parametrize(
        "tag",
        ["", "z", "zh_CN", "zh-", "-CN", "en--US", "abcdefghi", "123", "en-US-", "zh CN", "中文"],
    )
    def test_invalid(self, tag):
        assert not is_language_tag(tag)

    def test_language_map_with_chinese(self):
        assert validate_language_map({"zh-CN": "通过", "en-US": "passed"}, "$") == {
            "zh-CN": "通过",
            "en-US": "passed",
        }

    def test_language_map_returns_a_copy(self):
        raw = {"zh-CN": "通过"}
        out = validate_language_map(raw, "$")
        assert out == raw
        assert out is not raw

    def test_language_map_bad_key_path(self):
        with pytest.raises(XAPIValidationError) as info:
            validate_language_map({"zh-CN": "通过", "zh_TW": "通過"}, "$[3].object.definition.name")
        assert info.value.path == "$[3].object.definition.name.zh_TW"


class TestUuid:
    @pytest.mark.parametrize(
        "value",
        [
            "8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "8F87CCDE-BB56-4C2E-AB83-44982EF22DF0",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # version 1
            "01890a5d-ac96-774b-bcce-b302099a8057",  # version 7
        ],
    )
    def test_valid(self, value):
        assert is_uuid(value)

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "8f87ccde-bb56-4c2e-ab83-44982ef22df",
            "8f87ccdebb564c2eab8344982ef22df0",
            "urn:uuid:8f87ccde-bb56-4c2e-ab83-44982ef22df0",
            "8f87ccde-bb56-4c2e-cb83-44982ef22df0",  # variant 110 (Microsoft)
            "8f87ccde-bb56-0c2e-ab83-44982ef22df0",  # version 0
            "00000000-0000-0000-0000-000000000000",
            "8f87ccde-bb56-4c2e-ab83-44982ef22dfg",
            None,
            12,
        ],
    )
    def test_invalid(self, value):
        assert not is_uuid(value)


class TestDuration:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            ("PT4H35M59.14S", 16559.14),
            ("PT16559.14S", 16559.14),
            ("P3Y1M29DT4H35M59.14S", 3 * 365 * 86400 + 30 * 86400 + 29 * 86400 + 16559.14),
            ("P3Y", 3 * 365 * 86400),
            ("P4W", 4 * 7 * 86400),
            ("PT0S", 0),
            ("PT0.5S", 0.5),
            ("PT0,5S", 0.5),
            ("P1D", 86400),
            ("PT1.5H", 5400),
            ("P0.5Y", 365 * 86400 / 2),
        ],
    )
    def test_parse(self, value, seconds):
        assert parse_duration(value) == pytest.approx(seconds)

    @pytest.mark.parametrize(
        "value",
        [
            "",
            "P",
            "PT",
            "P1DT",
            "P4W1D",
            "PT1.5H30M",
            "1H",
            "pt1h",
            "PT-1S",
            "PT1S ",
            "P0003-06-04T12:30:05",
            "PT1H30",
            "P1S",
            "PT1Y",
        ],
    )
    def test_invalid(self, value):
        with pytest.raises(XAPIValidationError):
            parse_duration(value)
        with pytest.raises(XAPIValidationError) as info:
            validate_duration(value, "$.result.duration")
        assert info.value.path == "$.result.duration"

    @given(
        years=st.none() | st.integers(0, 50),
        months=st.none() | st.integers(0, 24),
        days=st.none() | st.integers(0, 400),
        hours=st.none() | st.integers(0, 48),
        minutes=st.none() | st.integers(0, 120),
        centis=st.none() | st.integers(0, 10**7),
    )
    def test_round_trip(self, years, months, days, hours, minutes, centis):
        date = "".join(
            f"{value}{unit}"
            for value, unit in ((years, "Y"), (months, "M"), (days, "D"))
            if value is not None
        )
        time = "".join(
            f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M")) if value is not None
        )
        if centis is not None:
            time += f"{centis // 100}.{centis % 100:02d}S"
        text = "P" + date + (f"T{time}" if time else "")
        if text == "P":
            text = "PT0S"
        expected = (
            (years or 0) * 365 * 86400
            + (months or 0) * 30 * 86400
            + (days or 0) * 86400
            + (hours or 0) * 3600
            + (minutes or 0) * 60
            + (centis or 0) / 100
        )
        validate_duration(text, "$")
        assert parse_duration(text) == pytest.approx(expected)

    @given(weeks=st.integers(0, 10**6))
    def test_weeks_round_trip(self, weeks):
        assert parse_duration(f"P{weeks}W") == weeks * 7 * 86400


class TestTimestamp:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("2024-06-30T09:15:00Z", datetime(2024, 6, 30, 9, 15, tzinfo=UTC)),
            ("2024-06-30T09:15:00+08:00", datetime(2024, 6, 30, 1, 15, tzinfo=UTC)),
            ("2024-06-30T09:15:00.123+08:00", datetime(2024, 6, 30, 1, 15, 0, 123000, tzinfo=UTC)),
            ("2024-06-30T09:15:00.1234567Z", datetime(2024, 6, 30, 9, 15, 0, 123456, tzinfo=UTC)),
            ("2024-06-30T09:15:00-05:30", datetime(2024, 6, 30, 14, 45, tzinfo=UTC)),
            ("2024-06-30t09:15:00z", datetime(2024, 6, 30, 9, 15, tzinfo=UTC)),
            ("20240630T091500Z", datetime(2024, 6, 30, 9, 15, tzinfo=UTC)),
            ("20240630T091500+0800", datetime(2024, 6, 30, 1, 15, tzinfo=UTC)),
            ("2024-06-30T09:15Z", datetime(2024, 6, 30, 9, 15, tzinfo=UTC)),
            ("2024-06-30T09:15:00+08", datetime(2024, 6, 30, 1, 15, tzinfo=UTC)),
            ("2016-12-31T23:59:60Z", datetime(2017, 1, 1, tzinfo=UTC)),
        ],
    )
    def test_parse_is_utc_aware(self, value, expected):
        parsed = parse_timestamp(value)
        assert parsed == expected
        assert parsed.utcoffset() == timedelta(0)
        assert validate_timestamp(value, "$") == value

    @pytest.mark.parametrize(
        "value",
        [
            "2024-06-30T09:15:00",
            "2024-06-30",
            "2024-06-30 09:15:00Z",
            "2024-06-30T9:15:00Z",
            "2024-06-31T09:15:00Z",
            "2024-06-30T24:00:00Z",
            "2024-06-30T09:60:00Z",
            "2024-06-30T09:15:00+24:00",
            "2024-06-30T09:15:00-00:00",
            "2024-06-30T09:15:00.Z",
            "0000-01-01T00:00:00Z",
            "now",
            "",
        ],
    )
    def test_invalid(self, value):
        with pytest.raises(XAPIValidationError):
            parse_timestamp(value)
        with pytest.raises(XAPIValidationError) as info:
            validate_timestamp(value, "$.timestamp")
        assert info.value.path == "$.timestamp"

    @pytest.mark.parametrize(
        "value",
        [
            "20240630T091500Z",
            "2024-06-30T09:15Z",
            "2024-06-30T09:15:00+0800",
            "2024-06-30T09:15:00+08",
            "2024-06-30T09:15:00,5Z",
        ],
    )
    def test_rfc3339_is_stricter(self, value):
        validate_timestamp(value, "$")
        with pytest.raises(XAPIValidationError, match="RFC 3339"):
            validate_timestamp(value, "$", rfc3339=True)

    @given(
        st.datetimes(
            min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
        )
    )
    def test_isoformat_round_trip(self, moment):
        assert parse_timestamp(moment.isoformat()) == moment
        validate_timestamp(moment.isoformat(), "$", rfc3339=True)


class TestExtensions:
    def test_keys_must_be_iris(self):
        with pytest.raises(XAPIValidationError) as info:
            validate_extensions({"https://x.cn/ok": 1, "credits": 2}, "$.context.extensions")
        assert info.value.path == '$.context.extensions["credits"]'

    def test_any_json_value(self):
        ext = {
            "https://x.cn/a": None,
            "https://x.cn/b": [1, "二", {"c": False}],
            "https://x.cn/d": 1.5,
        }
        assert validate_extensions(ext, "$") == ext


class TestValidateAgent:
    def test_agent(self):
        agent = {"account": {"homePage": "https://uni.example.cn", "name": "20230001"}}
        assert validate_agent(agent, path="agent") == agent

    def test_group_allowed_by_default(self):
        group = {"objectType": "Group", "mbox": "mailto:class1@uni.example.cn"}
        assert validate_agent(group, path="agent") == group

    def test_group_refused_when_not_allowed(self):
        group = {"objectType": "Group", "mbox": "mailto:class1@uni.example.cn"}
        with pytest.raises(XAPIValidationError) as info:
            validate_agent(group, path="agent", allow_group=False)
        assert info.value.path == "agent.objectType"

    def test_error_path_uses_given_root(self):
        with pytest.raises(XAPIValidationError) as info:
            validate_agent({"mbox": "li.na@example.cn"}, path="agent")
        assert str(info.value).startswith("agent.mbox: ")

    def test_unknown_property(self):
        with pytest.raises(XAPIValidationError) as info:
            validate_agent({"mbox": "mailto:a@x.cn", "email": "a@x.cn"}, path="agent")
        assert info.value.path == "agent.email"
