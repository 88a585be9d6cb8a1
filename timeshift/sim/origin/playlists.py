"""The playlist route: which segments a live, VOD or offset request lists (SPEC §1), and the
m3u8 written for them, in every HLS form the origin serves (AES-128 keys, byte ranges,
CMAF maps, signed URIs, PROGRAM-DATE-TIME, discontinuities)."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from urllib.parse import quote

import m3u8
from aiohttp import web

from ...errors import UsageError
from ...times import NS_PER_S, LhsParam
from .state import OriginState
from .stream import Stream

__all__ = ["render_playlist", "serve_playlist"]


async def serve_playlist(origin: OriginState, request: web.Request) -> web.Response:
    """A live, VOD or offset playlist from the request's lhs_* times, or the plain live one."""
    app, name = request.match_info["app"], request.match_info["stream"]
    if not origin.known(app, name):
        return web.Response(status=404, text="404 no such stream\n")
    if (off := origin.shift_off(app, name)) is not None:
        return off
    q = request.query
    plain = not any(k.startswith("lhs_") or k == "aliyunols" for k in q)  # live: issue 14
    if not plain and q.get("lhs_start") != "1" and q.get("aliyunols") != "on":
        return web.Response(status=404, text="not a time-shift request (no marker)\n")
    times: dict[str, int] = {}
    try:
        for key, value in q.items():
            if key.startswith("lhs_") and key != "lhs_start":
                p = LhsParam.from_name(key)
                times[p.type] = p.parse_value(value)
    except UsageError as exc:
        return web.Response(status=400, text=f"400 {exc}\n")
    now = origin.cfg.clock()
    s = origin.stream
    if plain:  # the normal live URL (SPEC §1): the newest segments, growing in real time
        times["offset"] = 0
    if "offset" in times:
        edge = now - times["offset"] / NS_PER_S
        last = s.index_at(edge) - 1
        first, endlist, vod = last - origin.cfg.list_size + 1, False, False
    elif "start" in times:
        start = times["start"] / NS_PER_S
        first = s.index_at(start)
        if "vodend" in times:
            vodend = times["vodend"] / NS_PER_S
            if vodend <= start:
                return web.Response(status=400, text="400 vodend is not after start\n")
            last, endlist, vod = math.ceil((vodend - s.t0) / s.duration - 1e-9) - 1, True, True
        else:
            # Live mode plays like a live stream delayed by (first request - start).
            key = request.path_qs
            first_seen = origin.sessions.setdefault(key, now)
            edge = start + (now - first_seen) + origin.cfg.list_size * s.duration
            end = times.get("end")
            endlist = end is not None and edge >= end / NS_PER_S
            if end is not None:
                edge = min(edge, end / NS_PER_S)
            last = math.ceil((edge - s.t0) / s.duration - 1e-9) - 1
            first, vod = max(first, last - origin.cfg.list_size + 1), False
    else:
        return web.Response(status=400, text="400 no lhs_start_*/lhs_offset_* time\n")
    indices = [k for k in range(max(first, 0), last + 1) if s.exists(k, now)]
    body = render_playlist(s, indices, request, app, name, endlist, vod)
    return web.Response(text=body, content_type="application/vnd.apple.mpegurl")


def render_playlist(stream: Stream, indices: list[int], request: web.Request, app: str,
                    name: str, endlist: bool, vod: bool) -> str:
    """The m3u8 listing segments ``indices`` of ``app/name``, URIs relative to ``request``."""
    cfg = stream.cfg
    pl = m3u8.M3U8()
    # The lowest version that has every tag written: IV (2), BYTERANGE (4), MAP in a media playlist (6).
    pl.version = 6 if cfg.fmp4_map or stream.init else 4 if cfg.byte_ranges else 3
    pl.target_duration = math.ceil(stream.duration)
    pl.media_sequence = stream.sequence(indices[0]) if indices else 0
    pl.discontinuity_sequence = stream.discontinuities_before(indices[0]) if indices else 0
    pl.is_endlist = endlist
    if vod:
        pl.playlist_type = "vod"
    prefix = f"/{quote(app, safe='')}/{quote(name, safe='')}"

    def link(path: str, query: str = "", host: str | None = None) -> str:
        """A URI for ``path`` under the stream: relative, or absolute on ``host``; signed
        the same way the CDN would check it."""
        uri = f"{quote(name, safe='')}/{path}"
        if host or cfg.absolute_uris:
            uri = f"{request.scheme}://{host or request.host}{prefix}/{path}"
        params = [query] if query else []
        if cfg.signer is not None and cfg.sign_uris:
            signed = cfg.signer.sign(f"{prefix}/{path}", timestamp=int(cfg.clock()))
            params.append(signed.split("?", 1)[1])
        return uri + ("?" + "&".join(params) if params else "")

    keys: dict[int, m3u8.Key] = {}  # one tag object per key: m3u8 writes a tag where it changes

    def key_tag(k: int) -> m3u8.Key | None:
        if cfg.encryption is None:
            return None
        n = stream.key_index(k)
        if n not in keys:
            method = "SAMPLE-AES" if cfg.encryption == "sample-aes" else "AES-128"
            iv = "0x" + stream.explicit_iv(n).hex() if cfg.iv == "explicit" else None
            keys[n] = m3u8.Key(method, None, uri=link(f"keys/{n}.key", host=cfg.key_host), iv=iv)
        return keys[n]

    prev = None
    for k in indices:
        start, _ = stream.span(k)
        byterange = None
        if cfg.byte_ranges:
            j, offset = stream.range_of(k)
            uri = link(f"r{j}.ts", host=cfg.segment_host)
            # The offset is left out where it follows the previous segment of the same resource.
            implied = prev == k - 1 and prev // cfg.byte_ranges == j
            byterange = f"{stream.wire_length(k)}" + ("" if implied else f"@{offset}")
        else:
            ext = "m4s" if stream.init else "ts"
            uri = link(f"{k}.{ext}", f"t={int(start)}", host=cfg.segment_host)
        pdt = (datetime.fromtimestamp(start, timezone.utc)
               if cfg.program_date_time else None)
        disc = prev is not None and (k != prev + 1 or stream.discontinuity_before(k))
        init = {"uri": f"{quote(name, safe='')}/init.mp4"} if cfg.fmp4_map else None
        if stream.init is not None:
            # CMAF: one init segment per cycle of the samples, so every discontinuity (a
            # wrap restarts the encode, as a reconnect does) names its own map.
            init = {"uri": link(f"init/{k // len(stream.segments)}.mp4", host=cfg.segment_host)}
        pl.add_segment(m3u8.Segment(uri=uri, duration=stream.duration, program_date_time=pdt,
                                    discontinuity=disc, keyobject=key_tag(k),
                                    byterange=byterange, init_section=init))
        prev = k
    return str(pl.dumps())
