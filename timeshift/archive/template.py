"""Object keys from templates with the recording variables of ApsaraVideo Live. Pure.

The service names recordings with ``{AppName}``, ``{StreamName}``, ``{Sequence}``,
``{EscapedStartTime}``, ``{EscapedEndTime}``, ``{UnixTimestamp}``, ``{Date}``, ``{Hour}``,
``{Minute}`` and ``{Second}``; archives use the same names so a layout configured for
the service's own recording can be copied as it is. ``{DomainName}`` is added because
one bucket often holds several play domains. Times are UTC.

An object key is validated before anything is uploaded (a template or a stream name is
user input, and a playlist is untrusted): no empty, ``.`` or ``..`` path components, no
leading ``/``, no backslash, control characters, ``?``, ``#`` or ``%`` (an index would
read them as another URI), and at most 1023 bytes of UTF-8, the
OSS limit.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import UsageError

__all__ = [
    "DEFAULT_INDEX_TEMPLATE",
    "DEFAULT_SEGMENT_TEMPLATE",
    "KeyTemplate",
    "named_by_form",
    "validate_key",
]

DEFAULT_SEGMENT_TEMPLATE = "{AppName}/{StreamName}/{Date}/{UnixTimestamp}_{Sequence}.ts"
DEFAULT_INDEX_TEMPLATE = "{AppName}/{StreamName}/{Date}/{EscapedStartTime}_{EscapedEndTime}.m3u8"

VARIABLES = frozenset({
    "DomainName", "AppName", "StreamName", "Sequence", "EscapedStartTime", "EscapedEndTime",
    "UnixTimestamp", "Date", "Hour", "Minute", "Second",
})
# Each segment needs a key of its own: one of these must vary from segment to segment.
_PER_SEGMENT = frozenset({"Sequence", "UnixTimestamp", "EscapedStartTime"})
MAX_KEY_BYTES = 1023
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe OSS object key.

    Raises:
        UsageError: the key could climb out of its prefix, is empty or too long.
    """
    if not key:
        raise UsageError("an object key is empty")
    if key.startswith("/"):
        raise UsageError(f"object key {key!r} starts with '/'; keys are relative to the bucket")
    if "\\" in key or _CONTROL.search(key):
        raise UsageError(f"object key {key!r} holds a backslash or a control character")
    if any(c in key for c in "?#%"):
        # In an index these would be read as a query, a fragment or an escape: another object.
        raise UsageError(f"object key {key!r} holds '?', '#' or '%'")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise UsageError(f"object key {key!r} has an empty, '.' or '..' path component")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise UsageError(f"object key is over {MAX_KEY_BYTES} bytes: {key[:60]!r}...")
    return key


#: The file name endings of the two segment forms (RFC 8216 / CMAF practice).
_FORM_SUFFIX = {False: ".ts", True: ".m4s"}


def named_by_form(key: str, fmp4: bool) -> str:
    """``key`` with the ending its segment's form calls for: a CMAF (fMP4) fragment is
    ``.m4s``, an MPEG-TS segment ``.ts``. Only a key that ends in the other form's
    ending changes (the default template writes ``.ts``); other endings are the
    template's choice and kept.
    """
    wrong, right = _FORM_SUFFIX[not fmp4], _FORM_SUFFIX[fmp4]
    return key[: -len(wrong)] + right if key.endswith(wrong) else key


def _escaped(t: datetime) -> str:
    return t.strftime("%Y-%m-%d-%H-%M-%S")


@dataclass(frozen=True)
class KeyTemplate:
    """A key template, checked once: only known variables, and well-formed braces."""

    text: str

    def __post_init__(self) -> None:
        try:
            fields = [f for _, f, spec, conv in string.Formatter().parse(self.text)
                      if f is not None and not spec and not conv]
            all_fields = [f for _, f, _, _ in string.Formatter().parse(self.text) if f is not None]
        except ValueError as exc:
            raise UsageError(f"template {self.text!r}: {exc}") from None
        if len(fields) != len(all_fields):
            raise UsageError(f"template {self.text!r}: format specs and conversions are not allowed")
        unknown = sorted(set(fields) - VARIABLES)
        if unknown:
            raise UsageError(f"template {self.text!r} names unknown variable(s) "
                             f"{', '.join('{' + u + '}' for u in unknown)}; known: "
                             f"{', '.join('{' + v + '}' for v in sorted(VARIABLES))}")

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(f for _, f, _, _ in string.Formatter().parse(self.text) if f)

    def require_per_segment(self, field: str) -> KeyTemplate:
        """Refuse a segment template that would give two segments the same key."""
        if not self.variables & _PER_SEGMENT:
            raise UsageError(f"template {self.text!r} would give every segment the same key; "
                             "include {UnixTimestamp} or {Sequence}", field=field)
        return self

    def render(self, *, domain: str, app: str, stream: str, start: float, end: float,
               sequence: int | None = None) -> str:
        """The key for a recording of ``[start, end)`` (unix seconds); validated.

        Raises:
            UsageError: the resulting key is not a safe object key.
        """
        t0 = datetime.fromtimestamp(start, tz=timezone.utc)
        t1 = datetime.fromtimestamp(end, tz=timezone.utc)
        values = {
            "DomainName": domain, "AppName": app, "StreamName": stream,
            "Sequence": "" if sequence is None else str(sequence),
            "EscapedStartTime": _escaped(t0), "EscapedEndTime": _escaped(t1),
            "UnixTimestamp": str(int(start)), "Date": t0.strftime("%Y-%m-%d"),
            "Hour": t0.strftime("%H"), "Minute": t0.strftime("%M"), "Second": t0.strftime("%S"),
        }
        return validate_key(self.text.format_map(values))
