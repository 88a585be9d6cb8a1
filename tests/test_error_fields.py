"""Errors speak in values, the CLI in flags: the library names the field at fault, and the
CLI's one table (cli/options.py FLAGS) shows it as the flag the user typed."""

from __future__ import annotations

import subprocess
import sys

import pytest

from timeshift.archive import ArchiveJob, KeyTemplate
from timeshift.cli.options import FLAGS, error_text, flag_for
from timeshift.errors import (
    CutError,
    FfmpegError,
    MediaError,
    TimeshiftError,
    UsageError,
    VerificationError,
)
from timeshift.remux import FfmpegError as RemuxFfmpegError


@pytest.mark.parametrize(("make", "field", "flag"), [
    pytest.param(lambda: KeyTemplate("{AppName}.ts").require_per_segment("template"),
                 "template", "--prefix", id="segment-template"),
    pytest.param(lambda: ArchiveJob("d", "a", "s", 10, 5), "end", "--end", id="job-window"),
    pytest.param(lambda: ArchiveJob("", "a", "s", 1, 5), "domain", "--domain", id="job-domain"),
])
def test_library_errors_name_the_field_and_the_cli_the_flag(make, field: str, flag: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(UsageError) as info:
        make()
    assert info.value.field == field and info.value.to_dict()["field"] == field
    assert str(info.value).startswith(f"{field}: ")
    assert error_text(info.value).startswith(f"{flag}: ")


def test_the_flag_table() -> None:
    assert flag_for("output") == "-o" and flag_for("index_template") == "--index"
    assert flag_for("time_format") == "--time-format"  # no entry needed: the convention
    assert flag_for("url", {"url": "--parse"}) == "--parse"
    assert all(v.startswith("-") or v.isupper() for v in FLAGS.values())
    # An error the CLI raised with its own flag keeps it.
    assert error_text(UsageError("bad", option="--auth-type")) == "--auth-type: bad"


@pytest.mark.parametrize(("argv", "prefix"), [
    pytest.param(["url", "--parse", "ftp://h/a/s.m3u8"], "--parse: ", id="url-parse"),
    pytest.param(["url", "--domain", "d", "--app", "a", "--stream", "s", "--start", "10",
                  "--vodend", "5"], "--vodend: ", id="vod-end"),
    pytest.param(["archive", "--domain", "d", "--app", "a", "--stream", "s", "--start", "1",
                  "--end", "2", "--prefix", "{AppName}.ts", "--bucket", "bkt", "--endpoint", "e"],
                 "--prefix: ", id="archive-template"),
])
def test_cli_shows_the_flag(argv: list[str], prefix: str) -> None:
    r = subprocess.run([sys.executable, "-m", "timeshift", *argv], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert r.stderr.split(": error: ", 1)[1].startswith(prefix), r.stderr


def test_media_errors_share_a_parent() -> None:
    assert RemuxFfmpegError is FfmpegError
    for err in (CutError("x"), FfmpegError(1, "boom"), VerificationError("o", 1.0, 2.0, 0.04)):
        assert isinstance(err, MediaError) and isinstance(err, TimeshiftError)
        assert err.exit_code == 1
    assert FfmpegError(1, "a\nb").to_dict()["returncode"] == 1
