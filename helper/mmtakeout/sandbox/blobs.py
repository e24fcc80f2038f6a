"""Deterministic file contents, rendered on demand so that million-post worlds stay small in memory.

A `BlobSpec` describes a file (kind, seed, size or pixel dimensions); `render` turns it into bytes.
Images are real, decodable PNG and baseline JPEG files (blocky colour mosaics) written without any
imaging library, so browsers and viewers can display what the sandbox serves.
"""

from __future__ import annotations

import functools
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Literal

BlobKind = Literal["png", "jpeg", "pdf", "text", "binary", "stored"]


@dataclass(frozen=True, slots=True)
class BlobSpec:
    """Everything needed to regenerate a file's bytes: images use width/height, the rest use size."""

    kind: BlobKind
    seed: int
    width: int = 0
    height: int = 0
    size: int = 0
    data: bytes = b""
    """The bytes themselves for kind "stored" (files brought in by a bulk import)."""


def render(spec: BlobSpec) -> bytes:
    """The bytes of a blob; identical for identical specs."""
    return spec.data if spec.kind == "stored" else _render_cached(spec)


def blob_size(spec: BlobSpec) -> int:
    """The byte length of a blob, without rendering it when the spec already says (text, binary, stored)."""
    if spec.kind == "stored":
        return len(spec.data)
    if spec.kind in ("text", "binary"):
        return spec.size
    return len(render(spec))


@functools.lru_cache(maxsize=64)
def _render_cached(spec: BlobSpec) -> bytes:
    if spec.kind == "png":
        return png_mosaic(spec.width, spec.height, spec.seed)
    if spec.kind == "jpeg":
        return jpeg_mosaic(spec.width, spec.height, spec.seed)
    if spec.kind == "pdf":
        return pdf_document(spec.seed)
    if spec.kind == "text":
        return text_document(spec.seed, spec.size)
    return random.Random(spec.seed).randbytes(spec.size)


def _palette(seed: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    rng = random.Random(seed)
    first = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    second = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    return first, second


def _block_colours(seed: int, columns: int, rows: int) -> list[list[tuple[int, int, int]]]:
    """A diagonal gradient between two seeded colours, one colour per 8x8 block."""
    first, second = _palette(seed)
    grid = []
    for row in range(rows):
        line = []
        for column in range(columns):
            weight = (column / max(columns - 1, 1) + row / max(rows - 1, 1)) / 2
            line.append(
                (
                    round(first[0] + (second[0] - first[0]) * weight),
                    round(first[1] + (second[1] - first[1]) * weight),
                    round(first[2] + (second[2] - first[2]) * weight),
                )
            )
        grid.append(line)
    return grid


# --- PNG -----------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_mosaic(width: int, height: int, seed: int) -> bytes:
    """An RGB PNG whose 8x8 blocks follow the same gradient as `jpeg_mosaic`."""
    columns, rows = (width + 7) // 8, (height + 7) // 8
    grid = _block_colours(seed, columns, rows)
    raw = bytearray()
    for row in range(rows):
        line = b"".join(bytes(colour) * 8 for colour in grid[row])
        scanline = b"\x00" + line[: width * 3]
        raw += scanline * min(8, height - row * 8)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 6))
        + _png_chunk(b"IEND", b"")
    )


# --- JPEG (baseline, 4:4:4, DC-only blocks) --------------------------------------------------------

# The standard luminance DC table of ITU T.81 Annex K: code lengths per bit count, then symbols.
_DC_BITS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_VALUES = tuple(range(12))
# Every block is flat, so the only AC symbol ever written is end-of-block (0x00), coded as "0".
_AC_BITS = (1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
_AC_VALUES = (0,)
_QUANT = 8  # DC quantiser 8 makes the quantised DC equal to the block's level-shifted sample value.


def _canonical_codes(bits: tuple[int, ...], values: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    codes: dict[int, tuple[int, int]] = {}
    code = 0
    index = 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


_DC_CODES = _canonical_codes(_DC_BITS, _DC_VALUES)
_AC_CODES = _canonical_codes(_AC_BITS, _AC_VALUES)


class _BitWriter:
    """Huffman-coded scan data with JPEG's 0xFF byte stuffing."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._accumulator = 0
        self._count = 0

    def write(self, value: int, length: int) -> None:
        self._accumulator = (self._accumulator << length) | (value & ((1 << length) - 1))
        self._count += length
        while self._count >= 8:
            self._count -= 8
            byte = (self._accumulator >> self._count) & 0xFF
            self.out.append(byte)
            if byte == 0xFF:
                self.out.append(0)
        self._accumulator &= (1 << self._count) - 1

    def flush(self) -> bytes:
        if self._count:
            padding = 8 - self._count
            self.write((1 << padding) - 1, padding)
        return bytes(self.out)


def _ycbcr(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    r, g, b = rgb
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
    cr = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
    return tuple(max(0, min(255, round(v))) for v in (y, cb, cr))  # type: ignore[return-value]


def _write_dc(writer: _BitWriter, difference: int) -> None:
    magnitude = abs(difference)
    category = magnitude.bit_length()
    code, length = _DC_CODES[category]
    writer.write(code, length)
    if category:
        bits = difference if difference > 0 else difference + (1 << category) - 1
        writer.write(bits, category)


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">HH", marker, len(payload) + 2) + payload


def _huffman_table(table_class: int, table_id: int, bits: tuple[int, ...], values: tuple[int, ...]) -> bytes:
    return bytes([(table_class << 4) | table_id, *bits, *values])


def jpeg_mosaic(width: int, height: int, seed: int) -> bytes:
    """A baseline JPEG of flat 8x8 blocks in a seeded gradient (what thumbnails and previews look like)."""
    columns, rows = (width + 7) // 8, (height + 7) // 8
    grid = _block_colours(seed, columns, rows)
    writer = _BitWriter()
    previous = [0, 0, 0]
    for row in range(rows):
        for column in range(columns):
            components = _ycbcr(grid[row][column])
            for index, sample in enumerate(components):
                dc = sample - 128
                _write_dc(writer, dc - previous[index])
                previous[index] = dc
                code, length = _AC_CODES[0]
                writer.write(code, length)
    scan = writer.flush()
    quant = bytes([0, *([_QUANT] * 64)]) + bytes([1, *([_QUANT] * 64)])
    frame = struct.pack(">BHHB", 8, height, width, 3) + bytes([1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1])
    tables = (
        _huffman_table(0, 0, _DC_BITS, _DC_VALUES)
        + _huffman_table(0, 1, _DC_BITS, _DC_VALUES)
        + _huffman_table(1, 0, _AC_BITS, _AC_VALUES)
        + _huffman_table(1, 1, _AC_BITS, _AC_VALUES)
    )
    scan_header = bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0])
    return (
        b"\xff\xd8"
        + _segment(0xFFE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
        + _segment(0xFFDB, quant)
        + _segment(0xFFC0, frame)
        + _segment(0xFFC4, tables)
        + _segment(0xFFDA, scan_header)
        + scan
        + b"\xff\xd9"
    )


# --- PDF and text ----------------------------------------------------------------------------------

_WORDS = [
    "archive",
    "export",
    "channel",
    "thread",
    "message",
    "reaction",
    "release",
    "planning",
    "budget",
    "review",
    "meeting",
    "notes",
    "design",
    "sketch",
    "draft",
    "summary",
    "agenda",
    "follow-up",
    "decision",
    "action",
    "owner",
    "deadline",
    "milestone",
    "update",
]


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(words)).capitalize() + "."


def pdf_document(seed: int) -> bytes:
    """A one-page PDF with a line of seeded text and a valid cross-reference table."""
    text = _sentence(random.Random(seed), 8).replace("(", "").replace(")", "")
    stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


def text_document(seed: int, size: int) -> bytes:
    """UTF-8 text of exactly `size` bytes (lines of seeded words)."""
    rng = random.Random(seed)
    out = bytearray()
    while len(out) < size:
        out += (_sentence(rng, rng.randrange(4, 12)) + "\n").encode("ascii")
    return bytes(out[:size])
