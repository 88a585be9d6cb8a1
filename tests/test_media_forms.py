"""The stream forms the service sends beyond H.264 in MPEG-TS: HEVC, CMAF (fMP4), open GOPs.

Sample sets are generated at test time (``media_samples``); every clip is decoded and
the frame index drawn into each picture read back, so which frames a clip holds is
measured. Frame k % 500 is shown at stream second k/25 (10 segments of 2 s, cycled).
"""

from __future__ import annotations

import io
import math
import posixpath
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import m3u8
import pytest
import requests
from judges import chromium_play, gst_decode, gst_play_playlist
from media_samples import sample_sets  # noqa: F401  (a fixture)

from timeshift.clip import clip
from timeshift.errors import RemoteError, VerificationError
from timeshift.mpegts import keyframe_timestamps, streams
from timeshift.playlist import InitSection, parse_playlist
from timeshift.sim.frameindex import decode_frame_indices, read_frame_index
from timeshift.sim.origin import OriginServer
from timeshift.times import NS_PER_S


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


FPS = 25
CYCLE = 500
CODECS = {"h264": 'video/mp4; codecs="avc1.640015, mp4a.40.2"',
          "hevc": 'video/mp4; codecs="hev1.1.6.L63.90, mp4a.40.2"'}

WINDOWS = [
    pytest.param(14.6, 17.0, id="start-inside-a-gop"),
    pytest.param(14.0, 16.52, id="start-on-a-keyframe"),
    pytest.param(14.2, 14.6, id="inside-one-gop"),
    pytest.param(18.43, 21.61, id="across-a-discontinuity"),
    # Frames 346-349 are the leading pictures of the keyframe at 350 in the open-GOP
    # sets (348-349 for H.264): shown before it, decoded after it.
    pytest.param(13.9, 15.5, id="start-on-a-leading-picture"),
    pytest.param(13.0, 14.97, id="end-on-a-leading-picture"),
    # Frame 348 (13.92 s) is shown before the segment boundary at 14 s but, in the
    # open-GOP sets, travels in the segment after it: the cut fetches that one too.
    pytest.param(12.2, 13.93, id="end-on-the-next-segments-leading-picture"),
    pytest.param(12.2, 14.0, id="end-on-a-segment-boundary"),
    # Two frames after the keyframe at 15 s (375): a keyframe among a clip's last frames.
    pytest.param(14.6, 15.08, id="end-just-after-a-keyframe"),
]

FORMS = ["h264", "hevc", "hevc-open", "h264-open", "h264-cmaf", "hevc-cmaf", "h264-cmaf-open",
         "hevc-cmaf-open"]


def _clip(o: OriginServer, out: Path, a: float, b: float, cut: str) -> dict[str, Any]:
    r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round((o.stream_start + a) * NS_PER_S),
             end=round((o.stream_start + b) * NS_PER_S), cache_dir=out.parent / "c", cut=cut)
    return r.cut


def _decode(path: Path) -> tuple[list[int], list[str]]:
    with av.logging.Capture() as logs:
        idx = [i for _, i in decode_frame_indices(path)]
    return idx, [m for level, _, m in logs if level <= av.logging.WARNING]


def _judge(path: Path, codec: str, frames: int, browser: bool = True,
           gst_short: int = 0) -> None:
    """GStreamer decodes every frame without complaint; Chromium plays it to the end.

    ``gst_short``: frames GStreamer is allowed to leave out. GStreamer 1.22's avdec_h265
    loses reorder-depth-minus-one frames (4) of a stream reordered 5 deep (the open-GOP
    HEVC set, x265 with 4 B-frames) even for the source itself remuxed by ffmpeg (96 of
    100 frames), so for that set it is held to the source's own result, not more.
    """
    count, problems = gst_decode(path)
    assert problems == [] and frames - gst_short <= count <= frames
    if browser:
        played = chromium_play(path, CODECS[codec])
        assert played["corrupted"] == 0 and played["total"] == frames
        assert played["time"] == pytest.approx(played["duration"], abs=0.05)


def _gst_short(form: str) -> int:
    return 4 if form.startswith("hevc") and form.endswith("open") else 0


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("a", "b"), WINDOWS)
def test_exact_cut_is_frame_exact_for_every_form(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path, form: str, a: float, b: float) -> None:
    # (h264-open, end-on-a-leading-picture was a strict xfail: the clip began with a
    # copied open-GOP I frame, no IDR, whose memory-management operations name pictures
    # of the GOP before, and GStreamer's libav logged "mmco: unref short failure". An
    # H.264 GOP is now copied only from an IDR or after a GOP copied as it was.)
    o = make_origin(samples=sample_sets(form), history=3600)
    out = tmp_path / "clip.mp4"
    cut = _clip(o, out, a, b, "exact")
    first, last = math.floor(a * FPS + 1e-9), math.ceil(b * FPS - 1e-9) - 1
    idx, problems = _decode(out)
    # The frame on screen at the start, the one on screen just before the end, every one
    # between, each once, and nothing the decoder complained about.
    assert idx == [k % CYCLE for k in range(first, last + 1)] and problems == []
    assert cut["mode"] == "exact"
    codec = form.split("-")[0]
    with av.open(str(out)) as c:
        tag = c.streams.video[0].codec_tag
    assert tag == ("hev1" if codec == "hevc" else "avc1")
    _judge(out, codec, len(idx), browser=codec == "h264", gst_short=_gst_short(form))


def test_hevc_copies_the_gops_inside_the_window(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path) -> None:
    # Only the edges are re-encoded: closed GOPs 375-399 and 400-424 are copied as they
    # were; with open GOPs, the RASL pictures of each copied CRA go out with the edge
    # before it (the CRA spliced as BLA), so the GOPs are copied but for those 4 frames.
    for form, copied in (("hevc", 50), ("hevc-open", 46)):
        o = make_origin(samples=sample_sets(form), history=3600)
        cut = _clip(o, tmp_path / f"{form}.mp4", 14.6, 17.0, "exact")
        assert (cut["gops_copied"], cut["frames_copied"]) == (2, copied), form


def _sps_tiers_and_levels(path: Path) -> set[tuple[bool, int]]:
    """(High tier, general_level_idc) of every SPS in the clip's video packets (hev1)."""
    found = set()
    with av.open(str(path)) as c:
        for pkt in c.demux(c.streams.video[0]):
            data = bytes(pkt)
            at = 0
            while at + 4 <= len(data):  # length-prefixed NAL units
                size = int.from_bytes(data[at:at + 4], "big")
                unit = data[at + 4:at + 4 + size].replace(b"\x00\x00\x03", b"\x00\x00")
                if (unit[0] >> 1) & 0x3F == 33:
                    # header (2), VPS id etc. (1), space/tier/profile (1), flags (4 + 6)
                    found.add((bool(unit[3] & 0x20), unit[14]))
                at += 4 + size
    return found


@pytest.mark.parametrize(("form", "high"), [("hevc-l4", False), ("hevc-l4-high", True)])
def test_hevc_edges_keep_the_sources_tier_and_level(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path, form: str, high: bool) -> None:
    # x265 signals High tier by itself at level 4 and above: the edges must say what the
    # source says (1080p sources are typically level 4 or 4.1, Main tier).
    o = make_origin(samples=sample_sets(form), history=3600)
    out = tmp_path / "clip.mp4"
    cut = _clip(o, out, 2.6, 5.0, "exact")
    assert cut["frames_encoded"] > 0 and cut["gops_copied"] > 0
    assert _sps_tiers_and_levels(out) == {(high, 120)}
    idx, problems = _decode(out)
    assert idx == list(range(65, 125)) and problems == []


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("mode", ["keyframe", "reencode"])
def test_other_cut_modes_decode_everywhere(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path, form: str, mode: str) -> None:
    o = make_origin(samples=sample_sets(form), history=3600)
    out = tmp_path / "clip.mp4"
    cut = _clip(o, out, 14.6, 17.0, mode)
    idx, problems = _decode(out)
    assert cut["mode"] == mode and problems == []
    if mode == "reencode":
        assert idx == [k % CYCLE for k in range(365, 425)]
    else:  # from the keyframe at 14 s (or its leading pictures, which a decoder drops)
        # ffmpeg ends a stream copy in decode order, and the leading pictures of the
        # keyframe at 17 s (2 for H.264, 4 for HEVC, shown before 17 s) decode after
        # it: in the CMAF sets the mp4 muxer made the decode delay one frame shorter
        # than the encoder's MPEG-TS has it, so there they fall past the end (README).
        short = {"h264-cmaf-open": 2, "hevc-cmaf-open": 4}.get(form, 0)
        assert idx[0] in (346, 348, 350) and idx[-1] >= 424 - short
    codec = form.split("-")[0]
    _judge(out, codec, len(idx), browser=codec == "h264", gst_short=_gst_short(form))


@pytest.mark.parametrize("form", ["hevc-open"])
def test_an_end_in_the_next_segments_leading_pictures_fails_whole_when_it_is_gone(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path, form: str, caplog: pytest.LogCaptureFixture) -> None:
    # Frame 348 (13.92 s) is a leading picture of the keyframe at 14 s, so it travels in
    # the segment that starts at 14 s. The cut fetches that segment beyond the window
    # (test_exact_cut_is_frame_exact_for_every_form, end-on-the-next-segments-leading-
    # picture); when the origin does not have it, the clip is short and verification
    # refuses it: exit 1, nothing kept. (With the H.264 set only one frame is missing,
    # which the one-frame tolerance of the verification lets through: see the README.)
    o = make_origin(samples=sample_sets(form), history=3600, gaps=((14.0, 16.0),))
    with caplog.at_level("WARNING", logger="timeshift.clip"), pytest.raises(VerificationError):
        _clip(o, tmp_path / "x.mp4", 12.2, 13.93, "exact")
    assert not (tmp_path / "x.mp4").exists()
    # Said, not only refused: a clip the one-frame tolerance lets through carries the same
    # line in its summary's cut.notes.
    assert "travel in the segment after the window, which could not be fetched" in caplog.text


@pytest.mark.parametrize(("form", "ahead"), [
    ("hevc-open", 2), ("hevc-cmaf-open", 2),
    # Ending in the newest published segment: the window is all there when planned (not
    # followed), the segment after it is not, and it is waited for all the same.
    ("hevc-open", 0),
])
def test_a_window_at_the_live_edge_waits_for_the_segment_after_it(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path, form: str, ahead: int) -> None:
    # The origin publishes in real time (segment k once its 2 s have passed). A window
    # ending 0.07 s before a segment boundary 2-4 s from now ends on a leading picture of
    # the keyframe on that boundary, which travels in the segment after it: published 2 s
    # after the window's last, so the cut waits for it (without it this HEVC clip is two
    # frames short and fails verification). Not on the samples' 20 s cycle, where a
    # discontinuity follows and the encode's last segment holds all its own frames.
    o = make_origin(samples=sample_sets(form), history=600)
    k = math.floor((time.time() - o.stream_start) / 2) + ahead
    if (2 * k) % 20 == 0:
        time.sleep(2.0 if ahead == 0 else 0.0)  # the newest segment must be one that has a next
        k += 1
    end = o.stream_start + 2 * k - 0.07
    start = end - 5.0
    out = tmp_path / "edge.mp4"
    r = clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
             start=round(start * NS_PER_S), end=round(end * NS_PER_S), cache_dir=tmp_path / "c")
    after_published = o.stream_start + 2 * k + 2
    assert time.time() >= after_published - 0.3  # it was waited for
    assert r.live["followed"] == (ahead > 0) and r.cut["frames_encoded"] > 0
    a = math.floor((start - o.stream_start) * FPS + 1e-6)
    b = math.ceil((end - o.stream_start) * FPS - 1e-6)
    idx, problems = _decode(out)
    assert idx == [j % CYCLE for j in range(a, b)] and problems == []
    assert not r.cut.get("notes")  # nothing said to be lost


def test_the_segment_after_the_window_is_fetched_only_when_needed_and_not_counted(
        make_origin: Callable[..., OriginServer], sample_sets: Callable[[str], Path],  # noqa: F811
        tmp_path: Path) -> None:
    def run(form: str, b: float, out: str, cut: str | None = "exact") -> tuple[Any, int]:
        o = make_origin(samples=sample_sets(form), history=3600)
        r = clip(tmp_path / out, domain=o.netloc, app="live", stream="cam1", scheme="http",
                 start=round((o.stream_start + 12.2) * NS_PER_S),
                 end=round((o.stream_start + b) * NS_PER_S), cache_dir=tmp_path / "c", cut=cut)
        return r, o.config.counters.get("segments", 0)

    # Segment [12, 14) is the window's one segment; [14, 16) holds frame 348's picture
    # (a leading picture of the keyframe at 14 s) and goes to the cutter only.
    for form, out in (("hevc-open", "x.mp4"), ("hevc-cmaf-open", "y.mp4")):
        r, asked = run(form, 13.93, out)
        assert r.segments == 1 and asked == 2 and r.cut["frames_encoded"] > 0, form
        assert [i for _, i in decode_frame_indices(tmp_path / out)][-1] == 348
        assert not [p for p in (tmp_path / "c").rglob("*") if p.is_file()]  # all cleaned up
    # Not when the window's last segment holds every frame before the end (closed GOPs,
    # or this open-GOP H.264 set, where frame 348 is in [12, 14)), nor for a keyframe
    # cut or TS output.
    for form, b, out, cut in (("h264", 14.0, "a.mp4", "exact"), ("h264-open", 13.93, "b.mp4", "exact"),
                              ("hevc-open", 13.93, "k.mp4", "keyframe"), ("hevc-open", 13.93, "w.ts", None)):
        r, asked = run(form, b, out, cut)
        assert r.segments == 1 and asked == 1, (form, out)


def test_a_map_is_parsed_not_refused() -> None:
    # This playlist was refused before CMAF sources were supported (issue 13).
    text = (Path(__file__).parent / "fixtures" / "fmp4_map.m3u8").read_text()
    pl = parse_playlist(text, "https://play.example.com/live/cam1.m3u8")
    assert [s.init for s in pl.segments] == [
        InitSection("https://play.example.com/live/cam1/init.mp4")] * 2


def test_a_map_that_is_gone_fails_the_clip(make_origin: Callable[..., OriginServer],
                                           tmp_path: Path) -> None:
    # fmp4_map writes #EXT-X-MAP into the playlist only: its init.mp4 is not served.
    o = make_origin(history=3600, fmp4_map=True)
    with pytest.raises(RemoteError, match=r"init section \(#EXT-X-MAP\) is gone"):
        _clip(o, tmp_path / "x.mp4", 14.6, 17.0, "exact")
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.parametrize("form", ["h264-cmaf", "hevc-cmaf"])
def test_cmaf_with_aes128_and_ts_output(make_origin: Callable[..., OriginServer],
                                        sample_sets: Callable[[str], Path],  # noqa: F811
                                        tmp_path: Path, form: str) -> None:
    # AES-128 whole-segment encryption with rotating keys; the init sections are fetched
    # once per URI (one per sample cycle: the window crosses a discontinuity).
    o = make_origin(samples=sample_sets(form), history=3600, encryption="aes-128",
                    key_rotation=3)
    out = tmp_path / "clip.mp4"
    _clip(o, out, 18.43, 21.61, "exact")
    idx, problems = _decode(out)
    assert idx == [k % CYCLE for k in range(460, 541)] and problems == []
    assert o.config.counters["inits"] == 2
    # TS output: the fragments repackaged as MPEG-TS, whole segments, every frame there.
    ts = tmp_path / "clip.ts"
    clip(ts, domain=o.netloc, app="live", stream="cam1", scheme="http",
         start=round((o.stream_start + 14.6) * NS_PER_S),
         end=round((o.stream_start + 17.0) * NS_PER_S), cache_dir=tmp_path / "c2")
    idx, problems = _decode(ts)
    assert idx == [k % CYCLE for k in range(350, 450)] and problems == []
    with av.open(str(ts)) as c:
        assert c.format.name == "mpegts"
        assert c.streams.video[0].codec_context.name == form.split("-")[0]


def _clear_random_access(data: bytes) -> bytes:
    """The segment with every random_access_indicator cleared (as some packagers leave it)."""
    out = bytearray(data)
    for p in range(0, len(out) - 187, 188):
        if out[p + 3] & 0x20 and out[p + 4] > 0:
            out[p + 5] &= ~0x40 & 0xFF
    return bytes(out)


@pytest.mark.parametrize("form", ["hevc", "hevc-open"])
def test_hevc_keyframes_in_mpeg_ts(sample_sets: Callable[[str], Path], form: str) -> None:  # noqa: F811
    data = (sample_sets(form) / "seg_003.ts").read_bytes()
    (video,) = [s for s in streams(data) if s.kind == "video"]
    assert (video.stream_type, video.codec) == (0x24, "hevc")
    with av.open(str(sample_sets(form) / "seg_003.ts")) as c:
        keys = [p.pts for p in c.demux(c.streams.video[0]) if p.is_keyframe and p.pts is not None]
    assert len(keys) == 2  # one IDR / CRA every 25 frames
    # From the random-access indicator, and from the NAL unit types (IDR 19-20, CRA 21)
    # when the packager left the indicator clear.
    assert keyframe_timestamps(data) == keys
    assert keyframe_timestamps(_clear_random_access(data)) == keys


@pytest.mark.parametrize("form", ["h264-cmaf", "hevc-cmaf"])
def test_cmaf_archive_uploads_its_init_sections_and_plays(
        make_origin: Callable[..., OriginServer], make_oss: Callable[..., Any],
        sample_sets: Callable[[str], Path], tmp_path: Path, form: str) -> None:  # noqa: F811
    import asyncio

    import oss2

    from timeshift.archive import ArchiveJob, ArchiveOptions, OssStore, archive_job
    from timeshift.openapi.credentials import Credentials

    o = make_origin(samples=sample_sets(form), history=3600)
    oss = make_oss(buckets=("archive",))
    store = OssStore(oss.url, "archive", Credentials("testid", "testsecret"))
    t0 = int(o.stream_start + 10)  # 10-30 s: a wrap of the samples at 20 s, a new map
    job = ArchiveJob(domain=o.netloc, app="live", stream="cam", start=t0 * NS_PER_S,
                     end=(t0 + 20) * NS_PER_S, bucket="archive", endpoint=oss.url)
    options = ArchiveOptions(scheme="http", cache_dir=tmp_path / "cache")
    result = asyncio.run(archive_job(job, store, options))
    assert result.ok, result.error
    bucket = oss2.Bucket(oss2.Auth("testid", "testsecret"), oss.url, "archive")
    index_key = result.index_key or ""
    text = bucket.get_object(index_key).read().decode()
    maps = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', text)
    assert len(maps) == 2 and maps[0] != maps[1]
    # Download the index, the fragments and the init sections, and play the archive.
    folder = tmp_path / "dl"
    base = index_key.rsplit("/", 1)[0]
    for name in [index_key.rsplit("/", 1)[1], *maps,
                 *re.findall(r"^(?!#)(\S+)$", text, re.M)]:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        bucket.get_object_to_file(f"{base}/{name}", str(target))
    assert bucket.head_object(f"{base}/{maps[0]}").content_type == "video/mp4"
    # Every fragment decodes with the init section its #EXT-X-MAP names, in order.
    # (FFmpeg's own HLS demuxer, reading the index, drops the first fragment after the
    # map changes; an open question for the README, not checked here.)
    idx = []
    for seg in m3u8.loads(text).segments:
        data = (folder / seg.init_section.uri).read_bytes() + (folder / seg.uri).read_bytes()
        with av.open(io.BytesIO(data)) as c:
            idx += [read_frame_index(f) for f in c.decode(video=0)]
    assert idx == [k % CYCLE for k in range(250, 750)]
    # Named by their form: fragments .m4s (not the default template's .ts), maps .mp4.
    fragments = [seg.uri for seg in m3u8.loads(text).segments]
    assert all(f.endswith(".m4s") for f in fragments) and all(m.endswith(".mp4") for m in maps)
    # A player reads the archive's index from the OSS server: GStreamer's playbin (its
    # HLS demuxer, then qtdemux and a decoder) plays every frame, across the map change.
    # The bucket is private, so the index's URIs are presigned, as a viewer of a private
    # bucket must have them (the relative URIs resolve against the index's folder).
    def signed(uri: str) -> str:
        return bucket.sign_url("GET", posixpath.normpath(f"{base}/{uri}"), 600)

    playlist = re.sub(r'URI="([^"]+)"', lambda m: f'URI="{signed(m.group(1))}"', text)
    playlist = re.sub(r"(?m)^(?!#)(\S+)$", lambda m: signed(m.group(1)), playlist)
    (tmp_path / "play.m3u8").write_text(playlist)
    frames, problems = gst_play_playlist(tmp_path / "play.m3u8")
    # GStreamer 1.22's HLS demuxer does not re-base fMP4 timestamps at the
    # EXT-X-DISCONTINUITY (the samples' times restart after the map change), so its
    # decoder notes the frames after it as a "decreasing timestamp" (as for the source's
    # own playlist); it plays every frame, and nothing else is reported.
    resets = [p for p in problems if "decreasing timestamp" in p]
    assert frames == 500 and len(resets) <= 250 and len(problems) == len(resets)
    again = asyncio.run(archive_job(job, store, options))
    assert again.ok and again.uploaded == 0
