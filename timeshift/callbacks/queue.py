"""The durable local job queue (SQLite): archive jobs and the publishing sessions they come from.

Jobs move ``queued → running → done | failed``; a failed attempt goes back to ``queued``
(with ``not_before``) until ``max_attempts``. The job id is the primary key, so a
duplicate delivery of a callback (``INSERT OR IGNORE``) makes no second job: it only counts
a delivery. A job a crash left ``running`` goes back to ``queued`` when the queue is opened
by a receiver again (:meth:`JobQueue.recover`).

Sessions remember each stream's ``publish`` so that its ``publish_done``, even after a
restart of the receiver, knows when the session began. A ``publish_done`` that follows a
closed session within ``dedupe`` seconds (and no ``publish`` came between) is a retry of
the one that closed it, so it resolves to the same session and the same job, also when a
retry carries no ``time`` and the receipt time stands in for it.

One connection per :class:`JobQueue`, used from one thread (the receiver's event loop);
other processes (``timeshift callbacks jobs``) may read at the same time (WAL).
"""

from __future__ import annotations

import fcntl
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

from ..errors import UsageError
from ..redact import redact
from .jobs import JobSpec

__all__ = ["JOB_STATES", "Job", "JobQueue", "JobState", "SessionClose"]

JobState = Literal["queued", "running", "done", "failed"]
JOB_STATES: tuple[JobState, ...] = ("queued", "running", "done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    domain TEXT NOT NULL,
    app TEXT NOT NULL,
    stream TEXT NOT NULL,
    start INTEGER,
    "end" INTEGER NOT NULL,
    source_domain TEXT NOT NULL,
    scheme TEXT NOT NULL,
    uri TEXT,
    options TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 1,
    last_error TEXT,
    result TEXT,
    not_before REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, not_before, created);
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY,
    domain TEXT NOT NULL,
    app TEXT NOT NULL,
    stream TEXT NOT NULL,
    start INTEGER,
    "end" INTEGER,
    state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'lost')),
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_stream ON sessions (domain, app, stream, id);
"""


@dataclass(frozen=True)
class Job:
    """A queued job with its state: the spec plus bookkeeping."""

    spec: JobSpec
    state: JobState
    attempts: int
    deliveries: int
    last_error: str | None
    result: dict[str, Any] | None
    created: float
    updated: float

    @property
    def id(self) -> str:
        return self.spec.id

    def to_dict(self) -> dict[str, Any]:
        return {**self.spec.to_dict(), "state": self.state, "attempts": self.attempts,
                "deliveries": self.deliveries, "last_error": self.last_error,
                "result": self.result, "created": self.created, "updated": self.updated}


@dataclass(frozen=True)
class SessionClose:
    """What a ``publish_done`` resolved to: the session's start (None: unknown) and end,
    unix seconds, and whether it is a retry of one already seen."""

    start: int | None
    end: int
    duplicate: bool


class JobQueue:
    """Jobs and sessions in one SQLite file.

    ``owner``: this is the receiver's queue; a lock file beside it keeps a second receiver
    from using it at the same time (readers such as ``callbacks jobs`` need no lock).

    Raises:
        UsageError: the file cannot be opened or is not this queue's database (``--queue``).
    """

    def __init__(self, path: str | Path, *, owner: bool = False,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock: IO[bytes] | None = None
        try:
            if self.path.parent != Path(""):
                self.path.parent.mkdir(parents=True, exist_ok=True)
            if owner:
                self._take_ownership()
            # isolation_level=None: no implicit transactions; writes that must be atomic
            # take BEGIN IMMEDIATE themselves (see _tx).
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")  # a job acknowledged is a job kept
            self.db.executescript(_SCHEMA)
        except (OSError, sqlite3.DatabaseError) as exc:
            if self._lock is not None:
                self._lock.close()
            raise UsageError(f"cannot use {self.path} as the job queue: {exc}",
                             field="queue") from None

    def _take_ownership(self) -> None:
        # recover() treats every running job as orphaned, which is only true if no other
        # receiver works this queue; the OS drops the lock when its holder dies, even by kill -9.
        lock = open(self.path.with_name(self.path.name + ".lock"), "wb")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            raise UsageError(f"another receiver is using {self.path}; one receiver per queue",
                             field="queue") from None
        self._lock = lock

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()  # closing releases the flock
            self._lock = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- jobs

    def enqueue(self, spec: JobSpec) -> tuple[Job, bool]:
        """Add a job unless one with its id exists; returns the job and whether it is new."""
        now = self.clock()
        with self._tx() as db:
            cur = db.execute(
                'INSERT OR IGNORE INTO jobs (id, kind, domain, app, stream, start, "end", '
                "source_domain, scheme, uri, options, created, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (spec.id, spec.kind, spec.domain, spec.app, spec.stream, spec.start, spec.end,
                 spec.source_domain, spec.scheme, spec.uri,
                 json.dumps(dict(spec.options), sort_keys=True), now, now))
            created = cur.rowcount == 1
            if not created:
                db.execute("UPDATE jobs SET deliveries = deliveries + 1 WHERE id = ?", (spec.id,))
        job = self.get(spec.id)
        assert job is not None
        return job, created

    def get(self, job_id: str) -> Job | None:
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, state: JobState | None = None) -> list[Job]:
        """Jobs, oldest first; only those in ``state`` when given."""
        if state is None:
            rows = self.db.execute("SELECT * FROM jobs ORDER BY created, id").fetchall()
        else:
            rows = self.db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY created, id",
                                   (state,)).fetchall()
        return [_job(r) for r in rows]

    def claim(self) -> Job | None:
        """Take the oldest queued job that is due: it becomes ``running``, one attempt more."""
        now = self.clock()
        with self._tx() as db:
            row = db.execute("SELECT id FROM jobs WHERE state = 'queued' AND not_before <= ? "
                             "ORDER BY not_before, created, id LIMIT 1", (now,)).fetchone()
            if row is None:
                return None
            db.execute("UPDATE jobs SET state = 'running', attempts = attempts + 1, "
                       "updated = ? WHERE id = ?", (now, row["id"]))
        return self.get(row["id"])

    def next_due(self) -> float | None:
        """When the earliest queued job becomes due (unix seconds), or None if none is queued."""
        row = self.db.execute("SELECT MIN(not_before) AS t FROM jobs "
                              "WHERE state = 'queued'").fetchone()
        return None if row["t"] is None else float(row["t"])

    def set_start(self, job_id: str, start: int) -> None:
        """Record a session start found after queueing (ns)."""
        self.db.execute("UPDATE jobs SET start = ?, updated = ? WHERE id = ?",
                        (start, self.clock(), job_id))

    def finish(self, job_id: str, result: dict[str, Any]) -> None:
        self.db.execute("UPDATE jobs SET state = 'done', result = ?, last_error = NULL, "
                        "updated = ? WHERE id = ? AND state = 'running'",
                        (json.dumps(result, default=str), self.clock(), job_id))

    def fail(self, job_id: str, error: str, *, retry_at: float | None = None,
             result: dict[str, Any] | None = None) -> None:
        """A failed attempt: back to ``queued`` due at ``retry_at``, or ``failed`` for good."""
        state = "queued" if retry_at is not None else "failed"
        self.db.execute("UPDATE jobs SET state = ?, last_error = ?, result = ?, not_before = ?, "
                        "updated = ? WHERE id = ? AND state = 'running'",
                        (state, redact(error)[:2000], None if result is None else
                         json.dumps(result, default=str), retry_at or 0.0, self.clock(), job_id))

    def release(self, job_id: str) -> None:
        """Put a running job back, uncounted (the receiver stops while it runs)."""
        self.db.execute("UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), "
                        "updated = ? WHERE id = ? AND state = 'running'", (self.clock(), job_id))

    def recover(self) -> int:
        """Jobs a crash left ``running`` go back to ``queued``; returns how many.

        Only one receiver (the ``owner``) may use a queue file at a time, so anything running
        at start-up was running when the last one died.
        """
        cur = self.db.execute("UPDATE jobs SET state = 'queued', updated = ? "
                              "WHERE state = 'running'", (self.clock(),))
        return cur.rowcount

    def retry(self, job_id: str) -> bool:
        """Queue a failed job again (attempts start over); False if it is not failed."""
        cur = self.db.execute("UPDATE jobs SET state = 'queued', attempts = 0, not_before = 0, "
                              "updated = ? WHERE id = ? AND state = 'failed'",
                              (self.clock(), job_id))
        return cur.rowcount == 1

    # -- sessions

    def open_session(self, domain: str, app: str, stream: str, start: int, *,
                     dedupe: int = 60) -> bool:
        """Remember a ``publish``; False when it repeats the open session's (a retry).

        An older session still open lost its ``publish_done`` (the receiver was down): it is
        marked ``lost`` rather than guessed at.
        """
        with self._tx() as db:
            row = self._last_session(domain, app, stream)
            if row is not None and row["state"] == "closed" and start < row["end"]:
                return False  # a late retry of the publish of a session that has ended since
            if row is not None and row["state"] == "open":
                if row["start"] is not None and abs(row["start"] - start) <= dedupe:
                    return False
                db.execute("UPDATE sessions SET state = 'lost', updated = ? WHERE id = ?",
                           (self.clock(), row["id"]))
            db.execute("INSERT INTO sessions (domain, app, stream, start, state, updated) "
                       "VALUES (?, ?, ?, ?, 'open', ?)",
                       (domain, app, stream, start, self.clock()))
        return True

    def close_session(self, domain: str, app: str, stream: str, end: int, *,
                      dedupe: int = 60) -> SessionClose:
        """Resolve a ``publish_done`` at ``end`` to its session (see the module docstring)."""
        with self._tx() as db:
            row = self._last_session(domain, app, stream)
            if row is not None and row["state"] == "closed" and abs(row["end"] - end) <= dedupe:
                return SessionClose(row["start"], row["end"], duplicate=True)
            if row is not None and row["state"] == "open" and (row["start"] is None
                                                               or row["start"] <= end):
                db.execute("UPDATE sessions SET state = 'closed', \"end\" = ?, updated = ? "
                           "WHERE id = ?", (end, self.clock(), row["id"]))
                return SessionClose(row["start"], end, duplicate=False)
            # No publish seen: the start will come from the timeline.
            db.execute('INSERT INTO sessions (domain, app, stream, start, "end", state, updated) '
                       "VALUES (?, ?, ?, NULL, ?, 'closed', ?)",
                       (domain, app, stream, end, self.clock()))
            return SessionClose(None, end, duplicate=False)

    def _last_session(self, domain: str, app: str, stream: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self.db.execute(
            "SELECT * FROM sessions WHERE domain = ? AND app = ? AND stream = ? "
            "ORDER BY id DESC LIMIT 1", (domain, app, stream)).fetchone()
        return row


def _job(row: sqlite3.Row) -> Job:
    spec = JobSpec(id=row["id"], kind=row["kind"], domain=row["domain"], app=row["app"],
                   stream=row["stream"], start=row["start"], end=row["end"],
                   source_domain=row["source_domain"], scheme=row["scheme"], uri=row["uri"],
                   options=json.loads(row["options"]))
    return Job(spec=spec, state=row["state"], attempts=row["attempts"],
               deliveries=row["deliveries"], last_error=row["last_error"],
               result=json.loads(row["result"]) if row["result"] else None,
               created=row["created"], updated=row["updated"])
