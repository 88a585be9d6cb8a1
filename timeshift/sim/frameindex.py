"""Read the frame index that ``tools/make_samples.py`` burns into every video frame.

The sample generator draws a binary stripe across the top rows of each frame:
``bits`` equally wide blocks, most significant bit on the left, luma 235 for a
1 and 16 for a 0.  Reading it back after a lossy encode/decode round trip lets
tests prove *which* source frame a clip, seek or splice actually produced,
instead of trusting timestamps that the code under test computed itself.
"""

from __future__ import annotations

from pathlib import Path

import av

__all__ = [
    "INDEX_BITS",
    "STRIPE_ROWS",
    "decode_frame_indices",
    "read_frame_index",
]

#: Number of bits in the stripe; 16 bits cover 65 536 frames (~43 min at 25 fps).
INDEX_BITS = 16

#: Height of the stripe in luma rows.  One full macroblock row, so the encoder
#: never has to blend the stripe with the picture below inside one block.
STRIPE_ROWS = 16

# Midpoint between the two drawn levels (16 and 235 in limited range; 0 and 255
# once swscale expands to full-range gray).  Either way 128 splits them.
_THRESHOLD = 128


def read_frame_index(frame: av.VideoFrame, bits: int = INDEX_BITS) -> int:
    """Return the frame index encoded in the stripe at the top of ``frame``.

    The frame is converted to 8-bit gray and one pixel is sampled at the centre
    of each block: the centre is farthest from block edges, where compression
    ringing and chroma/luma blur make values unreliable.
    """
    if bits <= 0:
        raise ValueError(f"bits must be positive, got {bits}")
    width = frame.width
    if width < 2 * bits:
        raise ValueError(f"frame width {width} too small for {bits} index bits")

    gray = frame.reformat(format="gray")
    plane = gray.planes[0]
    # Rows are line_size bytes apart, which is usually larger than the width
    # because FFmpeg pads lines for SIMD alignment; indexing by width would
    # drift into the padding and read garbage on every row after the first.
    stride = plane.line_size
    data = bytes(plane)

    row = min(STRIPE_ROWS, gray.height) // 2
    base = row * stride
    value = 0
    for bit in range(bits):
        # Block ``bit`` spans [bit*W/bits, (bit+1)*W/bits); the generator uses
        # the same floor(X*bits/W) mapping, so non-multiple widths still agree.
        x = (2 * bit + 1) * width // (2 * bits)
        value = (value << 1) | (1 if data[base + x] >= _THRESHOLD else 0)
    return value


def decode_frame_indices(path: str | Path, bits: int = INDEX_BITS) -> list[tuple[float, int]]:
    """Decode every video frame of ``path`` and return ``(pts_seconds, index)`` pairs.

    Works for any container PyAV can open (MPEG-TS segments, MP4 clips, ...).
    Pairs come out in presentation order, which is the order the decoder emits
    them after undoing B-frame reordering.
    """
    result: list[tuple[float, int]] = []
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is None:
                # Without a timestamp the pair is meaningless for timing
                # checks; fail loudly rather than invent one.
                raise ValueError(f"{path}: decoded frame without a timestamp")
            result.append((float(frame.time), read_frame_index(frame, bits)))
    return result
