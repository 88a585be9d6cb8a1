"""Who may ask: signature V1 (``Authorization: OSS ak:sig`` and presigned
``OSSAccessKeyId/Expires/Signature``) and V4 (``OSS4-HMAC-SHA256`` header and presigned
``x-oss-signature-version`` query), checked as OSS checks them.

The string-to-sign builders are pure and public, so tests compare them with the SDKs'.
Everything from the request is hostile: a missing parameter or a signature that is not
ASCII is a 4xx answer, never a crash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from urllib.parse import quote

from .config import OssConfig
from .wire import MAX_PRESIGN_V4, MAX_SKEW, Fail, Req, iso, parse_http_date

__all__ = ["V1_SUBRESOURCES", "authenticate", "sign_v1", "v1_canonical_resource",
           "v1_string_to_sign", "v4_canonical_request", "v4_signing_key", "v4_string_to_sign"]

# The query parameters signature V1 signs (oss2.auth.ProviderAuth._subresource_key_set):
# any other parameter is left out of the canonicalized resource.
V1_SUBRESOURCES = frozenset([
    "response-content-type", "response-content-language", "response-cache-control", "logging",
    "response-content-encoding", "acl", "uploadId", "uploads", "partNumber", "group", "link",
    "delete", "website", "location", "objectInfo", "objectMeta", "response-expires",
    "response-content-disposition", "cors", "lifecycle", "restore", "qos", "referer", "stat",
    "bucketInfo", "append", "position", "security-token", "live", "comp", "status", "vod",
    "startTime", "endTime", "x-oss-process", "symlink", "callback", "callback-var", "tagging",
    "encryption", "versions", "versioning", "versionId", "policy", "requestPayment",
    "x-oss-traffic-limit", "qosInfo", "asyncFetch", "x-oss-request-payer", "sequential",
    "inventory", "inventoryId", "continuation-token", "worm", "wormId", "wormExtend",
    "replication", "replicationLocation", "replicationProgress", "transferAcceleration",
    "cname", "metaQuery", "x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id",
    "x-oss-ac-forward-allow", "resourceGroup", "style", "styleName", "x-oss-async-process",
    "regionList", "x-oss-write-get-object-response", "bucketArchiveDirectRead", "httpsConfig",
    "redundancyTransition", "x-oss-target-redundancy-type", "x-oss-redundancy-transition-taskid",
    "accessPoint", "accessPointPolicy", "publicAccessBlock", "x-oss-access-point-name",
    "requesterQosInfo", "qosRequester", "resourcePoolInfo", "resourcePool",
    "resourcePoolBuckets",
])


def v1_canonical_resource(bucket: str | None, key: str, params: Mapping[str, str]) -> str:
    """``/bucket/key?sub=res`` with only the V1 sub-resources, sorted, values unencoded."""
    subs = sorted((k, v) for k, v in params.items() if k in V1_SUBRESOURCES)
    query = "&".join(f"{k}={v}" if v else k for k, v in subs)
    base = f"/{bucket}/{key}" if bucket else "/"
    return base + ("?" + query if query else "")


def v1_string_to_sign(method: str, headers: Mapping[str, str], date: str, resource: str) -> str:
    """VERB, Content-MD5, Content-Type, Date, then the ``x-oss-*`` headers and the resource.

    ``headers`` must have lower-case names.
    """
    oss = sorted((k, v) for k, v in headers.items() if k.startswith("x-oss-"))
    canon = "".join(f"{k}:{v}\n" for k, v in oss)
    return "\n".join([method, headers.get("content-md5", ""), headers.get("content-type", ""),
                      date, canon + resource])


def _v4_quote(text: str, keep_slash: bool) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX upper-case.
    return quote(text, safe="/~" if keep_slash else "~")


def v4_canonical_request(method: str, bucket: str | None, key: str, params: Mapping[str, str],
                         headers: Mapping[str, str], additional: Iterable[str],
                         payload_hash: str) -> str:
    """The V4 canonical request: verb, URI, query, headers, additional header names, hash.

    ``headers`` must have lower-case names; signed are ``x-oss-*``, Content-Type,
    Content-MD5 and the ``additional`` ones.
    """
    uri = _v4_quote(f"/{bucket}/{key}" if bucket else "/", keep_slash=True)
    pairs = sorted((_v4_quote(k, False), _v4_quote(v, False)) for k, v in params.items())
    query = "&".join(f"{k}={v}" if v else k for k, v in pairs)
    extra = sorted(set(additional))
    signed = sorted((k, v) for k, v in headers.items()
                    if k.startswith("x-oss-") or k in ("content-type", "content-md5") or k in extra)
    canon_headers = "".join(f"{k}:{v.strip()}\n" for k, v in signed)
    return "\n".join([method, uri, query, canon_headers, ";".join(extra), payload_hash])


def v4_string_to_sign(timestamp: str, scope: str, canonical_request: str) -> str:
    digest = hashlib.sha256(_bytes(canonical_request)).hexdigest()
    return f"OSS4-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"


def v4_signing_key(secret: str, date: str, region: str, product: str = "oss") -> bytes:
    key = hmac.new(("aliyun_v4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign_v1(secret: str, string_to_sign: str) -> str:
    """The V1 signature: base64 of HMAC-SHA1 under the AccessKey secret."""
    return base64.b64encode(hmac.new(secret.encode(), _bytes(string_to_sign),
                                     hashlib.sha1).digest()).decode()


def _bytes(text: str) -> bytes:
    # Request text arrives with undecodable bytes as surrogates: give them back as bytes
    # instead of failing (a 500) on them; they then simply do not match.
    return text.encode("utf-8", "surrogateescape")


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that any given text survives (bytes, not str: a non-ASCII
    str makes hmac.compare_digest raise)."""
    return hmac.compare_digest(_bytes(expected), given.encode("utf-8", "surrogatepass"))


def authenticate(cfg: OssConfig, req: Req) -> None:
    auth = req.headers.get("authorization", "")
    p = req.params
    if auth.startswith("OSS "):
        _auth_v1(cfg, req, auth[4:], presigned=False)
    elif auth.startswith("OSS4-HMAC-SHA256 "):
        _auth_v4(cfg, req, auth[len("OSS4-HMAC-SHA256 "):])
    elif "OSSAccessKeyId" in p and "Signature" in p:
        _auth_v1(cfg, req, f"{p['OSSAccessKeyId']}:{p['Signature']}", presigned=True)
    elif p.get("x-oss-signature-version") == "OSS4-HMAC-SHA256":
        _auth_v4(cfg, req, None)
    elif auth:
        raise Fail(400, "InvalidArgument", "Authorization header is invalid or unsupported.",
                    ArgumentName="Authorization", ArgumentValue=auth.split(" ", 1)[0])
    else:
        raise Fail(403, "AccessDenied",
                    "You have no right to access this object because of bucket acl.")


def _check_key_id(cfg: OssConfig, access_key_id: str) -> None:
    if access_key_id != cfg.access_key_id:
        raise Fail(403, "InvalidAccessKeyId",
                    "The OSS Access Key Id you provided does not exist in our records.",
                    OSSAccessKeyId=access_key_id)


def _expired(cfg: OssConfig, expires: float) -> Fail:
    now = cfg.clock()
    return Fail(403, "AccessDenied", "Request has expired.",
                 Expires=iso(expires).replace(".000", ""), ServerTime=iso(now).replace(".000", ""))


def _check_skew(cfg: OssConfig, ts: float | None) -> None:
    now = cfg.clock()
    if ts is None:
        raise Fail(403, "AccessDenied", "The request date is missing or invalid.")
    if abs(now - ts) > MAX_SKEW:
        raise Fail(403, "RequestTimeTooSkewed", "The difference between the request time "
                    "and the current time is too large.", RequestTime=iso(ts),
                    ServerTime=iso(now), MaxAllowedSkewMilliseconds=str(MAX_SKEW * 1000))


def _auth_v1(cfg: OssConfig, req: Req, credential: str, presigned: bool) -> None:
    access_key_id, _, signature = credential.rpartition(":")
    _check_key_id(cfg, access_key_id)
    if presigned:
        date = req.params.get("Expires", "")
        try:
            expires = int(date)
        except ValueError:  # missing, or not a number
            raise Fail(403, "AccessDenied", "Invalid Expires.") from None
        if expires < cfg.clock():
            raise _expired(cfg, expires)
    else:
        date = req.headers.get("x-oss-date") or req.headers.get("date", "")
        _check_skew(cfg, parse_http_date(date))
    resource = v1_canonical_resource(req.bucket, req.key, req.params)
    to_sign = v1_string_to_sign(req.method, req.headers, date, resource)
    expected = sign_v1(cfg.access_key_secret, to_sign)
    if not _same(expected, signature):
        raise Fail(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                    "not match the signature you provided. Check your key and signing "
                    "method.", StringToSign=to_sign, SignatureProvided=signature,
                    OSSAccessKeyId=access_key_id)


def _auth_v4(cfg: OssConfig, req: Req, header: str | None) -> None:
    params = dict(req.params)
    if header is None:  # presigned: everything is in the query
        fields = {
            "Credential": params.get("x-oss-credential", ""),
            "Signature": params.pop("x-oss-signature", ""),
            "AdditionalHeaders": params.get("x-oss-additional-headers", ""),
        }
        timestamp = params.get("x-oss-date", "")
    else:
        fields = {}
        for item in header.split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value
        timestamp = req.headers.get("x-oss-date", "")
    scope_parts = fields.get("Credential", "").split("/")
    if len(scope_parts) != 5 or scope_parts[4] != "aliyun_v4_request":
        raise Fail(400, "InvalidArgument", "Invalid credential in Authorization.",
                    ArgumentName="Credential", ArgumentValue=fields.get("Credential", ""))
    access_key_id, date, region, product, _ = scope_parts
    _check_key_id(cfg, access_key_id)
    if product != "oss" or (cfg.region is not None and region != cfg.region):
        raise Fail(400, "InvalidArgument", "Invalid signing region or product in "
                    "Authorization.", ArgumentName="Credential",
                    ArgumentValue=fields["Credential"])
    try:
        ts = datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=timezone.utc).timestamp()
    except ValueError:
        raise Fail(403, "AccessDenied", "x-oss-date is missing or invalid.") from None
    if timestamp[:8] != date:
        raise Fail(400, "InvalidArgument", "The date in the credential scope does not "
                    "match x-oss-date.", ArgumentName="Credential", ArgumentValue=date)
    if header is None:
        try:
            lifetime = int(params.get("x-oss-expires", ""))
        except ValueError:
            raise Fail(400, "InvalidArgument", "x-oss-expires is invalid.",
                        ArgumentName="x-oss-expires") from None
        if lifetime > MAX_PRESIGN_V4:
            raise Fail(400, "InvalidArgument", "x-oss-expires must be at most 7 days.",
                        ArgumentName="x-oss-expires", ArgumentValue=str(lifetime))
        if ts + lifetime < cfg.clock():
            raise _expired(cfg, ts + lifetime)
    else:
        _check_skew(cfg, ts)
    additional = [h for h in fields.get("AdditionalHeaders", "").split(";") if h]
    canonical = v4_canonical_request(
        req.method, req.bucket, req.key, params, req.headers, additional,
        req.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD"))
    scope = "/".join(scope_parts[1:])
    to_sign = v4_string_to_sign(timestamp, scope, canonical)
    key = v4_signing_key(cfg.access_key_secret, date, region, product)
    expected = hmac.new(key, _bytes(to_sign), hashlib.sha256).hexdigest()
    if not _same(expected, fields.get("Signature", "")):
        raise Fail(403, "SignatureDoesNotMatch", "The request signature we calculated does "
                    "not match the signature you provided. Check your key and signing "
                    "method.", StringToSign=to_sign, CanonicalRequest=canonical,
                    SignatureProvided=fields.get("Signature", ""),
                    OSSAccessKeyId=access_key_id)
