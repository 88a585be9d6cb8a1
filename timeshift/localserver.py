"""Running an aiohttp application as a local server: in a background thread or in the foreground.

The callback receiver and every simulator (origin, Live API, OSS) is an
``aiohttp.web.Application``; this module is the one place that knows how to start and
stop one. It sits below both, so the product never imports a simulator to get it.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sys
import threading
from collections.abc import Callable
from types import TracebackType

if sys.version_info >= (3, 11):
    from typing import Self
else:  # aiohttp brings typing_extensions on these versions
    from typing_extensions import Self

from aiohttp import web

from .errors import UsageError

__all__ = ["BackgroundServer", "serve_forever"]


class BackgroundServer:
    """Serve an application on ``host:port`` from a daemon thread.

    ``port=0`` picks a free port; ``url`` is known once :meth:`start` returns.
    Use as a context manager in tests::

        with BackgroundServer(make_app) as srv:
            requests.get(srv.url + "/...")
    """

    def __init__(self, app_factory: Callable[[], web.Application], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._factory = app_factory
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.app: web.Application | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def netloc(self) -> str:
        return self.url.split("://", 1)[1]

    def start(self) -> Self:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_site())
            except BaseException as exc:  # reported to the starting thread below
                failure.append(exc)
                # The loop is closed here, not left to the garbage collector: collected at
                # interpreter exit it fails noisily ("Invalid file descriptor: -1").
                if self._runner is not None:
                    with contextlib.suppress(Exception):
                        loop.run_until_complete(self._runner.cleanup())
                loop.close()
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="timeshift-server", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the local server did not start within 30 s")
        if failure:
            exc = failure[0]
            if isinstance(exc, OSError) and exc.errno in (errno.EADDRINUSE, errno.EACCES,
                                                         errno.EADDRNOTAVAIL):
                # A user's choice of port, not a bug: one line, exit 2 (issue 11).
                why = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                raise UsageError(f"cannot listen on {self.host}:{self.port}: {why}",
                                 option="--port") from None
            raise exc
        return self

    async def _start_site(self) -> None:
        self.app = self._factory()
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server = site._server  # the bound port is only known here when port=0
        sockets = getattr(server, "sockets", None)
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.bound()

    def bound(self) -> None:
        """Called in the server's thread once ``url`` is known; servers that need it override."""

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def serve_forever(servers: list[BackgroundServer], on_ready: Callable[[], None]) -> None:
    """Start servers, call ``on_ready``, and block until Ctrl-C; then stop them all."""
    started = []
    try:
        for srv in servers:
            started.append(srv.start())
        on_ready()
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        for srv in reversed(started):
            srv.stop()
