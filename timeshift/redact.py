"""The one redaction: signatures, tokens and credentials out of any text before it is shown.

A signed URL is a bearer credential until it expires, and a callback token or an
``Authorization`` header is one for longer, so none of them may reach an error message,
``--json``, a report, a progress event or a log line. :func:`redact` knows every form
the signer (:mod:`timeshift.auth`) produces, and the others this toolkit handles:

- type A ``auth_key=TS-RAND-UID-HASH``; types C (query) and F ``HASH_NAME=md5&TIME_NAME=ts``
  under the default names or any custom ``--auth-param-names`` (an MD5 value is hidden
  whatever its parameter is called, and :func:`register_secret_names` adds names whose
  values are not MD5s);
- types B and C (path): ``/YYYYMMDDHHMM/md5/...`` and ``/md5/HEXTIME/...``: the MD5
  path segment is hidden, the time kept;
- OpenAPI ``Signature``/``SecurityToken``/``AccessKeySecret``, OSS ``Signature``/
  ``x-oss-signature``/``x-oss-security-token``, ``X-Amz-Signature``, callback ``token``
  (also percent-encoded inside another URL's query, as in a ``NotifyUrl``);
- ``Authorization: ...`` headers, as oss2 and urllib3 print them in debug logs.

It is applied where errors are made (:class:`~timeshift.errors.TimeshiftError` redacts
its message) and where log records are made (:func:`install_log_redaction`). Pure.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

__all__ = ["SECRET_NAMES", "install_log_redaction", "redact", "register_secret_names"]

SECRET_NAMES = frozenset({
    "auth_key", "sign", "signature", "securitytoken", "accesskeysecret", "token", "key1",
    "txsecret", "x-oss-signature", "x-oss-security-token", "x-oss-credential",
    "x-amz-signature", "x-amz-security-token", "ossaccesskeyid", "accesskeyid",
    "secret", "password", "key", "key2",
})
_extra: set[str] = set()
_lock = threading.Lock()
_query_re: re.Pattern[str] | None = None

# An MD5 in a path segment (types B and C path): kept as /***/.
_PATH_MD5 = re.compile(r"(?<=/)[0-9a-fA-F]{32}(?=/)")
# name=MD5 under any name (custom --auth-param-names of types C and F).
_ANY_MD5 = re.compile(r"(?i)(?:(?<=[?&;])|(?<=%3F)|(?<=%26))([\w.\-]+?)(=|%3D)[0-9a-f]{32}"
                      r"(?![0-9a-z])")
# A name starts a parameter: at the start, after a non-name character, or after %3F/%26.
_START = r"(?:^|(?<=[^\w.\-])|(?<=%3F)|(?<=%3f)|(?<=%26))"
_HEADER = re.compile(
    r"(?i)(['\"]?(?:authorization|proxy-authorization|x-oss-security-token|x-acs-security-token"
    r"|cookie|set-cookie)['\"]?\s*[:=]\s*)(['\"]?)([^'\"\r\n,}]+)")


def register_secret_names(*names: str) -> None:
    """Add query parameter names whose values are secret (custom signing names)."""
    global _query_re
    with _lock:
        _extra.update(n.lower() for n in names if n)
        _query_re = None


def _query_pattern() -> re.Pattern[str]:
    global _query_re
    pattern = _query_re
    if pattern is None:
        names = sorted(SECRET_NAMES | _extra, key=len, reverse=True)
        alt = "|".join(re.escape(n) for n in names)
        # name=value or name%3Dvalue (the same inside another URL); ends at &, %26, #, space, quote.
        pattern = re.compile(
            rf"(?i){_START}({alt})(=|%3D)((?:(?!%26)[^&#\s'\"<>])+)")
        with _lock:
            _query_re = pattern
    return pattern


def redact(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with every signature, token and credential value replaced by ``***``.

    Args:
        text: a URL, a message, a log line, a header dump.
        names: more parameter names to hide, for this call only.
    """
    if not text:
        return text
    out = _query_pattern().sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    for name in names:
        out = re.sub(rf"(?i){_START}({re.escape(name)})(=|%3D)((?:(?!%26)[^&#\s'\"<>])+)",
                     lambda m: f"{m.group(1)}{m.group(2)}***", out)
    out = _ANY_MD5.sub(lambda m: f"{m.group(1)}{m.group(2)}***", out)
    out = _PATH_MD5.sub("***", out)
    return _HEADER.sub(lambda m: f"{m.group(1)}{m.group(2)}***", out)


_installed = False


def install_log_redaction() -> None:
    """Redact every log record as it is made, whichever library makes it (urllib3, aiohttp,
    oss2, ours), so ``-vv`` never prints a signed URL, a token or an Authorization header.

    Idempotent; installs a log record factory wrapping the current one.
    """
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        _redact_record(record)
        return record

    logging.setLogRecordFactory(factory)


def _redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except (TypeError, ValueError, KeyError):
        return  # a malformed call: logging reports it itself when the record is emitted
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # Tracebacks are formatted later; format now, redacted, so the formatter uses it.
        record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
