"""Where the server may send: the guard on webhook and forwarding URLs (SSRF).

Webhook subscriptions and forwarding targets are URLs an institution's admin types in
and the worker then requests, from inside the bank's network. Unguarded, they would
let an admin reach what only the server can (a metadata service on 169.254.169.254,
a database port on 127.0.0.1, another tenant's service on 10.x), and read the answer
back from the delivery log.

- Always refused (the schema, 422 naming the field): anything but ``http``/``https``,
  credentials in the URL (``user:pass@``: they would sit in logs and listings), no host.
- Unless :attr:`creditbank.config.Settings.private_targets_allowed` (by default: outside
  production; ``CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS`` says otherwise), also
  refused: plain ``http``, and a host that is, or resolves to, an address that is not
  public unicast: loopback, private, shared (CGNAT), link-local, multicast, reserved,
  unspecified, documentation ranges, IPv6 unique-local and site-local, and an IPv4
  address hidden in IPv6 (IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``,
  6to4 ``2002::/16``), checked as the IPv4 address it carries. A host with one
  unsafe address among several is refused (DNS answers in any order).
- The check runs when the URL is stored (:func:`check_target`, 422) and again before
  every request (:func:`pinned`): DNS may answer differently by then (rebinding). The
  request then goes to the very address that was checked (the URL's host kept in
  ``Host`` and as the TLS server name, so certificates are verified against it), so
  a second lookup cannot swap the address between check and connect.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from creditbank.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeTarget(ValidationFailed):
    """A URL the server must not request; ``loc`` names the field (422 of the API)."""

    code = "unsafe_target"

    def __init__(self, detail: str, *, field_name: str) -> None:
        super().__init__(detail)
        self.loc = ["body", field_name]


def url_problem(value: str) -> str | None:
    """What is wrong with ``value`` whatever the settings (None: nothing), bilingual."""
    if len(value) > 2000:
        return "the URL is longer than 2000 characters / 网址超过 2000 个字符"
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        return "the URL does not parse / 网址格式不正确"
    if parts.scheme not in ("http", "https"):
        return "the URL must be http or https / 网址必须以 http 或 https 开头"
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        return "the URL must not carry credentials (user:password@) / 网址中不得包含用户名或密码"
    if not parts.hostname:
        return "the URL has no host / 网址缺少主机名"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def address_problem(address: IPAddress) -> str | None:
    """Why the server must not connect to ``address`` (None: a public unicast address)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            problem = address_problem(inner)
            if problem is not None:
                return f"{problem} (the IPv4 address {inner} inside IPv6)"
        if address.is_site_local:
            return "site-local"
    for name, flag in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    ):
        if flag:
            return name
    return None


def _refused(field_name: str, host: str, address: IPAddress, problem: str) -> UnsafeTarget:
    shown = host if host == str(address) else f"{host} ({address})"
    return UnsafeTarget(
        f"{shown}: a {problem} address, where the bank does not send (allowed only with "
        f"CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS) / 目标地址 {shown} 为内网、本机或保留地址，"
        "不允许发送",
        field_name=field_name,
    )


async def _resolve(host: str, port: int, field_name: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (OSError, UnicodeError) as exc:
        raise UnsafeTarget(
            f"{host} does not resolve ({exc}) / 无法解析主机名 {host}", field_name=field_name
        ) from exc
    found: list[IPAddress] = []
    for info in infos:
        # The scope of a link-local IPv6 answer ("fe80::1%eth0") is not part of it.
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise UnsafeTarget(
            f"{host} does not resolve / 无法解析主机名 {host}", field_name=field_name
        )
    return found


@dataclass(frozen=True)
class Pinned:
    """A request to the checked address: ``url`` with the address as its host, the
    original host in ``headers`` and (https) as the TLS server name in ``extensions``."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    extensions: dict[str, str] = field(default_factory=dict)


async def pinned(url: str, *, allow_private: bool, field_name: str = "url") -> Pinned:
    """Check ``url`` now (raises :class:`UnsafeTarget`) and say where to send it.

    With private targets allowed only the always-refused shapes are checked and the
    URL is used as it is."""
    problem = url_problem(url)
    if problem is not None:
        raise UnsafeTarget(problem, field_name=field_name)
    if allow_private:
        return Pinned(url=url)
    parsed = httpx.URL(url)
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded, as DNS, Host and SNI want it
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await _resolve(host, port, field_name)
    for address in addresses:
        reason = address_problem(address)
        if reason is not None:
            raise _refused(field_name, host, address, reason)
    if parsed.scheme != "https":
        raise UnsafeTarget(
            "the URL must be https (CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS allows http) "
            "/ 网址必须使用 https",
            field_name=field_name,
        )
    chosen = addresses[0]
    try:
        literal = ipaddress.ip_address(host) == chosen
    except ValueError:
        literal = False
    if literal:
        return Pinned(url=url)
    host_header = host if parsed.port is None else f"{host}:{parsed.port}"
    return Pinned(
        url=str(parsed.copy_with(host=str(chosen))),
        headers={"Host": host_header},
        extensions={"sni_hostname": host},
    )


async def check_target(url: str, *, allow_private: bool, field_name: str) -> None:
    """Refuse (:class:`UnsafeTarget`, 422 naming ``field_name``) a URL not to be stored."""
    await pinned(url, allow_private=allow_private, field_name=field_name)
