"""Job runners the receiver can be started with, chosen by name (``--runner``).

- ``log``: records each job as done without moving any data, to try the wiring (register,
  callbacks, queue) before archives are written;
- ``MODULE:FUNCTION``: any async callable taking a :class:`~timeshift.callbacks.jobs.JobSpec`
  and returning a JSON-ready mapping (``{"status": "failed", "error": ...}`` fails it).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any, cast

from ..errors import UsageError
from .jobs import JobRunner, JobSpec

__all__ = ["load_runner", "log_runner"]

log = logging.getLogger(__name__)


async def log_runner(job: JobSpec, /) -> Mapping[str, Any]:
    """Log the job and call it done; nothing is fetched or stored."""
    log.warning("job %s (%s %s/%s/%s %s-%s): logged only, nothing archived (--runner log)",
                job.id, job.kind, job.domain, job.app, job.stream, job.start, job.end)
    return {"status": "ok", "archived": False, "runner": "log"}


def load_runner(name: str) -> JobRunner:
    """The runner named by ``--runner``.

    Raises:
        UsageError: an unknown name, or a MODULE:FUNCTION that cannot be imported.
    """
    if name == "log":
        return log_runner
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise UsageError(f"{name!r} is neither 'log' nor MODULE:FUNCTION", option="--runner")
    try:
        target = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"cannot load {name}: {exc}", option="--runner") from None
    if not callable(target):
        raise UsageError(f"{name} is not callable", option="--runner")
    return cast(JobRunner, target)
