"""Options shared by several commands, defined once, and turning them into values."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from ..auth import AUTH_TYPES, Signer
from ..errors import TimeshiftError, UsageError
from ..redact import register_secret_names
from ..times import NS_PER_S, parse_time

#: The library's field names (its parameters) -> this CLI's flags: the one place where
#: values become flags. A field missing here is its flag with dashes
#: (``time_format`` -> ``--time-format``). A command whose flag for a field differs
#: from this (``url --parse``, ``url --vodend``) passes ``overrides`` in ``args.flags``.
FLAGS: dict[str, str] = {
    "output": "-o",
    "template": "--prefix",
    "index_template": "--index",
    "oss_bucket": "--bucket",
    "oss_object": "--object",
    "command": "COMMAND",
    "params": "PARAMS",
    "allowed_hosts": "--allow-host",
    "max_segment_bytes": "--max-segment-size",
    "max_bytes_in_flight": "--max-in-flight",
    "deadline": "--segment-deadline",
}


def flag_for(field: str, overrides: Mapping[str, str] | None = None) -> str:
    """The flag a library field is given with on this command line."""
    if overrides and field in overrides:
        return overrides[field]
    return FLAGS.get(field) or "--" + field.replace("_", "-")


def error_text(exc: TimeshiftError, overrides: Mapping[str, str] | None = None) -> str:
    """An error as the CLI's one line: a usage error names the flag, not the field."""
    if isinstance(exc, UsageError) and exc.field and not exc.given_option:
        return f"{flag_for(exc.field, overrides)}: {exc.message}"
    return str(exc)


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the flag and what is expected, then exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")




def add_stream_options(p: argparse.ArgumentParser, *, required: bool = True,
                        scheme: bool = True) -> None:
    p.add_argument("--domain", required=required, metavar="HOST[:PORT]",
                   help="the play domain (a port is allowed)")
    p.add_argument("--app", required=required, help="the application name")
    p.add_argument("--stream", required=required, help="the stream name")
    if scheme:  # the play domain's scheme; OpenAPI commands have their own --scheme
        p.add_argument("--scheme", choices=("http", "https"), default="https",
                       help="default: https")
        # api (issue 16): transcoded streams are named {stream}_{template} (SPEC §8)
        p.add_argument("--template", metavar="ID",
                       help="the transcoded stream {stream}_{ID} (e.g. lld); needs time-shift "
                            "on transcodes (timeshift shift enable --with-transcodes)")


def add_signing_options(p: argparse.ArgumentParser) -> None:
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


def signer_from_args(args: argparse.Namespace) -> Signer | None:
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
        register_secret_names(names[0])  # its values are signatures: hidden in logs and errors
    return Signer(args.auth_type, key, ttl=args.auth_ttl, uid=args.auth_uid,
                  rand=None if args.auth_rand == "uuid" else args.auth_rand,
                  c_form=args.auth_c_form, param_names=names)


def parse_time_option(value: str, option: str) -> int:
    try:
        return parse_time(value)
    except UsageError as exc:
        raise exc.with_option(option) from None


def add_api_options(p: argparse.ArgumentParser, *, prefix: str = "") -> None:
    # Commands that also name an OSS endpoint (archive) take the API's as --api-endpoint.
    g = p.add_argument_group("OpenAPI")
    g.add_argument(f"--{prefix}endpoint", dest="api_endpoint", default="live.aliyuncs.com",
                   metavar="HOST[:PORT]", help="API endpoint (default live.aliyuncs.com)")
    g.add_argument(f"--{prefix}scheme", dest="api_scheme",
                   choices=("http", "https"), default="https")
    g.add_argument(f"--{prefix}region", dest="api_region", default=None,
                   help="RegionId, e.g. cn-shanghai")
    g.add_argument("--profile", default=None, help="credentials profile name")
    g.add_argument("--signature-version", choices=("v3", "v2"), default="v3",
                   help="ACS3-HMAC-SHA256 headers (v3, default, as today's SDKs) or HMAC-SHA1 "
                        "in the query (v2)")
    g.add_argument("--json", action="store_true", help="print JSON")


def live_client(args: argparse.Namespace) -> Any:
    from ..openapi.client import LiveClient
    from ..openapi.credentials import resolve_credentials

    return LiveClient(resolve_credentials(profile=args.profile), endpoint=args.api_endpoint,
                      scheme=args.api_scheme, region=args.api_region,
                      signature_version=getattr(args, "signature_version", "v3"))


def key_values(pairs: list[str]) -> dict[str, str]:
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


def unix_s_option(value: str, option: str) -> int:
    return parse_time_option(value, option) // NS_PER_S


MIB = 1024 * 1024


def add_limit_options(p: argparse.ArgumentParser) -> None:
    """The fetcher's limits a user may need to raise (README, "Limits")."""
    g = p.add_argument_group("limits", "bounds against hostile or broken origins")
    g.add_argument("--max-segment-size", type=float, default=64, metavar="MIB",
                   help="refuse a segment larger than this (default 64 MiB)")
    g.add_argument("--max-in-flight", type=float, default=512, metavar="MIB",
                   help="bytes being fetched and not yet written, all segments (default 512 MiB)")
    g.add_argument("--min-rate", type=float, default=4, metavar="KIB/S",
                   help="a transfer slower than this after 10 s is retried (default 4; 0: off)")
    g.add_argument("--attempt-timeout", type=float, default=120, metavar="SECONDS",
                   help="one request, headers and body (default 120)")
    g.add_argument("--segment-deadline", type=float, default=900, metavar="SECONDS",
                   help="one segment with all its retries (default 900)")
    g.add_argument("--max-playlist-segments", type=int, default=100_000, metavar="N",
                   help="refuse a playlist listing more segments (default 100000)")


def check_limit_args(args: argparse.Namespace) -> None:
    """The shared limit flags, each checked and named by its flag (without importing the
    fetcher: a re-run of finished archives checks them and fetches nothing).

    Raises:
        UsageError: a flag out of range.
    """
    checks = (("--max-segment-size", args.max_segment_size > 0),
              ("--max-in-flight", args.max_in_flight > 0),
              ("--min-rate", args.min_rate >= 0),
              ("--attempt-timeout", args.attempt_timeout > 0),
              ("--segment-deadline", args.segment_deadline > 0),
              ("--max-playlist-segments", args.max_playlist_segments > 0))
    for flag, ok in checks:
        if not ok:
            raise UsageError("expected a positive number", option=flag)


def fetch_options_from_args(args: argparse.Namespace, concurrency: int) -> Any:
    """FetchOptions from the shared limit flags (each checked, named by its flag)."""
    from ..fetch import FetchOptions

    check_limit_args(args)
    return FetchOptions(concurrency=concurrency,
                        max_segment_bytes=int(args.max_segment_size * MIB),
                        max_bytes_in_flight=int(args.max_in_flight * MIB),
                        min_rate=args.min_rate * 1024, attempt_timeout=args.attempt_timeout,
                        deadline=args.segment_deadline,
                        max_playlist_segments=args.max_playlist_segments)
