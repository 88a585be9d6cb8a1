"""A window of time, ``[start, end)`` in integer nanoseconds since the epoch. Pure.

Validated once, when it is made (httpx's ``URL`` is the model): every function that
receives a :class:`Window` may rely on ``end > start`` and on integer nanoseconds, and
the unit conversions the rest of the code needs (unix seconds as floats, whole seconds
around the window, the window in another unit) are written here once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import UsageError
from .times import NS_PER_S

__all__ = ["Window"]



@dataclass(frozen=True, order=True)
class Window:
    """``[start, end)`` in integer ns since the epoch, ``end`` after ``start``.

    Raises:
        UsageError: ``end`` not after ``start`` (``field="end"``), or a value that is not
            an integer number of nanoseconds (``field="start"``/``"end"``).
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise UsageError(f"expected integer nanoseconds, got {value!r}", field=name)
        if self.end <= self.start:
            raise UsageError("the end is not after the start; give an end later than the start",
                             field="end")

    @classmethod
    def from_seconds(cls, start: float, end: float) -> Window:
        """From unix seconds (floats or ints), rounded to the nanosecond."""
        return cls(round(start * NS_PER_S), round(end * NS_PER_S))

    @classmethod
    def from_unix(cls, start: int, end: int) -> Window:
        """From whole unix seconds."""
        return cls(start * NS_PER_S, end * NS_PER_S)

    @property
    def start_s(self) -> float:
        """The start in unix seconds."""
        return self.start / NS_PER_S

    @property
    def end_s(self) -> float:
        """The end in unix seconds."""
        return self.end / NS_PER_S

    @property
    def seconds(self) -> tuple[float, float]:
        """``(start, end)`` in unix seconds."""
        return self.start_s, self.end_s

    @property
    def duration_s(self) -> float:
        return (self.end - self.start) / NS_PER_S

    @property
    def unix(self) -> tuple[int, int]:
        """The whole unix seconds that hold the window: start rounded down, end up."""
        return self.start // NS_PER_S, -(-self.end // NS_PER_S)

    def whole_seconds(self) -> Window:
        """The window widened to whole seconds (a URL that carries whole seconds must ask
        for the seconds around a start or end inside one)."""
        return Window.from_unix(*self.unix)

    def widened(self, seconds: int) -> Window:
        """The whole seconds around the window, ``seconds`` more on each side."""
        lo, hi = self.unix
        return Window.from_unix(lo - seconds, hi + seconds)

    def copy_with(self, **changes: int) -> Window:
        return replace(self, **changes)
