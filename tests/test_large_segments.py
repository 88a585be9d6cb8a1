"""Clips from large segments (1280x720, one 2 s GOP per segment, ~1 MB each).

Such segments are larger than a pipe buffer: ffmpeg, given ``-t``, stops reading and
exits while the rest of the last segment is still being written to its stdin. That is
the keyframe cut succeeding, not ffmpeg "closing its input" (which is what the clip
used to report, exit 1, for every window ending inside a 720p segment past ffmpeg's
probe size). The samples are generated at test time (too big to commit); the frame
index drawn into every picture says which frames each clip holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest
from media_samples import sample_sets  # noqa: F401  (a fixture)

from timeshift.clip import clip
from timeshift.sim.frameindex import decode_frame_indices
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S

FPS = 25
CYCLE = 200  # 4 segments of 50 frames, cycled by the origin


@pytest.fixture
def big_origin(make_origin: Callable[..., OriginServer],
               sample_sets: Callable[[str], Path]) -> OriginServer:  # noqa: F811
    return make_origin(samples=sample_sets("big"), history=3600)


def _clip(o: OriginServer, out: Path, a: float, b: float, cut: str) -> tuple[list[int], float]:
    r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round((o.stream_start + a) * NS_PER_S),
             end=round((o.stream_start + b) * NS_PER_S), cache_dir=out.parent / "c", cut=cut)
    assert r.duration is not None
    return [i for _, i in decode_frame_indices(out)], r.duration


@pytest.mark.parametrize(("a", "b"), [
    pytest.param(2.2, 13.3, id="ends-early-in-the-last-segment"),
    pytest.param(2.2, 13.96, id="ends-a-frame-before-the-last-segment-ends"),
    pytest.param(0.0, 12.0, id="ends-on-a-segment-boundary"),
    pytest.param(4.0, 11.04, id="ends-one-frame-into-the-last-segment"),
])
def test_keyframe_cut_of_720p_segments_with_any_end(big_origin: OriginServer, tmp_path: Path,
                                                     a: float, b: float) -> None:
    idx, duration = _clip(big_origin, tmp_path / "k.mp4", a, b, "keyframe")
    key = int(a // 2) * 50  # the segment's keyframe at or before the start
    wanted = math.ceil(b * FPS - 1e-9) - key  # frames from the keyframe to the end
    # Every frame from the keyframe on, in order, to the end or within the reorder depth
    # (2 frames) of it: the stream copy cuts the end in decode order, so a B-frame shown
    # just before the end can be left out while a P-frame shown after it is kept.
    assert abs(len(idx) - wanted) <= 2
    kept = [(i - key) % CYCLE for i in idx]  # frames after the keyframe, modulo the cycle
    assert kept[: wanted - 2] == [i % CYCLE for i in range(wanted - 2)]
    assert all(0 < (b - a) % CYCLE <= 3 for a, b in zip(kept, kept[1:], strict=False))
    # The container's duration is the video's, give or take the audio that a stream copy
    # keeps around the video's ends (within 80 ms, the audio lead of a segment).
    assert abs(duration - len(idx) / FPS) <= 0.08 + 1e-3


def test_exact_cut_of_720p_segments(big_origin: OriginServer, tmp_path: Path) -> None:
    idx, duration = _clip(big_origin, tmp_path / "e.mp4", 2.2, 13.3, "exact")
    first, last = round(2.2 * FPS), math.ceil(13.3 * FPS) - 1  # on screen at 13.3-
    assert (idx[0], idx[-1]) == (first % CYCLE, last % CYCLE)
    assert len(idx) == last - first + 1
    assert duration == pytest.approx(len(idx) / FPS, abs=1e-3)
