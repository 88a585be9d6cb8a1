"""Recording callbacks from the local Live API, sent the way the service sends them (SPEC §5, §5a).

When the API writes a recording (CreateLiveStreamRecordIndexFiles) or starts one
(RealTimeRecordCommand, with ``NeedStatusNotify``), it POSTs the event to the domain's
recording callback URL: a file event ``{domain, app, stream, uri, duration, start_time,
stop_time}`` or a status event ``{domain, app, stream, event}``. With ``NotifyReqAuth=yes``
the callback is signed over the callback URL's host (no port), at each try. An answer other
than 200 is retried (5 s timeout, 5 retries 1 s apart by default), then given up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp
from yarl import URL

from ..callbacks.signing import signed_headers
from ..errors import redact_url

__all__ = ["RecordNotifier"]

log = logging.getLogger(__name__)


class RecordNotifier:
    """Sends recording callbacks in the background; ``count`` reports what happened."""

    def __init__(self, clock: Callable[[], float], count: Callable[[str], None], *,
                 retries: int = 5, interval: float = 1.0, timeout: float = 5.0) -> None:
        self.clock, self.count = clock, count
        self.retries, self.interval, self.timeout = retries, interval, timeout
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, conf: dict[str, Any], event: dict[str, Any]) -> None:
        """Queue ``event`` for the notify config ``conf`` (its NotifyUrl and auth settings)."""
        task = asyncio.get_running_loop().create_task(self._deliver(conf, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, conf: dict[str, Any], event: dict[str, Any]) -> None:
        url = str(conf["NotifyUrl"])
        key = conf.get("NotifyAuthKey") if str(conf.get("NotifyReqAuth", "")).lower() == "yes" else None
        host = URL(url).host or ""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.interval)
                headers = signed_headers(host, str(key), self.clock()) if key else None
                try:
                    async with http.post(url, json=event, headers=headers) as resp:
                        await resp.read()
                        if resp.status == 200:
                            self.count("record_notify")
                            return
                        why = f"HTTP {resp.status}"
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    why = type(exc).__name__
                log.info("recording callback to %s: %s (attempt %d)", redact_url(url), why,
                         attempt + 1)
        self.count("record_notify_failed")
