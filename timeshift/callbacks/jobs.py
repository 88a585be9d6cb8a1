"""Archive jobs made from callbacks: their values and identity, and what a job runner is. Pure.

A job's identity is derived from what it archives, ``(kind, domain, app, stream, start,
end, uri)``, so the service's duplicate deliveries (it retries a callback 5 times) make one
job. Times are integer nanoseconds since the epoch, as everywhere in timeshift
(:mod:`timeshift.times`); callbacks carry seconds.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

from ..times import NS_PER_S
from .models import PublishNotify, RecordFileEvent
from .rules import ArchiveRule

__all__ = [
    "JobKind",
    "JobRunner",
    "JobSpec",
    "SessionResolver",
    "job_id",
    "record_file_job",
    "session_job",
    "session_start_from_ranges",
    "thread_runner",
]

JobKind = Literal["session", "record_file"]


def job_id(kind: str, domain: str, app: str, stream: str, start: int | None, end: int,
           uri: str | None = None) -> str:
    """A stable id for what a job archives: the same session or file gives the same id."""
    key = "\x1f".join([kind, domain.lower(), app, stream, "?" if start is None else str(start),
                       str(end), uri or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class JobSpec:
    """What one archive job does.

    Args:
        id: from :func:`job_id`.
        kind: ``session`` (archive a publishing session from the time-shift store) or
            ``record_file`` (verify and copy one recording file, ``uri``).
        domain: the play domain to fetch from (the archive rule's ``play_domain``, else the
            callback's domain); ``source_domain`` is the callback's own.
        start: ns; None when the session's start is still to be found (no ``publish`` was
            seen; the worker asks the timeline before running the job).
        end: ns.
        scheme: of the play domain.
        options: the archive rule's options (bucket, endpoint, prefix ...), as strings.
    """

    id: str
    kind: JobKind
    domain: str
    app: str
    stream: str
    start: int | None
    end: int
    source_domain: str = ""
    scheme: str = "https"
    uri: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)

    def with_start(self, start: int) -> JobSpec:
        """The same job with its session start found (the id stays: it names the callback)."""
        return JobSpec(self.id, self.kind, self.domain, self.app, self.stream, start, self.end,
                       self.source_domain, self.scheme, self.uri, dict(self.options))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["options"] = dict(self.options)
        return out


def session_job(notify: PublishNotify, start: int | None, end: int,
                rule: ArchiveRule, *, domain: str | None = None) -> JobSpec:
    """The job that archives a session that ended: ``[start, end)`` in unix seconds.

    ``domain`` is the host to fetch from (default: the rule's play domain, else the callback's).
    """
    start_ns = None if start is None else start * NS_PER_S
    return JobSpec(
        id=job_id("session", notify.domain, notify.app, notify.stream, start_ns, end * NS_PER_S),
        kind="session", domain=domain or rule.play_domain or notify.domain, app=notify.app,
        stream=notify.stream, start=start_ns, end=end * NS_PER_S, source_domain=notify.domain,
        scheme=rule.scheme, options=dict(rule.options))


def record_file_job(event: RecordFileEvent, rule: ArchiveRule, *,
                    domain: str | None = None) -> JobSpec:
    """The job that verifies and copies one recording file (``domain`` as for :func:`session_job`)."""
    start, end = event.start_time * NS_PER_S, event.stop_time * NS_PER_S
    return JobSpec(
        id=job_id("record_file", event.domain, event.app, event.stream, start, end, event.uri),
        kind="record_file", domain=domain or rule.play_domain or event.domain, app=event.app,
        stream=event.stream, start=start, end=end, source_domain=event.domain,
        scheme=rule.scheme, uri=event.uri, options=dict(rule.options))


def session_start_from_ranges(ranges: Iterable[tuple[int, int]], end: int,
                              tolerance: int = 30) -> int | None:
    """Where the session that stopped at ``end`` began, from the timeline's merged ranges.

    The session is the range whose end lies within ``tolerance`` seconds of ``end`` (the
    last segment closes a little before the publisher hangs up). Unix seconds; None if no
    range ends there.
    """
    best = None
    for a, b in ranges:
        if abs(b - end) <= tolerance and a < end and (best is None or b > best[1]):
            best = (a, b)
    return best[0] if best else None


class JobRunner(Protocol):
    """Runs one job; returns a JSON-ready result.

    A result with ``"status": "failed"`` (as the archiver's ``JobResult`` says) or an
    exception is a failed attempt, retried up to the worker's limit.
    """

    def __call__(self, job: JobSpec, /) -> Awaitable[Mapping[str, Any]]: ...


SessionResolver = Callable[[JobSpec], Awaitable[int | None]]
"""Finds a session's start (ns) for a job queued without one; None if it cannot."""


def thread_runner(fn: Callable[[JobSpec], Mapping[str, Any]]) -> JobRunner:
    """A runner from a blocking function (the archiver's ``archive_job``, oss2 calls).

    It runs in a thread so the receiver keeps answering callbacks within their 5 s.
    """

    async def run(job: JobSpec, /) -> Mapping[str, Any]:
        return await asyncio.to_thread(fn, job)

    return run
