"""``timeshift shift enable|disable|show``: time-shift configuration (SPEC §8), and
``--template`` for the transcoded streams of play-side commands. (A 404 time-shift playlist
names ``shift enable`` through :mod:`timeshift.shifthint`.)"""

from __future__ import annotations

import argparse

from .openapi import EPILOG_API
from .options import Parser, add_api_options, add_stream_options, live_client
from .render import print_json

EPILOG_SHIFT = """examples:
  timeshift shift enable --domain play.example.com --app live --stream cam1 --vision 7
  timeshift shift enable --domain play.example.com --app '*' --stream '*' --with-transcodes
  timeshift shift disable --domain play.example.com --app live --stream cam1
  timeshift shift show --domain play.example.com --json

A change takes effect when the stream is pushed again. Transcoded streams
({stream}_{template}) have time-shift only with --with-transcodes; play them with
--template TEMPLATE on clip, timeline, archive and url.
"""


def cmd_shift(args: argparse.Namespace) -> int:
    from ..openapi.live import LiveApi

    live = LiveApi(live_client(args))
    if args.shift_command == "show":
        rows = live.describe_shift_configs(args.domain)
        if args.json:
            print_json([r.to_dict() for r in rows])
        else:
            for r in rows:
                print(f"{r.app}/{r.stream}  kept {r.vision} d"
                      + (f", {r.duration} s segments" if r.duration else "")
                      + ("" if r.ignore_transcode else ", transcoded streams too"))
            print(f"{len(rows)} time-shift config(s) on {args.domain}")
        return 0
    if args.shift_command == "enable":
        live.open_shift(args.domain, args.app, args.stream, duration=args.duration,
                        vision=args.vision,
                        ignore_transcode=False if args.with_transcodes else None)
    else:
        live.close_shift(args.domain, args.app, args.stream)
    state = "on" if args.shift_command == "enable" else "off"
    if args.json:
        print_json({"domain": args.domain, "app": args.app, "stream": args.stream,
                    "time_shift": state})
    else:
        print(f"time-shift {state} for {args.app}/{args.stream} on {args.domain} "
              "(takes effect when the stream is pushed again)")
    return 0


def apply_template(args: argparse.Namespace) -> None:
    """``--template T`` addresses the transcoded stream ``{stream}_{T}`` (SPEC §8)."""
    template = getattr(args, "template", None)
    if template and getattr(args, "stream", None):
        args.stream = f"{args.stream}_{template}"


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("shift", help="turn time-shift on or off for streams (OpenAPI)",
                       epilog=EPILOG_SHIFT + "\n" + EPILOG_API, formatter_class=fmt)
    s = p.add_subparsers(dest="shift_command", required=True, metavar="enable|disable|show",
                         parser_class=Parser)
    for name, text in (("enable", "OpenLiveShift"), ("disable", "CloseLiveShift"),
                       ("show", "DescribeLiveShiftConfigs")):
        q = s.add_parser(name, help=text, epilog=EPILOG_SHIFT, formatter_class=fmt)
        if name == "show":
            q.add_argument("--domain", required=True, metavar="HOST", help="the play domain")
        else:
            add_stream_options(q, scheme=False)
        if name == "enable":
            q.add_argument("--duration", type=int, metavar="SECONDS",
                           help="TS segment length, 1-60 (default: the service's)")
            q.add_argument("--vision", type=int, metavar="DAYS",
                           help="days kept: 1, 3, 7, 15 or 30 (default 7)")
            q.add_argument("--with-transcodes", action="store_true",
                           help="transcoded streams get time-shift too (IgnoreTranscode=false)")
        add_api_options(q)
        q.set_defaults(func=cmd_shift)
