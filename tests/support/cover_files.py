"""Cover files for the upload tests, made with Pillow here (nothing checked in): good, bad and hostile."""

from __future__ import annotations

import struct
import zlib
from io import BytesIO

from PIL import Image

RED, BLUE = (220, 20, 20), (20, 20, 220)


def image_bytes(kind: str, size: tuple[int, int] = (300, 450), colour=(40, 120, 90), **save) -> bytes:
    """An image of `kind` (JPEG, PNG, WEBP, GIF) filled with `colour`."""
    out = BytesIO()
    Image.new("RGB", size, colour).save(out, kind, **save)
    return out.getvalue()


def sideways_jpeg() -> bytes:
    """A 600x400 JPEG, red above blue, whose EXIF says "rotate 90° clockwise to show" (orientation 6),
    as a phone writes it. Shown upright it is 400x600 with red on the right. It also carries GPS-ish EXIF."""
    image = Image.new("RGB", (600, 400), BLUE)
    image.paste(RED, (0, 0, 600, 200))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "Camera Maker"  # Make: metadata that must not reach the sizes
    out = BytesIO()
    image.save(out, "JPEG", quality=95, exif=exif.tobytes())
    return out.getvalue()


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (600, 900), quality=95)
    return data[: len(data) // 2]


def png_declaring(width: int, height: int) -> bytes:
    """A small valid PNG whose header is rewritten to declare width x height: a decompression bomb's header."""
    data = bytearray(image_bytes("PNG", (8, 8)))
    start = 8 + 8  # signature, then IHDR's length and type
    data[start : start + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[12 : start + 13]))
    data[start + 13 : start + 17] = struct.pack(">I", crc)
    return bytes(data)


def upload(data: bytes, name: str, content_type: str = "application/octet-stream"):
    """A file part for the Werkzeug test client."""
    return (BytesIO(data), name, content_type)
