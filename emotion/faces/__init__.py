"""Face finders behind one small interface: `find(image_bgr) -> list[FaceBox]`.

Two finders, chosen by measurement (models/FACE_FINDER.md, bench/realtime.py):
- "photo" (`photo.PhotoFinder`, for photos): MTCNN, then a fixed order of fallback steps (`photo.STEPS`) where
  it finds nothing; boxes with eye landmarks. ~0.1-0.3 s a photo.
- "live" (`live.LiveFinder`, for live video and video files): MediaPipe's BlazeFace on every frame, each face
  re-found near where it was a frame ago (`find_near`), ~1.5 ms a face, or every other frame followed by its look
  (`Follower`, one per video), a twentieth of that.

Both frame their boxes as training faces are framed (`boxes.frame_box`) and give each face's eyes, by which
`preprocess_face` turns it upright.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .boxes import GUESS, Box, FaceBox, iou, reading_order
from .images import scaled
from .live import LiveFinder
from .photo import PhotoFinder

__all__ = ["GUESS", "Box", "FaceBox", "FaceFinder", "FINDERS", "LiveFinder", "PhotoFinder", "iou", "make_finder",
           "reading_order", "scaled"]


class FaceFinder(Protocol):
    name: str

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an HxWx3 BGR uint8 image."""

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        """The side (px) of the smallest face it can find in an image of this shape (large images are searched
        on a smaller copy)."""


FINDERS = {"photo": PhotoFinder, "live": LiveFinder}


def make_finder(name: str = "photo", min_face: int | None = None) -> FaceFinder:
    """A face finder by name ("photo" for photos, "live" for live video and video files)."""
    if name not in FINDERS:
        raise ValueError(f"unknown face finder '{name}'; choose one of: {', '.join(FINDERS)}")
    return FINDERS[name]() if min_face is None else FINDERS[name](min_face=min_face)
