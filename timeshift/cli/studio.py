"""``timeshift studio``: a local web page to find the moment in a stream and cut it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..times import NS_PER_S, TIME_HELP, now_ns
from .options import add_signing_options, add_stream_options, parse_time_option, signer_from_args

EPILOG = """examples:
  timeshift studio --domain play.example.com --app live --stream cam1      # the last hour
  timeshift studio --domain play.example.com --app live --stream cam1 \\
      --start 2026-11-21T14:00:00+08:00 --end 2026-11-21T16:00:00+08:00 --output-dir clips/
  timeshift studio --demo                     # the local origin and the bundled samples
  timeshift studio ... --json                 # {"url": ...} on one line, for scripts

The URL printed carries this session's token: the page works only from it. The server
listens on 127.0.0.1 unless --host says otherwise, fetches only the stream given here,
writes only inside --output-dir, and keeps signing keys to itself.
Keys on the page: ←/→ one frame, Shift+←/→ one second, I/O mark in/out, Space preview.
"""

#: The demo's stream: an hour of the samples with a 30 s gap 20 minutes in.
DEMO_GAP = (1200.0, 1230.0)


def _window(args: argparse.Namespace) -> tuple[int, int]:
    end = parse_time_option(args.end, "--end") if args.end else now_ns()
    start = parse_time_option(args.start, "--start") if args.start else end - 3600 * NS_PER_S
    if end <= start:
        raise UsageError("the end is not after the start; give an end later than --start",
                         option="--end")
    return start, end


def cmd_studio(args: argparse.Namespace) -> int:
    from ..studio import StreamSource

    if args.demo:
        if args.domain or args.app or args.stream:
            raise UsageError("--demo serves its own stream; leave out --domain/--app/--stream",
                             option="--demo")
        from ..sim.origin import OriginConfig, OriginServer

        with OriginServer(OriginConfig(history=3600, gaps=(DEMO_GAP,))) as origin:
            source = StreamSource(origin.netloc, "live", "demo", "http")
            return _serve(args, source, round(origin.stream_start * NS_PER_S))
    if not (args.domain and args.app and args.stream):
        raise UsageError("give --domain, --app and --stream (or --demo)", option="--domain")
    return _serve(args, StreamSource(args.domain, args.app, args.stream, args.scheme,
                                     signer_from_args(args)))


def _serve(args: argparse.Namespace, source: Any, not_before: int | None = None) -> int:
    """Run the studio until Ctrl-C (``not_before``: the demo stream's first instant)."""
    from ..localserver import serve_forever
    from ..studio import StudioConfig, StudioServer

    start, end = _window(args)
    if not_before is not None and not args.start:
        start = max(start, not_before)
    config = StudioConfig(source, start, end, args.output_dir, host=args.host, port=args.port,
                          follow=not args.end)
    studio = StudioServer(config)

    def ready() -> None:
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"timeshift studio: listening on {args.host}, beyond this machine: anyone who "
                  "can reach it and holds the URL can use the page", file=sys.stderr, flush=True)
        if args.json:
            print(json.dumps({"url": studio.page_url}), flush=True)
        else:
            print(f"timeshift studio: {studio.page_url}\n  exports go to "
                  f"{config.output_dir.resolve()}; Ctrl-C stops", flush=True)
        if args.open:
            import webbrowser

            webbrowser.open(studio.page_url)

    serve_forever([studio], ready)
    print("timeshift studio: stopped", file=sys.stderr)
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "studio", help="a local web page to find the moment and cut it",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve a page with the stream's timeline and gaps, keyframe thumbnails, "
                    "frame-exact stills, previews, and exact exports in the background. "
                    f"Times: {TIME_HELP}.")
    add_stream_options(p, required=False)
    p.add_argument("--start", metavar="TIME", help="window start (default: an hour before --end)")
    p.add_argument("--end", metavar="TIME", help="window end (default: now)")
    p.add_argument("--output-dir", type=Path, default=Path("."), metavar="DIR",
                   help="where exports are written (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    p.add_argument("--demo", action="store_true",
                   help="serve the local origin with the bundled samples and open on it")
    p.add_argument("--open", action="store_true", help="open the page in a browser")
    add_signing_options(p)
    p.add_argument("--json", action="store_true", help='print {"url": ...} on one line')
    p.set_defaults(func=cmd_studio)
