"""The archive's pure parts: key templates, the index m3u8, the manifest, jobs files."""

from __future__ import annotations

import json

import m3u8
import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.archive import (
    ArchivedSegment,
    ArchiveJob,
    KeyTemplate,
    build_index,
    jobs_from_publish_list,
    manifest_key,
    parse_jobs,
    record_id,
    validate_key,
)
from timeshift.archive.executors import task_key
from timeshift.errors import UsageError
from timeshift.openapi.live import PublishInfo
from timeshift.times import NS_PER_S

T0 = 1795239222  # 2026-11-21T05:33:42Z


@pytest.mark.parametrize("template,expected", [
    pytest.param("{AppName}/{StreamName}/{Date}/{UnixTimestamp}_{Sequence}.ts",
                 "live/cam/2026-11-21/1795239222_7.ts", id="default"),
    pytest.param("{DomainName}/{AppName}/{Hour}/{Minute}_{Second}_{Sequence}.ts",
                 "play.example.com/live/05/33_42_7.ts", id="clock-parts"),
    pytest.param("rec/{StreamName}/{EscapedStartTime}_{EscapedEndTime}.m3u8",
                 "rec/cam/2026-11-21-05-33-42_2026-11-21-05-33-44.m3u8", id="escaped"),
])
def test_template_render(template: str, expected: str) -> None:
    key = KeyTemplate(template).render(domain="play.example.com", app="live", stream="cam",
                                       start=T0, end=T0 + 2, sequence=7)
    assert key == expected


@pytest.mark.parametrize("template,message", [
    pytest.param("{App}/{Sequence}.ts", "unknown variable", id="unknown"),
    pytest.param("{AppName/{Sequence}.ts", "template", id="unbalanced"),
    pytest.param("{Sequence!r}.ts", "not allowed", id="conversion"),
    pytest.param("{Sequence:>5}.ts", "not allowed", id="format-spec"),
])
def test_template_refused(template: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        KeyTemplate(template)


def test_segment_template_needs_a_per_segment_variable() -> None:
    with pytest.raises(UsageError, match="same key"):
        KeyTemplate("{AppName}/{Date}.ts").require_per_segment("--prefix")
    KeyTemplate("{AppName}/{Sequence}.ts").require_per_segment("--prefix")


@pytest.mark.parametrize("key", [
    pytest.param("", id="empty"), pytest.param("/abs/x.ts", id="leading-slash"),
    pytest.param("a/../b.ts", id="dotdot"), pytest.param("a//b.ts", id="empty-part"),
    pytest.param("a/./b.ts", id="dot"), pytest.param("a\\b.ts", id="backslash"),
    pytest.param("a/\x00.ts", id="control"), pytest.param("k" * 1024, id="too-long"),
])
def test_bad_keys_refused(key: str) -> None:
    with pytest.raises(UsageError):
        validate_key(key)


def test_stream_name_cannot_climb_out() -> None:
    with pytest.raises(UsageError, match=r"\.\."):
        KeyTemplate("{AppName}/{StreamName}/{Sequence}.ts").render(
            domain="d", app="live", stream="..", start=T0, end=T0 + 2, sequence=1)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_rendered_keys_are_always_valid_or_refused(stream: str) -> None:
    try:
        key = KeyTemplate("{AppName}/{StreamName}/{Sequence}.ts").render(
            domain="d", app="live", stream=stream, start=T0, end=T0 + 2, sequence=3)
    except UsageError:
        return
    assert validate_key(key) == key
    assert ".." not in key.split("/") and not key.startswith("/")


def _seg(i: int, start: float, disc: bool = False, key: str | None = None) -> ArchivedSegment:
    return ArchivedSegment(key or f"live/cam/2026-11-21/{int(start)}_{i}.ts", i, start, 2.0,
                           1000 + i, 2**63 + i, discontinuity=disc)


def test_index_round_trip() -> None:
    segs = [_seg(5, T0), _seg(6, T0 + 2), _seg(9, T0 + 8, disc=True),
            _seg(10, T0 + 10, key="live/cam/2026-11-22/x_10.ts")]
    text = build_index(segs, "live/cam/2026-11-21/index.m3u8")
    pl = m3u8.loads(text)
    assert pl.is_endlist and pl.playlist_type == "vod" and pl.media_sequence == 5
    assert [s.uri for s in pl.segments] == [
        f"{T0}_5.ts", f"{T0 + 2}_6.ts", f"{T0 + 8}_9.ts", "../2026-11-22/x_10.ts"]
    assert [s.discontinuity for s in pl.segments] == [False, False, True, False]
    assert [s.program_date_time.timestamp() for s in pl.segments] == [T0, T0 + 2, T0 + 8, T0 + 10]
    assert pl.target_duration == 2


def test_manifest_record_and_ids() -> None:
    assert manifest_key("a/b/x.m3u8") == "a/b/x.json"
    a = record_id("d", "live", "cam", T0 * NS_PER_S, (T0 + 60) * NS_PER_S)
    assert a == record_id("d", "live", "cam", T0 * NS_PER_S, (T0 + 60) * NS_PER_S)
    assert a != record_id("d", "live", "cam", T0 * NS_PER_S, (T0 + 61) * NS_PER_S)
    seg = _seg(1, T0)
    assert ArchivedSegment.from_dict(json.loads(json.dumps(seg.to_dict()))) == seg


def _job(**kw: object) -> ArchiveJob:
    fields: dict[str, object] = dict(domain="d", app="live", stream="cam",
                                     start=T0 * NS_PER_S, end=(T0 + 60) * NS_PER_S)
    fields.update(kw)
    return ArchiveJob(**fields)  # type: ignore[arg-type]


def test_job_identity() -> None:
    assert _job().job_id == _job().job_id
    assert _job().job_id != _job(bucket="other").job_id
    assert task_key(_job()) == task_key(_job()) != task_key(_job(stream="cam2"))
    with pytest.raises(UsageError, match="end"):
        _job(end=T0 * NS_PER_S)
    with pytest.raises(UsageError, match="stream"):
        _job(stream="")


def test_parse_jobs_jsonl_csv_and_report() -> None:
    jsonl = ('{"domain":"d","app":"live","stream":"a","start":"2026-11-21T00:00:00Z",'
             '"end":"2026-11-21T01:00:00Z","bucket":"b"}\n\n'
             '# a comment\n{"domain":"d","app":"live","stream":"b","start":1795239222,'
             '"end":1795239282,"prefix":"x/{Sequence}.ts"}\n')
    jobs = parse_jobs(jsonl)
    assert [j.stream for j in jobs] == ["a", "b"]
    assert jobs[0].bucket == "b" and jobs[1].template == "x/{Sequence}.ts"
    assert jobs[1].start == T0 * NS_PER_S
    csv_text = "domain,app,stream,start,end\nd,live,c,1795239222,1795239282\n"
    assert parse_jobs(csv_text)[0].stream == "c"
    ok, failed = _job(stream="ok"), _job(stream="bad")
    report = {"summary": {}, "jobs": [{"status": "ok", "job": ok.to_dict()},
                                      {"status": "failed", "job": failed.to_dict()}]}
    again = parse_jobs(json.dumps(report))
    assert again == [failed]


@pytest.mark.parametrize("text,message", [
    pytest.param('{"domain":"d","app":"live","start":1,"end":2}\n', "line 1: missing stream",
                 id="missing-field"),
    pytest.param('{"domain":"d"\n', "line 1: not JSON", id="bad-json"),
    pytest.param('{"domain":"d","app":"a","stream":"s","start":1,"end":2,"colour":1}\n',
                 "unknown field", id="unknown-field"),
    pytest.param("a,b\n1,2\n", "not JSON Lines, and not CSV", id="bad-csv"),
    pytest.param("domain,app,stream,start,end\nd,a,s,yesterday,2\n", "row 2", id="bad-time"),
])
def test_parse_jobs_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_jobs(text)


def test_jobs_from_publish_list_joins_and_clips_sessions() -> None:
    s = [PublishInfo("d", "live", "a", T0 - 100, T0 + 10),
         PublishInfo("d", "live", "a", T0 + 10, T0 + 30),   # reconnect: joined
         PublishInfo("d", "live", "a", T0 + 100, None),     # still live: ends at the window's end
         PublishInfo("d", "live", "b", T0 + 500, T0 + 600)]  # after the window: dropped
    jobs = jobs_from_publish_list(s, domain="d", start=T0 * NS_PER_S, end=(T0 + 200) * NS_PER_S)
    assert [(j.stream, j.start // NS_PER_S - T0, j.end // NS_PER_S - T0) for j in jobs] == [
        ("a", 0, 30), ("a", 100, 200)]


@pytest.mark.parametrize("key", ["a/x?.ts", "a/x#1.ts", "a/x%20.ts"])
def test_keys_an_index_would_misread_are_refused(key: str) -> None:
    with pytest.raises(UsageError, match="'\\?', '#' or '%'"):
        validate_key(key)


def test_index_uris_are_percent_encoded() -> None:
    seg = ArchivedSegment("live/cam é/1 2.ts", 1, T0, 2.0, 1, 1)
    pl = m3u8.loads(build_index([seg], "live/index.m3u8"))
    assert pl.segments[0].uri == "cam%20%C3%A9/1%202.ts"


def test_segment_keys_are_named_by_their_form() -> None:
    from timeshift.archive.template import named_by_form

    assert named_by_form("live/cam/1_5.ts", fmp4=True) == "live/cam/1_5.m4s"
    assert named_by_form("live/cam/1_5.m4s", fmp4=False) == "live/cam/1_5.ts"
    assert named_by_form("live/cam/1_5.ts", fmp4=False) == "live/cam/1_5.ts"
    assert named_by_form("live/cam/1_5.mp4", fmp4=True) == "live/cam/1_5.mp4"  # the template's
    assert named_by_form("live/cam.ts/1_5", fmp4=True) == "live/cam.ts/1_5"


def test_crc64_is_crc64_xz_as_oss2_computes_it() -> None:
    # The check value of CRC-64/XZ, and oss2's own Crc64 (what OSS's x-oss-hash-crc64ecma
    # is compared with) on data of awkward lengths.
    import os

    from oss2.utils import Crc64

    from timeshift.archive.store import crc64

    assert crc64(b"123456789") == 0x995DC9BBDF1939FA
    for n in (0, 1, 7, 188, 530_001):
        data = os.urandom(n)
        ref = Crc64()
        ref.update(data)
        assert crc64(data) == ref.crc


def _m3u8_index(segments: list[ArchivedSegment], index_key: str) -> str:
    """The index as the m3u8 library writes it (build_index's former body): the reference
    build_index must equal, so archives written before and after compare equal on re-runs."""
    import math
    import posixpath
    from datetime import datetime, timezone
    from urllib.parse import quote

    pl = m3u8.M3U8()
    pl.version = 6 if any(s.init for s in segments) else 3
    pl.playlist_type = "vod"
    pl.is_endlist = True
    pl.media_sequence = segments[0].sequence if segments else 0
    pl.target_duration = max((math.ceil(s.duration) for s in segments), default=1)
    base = posixpath.dirname(index_key)
    for s in segments:
        pl.add_segment(m3u8.Segment(
            uri=quote(posixpath.relpath(s.key, base or "."), safe="/"),
            duration=round(s.duration, 6),
            program_date_time=datetime.fromtimestamp(s.start, tz=timezone.utc),
            discontinuity=s.discontinuity,
            init_section=({"uri": quote(posixpath.relpath(s.init, base or "."), safe="/")}
                          if s.init else None)))
    return str(pl.dumps())


_folders = st.sampled_from(["live/cam/2026-11-20", "live/cam/2026-11-21", "other", "a b/ü",
                           "live/cam/2026-11-20/./x", "live/cam/2026-11-20//y",
                           "live/cam/2026-11-20/../z"])
_segment = st.builds(
    lambda folder, name, seq, start, dur, disc, init: ArchivedSegment(
        f"{folder}/{name}", seq, start, dur, 1000, 7, disc,
        None if init is None else f"{folder}/init-{init}.mp4"),
    _folders, st.from_regex(r"[A-Za-z0-9_ .-]{1,12}\.ts", fullmatch=True).filter(
        lambda n: n not in (".", "..")),
    st.integers(0, 10**9), st.floats(1.5e9, 2.5e9, allow_nan=False),
    st.one_of(st.floats(0, 20, allow_nan=False), st.sampled_from([0.0, 2.0, 1.999999, 1e-5, 6])),
    st.booleans(), st.one_of(st.none(), st.integers(0, 2)))


@given(st.lists(_segment, max_size=12),
       st.sampled_from(["live/cam/2026-11-20/x.m3u8", "x.m3u8", "other/deep/i.m3u8"]))
def test_build_index_writes_exactly_what_m3u8_writes(segments: list[ArchivedSegment],
                                                      index_key: str) -> None:
    assert build_index(segments, index_key) == _m3u8_index(segments, index_key)
