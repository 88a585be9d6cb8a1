"""Callbacks from ApsaraVideo Live (SPEC §5): payload models, rules, a durable job queue and
the receiver that turns ended sessions and recording files into archive jobs.

Pure: :mod:`.models` (payloads), :mod:`.rules` (on-demand answers, archive rules),
:mod:`.jobs` (job values and identity, the runner protocol), :mod:`.security`.
I/O: :mod:`.queue` (SQLite), :mod:`.worker`, :mod:`.server` (aiohttp).
"""

from __future__ import annotations

from .jobs import JobRunner, JobSpec, SessionResolver, thread_runner
from .models import (
    OnDemandQuery,
    PublishNotify,
    RecordFileEvent,
    RecordStatusEvent,
    parse_on_demand,
    parse_publish,
    parse_record_event,
)
from .queue import Job, JobQueue
from .rules import OnDemandAnswer, Rules, load_rules, parse_rules

__all__ = [
    "Job",
    "JobQueue",
    "JobRunner",
    "JobSpec",
    "OnDemandAnswer",
    "OnDemandQuery",
    "PublishNotify",
    "RecordFileEvent",
    "RecordStatusEvent",
    "Rules",
    "SessionResolver",
    "load_rules",
    "parse_on_demand",
    "parse_publish",
    "parse_record_event",
    "parse_rules",
    "thread_runner",
]
