"""The one capped reader: an HTTP answer we parse is read to at most N *decoded* bytes.

A compressed body is small on the wire and huge once inflated (a 400 KB gzip body can
inflate to 400 MB), so the cap must count what decompression yields, not what the socket
gave. Every transport reads raw (undecoded) chunks and feeds them to one
:class:`CappedBody`, which decodes ``Content-Encoding`` itself (gzip, deflate, identity)
with zlib's ``max_length``, so no single step can inflate past the cap either. Pure:
the transports own the sockets.
"""

from __future__ import annotations

import zlib

__all__ = ["AnswerTooLarge", "CappedBody", "decode_capped"]

_STEP = 1 << 20  # inflate in steps of at most this much, so a bomb never lands whole


class AnswerTooLarge(Exception):
    """The decoded answer is over its cap (translated into a RemoteError by the transport)."""

    def __init__(self, limit: int, what: str = "answer") -> None:
        super().__init__(f"{what} is over {_size(limit)}")
        self.limit = limit
        self.what = what


class UnsupportedEncoding(Exception):
    """A Content-Encoding we did not ask for and cannot decode."""


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and n % (1 << 20) == 0 else f"{n} bytes"


class CappedBody:
    """Collects a body from raw chunks, decoding it, and refuses it past ``limit`` bytes.

    Args:
        limit: the most decoded bytes accepted.
        encoding: the answer's ``Content-Encoding`` (None, identity, gzip, x-gzip, deflate).
        what: names the document in the error ("timeline answer", "playlist").

    Raises (from :meth:`feed` and :meth:`finish`):
        AnswerTooLarge: over the limit (raised as soon as it is known).
        UnsupportedEncoding: an encoding other than those above (br, zstd, chains).
    """

    def __init__(self, limit: int, encoding: str | None = None, what: str = "answer") -> None:
        self.limit = limit
        self.what = what
        self._buf = bytearray()
        self._pieces = bytearray()
        enc = (encoding or "identity").strip().lower()
        self._inflater: zlib._Decompress | None
        if enc in ("", "identity"):
            self._inflater = None
        elif enc in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif enc == "deflate":
            self._inflater = zlib.decompressobj()  # may turn raw on the first byte (see feed)
        else:
            raise UnsupportedEncoding(f"Content-Encoding {encoding!r} is not supported")
        self._deflate = enc == "deflate"
        self._seen = False

        self.count = 0  # decoded bytes so far
        self._keep = True

    @property
    def size(self) -> int:
        return self.count

    def decode(self, chunk: bytes) -> bytes:
        """Decode one raw chunk and return it (counted, not kept): for streaming readers."""
        self._keep = False
        out = bytearray()
        self._pieces = out
        self.feed(chunk)
        return bytes(out)

    def feed(self, chunk: bytes) -> None:
        if self._inflater is None:
            self._take(chunk)
            return
        if self._deflate and not self._seen and chunk:
            # "deflate" is zlib-wrapped per the RFC, but raw from some servers.
            self._seen = True
            if (chunk[0] & 0x0F) != 8:
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        data = chunk
        try:
            while True:
                room = self.limit - self.count + 1
                out = self._inflater.decompress(data, min(_STEP, room))
                self._take(out)
                data = self._inflater.unconsumed_tail
                if not data:
                    return
        except zlib.error as exc:
            raise UnsupportedEncoding(f"the body is not valid {self._encoding_name()} ({exc})") \
                from exc

    def _encoding_name(self) -> str:
        return "deflate" if self._deflate else "gzip"

    def _take(self, data: bytes) -> None:
        if self.count + len(data) > self.limit:
            raise AnswerTooLarge(self.limit, self.what)
        self.count += len(data)
        if self._keep:
            self._buf += data
        else:
            self._pieces += data

    def finish(self) -> bytes:
        """The whole decoded body (streaming: what the decoder still held)."""
        if not self._keep:
            self._pieces = bytearray()
        if self._inflater is not None:
            try:
                self._take(self._inflater.flush(_STEP))
            except zlib.error as exc:
                raise UnsupportedEncoding(f"the body is not valid {self._encoding_name()}") \
                    from exc
        return bytes(self._buf) if self._keep else bytes(self._pieces)


def decode_capped(raw: bytes, encoding: str | None, limit: int, what: str = "answer") -> bytes:
    """Decode a body already in memory under the same cap."""
    body = CappedBody(limit, encoding, what)
    for i in range(0, len(raw), _STEP):
        body.feed(raw[i:i + _STEP])
    return body.finish()
