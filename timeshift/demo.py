"""The end-to-end demo: a local origin on loopback, a clip across a discontinuity, what it holds."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .clip import ClipProgress, ClipResult, clip
from .sim.frameindex import decode_frame_indices
from .sim.origin import OriginConfig, OriginServer
from .times import NS_PER_S

__all__ = ["run_demo"]


def run_demo(output: Path, progress: Callable[[ClipProgress], None] | None = None) -> ClipResult:
    """Cut 20 s (from 13 s into the stream, across the samples' wrap at 20 s) into ``output``."""
    with tempfile.TemporaryDirectory(prefix="timeshift-demo-") as cache, \
            OriginServer(OriginConfig(history=3600, latency=0.01)) as origin:
        t0 = origin.stream_start
        result = clip(output, domain=origin.netloc, app="live", stream="demo", scheme="http",
                      start=int((t0 + 13) * NS_PER_S), end=int((t0 + 33) * NS_PER_S),
                      cache_dir=Path(cache), progress=progress)
    frames = [index for _, index in decode_frame_indices(output)]
    media: dict[str, Any] = dict(result.media)
    if frames:
        media["frames"] = {"first": frames[0], "last": frames[-1], "count": len(frames)}
    return ClipResult(**{**result.__dict__, "media": media})
