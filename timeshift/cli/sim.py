"""``timeshift sim``: the local origin, Live API and OSS servers."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import UsageError
from ..times import NS_PER_S, parse_duration
from .options import Parser, add_signing_options, signer_from_args
from .render import print_json

EPILOG_SIM = """examples:
  timeshift sim origin --port 8080
  timeshift sim origin --latency 0.04 --gaps 60-90 --fail-rate 0.1
  timeshift sim origin --history 0 --gaps 30-60 --notify-url http://127.0.0.1:8090/publish
  AUTH_KEY=secret timeshift sim origin --auth-type A --auth-key-env AUTH_KEY
  timeshift sim origin --encrypt aes-128 --key-rotation 10 --iv explicit
  timeshift sim origin --byte-ranges 5
"""




def _notify_key(args: argparse.Namespace) -> str | None:
    """api (issue 16): the NotifyAuthKey the origin signs its callbacks with, from the environment."""
    if not args.notify_auth_key_env:
        return None
    key = os.environ.get(args.notify_auth_key_env)
    if not key:
        raise UsageError(f"environment variable {args.notify_auth_key_env} is not set or empty",
                         option="--notify-auth-key-env")
    return key


def cmd_sim(args: argparse.Namespace) -> int:
    from ..localserver import serve_forever
    from ..sim.origin import DEFAULT_SAMPLES, OriginConfig, parse_gaps
    from ..sim.stack import build_stack

    origin = OriginConfig(
        samples=args.samples or DEFAULT_SAMPLES, latency=args.latency,
        gaps=parse_gaps(args.gaps or ""), bandwidth=args.bandwidth, fail_rate=args.fail_rate,
        truncate_rate=args.truncate_rate, signer=signer_from_args(args),
        program_date_time=not args.no_program_date_time,
        history=parse_duration(args.history) / NS_PER_S, seed=args.seed,
        sign_uris=not args.unsigned_uris, encryption=args.encrypt, iv=args.iv,
        key_rotation=args.key_rotation, key_length=args.key_length,
        byte_ranges=args.byte_ranges, range_fault=args.range_fault, fmp4_map=args.fmp4_map,
        notify_url=args.notify_url, notify_domain=args.notify_domain,
        notify_deliveries=args.notify_deliveries, notify_auth_key=_notify_key(args))
    stack = build_stack(args.server, host=args.host, port=args.port, origin=origin,
                        domains=tuple(args.domain), root=args.root, buckets=tuple(args.bucket))

    def ready() -> None:
        stack.wire()
        info = stack.info()
        if args.json:
            print_json(info)
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


def add(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("sim", help="run local servers for tests and demos",
                       epilog=EPILOG_SIM, formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Run a local stand-in of the service on loopback.")
    which = p.add_subparsers(dest="server", required=True, metavar="SERVER",
                             parser_class=Parser)
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
        s.add_argument("--notify-auth-key-env", metavar="NAME",
                       help="origin: sign the callbacks (ALI-LIVE-SIGNATURE, SPEC 5a) with the "
                            "NotifyAuthKey in this environment variable")
        add_signing_options(s)
        s.add_argument("--root", type=Path, default=None, metavar="DIR",
                       help="where liveapi's index files and oss's objects are kept "
                            "(default: a new temporary folder)")
        s.add_argument("--bucket", action="append", default=[], metavar="NAME",
                       help="oss: make this bucket at start (repeatable)")
        s.add_argument("--domain", action="append", default=[], metavar="HOST",
                       help="liveapi: a play domain it knows (repeatable; default play.example.com)")
        s.add_argument("--json", action="store_true", help="print the endpoints as JSON")
        s.set_defaults(func=cmd_sim)


