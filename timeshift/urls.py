"""Time-shift playback URLs: build and parse (SPEC §1). Pure: no I/O.

A :class:`TimeshiftURL` is an immutable value. ``str(url)`` is the unsigned URL;
sign it with :meth:`timeshift.auth.Signer.sign`.

>>> u = TimeshiftURL.vod("live.example.com", "app", "cam1", start=1502280113 * 10**9,
...                      end=1502280173 * 10**9)
>>> str(u)
'https://live.example.com/app/cam1.m3u8?lhs_start=1&aliyunols=on&lhs_start_unix_s_0=1502280113&lhs_vodend_unix_s_0=1502280173'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

from .errors import UsageError
from .times import NS_PER_S, UNIT_NS, LhsFormat, LhsParam, LhsUnit, format_iso
from .window import Window

__all__ = ["MARKERS", "Marker", "Mode", "TimeshiftURL", "parse_url", "timeline_url"]

MARKERS = ("lhs_start", "aliyunols", "both")
Marker = Literal["lhs_start", "aliyunols", "both"]
_HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?::\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](?::\d{1,5})?$"
)
# Types B and C put the signature in front of the path: /{YYYYmmddHHMM}/{md5}/... and /{md5}/{HEX}/...
_SIGNED_PATH_B = re.compile(r"^/\d{12}/[0-9a-f]{32}(/.*)$")
_SIGNED_PATH_C = re.compile(r"^/[0-9a-f]{32}/[0-9A-Fa-f]{8}(/.*)$")


class Mode(str, Enum):
    """How the origin answers: a moving live window, a whole VOD window, or live minus an offset."""

    LIVE = "live"
    VOD = "vod"
    OFFSET = "offset"


def _marker_items(marker: Marker) -> list[tuple[str, str]]:
    if marker not in MARKERS:
        raise UsageError(f"unknown marker {marker!r}; expected lhs_start, aliyunols or both")
    items = []
    if marker in ("lhs_start", "both"):
        items.append(("lhs_start", "1"))
    if marker in ("aliyunols", "both"):
        items.append(("aliyunols", "on"))
    return items


def check_domain(domain: str) -> str:
    """Validate ``host[:port]`` (no scheme, no path).

    Raises:
        UsageError: anything else.
    """
    if not domain or not _HOST.match(domain):
        raise UsageError(
            f"{domain!r} is not a host name; expected HOST or HOST:PORT, without scheme or path",
            field="domain",
        )
    return domain


@dataclass(frozen=True)
class TimeshiftURL:
    """A time-shift playback URL.

    Times are integer nanoseconds since the epoch (``offset`` is a duration).
    ``end`` is the live window's end (``lhs_end``) in live mode and the VOD end
    (``lhs_vodend``) in VOD mode. ``extra`` keeps other query parameters in order
    (a parsed URL's signing parameters, for instance).
    """

    domain: str
    app: str
    stream: str
    mode: Mode
    start: int | None = None
    end: int | None = None
    offset: int | None = None
    scheme: str = "https"
    time_format: LhsFormat = "unix"
    unit: LhsUnit = "s"
    zone: int = 0
    marker: Marker = "both"
    extension: str = "m3u8"
    extra: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        check_domain(self.domain)
        if self.scheme not in ("http", "https"):
            raise UsageError(f"scheme must be http or https, got {self.scheme!r}", field="scheme")
        for what, value in (("app", self.app), ("stream", self.stream)):
            if not value:
                raise UsageError("must not be empty", field=what)
        _marker_items(self.marker)
        mode = Mode(self.mode)
        object.__setattr__(self, "mode", mode)
        if mode is Mode.OFFSET:
            if self.offset is None or self.offset <= 0:
                raise UsageError("an offset must be a positive duration", field="offset")
            if self.start is not None or self.end is not None:
                raise UsageError("offset mode takes no start or end", field="offset")
            LhsParam("offset", "unix", self.unit, 0)
            step = UNIT_NS[self.unit]
            object.__setattr__(self, "offset", self.offset - self.offset % step)
            if not self.offset:
                raise UsageError(f"the offset is shorter than one {self.unit}", field="offset")
            return
        if self.start is None:
            raise UsageError("is required", field="start")
        if self.offset is not None:
            raise UsageError("an offset goes without --start", field="offset")
        if mode is Mode.VOD and self.end is None:
            raise UsageError("VOD mode needs an end time", field="vodend")
        if self.end is not None and self.end <= self.start:
            # In VOD mode the end is the URL's lhs_vodend (the CLI's --vodend).
            raise UsageError(
                "the end is not after the start; give an end later than --start "
                "(e.g. --start now-30m --end now-20m)",
                field="vodend" if mode is Mode.VOD else "end",
            )
        LhsParam("start", self.time_format, self.unit, self.zone)
        # The URL can only say whole units: hold exactly what it says, so str() and to_dict() agree.
        step = UNIT_NS[self.unit]
        object.__setattr__(self, "start", self.start - self.start % step)
        if self.end is not None:
            object.__setattr__(self, "end", self.end - self.end % step)
            if self.end <= (self.start or 0):
                raise UsageError(f"the window is shorter than one {self.unit}", field="end")

    # -- constructors

    @classmethod
    def live(cls, domain: str, app: str, stream: str, start: int, end: int | None = None,
             **options: object) -> TimeshiftURL:
        """Live mode: play from ``start`` as a live stream, up to ``end`` if given."""
        return cls(domain, app, stream, Mode.LIVE, start=start, end=end, **options)  # type: ignore[arg-type]

    @classmethod
    def vod(cls, domain: str, app: str, stream: str, start: int, end: int,
            **options: object) -> TimeshiftURL:
        """VOD mode: one playlist with every segment of [start, end) and ``#EXT-X-ENDLIST``."""
        return cls(domain, app, stream, Mode.VOD, start=start, end=end, **options)  # type: ignore[arg-type]

    @classmethod
    def behind_live(cls, domain: str, app: str, stream: str, offset: int,
                    **options: object) -> TimeshiftURL:
        """Offset mode: play ``offset`` nanoseconds behind the live edge."""
        return cls(domain, app, stream, Mode.OFFSET, offset=offset, **options)  # type: ignore[arg-type]

    def copy_with(self, **changes: object) -> TimeshiftURL:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    # -- rendering

    @property
    def path(self) -> str:
        """The URL path, which is also what CDN signing signs."""
        return f"/{quote(self.app, safe='')}/{quote(self.stream, safe='')}.{self.extension}"

    def time_params(self) -> list[tuple[str, str]]:
        """The ``lhs_*`` time parameters in URL order."""
        if self.mode is Mode.OFFSET:
            p = LhsParam("offset", "unix", self.unit, 0)
            return [(p.name, p.format_value(self.offset or 0))]
        items = []
        start = LhsParam("start", self.time_format, self.unit, self.zone)
        items.append((start.name, start.format_value(self.start or 0)))
        if self.end is not None:
            kind = "vodend" if self.mode is Mode.VOD else "end"
            p = LhsParam(kind, self.time_format, self.unit, self.zone)  # type: ignore[arg-type]
            items.append((p.name, p.format_value(self.end)))
        return items

    def query_items(self) -> list[tuple[str, str]]:
        """Every query parameter: marker, times, then ``extra``."""
        return _marker_items(self.marker) + self.time_params() + list(self.extra)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.domain}{self.path}?{urlencode(self.query_items())}"

    @property
    def url(self) -> str:
        """The unsigned URL (same as ``str(self)``)."""
        return str(self)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready fields: mode, names, and times as ISO and unix seconds."""
        def when(ns: int | None) -> dict[str, object] | None:
            if ns is None:
                return None
            return {"iso": format_iso(ns), "unix": ns / NS_PER_S if ns % NS_PER_S else ns // NS_PER_S}

        out: dict[str, object] = {
            "url": str(self),
            "mode": self.mode.value,
            "domain": self.domain,
            "app": self.app,
            "stream": self.stream,
            "start": when(self.start),
            "end": when(self.end),
        }
        if self.offset is not None:
            out["offset_seconds"] = self.offset / NS_PER_S
        return out


def parse_url(url: str) -> TimeshiftURL:
    """Turn a time-shift URL back into a :class:`TimeshiftURL`.

    Signing parameters in the query are kept in ``extra``; type B and C signatures
    in the path are removed (the result is the unsigned URL).

    Raises:
        UsageError: not an http(s) URL, no ``/app/stream.ext`` path, no time-shift
            marker or time, or a malformed ``lhs_*`` value.
    """
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not one
    except ValueError as exc:
        raise UsageError(f"{url!r} is not a valid URL ({exc})", field="url") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"{url!r} is not an http(s) URL", field="url")
    path = parts.path
    for signed in (_SIGNED_PATH_B, _SIGNED_PATH_C):
        m = signed.match(path)
        if m:
            path = m.group(1)
            break
    m = re.match(r"^/([^/]+)/([^/]+)\.([A-Za-z0-9]+)$", path)
    if not m:
        raise UsageError(f"{url!r} has no /APP/STREAM.m3u8 path", field="url")
    app, stream, ext = unquote(m.group(1)), unquote(m.group(2)), m.group(3)

    has_lhs_start = has_aliyunols = False
    times: dict[str, tuple[LhsParam, int]] = {}
    extra: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key == "lhs_start" and value == "1":
            has_lhs_start = True
        elif key == "aliyunols" and value == "on":
            has_aliyunols = True
        elif key.startswith("lhs_"):
            p = LhsParam.from_name(key)
            times[p.type] = (p, p.parse_value(value))
        else:
            extra.append((key, value))
    if not times:
        raise UsageError(f"{url!r} carries no lhs_* time parameter", field="url")
    marker: Marker = (
        "both" if has_lhs_start and has_aliyunols else
        "aliyunols" if has_aliyunols else
        "lhs_start" if has_lhs_start else "both"
    )
    common: dict[str, object] = dict(scheme=parts.scheme, marker=marker, extension=ext,
                                     extra=tuple(extra))
    if "offset" in times:
        p, offset = times["offset"]
        return TimeshiftURL.behind_live(parts.netloc, app, stream, offset, unit=p.unit, **common)
    if "start" not in times:
        raise UsageError(f"{url!r} has an end but no lhs_start_* time", field="url")
    p, start = times["start"]
    fmt = dict(time_format=p.format, unit=p.unit, zone=p.zone)
    if "vodend" in times:
        return TimeshiftURL.vod(parts.netloc, app, stream, start, times["vodend"][1], **fmt, **common)
    end = times["end"][1] if "end" in times else None
    return TimeshiftURL.live(parts.netloc, app, stream, start, end, **fmt, **common)


def timeline_url(
    domain: str,
    app: str,
    stream: str,
    start_s: int,
    end_s: int,
    *,
    format: Literal["ts", "flv"] = "ts",
    scheme: str = "https",
    marker: Marker = "both",
) -> str:
    """The timeline query URL of SPEC §2 (unsigned). Times are unix seconds."""
    check_domain(domain)
    if format not in ("ts", "flv"):
        raise UsageError(f"format must be ts or flv, got {format!r}", field="format")
    Window.from_unix(start_s, end_s)  # end after start, or UsageError (field "end")
    items = [("app", app), ("stream", stream), ("format", format)]
    items += _marker_items(marker)
    items += [("lhs_start_unix_s_0", str(start_s)), ("lhs_end_unix_s_0", str(end_s))]
    return f"{scheme}://{domain}/openapi/timeline/query?{urlencode(items)}"
