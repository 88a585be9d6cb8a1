"""Everything the commands print: JSON on stdout, progress on stderr, text summaries."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..times import NS_PER_S, format_iso

if TYPE_CHECKING:
    from ..timeline import Timeline


def print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


class ClipProgress:
    """Renders clip progress: a one-line bar on a terminal, or one JSON object per line."""

    def __init__(self, mode: str) -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "none"
        self.mode = mode
        self._last = 0.0
        self._edge = ""  # at the live edge: what it is waiting for, shown instead of the bar

    def __call__(self, ev: Any) -> None:
        if self.mode == "jsonl":
            print(json.dumps(ev.to_dict()), file=sys.stderr, flush=True)
        elif self.mode == "bar" and (ev.kind == "edge" or self._edge) \
                and ev.kind not in ("mux", "finished"):
            # The live edge: one line that says it is waiting and how far it has recorded.
            if ev.kind == "edge":
                self._edge = ev.detail
            print(f"\r{self._edge} · {ev.segments_done}/{ev.segments_total} seg "
                  f"{ev.bytes / 1e6:.1f} MB\033[K", end="", file=sys.stderr, flush=True)
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


def format_clip(result: Any) -> str:
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
    live = d.get("live") or {}
    if live.get("cut_short"):
        lines.append(f"  CUT SHORT (Ctrl-C): recorded to {live['recorded_until_iso']}, "
                     f"asked to {live['requested_end_iso']}")
    elif live.get("followed"):
        lines.append(f"  followed the live edge: waited {live['waited']:.1f} s, "
                     f"{live['polls']} playlist reloads ({live['outcome']})")
    for g in d["gaps"]:
        lines.append(f"  GAP {g['start_iso']} → {g['end_iso']} ({g['duration']} s, {g['reason']})")
    if d["gap_report"]:
        lines.append(f"  gap report: {d['gap_report']}")
    return "\n".join(lines)


class ArchiveProgress:
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


def format_archive(results: Sequence[Any], totals: dict[str, Any]) -> str:
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


def format_timeline(tl: Timeline) -> str:
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


