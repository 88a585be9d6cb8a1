"""Temporary ``.part`` files beside an output, and the stale ones a killed run left behind.

An output is written to ``.NAME.PID-RANDOM.part`` and renamed when whole. A run killed
with ``kill -9`` cannot remove its part file, so the next run of the same output removes
every part file of that output whose process is gone (or whose name carries no process,
as the parts of earlier versions did). Part files of live runs and of other outputs are
left alone.
"""

from __future__ import annotations

import logging
import os
import re
import time
import uuid
from pathlib import Path

from .errors import UsageError

__all__ = ["check_output", "clean_stale_parts", "is_stale", "new_part", "part_suffix",
           "write_whole"]

log = logging.getLogger(__name__)


def check_output(out: Path, field: str = "output") -> None:
    """Refuse, before any work, an output that cannot be written as a file.

    Raises:
        UsageError: the output is a directory, or its folder does not exist.
    """
    if out.is_dir():
        raise UsageError(f"{out} is a directory; give a file name inside it "
                         f"(for example {out / 'clip.mp4'})", field=field)
    if not out.parent.exists():
        raise UsageError(f"the folder {out.parent} does not exist", field=field)
    if not out.parent.is_dir():
        raise UsageError(f"{out.parent} is not a directory", field=field)


def part_suffix() -> str:
    """``.PID-RANDOM.part``: private to one writer, and says which process it is."""
    return f".{os.getpid()}-{uuid.uuid4().hex[:8]}.part"


def new_part(out: Path) -> Path:
    """A private temporary name beside ``out`` that says which process writes it."""
    return out.with_name(f".{out.name}{part_suffix()}")


def write_whole(final: Path, data: bytes) -> None:
    """Write ``data`` to a private part file beside ``final`` and rename it into place, so
    ``final`` is whole or absent (plain ``os`` calls: blocking, for a worker thread)."""
    part = final.with_name(final.name + part_suffix())
    try:
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


_PART = re.compile(r".*\.(?:(\d+)-)?[0-9a-f]{8}\.part")


def is_stale(path: Path) -> bool:
    """Whether a part file was left by a run that is gone (one that names no process, as
    older versions wrote them, counts as stale once it is ten minutes old)."""
    m = _PART.fullmatch(path.name)
    if m is None:
        return False
    if m.group(1) is not None:
        return not _alive(int(m.group(1)))
    try:
        return time.time() - path.stat().st_mtime > 600
    except OSError:
        return False


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's live process
    return True


def clean_stale_parts(out: Path) -> list[Path]:
    """Remove part files of ``out`` left by dead runs; returns what was removed."""
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(?:(\d+)-)?[0-9a-f]{{8}}\.part")
    removed: list[Path] = []
    try:
        candidates = list(out.parent.iterdir())
    except OSError:
        return removed
    for path in candidates:
        m = pattern.fullmatch(path.name)
        if m is None or (m.group(1) is not None and _alive(int(m.group(1)))):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
        log.info("removed %s, left by a run that was killed", path)
    return removed
