"""``timeshift demo``: the local servers, a clip, an archive and playback."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .render import ClipProgress, format_clip, print_json


def cmd_demo(args: argparse.Namespace) -> int:
    from ..sim.demo import run_demo

    def serve(url: str) -> None:
        print(f"serving; play it with:\n  ffmpeg -i '{url}' -c copy archive.mp4\n"
              "Ctrl-C stops the servers", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    result = run_demo(args.output, progress=ClipProgress(args.progress),
                      serve=serve if args.serve else None)
    if args.json:
        print_json(result.to_dict())
        return 0
    print(format_clip(result.clip))
    frames = result.clip.media.get("frames")
    if frames:
        print(f"  frames {frames['first']}..{frames['last']} of the source "
              f"({frames['count']} frames, read back from the pictures)")
    a = result.archive
    print(f"archived {a.segments} segments ({a.bytes / 1e6:.1f} MB) into the local OSS server: "
          f"{a.index_key}")
    print(f"  presigned index (segments signed by the server as it serves it):\n  {result.index_url}")
    print(f"  ffmpeg played it back: {result.played_seconds} s"
          + ("" if args.serve else " (the URL lives as long as the demo; --serve keeps it up)"))
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "demo", help="clip and archive from local servers, end to end (no account needed)",
        description="Start the local time-shift origin and OSS server on loopback with the "
                    "bundled samples, cut a 20 s clip across a discontinuity into an MP4, "
                    "archive a minute of the stream into OSS, and play the archive with ffmpeg "
                    "from a presigned URL.")
    p.add_argument("-o", "--output", type=Path, default=Path("timeshift-demo.mp4"),
                   help="where to write the clip (default ./timeshift-demo.mp4)")
    p.add_argument("--progress", choices=("auto", "bar", "jsonl", "none"), default="auto")
    p.add_argument("--serve", action="store_true",
                   help="keep the servers running afterwards, so the archive's URL can be played")
    p.add_argument("--json", action="store_true", help="print the clip and archive summaries as JSON")
    p.set_defaults(func=cmd_demo)


