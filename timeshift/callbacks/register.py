"""Pointing the service's callbacks at a receiver, through the Live OpenAPI (seed 7.1, 11.9).

The publish callback is SetLiveStreamsNotifyUrlConfig; the recording callbacks (file and
status events, and the on-demand question) are Add/UpdateLiveRecordNotifyConfig. A shared
secret, when given, is appended to every URL's query here, so it never passes through argv.
"""

from __future__ import annotations

from typing import Any

from ..openapi.live import LiveApi
from .security import mask_secret, with_secret

__all__ = ["register_callbacks"]


def register_callbacks(live: LiveApi, domain: str, notify_url: str, *,
                       record_notify_url: str | None = None, on_demand_url: str | None = None,
                       need_status_notify: bool = False, secret: str | None = None,
                       secret_param: str = "token",
                       auth_key: str | None = None) -> dict[str, Any]:
    """Set the domain's publish callback and, when given, its recording callbacks.

    With ``auth_key`` both are set to be signed (``NotifyReqAuth=yes``, ``NotifyAuthKey``;
    SPEC §5a); the key is sent to the API only, never returned or printed.

    The recording callback is added, or updated when the domain already has one, so running
    this again is harmless. Returns what was set, secrets masked.

    Raises:
        UsageError: a URL that is not http(s).
        ApiError, TransportError: the OpenAPI refused or did not answer.
    """
    def url(u: str | None) -> str | None:
        return None if u is None else with_secret(u, secret_param, secret)

    live.set_streams_notify_url(domain, url(notify_url) or "", auth_key=auth_key)
    out: dict[str, Any] = {"domain": domain, "notify_url": notify_url,
                           "record_notify_url": None, "on_demand_url": None,
                           "need_status_notify": None, "secret": bool(secret)}
    if auth_key:  # only when set: the answer's shape stays as it was without a key
        out["signed"] = True
    if record_notify_url is not None:
        exists = live.describe_record_notify_config(domain) is not None
        live.set_record_notify_config(domain, url(record_notify_url) or "",
                                      need_status_notify=need_status_notify, update=exists,
                                      on_demand_url=url(on_demand_url), auth_key=auth_key)
        out.update(record_notify_url=record_notify_url, on_demand_url=on_demand_url,
                   need_status_notify=need_status_notify)
    for key in ("notify_url", "record_notify_url", "on_demand_url"):
        if out[key]:
            out[key] = mask_secret(url(out[key]) or "", secret_param)
    return out
