"""Typed recording actions of the Live OpenAPI (seed chapter 11), on top of :class:`LiveClient`.

Validation happens before anything is sent: required names, ``start < end``, PageSize
5-30, and the 4-day limit. Listing actions split longer windows into 4-day calls
and walk every page; an action that cannot be split refuses a longer window.
Times are unix seconds.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ..errors import UsageError
from ..window import Window
from .client import LiveClient
from .signing import utc_timestamp

__all__ = ["FOUR_DAYS", "SHIFT_VISIONS", "LiveApi", "PublishInfo", "RecordContent", "RecordInfo",
           "ShiftConfig", "split_window"]

FOUR_DAYS = 4 * 86400
RecordCommand = Literal["start", "stop", "cancel_delay", "restart"]
SHIFT_VISIONS = (1, 3, 7, 15, 30)  # retention days the service offers (SPEC §1, §8)


def _unix(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) if text else 0


def split_window(start: int, end: int, limit: int = FOUR_DAYS) -> list[tuple[int, int]]:
    """``[start, end)`` cut into consecutive pieces of at most ``limit`` seconds.

    Raises:
        UsageError: end not after start.
    """
    Window.from_unix(start, end)
    return [(a, min(a + limit, end)) for a in range(start, end, limit)]


def _check_window(start: int, end: int, action: str) -> None:
    Window.from_unix(start, end)
    if end - start > FOUR_DAYS:
        raise UsageError(f"{action} takes at most 4 days between StartTime and EndTime; "
                         "ask for a shorter window", field="end")


@dataclass(frozen=True)
class RecordInfo:
    """A recording index file (RecordInfo / RecordIndexInfo). Times are unix seconds."""

    record_id: str
    record_url: str
    domain: str
    app: str
    stream: str
    oss_bucket: str
    oss_endpoint: str
    oss_object: str
    start: int
    end: int
    duration: float
    width: int
    height: int
    created: int
    format: str = ""

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> RecordInfo:
        return cls(
            record_id=str(d.get("RecordId", "")), record_url=str(d.get("RecordUrl", "")),
            domain=str(d.get("DomainName", "")), app=str(d.get("AppName", "")),
            stream=str(d.get("StreamName", "")), oss_bucket=str(d.get("OssBucket", "")),
            oss_endpoint=str(d.get("OssEndpoint", "")), oss_object=str(d.get("OssObject", "")),
            start=_unix(str(d.get("StartTime", ""))), end=_unix(str(d.get("EndTime", ""))),
            duration=float(d.get("Duration") or 0), width=int(d.get("Width") or 0),
            height=int(d.get("Height") or 0), created=_unix(str(d.get("CreateTime", ""))),
            format=str(d.get("Format") or ""))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ShiftConfig:
    """One time-shift configuration row (DescribeLiveShiftConfigs); ``*`` is every app/stream."""

    domain: str
    app: str
    stream: str
    vision: int
    ignore_transcode: bool
    duration: int | None = None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> ShiftConfig:
        ignore = d.get("IgnoreTranscode", True)
        return cls(str(d.get("DomainName", "")), str(d.get("AppName", "")),
                   str(d.get("StreamName", "")), int(d.get("Vision") or 7),
                   ignore if isinstance(ignore, bool) else str(ignore).lower() != "false",
                   int(d["Duration"]) if d.get("Duration") not in (None, "") else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecordContent:
    """Where a stretch of recorded content lies in OSS (DescribeLiveStreamRecordContent)."""

    oss_endpoint: str
    oss_bucket: str
    oss_object_prefix: str
    start: int
    end: int
    duration: float

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> RecordContent:
        return cls(str(d.get("OssEndpoint", "")), str(d.get("OssBucket", "")),
                   str(d.get("OssObjectPrefix", "")), _unix(str(d.get("StartTime", ""))),
                   _unix(str(d.get("EndTime", ""))), float(d.get("Duration") or 0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PublishInfo:
    """One publishing session of a stream (DescribeLiveStreamsPublishList / OnlineList)."""

    domain: str
    app: str
    stream: str
    start: int
    end: int | None

    @classmethod
    def from_api(cls, d: dict[str, Any]) -> PublishInfo:
        stop = str(d.get("StopTime") or "")
        return cls(str(d.get("DomainName", "")), str(d.get("AppName", "")),
                   str(d.get("StreamName", "")), _unix(str(d.get("PublishTime", ""))),
                   _unix(stop) if stop else None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _check_notify_url(url: str, field: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"{url[:40]!r} must be an http:// or https:// URL", field=field)


def _notify_auth(key: str | None) -> dict[str, str]:
    """The parameters that make the service sign its callbacks with ``key`` (SPEC §5a)."""
    return {"NotifyReqAuth": "yes", "NotifyAuthKey": key} if key else {}


def _stream(domain: str, app: str, stream: str) -> dict[str, str]:
    for flag, value in (("domain", domain), ("app", app), ("stream", stream)):
        if not value:
            raise UsageError("is required", field=flag)
    return {"DomainName": domain, "AppName": app, "StreamName": stream}


class LiveApi:
    """The recording actions, typed. ``call`` reaches any other action."""

    def __init__(self, client: LiveClient) -> None:
        self.client = client

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        return self.client.call(action, **params)

    def create_record_index_files(self, domain: str, app: str, stream: str, *, start: int,
                                  end: int, oss_endpoint: str, oss_bucket: str,
                                  oss_object: str, end_time_included: bool = False) -> RecordInfo:
        """CreateLiveStreamRecordIndexFiles: one index file for ``[start, end)`` (≤ 4 days).

        ``end_time_included`` also takes the segment that holds ``end`` (SPEC §8).
        """
        _check_window(start, end, "CreateLiveStreamRecordIndexFiles")
        for flag, value in (("oss_endpoint", oss_endpoint), ("oss_bucket", oss_bucket),
                            ("oss_object", oss_object)):
            if not value:
                raise UsageError("is required", field=flag)
        body = self.call("CreateLiveStreamRecordIndexFiles", **_stream(domain, app, stream),
                         StartTime=utc_timestamp(start), EndTime=utc_timestamp(end),
                         OssEndpoint=oss_endpoint, OssBucket=oss_bucket, OssObject=oss_object,
                         EndTimeIncluded=True if end_time_included else None)
        return RecordInfo.from_api(body.get("RecordInfo") or {})

    def delete_record_index_files(self, domain: str, app: str, stream: str,
                                  record_ids: list[str], *,
                                  remove_file: bool = False) -> list[dict[str, str]]:
        """DeleteLiveStreamRecordIndexFiles; with ``remove_file`` the OSS objects go too.

        Returns ``{"record_id", "message"}`` per id, as the service reports each.
        """
        if not record_ids or not all(record_ids):
            raise UsageError("give at least one record id", field="record_id")
        body = self.call("DeleteLiveStreamRecordIndexFiles", **_stream(domain, app, stream),
                         RecordId=list(record_ids), RemoveFile=True if remove_file else None)
        rows = (body.get("RecordDeleteInfoList") or {}).get("RecordDeleteInfo") or []
        return [{"record_id": str(r.get("RecordId", "")), "message": str(r.get("Message", ""))}
                for r in rows]

    def describe_record_index_file(self, domain: str, app: str, stream: str,
                                   record_id: str) -> RecordInfo:
        """DescribeLiveStreamRecordIndexFile."""
        if not record_id:
            raise UsageError("is required", field="record_id")
        body = self.call("DescribeLiveStreamRecordIndexFile", **_stream(domain, app, stream),
                         RecordId=record_id)
        return RecordInfo.from_api(body.get("RecordIndexInfo") or {})

    def iter_record_index_files(self, domain: str, app: str, stream: str, *, start: int, end: int,
                                order: Literal["asc", "desc"] = "asc",
                                page_size: int = 30) -> Iterator[RecordInfo]:
        """DescribeLiveStreamRecordIndexFiles over every page, windows over 4 days split."""
        if not 5 <= page_size <= 30:
            raise UsageError(f"PageSize must be 5-30, got {page_size}", field="page_size")
        if order not in ("asc", "desc"):
            raise UsageError("Order is asc or desc", field="order")
        pieces = split_window(start, end)
        seen: set[str] = set()
        for a, b in (reversed(pieces) if order == "desc" else pieces):
            page = 1
            while True:
                body = self.call("DescribeLiveStreamRecordIndexFiles", **_stream(domain, app, stream),
                                 StartTime=utc_timestamp(a), EndTime=utc_timestamp(b),
                                 Order=order, PageNum=page, PageSize=page_size)
                items = (body.get("RecordIndexInfoList") or {}).get("RecordIndexInfo") or []
                for item in items:
                    info = RecordInfo.from_api(item)
                    if info.record_id not in seen:  # one spanning two pieces is listed twice
                        seen.add(info.record_id)
                        yield info
                if page >= int(body.get("TotalPage") or 0) or not items:
                    break
                page += 1

    def record_content(self, domain: str, app: str, stream: str, *, start: int,
                       end: int) -> list[RecordContent]:
        """DescribeLiveStreamRecordContent, windows over 4 days split."""
        out: list[RecordContent] = []
        for a, b in split_window(start, end):
            body = self.call("DescribeLiveStreamRecordContent", **_stream(domain, app, stream),
                             StartTime=utc_timestamp(a), EndTime=utc_timestamp(b))
            items = (body.get("RecordContentInfoList") or {}).get("RecordContentInfo") or []
            out += [RecordContent.from_api(i) for i in items]
        return out

    def real_time_record_command(self, domain: str, app: str, stream: str,
                                 command: RecordCommand) -> str:
        """RealTimeRecordCommand; returns the RequestId."""
        if command not in ("start", "stop", "cancel_delay", "restart"):
            raise UsageError("expected start, stop, cancel_delay or restart", field="command")
        body = self.call("RealTimeRecordCommand", **_stream(domain, app, stream), Command=command)
        return str(body.get("RequestId", ""))

    # -- time-shift configuration (SPEC §8)

    def open_shift(self, domain: str, app: str, stream: str, *, duration: int | None = None,
                   vision: int | None = None, ignore_transcode: bool | None = None) -> None:
        """OpenLiveShift: time-shift for ``app/stream`` (``*`` for every one).

        ``duration`` is the TS segment length in seconds, ``vision`` the days kept (1, 3, 7,
        15 or 30; the service's default 7), ``ignore_transcode=False`` gives transcoded
        streams time-shift as well. It takes effect when the stream is pushed again.
        """
        if duration is not None and not 1 <= duration <= 60:
            raise UsageError(f"the segment length is 1-60 seconds, not {duration}",
                             field="duration")
        if vision is not None and vision not in SHIFT_VISIONS:
            raise UsageError(f"retention is one of {', '.join(map(str, SHIFT_VISIONS))} days, "
                             f"not {vision}", field="vision")
        self.call("OpenLiveShift", **_stream(domain, app, stream), Duration=duration,
                  Vision=vision, IgnoreTranscode=ignore_transcode)

    def close_shift(self, domain: str, app: str, stream: str) -> None:
        """CloseLiveShift."""
        self.call("CloseLiveShift", **_stream(domain, app, stream))

    def describe_shift_configs(self, domain: str) -> list[ShiftConfig]:
        """DescribeLiveShiftConfigs: the domain's time-shift rows."""
        if not domain:
            raise UsageError("is required", field="domain")
        body = self.call("DescribeLiveShiftConfigs", DomainName=domain)
        rows = (body.get("Content") or {}).get("Config") or []
        return [ShiftConfig.from_api(r) for r in rows]

    # -- configuration

    def add_app_record_config(self, domain: str, app: str, *, oss_endpoint: str, oss_bucket: str,
                              formats: list[dict[str, Any]], on_demand: int | None = None,
                              start: int | None = None, end: int | None = None) -> None:
        """AddLiveAppRecordConfig; ``formats`` like ``[{"Format": "m3u8", "CycleDuration": 3600}]``."""
        if not formats:
            raise UsageError("at least one record format is needed", field="format")
        self.call("AddLiveAppRecordConfig", DomainName=domain, AppName=app,
                  OssEndpoint=oss_endpoint, OssBucket=oss_bucket, RecordFormat=formats,
                  OnDemand=on_demand,
                  StartTime=utc_timestamp(start) if start is not None else None,
                  EndTime=utc_timestamp(end) if end is not None else None)

    def describe_record_config(self, domain: str, app: str | None = None) -> list[dict[str, Any]]:
        """DescribeLiveRecordConfig: the domain's (or one app's) recording configurations."""
        body = self.call("DescribeLiveRecordConfig", DomainName=domain, AppName=app)
        return list((body.get("LiveAppRecordList") or {}).get("LiveAppRecord") or [])

    def delete_app_record_config(self, domain: str, app: str) -> None:
        self.call("DeleteLiveAppRecordConfig", DomainName=domain, AppName=app)

    def set_record_notify_config(self, domain: str, notify_url: str, *,
                                 need_status_notify: bool = False, update: bool = False,
                                 on_demand_url: str | None = None,
                                 auth_key: str | None = None) -> None:
        """Add (or with ``update``, UpdateLiveRecordNotifyConfig) the recording callback URL.

        ``on_demand_url`` is where the service asks whether to record a stream (seed 11.13).
        ``auth_key`` turns on signed callbacks (``NotifyReqAuth=yes``, ``NotifyAuthKey``).
        """
        _check_notify_url(notify_url, "record_notify_url")
        if on_demand_url is not None:
            _check_notify_url(on_demand_url, "on_demand_url")
        self.call("UpdateLiveRecordNotifyConfig" if update else "AddLiveRecordNotifyConfig",
                  DomainName=domain, NotifyUrl=notify_url, NeedStatusNotify=need_status_notify,
                  OnDemandUrl=on_demand_url, **_notify_auth(auth_key))

    def describe_record_notify_config(self, domain: str) -> dict[str, Any] | None:
        body = self.call("DescribeLiveRecordNotifyConfig", DomainName=domain)
        conf = body.get("LiveRecordNotifyConfig")
        return dict(conf) if conf else None

    def delete_record_notify_config(self, domain: str) -> None:
        self.call("DeleteLiveRecordNotifyConfig", DomainName=domain)

    def set_streams_notify_url(self, domain: str, notify_url: str, *,
                               auth_key: str | None = None) -> None:
        """SetLiveStreamsNotifyUrlConfig: where publish / publish_done callbacks go (seed 7.1).

        ``auth_key`` turns on signed callbacks (SPEC §5a).
        """
        if not domain:
            raise UsageError("is required", field="domain")
        _check_notify_url(notify_url, "notify_url")
        self.call("SetLiveStreamsNotifyUrlConfig", DomainName=domain, NotifyUrl=notify_url,
                  **_notify_auth(auth_key))

    def describe_streams_notify_url(self, domain: str) -> dict[str, Any] | None:
        """DescribeLiveStreamsNotifyUrlConfig: the domain's publish callback, or None."""
        body = self.call("DescribeLiveStreamsNotifyUrlConfig", DomainName=domain)
        # The seed's example names the object NotifyUrlConfig, its table LiveStreamsNotifyConfig.
        conf = body.get("LiveStreamsNotifyConfig") or body.get("NotifyUrlConfig")
        return dict(conf) if conf else None

    def delete_streams_notify_url(self, domain: str) -> None:
        """DeleteLiveStreamsNotifyUrlConfig."""
        self.call("DeleteLiveStreamsNotifyUrlConfig", DomainName=domain)

    # -- which streams were live

    def _paged_streams(self, action: str, list_key: str, item_key: str,
                       **params: Any) -> Iterator[PublishInfo]:
        page = 1
        while True:
            body = self.call(action, PageNum=page, **params)
            items = (body.get(list_key) or {}).get(item_key) or []
            yield from (PublishInfo.from_api(i) for i in items)
            if page >= int(body.get("TotalPage") or 0) or not items:
                return
            page += 1

    def iter_publish_list(self, domain: str, *, start: int, end: int, app: str | None = None,
                          stream: str | None = None, strict: bool = False,
                          page_size: int = 100) -> Iterator[PublishInfo]:
        """DescribeLiveStreamsPublishList over every page: who published when (batch input)."""
        for a, b in split_window(start, end):
            yield from self._paged_streams(
                "DescribeLiveStreamsPublishList", "PublishInfo", "LiveStreamPublishInfo",
                DomainName=domain, AppName=app, StreamName=stream, StartTime=utc_timestamp(a),
                EndTime=utc_timestamp(b), PageSize=page_size,
                QueryType="strict" if strict else "fuzzy")

    def iter_online_list(self, domain: str, *, app: str | None = None,
                         page_size: int = 2000) -> Iterator[PublishInfo]:
        """DescribeLiveStreamsOnlineList over every page: the streams live now."""
        yield from self._paged_streams("DescribeLiveStreamsOnlineList", "OnlineInfo",
                                       "LiveStreamOnlineInfo", DomainName=domain, AppName=app,
                                       PageSize=page_size)
