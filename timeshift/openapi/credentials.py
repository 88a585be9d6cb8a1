"""Credentials, found the way the official Alibaba Cloud SDKs look for them (SPEC §4).

Order: explicit arguments; the environment (``ALIBABA_CLOUD_ACCESS_KEY_ID``,
``ALIBABA_CLOUD_ACCESS_KEY_SECRET``, ``ALIBABA_CLOUD_SECURITY_TOKEN``); the INI file named
by ``ALIBABA_CLOUD_CREDENTIALS_FILE``, else ``~/.alibabacloud/credentials``, section
``ALIBABA_CLOUD_PROFILE`` (default ``default``); the CLI's ``~/.aliyun/config.json``.
Secrets never appear in ``repr``, logs or errors.
"""

from __future__ import annotations

import configparser
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import UsageError

__all__ = ["Credentials", "resolve_credentials"]


@dataclass(frozen=True)
class Credentials:
    """An AccessKey pair, with an STS token when temporary. ``source`` says where it came from."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    source: str = "arguments"

    def __post_init__(self) -> None:
        if not self.access_key_id or not self.access_key_secret:
            raise UsageError(f"incomplete credentials from {self.source}: "
                             "both an AccessKey ID and secret are needed")


def _from_ini(path: Path, profile: str) -> Credentials | None:
    if not path.is_file():
        return None
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        raise UsageError(f"cannot read credentials file {path}: {type(exc).__name__}") from None
    if not parser.has_section(profile):
        return None
    sec = parser[profile]
    kind = sec.get("type", "access_key").strip()
    if kind not in ("access_key", "sts"):
        raise UsageError(f"profile {profile!r} in {path} has type {kind!r}; "
                         "timeshift reads access_key and sts profiles")
    return Credentials(sec.get("access_key_id", "").strip(), sec.get("access_key_secret", "").strip(),
                       (sec.get("security_token") or sec.get("sts_token") or "").strip() or None,
                       source=f"{path} [{profile}]")


def _from_cli_config(path: Path, profile: str | None) -> Credentials | None:
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {type(exc).__name__}") from None
    name = profile or config.get("current") or "default"
    for p in config.get("profiles", []):
        if p.get("name") == name and p.get("mode", "AK") in ("AK", "StsToken"):
            return Credentials(p.get("access_key_id", ""), p.get("access_key_secret", ""),
                               p.get("sts_token") or None, source=f"{path} [{name}]")
    return None


def resolve_credentials(
    access_key_id: str | None = None,
    access_key_secret: str | None = None,
    security_token: str | None = None,
    *,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Credentials:
    """Find credentials as the official SDKs do.

    Raises:
        UsageError: none found, or a source holds half a pair.
    """
    environ = os.environ if env is None else env
    base = Path.home() if home is None else home
    if access_key_id or access_key_secret:
        return Credentials(access_key_id or "", access_key_secret or "", security_token)
    ak = environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID")
    secret = environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    if ak or secret:
        return Credentials(ak or "", secret or "", environ.get("ALIBABA_CLOUD_SECURITY_TOKEN"),
                           source="environment")
    name = profile or environ.get("ALIBABA_CLOUD_PROFILE") or "default"
    ini = environ.get("ALIBABA_CLOUD_CREDENTIALS_FILE")
    found = _from_ini(Path(ini) if ini else base / ".alibabacloud" / "credentials", name)
    if found is None:
        found = _from_cli_config(base / ".aliyun" / "config.json", profile)
    if found is None:
        raise UsageError(
            "no Alibaba Cloud credentials: set ALIBABA_CLOUD_ACCESS_KEY_ID and "
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET, or a profile in ~/.alibabacloud/credentials")
    return found
