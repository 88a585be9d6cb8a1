"""Starting and stopping a studio: its working folder, session token and socket.

The socket and thread are :class:`timeshift.localserver.BackgroundServer`'s (the one
place that runs a local aiohttp server); this adds what a studio session owns.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from ..errors import UsageError
from ..localserver import BackgroundServer
from .app import StudioState, make_app
from .exports import ExportQueue, Previews
from .media import MediaStore, StreamSource

__all__ = ["StudioConfig", "StudioServer"]


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


class StudioServer(BackgroundServer):
    """A studio in a background thread: ``with StudioServer(cfg) as s: s.page_url``.

    ``page_url`` carries the session token (the page works only from it); ``url`` is the
    bare address.
    """

    def __init__(self, config: StudioConfig) -> None:
        self.config = config
        self.token = secrets.token_urlsafe(24)
        self.state: StudioState | None = None
        super().__init__(self._make_app, config.host, config.port)

    @property
    def page_url(self) -> str:
        return f"{self.url}/?token={self.token}"

    def _make_app(self) -> web.Application:
        cfg = self.config
        out = Path(cfg.output_dir).resolve()
        # The working folder (segments, cache, previews) lives inside the output folder,
        # so the studio writes nowhere else; it goes when the studio stops.
        work = Path(tempfile.mkdtemp(prefix=".timeshift-studio-", dir=out))
        media = MediaStore(cfg.source, work)
        self.state = StudioState(
            source=cfg.source, window=(cfg.start, cfg.end), follow=cfg.follow,
            output_dir=out, workdir=work, token=self.token, host=cfg.host, media=media,
            exports=ExportQueue(cfg.source, out, media.cache_dir),
            previews=Previews(cfg.source, work / "previews", media.cache_dir,
                              cfg.preview_seconds))
        return make_app(self.state)

    def bound(self) -> None:
        assert self.state is not None
        self.state.port = self.port  # the Host check and the cookie's name need it

    def start(self) -> StudioServer:
        try:
            super().start()
        except UsageError:  # localserver's own one line for a taken port
            self._remove_workdir()
            raise
        except OSError as exc:
            self._remove_workdir()
            raise UsageError(f"cannot listen on {self.host}:{self.port} "
                             f"({exc.strerror or exc})", option="--port") from exc
        return self

    def stop(self) -> None:
        super().stop()
        self._remove_workdir()

    def _remove_workdir(self) -> None:
        if self.state is not None:
            shutil.rmtree(self.state.workdir, ignore_errors=True)
