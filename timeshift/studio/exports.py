"""Exports and previews: exact clips made in the background by the clip pipeline.

Exports queue and run one at a time (the exact cut is CPU-bound and the machine is
usually shared); each reports progress from the clip's own events and ends either
with a file in the output folder or with the error the CLI would print. Previews are
short exact clips into the studio's working folder, newest few kept.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TimeshiftError, UsageError
from ..times import NS_PER_S, format_iso
from .frames import unix_text
from .media import StreamSource, media_errors

__all__ = ["ExportJob", "ExportQueue", "Previews", "cli_error"]

log = logging.getLogger(__name__)

#: Exports queued or running at once (the page is local, but a stuck key should not
#: queue a thousand cuts).
MAX_WAITING = 20


def cli_error(exc: BaseException, command: str = "clip") -> dict[str, Any]:
    """The error as ``timeshift clip`` prints it, with its exit code and structured fields."""
    if isinstance(exc, TimeshiftError):
        return {**exc.to_dict(), "message": f"timeshift {command}: error: {exc}",
                "exit_code": exc.exit_code}
    log.exception("studio: unexpected failure", exc_info=exc)
    return {"error": type(exc).__name__, "exit_code": 1,
            "message": f"timeshift {command}: internal error: {type(exc).__name__}"}


@dataclass
class ExportJob:
    """One export: the window (ns), its file, and how far it got."""

    id: str
    name: str
    start: int
    end: int
    allow_gaps: bool
    last_end: int  # where the last frame kept ends (the clip's end is inside that frame)
    status: str = "queued"  # queued, running, done, failed
    progress: float = 0.0
    phase: str = ""
    created: float = field(default_factory=time.time)
    duration: float | None = None
    size: int | None = None
    gaps: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def to_dict(self, source: StreamSource) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "status": self.status,
            "progress": round(self.progress, 3), "phase": self.phase,
            "start": unix_text(self.start), "end": unix_text(self.end),
            "start_iso": format_iso(self.start), "end_iso": format_iso(self.end),
            "last_frame_end": unix_text(self.last_end),
            "duration": self.duration, "size": self.size, "gaps": self.gaps,
            "error": self.error,
            "url": f"/files/{self.name}" if self.status == "done" else None,
            # The same clip from a shell (signing flags, if any, as the user gives them).
            "command": (f"timeshift clip --domain {source.domain} --app {source.app} "
                        f"--stream {source.stream} --scheme {source.scheme} "
                        f"--start {format_iso(self.start)} --end {format_iso(self.end)}"
                        + (" --allow-gaps" if self.allow_gaps else "") + f" -o {self.name}"),
        }


class ExportQueue:
    """Runs exports one after another in a worker thread; the page polls :meth:`list`."""

    def __init__(self, source: StreamSource, output_dir: Path, cache_dir: Path) -> None:
        self.source = source
        self.output_dir = output_dir
        self.cache_dir = cache_dir
        self.jobs: dict[str, ExportJob] = {}
        self._lock = threading.Lock()
        self._queue: asyncio.Queue[ExportJob] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)

    def _free_name(self, name: str) -> str:
        """``name``, or ``name-2.mp4`` … when a file or another export already has it."""
        taken = {j.name for j in self.jobs.values()}
        stem, n = name[:-4], 1
        while name in taken or (self.output_dir / name).exists():
            n += 1
            name = f"{stem}-{n}.mp4"
        return name

    def submit(self, name: str, start: int, end: int, allow_gaps: bool,
               last_end: int | None = None) -> ExportJob:
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.ensure_future(self._run())
        waiting = sum(1 for j in self.jobs.values() if j.status in ("queued", "running"))
        if waiting >= MAX_WAITING:
            raise UsageError(f"{waiting} exports are waiting already; let them finish first")
        with self._lock:
            job = ExportJob(f"e{next(self._ids)}", self._free_name(name), start, end, allow_gaps,
                            end if last_end is None else last_end)
            self.jobs[job.id] = job
        self._queue.put_nowait(job)
        return job

    def file(self, name: str) -> Path | None:
        """The path of a finished export by its name (only those: nothing else is served)."""
        for job in self.jobs.values():
            if job.status == "done" and job.name == name:
                return self.output_dir / job.name
        return None

    def list(self) -> list[ExportJob]:
        return sorted(self.jobs.values(), key=lambda j: j.created)

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            job.status = "running"
            try:
                await asyncio.to_thread(self._export, job)
                job.status = "done"
            except Exception as exc:  # every failure is shown on the page, as the CLI says it
                job.status, job.error = "failed", cli_error(exc)
            finally:
                self._queue.task_done()

    def _export(self, job: ExportJob) -> None:
        from ..clip import ClipProgress, clip

        def progress(ev: ClipProgress) -> None:
            job.phase = ev.kind
            if ev.segments_total:
                # Fetching is most of the work; the last tenth is the cut finishing.
                job.progress = 0.9 * ev.segments_done / ev.segments_total
            if ev.kind == "finished":
                job.progress = 1.0

        with media_errors():
            result = clip(self.output_dir / job.name, **self.source.clip_args(),
                          start=job.start, end=job.end, cut="exact", allow_gaps=job.allow_gaps,
                          cache_dir=self.cache_dir, keep_cache=True, progress=progress)
        job.duration = None if result.duration is None else round(result.duration, 3)
        job.size = result.output.stat().st_size
        job.gaps = list(result.gaps)

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)


class Previews:
    """A few seconds from the playhead as an exact clip (MP4) in the working folder."""

    def __init__(self, source: StreamSource, folder: Path, cache_dir: Path,
                 seconds: float = 4.0, keep: int = 4) -> None:
        self.source = source
        self.folder = folder
        self.cache_dir = cache_dir
        self.seconds = seconds
        self.keep = keep
        self.folder.mkdir(parents=True, exist_ok=True)
        self._made: list[Path] = []
        self._lock = threading.Lock()

    def make(self, start: int) -> tuple[str, dict[str, Any]]:
        """Cut ``[start, start + seconds)`` (gaps allowed: a preview shows what exists)."""
        from ..clip import clip

        out = self.folder / f"{uuid.uuid4().hex}.mp4"
        with media_errors():
            result = clip(out, **self.source.clip_args(), start=start,
                          end=start + round(self.seconds * NS_PER_S), cut="exact",
                          allow_gaps=True, cache_dir=self.cache_dir, keep_cache=True)
        out.with_name(out.name + ".gaps.json").unlink(missing_ok=True)
        with self._lock:
            self._made.append(out)
            while len(self._made) > self.keep:
                self._made.pop(0).unlink(missing_ok=True)
        return out.name, {"duration": result.duration, "gaps": list(result.gaps)}

    def path(self, name: str, exists: Callable[[Path], bool] = Path.exists) -> Path | None:
        with self._lock:
            for p in self._made:
                if p.name == name and exists(p):
                    return p
        return None
