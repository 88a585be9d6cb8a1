"""MPEG-TS packets and PSI: constants, packet-level helpers, PES headers, PAT/PMT parsing.

The lower half of :mod:`timeshift.mpegts` (which re-exports the public names here): pure
functions on ``bytes``, tolerant of damaged input in the same way (see its docstring).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

__all__ = ["PTS_CLOCK", "WRAP", "StreamInfo", "streams"]

log = logging.getLogger("timeshift.mpegts")


#: Ticks per second of PTS, DTS and the PCR base.
PTS_CLOCK = 90_000

#: PTS, DTS and the PCR base are 33-bit counters; they wrap at this value.
WRAP = 1 << 33

_MASK = WRAP - 1
_HALF = WRAP >> 1
_PACKET = 188
_SYNC = 0x47
_PAT_PID = 0x0000

# stream_ids whose PES packets have no optional header and hence no PTS/DTS
# (ISO/IEC 13818-1 Table 2-21): program_stream_map, padding, private_stream_2,
# ECM, EMM, program_stream_directory, DSMCC, H.222.1 type E.
_NO_PES_HEADER = frozenset({0xBC, 0xBE, 0xBF, 0xF0, 0xF1, 0xFF, 0xF2, 0xF8})

# Lookup tables for bytes.translate: each maps a header byte to 1 when the bit
# of interest is set, so one C-level pass flags every packet at once.
_T_SYNC = bytes(1 if b == _SYNC else 0 for b in range(256))
_T_PUSI = bytes(1 if b & 0x40 else 0 for b in range(256))  # header byte 1
_T_AF = bytes(1 if b & 0x20 else 0 for b in range(256))  # header byte 3
_T_PCR = bytes(1 if b & 0x18 else 0 for b in range(256))  # AF flags: PCR or OPCR

_ONE = re.compile(b"\x01")

# PTS/DTS layout in 5 bytes (40 bits): 4-bit prefix, ts[32:30], marker,
# ts[29:15], marker, ts[14:0], marker.  These masks split the big-endian integer.
_TS_HI = 0x7 << 30
_TS_MID = 0x7FFF << 15
_TS_LO = 0x7FFF
_TS_KEEP = 0xF100010001  # prefix nibble and the three marker bits

# stream_type -> (kind, codec); codec names follow FFmpeg where it has one.
_STREAM_TYPES: dict[int, tuple[Literal["video", "audio", "other"], str]] = {
    0x01: ("video", "mpeg1video"),
    0x02: ("video", "mpeg2video"),
    0x03: ("audio", "mp3"),
    0x04: ("audio", "mp3"),
    0x0F: ("audio", "aac"),
    0x10: ("video", "mpeg4"),
    0x11: ("audio", "aac_latm"),
    0x15: ("other", "timed_id3"),
    0x1B: ("video", "h264"),
    0x24: ("video", "hevc"),
    0x33: ("video", "vvc"),
    0x42: ("video", "cavs"),
    0x81: ("audio", "ac3"),
    0x86: ("other", "scte_35"),
    0x87: ("audio", "eac3"),
    0xD2: ("video", "avs2"),
    0xD4: ("video", "avs3"),
}

# stream_type 0x06 (PES private data) says nothing by itself; the codec is in a
# descriptor.  registration_descriptor (tag 0x05) format identifiers:
_REGISTRATIONS: dict[bytes, tuple[Literal["video", "audio", "other"], str]] = {
    b"AC-3": ("audio", "ac3"),
    b"EAC3": ("audio", "eac3"),
    b"Opus": ("audio", "opus"),
    b"HEVC": ("video", "hevc"),
    b"ID3 ": ("other", "timed_id3"),
}
# ...and DVB descriptor tags.
_DVB_DESCRIPTORS: dict[int, tuple[Literal["video", "audio", "other"], str]] = {
    0x6A: ("audio", "ac3"),
    0x7A: ("audio", "eac3"),
    0x59: ("other", "dvb_subtitle"),
    0x56: ("other", "dvb_teletext"),
}


@dataclass(frozen=True)
class StreamInfo:
    """One elementary stream announced in a PMT."""

    pid: int
    stream_type: int
    kind: Literal["video", "audio", "other"]
    codec: str


# --------------------------------------------------------------------------
# Packet-level helpers
# --------------------------------------------------------------------------


def _flagged(data: bytes, *, pcr: bool) -> list[int]:
    """Byte offsets of aligned, synced packets that start a payload unit (or carry a PCR).

    Slicing ``data[k::188]`` pulls header byte ``k`` of every packet in one
    C-level copy; ``translate`` turns each into a 0/1 flag and big-int ``&``/``|``
    combines the flag strings, so Python code only runs for the ~100 packets
    of a 2 s segment that matter (3 % of a 720p one) instead of all of them.
    """
    count = len(data) // _PACKET
    if count == 0:
        return []
    end = count * _PACKET
    sync = int.from_bytes(data[0:end:_PACKET].translate(_T_SYNC), "big")
    mask = int.from_bytes(data[1:end:_PACKET].translate(_T_PUSI), "big")
    if pcr:
        has_af = int.from_bytes(data[3:end:_PACKET].translate(_T_AF), "big")
        pcr_flag = int.from_bytes(data[5:end:_PACKET].translate(_T_PCR), "big")
        mask |= has_af & pcr_flag
    mask &= sync
    if log.isEnabledFor(logging.DEBUG):
        bad = count - sync.bit_count()
        if bad:
            log.debug("skipping %d of %d packets without sync byte", bad, count)
        if len(data) != end:
            log.debug("ignoring %d trailing bytes (partial packet)", len(data) - end)
    flags = mask.to_bytes(count, "big")
    return [m.start() * _PACKET for m in _ONE.finditer(flags)]


def _payload_offset(data: bytes, p: int) -> int | None:
    """Offset of the payload of the packet at ``p``, or None if it has none or a bad AF."""
    afc = (data[p + 3] >> 4) & 0x3
    if not afc & 0x1:
        return None
    if afc & 0x2:
        af_len = data[p + 4]
        # With a payload the AF can fill at most 183 - 1 bytes of the packet.
        if af_len > 182:
            log.debug("packet at %d: adaptation field length %d too long", p, af_len)
            return None
        return p + 5 + af_len
    return p + 4


def _random_access(data: bytes, p: int) -> bool:
    """True if the packet at ``p`` has an adaptation field with random_access_indicator set."""
    return bool(data[p + 3] & 0x20) and data[p + 4] > 0 and bool(data[p + 5] & 0x40)


def _pid(data: bytes | bytearray, p: int) -> int:
    return ((data[p + 1] & 0x1F) << 8) | data[p + 2]


def _read_ts(data: bytes, h: int) -> int:
    """Decode the 33-bit PTS/DTS stored in the 5 bytes at ``h``."""
    raw = int.from_bytes(data[h : h + 5], "big")
    return ((raw >> 3) & _TS_HI) | ((raw >> 2) & _TS_MID) | ((raw >> 1) & _TS_LO)


def _pes_timestamps(data: bytes, pos: int, limit: int) -> tuple[int, int | None, int | None] | None:
    """Parse the PES header at ``pos``: ``(stream_id, pts, dts)``, or None if it is not one.

    ``limit`` is the end of the TS packet: a header that does not fit in the
    packet that starts the PES is treated as damaged rather than reassembled,
    because muxers always place the whole header in the first packet.
    """
    if pos + 9 > limit or data[pos : pos + 3] != b"\x00\x00\x01":
        return None
    stream_id = data[pos + 3]
    if stream_id < 0xBC:  # a system start code, never a PES stream_id
        return None
    if stream_id in _NO_PES_HEADER:
        return (stream_id, None, None)
    # The optional header starts with the bits '10'; anything else is not MPEG-2 PES.
    if data[pos + 6] & 0xC0 != 0x80:
        return None
    pts_dts = data[pos + 7] >> 6
    header_len = data[pos + 8]
    h = pos + 9
    if pts_dts == 2 and header_len >= 5 and h + 5 <= limit:
        return (stream_id, _read_ts(data, h), None)
    if pts_dts == 3 and header_len >= 10 and h + 10 <= limit:
        return (stream_id, _read_ts(data, h), _read_ts(data, h + 5))
    if pts_dts:
        log.debug("PES at %d: PTS_DTS_flags %d with header length %d", pos, pts_dts, header_len)
    return (stream_id, None, None)


def _pes_starts(data: bytes) -> Iterator[tuple[int, int, int, int | None, int | None]]:
    """Yield ``(packet_offset, pid, stream_id, pts, dts)`` for every PES-starting packet."""
    for p in _flagged(data, pcr=False):
        pos = _payload_offset(data, p)
        if pos is None:
            continue
        parsed = _pes_timestamps(data, pos, p + _PACKET)
        if parsed is not None:
            yield p, _pid(data, p), parsed[0], parsed[1], parsed[2]


def _signed(delta: int) -> int:
    """Map a difference of 33-bit timestamps into ``[-2**32, 2**32)``."""
    return ((delta + _HALF) & _MASK) - _HALF


# --------------------------------------------------------------------------
# PSI: PAT and PMT
# --------------------------------------------------------------------------


def _crc32_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        c = i << 24
        for _ in range(8):
            c = ((c << 1) ^ 0x04C11DB7) if c & 0x80000000 else (c << 1)
        table.append(c & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc32_table()


def _crc32_mpeg2(section: bytes) -> int:
    """CRC-32/MPEG-2 of ``section``; 0 for an intact section that includes its CRC."""
    crc = 0xFFFFFFFF
    for b in section:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ b]
    return crc


def _sections(data: bytes, pids: set[int]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(pid, section)`` for complete, CRC-valid PSI sections on ``pids``.

    ``pids`` is read afresh for every packet, so a caller may add PMT PIDs
    after seeing the PAT.  Sections may span packets and several may share one.
    """
    pending: dict[int, bytearray] = {}
    count = len(data) // _PACKET
    for i in range(count):
        p = i * _PACKET
        if data[p] != _SYNC:
            continue
        pid = _pid(data, p)
        if pid not in pids:
            continue
        pos = _payload_offset(data, p)
        if pos is None:
            continue
        payload = data[pos : p + _PACKET]
        if data[p + 1] & 0x40:
            pointer = payload[0] if payload else 0
            if pid in pending:
                pending[pid] += payload[1 : 1 + pointer]
                yield from _complete_sections(pid, pending)
            pending[pid] = bytearray(payload[1 + pointer :])
        elif pid in pending:
            pending[pid] += payload
        else:
            continue
        yield from _complete_sections(pid, pending)


def _complete_sections(pid: int, pending: dict[int, bytearray]) -> Iterator[tuple[int, bytes]]:
    """Pop every complete section from ``pending[pid]``."""
    buf = pending[pid]
    while len(buf) >= 3:
        if buf[0] == 0xFF:  # stuffing: the rest of the packet carries no section
            del pending[pid]
            return
        length = ((buf[1] & 0x0F) << 8) | buf[2]
        if len(buf) < 3 + length:
            return
        section = bytes(buf[: 3 + length])
        del buf[: 3 + length]
        # Syntax sections end in a CRC; a damaged one is dropped and the next
        # repetition (PAT/PMT recur every ~100 ms) is used instead.
        if length < 9 or not section[1] & 0x80 or _crc32_mpeg2(section) != 0:
            log.debug("PID %d: dropping PSI section with bad length or CRC", pid)
            continue
        yield pid, section


def _classify(
    stream_type: int, descriptors: bytes
) -> tuple[Literal["video", "audio", "other"], str]:
    """Kind and codec of a PMT entry; private-data streams are identified by descriptor."""
    if stream_type in _STREAM_TYPES:
        return _STREAM_TYPES[stream_type]
    if stream_type == 0x06:
        i = 0
        while i + 2 <= len(descriptors):
            tag, length = descriptors[i], descriptors[i + 1]
            body = descriptors[i + 2 : i + 2 + length]
            if tag == 0x05 and body[:4] in _REGISTRATIONS:
                return _REGISTRATIONS[body[:4]]
            if tag in _DVB_DESCRIPTORS:
                return _DVB_DESCRIPTORS[tag]
            i += 2 + length
        return ("other", "private")
    return ("other", f"unknown_0x{stream_type:02x}")


def _parse_pmt(section: bytes) -> list[StreamInfo]:
    """Elementary streams of one PMT section (table_id 0x02), in PMT order."""
    end = len(section) - 4  # CRC
    program_info_len = ((section[10] & 0x0F) << 8) | section[11]
    i = 12 + program_info_len
    out = []
    while i + 5 <= end:
        stream_type = section[i]
        pid = ((section[i + 1] & 0x1F) << 8) | section[i + 2]
        es_info_len = ((section[i + 3] & 0x0F) << 8) | section[i + 4]
        kind, codec = _classify(stream_type, section[i + 5 : i + 5 + es_info_len])
        out.append(StreamInfo(pid, stream_type, kind, codec))
        i += 5 + es_info_len
    return out


def streams(data: bytes) -> tuple[StreamInfo, ...]:
    """Elementary streams announced by the first PAT and PMT(s) in ``data``.

    Streams come in PMT order, programs in PAT order; a PID listed twice is
    reported once.  Returns ``()`` when no valid PAT/PMT is present (e.g. a
    chunk cut from the middle of a stream).
    """
    wanted = {_PAT_PID}
    programs: list[int] = []  # PMT PIDs in PAT order
    tables: dict[int, list[StreamInfo]] = {}
    for pid, section in _sections(data, wanted):
        table_id = section[0]
        current = section[5] & 0x01
        if not current:  # a table announced for the future is not in force yet
            continue
        if pid == _PAT_PID and table_id == 0x00 and not programs:
            for i in range(8, len(section) - 4 - 3, 4):
                number = (section[i] << 8) | section[i + 1]
                pmt_pid = ((section[i + 2] & 0x1F) << 8) | section[i + 3]
                if number != 0 and pmt_pid not in programs:  # program 0 is the NIT
                    programs.append(pmt_pid)
            wanted.update(programs)
        elif pid in programs and table_id == 0x02 and pid not in tables:
            tables[pid] = _parse_pmt(section)
            if len(tables) == len(programs):
                break
    seen: set[int] = set()
    result = []
    for pmt_pid in programs:
        for info in tables.get(pmt_pid, ()):
            if info.pid not in seen:
                seen.add(info.pid)
                result.append(info)
    return tuple(result)
