"""What to tell a user whose time-shift playlist or timeline answered 404. Pure.

The service answers a stream without time-shift like a missing one (SPEC §8: time-shift is
configured per stream with OpenLiveShift), so a 404 for a time-shift playlist or a timeline
query gets a hint that names the command turning it on, and the other cause. A transcoded
stream (``{stream}_{template}``) has time-shift only when its source's configuration says
``IgnoreTranscode=false``, so the hint names the source stream and ``--with-transcodes``.
Imported by :mod:`timeshift.errors`, so it imports nothing of timeshift.
"""

from __future__ import annotations

import shlex
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["TRANSCODE_TEMPLATES", "shift_off_hint"]

# The service's standard transcoding template ids (custom ones are named by the operator).
TRANSCODE_TEMPLATES = ("lld", "lsd", "lhd", "lud", "ld", "sd", "hd", "ud")


def shift_off_hint(url: str) -> str | None:
    """The hint for a 404 of ``url``; None when it is neither a time-shift playlist nor a timeline."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return None
    query = parse_qs(parts.query)
    if parts.path == "/openapi/timeline/query":
        app, stream = query.get("app", [""])[0], query.get("stream", [""])[0]
    elif parts.path.endswith(".m3u8") and any(k in query for k in ("lhs_start", "aliyunols")):
        segments = [unquote(s) for s in parts.path[:-len(".m3u8")].split("/")[1:]]
        if len(segments) != 2:
            return None
        app, stream = segments
    else:
        return None
    if not (netloc and app and stream):
        return None
    base, _, template = stream.rpartition("_")
    transcoded = bool(base) and template in TRANSCODE_TEMPLATES
    command = " ".join(["timeshift shift enable", "--domain", shlex.quote(netloc), "--app",
                        shlex.quote(app), "--stream", shlex.quote(base if transcoded else stream)]
                       + (["--with-transcodes"] if transcoded else []))
    return (f"time-shift may be off for {app}/{stream}: turn it on with `{command}` (it takes "
            "effect when the stream is pushed again), or check the domain, app and stream names")
