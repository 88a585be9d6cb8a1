"""Encrypted (AES-128) and byte-range HLS end to end: the local origin serves each form, and a
clip from it must equal, byte for byte and frame for frame, the clip of the same window from
the plain origin. Refused forms (SAMPLE-AES, fMP4) and broken answers (a key of the wrong
length, a key on a foreign host, a wrong Range answer) fail with one clear line.
"""

from __future__ import annotations

import hashlib
import logging
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from timeshift.auth import Signer
from timeshift.clip import clip
from timeshift.errors import ForeignHostError, RemoteError, UsageError
from timeshift.fetch import FetchOptions, _decrypt
from timeshift.playlist import Key, Segment
from timeshift.sim.frameindex import decode_frame_indices
from timeshift.sim.origin import ORIGIN_KEY, OriginServer
from timeshift.times import NS_PER_S

FPS = 25
# A window that crosses the samples' wrap at 20 s (a discontinuity) and starts on a keyframe.
WINDOW = (14, 34)


@pytest.fixture
def t0() -> float:
    """One stream start for every origin of a test, so equal windows hold equal frames."""
    return math.floor((time.time() - 3600) / 2) * 2.0


def _clip(o: OriginServer, out: Path, a: float = WINDOW[0], b: float = WINDOW[1],
          **kwargs: Any) -> Any:
    start = o.stream_start
    kwargs.setdefault("cache_dir", out.with_suffix(".cache"))
    return clip(out, domain=o.netloc, app="live", stream="cam1", scheme="http",
                start=round((start + a) * NS_PER_S), end=round((start + b) * NS_PER_S), **kwargs)


def _frames(path: Path) -> list[int]:
    return [index for _, index in decode_frame_indices(path)]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _plain(make_origin: Callable[..., OriginServer], t0: float, tmp_path: Path,
           **fields: Any) -> Path:
    out = tmp_path / "plain.mp4"
    _clip(make_origin(stream_start=t0, **fields), out, allow_gaps=bool(fields.get("gaps")))
    return out


@pytest.mark.parametrize(
    ("fields", "keys"),
    [
        # Segments 7..16 of the window; a key per `key_rotation` segments (0: one key).
        pytest.param(dict(encryption="aes-128"), 1, id="aes-sequence-iv"),
        pytest.param(dict(encryption="aes-128", iv="explicit"), 1, id="aes-explicit-iv"),
        pytest.param(dict(encryption="aes-128", key_rotation=3), 4, id="aes-sequence-iv-rotation"),
        pytest.param(dict(encryption="aes-128", iv="explicit", key_rotation=4), 4,
                     id="aes-explicit-iv-rotation"),
        pytest.param(dict(byte_ranges=4), 0, id="byte-ranges"),
        pytest.param(dict(byte_ranges=1), 0, id="byte-range-per-resource"),
        pytest.param(dict(byte_ranges=3, encryption="aes-128", key_rotation=5), 3,
                     id="byte-ranges-aes"),
    ],
)
def test_clip_equals_the_plain_clip(make_origin: Callable[..., OriginServer], t0: float,
                                    tmp_path: Path, fields: dict[str, Any], keys: int) -> None:
    plain = _plain(make_origin, t0, tmp_path)
    o = make_origin(stream_start=t0, **fields)
    out = tmp_path / "form.mp4"
    r = _clip(o, out, fetch=FetchOptions(concurrency=16))
    assert _sha(out) == _sha(plain)
    assert _frames(out) == _frames(plain) == [k % 500 for k in range(14 * FPS, 34 * FPS)]
    c = o.config.counters
    assert r.segments == 10 and c["segments"] == 10
    # Ten segments fetched 16 at a time, yet every key was asked for once.
    assert c.get("keys", 0) == keys
    assert c.get("ranges", 0) == (10 if fields.get("byte_ranges") else 0)
    # Segment by segment too: the MP4 does not keep every byte a wrong IV would garble.
    assert o.app is not None
    want = [o.app[ORIGIN_KEY].stream.plain(k) for k in range(7, 17)]
    assert [data for _, data in _fetched(o, *WINDOW, tmp_path / "segments")] == want


def _fetched(o: OriginServer, a: float, b: float, cache: Path) -> list[tuple[int, bytes]]:
    """The window's segments as the fetcher yields them: (media sequence number, bytes)."""
    import asyncio

    from timeshift.fetch import (
        Fetched,
        FetchStats,
        SegmentCache,
        fetch_segments,
        fetch_text,
        make_client_session,
    )
    from timeshift.playlist import parse_playlist
    from timeshift.urls import TimeshiftURL

    url = str(TimeshiftURL.vod(o.netloc, "live", "cam1", round((o.stream_start + a) * NS_PER_S),
                               round((o.stream_start + b) * NS_PER_S), scheme="http"))

    async def run() -> list[tuple[int, bytes]]:
        async with make_client_session(FetchOptions()) as session:
            segs = parse_playlist(await fetch_text(session, url), url).segments
            return [(p.segment.sequence, p.data if isinstance(p, Fetched) else b"")
                    async for p in fetch_segments(session, segs, SegmentCache(cache),
                                                  FetchOptions(), FetchStats())]

    return asyncio.run(run())


@pytest.mark.parametrize("iv", ["sequence", "explicit"])
def test_segments_decrypt_to_the_plain_bytes_across_a_gap(
        make_origin: Callable[..., OriginServer], t0: float, tmp_path: Path, iv: str) -> None:
    # After a gap the media sequence number is no longer the grid index (slots 11 and 12 are
    # missing): the IV follows the number the playlist gives, the same whether the window
    # starts before the gap or after it. An IV wrong only in its low bytes garbles a few header
    # bytes that the MP4 does not keep, so the decrypted segments are compared, not the clip.
    gaps = ((22, 26),)
    o = make_origin(stream_start=t0, gaps=gaps, encryption="aes-128", key_rotation=2, iv=iv)
    assert o.app is not None
    stream = o.app[ORIGIN_KEY].stream
    across = _fetched(o, 14, 34, tmp_path / "a")
    after = _fetched(o, 26, 34, tmp_path / "b")
    grid = [7, 8, 9, 10, 13, 14, 15, 16]
    assert [n for n, _ in across] == [7, 8, 9, 10, 11, 12, 13, 14] and after == across[4:]
    assert [data for _, data in across] == [stream.plain(k) for k in grid]

    plain_origin = make_origin(stream_start=t0, gaps=gaps)
    plain, out = tmp_path / "plain.mp4", tmp_path / "aes.mp4"
    _clip(plain_origin, plain, allow_gaps=True)
    r = _clip(o, out, allow_gaps=True)
    assert _sha(out) == _sha(plain) and len(r.gaps) == 1


def test_origin_ignoring_range_is_sliced(make_origin: Callable[..., OriginServer], t0: float,
                                         tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plain = _plain(make_origin, t0, tmp_path)
    o = make_origin(stream_start=t0, byte_ranges=4, range_fault="ignore")
    out = tmp_path / "sliced.mp4"
    with caplog.at_level(logging.INFO, logger="timeshift.fetch"):
        _clip(o, out)
    assert _sha(out) == _sha(plain)
    assert o.config.counters.get("ranges", 0) == 0  # every answer was a 200 with everything
    assert "ignored Range" in caplog.text


def test_faults_on_encrypted_byte_ranges_give_the_same_clip(
        make_origin: Callable[..., OriginServer], t0: float, tmp_path: Path) -> None:
    plain = _plain(make_origin, t0, tmp_path)
    o = make_origin(stream_start=t0, byte_ranges=3, encryption="aes-128", key_rotation=4,
                    fail_rate=0.15, truncate_rate=0.1, seed=3)
    out = tmp_path / "faulty.mp4"
    r = _clip(o, out, fetch=FetchOptions(backoff=0.01, max_backoff=0.05, retries=12))
    c = o.config.counters
    assert c.get("5xx", 0) + c.get("truncated", 0) > 0 and r.retries > 0
    assert _sha(out) == _sha(plain)


def test_resume_needs_no_key(make_origin: Callable[..., OriginServer], t0: float,
                             tmp_path: Path) -> None:
    o = make_origin(stream_start=t0, encryption="aes-128", byte_ranges=2)
    out, cache = tmp_path / "a.mp4", tmp_path / "cache"
    _clip(o, out, cache_dir=cache, keep_cache=True)
    before = dict(o.config.counters)
    r = _clip(o, tmp_path / "b.mp4", cache_dir=cache)
    # The cache holds plaintext keyed by URI and range: nothing is fetched again, not even the key.
    assert r.cached == 10 and o.config.counters["keys"] == before["keys"] == 1
    assert o.config.counters["segments"] == before["segments"]
    assert _sha(out) == _sha(tmp_path / "b.mp4")


@pytest.mark.parametrize("sign_uris", [True, False], ids=["origin-signs", "client-signs"])
def test_signed_keys_and_ranges(make_origin: Callable[..., OriginServer], t0: float,
                                tmp_path: Path, sign_uris: bool) -> None:
    signer = Signer("A", "cdn-secret")
    plain = _plain(make_origin, t0, tmp_path)
    o = make_origin(stream_start=t0, signer=signer, sign_uris=sign_uris, encryption="aes-128",
                    key_rotation=5, byte_ranges=3)
    out = tmp_path / "signed.mp4"
    _clip(o, out, signer=signer)
    assert _sha(out) == _sha(plain)
    assert o.config.counters.get("403", 0) == 0 and o.config.counters["keys"] == 3


def test_no_key_bytes_in_logs(make_origin: Callable[..., OriginServer], t0: float,
                              tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    o = make_origin(stream_start=t0, encryption="aes-128")
    with caplog.at_level(logging.DEBUG):
        _clip(o, tmp_path / "x.mp4")
    key = o.app[ORIGIN_KEY].stream.key(0) if o.app is not None else b""
    assert "fetched the key" in caplog.text  # the debug line is there, without the key
    for form in (key.hex(), repr(key), key.decode("latin-1")):
        assert form not in caplog.text


@pytest.mark.parametrize("length", [15, 32])
def test_key_of_the_wrong_length(make_origin: Callable[..., OriginServer], t0: float,
                                 tmp_path: Path, length: int) -> None:
    o = make_origin(stream_start=t0, encryption="aes-128", key_length=length)
    with pytest.raises(RemoteError, match=rf"^the key is {length} bytes; an AES-128 key is 16 "
                                          r"\(http://.*/live/cam1/keys/0\.key\)$"):
        _clip(o, tmp_path / "x.mp4")
    assert o.config.counters["keys"] == 1  # not retried: the answer was whole and wrong
    assert not (tmp_path / "x.mp4").exists()


def test_key_on_a_foreign_host(make_origin: Callable[..., OriginServer], t0: float,
                               tmp_path: Path) -> None:
    o = make_origin(stream_start=t0, encryption="aes-128")
    o.config.key_host = f"localhost:{o.port}"  # the same server under a name the playlist did not use
    with pytest.raises(ForeignHostError, match=r"keys/0\.key: key host 'localhost:\d+' is not"):
        _clip(o, tmp_path / "x.mp4")
    assert o.config.counters.get("keys", 0) == 0 and o.config.counters.get("segments", 0) == 0
    _clip(o, tmp_path / "x.mp4", allowed_hosts=(f"localhost:{o.port}",))
    assert o.config.counters["keys"] == 1


def test_wrong_range_answer(make_origin: Callable[..., OriginServer], t0: float,
                            tmp_path: Path) -> None:
    o = make_origin(stream_start=t0, byte_ranges=4, range_fault="wrong")
    with pytest.raises(RemoteError, match=r"^HTTP 206: asked for bytes=\d+-\d+, the origin "
                                          r"answered Content-Range 'bytes \d+-\d+/\d+'"):
        _clip(o, tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()


def test_range_beyond_the_resource(make_origin: Callable[..., OriginServer], t0: float,
                                   tmp_path: Path) -> None:
    import asyncio

    from timeshift.fetch import FetchStats, SegmentCache, fetch_segments, make_client_session
    from timeshift.playlist import ByteRange

    o = make_origin(stream_start=t0, byte_ranges=2)
    seg = Segment(f"{o.url}/live/cam1/r3.ts", 0, 2.0, 0.0,
                  byterange=ByteRange(100, 10_000_000))

    async def run() -> None:
        async with make_client_session(FetchOptions()) as session:
            async for _ in fetch_segments(session, [seg], SegmentCache(tmp_path), FetchOptions(),
                                          FetchStats()):
                pass

    with pytest.raises(RemoteError, match=r"^HTTP 416: the origin refused bytes=10000000-10000099"):
        asyncio.run(run())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param(dict(encryption="sample-aes"), "METHOD=SAMPLE-AES, which is not supported",
                     id="sample-aes"),
    ],
)
def test_refused_forms(make_origin: Callable[..., OriginServer], t0: float, tmp_path: Path,
                       fields: dict[str, Any], message: str) -> None:
    o = make_origin(stream_start=t0, **fields)
    with pytest.raises(UsageError, match=message):
        _clip(o, tmp_path / "x.mp4")
    assert o.config.counters.get("segments", 0) == o.config.counters.get("keys", 0) == 0


def test_cli_refusal_is_one_line_exit_2(make_origin: Callable[..., OriginServer], t0: float,
                                        tmp_path: Path) -> None:
    o = make_origin(stream_start=t0, encryption="sample-aes")
    s = int(t0)
    r = subprocess.run([sys.executable, "-m", "timeshift", "clip", "--domain", o.netloc,
                        "--scheme", "http", "--app", "live", "--stream", "cam1",
                        "--start", str(s + 14), "--end", str(s + 20), "-o", str(tmp_path / "x.mp4"),
                        "--cache-dir", str(tmp_path / "c")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "SAMPLE-AES" in lines[0] and "only AES-128" in lines[0], r.stderr


def _encrypt(data: bytes, key: bytes, iv: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(padder.update(data) + padder.finalize()) + enc.finalize()


@pytest.mark.parametrize(
    ("key", "iv"),
    [
        pytest.param(bytes(range(16, 32)), (5).to_bytes(16, "big"), id="wrong-key"),
        pytest.param(bytes(range(16)), (5 | 1 << 127).to_bytes(16, "big"), id="wrong-iv"),
    ],
)
def test_wrong_key_or_iv_is_an_error_without_the_key(key: bytes, iv: bytes) -> None:
    # A wrong IV garbles only the bytes of the first block where the IVs differ, so the padding
    # passes; the TS sync byte catches this one (an IV wrong only in its low bytes is not caught
    # here: the clip's comparison with the plain one is what proves the IVs right).
    plain = b"\x47" + bytes(187) + b"\x47" + bytes(187)
    data = _encrypt(plain, bytes(range(16)), (5).to_bytes(16, "big"))
    seg = Segment("http://h/live/cam1/5.ts", 5, 2.0, 0.0, key=Key("http://h/k", iv=iv))
    assert _decrypt(data, bytes(range(16)), Segment("u", 5, 2.0, 0.0, key=Key("k"))) == plain
    with pytest.raises(RemoteError, match="does not decrypt to MPEG-TS") as info:
        _decrypt(data, key, seg)
    text = str(info.value) + repr(info.value) + repr(seg)
    assert key.hex() not in text and repr(key) not in text
