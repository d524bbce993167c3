"""Parameter types the bank's JSON API shares.

``ApiDateTime``: a date-time in a query parameter is ISO 8601 **with a time zone**
(``Z`` or ``+08:00``). A naive one is refused rather than guessed (is
``2024-01-01T00:00:00`` Beijing time or UTC? for a balance ``as_of`` the answer
changes the credits shown), as are Unix-epoch numbers (``as_of=-163162``) and
instants that fall outside the years 1 to 9999 in UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_ISO = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?"
    r"([Zz]|[+-][0-9]{2}:?[0-9]{2})$"
)


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _ISO.match(value):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None
    else:
        raise ValueError(
            "must be an ISO 8601 date-time with a time zone, e.g. 2024-09-01T00:00:00+08:00"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("needs a time zone (Z or an offset such as +08:00)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range: in UTC it falls outside the years 1 to 9999") from None


ApiDateTime = Annotated[datetime, BeforeValidator(_aware_datetime)]
