"""The receiver's defences besides the signature: source networks, a shared secret in the
callback URL's query, rate limits. Pure (values and an injected clock).

The seeds (7.4, 11.13, 11.14) describe unsigned callbacks; today the service signs them once
a ``NotifyAuthKey`` is configured (SPEC §5a, :mod:`.signing`). Without a key anyone who can
reach the receiver could report a session and make it archive, so a careful operator sets the
key, binds the receiver where only the service reaches it, lists the service's networks, and
may register the callback URL with a secret (``...?token=SECRET``) that the service echoes back.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from ..errors import UsageError

__all__ = ["Network", "RateLimiter", "mask_secret", "parse_networks", "secret_matches",
           "source_allowed", "with_secret"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """CIDR blocks (or single addresses) from ``--allow``.

    Raises:
        UsageError: a value that is not an address or network.
    """
    out = []
    for value in values:
        try:
            out.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise UsageError(f"{value!r} is not an address or CIDR block, e.g. 10.0.0.0/8",
                             field="allow") from None
    return tuple(out)


def source_allowed(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether a peer address lies in one of the networks (no networks: every address does)."""
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return any(ip.version == net.version and ip in net for net in networks)


def secret_matches(given: str | None, secret: str | None) -> bool:
    """Whether the query's secret equals the configured one (none configured: always)."""
    if not secret:
        return True
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """A token bucket per source: ``rate`` requests a second on average, bursts of ``burst``.

    The service sends a callback and its retries 1 s apart, so a legitimate source needs a
    few a second per stream; the limit is there to blunt floods and secret guessing. Only
    the ``max_sources`` most recent sources are remembered, so a spray of addresses cannot
    grow memory without bound.
    """

    def __init__(self, rate: float, burst: int, *, max_sources: int = 10000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise UsageError("the rate must be above 0 and the burst at least 1",
                             field="rate")
        self.rate = rate
        self.burst = burst
        self.max_sources = max_sources
        self.clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def allow(self, source: str) -> bool:
        """Take a token for ``source``; False when its bucket is empty."""
        now = self.clock()
        bucket = self._buckets.pop(source, None)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        self._buckets[source] = bucket
        while len(self._buckets) > self.max_sources:
            self._buckets.popitem(last=False)
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True

    def retry_after(self, source: str) -> float:
        """Seconds until ``source`` has a token again."""
        bucket = self._buckets.get(source)
        if bucket is None:
            return 0.0
        return max(0.0, (1 - bucket.tokens) / self.rate)


def with_secret(url: str, param: str, secret: str | None) -> str:
    """``url`` with ``param=secret`` added to its query, for registering with the service."""
    if not secret:
        return url
    base, _, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    out = f"{base}{joiner}{quote(param, safe='')}={quote(secret, safe='')}"
    return f"{out}#{fragment}" if fragment else out


def mask_secret(url: str, param: str) -> str:
    """``url`` with the value of ``param`` hidden, for output and logs."""
    return re.sub(rf"(?<=[?&]){re.escape(param)}=[^&#]*", f"{param}=***", url)
