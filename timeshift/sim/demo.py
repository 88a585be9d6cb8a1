"""The end-to-end demo: a local origin and OSS server on loopback, a clip across a
discontinuity, an archive of the stream into OSS, and ffmpeg playing that archive back.

It lives with the simulators because it exists to drive them: it sits on top of the
product (clip, archive) and the local servers, and nothing in the product imports it.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from ..archive import ArchiveJob, ArchiveOptions, JobResult, OssStore, archive_job
from ..clip import ClipProgress, ClipResult, clip, probe_media
from ..errors import TimeshiftError
from ..openapi.credentials import Credentials
from ..remux import ffmpeg_exe
from ..times import NS_PER_S
from .frameindex import decode_frame_indices
from .origin import OriginConfig, OriginServer
from .oss import OssConfig, OssServer

__all__ = ["DemoResult", "run_demo"]

BUCKET = "demo-archive"


@dataclass(frozen=True)
class DemoResult:
    """The clip, the archive, the presigned index URL, and what ffmpeg played from it."""

    clip: ClipResult
    archive: JobResult
    index_url: str
    played_seconds: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"clip": self.clip.to_dict(), "archive": self.archive.to_dict(),
                "index_url": self.index_url, "played_seconds": self.played_seconds}


def _ffmpeg_plays(url: str, folder: Path, archived: float) -> float:
    """Remux the archive from its URL with the ffmpeg binary; the seconds it holds.

    Raises:
        TimeshiftError: ffmpeg failed, or played less than the ``archived`` seconds (its
            HLS demuxer skips a segment it could not open with a warning and exit 0, so
            the warnings are kept and said).
    """
    out = folder / "played.mp4"
    argv = (ffmpeg.input(url, protocol_whitelist="http,tcp")
            .output(str(out), c="copy", **{"bsf:a": "aac_adtstoasc"})
            .global_args("-hide_banner", "-loglevel", "warning").overwrite_output()
            .compile(cmd=ffmpeg_exe()))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    said = done.stderr.strip()[-600:]
    if done.returncode != 0:
        raise TimeshiftError(f"ffmpeg could not play the archive: {said}")
    duration = probe_media(out).get("duration")
    played = None if duration is None else round(float(duration), 3)
    if played is None or played < archived - 1.0:
        raise TimeshiftError(f"ffmpeg played {played} s of the archive's {archived:.3f} s "
                             f"from its index; ffmpeg said: {said or '(nothing)'}")
    return played


def run_demo(output: Path, progress: Callable[[ClipProgress], None] | None = None,
             serve: Callable[[str], None] | None = None) -> DemoResult:
    """Cut 20 s (from 13 s into the stream, across the samples' wrap at 20 s) into ``output``,
    archive the first minute of the stream into a local OSS server, and play it back.

    ``serve``, when given, is called with the index URL while the servers still run (the
    CLI's ``--serve`` waits there until Ctrl-C, so the URL can be played elsewhere).
    """
    key = secrets.token_urlsafe(18)  # a throwaway key for a server that lives as long as this
    with tempfile.TemporaryDirectory(prefix="timeshift-demo-") as tmp, \
            OriginServer(OriginConfig(history=3600, latency=0.01)) as origin, \
            OssServer(OssConfig(access_key_id="demo", access_key_secret=key,
                                root=Path(tmp) / "oss", buckets=(BUCKET,))) as oss:
        t0 = origin.stream_start
        result = clip(output, domain=origin.netloc, app="live", stream="demo", scheme="http",
                      start=int((t0 + 13) * NS_PER_S), end=int((t0 + 33) * NS_PER_S),
                      cache_dir=Path(tmp) / "cache", progress=progress)
        store = OssStore(oss.url, BUCKET, Credentials("demo", key, source="demo"))
        job = ArchiveJob(domain=origin.netloc, app="live", stream="demo",
                         start=int(t0 * NS_PER_S), end=int((t0 + 60) * NS_PER_S),
                         bucket=BUCKET, endpoint=oss.url)
        archived = asyncio.run(archive_job(job, store, ArchiveOptions(
            scheme="http", cache_dir=Path(tmp) / "cache")))
        if not archived.ok or archived.index_key is None:
            raise TimeshiftError(f"the demo's archive failed: {(archived.error or {}).get('message')}")
        url = store.presign(archived.index_key, 3600, hls=True)
        played = _ffmpeg_plays(url, Path(tmp), archived.duration)
        if serve is not None:
            serve(url)
    frames = [index for _, index in decode_frame_indices(output)]
    media: dict[str, Any] = dict(result.media)
    if frames:
        media["frames"] = {"first": frames[0], "last": frames[-1], "count": len(frames)}
    return DemoResult(ClipResult(**{**result.__dict__, "media": media}), archived, url, played)
