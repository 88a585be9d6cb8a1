"""The callback receiver: one small aiohttp service for the callbacks of SPEC §5.

Routes (register the URLs with ``timeshift callbacks register``)::

    GET  /publish     publish notify (seed 7.4): publish remembers the session,
                      publish_done turns it into an archive job
    POST /record      recording events (seed 11.14): a file event may queue a copy job,
                      status events are logged
    GET  /on-demand   the on-demand recording question (seed 11.13), answered from the rules

Every answer is given at once (the service waits 5 s, then retries 5 times): the handlers
only parse, consult the rules and write to the SQLite queue; the worker runs jobs after the
answer. Before any handler a request must come from an allowed network (else 403), carry
the shared secret when one is set and, with a ``NotifyAuthKey``, a good ``ALI-LIVE-SIGNATURE``
(SPEC §5a; else 403), and stay within its source's rate (else 429). Authentication comes
first and failures have a bucket of their own, so a flood of bad requests from an address
(or, behind a proxy, from anyone) never uses up the rate of the service's real callbacks.
A malformed payload is answered 400 and logged; nothing a caller sends stops the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from ..errors import PayloadError, redact_url
from ..localserver import BackgroundServer
from .jobs import JobRunner, SessionResolver, record_file_job, session_job
from .models import RecordFileEvent, parse_on_demand, parse_publish, parse_record_event
from .queue import JobQueue
from .rules import ArchiveRule, Rules
from .security import Network, RateLimiter, mask_secret, secret_matches, source_allowed
from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, CallbackAuth
from .worker import Worker

__all__ = ["ReceiverConfig", "ReceiverServer", "make_receiver_app"]

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a recording event is a few hundred bytes
RECEIVER_KEY: web.AppKey[_Receiver] = web.AppKey("receiver")


@dataclass(frozen=True)
class ReceiverConfig:
    """How the receiver decides and defends itself.

    Args:
        rules: on-demand answers and archive rules.
        allow: networks callbacks may come from (empty: any).
        secret: the value the ``secret_param`` query parameter must carry (None: not checked).
        auth: the ``NotifyAuthKey`` (and previous key) callbacks must be signed with (None:
            signatures are not checked).
        publish_domains: the ingest domains publish callbacks are signed with (empty: the
            callback's own ``app`` value, which is the ingest domain).
        callback_host: the host the recording callbacks were registered with, which they are
            signed with (None: the request's ``Host``, without its port).
        rate, burst: the token bucket per source address (requests per second, burst size).
        fail_rate, fail_burst: the separate bucket per source for refused requests.
        job_timeout: seconds one job may run before it is a failed attempt (None: no limit).
        dedupe: seconds within which a repeated publish or publish_done is a retry.
        max_attempts, retry_delay: the worker's retry policy.
        poll: the worker's longest idle sleep.
    """

    rules: Rules = field(default_factory=Rules)
    allow: tuple[Network, ...] = ()
    secret: str | None = field(default=None, repr=False)
    secret_param: str = "token"
    auth: CallbackAuth | None = None
    publish_domains: tuple[str, ...] = ()
    callback_host: str | None = None
    rate: float = 10.0
    burst: int = 30
    fail_rate: float = 1.0
    fail_burst: int = 10
    job_timeout: float | None = 6 * 3600.0
    dedupe: int = 60
    max_attempts: int = 3
    retry_delay: float = 30.0
    poll: float = 5.0


class _Receiver:
    def __init__(self, cfg: ReceiverConfig, queue: JobQueue, worker: Worker,
                 clock: Callable[[], float]) -> None:
        self.cfg = cfg
        self.queue = queue
        self.worker = worker
        self.clock = clock
        self.limiter = RateLimiter(cfg.rate, cfg.burst)
        self.fail_limiter = RateLimiter(cfg.fail_rate, cfg.fail_burst)
        self.counters: dict[str, int] = {}

    def count(self, key: str) -> None:
        self.counters[key] = self.counters.get(key, 0) + 1

    def shown(self, request: web.Request) -> str:
        """The request line fit for a log: the shared secret and signing values masked."""
        return redact_url(mask_secret(request.path_qs, self.cfg.secret_param))

    def refuse(self, request: web.Request, status: int, reason: str,
               headers: dict[str, str] | None = None) -> web.Response:
        self.count(str(status))
        log.warning("%s %s from %s: %d %s", request.method, self.shown(request), request.remote,
                    status, reason)
        return web.json_response({"ok": False, "error": reason}, status=status, headers=headers)

    def signed_domains(self, request: web.Request) -> tuple[str, ...]:
        """What the service hashed into the signature (SPEC §5a)."""
        if request.path == "/publish":
            return self.cfg.publish_domains or (request.query.get("app", "").lower(),)
        host = self.cfg.callback_host or URL(f"http://{request.host}").host or ""
        return (host.lower(),)

    def authenticate(self, request: web.Request) -> str | None:
        """None when the request carries what the configuration asks for, else the reason."""
        if not secret_matches(request.query.get(self.cfg.secret_param), self.cfg.secret):
            return f"missing or wrong {self.cfg.secret_param}"
        auth = self.cfg.auth
        if auth is None:
            return None
        reasons = [auth.check(domain, request.headers.get(TIMESTAMP_HEADER),
                              request.headers.get(SIGNATURE_HEADER), self.clock())
                   for domain in self.signed_domains(request)]
        return None if None in reasons else reasons[0]

    @web.middleware
    async def guard(self, request: web.Request,
                    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                    ) -> web.StreamResponse:
        peer = request.remote or ""
        if not source_allowed(peer, self.cfg.allow):
            return self.refuse(request, 403, "source address not allowed")
        reason = self.authenticate(request)
        if reason is not None:
            # Refusals drain a bucket of their own: they cannot lock out valid callbacks.
            if not self.fail_limiter.allow(peer):
                return self.refuse(request, 429, "too many refused requests", headers={
                    "Retry-After": str(max(1, round(self.fail_limiter.retry_after(peer))))})
            return self.refuse(request, 403, reason)
        if not self.limiter.allow(peer):
            wait = max(1, round(self.limiter.retry_after(peer)))
            return self.refuse(request, 429, "rate limit exceeded",
                               headers={"Retry-After": str(wait)})
        try:
            return await handler(request)
        except PayloadError as exc:
            return self.refuse(request, 400, str(exc))

    def fetch_domain(self, rule: ArchiveRule, domain: str, field_name: str) -> str:
        """The host the job fetches from, or a 400 naming the field that chose a bad one."""
        fetch = rule.fetch_domain(domain, authenticated=self.authenticated)
        if fetch is None:
            raise PayloadError(f"{domain[:80]!r} is not a domain the archive rules name; give the "
                               "rule a play_domain (or a domain without wildcards)",
                               field=field_name)
        return fetch

    @property
    def authenticated(self) -> bool:
        """Whether every callback that reaches a handler proved it comes from the service."""
        return bool(self.cfg.secret or self.cfg.auth)

    async def publish(self, request: web.Request) -> web.Response:
        note = parse_publish(request.query)
        # The seed's own example has no time: the receipt time stands in for it.
        at = note.time if note.time is not None else int(self.clock())
        self.count(note.action)
        if note.action == "publish":
            new = self.queue.open_session(note.domain, note.app, note.stream, at,
                                          dedupe=self.cfg.dedupe)
            log.info("publish %s/%s/%s at %d%s", note.domain, note.app, note.stream, at,
                     "" if new else " (retry)")
            return web.json_response({"ok": True, "session": "opened" if new else "known"})
        session = self.queue.close_session(note.domain, note.app, note.stream, at,
                                           dedupe=self.cfg.dedupe)
        rule = self.cfg.rules.archive_rule(note.domain, note.app, note.stream, "publish_done")
        if rule is None:
            log.info("publish_done %s/%s/%s: no archive rule", note.domain, note.app, note.stream)
            return web.json_response({"ok": True, "job": None})
        if session.start is not None and session.end <= session.start:
            log.warning("publish_done %s/%s/%s: empty session %d-%d, nothing to archive",
                        note.domain, note.app, note.stream, session.start, session.end)
            return web.json_response({"ok": True, "job": None})
        fetch = self.fetch_domain(rule, note.domain, "app")
        job, new = self.queue.enqueue(session_job(note, session.start, session.end, rule,
                                                  domain=fetch))
        log.info("publish_done %s/%s/%s: job %s%s", note.domain, note.app, note.stream, job.id,
                 "" if new else f" (delivery {job.deliveries})")
        self.worker.wake()
        return web.json_response({"ok": True, "job": job.id, "new": new})

    async def record(self, request: web.Request) -> web.Response:
        event = parse_record_event(await request.read())
        if not isinstance(event, RecordFileEvent):
            self.count(event.event)
            log.info("%s %s/%s/%s", event.event, event.domain, event.app, event.stream)
            return web.json_response({"ok": True})
        self.count("record_file")
        rule = self.cfg.rules.archive_rule(event.domain, event.app, event.stream, "record_file")
        if rule is None:
            log.info("record file %s: no archive rule", event.uri)
            return web.json_response({"ok": True, "job": None})
        fetch = self.fetch_domain(rule, event.domain, "domain")
        job, new = self.queue.enqueue(record_file_job(event, rule, domain=fetch))
        self.worker.wake()
        return web.json_response({"ok": True, "job": job.id, "new": new})

    async def on_demand(self, request: web.Request) -> web.Response:
        q = parse_on_demand(request.query)
        answer = self.cfg.rules.decide(q)
        self.count("on_demand")
        log.info("on-demand %s/%s/%s codec=%s vbitrate=%s: NeedRecord=%s", q.domain, q.app,
                 q.stream, q.codec, q.vbitrate, answer.need_record)
        return web.Response(body=answer.body(), content_type="application/json")


def make_receiver_app(cfg: ReceiverConfig, queue_path: str | Path, runner: JobRunner, *,
                      resolver: SessionResolver | None = None,
                      clock: Callable[[], float] = time.time) -> web.Application:
    """The receiver as an aiohttp application; its worker runs while the application does.

    The queue is opened here, in the thread that serves (SQLite connections stay in theirs);
    jobs a crash left running are queued again before the first request.
    """
    queue = JobQueue(queue_path, owner=True, clock=clock)
    recovered = queue.recover()
    if recovered:
        log.warning("%d job(s) were running when the receiver stopped; queued again", recovered)
    worker = Worker(queue, runner, resolver=resolver, max_attempts=cfg.max_attempts,
                    retry_delay=cfg.retry_delay, poll=cfg.poll, clock=clock,
                    job_timeout=cfg.job_timeout)
    receiver = _Receiver(cfg, queue, worker, clock)
    app = web.Application(middlewares=[receiver.guard], client_max_size=MAX_BODY)
    app[RECEIVER_KEY] = receiver
    app.router.add_get("/publish", receiver.publish)
    app.router.add_post("/record", receiver.record)
    app.router.add_get("/on-demand", receiver.on_demand)

    async def run_worker(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(worker.run(), name="timeshift-callbacks-worker")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        queue.close()

    app.cleanup_ctx.append(run_worker)
    return app


class ReceiverServer(BackgroundServer):
    """The receiver in a background thread: ``with ReceiverServer(cfg, path, runner) as r: r.url``."""

    def __init__(self, cfg: ReceiverConfig, queue_path: str | Path, runner: JobRunner, *,
                 resolver: SessionResolver | None = None, host: str = "127.0.0.1",
                 port: int = 0, clock: Callable[[], float] = time.time) -> None:
        self.config = cfg
        super().__init__(lambda: make_receiver_app(cfg, queue_path, runner, resolver=resolver,
                                                   clock=clock), host, port)

    @property
    def counters(self) -> dict[str, Any]:
        assert self.app is not None, "start the server first"
        return self.app[RECEIVER_KEY].counters
