"""An identity link accepts exactly the agents the LRS accepts (one validation, the LRS's)."""

from __future__ import annotations

from typing import Any

import pytest

from creditbank.errors import BadRequest
from creditbank.identity.links import canonical_ifi
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.validate import validate_agent

HOME = "https://fxvs.example.edu.cn"
AGENTS: list[Any] = [
    {"objectType": "Agent", "account": {"homePage": HOME, "name": "FX2020077"}},
    {"account": {"homePage": HOME, "name": "FX2020077"}, "name": "李娜"},
    {"mbox": "mailto:li.na@example.cn"},
    {"mbox": "mailto:li.na@localhost"},  # no dot in the domain: the LRS stores it
    {"mbox": "li.na@example.cn"},  # not a mailto IRI
    {"mbox_sha1sum": "a" * 40},
    {"mbox_sha1sum": "a" * 39},
    {"openid": "https://openid.example.cn/li.na"},
    {"openid": "not an iri"},
    {"account": {"homePage": "not an iri", "name": "x"}},
    {"account": {"homePage": HOME}},
    {"account": {"homePage": HOME, "name": "x", "extra": 1}},
    {"mbox": "mailto:a@b.cn", "openid": "https://openid.example.cn/a"},  # two IFIs
    {"name": "nobody"},  # no IFI
    {"objectType": "Group", "member": [{"mbox": "mailto:a@b.cn"}]},
    {"mbox": "mailto:a@b.cn", "unknown": True},
    "mailto:a@b.cn",
]


def _lrs_accepts(agent: Any) -> bool:
    try:
        validate_agent(agent, path="agent", allow_group=False)
    except XAPIValidationError:
        return False
    return True


@pytest.mark.parametrize("agent", AGENTS, ids=[repr(a)[:60] for a in AGENTS])
def test_links_and_the_lrs_agree(agent: Any) -> None:
    if _lrs_accepts(agent):
        canonical_ifi(agent)
    else:
        with pytest.raises(BadRequest) as refused:
            canonical_ifi(agent)
        assert refused.value.code == "invalid_agent"


def test_the_ifi_key_is_the_lrs_key() -> None:
    assert canonical_ifi({"mbox": "mailto:Li.Na@Example.cn"}) == (
        "mbox:mailto:li.na@example.cn",
        "mbox",
    )
    assert canonical_ifi({"account": {"homePage": HOME, "name": "FX1"}}) == (
        f"account:{HOME}|FX1",
        "account",
    )
