"""Reading user images safely: every failure becomes one `ImageError` naming the file and the fix.

Pillow does the decoding (JPEG, PNG, WebP, BMP, TIFF, GIF ...); this module only normalizes what
users actually upload (EXIF rotation, 16-bit, alpha, palette, CMYK, grayscale) to 8-bit BGR, the
OpenCV order the rest of the package uses, and refuses decompression bombs before decoding.
"""

from __future__ import annotations

import io
import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm"}
MAX_PIXELS = 50_000_000  # ~ an 8K photo; larger files are refused before decoding (bomb guard)


class ImageError(ValueError):
    """An input image that cannot be used; the message names the file and the problem."""


def _to_rgb8(im: Image.Image) -> Image.Image:
    """Convert any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        return Image.fromarray(np.clip(arr / top * 255.0, 0, 255).astype(np.uint8)).convert("RGB")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, im).convert("RGB")
    return im.convert("RGB")


def read_image(source: str | os.PathLike | bytes, name: str | None = None) -> np.ndarray:
    """Decode a file path or encoded bytes into an HxWx3 uint8 BGR array.

    Raises ImageError with a one-line message for a missing, empty, truncated, over-large,
    or non-image input.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageError(f"{label}: the file is empty; choose a JPEG, PNG, WebP or BMP photo")
            fp = io.BytesIO(source)
        else:
            if not os.path.exists(source):
                raise ImageError(f"{label}: no such file; check the path")
            if os.path.isdir(source):
                raise ImageError(f"{label}: is a folder, not an image file")
            if os.path.getsize(source) == 0:
                raise ImageError(f"{label}: the file is empty; choose a JPEG, PNG, WebP or BMP photo")
            fp = source
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageError(
                        f"{label}: image is {w}x{h} pixels, over the {MAX_PIXELS // 1_000_000} "
                        "megapixel limit; resize it and try again"
                    )
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _to_rgb8(im)
    except ImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(
            f"{label}: not a readable image (unknown or unsupported format); use JPEG, PNG, WebP or BMP"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{label}: the image is damaged or truncated ({exc}); re-export or re-download it") from None
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])
