"""ffmpeg: a pure argv builder (with ffmpeg-python) and one function that runs it.

ffmpeg comes from PATH when present, else from the ``imageio-ffmpeg`` wheel, so a
plain ``pip install`` is enough. Segments are streamed into ffmpeg's stdin while
later ones are still downloading; the MP4 is written to a temporary name and only
renamed into place by the caller once ffmpeg has finished cleanly.
"""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

from .cutpipe import widen_pipe
from .errors import FfmpegError

if TYPE_CHECKING:
    import asyncio

__all__ = ["FfmpegError", "MuxPlan", "Remuxer", "ffmpeg_exe", "mp4_command"]

log = logging.getLogger(__name__)


def ffmpeg_exe() -> str:
    """The ffmpeg binary: PATH first, else the one the imageio-ffmpeg wheel ships."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


@dataclass(frozen=True)
class MuxPlan:
    """What ffmpeg should cut from the piped stream, in seconds from the stream's start_time.

    ``seek`` drops packets before it (set on a keyframe, so the video starts whole);
    ``duration`` ends the output. Either may be None.
    """

    seek: float | None = None
    duration: float | None = None


def mp4_command(output: Path, plan: MuxPlan = MuxPlan(), *, exe: str = "ffmpeg") -> list[str]:
    """The ffmpeg argv that remuxes MPEG-TS on stdin into a faststart MP4 at ``output``."""
    import ffmpeg  # here: the exact cutter's child imports this module and never needs it

    options: dict[str, object] = {
        "c": "copy",
        "bsf:a": "aac_adtstoasc",  # ADTS headers are not allowed in MP4
        "movflags": "+faststart",
        "f": "mp4",
    }
    if plan.seek is not None and plan.seek > 0:
        options["ss"] = f"{plan.seek:.6f}"
    if plan.duration is not None:
        options["t"] = f"{plan.duration:.6f}"
    stream = (
        ffmpeg.input("pipe:", f="mpegts")
        .output(str(output), **options)
        .global_args("-hide_banner", "-nostats", "-loglevel", "error")
        .overwrite_output()
    )
    return list(stream.compile(cmd=exe))


class PipedProcess:
    """A child process fed through its stdin: ffmpeg for the keyframe cut, the exact cutter.

    ``await write(data)`` applies backpressure through the pipe; ``await finish()`` closes
    stdin, waits, and returns what the subclass makes of the exit (raising on failure);
    ``await abort()`` kills and reaps the child. Subclasses say what a finished child
    means (:meth:`_result`).

    A child may stop reading before its input ends: ffmpeg exits as soon as it has
    written ``-t`` seconds, while the rest of a large last segment (720p/1080p segments
    are 0.5-3 MB, far more than a pipe holds) is still being written. That is success
    when the child exits cleanly: the rest of the input is dropped, and ``finish``
    returns the child's result. Only a failed exit is an error.
    """

    def __init__(self, argv: list[str], *, capture_stdout: bool = False) -> None:
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None
        self._capture_stdout = capture_stdout
        self._stdout: asyncio.Future[bytes] | None = None
        self._stderr: asyncio.Future[bytes] | None = None
        self._done: tuple[Any] | None = None  # the child's result, once it has exited
        #: True when the child stopped reading before the input ended (and exited cleanly).
        self.stopped_early = False

    async def start(self) -> Self:
        import asyncio  # here: the exact cutter's child imports this module, not asyncio

        log.debug("running %s", shlex.join(self.argv))
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE if self._capture_stdout else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            # Its own session: a Ctrl-C at the terminal reaches the whole foreground group,
            # and the first one must leave the child cutting (it ends the window early);
            # the parent ends the child itself, by closing its input or abort().
            start_new_session=True)
        assert self.proc.stderr is not None and self.proc.stdin is not None
        pipe = self.proc.stdin.get_extra_info("pipe")
        if pipe is not None:
            widen_pipe(pipe.fileno())
        if self._capture_stdout:
            assert self.proc.stdout is not None
            self._stdout = asyncio.ensure_future(self.proc.stdout.read())
        self._stderr = asyncio.ensure_future(self.proc.stderr.read())
        return self


    async def write(self, data: bytes) -> None:
        """Send ``data``; dropped once the child has finished with its input."""
        assert self.proc is not None and self.proc.stdin is not None
        if self._done is not None:
            return
        try:
            self.proc.stdin.write(data)
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            # The child quit reading. A clean exit means it had all it needed (ffmpeg at
            # -t): keep its result and drop the rest. A failed one raises from _result.
            await self.finish()
            self.stopped_early = True
            log.debug("%s stopped reading early and exited cleanly", self.argv[0])

    async def finish(self) -> Any:
        """End the input, wait for the child and return its result (raising on failure)."""
        if self._done is None:
            rc, out, err = await self.close_and_wait()
            self._done = (self._result(rc, out, err),)
        return self._done[0]

    def _result(self, rc: int, out: bytes, err: str) -> Any:
        """What the child's exit means: its result, or an exception raised."""
        raise NotImplementedError

    async def close_and_wait(self) -> tuple[int, bytes, str]:
        """End the input, wait for the child: its exit code, stdout (if kept), stderr."""
        assert self.proc is not None and self.proc.stdin is not None
        if not self.proc.stdin.is_closing():
            self.proc.stdin.close()
            try:
                await self.proc.stdin.wait_closed()
            except (BrokenPipeError, ConnectionResetError):
                pass
        rc = await self.proc.wait()
        out = await self._stdout if self._stdout is not None else b""
        err = (await self._stderr).decode(errors="replace") if self._stderr else ""
        return rc, out, err

    async def abort(self) -> None:
        """Stop the child (on failure or Ctrl-C) and reap it."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in (self._stdout, self._stderr):
            if task is not None:
                task.cancel()


class Remuxer(PipedProcess):
    """ffmpeg running on a command, fed through stdin; ``finish`` raises
    :class:`FfmpegError` on a non-zero exit."""


    def _result(self, rc: int, out: bytes, err: str) -> None:
        if rc != 0:
            raise FfmpegError(rc, err)
        if err.strip():
            log.info("ffmpeg: %s", err.strip())
