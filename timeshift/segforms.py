"""The two HLS segment forms the fetcher undoes after a body is whole (RFC 8216): AES-128
decryption and byte-range answers. Each turns a whole HTTP answer into the segment's bytes,
or says why the answer is wrong (retryable when it looks cut short)."""

from __future__ import annotations

import logging
import re

import aiohttp
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import RemoteError, redact_url
from .playlist import Segment
from .transfer import Retryable

__all__ = ["decrypt", "take_range"]

log = logging.getLogger("timeshift.fetch")

_CONTENT_RANGE = re.compile(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", re.IGNORECASE)


def decrypt(data: bytes, key: bytes, seg: Segment) -> bytes:
    """AES-128-CBC with PKCS#7 padding; the IV from the playlist or the sequence number."""
    iv = seg.iv
    assert iv is not None
    if len(data) % 16:
        # A body cut short without a Content-Length to tell: fetch it again.
        raise Retryable(f"encrypted body of {len(data)} bytes is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(decryptor.update(data) + decryptor.finalize()) + unpadder.finalize()
    except ValueError:
        plain = b""
    # A wrong key or IV fails the padding check, or (1 time in ~256) passes it with garbage,
    # which the MPEG-TS sync byte catches: feed neither to the remuxer. A CMAF fragment
    # (seg.init set, see cmaf.py) starts with an ISO BMFF box instead.
    fmp4 = seg.init is not None and plain[4:8] in (b"styp", b"moof", b"sidx", b"prft",
                                                      b"emsg", b"ftyp", b"moov", b"free")
    if not (plain.startswith(b"\x47") or fmp4):
        raise RemoteError(f"segment {seg.sequence} does not decrypt to MPEG-TS: the key or IV "
                          "is wrong, or the body is not what the playlist says", url=seg.uri)
    return plain


def take_range(resp: aiohttp.ClientResponse, data: bytes, seg: Segment) -> bytes:
    """The asked-for sub-range out of a Range request's answer, or why the answer is wrong."""
    rng = seg.byterange
    assert rng is not None
    if resp.status == 206:
        header = resp.headers.get("Content-Range")
        m = _CONTENT_RANGE.fullmatch(header) if header else None
        if header is not None and (m is None or (int(m.group(1)), int(m.group(2)) + 1)
                                   != (rng.offset, rng.end)):
            raise RemoteError(f"asked for {rng.header()}, the origin answered Content-Range "
                              f"{header!r}", status=206, url=seg.uri)
        if len(data) < rng.length:
            raise Retryable(f"body {len(data)} of {rng.length} bytes")
        if len(data) > rng.length:
            raise RemoteError(f"asked for {rng.header()} ({rng.length} bytes), the origin "
                              f"answered {len(data)} bytes", status=206, url=seg.uri)
        return data
    if resp.status == 200:
        # The origin ignored Range and sent the whole resource: take the slice (lenient,
        # but every segment of that resource then costs the whole of it).
        if len(data) < rng.end:
            raise RemoteError(f"asked for {rng.header()}, the origin answered 200 with the whole "
                              f"resource of {len(data)} bytes, which ends before it",
                              status=200, url=seg.uri)
        log.info("the origin ignored Range for %s; sliced %s out of %d bytes",
                 redact_url(seg.uri), rng.header(), len(data))
        return data[rng.offset:rng.end]
    raise RemoteError(f"asked for {rng.header()}, the origin answered HTTP {resp.status}",
                      status=resp.status, url=seg.uri)
