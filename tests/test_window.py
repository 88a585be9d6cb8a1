"""The validated window: checked once when made, the unit conversions written once."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from timeshift.errors import UsageError
from timeshift.times import NS_PER_S
from timeshift.window import Window

NS = st.integers(min_value=0, max_value=4_000_000_000 * NS_PER_S)


@pytest.mark.parametrize(("start", "end"), [
    pytest.param(10, 10, id="empty"),
    pytest.param(10, 5, id="backwards"),
    pytest.param(1.5, 10, id="float-start"),
    pytest.param(1, True, id="bool-end"),
])
def test_refused_when_made(start: object, end: object) -> None:
    with pytest.raises(UsageError) as info:
        Window(start, end)  # type: ignore[arg-type]
    assert info.value.field in ("start", "end") and info.value.exit_code == 2


def test_end_not_after_start_names_the_field() -> None:
    with pytest.raises(UsageError) as info:
        Window(2 * NS_PER_S, NS_PER_S)
    assert info.value.field == "end" and info.value.option == "--end"
    assert str(info.value).startswith("end: the end is not after the start")


def test_conversions() -> None:
    w = Window(1_763_700_000 * NS_PER_S + 250_000_000, 1_763_700_010 * NS_PER_S + 1)
    assert w.seconds == (1_763_700_000.25, 1_763_700_010.000000001)
    assert w.unix == (1_763_700_000, 1_763_700_011)
    assert w.whole_seconds() == Window.from_unix(1_763_700_000, 1_763_700_011)
    assert w.widened(30).unix == (1_763_699_970, 1_763_700_041)
    assert Window.from_seconds(1.25, 2.5) == Window(1_250_000_000, 2_500_000_000)


@given(NS, st.integers(min_value=1, max_value=10**15))
def test_whole_seconds_hold_the_window(start: int, length: int) -> None:
    w = Window(start, start + length)
    whole = w.whole_seconds()
    assert whole.start <= w.start < w.end <= whole.end
    assert whole.start % NS_PER_S == 0 and whole.end % NS_PER_S == 0
    assert whole.start > w.start - NS_PER_S and whole.end < w.end + NS_PER_S
    assert Window.from_unix(*w.unix) == whole
