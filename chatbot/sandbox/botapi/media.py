"""Photos as Telegram reports them: image dimensions read from the bytes, a PhotoSize ladder.

Telegram rejects bytes that are not an image (400 IMAGE_PROCESS_FAILED) and answers a list of
sizes (thumbnails up to the original). The emulator does not resize: every size's file_id
downloads the original bytes, which is what a test wants to compare anyway.
"""

from __future__ import annotations

import struct

from .errors import bad_request
from .models import JsonDict
from .state import FileStore, StoredFile

SIZE_LADDER = (90, 320, 800, 1280, 2560)


def image_size(data: bytes) -> tuple[int, int, str] | None:
    """(width, height, extension) of a PNG, JPEG, GIF or WebP image, else None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height, ".png"
    if data.startswith((b"GIF87a", b"GIF89a")) and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height, ".gif"
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _webp_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int, str] | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height, ".jpg"
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        i += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int, str] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height, ".webp"
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, ".webp"
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF, ".webp"
    return None


def store_photo(files: FileStore, data: bytes) -> list[JsonDict]:
    """Store an uploaded photo; its PhotoSize list, smallest first. 400 if not an image."""
    size = image_size(data)
    if size is None:
        raise bad_request("IMAGE_PROCESS_FAILED")
    width, height, extension = size
    original = files.add(data, "photo", extension)
    return photo_sizes(files, original, width, height)


def photo_sizes(files: FileStore, original: StoredFile, width: int, height: int) -> list[JsonDict]:
    sizes: list[JsonDict] = []
    for limit in SIZE_LADDER:
        scale = min(1.0, limit / max(width, height, 1))
        stored = original if scale == 1.0 else files.alias(original)
        sizes.append(
            {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": len(original.data),
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            }
        )
        if scale == 1.0:
            break
    return sizes
