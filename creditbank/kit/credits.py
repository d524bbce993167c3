"""Credits as exact decimals: parsing, hundredths and rounding down to a step.

The one credits module of the bank (rules, ledger, conversions and the ``Credits``
column type use it). Credits are ``Decimal`` in code and integer hundredths of a
credit in storage; a float anywhere is a bug, so every helper here refuses one.

- ``parse_credits(v)``: non-negative credits from text/int/Decimal, as ``x.xx``;
- ``parse_amount(v)``: the same, signed (a ledger adjustment may be negative);
- ``to_hundredths(d)`` / ``from_hundredths(n)``: exact, refusing sub-hundredths.
"""

from __future__ import annotations

from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, ROUND_FLOOR, Context, Decimal, InvalidOperation

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

#: Exact shifts of the decimal point (no rounding at any size), for hundredths.
_EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)


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
    # Moving the point two places is exact in _EXACT (no precision to round to); what
    # is left after the point then is a sub-hundredth.
    scaled = value.scaleb(2, _EXACT)
    hundredths = int(scaled)
    if scaled != hundredths:
        raise CreditsNotRepresentable(f"credits {value} are not a whole number of hundredths")
    return hundredths


def from_hundredths(value: int) -> Decimal:
    """``Decimal`` credits with exactly two places from a whole number of hundredths."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"hundredths must be an int, not {type(value).__name__}")
    return Decimal(value).scaleb(-2, _EXACT)


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded down to a whole multiple of ``step`` (``1.25``, ``0.5`` → ``1.0``)."""
    if step <= 0:
        raise ValueError(f"step must be positive: {step}")
    steps = CONTEXT.divide(value, step).to_integral_value(rounding=ROUND_FLOOR)
    return CONTEXT.multiply(steps, step)
