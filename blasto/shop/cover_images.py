"""Cover images: an upload checked by opening it, and the sizes the pages show.

An upload is never trusted by its file name or Content-Type: Pillow opens
it, restricted to JPEG, PNG and WebP, and decodes it in full, so a text
file named .jpg, a truncated file or a format we do not take is a field
error, not a surprise in the worker. The pixel count is checked from the
header before anything is decoded (a small file can declare a huge image:
a decompression bomb), and Pillow's own bomb guard is an error here too.

Every size is cropped to the 2:3 of a book cover, so pages can give the
<img> its width and height without knowing the upload: no layout shift.
The sizes are WebP, EXIF orientation applied, and carry no metadata (no
EXIF, GPS or XMP from the admin's camera).
"""

from __future__ import annotations

import warnings
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000  # 5000 x 5000: a print-quality cover, decoded in ~100 MB at most
FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
WIDTHS = (200, 480)  # the catalogue's cards and the book page (2x for sharp screens: 480 > 2 x 200)
ASPECT = (2, 3)
WEBP_QUALITY = 82


class CoverProblem(ValueError):
    """Why an upload is not a cover we take, in words for the admin."""


def height_for(width: int) -> int:
    return width * ASPECT[1] // ASPECT[0]


def check_cover(data: bytes) -> str:
    """The upload's content type (image/jpeg, image/png or image/webp); CoverProblem if it is not one we take."""
    if not data:
        raise CoverProblem("The file is empty. Choose a JPEG, PNG or WebP image.")
    if len(data) > MAX_BYTES:
        raise CoverProblem(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; a cover may be at most {MAX_BYTES // 1024 // 1024} MB."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=list(FORMATS)) as image:
                kind = image.format
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise CoverProblem(
                        f"The image is {width:,} × {height:,} pixels; a cover may have at most {MAX_PIXELS:,} pixels."
                    )
                image.load()  # decodes everything: a truncated or corrupt file fails here
    except CoverProblem:
        raise
    except UnidentifiedImageError:
        raise CoverProblem("This file is not a JPEG, PNG or WebP image.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CoverProblem(f"The image is far too large; a cover may have at most {MAX_PIXELS:,} pixels.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise CoverProblem("The image is damaged or cut short; export it again and upload the new file.") from None
    if width < 1 or height < 1 or kind not in FORMATS:
        raise CoverProblem("This file is not a JPEG, PNG or WebP image.")
    return FORMATS[kind]


def make_sizes(data: bytes) -> dict[int, bytes]:
    """Each of WIDTHS as WebP bytes (2:3, upright, no metadata), from an original check_cover accepted."""
    with Image.open(BytesIO(data), formats=list(FORMATS)) as opened:
        image = ImageOps.exif_transpose(opened)
        has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    sizes = {}
    for width in WIDTHS:
        sized = ImageOps.fit(image, (width, height_for(width)), Image.Resampling.LANCZOS)
        clean = Image.new(sized.mode, sized.size)  # a new image: no info (EXIF, XMP, ICC) carried over
        clean.paste(sized)
        out = BytesIO()
        clean.save(out, "WEBP", quality=WEBP_QUALITY, method=4)
        sizes[width] = out.getvalue()
    return sizes
