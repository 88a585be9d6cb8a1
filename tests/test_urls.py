"""Time-shift URL builder and parser (SPEC §1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.errors import UsageError
from timeshift.times import NS_PER_S, UNIT_NS
from timeshift.urls import Mode, TimeshiftURL, parse_url, timeline_url

S = NS_PER_S


def test_vod_url_shape() -> None:
    u = TimeshiftURL.vod("live.example.com", "app", "cam1", 1502280113 * S, 1502280173 * S)
    assert str(u) == ("https://live.example.com/app/cam1.m3u8?lhs_start=1&aliyunols=on"
                      "&lhs_start_unix_s_0=1502280113&lhs_vodend_unix_s_0=1502280173")


def test_seed_request_example_parses() -> None:
    u = parse_url("http://xxx.com/live/channel1.m3u8?lhs_start=1"
                  "&lhs_start_human_s_8=20171024160220&lhs_end_human_s_8=20171024160420")
    assert (u.domain, u.app, u.stream, u.mode, u.marker) == (
        "xxx.com", "live", "channel1", Mode.LIVE, "lhs_start")
    assert u.start == 1508832140 * S and u.end == 1508832260 * S
    assert (u.time_format, u.zone) == ("human", 8)


@pytest.mark.parametrize(("marker", "query"), [("lhs_start", "lhs_start=1&lhs_"),
                                               ("aliyunols", "aliyunols=on&lhs_"),
                                               ("both", "lhs_start=1&aliyunols=on&lhs_")])
def test_markers(marker: str, query: str) -> None:
    u = TimeshiftURL.live("h", "a", "s", 1 * S, marker=marker)  # type: ignore[arg-type]
    assert f"?{query}" in str(u)
    assert parse_url(str(u)).marker == marker


def test_offset_mode() -> None:
    u = TimeshiftURL.behind_live("h:8080", "a", "s", 1800 * S, unit="ms", scheme="http")
    assert str(u) == "http://h:8080/a/s.m3u8?lhs_start=1&aliyunols=on&lhs_offset_unix_ms_0=1800000"
    assert parse_url(str(u)) == u


def test_names_are_percent_encoded() -> None:
    u = TimeshiftURL.live("h", "my app", "cam/1?", 1 * S)
    assert u.path == "/my%20app/cam%2F1%3F.m3u8"
    back = parse_url(str(u))
    assert (back.app, back.stream) == ("my app", "cam/1?")


def test_parse_keeps_signing_params_and_strips_signed_paths() -> None:
    base = "https://h/a/s.m3u8?lhs_start=1&lhs_start_unix_s_0=100"
    assert parse_url(base + "&auth_key=1-0-0-abc").extra == (("auth_key", "1-0-0-abc"),)
    b = parse_url("https://h/201508150800/9044548ef1527deadafa49a890a377f0/a/s.m3u8"
                  "?lhs_start=1&lhs_start_unix_s_0=100")
    c = parse_url("https://h/a37fa50a5fb8f71214b1e7c95ec7a1bd/55CE8100/a/s.m3u8"
                  "?lhs_start=1&lhs_start_unix_s_0=100")
    assert (b.app, b.stream) == (c.app, c.stream) == ("a", "s")


@pytest.mark.parametrize(
    ("build", "flag"),
    [
        pytest.param(lambda: TimeshiftURL.vod("h", "a", "s", 10 * S, 5 * S), "--vodend", id="end-before-start"),
        pytest.param(lambda: TimeshiftURL.live("h", "a", "s", 10 * S, 10 * S), "--end", id="empty-window"),
        pytest.param(lambda: TimeshiftURL.live("h", "a", "s", 10 * S, zone=10,
                                               time_format="human"), "--zone", id="zone-10"),
        pytest.param(lambda: TimeshiftURL.live("h", "a", "s", 10 * S, zone=8), "--zone",
                     id="unix-zone-8"),
        pytest.param(lambda: TimeshiftURL.live("h", "a", "s", 10 * S, unit="min"), "--unit",
                     id="unknown-unit"),
        pytest.param(lambda: TimeshiftURL.live("http://h", "a", "s", 10 * S), "--domain",
                     id="scheme-in-domain"),
        pytest.param(lambda: TimeshiftURL.live("h/x", "a", "s", 10 * S), "--domain", id="path-in-domain"),
        pytest.param(lambda: TimeshiftURL.live("h", "", "s", 10 * S), "--app", id="empty-app"),
        pytest.param(lambda: TimeshiftURL.behind_live("h", "a", "s", 0), "--offset", id="zero-offset"),
    ],
)
def test_builder_rejects(build, flag: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        build()
    assert info.value.option == flag


@pytest.mark.parametrize("url", ["ftp://h/a/s.m3u8?lhs_start=1", "https://h/s.m3u8?lhs_start_unix_s_0=1",
                                 "https://h/a/s.m3u8?lhs_start=1",
                                 "https://h/a/s.m3u8?lhs_start_unix_s_8=1",
                                 "https://h/a/s.m3u8?lhs_end_unix_s_0=1"])
def test_parser_rejects(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)


names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=12)
hosts = st.sampled_from(["play.example.com", "127.0.0.1:8080", "live-1.cdn.example.cn", "[::1]:9"])
instants = st.integers(min_value=0, max_value=4_000_000_000 * S)


@st.composite
def urls(draw: st.DrawFn) -> TimeshiftURL:
    fmt = draw(st.sampled_from(["unix", "human"]))
    unit = draw(st.sampled_from(list(UNIT_NS)))
    zone = 0 if fmt == "unix" else draw(st.integers(0, 9))
    common = dict(scheme=draw(st.sampled_from(["http", "https"])),
                  marker=draw(st.sampled_from(["lhs_start", "aliyunols", "both"])), unit=unit)
    domain, app, stream = draw(hosts), draw(names), draw(names)
    mode = draw(st.sampled_from(list(Mode)))
    if mode is Mode.OFFSET:
        return TimeshiftURL.behind_live(domain, app, stream,
                                        draw(st.integers(UNIT_NS[unit], 10**15)), **common)
    start = draw(instants)
    length = draw(st.integers(min_value=UNIT_NS[unit], max_value=10**14))
    common.update(time_format=fmt, zone=zone)
    if mode is Mode.VOD:
        return TimeshiftURL.vod(domain, app, stream, start, start + length, **common)
    end = draw(st.one_of(st.none(), st.just(start + length)))
    return TimeshiftURL.live(domain, app, stream, start, end, **common)


@given(urls())
def test_builder_parser_round_trip(u: TimeshiftURL) -> None:
    back = parse_url(str(u))
    assert back == u
    assert str(back) == str(u)


def test_timeline_url() -> None:
    assert timeline_url("h", "bbb", "cc", 1513334255, 1513334270, scheme="http") == (
        "http://h/openapi/timeline/query?app=bbb&stream=cc&format=ts&lhs_start=1&aliyunols=on"
        "&lhs_start_unix_s_0=1513334255&lhs_end_unix_s_0=1513334270")
    with pytest.raises(UsageError):
        timeline_url("h", "a", "s", 10, 10)
