"""The one fetch policy: which (scheme, host, port) a job may fetch, and redirects by hand.

A playlist is hostile input: it must not turn a clip or an archive job into a proxy for
other addresses (another port of the same machine is another service). So every URL a
transport is about to fetch (segment, key, playlist, timeline, and every redirect's
``Location``) is held to one :class:`HostPolicy`:

- the **origin** (the playlist's, or the endpoint's) is a scheme, a host and an
  *effective* port (80/443 when the URL names none); a URL matches it when all three are
  equal, or when it is the same host upgraded from ``http`` on 80 to ``https`` on 443;
- **allowed** entries (``--allow-host``) are ``HOST``, ``HOST:PORT`` or
  ``SCHEME://HOST[:PORT]``; without a port an entry means the scheme's default port, and
  without a scheme it never allows a downgrade from an ``https`` origin to ``http``;
- automatic redirects are off in every transport; a 3xx is followed here, at most
  ``max_redirects`` times, each ``Location`` checked like any other URL.

Pure: no sockets. The transports (:mod:`timeshift.fetch`, :mod:`timeshift.http`) call it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from .errors import ForeignHostError, RemoteError, UsageError

__all__ = ["MAX_REDIRECTS", "REDIRECTS", "HostPolicy", "Peer", "peer_of"]

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Peer:
    """Where a request goes: scheme, host (lowercase, no brackets) and effective port."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def peer_of(url: str) -> Peer:
    """The (scheme, host, effective port) of an http(s) URL.

    Raises:
        ValueError: not http(s), no host, or a port that is not a port (the message
            names no part of the URL, which may carry a signature).
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise ValueError(f"scheme {parts.scheme or '(none)'!r} is not http(s)")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the port is not a number from 0 to 65535") from None
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ValueError("the URL has no host")
    return Peer(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class _Entry:
    scheme: str | None
    host: str
    port: int | None

    @classmethod
    def parse(cls, text: str) -> _Entry:
        raw = text.strip()
        scheme = None
        if "://" in raw:
            scheme = raw.split("://", 1)[0].lower()
            if scheme not in _DEFAULT_PORTS:
                raise UsageError(f"{text!r}: only http and https hosts can be allowed",
                                 field="allowed_hosts")
        parts = urlsplit(raw if scheme else f"//{raw}")
        try:
            port = parts.port
        except ValueError:
            raise UsageError(f"{text!r} has a port that is not a number from 0 to 65535",
                             field="allowed_hosts") from None
        host = (parts.hostname or "").rstrip(".")
        if not host or parts.path not in ("", "/") or parts.query or parts.username:
            raise UsageError(f"{text!r} is not HOST, HOST:PORT or SCHEME://HOST[:PORT]",
                             field="allowed_hosts")
        return cls(scheme, host, port)

    def admits(self, peer: Peer, origin: Peer | None) -> bool:
        if peer.host != self.host:
            return False
        if self.scheme is not None:
            if peer.scheme != self.scheme:
                return False
        elif peer.scheme == "http" and origin is not None and origin.scheme == "https":
            return False  # no silent downgrade: allow it by writing http://
        want = self.port if self.port is not None else _DEFAULT_PORTS[peer.scheme]
        return peer.port == want


@dataclass(frozen=True)
class HostPolicy:
    """The peers one job may fetch from, and how many redirects it follows.

    Build it with :meth:`for_origin` (a playlist and ``--allow-host`` entries) or
    :meth:`of_urls` (exactly the peers of some already-approved URLs).
    """

    origins: frozenset[Peer] = frozenset()
    allowed: tuple[_Entry, ...] = ()
    max_redirects: int = MAX_REDIRECTS
    first: Peer | None = field(default=None, compare=False)

    @classmethod
    def for_origin(cls, url: str, allowed: Iterable[str] = (), *,
                   max_redirects: int = MAX_REDIRECTS) -> HostPolicy:
        """The policy of a job whose first document is ``url``.

        Raises:
            UsageError: ``url`` is not an http(s) URL, or an allowed entry is malformed.
        """
        try:
            origin = peer_of(url)
        except ValueError as exc:
            raise UsageError(f"the URL cannot be fetched: {exc}", field="url") from None
        return cls(frozenset({origin}), tuple(_Entry.parse(a) for a in allowed),
                   max_redirects, origin)

    @classmethod
    def of_urls(cls, urls: Iterable[str], *, max_redirects: int = MAX_REDIRECTS) -> HostPolicy:
        """Exactly the peers of ``urls`` (URLs that are not http(s) are left out)."""
        peers = set()
        for url in urls:
            try:
                peers.add(peer_of(url))
            except ValueError:
                continue
        return cls(frozenset(peers), (), max_redirects)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` may not be fetched, or None if it may."""
        try:
            peer = peer_of(url)
        except ValueError as exc:
            return str(exc)
        if peer in self.origins:
            return None
        for origin in self.origins:
            if (origin.host == peer.host and origin.scheme == "http" and origin.port == 80
                    and peer.scheme == "https" and peer.port == 443):
                return None  # the same host, upgraded to TLS on its standard ports
        if any(entry.admits(peer, self.first) for entry in self.allowed):
            return None
        if self.first is not None and peer.host == self.first.host:
            return f"{peer} is not the playlist's origin {self.first} (another port or scheme)"
        return f"host {_netloc(url)!r} is not the playlist's origin"

    def check(self, url: str, what: str = "") -> None:
        """Refuse ``url`` unless the policy admits it.

        Raises:
            ForeignHostError: naming the URL (redacted) and why.
        """
        reason = self.refusal(url)
        if reason is not None:
            raise ForeignHostError(url, f"{what}{reason}")

    def next_hop(self, url: str, status: int, location: str | None, hops: int) -> str:
        """The URL a 3xx answer to ``url`` sends us to, once checked; ``hops`` counts the
        redirects followed before this one.

        Raises:
            RemoteError: no ``Location``, or more than ``max_redirects`` redirects.
            ForeignHostError: the ``Location`` is outside the policy.
        """
        if not location:
            raise RemoteError(f"HTTP {status} without a Location", status=status, url=url)
        if hops >= self.max_redirects:
            raise RemoteError(f"more than {self.max_redirects} redirects", status=status, url=url)
        target = urljoin(url, location.strip())
        self.check(target, "redirect: ")
        return target


def _netloc(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1]
