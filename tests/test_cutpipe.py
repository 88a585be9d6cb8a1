"""The pipe between the clip and the exact cutter: framed segments, unframed for PyAV, and
each packet's timestamps shifted by its own segment's offset (timeshift/cutpipe.py).

Pure, with a file in place of the pipe and plain objects in place of PyAV packets; the
real pipe, child and PyAV are exercised by every exact-cut test (tests/test_exactcut.py,
tests/test_media_forms.py, and the discontinuity and gap clips of tests/test_clip.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from timeshift.cutpipe import FramedInput, frame_header
from timeshift.errors import CutError
from timeshift.tspsi import WRAP


def framed_file(tmp_path: Path, parts: list[tuple[bytes, int]]) -> int:
    path = tmp_path / "framed.bin"
    path.write_bytes(b"".join(frame_header(len(data), off) + data for data, off in parts))
    return os.open(path, os.O_RDONLY)


def read_all(inp: FramedInput, size: int) -> bytes:
    out = b""
    while chunk := inp.read(size):
        out += chunk
    return out


@pytest.mark.parametrize("size", [1, 7, 188, 1 << 18])
def test_segments_come_out_unframed_with_their_offsets(tmp_path: Path, size: int) -> None:
    parts = [(b"a" * 1000, 0), (b"", 5), (b"b" * 376, 90_000), (b"c" * 10, -1)]
    fd = framed_file(tmp_path, parts)
    try:
        inp = FramedInput(fd)
        assert read_all(inp, size) == b"a" * 1000 + b"b" * 376 + b"c" * 10
    finally:
        os.close(fd)
    # The empty segment takes no place; a negative offset arrives modulo 2**33.
    assert inp.starts == [0, 1000, 1376]
    assert inp.offsets == [0, 90_000, WRAP - 1]


def test_a_stream_out_of_step_or_cut_short_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.bin"
    path.write_bytes(b"XXXX" + bytes(16) + b"data")
    fd = os.open(path, os.O_RDONLY)
    try:
        with pytest.raises(CutError, match="out of step"):
            FramedInput(fd).read(100)
    finally:
        os.close(fd)
    path.write_bytes(frame_header(100, 0) + b"only 10 b.")
    fd = os.open(path, os.O_RDONLY)
    try:
        inp = FramedInput(fd)
        assert inp.read(100) == b"only 10 b."
        with pytest.raises(CutError, match="inside a segment"):
            inp.read(100)
    finally:
        os.close(fd)


@dataclass
class Pkt:
    """The three fields of a PyAV packet that retime reads and writes."""

    pts: int | None
    dts: int | None
    pos: int | None


def retimed(inp: FramedInput, pkts: list[Pkt]) -> list[tuple[int | None, int | None]]:
    for p in pkts:
        inp.retime(p)
    return [(p.pts, p.dts) for p in pkts]


def test_each_packet_takes_its_own_segments_offset(tmp_path: Path) -> None:
    inp = FramedInput(-1)
    inp.starts, inp.offsets = [0, 1000], [0, 500]
    pkts = [Pkt(3600, 0, 0), Pkt(7200, 3600, 376), Pkt(700, 100, 1000), Pkt(4300, 3700, 1188),
            Pkt(None, None, 1376), Pkt(8000, 7400, None)]  # no position: the latest segment's
    assert retimed(inp, pkts) == [(3600, 0), (7200, 3600), (1200, 600), (4800, 4200),
                                  (None, None), (8500, 7900)]


def test_timestamps_stay_continuous_across_the_33_bit_wrap(tmp_path: Path) -> None:
    inp = FramedInput(-1)
    # The first segment ends just before the wrap; the second is shifted past it.
    inp.starts, inp.offsets = [0, 1000], [0, 3000]
    pkts = [Pkt(WRAP - 2000, WRAP - 5000, 0), Pkt(WRAP - 100, WRAP - 1400, 500),
            Pkt(100, 50, 1000), Pkt(2000, 1000, 1200)]
    out = retimed(inp, pkts)
    assert out == [(WRAP - 2000, WRAP - 5000), (WRAP - 100, WRAP - 1400),
                   (WRAP + 3100, WRAP + 3050), (WRAP + 5000, WRAP + 4000)]
    dts = [d for _, d in out if d is not None]
    assert dts == sorted(dts)
