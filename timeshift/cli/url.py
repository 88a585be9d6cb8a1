"""``timeshift url``: build or parse a time-shift URL."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import UsageError
from ..times import TIME_HELP, parse_duration
from ..urls import MARKERS, TimeshiftURL, parse_url
from .options import add_signing_options, add_stream_options, parse_time_option, signer_from_args
from .render import print_json

EPILOG_URL = """examples:
  timeshift url --domain play.example.com --app live --stream cam1 --start now-30m --end now-20m
  timeshift url --domain play.example.com --app live --stream cam1 --start 2026-11-21T14:03:10+08:00 --vodend 2026-11-21T14:05:40+08:00
  timeshift url --domain play.example.com --app live --stream cam1 --offset 30m --json
  AUTH_KEY=secret timeshift url ... --auth-type A --auth-key-env AUTH_KEY
  timeshift url --parse 'https://play.example.com/live/cam1.m3u8?lhs_start=1&lhs_start_unix_s_0=1763700000'
"""




def cmd_url(args: argparse.Namespace) -> int:
    # This command takes the URL to parse as --parse (the others' is --url).
    args.flags = {"url": "--parse"}
    if args.parse:
        url = parse_url(args.parse)
    else:
        if args.offset is None and args.start is None:
            raise UsageError("give --start (with --end or --vodend) or --offset", option="--start")
        options: dict[str, Any] = dict(scheme=args.scheme, time_format=args.time_format,
                                       unit=args.unit, zone=args.zone, marker=args.marker)
        if args.offset is not None:
            if args.start or args.end or args.vodend:
                raise UsageError("--offset goes without --start, --end or --vodend",
                                 option="--offset")
            try:
                offset = parse_duration(args.offset)
            except UsageError as exc:
                raise exc.with_option("--offset") from None
            options.pop("time_format"), options.pop("zone")
            url = TimeshiftURL.behind_live(args.domain, args.app, args.stream, offset, **options)
        elif args.vodend:
            url = TimeshiftURL.vod(args.domain, args.app, args.stream,
                                   parse_time_option(args.start, "--start"), parse_time_option(args.vodend, "--vodend"),
                                   **options)
        else:
            end = parse_time_option(args.end, "--end") if args.end else None
            url = TimeshiftURL.live(args.domain, args.app, args.stream,
                                    parse_time_option(args.start, "--start"), end, **options)
    signer = None if args.parse else signer_from_args(args)
    text = signer.sign(str(url), timestamp=args.auth_timestamp) if signer else str(url)
    if args.json:
        out = url.to_dict()
        out["url"] = text
        print_json(out)
    else:
        print(text)
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "url", help="build or parse a time-shift URL", epilog=EPILOG_URL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Build a time-shift playback URL. Times: {TIME_HELP}.")
    p.add_argument("--parse", metavar="URL", help="parse URL instead of building one")
    add_stream_options(p, required=False)
    p.add_argument("--start", metavar="TIME", help="window start")
    w = p.add_mutually_exclusive_group()
    w.add_argument("--end", metavar="TIME", help="live mode: end of the window")
    w.add_argument("--vodend", metavar="TIME",
                   help="VOD mode: the whole window in one playlist with ENDLIST")
    p.add_argument("--offset", metavar="DURATION", help="play this far behind live, e.g. 30m")
    p.add_argument("--time-format", choices=("unix", "human"), default="unix")
    p.add_argument("--unit", default="s", help="s, ms, us or ns (default s)")
    p.add_argument("--zone", type=int, default=0,
                   help="hours east of UTC, 0-9; unix takes 0 only (default 0)")
    p.add_argument("--marker", choices=MARKERS, default="both",
                   help="lhs_start=1, aliyunols=on, or both (default)")
    add_signing_options(p)
    p.add_argument("--json", action="store_true", help="print {url, mode, start, end} as JSON")
    p.set_defaults(func=cmd_url, required_unless_parse=("--domain", "--app", "--stream"))


