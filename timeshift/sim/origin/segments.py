"""The media routes: segments (MPEG-TS or CMAF fragments), CMAF init segments, byte-range
resources, AES-128 keys."""

from __future__ import annotations

from aiohttp import web

from .bodies import send
from .state import OriginState

__all__ = ["serve_init", "serve_key", "serve_resource", "serve_segment"]


async def serve_segment(origin: OriginState, request: web.Request) -> web.StreamResponse:
    """Segment k, once it has ended and unless it lies in a gap (encrypted under AES-128)."""
    k = int(request.match_info["k"])
    known = origin.known(request.match_info["app"], request.match_info["stream"])
    if not known or not origin.stream.exists(k, origin.cfg.clock()):
        return web.Response(status=404, text="404 no such segment\n")
    origin.count("segments")
    kind = "video/iso.segment" if origin.stream.init else "video/MP2T"
    return await send(origin, request, origin.stream.wire(k), kind)


async def serve_init(origin: OriginState, request: web.Request) -> web.StreamResponse:
    """CMAF init segment of sample cycle n (served in the clear, also under AES-128:
    the playlist writes no explicit IV an encrypted map would need)."""
    init = origin.stream.init
    if init is None or not origin.known(request.match_info["app"], request.match_info["stream"]):
        return web.Response(status=404, text="404 no such init segment\n")
    origin.count("inits")
    return await send(origin, request, init, "video/mp4")


async def serve_resource(origin: OriginState, request: web.Request) -> web.StreamResponse:
    """Byte-range resource j: segments jN..jN+N-1 end to end, as far as they have ended."""
    j, n, s = int(request.match_info["j"]), origin.cfg.byte_ranges, origin.stream
    now = origin.cfg.clock()
    ks = [k for k in range(j * n, (j + 1) * n) if k >= 0 and s.span(k)[1] <= now]
    known = origin.known(request.match_info["app"], request.match_info["stream"])
    if not n or not known or not any(s.exists(k, now) for k in ks):
        return web.Response(status=404, text="404 no such resource\n")
    origin.count("segments")
    return await send(origin, request, b"".join(s.wire(k) for k in ks))


async def serve_key(origin: OriginState, request: web.Request) -> web.Response:
    """AES-128 key n, ``key_length`` bytes, not to be cached."""
    known = origin.known(request.match_info["app"], request.match_info["stream"])
    if origin.cfg.encryption is None or not known:
        return web.Response(status=404, text="404 no such key\n")
    origin.count("keys")
    return web.Response(body=origin.stream.served_key(int(request.match_info["n"])),
                        content_type="application/octet-stream",
                        headers={"Cache-Control": "private, no-store"})
