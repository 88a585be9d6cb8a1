"""The wire forms the local servers send, written from the service's documentation
(SPEC §5, seed 7.4), not with the client's models.

A simulator that serialized its payloads with the receiver's own code would agree with
any mistake in that code, and the end-to-end tests would pass on a wrong mapping. So the
payloads the simulators send are built here from the protocol's tables; the product's
parsers meet them as they would meet the service.
"""

from __future__ import annotations

from ..callbacks.models import PublishNotify

__all__ = ["PUBLISH_NOTIFY_QUERY", "publish_notify_query"]

#: The stream publish notify: a GET whose query holds these parameters (SPEC §5).
PUBLISH_NOTIFY_QUERY: dict[str, str] = {
    "action": "publish or publish_done",
    "app": "the domain the stream was pushed to (the ingest domain, else the play domain)",
    "appname": "the application name",
    "id": "the stream name",
    "ip": "the publisher's address",
    "node": "the CDN node that took the stream",
    "time": "the event's time, unix seconds",
    "usrargs": "the publisher's own query parameters",
}


def publish_notify_query(event: PublishNotify) -> dict[str, str]:
    """The GET query the service sends for a publish event, parameter by parameter (the
    event is only the values; the names and their mapping are this module's)."""
    query = {"action": event.action, "app": event.domain, "appname": event.app,
             "id": event.stream, "ip": event.ip, "node": event.node,
             "time": "" if event.time is None else str(int(event.time)),
             "usrargs": event.usrargs}
    if event.time is None:  # the seed's example carries no time at all
        del query["time"]
    unknown = set(query) - set(PUBLISH_NOTIFY_QUERY)
    assert not unknown, f"not in the protocol's table: {unknown}"
    return query
