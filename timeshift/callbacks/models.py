"""The callbacks ApsaraVideo Live sends, as validated values (SPEC §5; seed 7.4, 11.13, 11.14). Pure.

Three forms reach a receiver:

- **publish notify** (seed 7.4), a GET query: ``action=publish|publish_done``, ``app`` (the
  domain, despite its name), ``appname``, ``id`` (the stream), ``ip``, ``node``, ``time``
  (unix seconds), ``usrargs``;
- **recording events** (seed 11.14), a JSON body: a file event ``{domain, app, stream, uri,
  duration, start_time, stop_time}`` or a status event ``{domain, app, stream, event}`` with
  ``record_started|record_paused|record_resumed``;
- **the on-demand recording question** (seed 11.13), a GET query ``domain, app, stream,
  codec, vbitrate`` (kbps).

Every parser raises :class:`~timeshift.errors.PayloadError` naming the field at fault, and
nothing else, so a receiver can answer 400 to anything malformed. The seed's own publish
example carries neither ``time`` nor ``usrargs``, so those two are optional; what names a
stream (domain, app, stream) is always required.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import PayloadError

__all__ = [
    "RECORD_STATUS_EVENTS",
    "OnDemandQuery",
    "PublishAction",
    "PublishNotify",
    "RecordEvent",
    "RecordFileEvent",
    "RecordStatusEvent",
    "parse_on_demand",
    "parse_publish",
    "parse_record_event",
]

PublishAction = Literal["publish", "publish_done"]
RECORD_STATUS_EVENTS = ("record_started", "record_paused", "record_resumed")

MAX_NAME = 255          # app and stream names; recording object names stay under 256 bytes
MAX_TEXT = 1024         # free text the service passes through (usrargs, node, uri)
MAX_UNIX = 2**32        # a unix time past 2106 is a wrong unit (ms), not a date
_DOMAIN = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})(:\d{1,5})?")  # "gs_domain": seed 11.14; a port: the local origin
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_DIGITS = 12        # unix seconds, or kbps, never need more


def _text(data: Mapping[str, Any], key: str, *, required: bool = True,
          limit: int = MAX_NAME) -> str:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError("is missing", field=key)
        return ""
    if not isinstance(value, str):
        raise PayloadError(f"must be a string, not {type(value).__name__}", field=key)
    if len(value) > limit:
        raise PayloadError(f"is longer than {limit} characters", field=key)
    if _CONTROL.search(value):
        raise PayloadError("holds control characters", field=key)
    return value


def _name(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    if "/" in value or value in (".", ".."):
        # App and stream names become object-name parts and URL path segments.
        raise PayloadError("may not contain '/' or be '.' or '..'", field=key)
    return value


def _domain(data: Mapping[str, Any], key: str) -> str:
    value = _text(data, key)
    if not _DOMAIN.fullmatch(value):
        raise PayloadError(f"{value[:60]!r} is not a domain name", field=key)
    return value.lower()


def _unix(data: Mapping[str, Any], key: str, *, required: bool = True) -> int | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise PayloadError("is missing", field=key)
        return None
    if isinstance(value, bool):
        raise PayloadError("must be unix seconds", field=key)
    if isinstance(value, str):
        value = value.strip()
        # isdigit alone passes "²" and other non-ASCII digits, which int() refuses, and
        # int() of thousands of digits raises too: both were 500s (issue 11, item 9).
        if not (value.isascii() and value.isdigit()) or len(value) > _MAX_DIGITS:
            raise PayloadError(f"{value[:20]!r} is not unix seconds", field=key)
        value = int(value)
    if not isinstance(value, int):
        raise PayloadError("must be whole unix seconds", field=key)
    if not 0 < value < MAX_UNIX:
        raise PayloadError(f"{value} is not a plausible unix time in seconds", field=key)
    return value


@dataclass(frozen=True)
class PublishNotify:
    """A stream started (``publish``) or stopped (``publish_done``) publishing (seed 7.4).

    ``domain`` is the query's ``app`` (the ingest domain, else the play domain), ``app`` its
    ``appname`` and ``stream`` its ``id``. ``time`` is unix seconds, or None when the
    callback did not carry it (the seed's example does not).
    """

    action: PublishAction
    domain: str
    app: str
    stream: str
    time: int | None = None
    ip: str = ""
    node: str = ""
    usrargs: str = ""

    def to_query(self) -> dict[str, str]:
        """The GET query the service sends for this event (the local origin sends it too)."""
        q = {"action": self.action, "app": self.domain, "appname": self.app, "id": self.stream,
             "ip": self.ip, "node": self.node, "usrargs": self.usrargs}
        if self.time is not None:
            q["time"] = str(self.time)
        return q

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_publish(query: Mapping[str, str]) -> PublishNotify:
    """A publish notify from its GET query.

    Raises:
        PayloadError: a missing or malformed field.
    """
    action = _text(query, "action", limit=32)
    if action not in ("publish", "publish_done"):
        raise PayloadError(f"{action[:32]!r} is neither publish nor publish_done", field="action")
    return PublishNotify(
        action="publish" if action == "publish" else "publish_done",
        domain=_domain(query, "app"), app=_name(query, "appname"), stream=_name(query, "id"),
        time=_unix(query, "time", required=False),
        ip=_text(query, "ip", required=False, limit=64),
        node=_text(query, "node", required=False, limit=MAX_TEXT),
        usrargs=_text(query, "usrargs", required=False, limit=MAX_TEXT))


@dataclass(frozen=True)
class RecordFileEvent:
    """A recording file was written (seed 11.14): ``uri`` is its object name in the bucket."""

    domain: str
    app: str
    stream: str
    uri: str
    duration: float
    start_time: int
    stop_time: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordStatusEvent:
    """A recording task started, paused or resumed (sent when NeedStatusNotify=true)."""

    domain: str
    app: str
    stream: str
    event: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


RecordEvent = RecordFileEvent | RecordStatusEvent


def parse_record_event(body: bytes | str) -> RecordEvent:
    """A recording event from its JSON body: a file event, or a status event if it has ``event``.

    Raises:
        PayloadError: not a JSON object, or a missing or malformed field.
    """
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the body is not JSON ({exc.__class__.__name__})",
                           field="body") from None
    except RecursionError:
        # Tens of thousands of nested brackets fit in the body limit; json recurses per level.
        raise PayloadError("the body is nested too deeply", field="body") from None
    except ValueError as exc:  # e.g. an integer of more digits than int() accepts
        raise PayloadError(f"the body holds an unreadable value ({str(exc)[:60]})",
                           field="body") from None
    if not isinstance(data, dict):
        raise PayloadError("the body is not a JSON object", field="body")
    domain, app, stream = _domain(data, "domain"), _name(data, "app"), _name(data, "stream")
    if "event" in data:
        event = _text(data, "event", limit=32)
        if event not in RECORD_STATUS_EVENTS:
            raise PayloadError(f"{event!r} is not one of {', '.join(RECORD_STATUS_EVENTS)}",
                               field="event")
        return RecordStatusEvent(domain, app, stream, event)
    uri = _text(data, "uri", limit=MAX_TEXT)
    if uri.startswith("/") or ".." in uri.split("/") or "\\" in uri:
        # The uri names an object to copy; it must stay inside the recording bucket.
        raise PayloadError("must be a relative object name without '..'", field="uri")
    duration = data.get("duration")
    if (isinstance(duration, bool) or not isinstance(duration, (int, float))
            or not math.isfinite(duration) or duration < 0):
        raise PayloadError("must be a non-negative number of seconds", field="duration")
    start, stop = _unix(data, "start_time"), _unix(data, "stop_time")
    assert start is not None and stop is not None  # required=True
    if stop < start:
        raise PayloadError("is before start_time", field="stop_time")
    return RecordFileEvent(domain, app, stream, uri, float(duration), start, stop)


@dataclass(frozen=True)
class OnDemandQuery:
    """The service asks whether to record a stream (seed 11.13). ``vbitrate`` is kbps."""

    domain: str
    app: str
    stream: str
    codec: str = ""
    vbitrate: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_on_demand(query: Mapping[str, str]) -> OnDemandQuery:
    """The on-demand recording question from its GET query.

    ``codec`` and ``vbitrate`` may be empty (a rule that needs them then does not match);
    a ``vbitrate`` that is there must be a whole number of kbps.

    Raises:
        PayloadError: a missing or malformed field.
    """
    raw = query.get("vbitrate", "").strip()  # the seed's own example has "vbitrate= 2000"
    if raw and not (raw.isascii() and raw.isdigit()):
        raise PayloadError(f"{raw[:20]!r} is not a whole number of kbps", field="vbitrate")
    if len(raw) > 9:
        raise PayloadError("is implausibly large", field="vbitrate")
    return OnDemandQuery(domain=_domain(query, "domain"), app=_name(query, "app"),
                         stream=_name(query, "stream"),
                         codec=_text(query, "codec", required=False, limit=32).lower(),
                         vbitrate=int(raw) if raw else None)
