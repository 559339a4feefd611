"""Image helpers the face finders share: resizing, borders, contrast, grayscale."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .boxes import RawBox


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` resized by `factor` (shrunk smoothly, enlarged with its pixels kept sharp), each side at least one pixel:
    a very thin photo (1 x 5000) has sides that a plain resize would round to none."""
    if factor == 1:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                      interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_NEAREST)


def is_gray(image: np.ndarray) -> bool:
    """Whether a BGR image's three channels are equal (a grayscale photo)."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def grayscale(image: np.ndarray) -> np.ndarray:
    """A BGR image in gray, kept in three channels."""
    return cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)


def even_contrast(image: np.ndarray) -> np.ndarray:
    """`image` (BGR) with its lightness equalized in tiles (CLAHE), colours kept: a face finder's second look at
    photos too dark, backlit or low in contrast."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    # A new CLAHE object per call: OpenCV's keeps state between calls, and finders are shared by threads.
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def bordered(image: np.ndarray, share: float) -> tuple[np.ndarray, int]:
    """`image` inside a black border `share` of its longer side wide, and that width in pixels."""
    pad = int(round(share * max(image.shape[:2])))
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT), pad


def in_border(image: np.ndarray, share: float, raw_boxes: Callable[[np.ndarray], list[RawBox]]) -> list[RawBox]:
    """The boxes that `raw_boxes` finds in `image` inside a black border (`bordered`), in `image`'s pixels."""
    padded, pad = bordered(image, share)
    return [(x - pad, y - pad, w, h) for x, y, w, h in raw_boxes(padded)]
