"""The shared window pipeline: a source that learns of segments over time (as a live-edge
follower does) and a sink that records what it is given, against the local origin.

No mock: the segments are the origin's, fetched over real sockets; only the source and
the sink are small classes written here, through the pipeline's own extension points.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest

from timeshift.errors import GapError
from timeshift.pieces import Fetched
from timeshift.pipeline import PlaylistSource, WindowOptions, run_window
from timeshift.plan import resolve_source
from timeshift.playlist import Segment, Selection
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S


@dataclass
class Recorder:
    """A sink that keeps what the pipeline hands it."""

    started: list[int] = field(default_factory=list)
    pieces: list[Fetched] = field(default_factory=list)
    finished: list[Selection] = field(default_factory=list)
    aborted: int = 0

    async def start(self, selection: Selection) -> None:
        self.started.append(len(selection.segments))

    async def write(self, piece: Fetched) -> None:
        self.pieces.append(piece)

    async def finish(self, final: Selection) -> int:
        self.finished.append(final)
        return len(self.pieces)

    async def abort(self) -> None:
        self.aborted += 1


@dataclass
class Trickle:
    """A VOD source whose segments arrive one by one with a pause (a live edge publishing),
    with one of them replaced by a URI the origin does not have."""

    inner: PlaylistSource
    gone: int = -1  # index of the segment to make a 404
    delay: float = 0.05

    async def plan(self, session: aiohttp.ClientSession) -> Selection:
        return await self.inner.plan(session)

    async def segments(self, session: aiohttp.ClientSession,
                       selection: Selection) -> AsyncIterator[Segment]:
        for i, seg in enumerate(selection.segments):
            await asyncio.sleep(self.delay)
            yield seg.copy_with(uri=seg.uri.replace(".ts", "-gone.ts")) if i == self.gone else seg

    def settle(self, selection: Selection) -> Selection:
        return selection

    async def segment_after(self, session: aiohttp.ClientSession, last: Segment,
                            planned: Segment | None) -> Segment | None:
        return planned


def _source(o: OriginServer, a: float, b: float) -> PlaylistSource:
    start, end = (round((o.stream_start + t) * NS_PER_S) for t in (a, b))
    return PlaylistSource(resolve_source(None, o.netloc, "live", "cam1", start, end, "http"))


def test_an_async_source_feeds_the_sink_in_order(origin: OriginServer, tmp_path: Path) -> None:
    sink = Recorder()
    run = asyncio.run(run_window(Trickle(_source(origin, 2, 10)),
                                 WindowOptions(cache_dir=tmp_path), sink))
    seqs = [p.segment.sequence for p in sink.pieces]
    assert len(seqs) == 4 and seqs == sorted(seqs)
    assert [p.index for p in sink.pieces] == [0, 1, 2, 3]
    assert all(p.data.startswith(b"\x47") and not p.follows_gap for p in sink.pieces)
    assert run.report == 4 and sink.started == [4] and sink.aborted == 0
    assert run.final.gaps == () and run.final.missing == ()


def test_a_missing_segment_is_a_gap_and_the_next_one_follows_it(
        origin: OriginServer, tmp_path: Path) -> None:
    sink = Recorder()
    run = asyncio.run(run_window(Trickle(_source(origin, 2, 10), gone=1),
                                 WindowOptions(cache_dir=tmp_path), sink))
    assert [p.index for p in sink.pieces] == [0, 2, 3]
    assert [p.follows_gap for p in sink.pieces] == [False, True, False]
    assert [s.sequence for s in run.final.missing] == [run.selection.segments[1].sequence]
    assert [g.reason for g in run.final.gaps] == ["missing"]


def test_a_gap_not_allowed_fails_the_run_and_aborts_the_sink(
        origin: OriginServer, tmp_path: Path) -> None:
    sink = Recorder()
    reports: list[Selection] = []

    def report(sel: Selection) -> Path:
        reports.append(sel)
        return tmp_path / "gaps.json"

    with pytest.raises(GapError) as info:
        asyncio.run(run_window(Trickle(_source(origin, 2, 10), gone=1),
                               WindowOptions(cache_dir=tmp_path, allow_gaps=False,
                                             gap_report=report), sink))
    assert info.value.report == str(tmp_path / "gaps.json") and len(info.value.gaps) == 1
    assert [p.index for p in sink.pieces] == [0]  # nothing written after the gap
    assert sink.aborted == 1 and sink.finished == [] and len(reports[0].missing) == 1
