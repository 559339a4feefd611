"""Reading user images safely: every failure becomes one `ImageError` naming the file and the fix.

Pillow does the decoding (JPEG, PNG, WebP, BMP, TIFF, GIF, AVIF, and with pi-heif the HEIC photos phones take);
this module only normalizes what users actually upload (EXIF rotation, 16-bit, alpha, palette, CMYK, grayscale) to
8-bit BGR, the OpenCV order the rest of the package uses, and refuses decompression bombs before decoding.
"""

from __future__ import annotations

import io
import os
import stat
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pi_heif import register_heif_opener

register_heif_opener()  # HEIC/HEIF for Pillow: decoding only (pillow-heif's wheels add a GPL encoder we do not need)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".pgm", ".ppm", ".heic", ".heif",
                  ".avif"}
FORMATS = "a JPEG, PNG, HEIC, WebP, AVIF, GIF, TIFF or BMP photo"  # what messages suggest: every common format read
MAX_PIXELS = 50_000_000  # ~ an 8K photo; larger files are refused before decoding (bomb guard)
# Decoded size: 16- and 32-bit images cost 2-4x the memory and time per pixel of an 8-bit photo.
MAX_DECODED_BYTES = 150_000_000  # = MAX_PIXELS of 8-bit RGB: the limit bites only at higher bit depths
BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "LA": 2, "PA": 2, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2,
                   "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3, "RGBA": 4, "RGBa": 4, "RGBX": 4, "CMYK": 4, "I": 4, "F": 4}


class ImageError(ValueError):
    """An input image that cannot be used; the message names the file and the problem."""


def file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` cannot be read as a file (None: it can, or it is a folder): missing, a link to nothing, or a FIFO,
    device or socket, which reading would wait on forever or stream from without end."""
    if not os.path.lexists(path):
        return "no such file; check the path"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a link to a file that does not exist (a dangling link); fix or remove the link"
    except OSError as exc:
        return f"cannot be read ({exc.strerror}); check its permissions"
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return "not a regular file (a FIFO, device or socket); give photo and video files"
    return None


def _to_bgr8(im: Image.Image) -> np.ndarray:
    """Any Pillow mode as an 8-bit HxWx3 BGR array; transparency is composited on white."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im)
        if im.mode.startswith("I;16"):
            gray = (arr >> 8).astype(np.uint8)
        else:  # 32-bit integers or floats: 0-255 as they are, a larger range scaled into it
            arr = arr.astype(np.float32)
            top = float(np.nanmax(arr)) if arr.size else 255.0
            gray = np.clip(np.nan_to_num(arr) * (255.0 / top if top > 255 else 1.0), 0, 255).astype(np.uint8)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa"):
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im)
    if im.mode == "L":
        return cv2.cvtColor(np.asarray(im), cv2.COLOR_GRAY2BGR)
    # One copy out of Pillow, its channels swapped in place: a 50 MP photo costs 150 MB here, not 450.
    rgb = np.array(im if im.mode == "RGB" else im.convert("RGB"))
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR, dst=rgb)


def read_image(source: str | os.PathLike | bytes, name: str | None = None) -> np.ndarray:
    """Decode a file path or encoded bytes into an HxWx3 uint8 BGR array.

    Raises ImageError with a one-line message for a missing, empty, truncated, over-large,
    or non-image input.
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        if isinstance(source, bytes):
            if not source:
                raise ImageError(f"{label}: the file is empty; choose {FORMATS}")
            fp = io.BytesIO(source)
        else:
            if problem := file_problem(source):
                raise ImageError(f"{label}: {problem}")
            if os.path.isdir(source):
                raise ImageError(f"{label}: is a folder, not an image file; give the images in it (FOLDER/*.jpg), or "
                                 "analyse the whole folder with `emotion batch`")
            if os.path.getsize(source) == 0:
                raise ImageError(f"{label}: the file is empty; choose {FORMATS}")
            fp = source
        with warnings.catch_warnings():
            # Our own limits below, stricter than Pillow's bomb guard, decide (with the size in the message).
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(fp) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise ImageError(
                        f"{label}: image is {w}x{h} pixels, over the {MAX_PIXELS // 1_000_000} "
                        "megapixel limit; resize it and try again"
                    )
                decoded = w * h * BYTES_PER_PIXEL.get(im.mode, 4)
                if decoded > MAX_DECODED_BYTES:
                    raise ImageError(
                        f"{label}: image is {w}x{h} pixels in {im.mode} mode, {decoded / 1e6:.0f} MB decoded, over the "
                        f"{MAX_DECODED_BYTES // 1_000_000} MB limit; save it as an 8-bit JPEG or PNG, or smaller"
                    )
                im.load()
                ImageOps.exif_transpose(im, in_place=True)  # a copy otherwise: 150 MB for a 50 MP photo
                bgr = _to_bgr8(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:  # over twice Pillow's own limit: refused before its size is read
        raise ImageError(f"{label}: image is over the {MAX_PIXELS // 1_000_000} megapixel limit; resize it and try "
                         "again") from None
    except UnidentifiedImageError:
        raise ImageError(
            f"{label}: not a readable image (unknown or unsupported format); use {FORMATS}"
        ) from None
    except (OSError, SyntaxError, ValueError):
        # Pillow's own message is not passed on: for some formats (PPM, PGM) it quotes the file's bytes.
        raise ImageError(f"{label}: the image is damaged or truncated; re-export or re-download it") from None
    return np.ascontiguousarray(bgr)
