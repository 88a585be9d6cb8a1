"""Request signing for the ApsaraVideo Live OpenAPI: V2 (SPEC §4) and V3 (SPEC §7). Pure: no I/O.

V2 (HMAC-SHA1, parameters in the query): StringToSign = ``METHOD&%2F&`` + percentEncode(canonical query), where the canonical
query is every parameter but ``Signature``, sorted by name, each name and value
percent-encoded (UTF-8; ``A-Za-z0-9-_.~`` kept, space as ``%20``), joined with ``&``.
Signature = Base64(HMAC-SHA1(key = secret + "&", StringToSign)).

V3 (ACS3-HMAC-SHA256, what the current official SDKs send): the parameters stay in the
query, the request carries ``x-acs-*`` headers and ``Authorization: ACS3-HMAC-SHA256
Credential=…,SignedHeaders=…,Signature=…`` over a canonical request; see :func:`v3_authorization`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

__all__ = [
    "API_VERSION",
    "EMPTY_SHA256",
    "V3_ALGORITHM",
    "canonical_query",
    "common_params",
    "flatten",
    "percent_encode",
    "sign",
    "string_to_sign",
    "utc_timestamp",
    "v3_authorization",
    "v3_canonical_headers",
    "v3_canonical_query",
    "v3_headers",
    "v3_string_to_sign",
]

API_VERSION = "2016-11-01"


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the service wants it: unreserved characters kept, space as %20."""
    return quote(value, safe="-_.~", encoding="utf-8")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested lists and mappings into RPC names: ``RecordFormat.1.Format``.

    Booleans become ``true``/``false``; None values are left out.
    """
    out: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            for i, item in enumerate(value, start=1):
                if isinstance(item, Mapping):
                    out.update(flatten(item, f"{name}.{i}."))
                elif item is not None:
                    out[f"{name}.{i}"] = _text(item)
        else:
            out[name] = _text(value)
    return out


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def canonical_query(params: Mapping[str, str]) -> str:
    """Sorted, percent-encoded ``k=v`` pairs joined with ``&`` (``Signature`` left out)."""
    return "&".join(
        f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params) if k != "Signature"
    )


def string_to_sign(params: Mapping[str, str], method: str = "GET") -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def sign(params: Mapping[str, str], secret: str, method: str = "GET") -> str:
    """The ``Signature`` value for these parameters."""
    digest = hmac.new(f"{secret}&".encode(), string_to_sign(params, method).encode(),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def utc_timestamp(when: float | None = None) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` in UTC, the form the service accepts."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if when is None else when))


def common_params(action: str, access_key_id: str, *, version: str = API_VERSION,
                  region: str | None = None, security_token: str | None = None,
                  nonce: str | None = None, timestamp: str | None = None,
                  format: str = "JSON") -> dict[str, str]:
    """The common parameters of one request; a fresh nonce and the current time by default."""
    out = {
        "Action": action,
        "Version": version,
        "AccessKeyId": access_key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": nonce or uuid.uuid4().hex,
        "Timestamp": timestamp or utc_timestamp(),
        "Format": format,
    }
    if region:
        out["RegionId"] = region
    if security_token:
        out["SecurityToken"] = security_token
    return out


# -- V3: ACS3-HMAC-SHA256 (SPEC §7)

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def v3_canonical_query(query: Mapping[str, str]) -> str:
    """Sorted ``k=v`` pairs, each percent-encoded as in V2, joined with ``&``."""
    return "&".join(f"{percent_encode(k)}={percent_encode(query[k])}" for k in sorted(query))


def v3_canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The canonical headers (``name:value\n`` each, names lower-cased and sorted, values
    trimmed) and the signed header names joined with ``;``."""
    lowered = {k.lower(): str(v).strip() for k, v in headers.items()}
    names = sorted(lowered)
    return "".join(f"{n}:{lowered[n]}\n" for n in names), ";".join(names)


def v3_string_to_sign(method: str, path: str, query: Mapping[str, str],
                      headers: Mapping[str, str], payload_sha256: str) -> str:
    """``ACS3-HMAC-SHA256\n`` + hex SHA-256 of the canonical request."""
    canon_headers, signed = v3_canonical_headers(headers)
    request = "\n".join([method.upper(), path or "/", v3_canonical_query(query), canon_headers,
                         signed, payload_sha256])
    return f"{V3_ALGORITHM}\n{hashlib.sha256(request.encode()).hexdigest()}"


def v3_authorization(method: str, path: str, query: Mapping[str, str],
                     headers: Mapping[str, str], payload_sha256: str, access_key_id: str,
                     secret: str) -> str:
    """The ``Authorization`` value signing exactly ``headers`` (every one given is signed)."""
    signature = hmac.new(secret.encode(), v3_string_to_sign(
        method, path, query, headers, payload_sha256).encode(), hashlib.sha256).hexdigest()
    _, signed = v3_canonical_headers(headers)
    return f"{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed},Signature={signature}"


def v3_headers(action: str, host: str, *, version: str = API_VERSION, nonce: str | None = None,
               timestamp: str | None = None, security_token: str | None = None,
               payload_sha256: str = EMPTY_SHA256) -> dict[str, str]:
    """The headers a V3 request signs: ``host`` and the ``x-acs-*`` set."""
    out = {
        "host": host,
        "x-acs-action": action,
        "x-acs-version": version,
        "x-acs-date": timestamp or utc_timestamp(),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": payload_sha256,
    }
    if security_token:
        out["x-acs-security-token"] = security_token
    return out
