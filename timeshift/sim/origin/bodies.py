"""Bodies as sent: a single ``Range`` answered 206 (or 416), and the faults of a body on the
wire: per-connection bandwidth, a truncated body, the range faults of a broken cache node."""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from .state import OriginState

__all__ = ["parse_range", "send"]

_CHUNK = 16 * 1024


async def send(origin: OriginState, request: web.Request, data: bytes,
               content_type: str = "video/MP2T") -> web.StreamResponse:
    """Answer with ``data`` (or the single range asked for), with the bandwidth and
    truncation faults applied."""
    status, headers = 200, {"Content-Type": content_type, "Accept-Ranges": "bytes"}
    if "Range" in request.headers and origin.cfg.range_fault != "ignore":
        try:
            asked = parse_range(request.headers["Range"], len(data))
        except ValueError:
            asked = (0, len(data) - 1)  # not one plain range: the whole body, as RFC 9110 allows
        else:
            if asked is None:
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            if origin.cfg.range_fault == "wrong":  # one byte late, as a broken cache node might be
                asked = (asked[0] + 1, min(asked[1] + 1, len(data) - 1))
            status = 206
            headers["Content-Range"] = f"bytes {asked[0]}-{asked[1]}/{len(data)}"
            origin.count("ranges")
        data = data[asked[0]:asked[1] + 1]
    truncate = origin.cfg.truncate_rate and origin.rng.random() < origin.cfg.truncate_rate
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_length = len(data)
    try:
        await resp.prepare(request)
        body = data[: len(data) // 2] if truncate else data
        bw = origin.cfg.bandwidth
        if bw:
            for i in range(0, len(body), _CHUNK):
                await resp.write(body[i:i + _CHUNK])
                await asyncio.sleep(min(_CHUNK, len(body) - i) / bw)
        else:
            await resp.write(body)
        if truncate:
            origin.count("truncated")
            # Close with the body short of its Content-Length, as a dying CDN node does.
            if request.transport is not None:
                request.transport.close()
            return resp
        await resp.write_eof()
    except ConnectionResetError:
        origin.count("client_gone")  # the client hung up (a hedged twin won, or it was killed)
    return resp


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """A single ``bytes=`` range as ``(first, last)`` within ``size``; None if unsatisfiable.

    Raises:
        ValueError: not one range of that form (the caller then serves the whole body).
    """
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if m is None or not (m.group(1) or m.group(2)):
        raise ValueError(header)
    if not m.group(1):  # bytes=-n: the last n bytes
        n = int(m.group(2))
        return (max(0, size - n), size - 1) if n else None
    first = int(m.group(1))
    last = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if m.group(2) and int(m.group(2)) < first:
        raise ValueError(header)
    return (first, last) if first < size else None
