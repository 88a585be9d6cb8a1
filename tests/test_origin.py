"""The local time-shift origin over real HTTP: playlists in every mode, segments, faults, signing."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import m3u8
import pytest
import requests

from timeshift.auth import Signer
from timeshift.errors import UsageError
from timeshift.sim.origin import OriginServer, parse_gaps
from timeshift.times import NS_PER_S
from timeshift.urls import TimeshiftURL


def _vod(o: OriginServer, a: float, b: float, **kw: object) -> str:
    t0 = int(o.stream_start)
    return str(TimeshiftURL.vod(o.netloc, "live", "cam1", (t0 + int(a)) * NS_PER_S,
                                (t0 + int(b)) * NS_PER_S, scheme="http", **kw))  # type: ignore[arg-type]


def _load(url: str) -> m3u8.M3U8:
    resp = requests.get(url, timeout=5)
    resp.raise_for_status()
    return m3u8.loads(resp.text, uri=url)


def test_vod_playlist_across_a_wrap(origin: OriginServer) -> None:
    # 10 samples of 2 s: segment 10 starts the second cycle, a discontinuity.
    pl = _load(_vod(origin, 12, 28))
    assert pl.is_endlist and pl.playlist_type == "vod"
    assert [s.uri.split("?")[0] for s in pl.segments] == [f"cam1/{k}.ts" for k in range(6, 14)]
    assert [s.discontinuity for s in pl.segments] == [False] * 4 + [True] + [False] * 3
    assert pl.media_sequence == 6 and not pl.discontinuity_sequence  # 0 is left out
    pdt = [s.program_date_time.timestamp() for s in pl.segments]
    assert pdt[0] == origin.stream_start + 12 and all(b - a == 2 for a, b in zip(pdt, pdt[1:], strict=False))
    body = requests.get(pl.segments[0].absolute_uri, timeout=5)
    assert body.headers["Content-Type"] == "video/MP2T" and body.content[0] == 0x47


def test_discontinuity_sequence_counts_earlier_wraps(origin: OriginServer) -> None:
    pl = _load(_vod(origin, 100, 104))
    assert pl.media_sequence == 50 and pl.discontinuity_sequence == 4


def test_gaps_skip_time_and_mark_a_discontinuity(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, gaps=parse_gaps("6-9"))
    pl = _load(_vod(o, 0, 14))
    assert [int(s.uri.split("/")[1].split(".")[0]) for s in pl.segments] == [0, 1, 2, 5, 6]
    assert [s.discontinuity for s in pl.segments] == [False, False, False, True, False]
    gone = requests.get(f"{o.url}/live/cam1/3.ts", timeout=5)
    assert gone.status_code == 404


def test_no_program_date_time(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, program_date_time=False)
    assert all(s.program_date_time is None for s in _load(_vod(o, 0, 10)).segments)


def test_offset_mode_is_behind_live(origin: OriginServer) -> None:
    url = TimeshiftURL.behind_live(origin.netloc, "live", "cam1", 600 * NS_PER_S, scheme="http")
    pl = _load(str(url))
    assert not pl.is_endlist and len(pl.segments) == 5
    last_end = pl.segments[-1].program_date_time.timestamp() + 2
    assert abs((time.time() - 600) - last_end) < 4


def test_live_mode_starts_at_start_and_ends_at_end(origin: OriginServer) -> None:
    t0 = int(origin.stream_start)
    url = TimeshiftURL.live(origin.netloc, "live", "cam1", (t0 + 20) * NS_PER_S,
                            scheme="http")
    pl = _load(str(url))
    assert pl.segments[0].program_date_time.timestamp() == t0 + 20 and not pl.is_endlist
    short = TimeshiftURL.live(origin.netloc, "live", "cam1", (t0 + 20) * NS_PER_S,
                              (t0 + 26) * NS_PER_S, scheme="http")
    pl = _load(str(short))
    assert pl.is_endlist and len(pl.segments) == 3


def test_future_is_not_listed(origin: OriginServer) -> None:
    now = int(time.time())
    url = TimeshiftURL.vod(origin.netloc, "live", "cam1", (now - 10) * NS_PER_S,
                           (now + 60) * NS_PER_S, scheme="http")
    pl = _load(str(url))
    assert pl.segments and pl.segments[-1].program_date_time.timestamp() + 2 <= time.time() + 1


def test_signing_type_a_on_every_request(make_origin: Callable[..., OriginServer]) -> None:
    signer = Signer("A", "k3y")
    o = make_origin(history=600, signer=signer)
    plain = _vod(o, 0, 10)
    assert requests.get(plain, timeout=5).status_code == 403
    pl = _load(signer.sign(plain))
    seg = pl.segments[0].absolute_uri
    assert "auth_key=" in seg and requests.get(seg, timeout=5).status_code == 200
    assert requests.get(seg.split("&auth_key")[0], timeout=5).status_code == 403


def test_truncated_body_is_short_of_content_length(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, truncate_rate=1.0)
    uri = f"{o.url}/live/cam1/0.ts"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(uri, timeout=5)
    # Read raw from the socket to see the promised length and the short body.
    host, port = o.netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(b"GET /live/cam1/0.ts HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0]
                 .split(b":")[1])
    assert 0 < len(body) < length


def test_latency_and_bandwidth(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, latency=0.2, bandwidth=400_000)
    t = time.monotonic()
    size = len(requests.get(f"{o.url}/live/cam1/0.ts", timeout=10).content)
    elapsed = time.monotonic() - t
    assert elapsed >= 0.2 + 0.8 * size / 400_000


def test_unknown_stream_and_missing_marker(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, streams=("live/cam1",))
    assert requests.get(_vod(o, 0, 4).replace("cam1", "cam2"), timeout=5).status_code == 404
    assert requests.get(f"{o.url}/live/cam1.m3u8?lhs_start_unix_s_0=1", timeout=5).status_code == 404
    assert requests.get(f"{o.url}/live/cam1.m3u8?lhs_start=1&lhs_start_unix_s_8=1",
                        timeout=5).status_code == 400


@pytest.mark.parametrize("text", ["5", "9-3", "a-b", "1-2,3"])
def test_parse_gaps_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_gaps(text)


def test_binds_loopback_by_default(origin: OriginServer) -> None:
    assert origin.host == "127.0.0.1"


def test_aes128_segments_and_keys(make_origin: Callable[..., OriginServer]) -> None:
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    o = make_origin(history=600, encryption="aes-128", key_rotation=2, iv="explicit")
    pl = _load(_vod(o, 0, 8))
    keys = [s.key for s in pl.segments]
    assert [k.uri for k in keys] == ["cam1/keys/0.key"] * 2 + ["cam1/keys/1.key"] * 2
    assert all(k.method == "AES-128" and k.iv and len(k.iv) == 34 for k in keys)
    assert keys[0].iv != keys[2].iv
    key = requests.get(keys[2].absolute_uri, timeout=5).content
    assert len(key) == 16 and o.config.counters["keys"] == 1
    body = requests.get(pl.segments[2].absolute_uri, timeout=5).content
    dec = Cipher(algorithms.AES(key), modes.CBC(bytes.fromhex(keys[2].iv[2:]))).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    plain = unpad.update(dec.update(body) + dec.finalize()) + unpad.finalize()
    assert plain == sorted(o.config.samples.glob("*.ts"))[2].read_bytes()


def test_media_sequence_counts_existing_segments(make_origin: Callable[..., OriginServer]) -> None:
    # Slots 3 and 4 are a gap: segment 5 is the fourth that exists, number 3 in every playlist.
    o = make_origin(history=600, gaps=parse_gaps("6-9"))
    assert _load(_vod(o, 0, 14)).media_sequence in (0, None)
    assert _load(_vod(o, 10, 14)).media_sequence == 3


def test_byte_range_resources_and_range_requests(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, byte_ranges=3)
    pl = _load(_vod(o, 0, 12))
    assert [s.uri for s in pl.segments] == ["cam1/r0.ts"] * 3 + ["cam1/r1.ts"] * 3
    ranges = [s.byterange for s in pl.segments]
    assert ranges[0].endswith("@0") and "@" not in ranges[1] + ranges[2] and ranges[3].endswith("@0")
    whole = requests.get(pl.segments[0].absolute_uri, timeout=5)
    assert whole.status_code == 200 and whole.headers["Accept-Ranges"] == "bytes"
    n0, n1 = int(ranges[0].split("@")[0]), int(ranges[1])
    part = requests.get(pl.segments[1].absolute_uri, headers={"Range": f"bytes={n0}-{n0 + n1 - 1}"},
                        timeout=5)
    assert part.status_code == 206 and part.content == whole.content[n0:n0 + n1]
    assert part.headers["Content-Range"] == f"bytes {n0}-{n0 + n1 - 1}/{len(whole.content)}"
    assert part.content[0] == 0x47
    tail = requests.get(pl.segments[0].absolute_uri, headers={"Range": "bytes=-10"}, timeout=5)
    assert tail.status_code == 206 and tail.content == whole.content[-10:]
    size = len(whole.content)
    beyond = requests.get(pl.segments[0].absolute_uri, headers={"Range": f"bytes={size}-"},
                          timeout=5)
    assert beyond.status_code == 416 and beyond.headers["Content-Range"] == f"bytes */{size}"
    assert requests.get(f"{o.url}/live/cam1/r9999.ts", timeout=5).status_code == 404


def test_refusal_forms_and_option_checks(make_origin: Callable[..., OriginServer]) -> None:
    o = make_origin(history=600, encryption="sample-aes", fmp4_map=True)
    text = requests.get(_vod(o, 0, 4), timeout=5).text
    assert '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="cam1/keys/0.key"' in text
    assert '#EXT-X-MAP:URI="cam1/init.mp4"' in text and "#EXT-X-VERSION:6" in text
    with pytest.raises(UsageError, match="--encrypt"):
        make_origin(encryption="aes-256")
    with pytest.raises(UsageError, match="--byte-ranges"):
        make_origin(byte_ranges=-1)
