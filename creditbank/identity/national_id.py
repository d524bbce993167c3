"""Resident identity card numbers (GB 11643-1999): 17 digits and an ISO 7064 MOD 11-2 check."""

from __future__ import annotations

import re
from datetime import date

from creditbank.errors import BadRequest

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_character(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK[total % 11]


def normalise_national_id(value: str) -> str:
    """The upper-cased 18-character number, or ``BadRequest`` (code ``invalid_national_id``).

    Checks the shape, the birth date (characters 7-14) and the check character.
    """
    number = value.strip().upper()
    if not _SHAPE.match(number):
        raise BadRequest(
            "national ID must be 17 digits and a check digit or X / 身份证号码应为18位",
            code="invalid_national_id",
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise BadRequest(
            "national ID has an impossible birth date / 身份证号码出生日期无效",
            code="invalid_national_id",
        ) from None
    if born.year < 1900 or born > date.today():
        raise BadRequest(
            "national ID has an impossible birth date / 身份证号码出生日期无效",
            code="invalid_national_id",
        )
    if check_character(number[:17]) != number[17]:
        raise BadRequest(
            "national ID check digit is wrong / 身份证号码校验位错误", code="invalid_national_id"
        )
    return number
