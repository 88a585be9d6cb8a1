"""``timeshift callbacks``: receive the service's callbacks and archive by them."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..times import NS_PER_S, format_iso, parse_duration
from .openapi import EPILOG_API
from .options import Parser, add_api_options, live_client
from .render import print_json

log = logging.getLogger("timeshift")

EPILOG_CALLBACKS = """examples:
  export TIMESHIFT_NOTIFY_AUTH_KEY=...          # the NotifyAuthKey: callbacks are signed (SPEC 5a)
  export TIMESHIFT_CALLBACK_SECRET=...          # from your secret store; checked in ?token=
  timeshift callbacks serve --port 8090 --rules rules.json --queue /var/lib/timeshift/cb.sqlite \\
      --runner log --allow 10.0.0.0/8 --allow 203.0.113.7
  timeshift callbacks jobs --queue /var/lib/timeshift/cb.sqlite --state failed --json
  timeshift callbacks register --domain play.example.com \\
      --notify-url https://hooks.example.com/publish \\
      --record-notify-url https://hooks.example.com/record \\
      --on-demand-url https://hooks.example.com/on-demand
  timeshift callbacks register ... --endpoint 127.0.0.1:8081 --scheme http   # timeshift sim liveapi

routes: GET /publish (publish notify), POST /record (recording events), GET /on-demand
"""
SECRET_ENV = "TIMESHIFT_CALLBACK_SECRET"
NOTIFY_KEY_ENV = "TIMESHIFT_NOTIFY_AUTH_KEY"


def _default_queue() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "timeshift" / "callbacks.sqlite"


def _callback_secret(args: argparse.Namespace) -> str | None:
    secret = os.environ.get(args.secret_env)
    if not secret and args.secret_env != SECRET_ENV:
        raise UsageError(f"environment variable {args.secret_env} is not set or empty",
                         option="--secret-env")
    return secret or None


def _notify_key(args: argparse.Namespace) -> str | None:
    """The NotifyAuthKey, from the environment only (argv is visible to every local user)."""
    key = os.environ.get(args.notify_auth_key_env)
    if not key and args.notify_auth_key_env != NOTIFY_KEY_ENV:
        raise UsageError(f"environment variable {args.notify_auth_key_env} is not set or empty",
                         option="--notify-auth-key-env")
    return key or None


def _callback_auth(args: argparse.Namespace) -> Any:
    from ..callbacks.signing import CallbackAuth

    key = _notify_key(args)
    previous = None
    if args.previous_key_env:
        previous = os.environ.get(args.previous_key_env)
        if not previous:
            raise UsageError(f"environment variable {args.previous_key_env} is not set or empty",
                             option="--previous-key-env")
    if previous and not key:
        raise UsageError("a previous key needs the current one as well",
                         option="--notify-auth-key-env")
    if args.max_skew < 1:
        raise UsageError("must be at least 1 second", option="--max-skew")
    return CallbackAuth(key, previous, args.max_skew) if key else None


def cmd_callbacks_serve(args: argparse.Namespace) -> int:
    from ..callbacks.rules import load_rules
    from ..callbacks.runners import load_runner
    from ..callbacks.security import parse_networks
    from ..callbacks.server import ReceiverConfig, ReceiverServer
    from ..callbacks.worker import timeline_resolver
    from ..localserver import serve_forever

    try:
        lookback = int(parse_duration(args.timeline_lookback) // NS_PER_S)
    except UsageError as exc:
        raise exc.with_option("--timeline-lookback") from None
    if args.job_timeout is not None and args.job_timeout <= 0:
        raise UsageError("must be above 0 seconds", option="--job-timeout")
    cfg = ReceiverConfig(rules=load_rules(args.rules), allow=parse_networks(args.allow),
                         secret=_callback_secret(args), secret_param=args.secret_param,
                         auth=_callback_auth(args),
                         publish_domains=tuple(d.lower() for d in args.ingest_domain),
                         callback_host=args.callback_host.lower() if args.callback_host else None,
                         rate=args.rate, burst=args.burst, max_attempts=args.max_attempts,
                         job_timeout=args.job_timeout)
    server = ReceiverServer(cfg, args.queue, load_runner(args.runner),
                            resolver=timeline_resolver(lookback=lookback), host=args.host,
                            port=args.port)
    if args.host not in ("127.0.0.1", "::1", "localhost") and not (
            cfg.allow or cfg.secret or cfg.auth):
        log.warning("listening on %s with neither --allow, %s nor %s: anyone who reaches it "
                    "can queue archive jobs", args.host, args.secret_env,
                    args.notify_auth_key_env)

    def ready() -> None:
        info = {"url": server.url, "queue": str(args.queue), "runner": args.runner,
                "secret": bool(cfg.secret), "allow": [str(n) for n in cfg.allow]}
        if cfg.auth is not None:
            info["signed"] = {"previous_key": cfg.auth.previous_key is not None,
                              "max_skew": cfg.auth.max_skew}
        if args.json:
            print_json(info)
        else:
            print(f"receiver {server.url}  (GET /publish, POST /record, GET /on-demand)")
            print(f"  queue {args.queue}, runner {args.runner}, secret "
                  f"{'required' if cfg.secret else 'off'}, signatures "
                  f"{'required' if cfg.auth else 'off'}, allow "
                  f"{', '.join(info['allow']) or 'any source'}")
            print("Ctrl-C stops it")
        sys.stdout.flush()

    serve_forever([server], ready)
    return 0


def cmd_callbacks_jobs(args: argparse.Namespace) -> int:
    from ..callbacks.queue import JobQueue

    if not args.queue.exists():
        raise UsageError(f"{args.queue} does not exist (no receiver has used it)",
                         option="--queue")
    queue = JobQueue(args.queue)
    try:
        jobs = queue.jobs(args.state)
    finally:
        queue.close()
    if args.json:
        print_json([j.to_dict() for j in jobs])
        return 0
    for j in jobs:
        s = j.spec
        start = format_iso(s.start) if s.start is not None else "(from timeline)"
        print(f"{j.id}  {j.state:<7} {s.kind:<11} {s.domain}/{s.app}/{s.stream}  {start} → "
              f"{format_iso(s.end)}  attempts {j.attempts}, deliveries {j.deliveries}"
              + (f"  last error: {j.last_error}" if j.last_error else ""))
    print(f"{len(jobs)} job(s)")
    return 0


def cmd_callbacks_register(args: argparse.Namespace) -> int:
    from ..callbacks.register import register_callbacks
    from ..openapi.live import LiveApi

    if args.on_demand_url and not args.record_notify_url:
        raise UsageError("the on-demand URL is part of the recording callback; give "
                         "--record-notify-url as well", option="--on-demand-url")
    out = register_callbacks(
        LiveApi(live_client(args)), args.domain, args.notify_url,
        record_notify_url=args.record_notify_url, on_demand_url=args.on_demand_url,
        need_status_notify=args.need_status_notify, secret=_callback_secret(args),
        secret_param=args.secret_param, auth_key=_notify_key(args))
    if args.json:
        print_json(out)
    else:
        for key in ("notify_url", "record_notify_url", "on_demand_url"):
            if out[key]:
                print(f"{key.replace('_', ' ')}: {out[key]}")
    return 0


def secret_options(q: argparse.ArgumentParser) -> None:
    q.add_argument("--secret-env", default=SECRET_ENV, metavar="NAME",
                   help=f"the shared secret's environment variable (default {SECRET_ENV}; "
                        "unset: no secret)")
    q.add_argument("--secret-param", default="token", metavar="NAME",
                   help="the query parameter that carries it (default token)")
    q.add_argument("--notify-auth-key-env", default=NOTIFY_KEY_ENV, metavar="NAME",
                   help=f"the NotifyAuthKey's environment variable (default {NOTIFY_KEY_ENV}; "
                        "unset: callbacks are not signed)")


def _add_serve(cb: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    s = cb.add_parser("serve", help="run the callback receiver", epilog=EPILOG_CALLBACKS,
                      formatter_class=fmt)
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8090, help="port (default 8090; 0: a free one)")
    s.add_argument("--rules", required=True, metavar="FILE", help="rules file (JSON; see README)")
    s.add_argument("--queue", type=Path, default=_default_queue(), metavar="PATH",
                   help="the SQLite job queue (default $XDG_STATE_HOME/timeshift/callbacks.sqlite)")
    s.add_argument("--runner", default="archive", metavar="archive|log|MODULE:FUNCTION",
                   help="what runs a job: 'archive' (default) archives the session into the "
                        "rule's bucket (options bucket, endpoint[, prefix, index]); 'log' "
                        "records it and archives nothing (to try the wiring); MODULE:FUNCTION "
                        "an async callable taking a JobSpec")
    s.add_argument("--allow", action="append", default=[], metavar="CIDR",
                   help="accept callbacks only from this network (repeatable; default any)")
    secret_options(s)
    g = s.add_argument_group("signed callbacks (SPEC 5a)")
    g.add_argument("--previous-key-env", metavar="NAME",
                   help="also accept the key in this variable (during a key rotation)")
    g.add_argument("--max-skew", type=int, default=300, metavar="SECONDS",
                   help="refuse an ALI-LIVE-TIMESTAMP further than this from now (default 300)")
    g.add_argument("--ingest-domain", action="append", default=[], metavar="HOST",
                   help="the ingest domain publish callbacks are signed with (repeatable; "
                        "default: the callback's app value)")
    g.add_argument("--callback-host", metavar="HOST",
                   help="the host of the registered recording callback URLs, which they are "
                        "signed with (default: the request's Host; set it behind a proxy that rewrites Host)")
    s.add_argument("--job-timeout", type=float, default=6 * 3600.0, metavar="SECONDS",
                   help="longest time one job attempt may run (default 21600)")
    s.add_argument("--rate", type=float, default=10.0,
                   help="requests per second per source address (default 10)")
    s.add_argument("--burst", type=int, default=30, help="burst per source address (default 30)")
    s.add_argument("--max-attempts", type=int, default=3, help="tries per job (default 3)")
    s.add_argument("--timeline-lookback", default="6h", metavar="DURATION",
                   help="how far back the timeline is searched for a session's start when "
                        "its publish was not seen (default 6h)")
    s.add_argument("--json", action="store_true", help="print the endpoint as JSON")
    s.set_defaults(func=cmd_callbacks_serve)


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("callbacks", help="receive the service's callbacks and archive by them",
                       epilog=EPILOG_CALLBACKS, formatter_class=fmt)
    cb = p.add_subparsers(dest="callbacks_command", required=True,
                          metavar="serve|jobs|register", parser_class=Parser)

    _add_serve(cb)

    j = cb.add_parser("jobs", help="list the queued and finished jobs", epilog=EPILOG_CALLBACKS,
                      formatter_class=fmt)
    j.add_argument("--queue", type=Path, default=_default_queue(), metavar="PATH")
    j.add_argument("--state", choices=("queued", "running", "done", "failed"), default=None)
    j.add_argument("--json", action="store_true", help="print the jobs as JSON")
    j.set_defaults(func=cmd_callbacks_jobs)

    r = cb.add_parser("register", help="point the domain's callbacks at a receiver (OpenAPI)",
                      epilog=EPILOG_CALLBACKS + "\n" + EPILOG_API, formatter_class=fmt)
    r.add_argument("--domain", required=True, help="the domain whose callbacks to set")
    r.add_argument("--notify-url", required=True, metavar="URL",
                   help="publish / publish_done callbacks (SetLiveStreamsNotifyUrlConfig)")
    r.add_argument("--record-notify-url", metavar="URL",
                   help="recording file and status events (AddLiveRecordNotifyConfig)")
    r.add_argument("--on-demand-url", metavar="URL",
                   help="the on-demand recording question (with --record-notify-url)")
    r.add_argument("--need-status-notify", action="store_true",
                   help="also send record_started/paused/resumed events")
    secret_options(r)
    add_api_options(r)
    r.set_defaults(func=cmd_callbacks_register)


