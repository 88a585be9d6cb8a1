"""The studio's HTTP surface (aiohttp): the page, its JSON API, images, previews and exports.

Security, in one middleware:

* the ``Host`` header must name the loopback address the studio is bound to (a page on
  another site that rebinds its DNS name to 127.0.0.1 is refused);
* every request needs this session's token: in the URL the CLI prints (first visit),
  then in a cookie scoped to the session; requests that change anything (``POST``)
  must also carry it in ``X-Studio-Token``, which only the page itself can read and
  which a cross-site form or image cannot send;
* the page never names a URL to fetch: it sends times only, and the server fetches
  from the one configured stream (through the clip pipeline's host checks);
* files are written only by the clip pipeline, under names the server makes (exports
  in the output folder, everything else in the working folder inside it), and only
  files the studio wrote are served back;
* the signer's key stays in :class:`~timeshift.studio.media.StreamSource` on the
  server: no response carries it, nor a signed URL.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from ..errors import GapError, TimeshiftError, UsageError
from ..times import NS_PER_S, format_iso, now_ns, parse_time
from .exports import ExportQueue, Previews, cli_error
from .frames import export_name, unix_text
from .media import MediaStore, StreamSource

__all__ = ["STATE", "StudioState", "make_app"]

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
TOKEN_HEADER = "X-Studio-Token"
# A timeline query longer than this is refused: a week of 2 s segments is 300k entries.
MAX_TIMELINE_S = 7 * 86_400
_LOOPBACK = ("127.0.0.1", "localhost", "[::1]", "::1")


@dataclass
class StudioState:
    """Everything one studio session holds; ``port`` is set once the socket is bound."""

    source: StreamSource
    window: tuple[int, int]
    output_dir: Path
    workdir: Path
    token: str
    host: str
    media: MediaStore
    exports: ExportQueue
    previews: Previews
    port: int = 0
    follow: bool = False

    @property
    def cookie(self) -> str:
        return f"timeshift-studio-{self.port}"

    def host_ok(self, header: str) -> bool:
        if self.host not in _LOOPBACK:  # bound elsewhere on purpose: the token still guards it
            return True
        name, _, port = header.rpartition(":")
        return port == str(self.port) and name in _LOOPBACK


STATE: web.AppKey[StudioState] = web.AppKey("studio")
THUMBS: web.AppKey[ThreadPoolExecutor] = web.AppKey("thumbnails")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


def _fail(exc: BaseException, status: int | None = None, command: str = "studio") -> web.Response:
    body = cli_error(exc, command)
    if status is None:
        status = {2: 400, 3: 409}.get(body["exit_code"], 502)
    return _json(body, status)


# Times the page may send: from the epoch to the year 9999 (what dates can show).
_LATEST = 253_402_300_799 * NS_PER_S


def _checked_time(text: str, option: str) -> int:
    try:
        t = parse_time(text)
    except UsageError as exc:
        raise exc.with_option(option) from None
    if not 0 <= t <= _LATEST:
        raise UsageError(f"{text!r} is out of range (1970 to 9999)", option=option)
    return t


def _time(request: web.Request, name: str, option: str) -> int:
    return _checked_time(request.query.get(name, ""), option)


_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                               "media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the first URL carries the token
    "X-Frame-Options": "DENY",
}


def _same(given: str, token: str) -> bool:
    """Constant-time comparison that takes any text (a hostile value may not be ASCII)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


@web.middleware
async def guard(request: web.Request, handler: Any) -> web.StreamResponse:
    st = request.app[STATE]
    if not st.host_ok(request.host):
        return web.Response(status=403, text="studio: refused Host header\n")
    cookie_ok = _same(request.cookies.get(st.cookie, ""), st.token)
    url_ok = request.path == "/" and _same(request.query.get("token", ""), st.token)
    if not (cookie_ok or url_ok):
        return web.Response(status=403, text="studio: open the URL that `timeshift studio` "
                                              "printed; it carries this session's token\n")
    if request.method not in ("GET", "HEAD"):
        origin = request.headers.get("Origin")
        if not _same(request.headers.get(TOKEN_HEADER, ""), st.token) or (
                origin is not None and origin != f"{request.scheme}://{request.host}"):
            return _json({"error": "Forbidden", "exit_code": 2,
                          "message": "studio: this request needs the page's session token"}, 403)
    resp = await handler(request)
    resp.headers.update(_HEADERS)
    if url_ok:
        resp.set_cookie(st.cookie, st.token, httponly=True, samesite="Strict", path="/")
    return resp  # type: ignore[no-any-return]


async def index(request: web.Request) -> web.Response:
    st = request.app[STATE]
    page = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{TOKEN}}", st.token)
    return web.Response(text=page, content_type="text/html",
                        headers={"Cache-Control": "no-store"})


async def config(request: web.Request) -> web.Response:
    st = request.app[STATE]
    s = st.source
    start, end = st.window
    if st.follow:  # a live stream: the window runs up to now
        end = max(end, now_ns())
    return _json({
        "domain": s.domain, "app": s.app, "stream": s.stream, "scheme": s.scheme,
        "signed": s.signer is not None,
        "window": {"start": unix_text(start), "end": unix_text(end),
                   "start_iso": format_iso(start), "end_iso": format_iso(end)},
        "follow": st.follow,
        "preview_seconds": st.previews.seconds,
        "output_dir": str(st.output_dir),
    })


async def timeline(request: web.Request) -> web.Response:
    from ..timeline import query_timeline

    st = request.app[STATE]
    try:
        start, end = _time(request, "start", "start"), _time(request, "end", "end")
        lo, hi = start // NS_PER_S, -(-end // NS_PER_S)
        if hi <= lo or hi - lo > MAX_TIMELINE_S:
            raise UsageError(f"a timeline spans 1 s to {MAX_TIMELINE_S // 86_400} days",
                             option="end")
        s = st.source
        tl = await asyncio.to_thread(query_timeline, s.domain, s.app, s.stream, lo, hi,
                                     scheme=s.scheme, signer=s.signer)
    except TimeshiftError as exc:
        return _fail(exc)
    return _json(tl.to_dict())


async def parse(request: web.Request) -> web.Response:
    try:
        t = _time(request, "t", request.query.get("option", "time"))
    except UsageError as exc:
        return _fail(exc)
    return _json({"t": unix_text(t), "iso": format_iso(t), "ms": t // 1_000_000})


def _gap_at(t: int, exc: GapError) -> web.Response:
    return _json({"error": "GapError", "exit_code": 3, "gap": True, "t": unix_text(t),
                  "message": f"no data at {format_iso(t)}: a gap in the stream"}, 409)


async def frame(request: web.Request) -> web.Response:
    st = request.app[STATE]
    try:
        t = _time(request, "t", "time")
        f = await asyncio.to_thread(st.media.frame, t)
    except GapError as exc:
        return _gap_at(t, exc)
    except TimeshiftError as exc:
        return _fail(exc)
    body = f.to_dict() | {"iso": format_iso(f.start),
                          "image": f"/api/still.jpg?t={unix_text(f.start)}"}
    return _json(body)


async def still(request: web.Request) -> web.Response:
    st = request.app[STATE]
    try:
        t = _time(request, "t", "time")
        f = await asyncio.to_thread(st.media.frame, t)
        data = await asyncio.to_thread(st.media.still, f)
    except GapError as exc:
        return _gap_at(t, exc)
    except TimeshiftError as exc:
        return _fail(exc)
    return web.Response(body=data, content_type="image/jpeg", headers={
        "Cache-Control": "private, max-age=3600", "X-Frame-Start": unix_text(f.start)})


async def thumbnail(request: web.Request) -> web.Response:
    st = request.app[STATE]
    try:
        t = _time(request, "t", "time")
        # Thumbnails wait in their own one-thread line, so a screenful of them never
        # holds up the still the user is stepping through.
        loop = asyncio.get_running_loop()
        data, key_ns = await loop.run_in_executor(request.app[THUMBS], st.media.thumbnail, t)
    except GapError as exc:
        return _gap_at(t, exc)
    except TimeshiftError as exc:
        return _fail(exc)
    return web.Response(body=data, content_type="image/jpeg", headers={
        "Cache-Control": "private, max-age=3600", "X-Keyframe-Time": unix_text(key_ns)})


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        raise UsageError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise UsageError("the request body is not a JSON object")
    return body


def _parse_field(body: dict[str, Any], name: str, option: str) -> int:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise UsageError("give a time", option=option)
    return _checked_time(value, option)


async def preview(request: web.Request) -> web.Response:
    st = request.app[STATE]
    try:
        t = _parse_field(await _body(request), "t", "time")
        name, info = await asyncio.to_thread(st.previews.make, t)
    except TimeshiftError as exc:
        return _fail(exc)
    return _json({"url": f"/previews/{name}", **info})


async def preview_file(request: web.Request) -> web.StreamResponse:
    path = request.app[STATE].previews.path(request.match_info["name"])
    if path is None:
        return web.Response(status=404, text="no such preview\n")
    return web.FileResponse(path, headers={"Content-Type": "video/mp4"})


async def export_window(st: StudioState, body: dict[str, Any]) -> tuple[int, int, int]:
    """The export's ``[start, end)``: ``start`` as typed (the frame on screen then is the
    first), ``end`` half a frame into the frame on screen at ``out``, so that frame is the
    last the clip holds (an end inside a frame keeps it whole)."""
    start = _parse_field(body, "start", "--start")
    out = _parse_field(body, "end", "--end")
    if out < start:
        raise UsageError("the out mark is before the in mark; mark out later than in",
                         option="--end")
    try:
        last = await asyncio.to_thread(st.media.frame, out)
    except GapError:
        return start, out, out  # the clip itself reports the gap, as the CLI does
    end = last.start + (last.end - last.start) // 2
    if end <= start:
        raise UsageError("the out mark is before the in mark's frame", option="--end")
    return start, end, last.end


async def export_create(request: web.Request) -> web.Response:
    st = request.app[STATE]
    try:
        body = await _body(request)
        start, end, shown = await export_window(st, body)
        name = body.get("name") if isinstance(body.get("name"), str) else None
        job = st.exports.submit(export_name(st.source.stream, start, shown, name), start, end,
                                bool(body.get("allow_gaps")), shown)
    except TimeshiftError as exc:
        return _fail(exc, command="clip")  # the marks are the clip's --start and --end
    return _json(job.to_dict(st.source), 202)


async def export_list(request: web.Request) -> web.Response:
    st = request.app[STATE]
    return _json({"exports": [j.to_dict(st.source) for j in st.exports.list()]})


async def export_file(request: web.Request) -> web.StreamResponse:
    st = request.app[STATE]
    path = st.exports.file(request.match_info["name"])
    if path is None or not path.exists():
        return web.Response(status=404, text="no such export\n")
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4",
        "Content-Disposition": f'attachment; filename="{path.name}"'})


def make_app(state: StudioState) -> web.Application:
    """The studio application for one session."""
    app = web.Application(middlewares=[guard], client_max_size=64 * 1024)
    app[STATE] = state
    app[THUMBS] = ThreadPoolExecutor(1, thread_name_prefix="studio-thumbnails")
    r = app.router
    r.add_get("/", index)
    r.add_get("/api/config", config)
    r.add_get("/api/timeline", timeline)
    r.add_get("/api/parse", parse)
    r.add_get("/api/frame", frame)
    r.add_get("/api/still.jpg", still)
    r.add_get("/api/thumb.jpg", thumbnail)
    r.add_post("/api/preview", preview)
    r.add_get("/previews/{name}", preview_file)
    r.add_post("/api/exports", export_create)
    r.add_get("/api/exports", export_list)
    r.add_get("/files/{name}", export_file)
    r.add_static("/static", STATIC, follow_symlinks=False)

    async def close(app: web.Application) -> None:
        await app[STATE].exports.close()
        app[THUMBS].shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(close)
    return app
