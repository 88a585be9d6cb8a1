"""The one exception tree of timeshift.

::

    TimeshiftError                  exit 1 unless a subclass says otherwise
    ├── UsageError                  exit 2: the caller's input is wrong (flag, time, URL, key)
    ├── RemoteError                 exit 1: a server answered with an error
    │   ├── ApiError                the OpenAPI answered {Code, Message, RequestId, HostId}
    │   ├── AuthError               403: URL signing missing, wrong or expired
    │   ├── NotFoundError           404
    │   ├── TimelineError           timeline query answered retCode != 0 or a non-JSON body
    │   └── StoreError              OSS answered an error (code, RequestId, bucket, key)
    ├── ForeignHostError            exit 1: a playlist names a host outside its origin
    ├── TransportError              exit 1: no usable answer (connection, timeout, truncated body)
    ├── PayloadError                a callback from the service is malformed (the receiver answers 400)
    ├── MediaError                  exit 1: the media could not be made into the output
    │   ├── CutError                the frame-exact cutter could not demux, decode, encode or mux
    │   ├── FfmpegError             ffmpeg exited with an error (its last stderr lines kept)
    │   └── VerificationError       the written clip does not hold what was asked for
    └── GapError                    exit 3: the asked-for window has gaps and gaps were not allowed

Errors carry structured fields and build their message in ``__str__`` so that
callers (the CLI's ``--json``, logs) can use the fields without parsing text. Errors
speak in values, the CLI in flags: a :class:`UsageError` names the ``field`` at fault
as the library calls it (``end``, ``time_format``, ``template``), and the CLI turns it
into its flag through one table (:data:`timeshift.cli.options.FLAGS`).
No error ever holds a secret: URLs are passed through :func:`redact_url` first.
"""

from __future__ import annotations

from typing import Any

from .redact import redact

__all__ = [
    "ApiError",
    "AuthError",
    "CutError",
    "FfmpegError",
    "ForeignHostError",
    "GapError",
    "MediaError",
    "NotFoundError",
    "PayloadError",
    "RemoteError",
    "StoreError",
    "TimelineError",
    "TimeshiftError",
    "TransportError",
    "UsageError",
    "VerificationError",
    "redact_url",
]

def redact_url(url: str) -> str:
    """Hide signing values in a URL so it can appear in logs and errors.

    A signed URL is a bearer credential until it expires, so only its shape is kept
    (the one redaction, :func:`timeshift.redact.redact`, knows every signing form).
    """
    return redact(url)


class TimeshiftError(Exception):
    """Base of every error raised by timeshift."""

    exit_code = 1

    def __init__(self, message: str = "") -> None:
        message = redact(message)  # messages often quote a library's error, URL and all
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready fields, for ``--json`` output."""
        return {"error": type(self).__name__, "message": str(self)}


class UsageError(TimeshiftError, ValueError):
    """The caller's input is wrong; the message says what to give instead.

    ``field`` names the value at fault as the library calls it (a parameter: ``end``,
    ``time_format``, ``template``). Code that speaks in flags itself (the CLI, the
    local servers' command lines) gives ``option`` (``--zone``) instead.
    """

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None,
                 option: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.given_option = option

    @property
    def option(self) -> str | None:
        """The flag given, else the conventional spelling of ``field`` (``time_format`` →
        ``--time-format``); the CLI renders through its own table instead."""
        if self.given_option:
            return self.given_option
        return None if self.field is None else "--" + self.field.replace("_", "-")

    def __str__(self) -> str:
        where = self.given_option or self.field
        return f"{where}: {self.message}" if where else self.message

    def with_option(self, option: str) -> UsageError:
        """The same error, attributed to a CLI flag (kept if a field or flag is already set)."""
        if self.option:
            return self
        return self.for_option(option)

    def for_option(self, option: str) -> UsageError:
        """The same error, attributed to ``option`` whatever it named before."""
        err = type(self)(self.message, field=self.field, option=option)
        err.__cause__ = self.__cause__
        return err

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["field"] = self.field
        return out


class RemoteError(TimeshiftError):
    """A server answered, and the answer was an error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | int | None = None,
        url: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.url = redact_url(url) if url else None
        self.request_id = request_id
        self.hint = hint

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code not in (None, ""):
            parts.append(str(self.code))
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.url:
            text += f" ({self.url})"
        if self.request_id:
            text += f" [RequestId {self.request_id}]"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(
            status=self.status,
            code=self.code,
            url=self.url,
            request_id=self.request_id,
        )
        return out


class ApiError(RemoteError):
    """An OpenAPI error answer: ``code`` (e.g. ``Throttling``), message, RequestId, HostId."""

    RETRYABLE = frozenset({"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable",
                           "InternalError", "ServiceUnavailableTemporary"})

    def __init__(self, message: str, *, host_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.host_id = host_id

    @property
    def retryable(self) -> bool:
        code = str(self.code or "")
        return code in self.RETRYABLE or code.startswith("Throttling")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["host_id"] = self.host_id
        return out


#: What a 403 from the CDN usually means (the hint an :class:`AuthError` carries); here, not
#: in http.py, so the async transfer path need not import ``requests`` for one string.
SIGNING_HINT = (
    "the domain may have URL signing on: pass --auth-type and --auth-key-env, "
    "or check that the key is right and the signed URL has not expired"
)


class AuthError(RemoteError):
    """403: the CDN refused the URL's signature (missing, wrong key, or expired)."""


class NotFoundError(RemoteError):
    """404 from a server.

    For a time-shift playlist or timeline query the hint names ``timeshift shift enable``:
    a stream whose time-shift is off answers 404 too (issue 16, :mod:`timeshift.shifthint`).
    """

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        if self.hint is None and self.url:
            from .shifthint import shift_off_hint  # pure, stdlib only

            self.hint = shift_off_hint(self.url)


class TimelineError(RemoteError):
    """The timeline query answered ``retCode != 0`` or something that is not its JSON."""


class StoreError(RemoteError):
    """OSS (or another object store) answered an error, or could not be reached after retries.

    ``code`` is OSS's (``NoSuchBucket``, ``AccessDenied``, ``InconsistentError`` for a CRC
    mismatch); ``bucket`` and ``key`` say which object.
    """

    def __init__(self, message: str, *, bucket: str | None = None, key: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.bucket = bucket
        self.key = key

    def __str__(self) -> str:
        where = f" [{self.bucket}/{self.key}]" if self.bucket and self.key else ""
        return super().__str__() + where

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"bucket": self.bucket, "key": self.key}


class TransportError(TimeshiftError):
    """No usable answer: connection refused or reset, timeout, truncated body."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = redact_url(url) if url else None

    def __str__(self) -> str:
        return f"{self.message} ({self.url})" if self.url else self.message


class PayloadError(TimeshiftError):
    """A callback's payload is malformed or incomplete; ``field`` names the part at fault.

    The callback receiver answers it with 400 and logs it; it never ends the receiver.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["field"] = self.field
        return out


class MediaError(TimeshiftError):
    """The segments were fetched but could not be made into the output."""


class CutError(MediaError):
    """The frame-exact cut failed: FFmpeg could not demux, decode, encode or mux the stream."""


class FfmpegError(MediaError):
    """ffmpeg exited with an error; ``stderr`` holds its last lines."""

    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"ffmpeg exited with {returncode}")
        self.returncode = returncode
        self.stderr = stderr

    def __str__(self) -> str:
        tail = " | ".join(self.stderr.strip().splitlines()[-3:])
        return f"{self.message}: {tail}" if tail else self.message

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"returncode": self.returncode}


class VerificationError(MediaError):
    """The clip was written but probing it shows it misses the request (so it is not kept).

    ``expected`` and ``probed`` are durations in seconds; ``tolerance`` is what was allowed.
    """

    def __init__(self, output: str, expected: float, probed: float | None,
                 tolerance: float) -> None:
        super().__init__("")
        self.output = output
        self.expected = expected
        self.probed = probed
        self.tolerance = tolerance

    def __str__(self) -> str:
        got = "no duration" if self.probed is None else f"{self.probed:.3f} s"
        return (f"{self.output}: the written clip holds {got}, the window asked for "
                f"{self.expected:.3f} s (allowed ±{self.tolerance:.3f} s); nothing was kept")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(expected=self.expected, probed=self.probed, tolerance=self.tolerance)
        return out


class ForeignHostError(TimeshiftError):
    """A downloaded playlist names a segment outside the playlist's origin (or not http/https)."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(reason)
        self.uri = redact_url(uri)

    def __str__(self) -> str:
        return (f"refusing {self.uri}: {self.message}; pass --allow-host HOST if it is yours "
                "(a crafted playlist must not make this job fetch other addresses)")


class GapError(TimeshiftError):
    """The window has gaps (spans without data) and the caller did not allow them.

    ``gaps`` holds ``(start, end)`` pairs in unix seconds.
    """

    exit_code = 3

    def __init__(self, gaps: list[tuple[float, float]], *, report: str | None = None) -> None:
        super().__init__("")
        self.gaps = list(gaps)
        self.report = report

    def __str__(self) -> str:
        total = sum(end - start for start, end in self.gaps)
        text = (
            f"the window has {len(self.gaps)} gap(s), {total:g} s without data; "
            "pass --allow-gaps to make the clip from what exists"
        )
        if self.report:
            text += f" (gap report: {self.report})"
        return text

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["gaps"] = [{"start": s, "end": e} for s, e in self.gaps]
        return out
