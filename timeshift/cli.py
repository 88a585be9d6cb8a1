"""The ``timeshift`` command: argument parsing and output formatting only.

Every command parses its flags, calls one library function and prints text or
``--json``. :class:`~timeshift.errors.TimeshiftError` is caught in :func:`main` and
mapped to the exit code: 0 ok, 1 remote or service error, 2 bad input, 3 gaps.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .auth import AUTH_TYPES, Signer
from .errors import TimeshiftError, UsageError
from .timeline import Timeline, query_timeline
from .times import NS_PER_S, TIME_HELP, format_iso, parse_duration, parse_time
from .urls import MARKERS, TimeshiftURL, parse_url

log = logging.getLogger("timeshift")

EPILOG_URL = """examples:
  timeshift url --domain play.example.com --app live --stream cam1 --start now-30m --end now-20m
  timeshift url --domain play.example.com --app live --stream cam1 --start 2026-11-21T14:03:10+08:00 --vodend 2026-11-21T14:05:40+08:00
  timeshift url --domain play.example.com --app live --stream cam1 --offset 30m --json
  AUTH_KEY=secret timeshift url ... --auth-type A --auth-key-env AUTH_KEY
  timeshift url --parse 'https://play.example.com/live/cam1.m3u8?lhs_start=1&lhs_start_unix_s_0=1763700000'
"""
EPILOG_TIMELINE = """examples:
  timeshift timeline --domain play.example.com --app live --stream cam1 --start now-2h --end now
  timeshift timeline --domain 127.0.0.1:8080 --scheme http --app live --stream cam1 --start now-10m --end now --json
"""
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
3 the window has gaps (see --allow-gaps)
"""
EPILOG_SIM = """examples:
  timeshift sim origin --port 8080
  timeshift sim origin --latency 0.04 --gaps 60-90 --fail-rate 0.1
  timeshift sim origin --history 0 --gaps 30-60 --notify-url http://127.0.0.1:8090/publish
  AUTH_KEY=secret timeshift sim origin --auth-type A --auth-key-env AUTH_KEY
  timeshift sim origin --encrypt aes-128 --key-rotation 10 --iv explicit
  timeshift sim origin --byte-ranges 5
"""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the flag and what is expected, then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# ---------------------------------------------------------------------------
# shared options, defined once


def _add_stream_options(p: argparse.ArgumentParser, *, required: bool = True,
                        scheme: bool = True) -> None:
    p.add_argument("--domain", required=required, metavar="HOST[:PORT]",
                   help="the play domain (a port is allowed)")
    p.add_argument("--app", required=required, help="the application name")
    p.add_argument("--stream", required=required, help="the stream name")
    if scheme:  # the play domain's scheme; OpenAPI commands have their own --scheme
        p.add_argument("--scheme", choices=("http", "https"), default="https",
                       help="default: https")


def _add_signing_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "CDN URL signing", "the key never goes on the command line, which `ps` shows")
    g.add_argument("--auth-type", choices=AUTH_TYPES, help="sign URLs with this type")
    g.add_argument("--auth-key-env", metavar="NAME",
                   help="read the private key from environment variable NAME")
    g.add_argument("--auth-key-file", metavar="PATH", type=Path,
                   help="read the private key from a file (first line)")
    g.add_argument("--auth-ttl", type=int, default=1800, metavar="SECONDS",
                   help="the validity configured on the domain (default 1800)")
    g.add_argument("--auth-timestamp", type=int, metavar="UNIX",
                   help="sign as of this time (default: now)")
    g.add_argument("--auth-rand", metavar="R", default="0",
                   help="type A rand value (default 0; 'uuid' for a fresh UUID)")
    g.add_argument("--auth-uid", metavar="UID", default="0", help="type A uid (default 0)")
    g.add_argument("--auth-c-form", choices=("path", "query"), default="path",
                   help="type C: hash and time in the path (default) or the query")
    g.add_argument("--auth-param-names", metavar="HASH,TIME",
                   help="query names for type C query form (default KEY1,KEY2) or F (sign,time)")


def _signer(args: argparse.Namespace) -> Signer | None:
    if not args.auth_type:
        if args.auth_key_env or args.auth_key_file:
            raise UsageError("a key was given without --auth-type", option="--auth-type")
        return None
    if args.auth_key_env:
        key = os.environ.get(args.auth_key_env)
        if not key:
            raise UsageError(f"environment variable {args.auth_key_env} is not set or empty",
                             option="--auth-key-env")
    elif args.auth_key_file:
        try:
            key = args.auth_key_file.read_text().splitlines()[0].strip()
        except (OSError, IndexError) as exc:
            raise UsageError(f"cannot read a key from {args.auth_key_file}",
                             option="--auth-key-file") from exc
    else:
        raise UsageError("signing needs a key: give --auth-key-env NAME or --auth-key-file PATH",
                         option="--auth-type")
    names = None
    if args.auth_param_names:
        parts = tuple(n.strip() for n in args.auth_param_names.split(","))
        if len(parts) != 2 or not all(parts):
            raise UsageError("expected two names, HASH,TIME", option="--auth-param-names")
        names = (parts[0], parts[1])
    return Signer(args.auth_type, key, ttl=args.auth_ttl, uid=args.auth_uid,
                  rand=None if args.auth_rand == "uuid" else args.auth_rand,
                  c_form=args.auth_c_form, param_names=names)


def _time(value: str, option: str) -> int:
    try:
        return parse_time(value)
    except UsageError as exc:
        raise exc.with_option(option) from None


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


# ---------------------------------------------------------------------------
# timeshift url


def cmd_url(args: argparse.Namespace) -> int:
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
                                   _time(args.start, "--start"), _time(args.vodend, "--vodend"),
                                   **options)
        else:
            end = _time(args.end, "--end") if args.end else None
            url = TimeshiftURL.live(args.domain, args.app, args.stream,
                                    _time(args.start, "--start"), end, **options)
    signer = None if args.parse else _signer(args)
    text = signer.sign(str(url), timestamp=args.auth_timestamp) if signer else str(url)
    if args.json:
        out = url.to_dict()
        out["url"] = text
        _print_json(out)
    else:
        print(text)
    return 0


def _add_url(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "url", help="build or parse a time-shift URL", epilog=EPILOG_URL,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Build a time-shift playback URL. Times: {TIME_HELP}.")
    p.add_argument("--parse", metavar="URL", help="parse URL instead of building one")
    _add_stream_options(p, required=False)
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
    _add_signing_options(p)
    p.add_argument("--json", action="store_true", help="print {url, mode, start, end} as JSON")
    p.set_defaults(func=cmd_url, required_unless_parse=("--domain", "--app", "--stream"))


# ---------------------------------------------------------------------------
# timeshift timeline


def _format_timeline(tl: Timeline) -> str:
    def row(label: str, a: int, b: int) -> str:
        local = f"{format_iso(a * NS_PER_S, zone_hours=None)} → {format_iso(b * NS_PER_S, zone_hours=None)}"
        utc = f"{format_iso(a * NS_PER_S)} → {format_iso(b * NS_PER_S)}"
        return f"  {label:<5} {local}   ({utc})   {b - a:>7d} s"

    req = tl.requested
    lines = [row("asked", req.start, req.end), ""]
    events = [("data", s) for s in tl.ranges] + [("GAP", s) for s in tl.gaps]
    for label, span in sorted(events, key=lambda e: e[1].start):
        lines.append(row(label, span.start, span.end))
    pct = 100.0 * tl.covered_seconds / max(req.end - req.start, 1)
    lines.append("")
    lines.append(f"  covered {tl.covered_seconds} of {req.end - req.start} s ({pct:.1f} %), "
                 f"{len(tl.ranges)} range(s), {len(tl.gaps)} gap(s); "
                 f"server clock {tl.clock_skew():+.0f} s from this machine")
    return "\n".join(lines)


def cmd_timeline(args: argparse.Namespace) -> int:
    start, end = _time(args.start, "--start"), _time(args.end, "--end")
    tl = query_timeline(args.domain, args.app, args.stream, start // NS_PER_S,
                        -(-end // NS_PER_S), format=args.format, scheme=args.scheme,
                        marker=args.marker, signer=_signer(args))
    if args.json:
        _print_json(tl.to_dict())
    else:
        print(_format_timeline(tl))
    return 0


def _add_timeline(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "timeline", help="which parts of a window hold time-shift data",
        epilog=EPILOG_TIMELINE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Query the timeline API (SPEC §2). Times: {TIME_HELP}.")
    _add_stream_options(p)
    p.add_argument("--start", required=True, metavar="TIME")
    p.add_argument("--end", required=True, metavar="TIME")
    p.add_argument("--format", choices=("ts", "flv"), default="ts")
    p.add_argument("--marker", choices=MARKERS, default="both")
    _add_signing_options(p)
    p.add_argument("--json", action="store_true",
                   help="print {current, requested, ranges, gaps, covered_seconds}")
    p.set_defaults(func=cmd_timeline)


# ---------------------------------------------------------------------------
# timeshift clip


class _Progress:
    """Renders clip progress: a one-line bar on a terminal, or one JSON object per line."""

    def __init__(self, mode: str) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "none"
        self.mode = mode
        self._last = 0.0

    def __call__(self, ev: Any) -> None:
        if self.mode == "jsonl":
            print(json.dumps(ev.to_dict()), file=sys.stderr, flush=True)
        elif self.mode == "bar":
            now = time.monotonic()
            if ev.kind not in ("finished", "mux", "plan") and now - self._last < 0.1:
                return
            self._last = now
            total = max(ev.segments_total, 1)
            filled = int(30 * ev.segments_done / total)
            speed = ev.bytes / max(ev.elapsed, 1e-3)
            left = total - ev.segments_done
            eta = (ev.elapsed / ev.segments_done * left) if ev.segments_done else 0.0
            line = (f"\r[{'#' * filled}{'.' * (30 - filled)}] {ev.segments_done}/{total} seg "
                    f"{ev.bytes / 1e6:7.1f} MB {speed / 1e6:6.1f} MB/s ETA {eta:4.0f}s "
                    f"retries {ev.retries}")
            end = "\n" if ev.kind == "finished" else ""
            print(line, end=end, file=sys.stderr, flush=True)


def _format_clip(result: Any) -> str:
    d = result.to_dict()
    media = d["media"]
    kinds = ", ".join(
        f"{st['type']} {st['codec']}" + (f" {st['width']}x{st['height']}" if st["type"] == "video" else "")
        for st in media.get("streams", []))
    lines = [f"wrote {d['output']}: {d['duration']:.3f} s ({kinds})",
             f"  asked   {d['requested']['start_iso']} → {d['requested']['end_iso']}"]
    if d["covered"]:
        lines.append(f"  covered {d['covered']['start_iso']} → {d['covered']['end_iso']}")
    lines.append(f"  {d['segments']} segments ({d['cached_segments']} from cache), "
                 f"{d['bytes'] / 1e6:.1f} MB fetched, {d['retries']} retries, "
                 f"{d['elapsed']:.2f} s")
    cut = d.get("cut") or {}
    if cut.get("mode") in ("exact", "reencode"):
        lines.append(f"  cut {cut['mode']}: {cut['gops_copied']} GOPs copied, "
                     f"{cut['gops_encoded']} re-encoded ({cut['frames_encoded']} frames)")
    elif cut.get("mode"):
        lines.append(f"  cut {cut['mode']}")
    lines.extend(f"  note: {n}" for n in cut.get("notes", []))
    for g in d["gaps"]:
        lines.append(f"  GAP {g['start_iso']} → {g['end_iso']} ({g['duration']} s, {g['reason']})")
    if d["gap_report"]:
        lines.append(f"  gap report: {d['gap_report']}")
    return "\n".join(lines)


def cmd_clip(args: argparse.Namespace) -> int:
    from .clip import clip
    from .fetch import FetchOptions

    if args.url and args.domain:
        raise UsageError("give --url or --domain/--app/--stream, not both", option="--url")
    if not args.url and not (args.domain and args.app and args.stream):
        raise UsageError("give --url, or --domain, --app and --stream", option="--domain")
    if args.concurrency < 1 or args.concurrency > 256:
        raise UsageError("expected 1 to 256", option="--concurrency")
    result = clip(
        args.output, url=args.url, domain=args.domain, app=args.app, stream=args.stream,
        start=_time(args.start, "--start") if args.start else None,
        end=_time(args.end, "--end") if args.end else None,
        scheme=args.scheme, signer=_signer(args), allow_gaps=args.allow_gaps,
        allowed_hosts=tuple(args.allow_host), cache_dir=args.cache_dir,
        keep_cache=args.keep_cache, fetch=FetchOptions(concurrency=args.concurrency),
        progress=_Progress(args.progress), cut=args.cut)
    if args.json:
        _print_json(result.to_dict())
    else:
        print(_format_clip(result))
    return 0


def _add_clip(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "clip", help="cut a window of a past live stream into an MP4",
        epilog=EPILOG_CLIP, formatter_class=argparse.RawDescriptionHelpFormatter,
        description=f"Fetch the window's segments in parallel and remux them into one file. "
                    f"Times: {TIME_HELP}.")
    p.add_argument("--url", help="a time-shift URL, or any HLS media playlist with PROGRAM-DATE-TIME")
    _add_stream_options(p, required=False)
    p.add_argument("--start", metavar="TIME", help="window start")
    p.add_argument("--end", metavar="TIME", help="window end (exclusive)")
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
    _add_signing_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=cmd_clip)


# ---------------------------------------------------------------------------
# timeshift archive

EPILOG_ARCHIVE = """OSS credentials come from OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET (and OSS_SESSION_TOKEN),
else ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET or a profile; never from the command line.
Key templates take {DomainName} {AppName} {StreamName} {Sequence} {UnixTimestamp}
{EscapedStartTime} {EscapedEndTime} {Date} {Hour} {Minute} {Second} (UTC).

examples:
  timeshift archive --domain play.example.com --app live --stream cam1 \
      --start 2026-11-20T00:00:00+08:00 --end 2026-11-21T00:00:00+08:00 \
      --bucket my-archive --endpoint oss-cn-shanghai.aliyuncs.com
  timeshift archive --jobs nightly.jsonl --bucket my-archive --endpoint oss-cn-shanghai.aliyuncs.com --json > report.json
  timeshift archive --jobs report.json           # re-run only the jobs that failed
  timeshift archive --from-publish-list --domain play.example.com --start now-1d --end now \
      --bucket my-archive --endpoint oss-cn-shanghai.aliyuncs.com --executor dask:tcp://10.0.0.5:8786
  timeshift archive ... --server-side            # let the service write the index (CreateLiveStreamRecordIndexFiles)

jobs file: JSON Lines {"domain":..,"app":..,"stream":..,"start":..,"end":..[,"bucket","endpoint","prefix","index"]}
or CSV with a header naming those fields.
exit codes: 0 every job succeeded, 1 a job failed (the report says which), 2 bad input
"""


class _ArchiveProgress:
    """Per-job lines and an overall count on stderr, or JSON lines."""

    def __init__(self, mode: str, total: int) -> None:
        if mode == "auto":
            mode = "lines" if sys.stderr.isatty() else "none"
        self.mode, self.total, self.finished = mode, total, 0
        self._last: dict[str, float] = {}

    def __call__(self, ev: Any) -> None:
        if self.mode == "jsonl":
            print(json.dumps(ev.to_dict()), file=sys.stderr, flush=True)
        elif self.mode == "lines":
            now = time.monotonic()
            if ev.kind in ("upload", "skip") and now - self._last.get(ev.job_id, 0.0) < 0.5:
                return
            self._last[ev.job_id] = now
            print(f"[{self.finished}/{self.total}] {ev.job_id}: {ev.kind} "
                  f"{ev.segments_done}/{ev.segments_total} seg, {ev.uploaded} up, "
                  f"{ev.skipped} skipped, {ev.bytes / 1e6:.1f} MB {ev.detail}",
                  file=sys.stderr, flush=True)

    def job_done(self, result: Any) -> None:
        self.finished += 1
        if self.mode == "lines":
            print(f"[{self.finished}/{self.total}] {result.job.job_id}: {result.status}",
                  file=sys.stderr, flush=True)


def _format_archive(results: Sequence[Any], totals: dict[str, Any]) -> str:
    lines = [f"{'status':<7} {'stream':<28} {'segs':>5} {'up':>5} {'skip':>5} {'MB':>8} "
             f"{'gaps':>4}  index"]
    for r in results:
        d = r.to_dict()
        where = d["index_key"] or (d["error"] or {}).get("message", "")
        lines.append(f"{d['status']:<7} {d['app'] + '/' + d['stream']:<28} {d['segments']:>5} "
                     f"{d['uploaded']:>5} {d['skipped']:>5} {d['bytes'] / 1e6:>8.1f} "
                     f"{len(d['gaps']):>4}  {where}")
        for g in d["gaps"]:
            lines.append(f"        GAP {g.get('start_iso', g['start'])} → "
                         f"{g.get('end_iso', g['end'])} ({g['duration']} s, {g['reason']})")
    lines.append(f"{totals['ok']} of {totals['jobs']} job(s) ok, {totals['uploaded']} segment(s) "
                 f"uploaded, {totals['skipped']} already there, {totals['bytes'] / 1e6:.1f} MB")
    return "\n".join(lines)


def _archive_jobs(args: argparse.Namespace) -> list[Any]:
    from .archive import ArchiveJob, jobs_from_publish_list, load_jobs

    sources = sum(bool(x) for x in (args.jobs, args.from_publish_list, args.stream))
    if sources != 1:
        raise UsageError("give one of --stream (one job), --jobs FILE or --from-publish-list",
                         option="--jobs")
    if args.jobs:
        jobs = load_jobs(args.jobs)
    elif args.from_publish_list:
        from .openapi.live import LiveApi

        if not (args.domain and args.start and args.end):
            raise UsageError("--from-publish-list needs --domain, --start and --end",
                             option="--from-publish-list")
        start, end = _time(args.start, "--start"), _time(args.end, "--end")
        sessions = LiveApi(_live_client(args)).iter_publish_list(
            args.domain, start=start // NS_PER_S, end=-(-end // NS_PER_S), app=args.app)
        jobs = jobs_from_publish_list(sessions, domain=args.domain, start=start, end=end)
    else:
        if not (args.domain and args.app and args.start and args.end):
            raise UsageError("one job needs --domain, --app, --stream, --start and --end",
                             option="--domain")
        jobs = [ArchiveJob(domain=args.domain, app=args.app, stream=args.stream,
                           start=_time(args.start, "--start"), end=_time(args.end, "--end"))]
    return [j.with_defaults(bucket=args.bucket or "", endpoint=args.endpoint or "",
                            template=args.prefix or "", index_template=args.index or "")
            for j in jobs]


def cmd_archive(args: argparse.Namespace) -> int:
    from .archive import ArchiveOptions, StoreSpec, run_jobs, summary
    from .fetch import FetchOptions

    jobs = _archive_jobs(args)
    if not 1 <= args.segment_concurrency <= 256:
        raise UsageError("expected 1 to 256", option="--segment-concurrency")
    if not 1 <= args.uploads <= 64:
        raise UsageError("expected 1 to 64", option="--uploads")
    spec = StoreSpec(region=args.oss_region, signing=args.oss_signing)
    progress = _ArchiveProgress(args.progress, len(jobs))
    if args.server_side:
        for j in jobs:
            spec.check(j)
        from .archive.serverside import archive_server_side
        from .openapi.live import LiveApi

        live = LiveApi(_live_client(args))
        results = []
        for j in jobs:
            results.append(archive_server_side(j, live, spec.open(j)))
            progress.job_done(results[-1])
    else:
        options = ArchiveOptions(
            scheme=args.scheme, signer=_signer(args), allowed_hosts=tuple(args.allow_host),
            fetch=FetchOptions(concurrency=args.segment_concurrency), uploads=args.uploads,
            cache_dir=args.cache_dir, verify=args.verify, force=args.force)
        results = run_jobs(jobs, options=options, executor=args.executor,
                           concurrency=args.concurrency, attempts=args.attempts, store=spec,
                           progress=progress, on_result=progress.job_done)
    totals = summary(results)
    report = {"summary": totals, "jobs": [r.to_dict() for r in results]}
    if args.report:
        tmp = args.report.with_name(f".{args.report.name}.tmp")
        tmp.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        os.replace(tmp, args.report)
    if args.json:
        _print_json(report)
    else:
        print(_format_archive(results, totals))
    return 0 if totals["failed"] == 0 else 1


def _add_archive(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "archive", help="copy streams' windows into OSS as playable HLS recordings",
        epilog=EPILOG_ARCHIVE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Archive time-shift windows into your own OSS bucket: segments under a key "
                    "template, then a manifest, then the index m3u8 last. Re-runs skip what is "
                    f"already there (size and CRC-64). Times: {TIME_HELP}.")
    _add_stream_options(p, required=False)
    p.add_argument("--start", metavar="TIME", help="window start")
    p.add_argument("--end", metavar="TIME", help="window end (exclusive)")
    src = p.add_argument_group("many jobs")
    src.add_argument("--jobs", type=Path, metavar="FILE",
                     help="JSON Lines or CSV, one job per stream and window; or an earlier "
                          "--json report, whose failed jobs are run again")
    src.add_argument("--from-publish-list", action="store_true",
                     help="one job per publishing session in [--start, --end) of --domain "
                          "(DescribeLiveStreamsPublishList; --app narrows it)")
    dst = p.add_argument_group("destination")
    dst.add_argument("--bucket", help="the OSS bucket")
    dst.add_argument("--endpoint", metavar="HOST",
                     help="the OSS endpoint, e.g. oss-cn-shanghai.aliyuncs.com (http:// for a local one)")
    dst.add_argument("--prefix", metavar="TEMPLATE", default="",
                     help="segment key template (default {AppName}/{StreamName}/{Date}/"
                          "{UnixTimestamp}_{Sequence}.ts)")
    dst.add_argument("--index", metavar="TEMPLATE", default="",
                     help="index key template (default {AppName}/{StreamName}/{Date}/"
                          "{EscapedStartTime}_{EscapedEndTime}.m3u8); the manifest is beside it, .json")
    dst.add_argument("--oss-region", default=None, help="bucket region, for V4 signing")
    dst.add_argument("--oss-signing", choices=("v1", "v4"), default="v1",
                     help="OSS signature version (default v1)")
    run = p.add_argument_group("running")
    run.add_argument("--executor", default="local", metavar="local|dask[:ADDRESS]",
                     help="local (default), dask (a local cluster) or dask:SCHEDULER_ADDRESS "
                          "(needs the timeshift[dask] extra)")
    run.add_argument("--concurrency", type=int, default=2, help="jobs at once (default 2)")
    run.add_argument("--segment-concurrency", type=int, default=16,
                     help="segment requests in flight per job (default 16)")
    run.add_argument("--uploads", type=int, default=8, help="uploads in flight per job (default 8)")
    run.add_argument("--attempts", type=int, default=2, help="tries per failed job (default 2)")
    run.add_argument("--verify", action="store_true",
                     help="for jobs already archived, also compare every object's CRC-64")
    run.add_argument("--force", action="store_true",
                     help="archive again even if the index exists (unchanged objects are "
                          "still skipped)")
    run.add_argument("--server-side", action="store_true",
                     help="ask the service to write the index (CreateLiveStreamRecordIndexFiles, "
                          "for streams it records) and verify it, instead of copying")
    run.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                     help="also fetch segments from HOST (repeatable)")
    run.add_argument("--cache-dir", type=Path, default=None,
                     help="segment cache, so a re-run after a crash does not download again")
    run.add_argument("--progress", choices=("auto", "lines", "jsonl", "none"), default="auto",
                     help="progress on stderr (auto: lines on a terminal)")
    run.add_argument("--report", type=Path, metavar="FILE",
                     help="also write the JSON report to FILE (re-run failures with --jobs FILE)")
    _add_signing_options(p)
    _add_api_options(p, prefix="api-")
    p.set_defaults(func=cmd_archive)


# ---------------------------------------------------------------------------
# timeshift demo


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    def serve(url: str) -> None:
        print(f"serving; play it with:\n  ffmpeg -i '{url}' -c copy archive.mp4\n"
              "Ctrl-C stops the servers", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass

    result = run_demo(args.output, progress=_Progress(args.progress),
                      serve=serve if args.serve else None)
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(_format_clip(result.clip))
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


def _add_demo(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
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


# ---------------------------------------------------------------------------
# timeshift api | index | record  (the Live OpenAPI)

EPILOG_API = """credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET
(and ALIBABA_CLOUD_SECURITY_TOKEN), else ~/.alibabacloud/credentials (--profile), else
~/.aliyun/config.json; never from the command line.

examples:
  timeshift api call DescribeLiveStreamRecordIndexFiles DomainName=play.example.com AppName=live \\
      StreamName=cam1 StartTime=2026-11-20T00:00:00Z EndTime=2026-11-21T00:00:00Z
  timeshift api sign DescribeLiveStreamsOnlineList DomainName=play.example.com --nonce n1 --timestamp 2026-11-21T06:00:00Z
  timeshift index list --domain play.example.com --app live --stream cam1 --start now-2d --end now
  timeshift record start --domain play.example.com --app live --stream cam1
  timeshift api call ... --endpoint 127.0.0.1:8081 --scheme http      # against timeshift sim liveapi
"""


def _add_api_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    # Commands that also name an OSS endpoint (archive) take the API's as --api-endpoint.
    g = p.add_argument_group("OpenAPI")
    g.add_argument(f"--{prefix}endpoint", dest="api_endpoint", default="live.aliyuncs.com",
                   metavar="HOST[:PORT]", help="API endpoint (default live.aliyuncs.com)")
    g.add_argument(f"--{prefix}scheme", dest="api_scheme",
                   choices=("http", "https"), default="https")
    g.add_argument(f"--{prefix}region", dest="api_region", default=None,
                   help="RegionId, e.g. cn-shanghai")
    g.add_argument("--profile", default=None, help="credentials profile name")
    g.add_argument("--json", action="store_true", help="print JSON")


def _live_client(args: argparse.Namespace) -> Any:
    from .openapi.client import LiveClient
    from .openapi.credentials import resolve_credentials

    return LiveClient(resolve_credentials(profile=args.profile), endpoint=args.api_endpoint,
                      scheme=args.api_scheme, region=args.api_region)


def _key_values(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{pair!r} is not Key=Value", option="PARAMS")
        if key in ("AccessKeyId", "AccessKeySecret", "Signature", "SecurityToken"):
            raise UsageError(f"{key} is not taken on the command line (ps shows it); "
                             "credentials come from the environment or a profile", option="PARAMS")
        out[key] = value
    return out


def cmd_api(args: argparse.Namespace) -> int:
    client = _live_client(args)
    params = _key_values(args.params)
    if args.api_command == "sign":
        print(client.signed_url(args.action, params, nonce=args.nonce, timestamp=args.timestamp))
        return 0
    body = client.call(args.action, **params)
    _print_json(body)
    return 0


def _unix_s(value: str, option: str) -> int:
    return _time(value, option) // NS_PER_S


def cmd_index(args: argparse.Namespace) -> int:
    from .openapi.live import LiveApi

    live = LiveApi(_live_client(args))
    if args.index_command == "create":
        items = [live.create_record_index_files(
            args.domain, args.app, args.stream, start=_unix_s(args.start, "--start"),
            end=_unix_s(args.end, "--end"), oss_endpoint=args.oss_endpoint,
            oss_bucket=args.bucket, oss_object=args.object)]
    elif args.index_command == "show":
        items = [live.describe_record_index_file(args.domain, args.app, args.stream, args.record_id)]
    else:
        items = list(live.iter_record_index_files(
            args.domain, args.app, args.stream, start=_unix_s(args.start, "--start"),
            end=_unix_s(args.end, "--end"), order=args.order))
    if args.json:
        _print_json([i.to_dict() for i in items] if args.index_command == "list" else items[0].to_dict())
    else:
        for i in items:
            print(f"{i.record_id}  {format_iso(i.start * NS_PER_S)} → {format_iso(i.end * NS_PER_S)}"
                  f"  {i.duration:>8.0f} s  {i.record_url}")
        if args.index_command == "list":
            print(f"{len(items)} index file(s)")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from .openapi.live import LiveApi

    command = args.record_command.replace("-", "_")
    request_id = LiveApi(_live_client(args)).real_time_record_command(
        args.domain, args.app, args.stream, command)
    if args.json:
        _print_json({"command": command, "request_id": request_id})
    else:
        print(f"{command}: accepted (RequestId {request_id})")
    return 0


def _add_openapi(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    api = sub.add_parser("api", help="call or sign any Live OpenAPI action", epilog=EPILOG_API,
                         formatter_class=fmt)
    api_sub = api.add_subparsers(dest="api_command", required=True, metavar="call|sign",
                                 parser_class=_Parser)
    for name in ("call", "sign"):
        a = api_sub.add_parser(name, epilog=EPILOG_API, formatter_class=fmt,
                               help="send an action" if name == "call" else
                               "print the signed URL without sending it")
        a.add_argument("action", metavar="ACTION")
        a.add_argument("params", nargs="*", metavar="Key=Value")
        if name == "sign":
            a.add_argument("--nonce", default=None, help="SignatureNonce (default: fresh)")
            a.add_argument("--timestamp", default=None, help="Timestamp, YYYY-MM-DDThh:mm:ssZ")
        _add_api_options(a)
        a.set_defaults(func=cmd_api)

    idx = sub.add_parser("index", help="recording index files", epilog=EPILOG_API,
                         formatter_class=fmt)
    idx_sub = idx.add_subparsers(dest="index_command", required=True, metavar="create|show|list",
                                 parser_class=_Parser)
    for name, text in (("create", "CreateLiveStreamRecordIndexFiles"),
                       ("show", "DescribeLiveStreamRecordIndexFile"),
                       ("list", "DescribeLiveStreamRecordIndexFiles, every page")):
        i = idx_sub.add_parser(name, help=text, epilog=EPILOG_API, formatter_class=fmt)
        _add_stream_options(i, scheme=False)
        if name in ("create", "list"):
            i.add_argument("--start", required=True, metavar="TIME")
            i.add_argument("--end", required=True, metavar="TIME")
        if name == "create":
            i.add_argument("--oss-endpoint", required=True)
            i.add_argument("--bucket", required=True)
            i.add_argument("--object", required=True, help="the index file's object name")
        if name == "show":
            i.add_argument("--record-id", required=True)
        if name == "list":
            i.add_argument("--order", choices=("asc", "desc"), default="asc")
        _add_api_options(i)
        i.set_defaults(func=cmd_index)

    rec = sub.add_parser("record", help="start or stop on-demand recording", epilog=EPILOG_API,
                         formatter_class=fmt)
    rec_sub = rec.add_subparsers(dest="record_command", required=True,
                                 metavar="start|stop|cancel-delay|restart", parser_class=_Parser)
    for name in ("start", "stop", "cancel-delay", "restart"):
        r = rec_sub.add_parser(name, help=f"RealTimeRecordCommand {name.replace('-', '_')}")
        _add_stream_options(r, scheme=False)
        _add_api_options(r)
        r.set_defaults(func=cmd_record)


# ---------------------------------------------------------------------------
# timeshift sim


def cmd_sim(args: argparse.Namespace) -> int:
    from .sim.origin import DEFAULT_SAMPLES, OriginConfig, parse_gaps
    from .sim.server import serve_forever
    from .sim.stack import build_stack

    origin = OriginConfig(
        samples=args.samples or DEFAULT_SAMPLES, latency=args.latency,
        gaps=parse_gaps(args.gaps or ""), bandwidth=args.bandwidth, fail_rate=args.fail_rate,
        truncate_rate=args.truncate_rate, signer=_signer(args),
        program_date_time=not args.no_program_date_time,
        history=parse_duration(args.history) / NS_PER_S, seed=args.seed,
        sign_uris=not args.unsigned_uris, encryption=args.encrypt, iv=args.iv,
        key_rotation=args.key_rotation, key_length=args.key_length,
        byte_ranges=args.byte_ranges, range_fault=args.range_fault, fmp4_map=args.fmp4_map,
        notify_url=args.notify_url, notify_domain=args.notify_domain,
        notify_deliveries=args.notify_deliveries)
    stack = build_stack(args.server, host=args.host, port=args.port, origin=origin,
                        domains=tuple(args.domain), root=args.root, buckets=tuple(args.bucket))

    def ready() -> None:
        stack.wire()
        info = stack.info()
        if args.json:
            _print_json(info)
        else:
            for name, srv in stack.servers.items():
                print(f"{name:8s} {srv.url}")
            for cred, names in ((stack.live_credential, ("ALIBABA_CLOUD_ACCESS_KEY_ID",
                                                         "ALIBABA_CLOUD_ACCESS_KEY_SECRET")),
                                (stack.oss_credential, ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET"))):
                if cred is not None and cred.generated:
                    print(f"  export {names[0]}={cred.access_key_id}")
                    print(f"  export {names[1]}={cred.access_key_secret}")
                elif cred is not None:
                    print(f"  credentials from {names[0]} / {names[1]}")
            print("Ctrl-C stops " + ("them" if len(stack.servers) > 1 else "it"))
        sys.stdout.flush()

    serve_forever(list(stack.servers.values()), ready)
    return 0


def _add_sim(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="run local servers for tests and demos",
                       epilog=EPILOG_SIM, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run a local stand-in of the service on loopback.")
    which = p.add_subparsers(dest="server", required=True, metavar="SERVER",
                             parser_class=_Parser)
    for name, text in (("origin", "the time-shift origin (playlists, segments, timeline)"),
                       ("liveapi", "the Live OpenAPI (signature checks, recording actions)"),
                       ("oss", "an OSS-protocol object store (oss2 works against it unmodified)"),
                       ("all", "every local server")):
        s = which.add_parser(name, help=text, epilog=EPILOG_SIM,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
        s.add_argument("--port", type=int, default=0, help="port (default: a free one)")
        s.add_argument("--samples", type=Path, default=None,
                       help="folder of .ts segments to cycle (default: the bundled samples)")
        s.add_argument("--history", default="24h",
                       help="how much past the stream has (default 24h)")
        s.add_argument("--latency", type=float, default=0.0, metavar="SECONDS",
                       help="added to every answer")
        s.add_argument("--bandwidth", type=float, default=None, metavar="BYTES_PER_S",
                       help="per-connection bandwidth")
        s.add_argument("--gaps", metavar="A-B,C-D",
                       help="seconds after the stream's start with no data")
        s.add_argument("--fail-rate", type=float, default=0.0, help="chance of a 503")
        s.add_argument("--truncate-rate", type=float, default=0.0,
                       help="chance a segment body stops half-way")
        s.add_argument("--no-program-date-time", action="store_true",
                       help="leave #EXT-X-PROGRAM-DATE-TIME out of playlists")
        s.add_argument("--seed", type=int, default=None, help="seed for the fault dice")
        s.add_argument("--encrypt", choices=("aes-128", "sample-aes"), default=None,
                       help="origin: encrypt segments with AES-128 under keys it serves; "
                            "sample-aes only writes METHOD=SAMPLE-AES (to test refusals)")
        s.add_argument("--iv", choices=("sequence", "explicit"), default="sequence",
                       help="origin: AES-128 IVs from the media sequence number (default) "
                            "or written in the playlist")
        s.add_argument("--key-rotation", type=int, default=0, metavar="N",
                       help="origin: a new AES-128 key every N segments (default 0: one key)")
        s.add_argument("--key-length", type=int, default=16, metavar="BYTES",
                       help="origin: bytes per served key (not 16 tests a client's check)")
        s.add_argument("--byte-ranges", type=int, default=0, metavar="N",
                       help="origin: N segments per resource, listed with #EXT-X-BYTERANGE "
                            "(Range requests answered 206)")
        s.add_argument("--range-fault", choices=("ignore", "wrong"), default=None,
                       help="origin: answer Range requests 200 with the whole resource, or "
                            "206 with the range one byte late")
        s.add_argument("--fmp4-map", action="store_true",
                       help="origin: write #EXT-X-MAP into playlists (the form only; segments "
                            "stay MPEG-TS)")
        s.add_argument("--unsigned-uris", action="store_true",
                       help="origin, with --auth-type: check signatures but write segment and "
                            "key URIs unsigned (the client signs them)")
        s.add_argument("--notify-url", metavar="URL",
                       help="origin: send publish / publish_done callbacks here when a "
                            "session (the stretch between --gaps) starts or ends")
        s.add_argument("--notify-domain", metavar="HOST",
                       help="origin: the domain the callbacks name (default its host:port)")
        s.add_argument("--notify-deliveries", type=int, default=1, metavar="N",
                       help="origin: deliver each callback N times, as the service's retries "
                            "do when an answer is lost (default 1)")
        _add_signing_options(s)
        s.add_argument("--root", type=Path, default=None, metavar="DIR",
                       help="where liveapi's index files and oss's objects are kept "
                            "(default: a new temporary folder)")
        s.add_argument("--bucket", action="append", default=[], metavar="NAME",
                       help="oss: make this bucket at start (repeatable)")
        s.add_argument("--domain", action="append", default=[], metavar="HOST",
                       help="liveapi: a play domain it knows (repeatable; default play.example.com)")
        s.add_argument("--json", action="store_true", help="print the endpoints as JSON")
        s.set_defaults(func=cmd_sim)


# ---------------------------------------------------------------------------
# timeshift callbacks

EPILOG_CALLBACKS = """examples:
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


def _default_queue() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "timeshift" / "callbacks.sqlite"


def _callback_secret(args: argparse.Namespace) -> str | None:
    secret = os.environ.get(args.secret_env)
    if not secret and args.secret_env != SECRET_ENV:
        raise UsageError(f"environment variable {args.secret_env} is not set or empty",
                         option="--secret-env")
    return secret or None


def cmd_callbacks_serve(args: argparse.Namespace) -> int:
    from .callbacks.rules import load_rules
    from .callbacks.runners import load_runner
    from .callbacks.security import parse_networks
    from .callbacks.server import ReceiverConfig, ReceiverServer
    from .callbacks.worker import timeline_resolver
    from .sim.server import serve_forever

    try:
        lookback = int(parse_duration(args.timeline_lookback) // NS_PER_S)
    except UsageError as exc:
        raise exc.with_option("--timeline-lookback") from None
    cfg = ReceiverConfig(rules=load_rules(args.rules), allow=parse_networks(args.allow),
                         secret=_callback_secret(args), secret_param=args.secret_param,
                         rate=args.rate, burst=args.burst, max_attempts=args.max_attempts)
    server = ReceiverServer(cfg, args.queue, load_runner(args.runner),
                            resolver=timeline_resolver(lookback=lookback), host=args.host,
                            port=args.port)
    if args.host not in ("127.0.0.1", "::1", "localhost") and not (cfg.allow or cfg.secret):
        log.warning("listening on %s with neither --allow nor %s: anyone who reaches it can "
                    "queue archive jobs", args.host, args.secret_env)

    def ready() -> None:
        info = {"url": server.url, "queue": str(args.queue), "runner": args.runner,
                "secret": bool(cfg.secret), "allow": [str(n) for n in cfg.allow]}
        if args.json:
            _print_json(info)
        else:
            print(f"receiver {server.url}  (GET /publish, POST /record, GET /on-demand)")
            print(f"  queue {args.queue}, runner {args.runner}, secret "
                  f"{'required' if cfg.secret else 'off'}, allow "
                  f"{', '.join(info['allow']) or 'any source'}")
            print("Ctrl-C stops it")
        sys.stdout.flush()

    serve_forever([server], ready)
    return 0


def cmd_callbacks_jobs(args: argparse.Namespace) -> int:
    from .callbacks.queue import JobQueue

    if not args.queue.exists():
        raise UsageError(f"{args.queue} does not exist (no receiver has used it)",
                         option="--queue")
    queue = JobQueue(args.queue)
    try:
        jobs = queue.jobs(args.state)
    finally:
        queue.close()
    if args.json:
        _print_json([j.to_dict() for j in jobs])
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
    from .callbacks.register import register_callbacks
    from .openapi.live import LiveApi

    if args.on_demand_url and not args.record_notify_url:
        raise UsageError("the on-demand URL is part of the recording callback; give "
                         "--record-notify-url as well", option="--on-demand-url")
    out = register_callbacks(
        LiveApi(_live_client(args)), args.domain, args.notify_url,
        record_notify_url=args.record_notify_url, on_demand_url=args.on_demand_url,
        need_status_notify=args.need_status_notify, secret=_callback_secret(args),
        secret_param=args.secret_param)
    if args.json:
        _print_json(out)
    else:
        for key in ("notify_url", "record_notify_url", "on_demand_url"):
            if out[key]:
                print(f"{key.replace('_', ' ')}: {out[key]}")
    return 0


def _add_callbacks(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser("callbacks", help="receive the service's callbacks and archive by them",
                       epilog=EPILOG_CALLBACKS, formatter_class=fmt)
    cb = p.add_subparsers(dest="callbacks_command", required=True,
                          metavar="serve|jobs|register", parser_class=_Parser)

    def secret_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--secret-env", default=SECRET_ENV, metavar="NAME",
                       help=f"the shared secret's environment variable (default {SECRET_ENV}; "
                            "unset: no secret)")
        q.add_argument("--secret-param", default="token", metavar="NAME",
                       help="the query parameter that carries it (default token)")

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
    s.add_argument("--rate", type=float, default=10.0,
                   help="requests per second per source address (default 10)")
    s.add_argument("--burst", type=int, default=30, help="burst per source address (default 30)")
    s.add_argument("--max-attempts", type=int, default=3, help="tries per job (default 3)")
    s.add_argument("--timeline-lookback", default="6h", metavar="DURATION",
                   help="how far back the timeline is searched for a session's start when "
                        "its publish was not seen (default 6h)")
    s.add_argument("--json", action="store_true", help="print the endpoint as JSON")
    s.set_defaults(func=cmd_callbacks_serve)

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
    _add_api_options(r)
    r.set_defaults(func=cmd_callbacks_register)


# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="timeshift",
        description="Time-shifted HLS from ApsaraVideo Live: replay URLs, timelines, clips.")
    parser.add_argument("--version", action="version", version=f"timeshift {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for add in (_add_demo, _add_clip, _add_archive, _add_url, _add_timeline, _add_openapi,
                _add_sim, _add_callbacks):
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    if args.verbose < 2:
        # Retries are reported by timeshift itself; urllib3's per-retry warnings are noise.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        # oss2 logs every error it raises; the archiver retries and reports them itself.
        logging.getLogger("oss2").setLevel(logging.CRITICAL)
    for flag in getattr(args, "required_unless_parse", ()):
        if not args.parse and not getattr(args, flag[2:].replace("-", "_")):
            parser.exit(2, f"timeshift {args.command}: error: the argument {flag} is required "
                           f"(see timeshift {args.command} --help)\n")
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except TimeshiftError as exc:
        if getattr(args, "json", False) and exc.exit_code != 2:
            _print_json(exc.to_dict())
        print(f"timeshift {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("timeshift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
