"""CDN URL signing, types A, B, C and F (SPEC §3). Pure: no I/O.

The signed URI is the URL's path only (starting with ``/``, as sent on the wire,
no query). A signer both signs URLs (clients) and checks them (the local origin),
so the two can never disagree.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Literal
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from .errors import UsageError

__all__ = ["AUTH_TYPES", "Signer", "VerifyResult", "md5_hex", "new_rand"]

AUTH_TYPES = ("A", "B", "C", "F")
AuthType = Literal["A", "B", "C", "F"]
_CHINA = 8 * 3600  # type B's path time is written in UTC+8, whatever the user's zone


def md5_hex(text: str) -> str:
    """Lowercase hex MD5 of a UTF-8 string."""
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def new_rand() -> str:
    """A hyphen-free UUID, the ``rand`` value the CDN documentation recommends."""
    return uuid.uuid4().hex


def _b_time(timestamp: int) -> str:
    return time.strftime("%Y%m%d%H%M", time.gmtime(timestamp + _CHINA))


def _b_time_parse(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y%m%d%H%M")) - _CHINA


def _append_query(url: str, items: list[tuple[str, str]]) -> str:
    parts = urlsplit(url)
    extra = "&".join(f"{k}={v}" for k, v in items)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


@dataclass(frozen=True)
class VerifyResult:
    """What a signature check found: ``ok``, and when not, ``reason``; ``uri`` is the unsigned path."""

    ok: bool
    reason: str = ""
    uri: str = ""


@dataclass(frozen=True)
class Signer:
    """Signs and checks CDN URLs for one domain's URL-signing configuration.

    Args:
        type: ``A``, ``B``, ``C`` or ``F``.
        key: the domain's private key. Never shown by ``repr``.
        ttl: the validity configured on the domain, in seconds; a URL signed at
            ``timestamp`` expires at ``timestamp + ttl``.
        uid: type A's user id (``0`` by default).
        rand: type A's random value; ``None`` makes a fresh UUID per signature, ``"0"`` is allowed.
        c_form: type C puts hash and time in the ``path`` or in the ``query``.
        param_names: query names for type C's query form (hash, time) and type F (hash, time).
    """

    type: AuthType
    key: str = field(repr=False)
    ttl: int = 1800
    uid: str = "0"
    rand: str | None = "0"
    c_form: Literal["path", "query"] = "path"
    param_names: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.type not in AUTH_TYPES:
            raise UsageError(f"unknown signing type {self.type!r}; expected A, B, C or F")
        if not self.key:
            raise UsageError("the signing key is empty")
        if self.ttl <= 0:
            raise UsageError(f"the signing TTL must be positive, got {self.ttl}")
        for value, what in ((self.uid, "uid"), (self.rand or "x", "rand")):
            if "-" in value or "/" in value:
                raise UsageError(f"type A {what} must not contain '-' or '/': {value!r}")
        if self.c_form not in ("path", "query"):
            raise UsageError(f"type C form must be path or query, got {self.c_form!r}")

    @property
    def names(self) -> tuple[str, str]:
        """The (hash, time) query parameter names for types C (query form) and F."""
        if self.param_names:
            return self.param_names
        return ("KEY1", "KEY2") if self.type == "C" else ("sign", "time")

    def copy_with(self, **changes: object) -> Signer:
        """A signer with some settings changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- hashes, exactly as SPEC §3 writes them

    def hash_a(self, uri: str, timestamp: int, rand: str) -> str:
        return md5_hex(f"{uri}-{timestamp}-{rand}-{self.uid}-{self.key}")

    def hash_b(self, uri: str, timestamp: int) -> str:
        return md5_hex(f"{self.key}{_b_time(timestamp)}{uri}")

    def hash_c(self, uri: str, timestamp: int) -> str:
        return md5_hex(f"{self.key}{uri}{timestamp:X}")

    def hash_f(self, uri: str, timestamp: int) -> str:
        return md5_hex(f"{self.key}{uri}{timestamp}")

    # -- signing

    def sign(self, url: str, *, timestamp: int | None = None) -> str:
        """Return ``url`` signed at ``timestamp`` (unix seconds; now by default).

        Works on full URLs and on bare paths (``/app/stream.m3u8?x=1``).
        """
        ts = int(time.time()) if timestamp is None else int(timestamp)
        parts = urlsplit(url)
        uri = parts.path or "/"
        if self.type == "A":
            rand = self.rand if self.rand is not None else new_rand()
            token = f"{ts}-{rand}-{self.uid}-{self.hash_a(uri, ts, rand)}"
            return _append_query(url, [("auth_key", token)])
        if self.type == "B":
            path = f"/{_b_time(ts)}/{self.hash_b(uri, ts)}{uri}"
            return urlunsplit(parts._replace(path=path))
        if self.type == "C":
            digest, hex_ts = self.hash_c(uri, ts), f"{ts:X}"
            if self.c_form == "path":
                return urlunsplit(parts._replace(path=f"/{digest}/{hex_ts}{uri}"))
            k1, k2 = self.names
            return _append_query(url, [(k1, digest), (k2, hex_ts)])
        k1, k2 = self.names
        return _append_query(url, [(k1, self.hash_f(uri, ts)), (k2, str(ts))])

    # -- checking (what the CDN does; the local origin uses it)

    def verify(self, path: str, query: str, *, now: int | None = None) -> VerifyResult:
        """Check a request's path and raw query as the CDN would.

        Returns the unsigned URI on success (types B and C carry the signature in the path).
        """
        current = int(time.time()) if now is None else now
        params = dict(parse_qsl(query, keep_blank_values=True))
        try:
            if self.type == "A":
                token = params.get("auth_key")
                if not token:
                    return VerifyResult(False, "missing auth_key")
                ts_s, rand, uid, digest = token.split("-", 3)
                ts = int(ts_s)
                expected = md5_hex(f"{path}-{ts}-{rand}-{uid}-{self.key}")
                uri = path
            elif self.type == "B":
                _, stamp, digest, rest = path.split("/", 3)
                ts, uri = _b_time_parse(stamp), "/" + rest
                expected = md5_hex(f"{self.key}{stamp}{uri}")
            elif self.type == "C" and self.c_form == "path":
                _, digest, hex_ts, rest = path.split("/", 3)
                ts, uri = int(hex_ts, 16), "/" + rest
                expected = self.hash_c(uri, ts)
            else:
                k1, k2 = self.names
                digest, raw = params.get(k1, ""), params.get(k2, "")
                if not digest or not raw:
                    return VerifyResult(False, f"missing {k1} or {k2}")
                ts = int(raw, 16) if self.type == "C" else int(raw)
                uri = path
                expected = self.hash_c(uri, ts) if self.type == "C" else self.hash_f(uri, ts)
        except ValueError:
            return VerifyResult(False, "malformed signature")
        # As bytes: the digest comes from the request, and a non-ASCII str would make
        # compare_digest raise instead of simply not matching.
        if not hmac.compare_digest(expected.encode(), digest.encode("utf-8", "surrogatepass")):
            return VerifyResult(False, "signature mismatch")
        if current > ts + self.ttl:
            return VerifyResult(False, "expired")
        return VerifyResult(True, uri=uri)
