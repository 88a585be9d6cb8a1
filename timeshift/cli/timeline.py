"""``timeshift timeline``: which times of a stream hold data."""

from __future__ import annotations

import argparse

from ..times import NS_PER_S, TIME_HELP
from ..urls import MARKERS
from .options import add_signing_options, add_stream_options, parse_time_option, signer_from_args
from .render import format_timeline, print_json

EPILOG_TIMELINE = """examples:
  timeshift timeline --domain play.example.com --app live --stream cam1 --start now-2h --end now
  timeshift timeline --domain 127.0.0.1:8080 --scheme http --app live --stream cam1 --start now-10m --end now --json
"""




def cmd_timeline(args: argparse.Namespace) -> int:
    start, end = parse_time_option(args.start, "--start"), parse_time_option(args.end, "--end")
    from ..timeline import query_timeline

    tl = query_timeline(args.domain, args.app, args.stream, start // NS_PER_S,
                        -(-end // NS_PER_S), format=args.format, scheme=args.scheme,
                        marker=args.marker, signer=signer_from_args(args))
    if args.json:
        print_json(tl.to_dict())
    else:
        print(format_timeline(tl))
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "timeline", help="which parts of a window hold time-shift data",
        epilog=EPILOG_TIMELINE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Query the timeline API (SPEC §2). Times: {TIME_HELP}.")
    add_stream_options(p)
    p.add_argument("--start", required=True, metavar="TIME")
    p.add_argument("--end", required=True, metavar="TIME")
    p.add_argument("--format", choices=("ts", "flv"), default="ts")
    p.add_argument("--marker", choices=MARKERS, default="both")
    add_signing_options(p)
    p.add_argument("--json", action="store_true",
                   help="print {current, requested, ranges, gaps, covered_seconds}")
    p.set_defaults(func=cmd_timeline)


