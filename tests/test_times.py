"""Parsing users' times and the lhs_* value codec (SPEC §1)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timeshift.errors import UsageError
from timeshift.times import (
    FORMATS,
    NS_PER_S,
    UNIT_NS,
    LhsParam,
    format_duration,
    format_iso,
    parse_duration,
    parse_time,
)

NOW = 1_763_700_000 * NS_PER_S


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2017-08-09T20:01:53+08:00", 1502280113 * NS_PER_S, id="iso-offset"),
        pytest.param("2017-08-09T12:01:53Z", 1502280113 * NS_PER_S, id="iso-z"),
        pytest.param("2017-08-09T12:01:53", 1502280113 * NS_PER_S, id="iso-naive-is-utc"),
        pytest.param("2017-08-09 12:01:53.25Z", 1502280113 * NS_PER_S + 250_000_000, id="iso-frac"),
        pytest.param("2017-08-09T12:01:53.123456789Z", 1502280113 * NS_PER_S + 123456789,
                     id="iso-ns"),
        pytest.param("2017-08-09T07:31:53-0430", 1502280113 * NS_PER_S, id="iso-negative-offset"),
        pytest.param("2017-08-09", 1502236800 * NS_PER_S, id="date-only"),
        pytest.param("1502280113", 1502280113 * NS_PER_S, id="unix"),
        pytest.param("1502280113.5", 1502280113 * NS_PER_S + NS_PER_S // 2, id="unix-frac"),
        pytest.param("now", NOW, id="now"),
        pytest.param("now-90m", NOW - 90 * 60 * NS_PER_S, id="now-90m"),
        pytest.param("now-2h30m", NOW - 9000 * NS_PER_S, id="now-2h30m"),
        pytest.param("NOW+5s", NOW + 5 * NS_PER_S, id="now+5s"),
    ],
)
def test_parse_time(text: str, expected: int) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2017-13-01T00:00:00Z", "2017-08-09T25:00Z",
                                  "now-", "now-5x", "12:00", "2017-08-09T12:01:53+8"])
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_time(text, now=NOW)


@pytest.mark.parametrize(("text", "seconds"), [("90m", 5400), ("2h30m", 9000), ("1d", 86400),
                                               ("45", 45), ("1.5s", 1.5), ("1500ms", 1.5)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == int(seconds * NS_PER_S)


@pytest.mark.parametrize("text", ["", "m", "5x", "1h-5m", "-5m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(5400 * NS_PER_S) == "1h30m"
    assert format_duration(NS_PER_S // 2) == "0.5s"


@given(st.integers(min_value=0, max_value=4_000_000_000 * NS_PER_S))
def test_iso_round_trip(ns: int) -> None:
    assert parse_time(format_iso(ns)) == ns
    assert parse_time(format_iso(ns, zone_hours=8)) == ns


@pytest.mark.parametrize(
    ("name", "value", "ns"),
    [
        pytest.param("lhs_start_unix_s_0", "1502280113", 1502280113 * NS_PER_S, id="seed-unix"),
        pytest.param("lhs_end_human_s_8", "20170809200010", 1502280010 * NS_PER_S,
                     id="seed-human"),
        pytest.param("lhs_offset_unix_ms_0", "1800000", 1800 * NS_PER_S, id="offset-30m"),
        pytest.param("lhs_start_human_ms_0", "20170809120153250",
                     1502280113 * NS_PER_S + 250_000_000, id="human-ms"),
    ],
)
def test_lhs_known_values(name: str, value: str, ns: int) -> None:
    p = LhsParam.from_name(name)
    assert p.name == name
    assert p.parse_value(value) == ns
    assert p.format_value(ns) == value


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        pytest.param(dict(type="start", zone=10), "--zone", id="zone-10"),
        pytest.param(dict(type="start", format="unix", zone=8), "--zone", id="unix-zone-8"),
        pytest.param(dict(type="start", unit="min"), "--unit", id="unknown-unit"),
        pytest.param(dict(type="start", format="iso"), "--time-format", id="unknown-format"),
        pytest.param(dict(type="offset", format="human", zone=8), None, id="offset-human"),
        pytest.param(dict(type="begin"), None, id="unknown-type"),
    ],
)
def test_lhs_param_rejects(kwargs: dict[str, object], flag: str | None) -> None:
    with pytest.raises(UsageError) as info:
        LhsParam(**kwargs)  # type: ignore[arg-type]
    assert info.value.option == flag


@pytest.mark.parametrize("name", ["lhs_start_unix_s_10", "lhs_start_unix_s_08", "lhs_start",
                                  "lhs_start_unix_min_0", "lhs_start_unix_s_8"])
def test_lhs_name_rejects(name: str) -> None:
    with pytest.raises(UsageError):
        LhsParam.from_name(name)


@pytest.mark.parametrize("value", ["2017080920001", "201708092000100", "2017080920001a",
                                   "20171309200010"])
def test_lhs_human_wrong_digits(value: str) -> None:
    with pytest.raises(UsageError, match="digits|valid"):
        LhsParam("end", "human", "s", 8).parse_value(value)


COMBOS = [
    (t, f, u, z)
    for t in ("start", "end", "vodend", "offset")
    for f in FORMATS
    for u in UNIT_NS
    for z in range(10)
    if not (f == "unix" and z != 0) and not (t == "offset" and f != "unix")
]


@given(st.sampled_from(COMBOS), st.integers(min_value=0, max_value=4_000_000_000 * NS_PER_S))
def test_every_combination_round_trips(combo: tuple[str, str, str, int], ns: int) -> None:
    t, f, u, z = combo
    p = LhsParam(t, f, u, z)  # type: ignore[arg-type]
    exact = ns - ns % UNIT_NS[u]  # a value at the chosen unit round-trips exactly
    assert LhsParam.from_name(p.name) == p
    assert p.parse_value(p.format_value(exact)) == exact
    assert p.parse_value(p.format_value(ns)) == exact  # finer digits are truncated, never rounded


def test_combination_count() -> None:
    # 3 instant types x (unix zone 0 + human zones 0-9) x 4 units + offset unix x 4 units
    assert len(COMBOS) == 3 * 11 * 4 + 4


# -- relative times into the future, and the short forms (issue 14) ------------------------

@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("now+5m", NOW + 300 * NS_PER_S, id="now+5m"),
        pytest.param("+5m", NOW + 300 * NS_PER_S, id="+5m"),
        pytest.param("-90m", NOW - 5400 * NS_PER_S, id="-90m"),
        pytest.param("+1h30m", NOW + 5400 * NS_PER_S, id="+1h30m"),
        pytest.param(" +30s ", NOW + 30 * NS_PER_S, id="spaces"),
        pytest.param("+1.5s", NOW + 1_500_000_000, id="fraction"),
        pytest.param("now + 5m", NOW + 300 * NS_PER_S, id="now-space-plus"),
    ],
)
def test_parse_relative_times(text: str, expected: int) -> None:
    assert parse_time(text, now=NOW) == expected


@pytest.mark.parametrize("text", ["+", "-", "+m", "++5m", "+ 5m", "+5x", "5m"])
def test_parse_relative_times_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_time(text, now=NOW)


_DURATIONS = st.lists(st.tuples(st.integers(1, 99), st.sampled_from(["d", "h", "m", "s", "ms"])),
                      min_size=1, max_size=4)


@settings(deadline=None)  # a busy shared machine must not fail a timing it does not test
@given(parts=_DURATIONS, sign=st.sampled_from(["+", "-"]), prefix=st.sampled_from(["", "now"]))
def test_relative_times_are_now_plus_or_minus_the_duration(
        parts: list[tuple[int, str]], sign: str, prefix: str) -> None:
    text = "".join(f"{n}{u}" for n, u in parts)
    delta = parse_duration(text)
    assert parse_time(f"{prefix}{sign}{text}", now=NOW) == NOW + (delta if sign == "+" else -delta)
