"""Canonical string keys for the inverse functional identifier (IFI) of an Agent or Group.

``mbox:mailto:li.na@example.cn`` (lowercased), ``mbox_sha1sum:<lowercase hex>``,
``openid:<uri>`` and ``account:<homePage>|<name>``. An IRI cannot contain ``|``
(RFC 3987), so the account key splits unambiguously at the first ``|``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["agent_ifi", "group_member_ifis", "ifi_to_agent"]


def agent_ifi(agent: Mapping[str, Any]) -> str | None:
    """The canonical IFI key of an Agent or identified Group; ``None`` when it has none."""
    mbox = agent.get("mbox")
    if isinstance(mbox, str):
        return "mbox:" + mbox.lower()
    sha1 = agent.get("mbox_sha1sum")
    if isinstance(sha1, str):
        return "mbox_sha1sum:" + sha1.lower()
    openid = agent.get("openid")
    if isinstance(openid, str):
        return "openid:" + openid
    account = agent.get("account")
    if isinstance(account, Mapping):
        home, name = account.get("homePage"), account.get("name")
        if isinstance(home, str) and isinstance(name, str):
            return f"account:{home}|{name}"
    return None


def group_member_ifis(group: Mapping[str, Any]) -> list[str]:
    """The IFI keys of a Group's members, in member order (members without one skipped)."""
    keys: list[str] = []
    for member in group.get("member") or ():
        if isinstance(member, Mapping):
            key = agent_ifi(member)
            if key is not None:
                keys.append(key)
    return keys


def ifi_to_agent(ifi: str) -> dict[str, Any]:
    """The Agent object an IFI key stands for (inverse of :func:`agent_ifi`)."""
    kind, sep, value = ifi.partition(":")
    if not sep or not value:
        raise ValueError(f"{ifi!r} is not an IFI key")
    if kind == "mbox":
        return {"objectType": "Agent", "mbox": value}
    if kind == "mbox_sha1sum":
        return {"objectType": "Agent", "mbox_sha1sum": value}
    if kind == "openid":
        return {"objectType": "Agent", "openid": value}
    if kind == "account":
        home, bar, name = value.partition("|")
        if not bar:
            raise ValueError(f"{ifi!r} is not an account IFI key (homePage|name)")
        return {"objectType": "Agent", "account": {"homePage": home, "name": name}}
    raise ValueError(f"{ifi!r} is not an IFI key")
