"""CRC-64/XZ as OSS reports it (``x-oss-hash-crc64ecma``), and the combination of part
CRCs into a multipart object's."""

from __future__ import annotations

import fastcrc
from oss2.crc64_combine import mkCombineFun

__all__ = ["crc64", "crc64_combine"]

_MASK64 = 0xFFFFFFFFFFFFFFFF
_CRC64_POLY = 0x142F0E1EBA9EA3693  # ECMA-182, reflected with all-ones xor-out: CRC-64/XZ
# fastcrc computes it (the archiver's own CRC-64; crcmod's C extension, ~0.4 GB/s, made
# the server's CRC of every PUT body a large share of a local archive's CPU); oss2's own
# combiner joins the CRCs of multipart parts, exactly as the client that verifies them does.
_crc64_combine_fun = mkCombineFun(_CRC64_POLY, initCrc=0, rev=True, xorOut=_MASK64)


def crc64(data: bytes, crc: int = 0) -> int:
    """CRC-64/XZ of ``data`` continuing from ``crc`` (a previous result), as OSS reports it.

    ``crc64(b"123456789") == 0x995DC9BBDF1939FA``.
    """
    return fastcrc.crc64.xz(data, crc) if crc else fastcrc.crc64.xz(data)


def crc64_combine(crc1: int, crc2: int, len2: int) -> int:
    """The CRC of ``a + b`` from ``crc64(a)``, ``crc64(b)`` and ``len(b)``."""
    return int(_crc64_combine_fun(crc1, crc2, len2)) if len2 else crc1

