"""``timeshift api | index | record``: the Live OpenAPI."""

from __future__ import annotations

import argparse

from ..times import NS_PER_S, format_iso
from .options import (
    Parser,
    add_api_options,
    add_stream_options,
    key_values,
    live_client,
    unix_s_option,
)
from .render import print_json

EPILOG_API = """credentials come from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET
(and ALIBABA_CLOUD_SECURITY_TOKEN), else ~/.alibabacloud/credentials (--profile), else
~/.aliyun/config.json; never from the command line.

examples:
  timeshift api call DescribeLiveStreamRecordIndexFiles DomainName=play.example.com AppName=live \\
      StreamName=cam1 StartTime=2026-11-20T00:00:00Z EndTime=2026-11-21T00:00:00Z
  timeshift api sign DescribeLiveStreamsOnlineList DomainName=play.example.com --nonce n1 --timestamp 2026-11-21T06:00:00Z
  timeshift index list --domain play.example.com --app live --stream cam1 --start now-2d --end now
  timeshift index delete --domain play.example.com --app live --stream cam1 --record-id ID --remove-file
  timeshift record start --domain play.example.com --app live --stream cam1
  timeshift api call ... --endpoint 127.0.0.1:8081 --scheme http      # against timeshift sim liveapi
"""


def cmd_api(args: argparse.Namespace) -> int:
    client = live_client(args)
    params = key_values(args.params)
    if args.api_command == "sign":
        # A URL to paste elsewhere carries its signature in the query: V2 unless V3 is asked
        # for, which prints the headers to send with the URL as well.
        url, headers, _ = client.signed_request(args.action, params, nonce=args.nonce,
                                                timestamp=args.timestamp)
        print(url)
        for name, value in headers.items():
            print(f"{name}: {value}")
        return 0
    body = client.call(args.action, **params)
    print_json(body)
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from ..openapi.live import LiveApi

    live = LiveApi(live_client(args))
    if args.index_command == "create":
        items = [live.create_record_index_files(
            args.domain, args.app, args.stream, start=unix_s_option(args.start, "--start"),
            end=unix_s_option(args.end, "--end"), oss_endpoint=args.oss_endpoint,
            oss_bucket=args.bucket, oss_object=args.object,
            end_time_included=args.end_time_included)]
    elif args.index_command == "show":
        items = [live.describe_record_index_file(args.domain, args.app, args.stream,
                                                 args.record_id[0])]
    elif args.index_command == "delete":
        rows = live.delete_record_index_files(args.domain, args.app, args.stream, args.record_id,
                                              remove_file=args.remove_file)
        if args.json:
            print_json(rows)
        else:
            for row in rows:
                print(f"{row['record_id']}  {row['message']}")
        return 0 if all(r["message"] == "OK" for r in rows) else 1
    else:
        items = list(live.iter_record_index_files(
            args.domain, args.app, args.stream, start=unix_s_option(args.start, "--start"),
            end=unix_s_option(args.end, "--end"), order=args.order))
    if args.json:
        print_json([i.to_dict() for i in items] if args.index_command == "list" else items[0].to_dict())
    else:
        for i in items:
            print(f"{i.record_id}  {format_iso(i.start * NS_PER_S)} → {format_iso(i.end * NS_PER_S)}"
                  f"  {i.duration:>8.0f} s  {i.format or '-':<5} {i.record_url}")
        if args.index_command == "list":
            print(f"{len(items)} index file(s)")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from ..openapi.live import LiveApi

    command = args.record_command.replace("-", "_")
    request_id = LiveApi(live_client(args)).real_time_record_command(
        args.domain, args.app, args.stream, command)
    if args.json:
        print_json({"command": command, "request_id": request_id})
    else:
        print(f"{command}: accepted (RequestId {request_id})")
    return 0


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    fmt = argparse.RawDescriptionHelpFormatter
    api = sub.add_parser("api", help="call or sign any Live OpenAPI action", epilog=EPILOG_API,
                         formatter_class=fmt)
    api_sub = api.add_subparsers(dest="api_command", required=True, metavar="call|sign",
                                 parser_class=Parser)
    for name in ("call", "sign"):
        a = api_sub.add_parser(name, epilog=EPILOG_API, formatter_class=fmt,
                               help="send an action" if name == "call" else
                               "print the signed URL without sending it")
        a.add_argument("action", metavar="ACTION")
        a.add_argument("params", nargs="*", metavar="Key=Value")
        if name == "sign":
            a.add_argument("--nonce", default=None, help="SignatureNonce (default: fresh)")
            a.add_argument("--timestamp", default=None, help="Timestamp, YYYY-MM-DDThh:mm:ssZ")
        add_api_options(a)
        a.set_defaults(func=cmd_api)
        if name == "sign":
            a.set_defaults(signature_version="v2")

    idx = sub.add_parser("index", help="recording index files", epilog=EPILOG_API,
                         formatter_class=fmt)
    idx_sub = idx.add_subparsers(dest="index_command", required=True,
                                 metavar="create|show|list|delete", parser_class=Parser)
    for name, text in (("create", "CreateLiveStreamRecordIndexFiles"),
                       ("show", "DescribeLiveStreamRecordIndexFile"),
                       ("list", "DescribeLiveStreamRecordIndexFiles, every page"),
                       ("delete", "DeleteLiveStreamRecordIndexFiles")):
        i = idx_sub.add_parser(name, help=text, epilog=EPILOG_API, formatter_class=fmt)
        add_stream_options(i, scheme=False)
        if name in ("create", "list"):
            i.add_argument("--start", required=True, metavar="TIME")
            i.add_argument("--end", required=True, metavar="TIME")
        if name == "create":
            i.add_argument("--oss-endpoint", required=True)
            i.add_argument("--bucket", required=True)
            i.add_argument("--object", required=True, help="the index file's object name")
            i.add_argument("--end-time-included", action="store_true",
                           help="also take the segment that holds --end (EndTimeIncluded)")
        if name == "show":
            i.add_argument("--record-id", required=True, action="append")
        if name == "delete":
            i.add_argument("--record-id", required=True, action="append",
                           help="the index file to delete (repeatable)")
            i.add_argument("--remove-file", action="store_true",
                           help="delete the index object in OSS as well (RemoveFile)")
        if name == "list":
            i.add_argument("--order", choices=("asc", "desc"), default="asc")
        add_api_options(i)
        i.set_defaults(func=cmd_index)

    rec = sub.add_parser("record", help="start or stop on-demand recording", epilog=EPILOG_API,
                         formatter_class=fmt)
    rec_sub = rec.add_subparsers(dest="record_command", required=True,
                                 metavar="start|stop|cancel-delay|restart", parser_class=Parser)
    for name in ("start", "stop", "cancel-delay", "restart"):
        r = rec_sub.add_parser(name, help=f"RealTimeRecordCommand {name.replace('-', '_')}")
        add_stream_options(r, scheme=False)
        add_api_options(r)
        r.set_defaults(func=cmd_record)


