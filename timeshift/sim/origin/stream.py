"""The simulated stream: which segment covers when and which exist (gaps, media sequence and
discontinuity numbers), and each segment's bytes as served (AES-128 keys and IVs, byte-range
offsets). Pure: computed from the config and the clock's reading, no I/O after loading the
samples."""

from __future__ import annotations

import hashlib
import math

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .config import OriginConfig, load_init, load_segments

__all__ = ["Stream"]


class Stream:
    """The segment grid of the simulated stream: which segment covers when, and which exist."""

    def __init__(self, cfg: OriginConfig) -> None:
        self.segments, self.duration = load_segments(cfg.samples)
        #: CMAF: the init segment the fragments need (None: the segments are MPEG-TS).
        self.init = load_init(cfg.samples)
        start = cfg.stream_start
        if start is None:
            start = math.floor((cfg.clock() - cfg.history) / self.duration) * self.duration
        self.t0 = float(start)
        self.cfg = cfg
        self.gaps = cfg.gaps
        # Grid slots inside gaps, as merged [lo, hi) runs (gaps may be years long, so never
        # one by one): a segment's media sequence number skips them.
        d = self.duration
        runs: list[list[int]] = []
        for lo, hi in sorted((max(0, math.floor(gs / d)), math.ceil(ge / d))
                             for gs, ge in self.gaps if ge > gs):
            if runs and lo <= runs[-1][1]:
                runs[-1][1] = max(runs[-1][1], hi)
            elif hi > lo:
                runs.append([lo, hi])
        self.gap_runs = [(lo, hi) for lo, hi in runs]

    def span(self, k: int) -> tuple[float, float]:
        return self.t0 + k * self.duration, self.t0 + (k + 1) * self.duration

    def in_gap(self, k: int) -> bool:
        a, b = k * self.duration, (k + 1) * self.duration
        return any(a < ge and b > gs for gs, ge in self.gaps)

    def exists(self, k: int, now: float) -> bool:
        return k >= 0 and self.span(k)[1] <= now and not self.in_gap(k)

    def index_at(self, t: float) -> int:
        return math.floor((t - self.t0) / self.duration + 1e-9)

    def sequence(self, k: int) -> int:
        """Segment ``k``'s media sequence number: segments that exist are numbered one by one,
        so the number (and an IV derived from it) is the same in every playlist."""
        return k - sum(max(0, min(hi, k) - lo) for lo, hi in self.gap_runs)

    # -- AES-128 and byte ranges

    def key_index(self, k: int) -> int:
        return k // self.cfg.key_rotation if self.cfg.key_rotation else 0

    def key(self, n: int) -> bytes:
        """Key ``n``: the 16 bytes that encrypt segments ``n*key_rotation`` on."""
        return hashlib.sha256(self.cfg.key_secret + b"key" + n.to_bytes(8, "big")).digest()[:16]

    def served_key(self, n: int) -> bytes:
        """Key ``n`` as served: ``key_length`` bytes (the key, cut short or padded out)."""
        length = self.cfg.key_length
        return (self.key(n) * (length // 16 + 1))[:length]

    def explicit_iv(self, n: int) -> bytes:
        return hashlib.sha256(self.cfg.key_secret + b"iv" + n.to_bytes(8, "big")).digest()[:16]

    def iv(self, k: int) -> bytes:
        if self.cfg.iv == "explicit":
            return self.explicit_iv(self.key_index(k))
        return self.sequence(k).to_bytes(16, "big")

    def plain(self, k: int) -> bytes:
        return self.segments[k % len(self.segments)]

    def wire(self, k: int) -> bytes:
        """Segment ``k``'s bytes as served: encrypted under its key and IV when AES-128 is on."""
        data = self.plain(k)
        if self.cfg.encryption != "aes-128":
            return data
        padder = padding.PKCS7(128).padder()
        padded = padder.update(data) + padder.finalize()
        encryptor = Cipher(algorithms.AES(self.key(self.key_index(k))),
                           modes.CBC(self.iv(k))).encryptor()
        return encryptor.update(padded) + encryptor.finalize()

    def wire_length(self, k: int) -> int:
        n = len(self.plain(k))
        return (n // 16 + 1) * 16 if self.cfg.encryption == "aes-128" else n

    def range_of(self, k: int) -> tuple[int, int]:
        """Segment ``k``'s resource and its offset in it (byte-range mode)."""
        n = self.cfg.byte_ranges
        j = k // n
        return j, sum(self.wire_length(m) for m in range(j * n, k))

    def discontinuity_before(self, k: int) -> bool:
        """True where timestamps jump: the sample cycle wraps, or a gap ends."""
        return k > 0 and (k % len(self.segments) == 0 or self.in_gap(k - 1))

    def discontinuities_before(self, k: int) -> int:
        """How many discontinuities lie before segment ``k`` (EXT-X-DISCONTINUITY-SEQUENCE)."""
        if k <= 1:
            return 0
        wraps = (k - 1) // len(self.segments)
        gap_ends = {self.index_at(self.t0 + ge - 1e-9) + 1 for _, ge in self.gaps}
        extra = sum(1 for j in gap_ends if 0 < j < k and j % len(self.segments) != 0)
        return wraps + extra
