"""The one retry policy: which failures are retried, how long to wait, and when to give up.

Every transport (the segment fetcher, the synchronous HTTP adapter behind the timeline,
the OpenAPI client, the OSS store) retries through a :class:`RetryPolicy`; the backoff
arithmetic lives here and nowhere else. Pure: the transports do the sleeping.

- **Backoff**: ``backoff * 2**attempt`` capped at ``max_backoff``, times a jitter factor
  drawn from ``[0.5, 1.5)`` so that many clients retrying together spread out.
- **Retry-After** (or OSS's ``x-oss-qos-delay-time``): honoured, but never beyond
  ``retry_after_cap``; a server answering ``Retry-After: 86400`` does not park a job for a day.
- **Deadline**: one remote operation (a playlist, a segment, a timeline query, an API call,
  an OSS request with its retries) never runs past ``deadline`` seconds from its first try;
  a wait that would cross it is not taken, and the last error is reported instead.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

__all__ = ["RETRY_STATUSES", "Attempts", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if parsed is None:
            return None
        try:
            seconds = parsed.timestamp() - (time.time() if now is None else now)
        except (OverflowError, ValueError):
            return None
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one remote operation is tried.

    Args:
        retries: retries after the first try (so ``retries + 1`` tries at most).
        backoff: base seconds of the exponential backoff.
        max_backoff: the longest computed wait between two tries.
        retry_after_cap: the longest wait a server may ask for (Retry-After and the like).
        deadline: seconds from the first try after which no new try starts (None: no limit).
        statuses: HTTP statuses that are retried (others are answers, not hiccups).
        jitter: the computed wait is multiplied by a factor drawn from
            ``[1 - jitter, 1 + jitter)`` (0: exact doubling, for schedules people read).
    """

    retries: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    retry_after_cap: float = 30.0
    deadline: float | None = 300.0
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError(f"deadline must be positive, got {self.deadline}")
        if not 0 <= self.jitter < 1:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")

    def copy_with(self, **changes: object) -> RetryPolicy:
        return replace(self, **changes)  # type: ignore[arg-type]

    def retry_status(self, status: int) -> bool:
        """Whether an HTTP status is worth another try."""
        return status in self.statuses

    def delay(self, attempt: int, retry_after: float | None = None,
              rand: Callable[[float, float], float] = random.uniform) -> float:
        """Seconds to wait before retry number ``attempt`` (0 for the first retry).

        The server's hint wins when it gives one, capped at ``retry_after_cap``.
        """
        if retry_after is not None:
            return min(max(0.0, retry_after), self.retry_after_cap)
        # 2**attempt overflows a float past ~1000 tries; the cap is reached long before.
        base = self.backoff * 2 ** min(attempt, 62)
        factor = rand(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return float(min(self.max_backoff, base) * factor)

    def begin(self, clock: Callable[[], float] = time.monotonic) -> Attempts:
        """Start one operation's run through the policy."""
        return Attempts(self, clock)


class Attempts:
    """One operation's tries: counts them, keeps the deadline, says how long to wait.

    Usage (the sleeping is the caller's, sync or async)::

        run = policy.begin()
        while True:
            try:
                return do_one_try(timeout=run.timeout(30))
            except Hiccup as exc:
                wait = run.next_delay(exc.retry_after)
                if wait is None:
                    raise GiveUp(...) from exc
                time.sleep(wait)
    """

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self.started = clock()
        self.attempt = 0  # retries taken so far
        self.expired = False  # the last give-up was the deadline's, not the count's

    def __repr__(self) -> str:
        return f"<Attempts {self.attempt}/{self.policy.retries} of {self.policy!r}>"

    @property
    def tries(self) -> int:
        """Tries made so far, counting the one in progress."""
        return self.attempt + 1

    def remaining(self) -> float | None:
        """Seconds left before the deadline (None: no deadline)."""
        if self.policy.deadline is None:
            return None
        return max(0.0, self.started + self.policy.deadline - self.clock())

    def timeout(self, per_try: float) -> float:
        """A per-try timeout that does not run past the deadline (at least a little time)."""
        left = self.remaining()
        return per_try if left is None else max(0.05, min(per_try, left))

    def next_delay(self, retry_after: float | None = None) -> float | None:
        """The wait before the next try, or None to give up (tries used up, or the wait
        would cross the deadline). Counts the retry when it returns a wait."""
        if self.attempt >= self.policy.retries:
            return None
        wait = self.policy.delay(self.attempt, retry_after)
        left = self.remaining()
        if left is not None and wait >= left:
            self.expired = True
            return None
        self.attempt += 1
        return wait

    def why_stopped(self) -> str:
        """Words for the error message: tries made, and whether the deadline ended them."""
        tries = f"{self.tries} tr{'y' if self.tries == 1 else 'ies'}"
        if self.expired and self.policy.deadline is not None:
            return f"{tries}, deadline of {self.policy.deadline:g} s"
        return tries
