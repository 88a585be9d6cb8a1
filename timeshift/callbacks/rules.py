"""The operator's rules: what to answer the on-demand question, and what to archive. Pure.

A rules file is JSON::

    {
      "record": [
        {"app": "live", "stream": "vip-*", "codec": ["h264", "h265"], "min_vbitrate": 1000,
         "need_record": true, "format": ["m3u8", "mp4"], "interval": {"m3u8": 3600, "mp4": 1800}},
        {"stream": "test-*", "need_record": false}
      ],
      "default_record": false,
      "archive": [
        {"app": "live", "on": ["publish_done"], "play_domain": "play.example.com",
         "options": {"bucket": "my-archive", "endpoint": "oss-cn-shanghai.aliyuncs.com"}}
      ]
    }

``domain``, ``app`` and ``stream`` are shell-style patterns (``*``, ``?``, ``[...]``; case
matters except in domains), default ``*``. The first rule that matches wins. A record rule
may also ask for a codec (any of a list, case-insensitive) and a video bitrate range in
kbps (a question without a bitrate then does not match it). ``interval`` is seconds per
format, 5-21600 (seed 11.13). An archive rule says which events make archive jobs
(``publish_done``, ``record_file``), which play domain and scheme to fetch from (default:
the callback's domain where :meth:`ArchiveRule.fetch_domain` allows it, https) and ``options``
(strings) handed to the job runner as they are.

Mistakes in the file are the user's: they raise :class:`~timeshift.errors.UsageError` naming
the rule and key, when the file is loaded, never when the service calls.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import UsageError
from .models import OnDemandQuery

__all__ = [
    "ARCHIVE_EVENTS",
    "FORMATS",
    "INTERVAL_RANGE",
    "MAX_ANSWER_BYTES",
    "ArchiveEvent",
    "ArchiveRule",
    "OnDemandAnswer",
    "RecordRule",
    "Rules",
    "StreamPattern",
    "load_rules",
    "parse_rules",
]

FORMATS = {"mp4": "Mp4", "flv": "Flv", "m3u8": "M3U8"}  # the answer's key spellings (seed 11.13)
INTERVAL_RANGE = (5, 21600)
MAX_ANSWER_BYTES = 2048  # the service truncates a longer answer, which breaks its JSON
ArchiveEvent = Literal["publish_done", "record_file"]
ARCHIVE_EVENTS: tuple[ArchiveEvent, ...] = ("publish_done", "record_file")


@dataclass(frozen=True)
class StreamPattern:
    """Shell-style patterns over domain, app and stream."""

    domain: str = "*"
    app: str = "*"
    stream: str = "*"

    def matches(self, domain: str, app: str, stream: str) -> bool:
        return (fnmatch.fnmatchcase(domain.lower(), self.domain.lower())
                and fnmatch.fnmatchcase(app, self.app)
                and fnmatch.fnmatchcase(stream, self.stream))


@dataclass(frozen=True)
class OnDemandAnswer:
    """The answer to the on-demand question; :meth:`body` is what goes on the wire.

    The service truncates an answer past 2048 bytes (then it is broken JSON and nothing is
    recorded); with three formats at most and numbers for values, a body stays near 130.
    """

    need_record: bool
    formats: tuple[str, ...] = ()
    intervals: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ApiVersion": "1.0", "NeedRecord": self.need_record}
        if self.need_record and self.intervals:
            out["Interval"] = {FORMATS[f]: s for f, s in self.intervals}
        if self.need_record and self.formats:
            out["Format"] = list(self.formats)
        return out

    def body(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()


@dataclass(frozen=True)
class RecordRule:
    """One on-demand rule: which streams (and codec, bitrate) and what to answer."""

    pattern: StreamPattern
    need_record: bool
    codecs: tuple[str, ...] = ()
    min_vbitrate: int | None = None
    max_vbitrate: int | None = None
    formats: tuple[str, ...] = ()
    intervals: tuple[tuple[str, int], ...] = ()

    def matches(self, q: OnDemandQuery) -> bool:
        if not self.pattern.matches(q.domain, q.app, q.stream):
            return False
        if self.codecs and q.codec.lower() not in self.codecs:
            return False
        if self.min_vbitrate is not None or self.max_vbitrate is not None:
            if q.vbitrate is None:
                return False
            if self.min_vbitrate is not None and q.vbitrate < self.min_vbitrate:
                return False
            if self.max_vbitrate is not None and q.vbitrate > self.max_vbitrate:
                return False
        return True

    def answer(self) -> OnDemandAnswer:
        return OnDemandAnswer(self.need_record, self.formats, self.intervals)


@dataclass(frozen=True)
class ArchiveRule:
    """Which streams' events become archive jobs, where to fetch from, and the runner's options."""

    pattern: StreamPattern
    on: frozenset[str] = frozenset({"publish_done"})
    play_domain: str | None = None
    scheme: str = "https"
    options: Mapping[str, str] = field(default_factory=dict)

    def fetch_domain(self, callback_domain: str, *, authenticated: bool) -> str | None:
        """The host a job made by this rule fetches from; None when the callback may not choose.

        A callback's own domain is someone else's input: it may be an IP address or carry
        a port, which would point the worker at an internal service (issue 11, item 10).
        It is fetched only when the rule names it (a domain pattern without wildcards),
        when the callback proved it comes from the service (shared secret or signature),
        or when it is a plain public-looking DNS name (no port, not an address, not a
        local name). Otherwise the rule needs a ``play_domain``.
        """
        if self.play_domain:
            return self.play_domain
        domain = callback_domain.lower()
        named = not any(c in self.pattern.domain for c in "*?[")
        if (named and domain == self.pattern.domain.lower()) or authenticated:
            return callback_domain
        return callback_domain if _public_name(domain) else None


_LOCAL_SUFFIXES = (".local", ".internal", ".localhost", ".localdomain", ".lan", ".home.arpa")


def _public_name(host: str) -> bool:
    if ":" in host or "." not in host.strip(".") or host.endswith(_LOCAL_SUFFIXES):
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host != "localhost"
    return False


@dataclass(frozen=True)
class Rules:
    """All rules of a file; :meth:`decide` answers the on-demand question."""

    record: tuple[RecordRule, ...] = ()
    default_record: bool = False
    archive: tuple[ArchiveRule, ...] = ()

    def decide(self, q: OnDemandQuery) -> OnDemandAnswer:
        """The first matching record rule's answer, else ``default_record`` with no overrides."""
        for rule in self.record:
            if rule.matches(q):
                return rule.answer()
        return OnDemandAnswer(self.default_record)

    def archive_rule(self, domain: str, app: str, stream: str,
                     event: ArchiveEvent) -> ArchiveRule | None:
        """The first archive rule matching the stream that acts on ``event``."""
        for rule in self.archive:
            if rule.pattern.matches(domain, app, stream):
                return rule if event in rule.on else None
        return None


# -- loading

_PATTERN_KEYS = {"domain", "app", "stream"}
_RECORD_KEYS = _PATTERN_KEYS | {"need_record", "codec", "min_vbitrate", "max_vbitrate", "format",
                                "interval"}
_ARCHIVE_KEYS = _PATTERN_KEYS | {"on", "play_domain", "scheme", "options"}


def _fail(where: str, message: str) -> UsageError:
    return UsageError(f"{where}: {message}", field="rules")


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "expected a JSON object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise _fail(where, f"unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(allowed))}")
    return value


def _pattern(d: dict[str, Any], where: str) -> StreamPattern:
    for key in _PATTERN_KEYS:
        if key in d and (not isinstance(d[key], str) or not d[key]):
            raise _fail(where, f"{key} must be a non-empty pattern string")
    return StreamPattern(d.get("domain", "*"), d.get("app", "*"), d.get("stream", "*"))


def _kbps(d: dict[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(where, f"{key} must be a whole number of kbps")
    return value


def _format_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or value.lower() not in FORMATS:
        raise _fail(where, f"{value!r} is not a recording format; use mp4, flv or m3u8")
    return value.lower()


def _record_rule(d: Any, where: str) -> RecordRule:
    d = _object(d, where, _RECORD_KEYS)
    if not isinstance(d.get("need_record"), bool):
        raise _fail(where, "need_record (true or false) is required")
    codecs = d.get("codec", [])
    if isinstance(codecs, str):
        codecs = [codecs]
    if not isinstance(codecs, list) or not all(isinstance(c, str) and c for c in codecs):
        raise _fail(where, "codec must be a name or a list of names")
    formats = d.get("format", [])
    if not isinstance(formats, list):
        raise _fail(where, "format must be a list, e.g. [\"mp4\", \"m3u8\"]")
    names = tuple(dict.fromkeys(_format_name(f, where) for f in formats))
    interval = d.get("interval", {})
    if not isinstance(interval, dict):
        raise _fail(where, "interval must be an object of format: seconds")
    intervals = []
    for name, seconds in interval.items():
        fmt = _format_name(name, where)
        lo, hi = INTERVAL_RANGE
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not lo <= seconds <= hi:
            raise _fail(where, f"interval {name} must be whole seconds from {lo} to {hi}")
        intervals.append((fmt, seconds))
    rule = RecordRule(_pattern(d, where), d["need_record"], tuple(c.lower() for c in codecs),
                      _kbps(d, "min_vbitrate", where), _kbps(d, "max_vbitrate", where),
                      names, tuple(intervals))
    if (rule.min_vbitrate is not None and rule.max_vbitrate is not None
            and rule.min_vbitrate > rule.max_vbitrate):
        raise _fail(where, "min_vbitrate is above max_vbitrate")
    if not rule.need_record and (rule.formats or rule.intervals):
        raise _fail(where, "format and interval go with need_record: true only")
    return rule


def _archive_rule(d: Any, where: str) -> ArchiveRule:
    d = _object(d, where, _ARCHIVE_KEYS)
    on = d.get("on", ["publish_done"])
    if not isinstance(on, list) or not on or not all(e in ARCHIVE_EVENTS for e in on):
        raise _fail(where, f"on must list events among {', '.join(ARCHIVE_EVENTS)}")
    scheme = d.get("scheme", "https")
    if scheme not in ("http", "https"):
        raise _fail(where, "scheme is http or https")
    play = d.get("play_domain")
    if play is not None and (not isinstance(play, str) or not play or "/" in play):
        raise _fail(where, "play_domain must be a host name (with an optional port)")
    options = d.get("options", {})
    if not isinstance(options, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()):
        raise _fail(where, "options must be an object of strings")
    return ArchiveRule(_pattern(d, where), frozenset(on), play, scheme, dict(options))


def parse_rules(text: str) -> Rules:
    """Rules from the JSON text of a rules file.

    Raises:
        UsageError: not JSON, an unknown key, or a value out of range (option ``--rules``).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail("rules", f"not JSON ({exc.msg} at line {exc.lineno})") from None
    data = _object(data, "rules", {"record", "default_record", "archive"})
    for key in ("record", "archive"):
        if not isinstance(data.get(key, []), list):
            raise _fail("rules", f"{key} must be a list of rules")
    default = data.get("default_record", False)
    if not isinstance(default, bool):
        raise _fail("rules", "default_record is true or false")
    rules = Rules(
        record=tuple(_record_rule(r, f"record[{i}]") for i, r in enumerate(data.get("record", []))),
        default_record=default,
        archive=tuple(_archive_rule(r, f"archive[{i}]")
                      for i, r in enumerate(data.get("archive", []))))
    return rules


def load_rules(path: str) -> Rules:
    """:func:`parse_rules` of a file.

    Raises:
        UsageError: the file cannot be read, or its rules are wrong.
    """
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", field="rules") from None
    return parse_rules(text)
