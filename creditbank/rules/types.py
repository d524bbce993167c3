"""Value types shared by the rule language and the standards format."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, StringConstraints, WithJsonSchema

from creditbank.kit.credits import parse_credits, parse_decimal

__all__ = ["Credits", "DecimalText", "Iri", "LocalizedText", "PositiveDecimal"]


def _as_value_error(parse: Callable[[object], Decimal]) -> Callable[[object], Decimal]:
    """``parse`` raising ``ValueError`` only, as pydantic validators must (not ``TypeError``)."""

    def validate(value: object) -> Decimal:
        try:
            return parse(value)
        except TypeError as exc:
            raise ValueError(str(exc)) from None

    return validate


_credits = _as_value_error(parse_credits)
_decimal = _as_value_error(parse_decimal)


def _decimal_text(value: Decimal) -> str:
    """Canonical text of a decimal: no exponent, no trailing zeros (``0.60`` → ``0.6``)."""
    text = format(value.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


_NUMBER_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"},
        {"type": "number"},
    ]
}

#: Credits: exact to the hundredth, never negative, always two places (``"6.0"`` → ``6.00``).
#: Written as text (``"6.0"``) or a YAML number, which the loader reads as a decimal, never
#: a float.
Credits = Annotated[
    Decimal,
    BeforeValidator(_credits),
    PlainSerializer(lambda value: f"{value:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": r"^\d+(\.\d{1,2})?$"},
                {"type": "number", "minimum": 0, "multipleOf": 0.01},
            ],
            "description": 'credits, exact to 0.01; write as text ("6.0")',
        }
    ),
]

#: Any finite decimal (scores, thresholds, hours), exact; serialised canonically as text.
DecimalText = Annotated[
    Decimal,
    BeforeValidator(_decimal),
    PlainSerializer(_decimal_text, return_type=str, when_used="json"),
    WithJsonSchema(_NUMBER_SCHEMA),
]


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError(f"must be greater than zero: {value}")
    return value


#: A decimal strictly greater than zero.
PositiveDecimal = Annotated[DecimalText, BeforeValidator(lambda v: _positive(_decimal(v)))]

#: An absolute IRI (``scheme:rest``), compared exactly as text.
Iri = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s]+$", max_length=2048)
]

#: Non-empty single-line-ish text.
LocalizedText = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
