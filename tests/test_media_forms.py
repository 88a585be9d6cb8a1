"""The stream forms the service sends beyond H.264 in MPEG-TS: HEVC, CMAF (fMP4), open GOPs.

Sample sets are generated at test time (``media_samples``); every clip is decoded and
the frame index drawn into each picture read back, so which frames a clip holds is
measured. Frame k % 500 is shown at stream second k/25 (10 segments of 2 s, cycled).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import requests
from media_samples import sample_sets  # noqa: F401  (a fixture)

from timeshift.sim.origin import OriginServer


def test_origin_serves_cmaf_with_a_map_per_discontinuity(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path]) -> None:  # noqa: F811
    folder = sample_sets("hevc-cmaf")
    o = make_origin(samples=folder, history=3600)
    t0 = int(o.stream_start)
    url = f"{o.url}/live/cam1.m3u8?lhs_start=1&lhs_start_unix_s_0={t0 + 16}&lhs_vodend_unix_s_0={t0 + 24}"
    text = requests.get(url, timeout=5).text
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    assert maps == ["cam1/init/0.mp4", "cam1/init/1.mp4"] and "#EXT-X-DISCONTINUITY" in text
    assert re.findall(r"^cam1/(\d+)\.m4s", text, re.M) == ["8", "9", "10", "11"]
    base = f"{o.url}/live/"
    init = requests.get(base + maps[1], timeout=5)
    assert init.status_code == 200 and init.content == (folder / "init.mp4").read_bytes()
    seg = requests.get(base + "cam1/10.m4s", timeout=5)
    assert seg.headers["Content-Type"] == "video/iso.segment"
    assert seg.content == (folder / "seg_000.m4s").read_bytes()  # segment 10 = sample 0
    assert requests.get(base + "cam1/init/0.mp4", timeout=5).status_code == 200
