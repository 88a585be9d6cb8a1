"""The ``timeshift`` command: argument parsing and output formatting only.

Every command parses its flags, calls one library function and prints text or
``--json``. :class:`~timeshift.errors.TimeshiftError` is caught in :func:`main` and
mapped to the exit code: 0 ok, 1 remote or service error, 2 bad input, 3 gaps.
"""


from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from .. import __version__
from ..errors import TimeshiftError
from ..redact import install_log_redaction
from . import archive, callbacks, clip, demo, openapi, shift, sim, studio, timeline, url
from .options import Parser, error_text
from .render import print_json


class _NotBuilt:
    """Stands in for the parser of a command that was not asked for: whatever its ``add``
    does to it is dropped (building every command's arguments costs ~10-15 ms of start-up,
    a tenth of a re-run of finished archives)."""

    def __getattr__(self, name: str) -> Callable[..., _NotBuilt]:
        return lambda *args, **kwargs: self


class _Commands(argparse._SubParsersAction):  # type: ignore[type-arg]
    only: str | None = None

    def add_parser(self, name: str, **kwargs: object) -> argparse.ArgumentParser:
        if self.only is not None and name != self.only:
            return _NotBuilt()  # type: ignore[return-value]
        parser: argparse.ArgumentParser = super().add_parser(name, **kwargs)  # type: ignore[arg-type]
        return parser


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that command's arguments are built (when
    it names one: else everything, so help and errors list every command)."""
    parser = Parser(
        prog="timeshift",
        description="Time-shifted HLS from ApsaraVideo Live: replay URLs, timelines, clips.")
    parser.add_argument("--version", action="version", version=f"timeshift {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=Parser, action=_Commands)
    assert isinstance(sub, _Commands)
    sub.only = command
    for group in (demo, clip, archive, url, timeline, openapi, shift, sim, callbacks, studio):
        group.add(sub)
    if command is not None and command not in sub.choices:
        return build_parser()
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The command a command line names: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    # Every log record is redacted as it is made, whichever library makes it (-vv shows
    # urllib3's request lines and oss2's headers): no signature, token or Authorization.
    install_log_redaction()
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
    shift.apply_template(args)  # --template: the transcoded stream {stream}_{template}
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except TimeshiftError as exc:
        if getattr(args, "json", False) and exc.exit_code != 2:
            print_json(exc.to_dict())
        print(f"timeshift {args.command}: error: {error_text(exc, getattr(args, 'flags', None))}",
              file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("timeshift: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
