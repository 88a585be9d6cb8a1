"""``timeshift clip``: a window of a past live stream as an MP4 or TS."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..times import NS_PER_S, TIME_HELP, now_ns, parse_duration, parse_time
from .options import (
    add_limit_options,
    add_signing_options,
    add_stream_options,
    fetch_options_from_args,
    signer_from_args,
)
from .render import ClipProgress, format_clip, print_json

EPILOG_CLIP = """examples:
  timeshift clip --domain play.example.com --app live --stream cam1 \\
      --start 2026-11-21T14:03:10+08:00 --end 2026-11-21T14:05:40+08:00 -o goal.mp4
  timeshift clip --domain play.example.com --app live --stream cam1 --start now-15m --end now-5m -o last.mp4 --json
  timeshift clip --url 'https://play.example.com/live/cam1.m3u8?lhs_start=1&lhs_start_unix_s_0=...&lhs_vodend_unix_s_0=...' -o out.mp4
  timeshift clip ... --allow-gaps -o out.mp4      # make the clip from what exists; gaps go to out.mp4.gaps.json
  timeshift clip ... -o out.ts                    # MPEG-TS, segment boundaries, no remux
  timeshift clip ... --start 2026-11-21T14:03:10.48+08:00 --end 2026-11-21T14:03:40.2+08:00 -o goal.mp4  # to the frame
  timeshift clip ... --cut keyframe -o quick.mp4  # stream copy only: starts at the keyframe before --start
  timeshift clip ... --cut reencode -o ref.mp4    # re-encode the whole window (for comparison)
  timeshift clip ... --start now-30s --end now -o replay.mp4   # instant replay: waits for the edge
  timeshift clip ... --duration 5m -o next5.mp4   # record the next five minutes (from now)
  timeshift clip --url 'https://play.example.com/live/cam1.m3u8' --duration 5m -o rec.mp4

the live edge:
  A window that reaches past what the stream has published ("the last 30 seconds", "the
  next 5 minutes") is followed: the playlist is asked again at its target-duration cadence
  and segments are cut as they appear, until the one holding --end is published. After
  --wait past --end (default three target durations) what is still missing is a gap. An
  --end more than 6h ahead is refused. The first Ctrl-C ends the window early and writes
  a verified clip of what arrived (the summary says it was cut short); a second one
  aborts and leaves nothing.

cut modes (MP4):
  exact     the first frame is the one on screen at --start, the last the one before --end;
            whole GOPs are stream-copied, only the partial GOPs at the two edges are decoded
            and re-encoded (libx264, matching the source), audio is trimmed to the sample
  keyframe  stream copy from the keyframe at or before --start (up to a GOP early; the end
            may run up to the B-frame depth late)
  reencode  every frame re-encoded
  Only H.264 can be cut exactly; other codecs fall back to keyframe (said in the summary).
  TS output (-o x.ts) is whole segments and takes no --cut.
  After writing, the clip is probed: one that misses the window by more than a frame (no
  gaps) fails with exit 1 and is not kept.

exit codes: 0 ok, 1 remote error or a failed cut/verification, 2 bad input,
3 the window has gaps (see --allow-gaps), 130 aborted (a second Ctrl-C)
"""


async def _interruptible(run: Any) -> Any:
    """Run ``run(stop)`` with Ctrl-C handled as a person at the terminal expects: the first
    sets ``stop`` (the window ends early, the clip is written), the second aborts."""
    import asyncio  # here, not at the top: `timeshift --help` and `timeshift url` never need it

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    task = asyncio.current_task()
    assert task is not None

    def on_sigint() -> None:
        if stop.is_set():
            task.cancel()
            return
        stop.set()
        print("\ntimeshift clip: ending the window now and writing what arrived "
              "(Ctrl-C again to abort)", file=sys.stderr, flush=True)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError, ValueError):  # no signals here (Windows, a thread)
        pass
    try:
        return await run(stop)
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _window(args: argparse.Namespace) -> tuple[int | None, int | None]:
    """--start/--end/--duration as ns: --duration counts from --start, else from now.

    One "now" for all of them, so ``--start now-30s --end now`` is exactly 30 s.
    """
    now = now_ns()

    def when(value: str, option: str) -> int:
        try:
            return parse_time(value, now=now)
        except UsageError as exc:
            raise exc.with_option(option) from None

    start = when(args.start, "--start") if args.start else None
    end = when(args.end, "--end") if args.end else None
    if args.duration is not None:
        if end is not None:
            raise UsageError("give --end or --duration, not both", option="--duration")
        try:
            length = parse_duration(args.duration)
        except UsageError as exc:
            raise exc.with_option("--duration") from None
        if length <= 0:
            raise UsageError("must be more than 0", option="--duration")
        start = now if start is None else start
        end = start + length
    return start, end


def cmd_clip(args: argparse.Namespace) -> int:
    import asyncio

    from ..clip import aclip
    from ..edge import EdgePolicy

    if args.url and args.domain:
        raise UsageError("give --url or --domain/--app/--stream, not both", option="--url")
    if not args.url and not (args.domain and args.app and args.stream):
        raise UsageError("give --url, or --domain, --app and --stream", option="--domain")
    if args.concurrency < 1 or args.concurrency > 256:
        raise UsageError("expected 1 to 256", option="--concurrency")
    start, end = _window(args)
    wait = None
    if args.wait is not None:
        try:
            wait = parse_duration(args.wait) / NS_PER_S
        except UsageError as exc:
            raise exc.with_option("--wait") from None
    kwargs: dict[str, Any] = dict(
        url=args.url, domain=args.domain, app=args.app, stream=args.stream, start=start,
        end=end, scheme=args.scheme, signer=signer_from_args(args), allow_gaps=args.allow_gaps,
        allowed_hosts=tuple(args.allow_host), cache_dir=args.cache_dir,
        keep_cache=args.keep_cache, fetch=fetch_options_from_args(args, args.concurrency),
        progress=ClipProgress(args.progress), cut=args.cut, edge=EdgePolicy(wait=wait))
    result = asyncio.run(_interruptible(lambda stop: aclip(args.output, stop=stop, **kwargs)))
    if args.json:
        print_json(result.to_dict())
    else:
        print(format_clip(result))
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "clip", help="cut a window of a past live stream into an MP4",
        epilog=EPILOG_CLIP, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Fetch the window's segments in parallel and remux them into one file. "
                    f"Times: {TIME_HELP}.")
    p.add_argument("--url", help="a time-shift URL, or any HLS media playlist with PROGRAM-DATE-TIME")
    add_stream_options(p, required=False)
    p.add_argument("--start", metavar="TIME", help="window start")
    p.add_argument("--end", metavar="TIME", help="window end (exclusive); may be in the "
                   "future (up to 6h): the clip waits for the live edge")
    p.add_argument("--duration", metavar="DURATION",
                   help="instead of --end: the window's length from --start (default: from "
                        "now), e.g. 30s, 5m")
    p.add_argument("--wait", metavar="DURATION", default=None,
                   help="how long past --end to wait for segments not yet published before "
                        "the rest is a gap (default: three target durations)")
    p.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.mp4",
                   help="where to write; .ts writes MPEG-TS without remuxing")
    p.add_argument("--cut", choices=("exact", "keyframe", "reencode"), default=None,
                   help="how to cut an MP4: exact (default; frame-exact, re-encodes only the "
                        "edge GOPs), keyframe (stream copy from the keyframe before --start), "
                        "reencode (the whole window); not for .ts output")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight (default 16)")
    p.add_argument("--allow-gaps", action="store_true",
                   help="make the clip from what exists instead of failing on gaps")
    p.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                   help="also fetch segments from HOST (repeatable); others are refused")
    p.add_argument("--cache-dir", type=Path, default=None,
                   help="segment cache for resuming (default ~/.cache/timeshift/segments)")
    p.add_argument("--keep-cache", action="store_true", help="keep segments after success")
    p.add_argument("--progress", choices=("auto", "bar", "jsonl", "none"), default="auto",
                   help="progress on stderr: a bar on a terminal (auto), JSON lines, or none")
    add_signing_options(p)
    add_limit_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_clip)


