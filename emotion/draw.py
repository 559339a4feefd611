"""Drawing on images: numbered boxes and labels sized to each face, and the colour of each emotion, which the
page uses everywhere (boxes, table, charts)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import cv2
import numpy as np

from .faces import scaled

# BGR colours per emotion; unknown labels get grey.
COLORS = {
    "angry": (40, 40, 220),
    "disgust": (40, 140, 40),
    "fear": (160, 60, 140),
    "happy": (0, 200, 255),
    "sad": (200, 120, 30),
    "surprise": (0, 140, 255),
    "neutral": (170, 170, 170),
}
GREY = (160, 160, 160)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def hex_color(emotion: str) -> str:
    """An emotion's colour as '#rrggbb' (for charts)."""
    b, g, r = COLORS.get(emotion, GREY)
    return f"#{r:02x}{g:02x}{b:02x}"


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def annotate(image: np.ndarray, faces, max_side: int | None = None, numbers: Sequence[int] | None = None,
             min_side: int | None = None) -> np.ndarray:
    """A copy of `image` with each face's box and label ("emotion NN%", or with `numbers` "N emotion NN%", N the
    face's number: its place in a photo, its track in a video) drawn in the emotion's colour; an unsure face's label
    ends in "?" and its box is grey. Labels grow with the face, and with the image
    enough to stay legible when it is shown small; each sits above its box, else below, else inside it, wherever it
    overlaps no other label.
    With `max_side`, the image is shrunk to fit it first (a page need not send 24 megapixels to the browser); with
    `min_side`, a smaller one (a thumbnail) is enlarged in whole steps, pixels kept sharp, so its labels can be read."""
    side = max(image.shape[:2])
    factor = min(1.0, max_side / side) if max_side else 1.0
    if min_side and side < min_side:
        factor = float(min_side // side)
    if factor != 1:
        image = scaled(image, factor)
        faces = [replace(f, box=tuple(int(round(v * factor)) for v in f.box)) for f in faces]
    out = image.copy()
    height, width = image.shape[:2]
    placed: list[tuple[int, int, int, int]] = []
    for i, face in enumerate(faces):
        x, y, w, h = face.box
        color = GREY if face.unsure else COLORS.get(face.emotion, GREY)
        thickness = max(1, int(round(w / 80)))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness)
        number = f"{numbers[i]} " if numbers is not None else ""
        text = f"{number}{face.emotion}{'?' if face.unsure else ''} {face.scores[face.emotion]:.0%}"
        font_scale = float(np.clip(max(w / 220, max(height, width) / 1400), 0.35, 3.0))
        weight = max(1, int(round(font_scale * 1.5)))
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, weight)
        lw, lh = tw + 2 * weight, th + base + 2 * weight
        left = int(np.clip(x, 0, max(width - lw, 0)))
        spots = [(left, y - lh), (left, y + h), (left, y)]  # above, below, inside the top of the box
        spots = [(sx, sy) for sx, sy in spots if 0 <= sy <= height - lh] or [(left, max(0, min(y, height - lh)))]
        sx, sy = next(((sx, sy) for sx, sy in spots if not any(_overlaps((sx, sy, sx + lw, sy + lh), p) for p in placed)),
                      spots[0])
        placed.append((sx, sy, sx + lw, sy + lh))
        cv2.rectangle(out, (sx, sy), (sx + lw, sy + lh), color, -1)
        cv2.putText(out, text, (sx + weight, sy + th + weight), FONT, font_scale,
                    (255, 255, 255) if sum(color) < 400 else (0, 0, 0), weight, cv2.LINE_AA)
    return out


def notice(image: np.ndarray, text: str) -> np.ndarray:
    """A dimmed copy of `image` with `text` across its middle (a message shown in place of the analysis)."""
    out = (image * 0.4).astype(np.uint8)
    scale = max(0.6, image.shape[1] / 800)
    thickness = max(1, int(round(2 * scale)))
    (tw, th), _ = cv2.getTextSize(text, FONT, scale, thickness)
    origin = ((image.shape[1] - tw) // 2, (image.shape[0] + th) // 2)
    cv2.putText(out, text, origin, FONT, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
