"""Canonical IFI keys of Agents and Groups, and their reverse."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from creditbank.lrs.xapi import agent_ifi, group_member_ifis, ifi_to_agent, validate_agent

SHA1 = "1C8C6E3D0A0C5A3FBD9D1E0AD3A6C21F9A0E3B7D"


@pytest.mark.parametrize(
    ("agent", "key"),
    [
        ({"mbox": "mailto:Li.Na@Example.CN"}, "mbox:mailto:li.na@example.cn"),
        ({"mbox": "MAILTO:li.na@example.cn"}, "mbox:mailto:li.na@example.cn"),
        ({"mbox_sha1sum": SHA1}, f"mbox_sha1sum:{SHA1.lower()}"),
        ({"openid": "https://openid.example.cn/Li"}, "openid:https://openid.example.cn/Li"),
        (
            {"name": "李娜", "account": {"homePage": "https://uni.example.cn", "name": "Li.Na"}},
            "account:https://uni.example.cn|Li.Na",
        ),
        (
            {
                "objectType": "Group",
                "mbox": "mailto:class1@x.cn",
                "member": [{"mbox": "mailto:a@x.cn"}],
            },
            "mbox:mailto:class1@x.cn",
        ),
    ],
)
def test_agent_ifi(agent, key):
    assert agent_ifi(agent) == key


def test_anonymous_group_has_no_ifi():
    assert agent_ifi({"objectType": "Group", "member": [{"mbox": "mailto:a@x.cn"}]}) is None


def test_group_member_ifis():
    group = {
        "objectType": "Group",
        "member": [
            {"mbox": "mailto:A@x.cn"},
            {"account": {"homePage": "https://uni.example.cn", "name": "20230001"}},
        ],
    }
    assert group_member_ifis(group) == [
        "mbox:mailto:a@x.cn",
        "account:https://uni.example.cn|20230001",
    ]
    assert group_member_ifis({"objectType": "Group", "mbox": "mailto:g@x.cn"}) == []


@pytest.mark.parametrize(
    "agent",
    [
        {"objectType": "Agent", "mbox": "mailto:li.na@example.cn"},
        {"objectType": "Agent", "mbox_sha1sum": SHA1.lower()},
        {"objectType": "Agent", "openid": "https://openid.example.cn/li"},
        {"objectType": "Agent", "account": {"homePage": "https://uni.example.cn", "name": "a|b"}},
    ],
)
def test_ifi_to_agent_reverses_agent_ifi(agent):
    key = agent_ifi(agent)
    assert key is not None
    assert ifi_to_agent(key) == agent
    assert validate_agent(ifi_to_agent(key), path="agent") == agent


@pytest.mark.parametrize("key", ["", "mbox", "mbox:", "phone:123", "account:https://x.cn"])
def test_ifi_to_agent_rejects_malformed_keys(key):
    with pytest.raises(ValueError, match="IFI key"):
        ifi_to_agent(key)


@given(name=st.text(min_size=0, max_size=30))
def test_account_round_trip_for_any_name(name):
    agent = {"objectType": "Agent", "account": {"homePage": "https://uni.example.cn", "name": name}}
    key = agent_ifi(agent)
    assert key is not None
    assert ifi_to_agent(key) == agent
