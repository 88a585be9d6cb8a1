"""The timeline route (SPEC §2): which spans of a stream hold segments, as the service's
``/openapi/timeline/query`` answers."""

from __future__ import annotations

import math

from aiohttp import web

from .state import OriginState

__all__ = ["serve_timeline"]


async def serve_timeline(origin: OriginState, request: web.Request) -> web.Response:
    """The covered spans of ``[lhs_start_unix_s_0, lhs_end_unix_s_0)``, one per segment."""
    q = request.query
    missing = [k for k in ("app", "stream", "format", "lhs_start_unix_s_0",
                           "lhs_end_unix_s_0") if not q.get(k)]
    if missing:
        return web.json_response({"retCode": 1, "description":
                                  f"missing parameter: {', '.join(missing)}"})
    if not origin.known(q["app"], q["stream"]):
        return web.json_response({"retCode": 5, "description": "stream not found"})
    if (off := origin.shift_off(q["app"], q["stream"])) is not None:
        return off
    if q["format"] not in ("ts", "flv"):
        return web.json_response({"retCode": 2, "description": "format must be ts or flv"})
    try:
        start, end = int(q["lhs_start_unix_s_0"]), int(q["lhs_end_unix_s_0"])
    except ValueError:
        return web.json_response({"retCode": 3, "description": "times must be unix seconds"})
    if end <= start:
        return web.json_response({"retCode": 4, "description": "end must be after start"})
    now = origin.cfg.clock()
    s = origin.stream
    entries = []
    for k in range(max(s.index_at(start), 0), s.index_at(end - 1e-9) + 1):
        if s.exists(k, now):
            a, b = s.span(k)
            entries.append({"start": math.floor(a), "end": math.ceil(b)})
    return web.json_response({"retCode": 0, "description": "success",
                              "content": {"current": int(now), "timeline": entries}})
