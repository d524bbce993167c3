"""Throttles: failed secrets of machine credentials (xAPI Basic, ``/oauth/token``), and
a plain per-address request rate for public endpoints (``POST /api/v1/verify``).

Password sign-in keeps its attempts in the database (``signin``); LRS credentials
are checked on every xAPI request, so their failures are counted in memory, per
process, in a sliding window: by address (``per_address`` failures of any key)
and by address + key (``per_pair``). Only failures count and only the address is
ever blocked — an attacker cannot lock an institution's key for its own systems,
and an unknown key is treated exactly like a known one.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque


class CredentialThrottle:
    def __init__(
        self, *, per_address: int, per_pair: int, window_seconds: float, max_keys: int = 100_000
    ) -> None:
        self.per_address = per_address
        self.per_pair = per_pair
        self.window = window_seconds
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str | None], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str | None], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, address: str, account: str) -> int | None:
        """Seconds until this address may try ``account`` again, or ``None``."""
        now = time.monotonic()
        for key, limit in (
            ((address, None), self.per_address),
            ((address, account), self.per_pair),
        ):
            times = self._recent(key, now)
            if len(times) >= limit:
                return max(1, int(times[0] + self.window - now) + 1)
        return None

    def failed(self, address: str, account: str) -> None:
        now = time.monotonic()
        for key in ((address, None), (address, account)):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)


class RequestRateLimit:
    """At most ``limit`` requests per address in a sliding ``window_seconds``, in memory,
    per process: for public endpoints that anyone may call without signing in
    (``POST /api/v1/verify``), so one address cannot spend the server's CPU on
    signature checks. Every request counts, answered or refused."""

    def __init__(self, *, limit: int, window_seconds: float, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_keys = max_keys
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()

    def hit(self, address: str) -> int | None:
        """Count one request; seconds the address must wait if it is over the limit."""
        now = time.monotonic()
        times = self._hits.setdefault(address, deque())
        self._hits.move_to_end(address)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return max(1, int(times[0] + self.window - now) + 1)
        times.append(now)
        while len(self._hits) > self.max_keys:
            self._hits.popitem(last=False)
        return None
