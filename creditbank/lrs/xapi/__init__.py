"""Pure xAPI data model: validation, IFI keys, statement comparison and formats.

No database and no HTTP here; the statement store and the API build on these functions.
"""

from creditbank.lrs.xapi.compare import statements_equivalent
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.format import format_statement, parse_accept_language
from creditbank.lrs.xapi.ifi import agent_ifi, group_member_ifis, ifi_to_agent
from creditbank.lrs.xapi.validate import (
    is_uuid,
    parse_duration,
    parse_timestamp,
    validate_agent,
    validate_iri,
    validate_language_map,
    validate_statement,
)

__all__ = [
    "XAPIValidationError",
    "agent_ifi",
    "format_statement",
    "group_member_ifis",
    "ifi_to_agent",
    "is_uuid",
    "parse_accept_language",
    "parse_duration",
    "parse_timestamp",
    "statements_equivalent",
    "validate_agent",
    "validate_iri",
    "validate_language_map",
    "validate_statement",
]
