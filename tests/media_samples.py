"""Sample sets beyond the committed ``samples/``, generated at test time and kept per session.

Each set is made by ``tools/make_samples.py`` (the same frame-indexed picture and tone as
the committed samples) in a pytest temp folder the first time a test asks for it:

* ``big``: 1280x720 H.264, one 2 s GOP per segment, ~1 MB segments (larger than a pipe
  buffer, as 720p/1080p segments of the service are; too big to commit);
* ``hevc``: HEVC (libx265) in MPEG-TS, closed GOPs of 25 frames;
* ``hevc-open`` / ``h264-open``: open GOPs (CRA + RASL pictures / x264 open-GOP I frames);
* ``h264-cmaf`` / ``hevc-cmaf``: CMAF, fMP4 fragments behind ``init.mp4`` (``hvc1``), as
  ffmpeg's HLS muxer writes them;
* ``h264-cmaf-open`` / ``hevc-cmaf-open``: the open-GOP encodes in CMAF, fragmented per GOP
  by ffmpeg's mp4 muxer (signed composition offsets), four fragments per segment;
* ``hevc-l4`` / ``hevc-l4-high``: HEVC signalling level 4, Main and High tier.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from timeshift.sim.origin import DEFAULT_SAMPLES

_TOOLS = Path(__file__).resolve().parent.parent / "tools" / "make_samples.py"

#: name -> make_samples keyword arguments
SETS: dict[str, dict[str, Any]] = {
    "big": dict(count=4, width=1280, height=720, bitrate="4000k", gop_frames=50),
    "hevc": dict(count=10, codec="hevc"),
    "hevc-open": dict(count=10, codec="hevc", open_gop=True),
    "h264-open": dict(count=10, open_gop=True),
    "h264-cmaf": dict(count=10, container="fmp4"),
    "hevc-cmaf": dict(count=10, codec="hevc", container="fmp4"),
    "h264-cmaf-open": dict(count=10, container="fmp4", open_gop=True),
    "hevc-cmaf-open": dict(count=10, codec="hevc", container="fmp4", open_gop=True),
    "hevc-l4": dict(count=4, codec="hevc", level="4"),
    "hevc-l4-high": dict(count=4, codec="hevc", level="4", high_tier=True),
}


def _make_samples() -> Callable[..., Path]:
    spec = importlib.util.spec_from_file_location("_test_make_samples", _TOOLS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_samples  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def sample_sets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Path]]:
    """``sample_sets(name)``: the folder of sample set ``name`` (made on first use)."""
    made: dict[str, Path] = {}
    make = _make_samples()

    def get(name: str) -> Path:
        if name == "h264":
            return DEFAULT_SAMPLES  # the committed set
        if name not in made:
            made[name] = make(tmp_path_factory.mktemp(f"samples-{name}"), **SETS[name])
        return made[name]

    yield get
