"""Playlists as hostile input (issue 11, items 6 and 11): documented limits refused before
parsing, key rotation without the quadratic path, and numbers out of range as clean errors."""

from __future__ import annotations

import time

import pytest

from timeshift.errors import RemoteError, UsageError
from timeshift.playlist import MAX_PLAYLIST_BYTES, PlaylistLimits, parse_playlist
from timeshift.urls import parse_url

URI = "http://play.example.com/live/cam1.m3u8"


def _playlist(n: int, *, key_every: int = 0, sequence: int = 0, pdt: str | None = None,
              explicit_iv: bool = False) -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:2", f"#EXT-X-MEDIA-SEQUENCE:{sequence}"]
    if pdt:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{pdt}")
    for i in range(n):
        if key_every and i % key_every == 0:
            iv = f",IV=0x{i:032x}" if explicit_iv else ""
            lines.append(f'#EXT-X-KEY:METHOD=AES-128,URI="keys/{i}.key"{iv}')
        lines += ["#EXTINF:2.000,", f"{i}.ts"]
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def test_one_key_per_segment_parses_in_about_a_second() -> None:
    # Measured against the same playlist without keys, so a busy machine does not fail it:
    # m3u8's quadratic key lookup made the keyed one 30 times slower (32 s against ~1 s).
    plain = _playlist(20_000)
    began = time.monotonic()
    parse_playlist(plain, URI)
    baseline = time.monotonic() - began
    text = _playlist(20_000, key_every=1)
    began = time.monotonic()
    segs = parse_playlist(text, URI).segments
    elapsed = time.monotonic() - began
    assert len(segs) == 20_000 and elapsed < 2 * baseline + 1, (elapsed, baseline)
    assert segs[0].key is not None and segs[0].key.uri == "http://play.example.com/live/keys/0.key"
    assert segs[19_999].key is not None and segs[19_999].key.uri.endswith("/keys/19999.key")
    assert segs[7].iv == (7).to_bytes(16, "big")


def test_key_rotation_matches_the_m3u8_reading() -> None:
    # The fast path must give every segment the key m3u8 itself would give it.
    import m3u8
    text = _playlist(40, key_every=3, explicit_iv=True).replace(
        "#EXTINF:2.000,\n9.ts", "#EXT-X-KEY:METHOD=NONE\n#EXTINF:2.000,\n9.ts")
    ours = parse_playlist(text, URI).segments
    theirs = m3u8.loads(text, uri=URI).segments
    assert [s.key.uri if s.key else None for s in ours] == [
        s.key.absolute_uri if s.key and s.key.method != "NONE" else None for s in theirs]
    assert [s.key.iv if s.key else None for s in ours] == [
        bytes.fromhex(s.key.iv[2:].rjust(32, "0")) if s.key and s.key.iv else None
        for s in theirs]


@pytest.mark.parametrize(
    ("limits", "text", "words"),
    [
        pytest.param(PlaylistLimits(max_segments=1000), _playlist(1001), "1000 segments",
                     id="entries"),
        pytest.param(PlaylistLimits(max_keys=10), _playlist(20, key_every=1), "10 keys",
                     id="keys"),
        pytest.param(PlaylistLimits(max_bytes=10_000), _playlist(1000), "bytes", id="bytes"),
    ],
)
def test_playlists_over_the_limits_are_refused_before_parsing(limits: PlaylistLimits,
                                                              text: str, words: str) -> None:
    with pytest.raises(RemoteError, match=words):
        parse_playlist(text, URI, limits=limits)


def test_default_limits_are_documented_and_sane() -> None:
    d = PlaylistLimits()
    assert d.max_bytes == MAX_PLAYLIST_BYTES
    assert 43_200 <= d.max_segments <= 500_000  # a day of 2 s segments fits
    assert d.max_keys == d.max_segments  # one key per segment is legitimate rotation


def test_a_million_entries_are_refused_fast() -> None:
    text = "#EXTM3U\n" + "#EXTINF:2,\na.ts\n" * 1_000_000
    began = time.monotonic()
    with pytest.raises(RemoteError, match="segments"):
        parse_playlist(text, URI)
    assert time.monotonic() - began < 2


@pytest.mark.parametrize("sequence", [-5, 2**128, 2**130])
def test_aes_iv_from_an_impossible_media_sequence_is_a_clean_error(sequence: int) -> None:
    with pytest.raises(RemoteError, match="MEDIA-SEQUENCE|sequence"):
        parse_playlist(_playlist(3, key_every=3, sequence=sequence), URI)


def test_negative_media_sequence_without_aes_still_parses() -> None:
    assert [s.sequence for s in parse_playlist(_playlist(2, sequence=-5), URI).segments] == [-5, -4]


def test_pdt_in_year_9999_is_a_clean_error() -> None:
    with pytest.raises(RemoteError, match="PROGRAM-DATE-TIME|date"):
        parse_playlist(_playlist(3, pdt="9999-12-31T23:59:59.000Z"), URI)


@pytest.mark.parametrize("url", ["http://[::1", "http://[::1/x.m3u8", "http://h:99999/a.m3u8"])
def test_unparseable_urls_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)
