"""``timeshift archive``: windows copied into OSS as playable HLS recordings."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..partfiles import write_whole
from ..times import NS_PER_S, TIME_HELP, parse_duration
from .options import (
    add_api_options,
    add_limit_options,
    add_signing_options,
    add_stream_options,
    check_limit_args,
    fetch_options_from_args,
    live_client,
    parse_time_option,
    signer_from_args,
)
from .render import ArchiveProgress, format_archive, print_json

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
  timeshift archive ... --start now-10m --end now+5m --wait   # wait for the live edge, then archive

jobs file: JSON Lines {"domain":..,"app":..,"stream":..,"start":..,"end":..[,"bucket","endpoint","prefix","index"]}
or CSV with a header naming those fields.
exit codes: 0 every job succeeded, 1 a job failed (the report says which), 2 bad input
"""


def _archive_jobs(args: argparse.Namespace) -> list[Any]:
    from ..archive import ArchiveJob, jobs_from_publish_list, load_jobs

    sources = sum(bool(x) for x in (args.jobs, args.from_publish_list, args.stream))
    if sources != 1:
        raise UsageError("give one of --stream (one job), --jobs FILE or --from-publish-list",
                         option="--jobs")
    if args.jobs:
        jobs = load_jobs(args.jobs)
    elif args.from_publish_list:
        from ..openapi.live import LiveApi

        if not (args.domain and args.start and args.end):
            raise UsageError("--from-publish-list needs --domain, --start and --end",
                             option="--from-publish-list")
        start, end = parse_time_option(args.start, "--start"), parse_time_option(args.end, "--end")
        sessions = LiveApi(live_client(args)).iter_publish_list(
            args.domain, start=start // NS_PER_S, end=-(-end // NS_PER_S), app=args.app)
        jobs = jobs_from_publish_list(sessions, domain=args.domain, start=start, end=end)
    else:
        if not (args.domain and args.app and args.start and args.end):
            raise UsageError("one job needs --domain, --app, --stream, --start and --end",
                             option="--domain")
        jobs = [ArchiveJob(domain=args.domain, app=args.app, stream=args.stream,
                           start=parse_time_option(args.start, "--start"), end=parse_time_option(args.end, "--end"))]
    return [j.with_defaults(bucket=args.bucket or "", endpoint=args.endpoint or "",
                            template=args.prefix or "", index_template=args.index or "")
            for j in jobs]


def _edge_policy(wait: str | None) -> Any:
    """--wait: None (not given), "" (given bare: the default bound) or a duration."""
    if wait is None:
        return None
    from ..edge import EdgePolicy  # only here: it loads the playlist module and m3u8
    try:
        return EdgePolicy(wait=parse_duration(wait) / NS_PER_S if wait else None)
    except UsageError as exc:
        raise exc.with_option("--wait") from None


def _check_counts(args: argparse.Namespace) -> None:
    if not 1 <= args.segment_concurrency <= 256:
        raise UsageError("expected 1 to 256", option="--segment-concurrency")
    if not 1 <= args.uploads <= 64:
        raise UsageError("expected 1 to 64", option="--uploads")


def _checked_args(args: argparse.Namespace, jobs: list[Any], spec: Any) -> tuple[Any, Any]:
    """Every flag and job of a copy checked before anything runs (bad input: exit 2);
    returns the --wait policy and the URL signer."""
    from ..archive.destination import check_jobs

    _check_counts(args)
    check_limit_args(args)
    signer = signer_from_args(args)
    edge = _edge_policy(args.wait)
    if edge is not None:
        from ..edge import check_horizon
        from ..times import now_ns

        for j in jobs:
            check_horizon(j.start, j.end, now_ns(), edge.horizon)
    check_jobs(jobs, spec)
    return edge, signer


def _run_copies(args: argparse.Namespace, jobs: list[Any], spec: Any,
                progress: ArchiveProgress) -> list[Any]:
    """Copy the jobs' windows; a re-run first asks the bucket which jobs are finished,
    through a light reader (no oss2, aiohttp or PyAV), and runs only the others."""
    from ..archive.destination import oss_credentials

    jobs = list({j.job_id: j for j in jobs}.values())
    edge, signer = _checked_args(args, jobs, spec)
    finished: dict[str, Any] = {}
    unfinished: frozenset[str] = frozenset()
    if args.executor == "local" and jobs:
        oss_credentials()  # missing credentials are bad input (Dask workers have their own)
        if not (args.force or args.verify):
            from ..archive.committed import confirm_finished

            asked = confirm_finished(jobs, spec, concurrency=args.concurrency,
                                     progress=progress)
            finished, unfinished = dict(asked.finished), asked.unfinished
            for r in finished.values():
                progress.job_done(r)
    rest = [j for j in jobs if j.job_id not in finished]
    ran: dict[str, Any] = {}
    if rest:
        from ..archive import ArchiveOptions, run_jobs

        options = ArchiveOptions(
            scheme=args.scheme, signer=signer,
            allowed_hosts=tuple(args.allow_host),
            fetch=fetch_options_from_args(args, args.segment_concurrency), uploads=args.uploads,
            cache_dir=args.cache_dir, verify=args.verify, force=args.force, edge=edge)
        ran = {r.job.job_id: r for r in run_jobs(
            rest, options=options, executor=args.executor, concurrency=args.concurrency,
            attempts=args.attempts, store=spec, progress=progress,
            on_result=progress.job_done, checked=unfinished)}
    return [finished.get(j.job_id) or ran[j.job_id] for j in jobs]


def cmd_archive(args: argparse.Namespace) -> int:
    from ..archive.destination import StoreSpec
    from ..archive.model import summary

    jobs = _archive_jobs(args)
    spec = StoreSpec(region=args.oss_region, signing=args.oss_signing)
    progress = ArchiveProgress(args.progress, len(jobs))
    if args.server_side:
        _check_counts(args)
        for j in jobs:
            spec.check(j)
        from ..archive.serverside import archive_server_side
        from ..openapi.live import LiveApi

        live = LiveApi(live_client(args))
        results = []
        for j in jobs:
            results.append(archive_server_side(j, live, spec.open(j)))
            progress.job_done(results[-1])
    else:
        results = _run_copies(args, jobs, spec, progress)
    totals = summary(results)
    report = {"summary": totals, "jobs": [r.to_dict() for r in results]}
    if args.report:
        write_whole(args.report, (json.dumps(report, indent=2, ensure_ascii=False) + "\n")
                    .encode())
    if args.json:
        print_json(report)
    else:
        print(format_archive(results, totals))
    return 0 if totals["failed"] == 0 else 1


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "archive", help="copy streams' windows into OSS as playable HLS recordings",
        epilog=EPILOG_ARCHIVE, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Archive time-shift windows into your own OSS bucket: segments under a key "
                    "template, then a manifest, then the index m3u8 last. Re-runs skip what is "
                    f"already there (size and CRC-64). Times: {TIME_HELP}.")
    add_stream_options(p, required=False)
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
    run.add_argument("--wait", nargs="?", const="", default=None, metavar="DURATION",
                     help="a window reaching past what the stream has published (the live "
                          "edge) waits for it, up to DURATION past its end (default: three "
                          "target durations), instead of archiving what exists and marking "
                          "the job Retry")
    run.add_argument("--allow-host", action="append", default=[], metavar="HOST",
                     help="also fetch segments from HOST (repeatable)")
    run.add_argument("--cache-dir", type=Path, default=None,
                     help="segment cache, so a re-run after a crash does not download again")
    run.add_argument("--progress", choices=("auto", "lines", "jsonl", "none"), default="auto",
                     help="progress on stderr (auto: lines on a terminal)")
    run.add_argument("--report", type=Path, metavar="FILE",
                     help="also write the JSON report to FILE (re-run failures with --jobs FILE)")
    add_signing_options(p)
    add_limit_options(p)
    add_api_options(p, prefix="api-")
    p.set_defaults(func=cmd_archive)


