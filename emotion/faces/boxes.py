"""Where faces are: boxes, their framing like training faces, their order, and the geometry of turned images."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

Box = tuple[int, int, int, int]  # x, y, w, h in image pixels
RawBox = tuple[float, float, float, float]  # a net's own box (x, y, w, h), before framing

# Every net's boxes are re-framed the way training faces are framed: FER2013 crops are square and tight, with a little
# forehead and chin. Per net: (side of the square crop / raw box size, shift of the crop centre / crop side), measured
# by scripts/measure_framing.py on FER2013 faces pasted into larger scenes.
FRAMING = {"mtcnn": (1.09, -0.01), "haar": (1.03, 0.0), "blaze": (1.18, -0.08)}
GUESS = 0.0  # the confidence of a thumbnail in which no face was found, read whole as one face crop: a guess
MAX_ROLL = 135.0  # degrees: a larger tilt read from the eye landmarks is a bad detection (`FaceBox.roll`)


@dataclass
class FaceBox:
    """Where a face is: a box (x, y, w, h) in image pixels, framed like training faces; confidence (`GUESS`: no face
    was found, the box is a thumbnail taken whole); landmarks (at least the eyes, where the net gives them)."""

    box: Box
    confidence: float = 1.0
    landmarks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def roll(self) -> float:
        """The head's tilt in degrees, from the line between the eyes (0 without eye landmarks): `preprocess_face`
        turns the face upright by it, as training faces are (models/FACE_FINDER.md)."""
        if "left_eye" not in self.landmarks or "right_eye" not in self.landmarks:
            return 0.0
        (lx, ly), (rx, ry) = self.landmarks["left_eye"], self.landmarks["right_eye"]
        roll = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
        # A face found in the photo turned (`PhotoFinder.turned_search`) rolls about a quarter turn; an eye line that
        # points back (the right eye left of the left one) is a bad detection, not a face upside down.
        return roll if abs(roll) <= MAX_ROLL else 0.0

    def scaled(self, factor: float, shape: tuple[int, ...]) -> "FaceBox":
        """This face in the image `factor` times as large, of `shape` (a face found on a smaller copy)."""
        if factor == 1:
            return self
        x, y, w, h = (int(round(v * factor)) for v in self.box)
        x, y = min(x, shape[1] - 1), min(y, shape[0] - 1)
        return FaceBox((x, y, min(w, shape[1] - x), min(h, shape[0] - y)), self.confidence,
                       {k: (int(round(px * factor)), int(round(py * factor))) for k, (px, py) in self.landmarks.items()})


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def contains(box: Box, x: float, y: float) -> bool:
    """Whether the point (x, y) lies in the box."""
    return box[0] <= x < box[0] + box[2] and box[1] <= y < box[1] + box[3]


def frame_box(raw: RawBox, net: str, shape: tuple[int, ...]) -> Box:
    """Square, pad and clip a net's raw box so the crop is framed like a FER2013 face."""
    x, y, w, h = raw
    scale, shift = FRAMING[net]
    side = scale * (w + h) / 2
    cx, cy = x + w / 2, y + h / 2 + shift * side
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    height, width = shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return x0, y0, x1 - x0, y1 - y0


def inside(box: RawBox, shape: tuple[int, ...]) -> bool:
    """Whether the box's centre lies in the image: a face found in a padded border is a reflection, not a face."""
    x, y, w, h = box
    return 0 <= x + w / 2 < shape[1] and 0 <= y + h / 2 < shape[0]


def reading_order(found: list[FaceBox]) -> list[FaceBox]:
    """Faces in reading order: rows top to bottom, left to right within a row. Taken top to bottom, a face starts a
    new row where its centre lies more than half the median face height below the one before: heads at staggered
    heights in one row stay one row (numbered left to right), a second row of people starts a new one. The same
    faces always come out in the same order."""
    if not found:
        return []
    half = float(np.median([f.box[3] for f in found])) / 2
    centre = lambda f: (f.box[1] + f.box[3] / 2, f.box[0] + f.box[2] / 2)  # noqa: E731
    rows: list[list[FaceBox]] = []
    for face in sorted(found, key=lambda f: (centre(f), f.box)):
        if rows and centre(face)[0] - centre(rows[-1][-1])[0] <= half:
            rows[-1].append(face)
        else:
            rows.append([face])
    return [f for row in rows for f in sorted(row, key=lambda f: (centre(f)[1], f.box))]


def unturn_point(p: tuple[int, int], turn: int, shape: tuple[int, ...]) -> tuple[int, int]:
    """Where a point found in an image of `shape` turned by `turn` (cv2.ROTATE_90_CLOCKWISE or _COUNTERCLOCKWISE)
    lies in the image itself."""
    x, y = p
    return (y, shape[0] - 1 - x) if turn == cv2.ROTATE_90_CLOCKWISE else (shape[1] - 1 - y, x)


def unturn_box(b: Box, turn: int, shape: tuple[int, ...]) -> Box:
    """Where a box found in an image of `shape` turned by `turn` lies in the image itself (`unturn_point`)."""
    x, y, w, h = b
    return (y, shape[0] - x - w, h, w) if turn == cv2.ROTATE_90_CLOCKWISE else (shape[1] - y - h, x, h, w)
