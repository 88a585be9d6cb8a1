"""Starting and stopping a studio: its working folder, session token, socket and thread."""

from __future__ import annotations

import asyncio
import secrets
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..errors import UsageError
from .app import StudioState, make_app
from .exports import ExportQueue, Previews
from .media import MediaStore, StreamSource

__all__ = ["Studio", "StudioConfig", "StudioThread"]


@dataclass(frozen=True)
class StudioConfig:
    """One studio: the stream, the window first shown (ns), where exports go, where to listen."""

    source: StreamSource
    start: int
    end: int
    output_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    preview_seconds: float = 4.0
    #: The window's end follows the clock (no --end given): the page's refresh extends it.
    follow: bool = False

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise UsageError("the end is not after the start; give an end later than --start",
                             option="--end")
        if not Path(self.output_dir).is_dir():
            raise UsageError(f"the folder {self.output_dir} does not exist",
                             option="--output-dir")


class Studio:
    """A running studio (in the current event loop): ``url`` carries the session token."""

    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.token = secrets.token_urlsafe(24)
        self._runner: web.AppRunner | None = None
        self.state: StudioState | None = None
        self.port = 0

    @property
    def url(self) -> str:
        host = self.config.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self.port}/?token={self.token}"

    async def start(self) -> str:
        cfg = self.config
        out = Path(cfg.output_dir).resolve()
        # The working folder (segments, cache, previews) lives inside the output folder,
        # so the studio writes nowhere else; it goes when the studio stops.
        work = Path(tempfile.mkdtemp(prefix=".timeshift-studio-", dir=out))
        media = MediaStore(cfg.source, work)
        self.state = StudioState(
            source=cfg.source, window=(cfg.start, cfg.end), follow=cfg.follow,
            output_dir=out, workdir=work,
            token=self.token, host=cfg.host, media=media,
            exports=ExportQueue(cfg.source, out, media.cache_dir),
            previews=Previews(cfg.source, work / "previews", media.cache_dir,
                              cfg.preview_seconds))
        self._runner = web.AppRunner(make_app(self.state), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, cfg.host, cfg.port)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise UsageError(f"cannot listen on {cfg.host}:{cfg.port} ({exc.strerror or exc})",
                             option="--port") from exc
        sockets = getattr(site._server, "sockets", None)  # the bound port, when 0 was asked
        self.port = sockets[0].getsockname()[1] if sockets else cfg.port
        self.state.port = self.port
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.state is not None:
            shutil.rmtree(self.state.workdir, ignore_errors=True)

    async def serve_forever(self) -> None:
        await asyncio.Event().wait()


class StudioThread:
    """A studio in a background thread (tests, and the CLI's foreground wait)."""

    def __init__(self, config: StudioConfig) -> None:
        self.studio = Studio(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> StudioThread:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self.url = loop.run_until_complete(self.studio.start())
            except BaseException as exc:  # handed to the starting thread below
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.studio.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="timeshift-studio", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError("the studio did not start within 30 s")
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop = None

    def __enter__(self) -> StudioThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
