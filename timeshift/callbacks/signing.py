"""Callback signatures (SPEC §5a): what the service adds once a ``NotifyAuthKey`` is set. Pure.

Each signed callback carries two headers::

    ALI-LIVE-TIMESTAMP: 1519375990                 unix seconds when it was sent
    ALI-LIVE-SIGNATURE: md5("{domain}|{timestamp}|{key}")   32 lowercase hex

``domain`` is the ingest (push) domain for publish / publish_done callbacks and the host of
the callback URL (no scheme, port or path) for recording, on-demand and snapshot callbacks.
The receiver recomputes the value, compares in constant time, and refuses a timestamp further
than a bound from its own clock (the documentation suggests 5 minutes). A key change reaches
a stream only when it is pushed again, so the previous key is accepted for a while as well.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_MAX_SKEW",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CallbackAuth",
    "callback_signature",
    "signed_headers",
]

TIMESTAMP_HEADER = "ALI-LIVE-TIMESTAMP"
SIGNATURE_HEADER = "ALI-LIVE-SIGNATURE"
DEFAULT_MAX_SKEW = 300
_MAX_TIMESTAMP_DIGITS = 12  # unix seconds stay under 12 digits for 30,000 years


def callback_signature(domain: str, timestamp: int | str, key: str) -> str:
    """``md5("{domain}|{timestamp}|{key}")`` as 32 lowercase hex digits."""
    return hashlib.md5(f"{domain}|{timestamp}|{key}".encode()).hexdigest()


def signed_headers(domain: str, key: str, now: float) -> dict[str, str]:
    """The two headers the service sends with a callback signed at ``now``."""
    ts = str(int(now))
    return {TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: callback_signature(domain, ts, key)}


@dataclass(frozen=True)
class CallbackAuth:
    """The receiver's side: the key (and, during a rotation, the previous one) and the skew.

    :meth:`check` returns None for a good signature, else the reason (for the log and the
    403 answer; never the key or the expected value).
    """

    key: str = field(repr=False)
    previous_key: str | None = field(default=None, repr=False)
    max_skew: int = DEFAULT_MAX_SKEW

    def check(self, domain: str, timestamp: str | None, signature: str | None,
              now: float) -> str | None:
        if not timestamp or not signature:
            return f"unsigned callback (no {TIMESTAMP_HEADER} / {SIGNATURE_HEADER})"
        ts_text = timestamp.strip()
        # isascii: "²".isdigit() is True, and int() of 5,000 digits raises.
        if not (ts_text.isascii() and ts_text.isdigit()) or len(ts_text) > _MAX_TIMESTAMP_DIGITS:
            return f"{TIMESTAMP_HEADER} is not unix seconds"
        if abs(now - int(ts_text)) > self.max_skew:
            return f"stale callback: {TIMESTAMP_HEADER} is over {self.max_skew} s from now"
        given = signature.strip().lower().encode("ascii", "replace")
        ok = False
        for key in (self.key, self.previous_key):
            if key:
                # Every key is compared, so the time taken does not tell which one matched.
                ok |= hmac.compare_digest(callback_signature(domain, ts_text, key).encode(), given)
        return None if ok else f"wrong {SIGNATURE_HEADER} for domain {domain[:80]!r}"
