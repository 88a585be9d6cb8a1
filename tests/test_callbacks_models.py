"""Callback payloads (SPEC §5), rules, job identity and the source checks: pure, no servers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.callbacks.jobs import job_id, session_job, session_start_from_ranges
from timeshift.callbacks.models import (
    OnDemandQuery,
    PublishNotify,
    RecordFileEvent,
    RecordStatusEvent,
    parse_on_demand,
    parse_publish,
    parse_record_event,
)
from timeshift.callbacks.rules import MAX_ANSWER_BYTES, parse_rules
from timeshift.callbacks.security import (
    RateLimiter,
    parse_networks,
    secret_matches,
    source_allowed,
)
from timeshift.errors import PayloadError, UsageError

# seed 7.4's example, plus the time and usrargs its table lists
PUBLISH = {"action": "publish", "app": "xc.cdnpe.com", "appname": "hello", "id": "world",
           "ip": "42.120.74.183", "node": "cdnvideocenter010207116011.cm3",
           "time": "1502280113", "usrargs": "vhost=xc.cdnpe.com&token=abc"}
# seed 11.14's file event
FILE_EVENT = {"domain": "qt01.alivecdn.com", "app": "mp4flvtest_flv", "stream": "callback_test",
              "uri": "mp4flvtest_flv/callback_test/0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv",
              "duration": 69.403, "start_time": 1488985786, "stop_time": 1488985840}


def test_publish_from_the_seed_example() -> None:
    note = parse_publish(PUBLISH)
    assert note == PublishNotify("publish", "xc.cdnpe.com", "hello", "world", 1502280113,
                                 "42.120.74.183", "cdnvideocenter010207116011.cm3",
                                 "vhost=xc.cdnpe.com&token=abc")
    assert parse_publish(note.to_query()) == note  # round trip through the wire form


def test_publish_without_time_or_usrargs_as_the_seed_example_sends_it() -> None:
    q = {k: v for k, v in PUBLISH.items() if k not in ("time", "usrargs")}
    note = parse_publish({**q, "action": "publish_done"})
    assert (note.action, note.time, note.usrargs) == ("publish_done", None, "")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param({"action": "unpublish"}, "action", id="unknown-action"),
        pytest.param({"action": None}, "action", id="no-action"),
        pytest.param({"app": None}, "app", id="no-domain"),
        pytest.param({"app": "bad domain!"}, "app", id="bad-domain"),
        pytest.param({"appname": ""}, "appname", id="empty-app"),
        pytest.param({"id": None}, "id", id="no-stream"),
        pytest.param({"id": "../etc"}, "id", id="stream-climbs"),
        pytest.param({"id": "a/b"}, "id", id="stream-slash"),
        pytest.param({"id": "x" * 300}, "id", id="stream-too-long"),
        pytest.param({"id": "cam\n1"}, "id", id="control-char"),
        pytest.param({"time": "yesterday"}, "time", id="time-text"),
        pytest.param({"time": "-5"}, "time", id="time-negative"),
        pytest.param({"time": "1502280113000"}, "time", id="time-in-ms"),
        pytest.param({"time": "1502280113.5"}, "time", id="time-fraction"),
    ],
)
def test_publish_rejects(change: dict[str, Any], field: str) -> None:
    q = {k: v for k, v in {**PUBLISH, **change}.items() if v is not None}
    with pytest.raises(PayloadError) as info:
        parse_publish(q)
    assert info.value.field == field and field in str(info.value)


def test_record_file_event_from_the_seed() -> None:
    ev = parse_record_event(json.dumps(FILE_EVENT).encode())
    assert ev == RecordFileEvent(**FILE_EVENT)  # type: ignore[arg-type]


@pytest.mark.parametrize("event", ["record_started", "record_paused", "record_resumed"])
def test_record_status_events(event: str) -> None:
    body = json.dumps({"domain": "gs_domain", "app": "gs_app", "stream": "gs_stream",
                       "event": event})
    assert parse_record_event(body) == RecordStatusEvent("gs_domain", "gs_app", "gs_stream", event)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(b"", "body", id="empty"),
        pytest.param(b"{not json", "body", id="not-json"),
        pytest.param(b"\xff\xfe", "body", id="not-utf8"),
        pytest.param(b"[1, 2]", "body", id="array"),
        pytest.param({**FILE_EVENT, "domain": None}, "domain", id="no-domain"),
        pytest.param({**FILE_EVENT, "stream": 5}, "stream", id="stream-number"),
        pytest.param({**FILE_EVENT, "uri": "/etc/passwd"}, "uri", id="uri-absolute"),
        pytest.param({**FILE_EVENT, "uri": "a/../../b.flv"}, "uri", id="uri-climbs"),
        pytest.param({**FILE_EVENT, "duration": "69"}, "duration", id="duration-text"),
        pytest.param({**FILE_EVENT, "duration": -1}, "duration", id="duration-negative"),
        pytest.param({**FILE_EVENT, "duration": True}, "duration", id="duration-bool"),
        pytest.param({**FILE_EVENT, "start_time": None}, "start_time", id="no-start"),
        pytest.param({**FILE_EVENT, "stop_time": 1488985700}, "stop_time", id="stop-before-start"),
        pytest.param({"domain": "d", "app": "a", "stream": "s", "event": "record_exploded"},
                     "event", id="unknown-event"),
    ],
)
def test_record_event_rejects(body: Any, field: str) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(
        {k: v for k, v in body.items() if v is not None}).encode()
    with pytest.raises(PayloadError) as info:
        parse_record_event(raw)
    assert info.value.field == field


def test_on_demand_from_the_seed_example() -> None:
    # seed 11.13: GET /?app=seq_all&domain=qt01.alivecdn.com&stream=ondemand8&vbitrate= 2000&codec=h264
    q = parse_on_demand({"app": "seq_all", "domain": "qt01.alivecdn.com", "stream": "ondemand8",
                         "vbitrate": " 2000", "codec": "H264"})
    assert q == OnDemandQuery("qt01.alivecdn.com", "seq_all", "ondemand8", "h264", 2000)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        pytest.param({"app": "a", "stream": "s"}, "domain", id="no-domain"),
        pytest.param({"domain": "d.com", "stream": "s"}, "app", id="no-app"),
        pytest.param({"domain": "d.com", "app": "a"}, "stream", id="no-stream"),
        pytest.param({"domain": "d.com", "app": "a", "stream": "s", "vbitrate": "2M"},
                     "vbitrate", id="bitrate-text"),
        pytest.param({"domain": "d.com", "app": "a", "stream": "s", "vbitrate": "9" * 12},
                     "vbitrate", id="bitrate-huge"),
    ],
)
def test_on_demand_rejects(query: dict[str, str], field: str) -> None:
    with pytest.raises(PayloadError) as info:
        parse_on_demand(query)
    assert info.value.field == field


_names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_characters="/\x7f"),
                 min_size=1, max_size=40).filter(lambda s: s not in (".", ".."))


@given(action=st.sampled_from(["publish", "publish_done"]), app=_names, stream=_names,
       t=st.one_of(st.none(), st.integers(1, 2**32 - 1)), usrargs=st.text(max_size=50).filter(
           lambda s: not any(ord(c) < 32 or ord(c) == 127 for c in s)))
def test_publish_round_trips(action: str, app: str, stream: str, t: int | None,
                             usrargs: str) -> None:
    note = PublishNotify(action, "play.example.com", app, stream, t, "10.0.0.1", "n1",  # type: ignore[arg-type]
                         usrargs)
    assert parse_publish(note.to_query()) == note


@given(st.dictionaries(st.sampled_from(sorted(PUBLISH) + ["extra"]),
                       st.text(max_size=30), max_size=9))
def test_publish_parser_raises_only_payload_errors(query: dict[str, str]) -> None:
    try:
        parse_publish(query)
    except PayloadError:
        pass


@given(st.one_of(st.binary(max_size=200), st.dictionaries(
    st.sampled_from(sorted(FILE_EVENT) + ["event"]),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    max_size=8).map(lambda d: json.dumps(d).encode())))
def test_record_parser_raises_only_payload_errors(body: bytes) -> None:
    try:
        parse_record_event(body)
    except PayloadError:
        pass


# -- rules

RULES = {
    "record": [
        {"app": "live", "stream": "vip-*", "codec": ["h264", "H265"], "min_vbitrate": 1000,
         "need_record": True, "format": ["m3u8", "MP4"], "interval": {"m3u8": 3600, "mp4": 1800}},
        {"domain": "*.example.com", "stream": "test-*", "need_record": False},
        {"stream": "low-*", "max_vbitrate": 500, "need_record": True, "format": ["flv"]},
    ],
    "default_record": True,
    "archive": [
        {"app": "live", "stream": "vip-*", "on": ["publish_done", "record_file"],
         "play_domain": "play.example.com", "options": {"bucket": "b"}},
        {"app": "scratch"},
        {"app": "live", "on": ["record_file"]},
    ],
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(OnDemandQuery("push.example.com", "live", "vip-1", "h264", 2000),
                     {"ApiVersion": "1.0", "NeedRecord": True,
                      "Interval": {"M3U8": 3600, "Mp4": 1800}, "Format": ["m3u8", "mp4"]},
                     id="vip-h264-2M"),
        pytest.param(OnDemandQuery("push.example.com", "live", "vip-1", "h265", 1000),
                     {"ApiVersion": "1.0", "NeedRecord": True,
                      "Interval": {"M3U8": 3600, "Mp4": 1800}, "Format": ["m3u8", "mp4"]},
                     id="vip-h265-at-minimum"),
        pytest.param(OnDemandQuery("push.example.com", "live", "vip-1", "h264", 999),
                     {"ApiVersion": "1.0", "NeedRecord": True}, id="vip-too-low-falls-to-default"),
        pytest.param(OnDemandQuery("push.example.com", "live", "vip-1", "vp9", 2000),
                     {"ApiVersion": "1.0", "NeedRecord": True}, id="vip-other-codec-default"),
        pytest.param(OnDemandQuery("push.example.com", "live", "vip-1", "h264", None),
                     {"ApiVersion": "1.0", "NeedRecord": True}, id="no-bitrate-no-match"),
        pytest.param(OnDemandQuery("PUSH.EXAMPLE.COM", "live", "test-3", "h264", 2000),
                     {"ApiVersion": "1.0", "NeedRecord": False}, id="test-streams-never"),
        pytest.param(OnDemandQuery("other.net", "live", "test-3", "h264", 2000),
                     {"ApiVersion": "1.0", "NeedRecord": True}, id="other-domain-default"),
        pytest.param(OnDemandQuery("a.net", "x", "low-1", "h264", 400),
                     {"ApiVersion": "1.0", "NeedRecord": True, "Format": ["flv"]},
                     id="low-bitrate-flv"),
    ],
)
def test_on_demand_answers_follow_the_rules(query: OnDemandQuery,
                                            expected: dict[str, Any]) -> None:
    body = parse_rules(json.dumps(RULES)).decide(query).body()
    assert json.loads(body) == expected
    assert len(body) < MAX_ANSWER_BYTES


def test_largest_possible_answer_is_under_2048_bytes() -> None:
    rule = {"need_record": True, "format": ["mp4", "flv", "m3u8"],
            "interval": {"mp4": 21600, "flv": 21600, "m3u8": 21600}}
    rules = parse_rules(json.dumps({"record": [rule]}))
    body = rules.decide(OnDemandQuery("d.com", "a", "s")).body()
    assert len(body) < MAX_ANSWER_BYTES
    assert json.loads(body)["Interval"] == {"Mp4": 21600, "Flv": 21600, "M3U8": 21600}


def test_archive_rules_first_match_wins() -> None:
    rules = parse_rules(json.dumps(RULES))
    vip = rules.archive_rule("push.example.com", "live", "vip-1", "publish_done")
    assert vip is not None and vip.play_domain == "play.example.com" and vip.options == {"bucket": "b"}
    assert rules.archive_rule("d", "scratch", "x", "publish_done") is not None
    assert rules.archive_rule("d", "scratch", "x", "record_file") is None
    assert rules.archive_rule("d", "live", "cam1", "publish_done") is None
    assert rules.archive_rule("d", "live", "cam1", "record_file") is not None
    assert rules.archive_rule("d", "other", "cam1", "publish_done") is None


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        pytest.param("{", "not JSON", id="not-json"),
        pytest.param({"recrod": []}, "unknown key", id="typo-top"),
        pytest.param({"record": [{"need_record": True, "strem": "x"}]}, "record[0]", id="typo-rule"),
        pytest.param({"record": [{"stream": "x"}]}, "need_record", id="no-need-record"),
        pytest.param({"record": [{"need_record": True, "interval": {"mp4": 4}}]}, "5 to 21600",
                     id="interval-too-short"),
        pytest.param({"record": [{"need_record": True, "interval": {"mp4": 21601}}]},
                     "5 to 21600", id="interval-too-long"),
        pytest.param({"record": [{"need_record": True, "format": ["avi"]}]}, "avi", id="format"),
        pytest.param({"record": [{"need_record": False, "format": ["mp4"]}]}, "need_record: true",
                     id="format-without-record"),
        pytest.param({"record": [{"need_record": True, "min_vbitrate": 9, "max_vbitrate": 1}]},
                     "min_vbitrate", id="bitrate-range"),
        pytest.param({"archive": [{"on": ["publish"]}]}, "on must", id="archive-event"),
        pytest.param({"archive": [{"options": {"n": 1}}]}, "options", id="archive-options"),
        pytest.param({"archive": [{"scheme": "ftp"}]}, "scheme", id="archive-scheme"),
    ],
)
def test_rules_file_mistakes_name_the_rule(rules: Any, words: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_rules(rules if isinstance(rules, str) else json.dumps(rules))
    assert info.value.option == "--rules" and words in str(info.value)


# -- jobs


def test_job_identity_collapses_duplicates_and_separates_sessions() -> None:
    rules = parse_rules(json.dumps(RULES))
    rule = rules.archive_rule("push.example.com", "live", "vip-1", "publish_done")
    assert rule is not None
    note = PublishNotify("publish_done", "push.example.com", "live", "vip-1", 200)
    a = session_job(note, 100, 200, rule)
    assert a == session_job(note, 100, 200, rule)
    assert a.id != session_job(note, 100, 201, rule).id
    assert a.id != session_job(note, None, 200, rule).id
    assert (a.domain, a.source_domain, a.start, a.end) == ("play.example.com", "push.example.com",
                                                           100 * 10**9, 200 * 10**9)
    assert job_id("record_file", "d", "a", "s", 1, 2, "x.flv") != job_id(
        "record_file", "d", "a", "s", 1, 2, "y.flv")


@pytest.mark.parametrize(
    ("ranges", "end", "expected"),
    [
        pytest.param([(0, 50), (100, 198)], 200, 100, id="last-segment-before-hangup"),
        pytest.param([(0, 50), (100, 260)], 200, None, id="no-range-ends-there"),
        pytest.param([], 200, None, id="nothing"),
        pytest.param([(150, 200), (100, 140)], 200, 150, id="unsorted"),
    ],
)
def test_session_start_from_timeline(ranges: list[tuple[int, int]], end: int,
                                     expected: int | None) -> None:
    assert session_start_from_ranges(ranges, end) == expected


# -- source checks


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        pytest.param("10.1.2.3", True, id="in-block"),
        pytest.param("::ffff:10.1.2.3", True, id="v4-mapped"),
        pytest.param("11.0.0.1", False, id="outside"),
        pytest.param("2001:db8::1", True, id="v6-in-block"),
        pytest.param("2001:db9::1", False, id="v6-outside"),
        pytest.param("", False, id="unknown-peer"),
        pytest.param("not-an-ip", False, id="garbage"),
    ],
)
def test_allow_list(address: str, allowed: bool) -> None:
    nets = parse_networks(["10.0.0.0/8", "2001:db8::/32"])
    assert source_allowed(address, nets) is allowed
    assert source_allowed(address, ()) is True


def test_allow_list_rejects_bad_cidr() -> None:
    with pytest.raises(UsageError) as info:
        parse_networks(["10.0.0.0/33"])
    assert info.value.option == "--allow"


def test_secret_comparison() -> None:
    assert secret_matches(None, None) and secret_matches("x", "")
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches(None, "s3cret") and not secret_matches("s3cre", "s3cret")


def test_rate_limiter_refills_and_forgets_old_sources() -> None:
    now = [0.0]
    lim = RateLimiter(2.0, 3, max_sources=2, clock=lambda: now[0])
    assert [lim.allow("a") for _ in range(4)] == [True, True, True, False]
    assert lim.retry_after("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert lim.allow("a") and not lim.allow("a")
    assert lim.allow("b") and lim.allow("c")  # a is forgotten: only two sources are kept
    assert len(lim._buckets) == 2 and "a" not in lim._buckets


def test_the_readme_rules_example_loads() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = readme.split("Rules file (JSON", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    rules = parse_rules(example)
    assert rules.decide(OnDemandQuery("d.com", "live", "vip-1", "h265", 1000)).need_record
    assert rules.archive_rule("d.com", "live", "cam1", "record_file") is not None
