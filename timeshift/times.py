"""Times: parsing what users type, and the ``lhs_*`` time values of time-shift URLs.

Pure: no I/O. Instants are integers counting nanoseconds since the Unix epoch (UTC),
so every ``lhs_*`` unit down to ``ns`` round-trips exactly; durations are integer
nanoseconds too.

The ``lhs_{type}_{format}_{unit}_{zone}`` grammar (SPEC §1):

- type ``start``, ``end``, ``vodend`` hold instants; ``offset`` holds a duration back from now.
- format ``unix`` is a count of ``unit`` since the epoch and is only valid with zone 0;
  ``human`` is ``YYYYmmddHHMMSS`` wall-clock time in UTC+zone, followed by 3, 6 or 9
  fraction digits for ``ms``, ``us`` or ``ns`` (so sub-second values round-trip too).
- zone is one digit, hours east of UTC.
"""

from __future__ import annotations

import calendar
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal, cast

from .errors import UsageError

__all__ = [
    "FORMATS",
    "LhsParam",
    "NS_PER_S",
    "TYPES",
    "UNITS",
    "UNIT_NS",
    "format_duration",
    "format_iso",
    "now_ns",
    "parse_duration",
    "parse_time",
]

NS_PER_S = 1_000_000_000
UNIT_NS: dict[str, int] = {"s": NS_PER_S, "ms": 1_000_000, "us": 1_000, "ns": 1}
UNITS = tuple(UNIT_NS)
TYPES = ("start", "end", "vodend", "offset")
FORMATS = ("unix", "human")
_FRACTION_DIGITS = {"s": 0, "ms": 3, "us": 6, "ns": 9}

LhsType = Literal["start", "end", "vodend", "offset"]
LhsFormat = Literal["unix", "human"]
LhsUnit = Literal["s", "ms", "us", "ns"]


def now_ns() -> int:
    """The current time as integer nanoseconds since the epoch."""
    return time.time_ns()


# ---------------------------------------------------------------------------
# What users type

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|d|h|m|s)")
_DURATION_UNIT_NS = {
    "d": 86_400 * NS_PER_S,
    "h": 3_600 * NS_PER_S,
    "m": 60 * NS_PER_S,
    "s": NS_PER_S,
    "ms": 1_000_000,
    "us": 1_000,
    "ns": 1,
}
_ISO = re.compile(
    r"""^(?P<date>\d{4}-\d{2}-\d{2})
        (?:[T ](?P<hh>\d{2}):(?P<mm>\d{2})(?::(?P<ss>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?)?
        (?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?$""",
    re.VERBOSE,
)
_UNIX = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")
# ``now``, ``now-90m``, ``now+5m``, and the short forms ``-90m`` / ``+5m`` (relative to now).
_RELATIVE = re.compile(
    r"^(?:now\s*(?:(?P<sign>[+-])\s*(?P<dur>\S+))?|(?P<bare_sign>[+-])(?P<bare_dur>\d\S*))$",
    re.IGNORECASE)

TIME_HELP = (
    "ISO 8601 with an offset or Z (a time without one is UTC), unix seconds, "
    "'now', 'now-90m' / 'now-2h30m', or 'now+5m' (the future: up to 6h ahead); "
    "'-90m' and '+5m' are short for now-90m and now+5m"
)


def _decimal_to_ns(text: str, scale_ns: int) -> int:
    """``"1.5"`` at ``scale_ns`` per unit, exactly, without going through float."""
    whole, _, frac = text.partition(".")
    value = int(whole) * scale_ns
    if frac:
        value += int(frac) * scale_ns // 10 ** len(frac)
    return value


def parse_duration(text: str) -> int:
    """Parse ``90m``, ``2h30m``, ``1d``, ``45s``, ``1500ms`` or a bare number of seconds.

    Returns integer nanoseconds.

    Raises:
        UsageError: the text is not a positive duration.
    """
    s = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", s):
        return _decimal_to_ns(s, NS_PER_S)
    pos, total = 0, 0
    for m in _DURATION_PART.finditer(s):
        if m.start() != pos:
            break
        total += _decimal_to_ns(m.group(1), _DURATION_UNIT_NS[m.group(2)])
        pos = m.end()
    if pos != len(s) or not s:
        raise UsageError(
            f"{text!r} is not a duration; expected e.g. 90m, 2h30m, 1d, 45s or seconds"
        )
    return total


def format_duration(ns: int) -> str:
    """``5400 s`` → ``1h30m``: the shortest readable form, for messages."""
    seconds, rest = divmod(ns, NS_PER_S)
    out = []
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    if seconds or rest or not out:
        out.append(f"{seconds}{'.' + str(rest).rjust(9, '0').rstrip('0') if rest else ''}s")
    return "".join(out)


def parse_time(text: str, *, now: int | None = None) -> int:
    """Parse a user's time into integer nanoseconds since the epoch.

    Accepts ISO 8601 (``2026-11-21T14:03:10+08:00``, ``…Z``; without an offset the
    time is UTC), unix seconds (``1763705000`` or with a fraction), ``now``, and
    ``now-90m`` / ``now-2h30m`` / ``now+5m``, and ``-90m`` / ``+5m`` (short for
    ``now-90m`` / ``now+5m``). How far into the future a window may reach is the
    caller's rule (:func:`timeshift.edge.check_horizon`), not the parser's.

    Raises:
        UsageError: the text is none of these.
    """
    s = text.strip()
    current = now_ns() if now is None else now
    rel = _RELATIVE.match(s)
    if rel:
        sign = rel.group("sign") or rel.group("bare_sign")
        dur = rel.group("dur") or rel.group("bare_dur")
        if not dur:
            return current
        delta = parse_duration(dur)
        return current - delta if sign == "-" else current + delta
    if _UNIX.match(s):
        return _decimal_to_ns(s, NS_PER_S)
    m = _ISO.match(s)
    if not m:
        raise UsageError(f"{text!r} is not a time; expected {TIME_HELP}")
    try:
        day = datetime.strptime(m.group("date"), "%Y-%m-%d")
        hh, mm, ss = (int(m.group(g) or 0) for g in ("hh", "mm", "ss"))
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError("time of day out of range")
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a valid date and time ({exc})") from exc
    seconds = calendar.timegm(day.timetuple()) + hh * 3600 + mm * 60 + ss
    frac = m.group("frac") or ""
    total = seconds * NS_PER_S + (int(frac) * NS_PER_S // 10 ** len(frac) if frac else 0)
    tz = m.group("tz")
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        offset_min = int(digits[:2]) * 60 + int(digits[2:4] or 0)
        total -= sign * offset_min * 60 * NS_PER_S
    return total


def format_iso(ns: int, *, zone_hours: int | None = 0) -> str:
    """Format an instant as ISO 8601: ``Z`` for UTC, ``+08:00`` for zone 8, local when None.

    Sub-second digits are shown only when present.
    """
    seconds, rest = divmod(ns, NS_PER_S)
    if zone_hours is None:
        dt = datetime.fromtimestamp(seconds).astimezone()
    else:
        dt = datetime.fromtimestamp(seconds, timezone.utc).astimezone(
            timezone(timedelta(hours=zone_hours))
        )
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if rest:
        text += "." + str(rest).rjust(9, "0").rstrip("0")
    off = dt.strftime("%z")
    return text + ("Z" if off == "+0000" and zone_hours == 0 else f"{off[:3]}:{off[3:]}")


# ---------------------------------------------------------------------------
# lhs_* values


_NAME = re.compile(r"^lhs_(?P<type>[a-z]+)_(?P<format>[a-z]+)_(?P<unit>[a-z]+)_(?P<zone>\d+)$")


@dataclass(frozen=True)
class LhsParam:
    """One ``lhs_{type}_{format}_{unit}_{zone}`` parameter: its name and value codec."""

    type: LhsType
    format: LhsFormat = "unix"
    unit: LhsUnit = "s"
    zone: int = 0

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise UsageError(f"unknown time type {self.type!r}; expected one of {', '.join(TYPES)}")
        if self.format not in FORMATS:
            raise UsageError(f"unknown time format {self.format!r}; expected unix or human",
                             field="time_format")
        if self.unit not in UNIT_NS:
            raise UsageError(f"unknown unit {self.unit!r}; expected one of s, ms, us, ns",
                             field="unit")
        if not isinstance(self.zone, int) or not 0 <= self.zone <= 9:
            raise UsageError(
                f"zone {self.zone!r} is out of range; expected one digit 0-9 (hours east of UTC)",
                field="zone",
            )
        if self.format == "unix" and self.zone != 0:
            raise UsageError(
                f"unix times take zone 0 only (got zone {self.zone}); "
                "use --time-format human for a local zone",
                field="zone",
            )
        if self.type == "offset" and self.format != "unix":
            raise UsageError("offset is a duration and takes the unix format only")

    @property
    def name(self) -> str:
        """The query parameter name, e.g. ``lhs_start_unix_s_0``."""
        return f"lhs_{self.type}_{self.format}_{self.unit}_{self.zone}"

    @classmethod
    def from_name(cls, name: str) -> LhsParam:
        """Parse a parameter name such as ``lhs_end_human_s_8``.

        Raises:
            UsageError: the name does not follow the grammar or an element is unknown.
        """
        m = _NAME.match(name)
        if not m:
            raise UsageError(
                f"{name!r} is not an lhs_{{type}}_{{format}}_{{unit}}_{{zone}} parameter"
            )
        if len(m.group("zone")) != 1:
            raise UsageError(f"{name!r}: zone must be one digit 0-9, got {m.group('zone')}")
        return cls(
            type=cast(LhsType, m.group("type")),
            format=cast(LhsFormat, m.group("format")),
            unit=cast(LhsUnit, m.group("unit")),
            zone=int(m.group("zone")),
        )

    def format_value(self, ns: int) -> str:
        """Encode an instant (or, for offset, a duration) in nanoseconds as this parameter's value.

        Values are truncated to the unit.

        Raises:
            UsageError: a negative instant or duration.
        """
        if ns < 0:
            raise UsageError("times before 1970 and negative durations are not supported")
        step = UNIT_NS[self.unit]
        if self.format == "unix":
            return str(ns // step)
        seconds, rest = divmod(ns + self.zone * 3600 * NS_PER_S, NS_PER_S)
        text = time.strftime("%Y%m%d%H%M%S", time.gmtime(seconds))
        digits = _FRACTION_DIGITS[self.unit]
        if digits:
            text += str(rest // step).rjust(digits, "0")
        return text

    def parse_value(self, text: str) -> int:
        """Decode this parameter's value into nanoseconds (an instant, or a duration for offset).

        Raises:
            UsageError: the value is not of the parameter's form.
        """
        step = UNIT_NS[self.unit]
        if self.format == "unix":
            if not text.isdigit() or not text.isascii():
                raise UsageError(f"{self.name}={text!r}: expected a whole number of {self.unit}")
            return int(text) * step
        digits = 14 + _FRACTION_DIGITS[self.unit]
        if len(text) != digits or not text.isdigit() or not text.isascii():
            raise UsageError(
                f"{self.name}={text!r}: expected {digits} digits "
                f"(YYYYmmddHHMMSS{'' if digits == 14 else ' + ' + str(digits - 14) + ' fraction digits'})"
            )
        try:
            wall = datetime.strptime(text[:14], "%Y%m%d%H%M%S")
        except ValueError as exc:
            raise UsageError(f"{self.name}={text!r}: not a valid date and time") from exc
        seconds = calendar.timegm(wall.timetuple()) - self.zone * 3600
        return seconds * NS_PER_S + int(text[14:] or 0) * step
