"""How the local Live API checks who calls it: V2 (SPEC §4) and V3 (SPEC §7) signatures.

Both are checked the way the service does, with its error codes: a missing piece is
``IncompleteSignature`` (``MissingParameter`` for the AccessKeyId of V2), an unknown key
``InvalidAccessKeyId.NotFound``, a bad or far-off time ``InvalidTimeStamp.Format`` /
``InvalidTimeStamp.Expired``, a wrong signature ``SignatureDoesNotMatch`` (with the server's
string to sign, which the official SDKs compare with their own), and a reused nonce
``SignatureNonceUsed``. A V3 request signs whichever headers it lists, but ``host`` and
every ``x-acs-*`` header it carries must be among them.
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping

from multidict import CIMultiDictProxy

from ..openapi.signing import V3_ALGORITHM, sign, string_to_sign, v3_string_to_sign

__all__ = ["MAX_SKEW", "ApiFail", "Verifier"]

MAX_SKEW = 15 * 60
_V3_REQUIRED = ("x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                "x-acs-content-sha256")
_AUTH_PART = re.compile(r"\s*(Credential|SignedHeaders|Signature)=([^,\s]*)\s*")


class ApiFail(Exception):
    """An error answer of the service: HTTP status, ``Code`` and ``Message``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _timestamp(value: str) -> int:
    try:
        return calendar.timegm(time.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        raise ApiFail(400, "InvalidTimeStamp.Format",
                      "Specified time stamp or date value is not well formatted.") from None


def _mismatch(string: str) -> ApiFail:
    return ApiFail(400, "SignatureDoesNotMatch",
                   "Specified signature is not matched with our calculation. "
                   f"server string to sign is:{string}")


class Verifier:
    """One AccessKey pair, a clock and the nonces seen within twice the allowed skew."""

    def __init__(self, access_key_id: str, access_key_secret: str,
                 clock: Callable[[], float]) -> None:
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.clock = clock
        self.nonces: dict[str, float] = {}

    def verify(self, method: str, path: str, params: dict[str, str], query: Mapping[str, str],
               headers: CIMultiDictProxy[str], body: bytes) -> dict[str, str]:
        """Check one request; returns its API parameters (``Action`` included).

        Raises:
            ApiFail: the service's answer to a request it refuses.
        """
        auth = headers.get("Authorization", "")
        if auth.startswith(V3_ALGORITHM):
            self._v3(method, path, query, headers, body, auth)
            return {**params, "Action": headers.get("x-acs-action", "")}
        self._v2(method, params)
        return params

    def _fresh(self, ts: int, nonce: str) -> None:
        now = self.clock()
        if abs(now - ts) > MAX_SKEW:
            raise ApiFail(400, "InvalidTimeStamp.Expired",
                          "Specified time stamp or date value is expired.")
        for old in [n for n, t in self.nonces.items() if now - t > 2 * MAX_SKEW]:
            del self.nonces[old]
        if nonce in self.nonces:
            raise ApiFail(400, "SignatureNonceUsed", "Specified signature nonce was used already.")

    def _v2(self, method: str, params: dict[str, str]) -> None:
        for name in ("AccessKeyId", "Signature", "SignatureNonce", "Timestamp", "SignatureMethod"):
            if not params.get(name):
                raise ApiFail(400, "IncompleteSignature" if name != "AccessKeyId" else
                              "MissingParameter", f"{name} is mandatory for this action.")
        if params["AccessKeyId"] != self.access_key_id:
            raise ApiFail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        ts = _timestamp(params["Timestamp"])
        if abs(self.clock() - ts) > MAX_SKEW:
            raise ApiFail(400, "InvalidTimeStamp.Expired",
                          "Specified time stamp or date value is expired.")
        expected = sign(params, self._secret, method)
        if not hmac.compare_digest(expected.encode(), params["Signature"].encode("utf-8")):
            raise _mismatch(string_to_sign(params, method))
        self._fresh(ts, params["SignatureNonce"])
        self.nonces[params["SignatureNonce"]] = self.clock()

    def _v3(self, method: str, path: str, query: Mapping[str, str],
            headers: CIMultiDictProxy[str], body: bytes, auth: str) -> None:
        parts: dict[str, str] = {}
        for piece in auth[len(V3_ALGORITHM):].split(","):
            if m := _AUTH_PART.fullmatch(piece):
                parts[m.group(1)] = m.group(2)
        if not all(parts.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
            raise ApiFail(400, "IncompleteSignature",
                          "The Authorization header lacks Credential, SignedHeaders or Signature.")
        for name in _V3_REQUIRED:
            if not headers.get(name):
                raise ApiFail(400, "IncompleteSignature", f"{name} is mandatory for this action.")
        signed = parts["SignedHeaders"].split(";")
        present = {k.lower() for k in headers if k.lower().startswith("x-acs-")} | {"host"}
        if unsigned := sorted(present - set(signed)):
            raise ApiFail(400, "IncompleteSignature",
                          f"The header(s) {', '.join(unsigned)} must be signed.")
        if parts["Credential"] != self.access_key_id:
            raise ApiFail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        ts = _timestamp(headers["x-acs-date"])
        self._fresh(ts, headers["x-acs-signature-nonce"])
        canon = {name: ",".join(sorted(v.strip() for v in headers.getall(name, [""])))
                 for name in signed}
        string = v3_string_to_sign(method, path, query, canon, headers["x-acs-content-sha256"])
        expected = hmac.new(self._secret.encode(), string.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), parts["Signature"].encode("utf-8")):
            raise _mismatch(string)
        if hashlib.sha256(body).hexdigest() != headers["x-acs-content-sha256"].lower():
            raise ApiFail(400, "SignatureDoesNotMatch",
                          "x-acs-content-sha256 is not the SHA-256 of the body.")
        self.nonces[headers["x-acs-signature-nonce"]] = self.clock()
