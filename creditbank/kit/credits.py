"""Credits as exact decimals: parsing, hundredths and rounding down to a step.

The one credits module of the bank (rules, ledger, conversions and the ``Credits``
column type use it). Credits are ``Decimal`` in code and integer hundredths of a
credit in storage; a float anywhere is a bug, so every helper here refuses one.

- ``parse_credits(v)``: non-negative credits from text/int/Decimal, as ``x.xx``;
- ``parse_amount(v)``: the same, signed (a ledger adjustment may be negative);
- ``to_hundredths(d)`` / ``from_hundredths(n)``: exact, refusing sub-hundredths.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation

__all__ = [
    "HUNDREDTH",
    "ZERO",
    "CreditsNotRepresentable",
    "floor_to_step",
    "from_hundredths",
    "parse_amount",
    "parse_credits",
    "parse_decimal",
    "to_hundredths",
]

HUNDREDTH = Decimal("0.01")
ZERO = Decimal("0.00")

#: One context for every computation here, so a caller's ``decimal`` context cannot
#: change a result (34 digits, as IEEE 754 decimal128).
CONTEXT = Context(prec=34)


class CreditsNotRepresentable(ValueError):
    """A credit value that is not a finite, non-negative whole number of hundredths."""


def parse_decimal(value: object) -> Decimal:
    """A finite ``Decimal`` from ``Decimal``, ``int`` or decimal text; floats are refused."""
    if isinstance(value, bool | float):
        raise TypeError(f"expected a decimal number written as text or an integer, not {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal number") from None
    else:
        raise TypeError(f"expected a decimal number, not {type(value).__name__}")
    if not result.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return result


def parse_credits(value: object) -> Decimal:
    """Credits from text/int/Decimal, exact to the hundredth, non-negative, as ``x.xx``."""
    amount = parse_decimal(value)
    if amount < 0:
        raise CreditsNotRepresentable(f"credits must not be negative: {amount}")
    return from_hundredths(to_hundredths(amount))


def parse_amount(value: object) -> Decimal:
    """A signed credit amount from text/int/Decimal, exact to the hundredth, as ``x.xx``."""
    return from_hundredths(to_hundredths(parse_decimal(value)))


def to_hundredths(value: Decimal) -> int:
    """The exact number of hundredths in ``value``; refuses anything finer or non-finite."""
    if not isinstance(value, Decimal):
        raise TypeError(f"credits must be Decimal, not {type(value).__name__}")
    if not value.is_finite():
        raise CreditsNotRepresentable(f"credits must be finite: {value}")
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - finite values have an int exponent
        raise CreditsNotRepresentable(f"credits must be finite: {value}")
    magnitude = int("".join(map(str, digits)) or "0")
    shift = exponent + 2
    if shift >= 0:
        hundredths = magnitude * 10**shift
    else:
        hundredths, remainder = divmod(magnitude, 10**-shift)
        if remainder:
            raise CreditsNotRepresentable(f"credits {value} are not a whole number of hundredths")
    result: int = -hundredths if sign else hundredths
    return result


def from_hundredths(value: int) -> Decimal:
    """``Decimal`` credits with exactly two places from a whole number of hundredths."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"hundredths must be an int, not {type(value).__name__}")
    return Decimal((int(value < 0), tuple(int(d) for d in str(abs(value))), -2))


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a whole multiple of ``step`` (``1.25``, ``0.5`` → ``1.0``)."""
    if step <= 0:
        raise ValueError(f"step must be positive: {step}")
    steps = CONTEXT.divide(value, step).to_integral_value(rounding=ROUND_FLOOR)
    return CONTEXT.multiply(steps, step)
