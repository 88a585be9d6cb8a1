"""A small hostile origin for the hardening tests: any route answers what the test says,
on 127.0.0.1, over real sockets; every request is counted by path."""

from __future__ import annotations

import asyncio
import collections
import gzip
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from timeshift.sim.server import BackgroundServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAMPLES = Path(__file__).resolve().parent.parent / "samples"
PDT = "2026-11-21T06:00:00.000Z"


class Hostile(BackgroundServer):
    """``routes`` maps a path to a handler; unknown paths answer 404. ``hits`` counts by path."""

    def __init__(self, routes: dict[str, Handler] | None = None) -> None:
        self.routes: dict[str, Handler] = dict(routes or {})
        self.hits: collections.Counter[str] = collections.Counter()
        super().__init__(self._app)

    def _app(self) -> web.Application:
        async def any_route(request: web.Request) -> web.StreamResponse:
            self.hits[request.path] += 1
            handler = self.routes.get(request.path)
            if handler is None:
                return web.Response(status=404)
            return await handler(request)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", any_route)
        return app

    @property
    def total(self) -> int:
        return sum(self.hits.values())


def text(body: str, status: int = 200, **headers: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(text=body, status=status, headers=headers)
    return handle


def raw(body: bytes, status: int = 200, **headers: str) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, headers=headers)
    return handle


def redirect(location: str, status: int = 302) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": location})
    return handle


def gzip_bomb(inflated: int) -> bytes:
    """A gzip body that inflates to ``inflated`` zero bytes (about 1000:1)."""
    return gzip.compress(b"\0" * inflated, compresslevel=9)


def drip(total: int, every: float, chunk: bytes = b"\x47") -> Handler:
    """Declare ``total`` bytes, then send one chunk every ``every`` seconds."""
    async def handle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Length": str(total)})
        await resp.prepare(request)
        for _ in range(total // len(chunk)):
            await resp.write(chunk)
            await asyncio.sleep(every)
        return resp
    return handle


def endless(chunk: int = 1 << 16) -> Handler:
    """A body with no Content-Length that never ends (chunked)."""
    async def handle(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        block = b"\x47" + b"\0" * (chunk - 1)
        for _ in range(1 << 20):
            await resp.write(block)
        return resp
    return handle


def media_playlist(uris: list[str], *, key_lines: dict[int, str] | None = None,
                   sequence: int = 0, pdt: str = PDT) -> str:
    """A VOD media playlist of 2 s segments, dated from ``pdt``."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-TARGETDURATION:2",
             f"#EXT-X-MEDIA-SEQUENCE:{sequence}", f"#EXT-X-PROGRAM-DATE-TIME:{pdt}"]
    for i, uri in enumerate(uris):
        if key_lines and i in key_lines:
            lines.append(key_lines[i])
        lines += ["#EXTINF:2.000,", uri]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def sample(i: int = 0) -> bytes:
    return (SAMPLES / f"seg_{i:03d}.ts").read_bytes()
