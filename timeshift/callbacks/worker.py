"""The worker: takes queued jobs one at a time and runs them through an injected runner.

Each attempt has a time limit (``job_timeout``), so one stalled job (a segment that drips a
byte every few seconds) fails its attempt and is retried later instead of holding the
queue. A runner in a thread (:func:`~timeshift.callbacks.jobs.thread_runner`) cannot be
stopped from outside: its thread is left to finish or fail on its own deadlines, and the
queue moves on.

The receiver answers callbacks at once and leaves the work here, so a slow archive never
makes the service's 5 s timeout run out. A job queued without a session start (its
``publish`` was never seen) first asks the timeline where the session began.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from typing import Any

from ..errors import TimeshiftError
from ..retry import RetryPolicy
from ..timeline import query_timeline
from ..times import NS_PER_S
from .jobs import JobRunner, JobSpec, SessionResolver, session_start_from_ranges
from .queue import Job, JobQueue

__all__ = ["Worker", "timeline_resolver"]

log = logging.getLogger(__name__)


def timeline_resolver(*, lookback: int = 6 * 3600, tolerance: int = 30) -> SessionResolver:
    """Find a session's start from the play domain's timeline (``lookback`` seconds back)."""

    async def resolve(spec: JobSpec) -> int | None:
        end = spec.end // NS_PER_S
        tl = await asyncio.to_thread(query_timeline, spec.domain, spec.app, spec.stream,
                                     end - lookback, end + tolerance, scheme=spec.scheme)
        start = session_start_from_ranges(((r.start, r.end) for r in tl.ranges), end, tolerance)
        return None if start is None else start * NS_PER_S

    return resolve


class Worker:
    """Runs queued jobs, one at a time, until cancelled.

    Args:
        queue: the job queue (used from the event loop's thread only).
        runner: runs one job (:class:`~timeshift.callbacks.jobs.JobRunner`).
        resolver: finds a session's start for jobs queued without one.
        max_attempts: attempts before a job is ``failed`` for good.
        retry_delay: seconds before a failed attempt is tried again (doubling each time).
        poll: the longest sleep between looks at the queue when nothing wakes the worker.
        job_timeout: seconds one attempt may take (session lookup and run) before it is
            cancelled and counted as failed; None: no limit.
    """

    def __init__(self, queue: JobQueue, runner: JobRunner, *,
                 resolver: SessionResolver | None = None, max_attempts: int = 3,
                 retry_delay: float = 30.0, poll: float = 5.0,
                 clock: Callable[[], float] = time.time,
                 job_timeout: float | None = None) -> None:
        self.queue = queue
        self.runner = runner
        self.resolver = resolver
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.poll = poll
        self.clock = clock
        self.job_timeout = job_timeout
        self.current: str | None = None
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            if await self.run_once():
                continue
            due = self.queue.next_due()
            delay = self.poll if due is None else min(self.poll, max(0.0, due - self.clock()))
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def run_once(self) -> bool:
        """Run the next due job, if any; False when there was none."""
        job = self.queue.claim()
        if job is None:
            return False
        self.current = job.id
        spec = job.spec
        log.info("job %s: %s %s/%s/%s, attempt %d", job.id, spec.kind, spec.domain, spec.app,
                 spec.stream, job.attempts)
        try:
            result = await asyncio.wait_for(self._attempt(spec), timeout=self.job_timeout)
        except asyncio.TimeoutError:
            self._failed(job, f"timed out after {self.job_timeout:g} s")
            return True
        except asyncio.CancelledError:
            # The receiver is stopping: the job goes back uncounted, to run at the next start.
            self.queue.release(job.id)
            raise
        except TimeshiftError as exc:
            self._failed(job, f"{type(exc).__name__}: {exc}")
            return True
        except Exception as exc:  # noqa: BLE001 - a runner's bug fails its job, not every later one
            log.exception("job %s: the runner raised", job.id)
            self._failed(job, f"{type(exc).__name__}: {exc}")
            return True
        finally:
            self.current = None
        if result.get("status") == "failed":
            self._failed(job, str(result.get("error") or "the runner reported failure"), result)
        else:
            self.queue.finish(job.id, result)
            log.info("job %s: done", job.id)
        return True

    async def _attempt(self, spec: JobSpec) -> dict[str, Any]:
        if spec.start is None:
            spec = await self._resolve(spec)
        return dict(await self.runner(spec))

    async def _resolve(self, spec: JobSpec) -> JobSpec:
        if self.resolver is None:
            raise TimeshiftError("the session's start is unknown (no publish was seen) "
                                 "and no timeline resolver is configured")
        start = await self.resolver(spec)
        if start is None:
            raise TimeshiftError("the timeline shows no session ending at the publish_done time")
        self.queue.set_start(spec.id, start)
        return spec.with_start(start)

    def _failed(self, job: Job, error: str, result: dict[str, Any] | None = None) -> None:
        if job.attempts < self.max_attempts:
            # Doubling, unjittered and uncapped: a schedule people read in the queue.
            delay = RetryPolicy(backoff=self.retry_delay, max_backoff=math.inf,
                                jitter=0.0).delay(job.attempts - 1)
            log.warning("job %s: attempt %d failed (%s); again in %.0f s", job.id, job.attempts,
                        error, delay)
            self.queue.fail(job.id, error, retry_at=self.clock() + delay, result=result)
        else:
            log.error("job %s: failed for good after %d attempts: %s", job.id, job.attempts,
                      error)
            self.queue.fail(job.id, error, result=result)
