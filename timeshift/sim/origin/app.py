"""The origin as an aiohttp application: its routes as a table, the request gate (latency,
CDN signing, injected 5xx), the notifier's lifetime, and :class:`OriginServer`, the
application in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from ...localserver import BackgroundServer
from .config import OriginConfig
from .notify import run_notifier
from .playlists import serve_playlist
from .segments import serve_init, serve_key, serve_resource, serve_segment
from .state import OriginState
from .timeline import serve_timeline

__all__ = ["ORIGIN_KEY", "OriginServer", "make_origin_app"]

ORIGIN_KEY: web.AppKey[OriginState] = web.AppKey("origin")

_Route = Callable[[OriginState, web.Request], Awaitable[web.StreamResponse]]

#: Every GET the origin answers (the URL layout in the package's docstring).
ROUTES: tuple[tuple[str, _Route], ...] = (
    ("/openapi/timeline/query", serve_timeline),
    ("/{app}/{stream}.m3u8", serve_playlist),
    (r"/{app}/{stream}/{k:\d+}.ts", serve_segment),
    (r"/{app}/{stream}/{k:\d+}.m4s", serve_segment),
    (r"/{app}/{stream}/init/{n:\d+}.mp4", serve_init),
    (r"/{app}/{stream}/r{j:\d+}.ts", serve_resource),
    (r"/{app}/{stream}/keys/{n:\d+}.key", serve_key),
)


def _gate(origin: OriginState) -> Callable[..., Awaitable[web.StreamResponse]]:
    """The middleware every request passes: latency, signing, 5xx."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], object]) -> web.StreamResponse:
        origin.count("requests")
        if origin.cfg.latency:
            await asyncio.sleep(origin.cfg.latency)
        if origin.cfg.signer is not None:
            result = origin.cfg.signer.verify(request.raw_path.split("?", 1)[0],
                                              request.query_string, now=int(origin.cfg.clock()))
            if not result.ok:
                origin.count("403")
                return web.Response(status=403, text=f"403 Forbidden: {result.reason}\n")
        if origin.cfg.fail_rate and origin.rng.random() < origin.cfg.fail_rate:
            origin.count("5xx")
            return web.Response(status=503, text="503 injected fault\n")
        return await handler(request)  # type: ignore[misc,no-any-return]

    return middleware


def make_origin_app(cfg: OriginConfig) -> web.Application:
    """The origin as an aiohttp application."""
    origin = OriginState(cfg)
    app = web.Application(middlewares=[_gate(origin)])
    app[ORIGIN_KEY] = origin
    if cfg.notify_url:
        async def notifier(app: web.Application) -> AsyncIterator[None]:
            task = asyncio.create_task(run_notifier(origin), name="timeshift-origin-notify")
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        app.cleanup_ctx.append(notifier)
    for path, route in ROUTES:
        app.router.add_get(path, functools.partial(route, origin))
    return app


class OriginServer(BackgroundServer):
    """The origin in a background thread: ``with OriginServer(cfg) as o: o.url``."""

    def __init__(self, cfg: OriginConfig | None = None, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.config = cfg or OriginConfig()
        super().__init__(lambda: make_origin_app(self.config), host, port)

    def bound(self) -> None:
        assert self.app is not None
        self.app[ORIGIN_KEY].bind(self.netloc)

    @property
    def stream_start(self) -> float:
        assert self.app is not None, "start the server first"
        return float(self.app[ORIGIN_KEY].stream.t0)

    @property
    def segment_duration(self) -> float:
        assert self.app is not None, "start the server first"
        return float(self.app[ORIGIN_KEY].stream.duration)

