"""Where batches of archive jobs come from: a jobs file, an earlier report, or the publish list.

A jobs file is JSON Lines (one object a line) or CSV with a header, with the fields
``domain, app, stream, start, end`` and optionally ``bucket, endpoint, prefix, index``
(``prefix`` and ``index`` are key templates). Times take any form ``--start`` takes.
The ``--json`` report of an earlier run is also a jobs file: its failed jobs are read
back, so ``timeshift archive --jobs report.json`` re-runs exactly what failed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..times import NS_PER_S, parse_time
from ..window import Window
from .model import ArchiveJob
from .template import DEFAULT_INDEX_TEMPLATE, DEFAULT_SEGMENT_TEMPLATE

if TYPE_CHECKING:
    from ..openapi.live import PublishInfo

__all__ = ["jobs_from_publish_list", "load_jobs", "parse_jobs"]

_FIELDS = ("domain", "app", "stream", "start", "end")
_OPTIONAL = ("bucket", "endpoint", "prefix", "index", "template", "index_template")
MAX_JOBS_FILE = 64 * 1024 * 1024


def _job(row: dict[str, Any], where: str) -> ArchiveJob:
    missing = [f for f in _FIELDS if not str(row.get(f) or "").strip()]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)}", field="jobs")
    unknown = sorted(set(row) - set(_FIELDS) - set(_OPTIONAL) - {"job_id"})
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}; known: "
                         f"{', '.join(_FIELDS + _OPTIONAL)}", field="jobs")
    try:
        start, end = parse_time(str(row["start"])), parse_time(str(row["end"]))
        return ArchiveJob(
            domain=str(row["domain"]).strip(), app=str(row["app"]).strip(),
            stream=str(row["stream"]).strip(), start=start, end=end,
            bucket=str(row.get("bucket") or "").strip(),
            endpoint=str(row.get("endpoint") or "").strip(),
            template=str(row.get("prefix") or row.get("template") or DEFAULT_SEGMENT_TEMPLATE),
            index_template=str(row.get("index") or row.get("index_template")
                               or DEFAULT_INDEX_TEMPLATE))
    except UsageError as exc:
        raise UsageError(f"{where}: {exc.message}", field="jobs") from None


def parse_jobs(text: str, name: str = "jobs") -> list[ArchiveJob]:
    """Jobs from the text of a JSONL, CSV or ``--json`` report file.

    Raises:
        UsageError: a malformed line or row (the message names it).
    """
    stripped = text.lstrip()
    if stripped.startswith("{") and '"jobs"' in stripped[:4096]:
        try:
            report = json.loads(text)
        except ValueError:
            report = None
        if isinstance(report, dict) and isinstance(report.get("jobs"), list):
            return [_job(j["job"], f"{name}: job {j.get('job_id', i)}")
                    for i, j in enumerate(report["jobs"], 1)
                    if isinstance(j, dict) and j.get("status") != "ok" and isinstance(j.get("job"), dict)]
    if stripped.startswith("{"):
        jobs = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{name} line {n}: not JSON ({exc.args[0]})", field="jobs") from None
            if not isinstance(row, dict):
                raise UsageError(f"{name} line {n}: expected an object", field="jobs")
            jobs.append(_job(row, f"{name} line {n}"))
        return jobs
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not set(_FIELDS) <= {f.strip() for f in reader.fieldnames}:
        raise UsageError(f"{name}: not JSON Lines, and not CSV with a header naming "
                         f"{', '.join(_FIELDS)}", field="jobs")
    return [_job({k.strip(): v for k, v in row.items() if k and v not in (None, "")},
                 f"{name} row {n}") for n, row in enumerate(reader, 2)]


def load_jobs(path: Path) -> list[ArchiveJob]:
    """Jobs from a file (see :func:`parse_jobs`); ``-`` is not accepted, a file is re-runnable."""
    try:
        if path.stat().st_size > MAX_JOBS_FILE:
            raise UsageError(f"{path} is over {MAX_JOBS_FILE >> 20} MiB", field="jobs")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", field="jobs") from None
    return parse_jobs(text, path.name)


def jobs_from_publish_list(sessions: Iterable[PublishInfo], *, domain: str, start: int,
                           end: int) -> list[ArchiveJob]:
    """One job per publishing session, cut to ``[start, end)`` (ns); sessions still live end at ``end``.

    Sessions of one stream that touch or overlap are joined, so a stream that
    reconnected is archived as one recording (its gaps are reported inside it).
    """
    lo, hi = Window(start, end).unix
    spans: dict[tuple[str, str], list[list[int]]] = {}
    for s in sorted(sessions, key=lambda s: (s.app, s.stream, s.start)):
        a, b = max(s.start, lo), min(s.end if s.end is not None else hi, hi)
        if b <= a:
            continue
        runs = spans.setdefault((s.app, s.stream), [])
        if runs and a <= runs[-1][1]:
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    return [ArchiveJob(domain=domain, app=app, stream=stream, start=max(a * NS_PER_S, start),
                       end=min(b * NS_PER_S, end))
            for (app, stream), runs in sorted(spans.items()) for a, b in runs]
