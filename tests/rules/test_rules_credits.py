"""Credits helpers: exact hundredths, refusing floats and finer values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbank.kit.credits import (
    CreditsNotRepresentable,
    floor_to_step,
    from_hundredths,
    parse_credits,
    to_hundredths,
)


class TestToHundredths:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [("6.0", 600), ("0.5", 50), ("0.01", 1), ("0", 0), ("-1.25", -125), ("1E+2", 10000)],
    )
    def test_exact(self, value, expected):
        assert to_hundredths(Decimal(value)) == expected

    @pytest.mark.parametrize("value", ["0.001", "1.005", "0.125", "NaN", "Infinity"])
    def test_refuses_what_is_not_hundredths(self, value):
        with pytest.raises(CreditsNotRepresentable):
            to_hundredths(Decimal(value))

    def test_refuses_float(self):
        with pytest.raises(TypeError):
            to_hundredths(0.5)  # type: ignore[arg-type]

    def test_huge_values_stay_exact(self):
        assert to_hundredths(Decimal("12345678901234567890123456789012345678.91")) == (
            1234567890123456789012345678901234567891
        )


class TestFromHundredths:
    def test_two_places(self):
        assert str(from_hundredths(600)) == "6.00"
        assert str(from_hundredths(-5)) == "-0.05"
        assert str(from_hundredths(0)) == "0.00"

    @pytest.mark.parametrize("value", [1.0, True, "100"])
    def test_refuses_non_int(self, value):
        with pytest.raises(TypeError):
            from_hundredths(value)


class TestParseCredits:
    @pytest.mark.parametrize(("value", "expected"), [("6.0", "6.00"), (3, "3.00"), ("0.5", "0.50")])
    def test_parses(self, value, expected):
        assert str(parse_credits(value)) == expected

    @pytest.mark.parametrize("value", [6.0, True])
    def test_refuses_float_and_bool(self, value):
        with pytest.raises(TypeError):
            parse_credits(value)

    @pytest.mark.parametrize("value", ["-1", "0.001", "abc"])
    def test_refuses_bad_values(self, value):
        with pytest.raises(ValueError):  # noqa: PT011 - CreditsNotRepresentable is a ValueError
            parse_credits(value)


class TestFloorToStep:
    @pytest.mark.parametrize(
        ("value", "step", "expected"),
        [("1.25", "0.5", "1.0"), ("2.5", "0.5", "2.5"), ("0.49", "0.5", "0"), ("7", "2", "6")],
    )
    def test_rounds_down(self, value, step, expected):
        assert floor_to_step(Decimal(value), Decimal(step)) == Decimal(expected)


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_hundredths_round_trip_from_int(value):
    assert to_hundredths(from_hundredths(value)) == value


@given(
    st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2, allow_nan=False)
)
def test_hundredths_round_trip_from_decimal(value):
    assert from_hundredths(to_hundredths(value)) == value


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=1, max_value=9))
def test_thousandths_are_refused(hundredths, thousandth):
    value = from_hundredths(hundredths) + Decimal(thousandth) / 1000
    with pytest.raises(CreditsNotRepresentable):
        to_hundredths(value)
