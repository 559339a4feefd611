"""Drawing boxes and labels on images, legible from thumbnails to 4K photos."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np

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


def annotate(image: np.ndarray, faces, max_side: int | None = None) -> np.ndarray:
    """A copy of `image` with each face's box and "emotion NN%" label drawn; with `max_side`, shrunk to fit it
    first (a page need not send a 24-megapixel photo to the browser)."""
    factor = min(1.0, max_side / max(image.shape[:2])) if max_side else 1.0
    if factor < 1:
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        faces = [replace(f, box=tuple(int(round(v * factor)) for v in f.box)) for f in faces]
    out = image.copy()
    scale = max(image.shape[:2]) / 800  # text and lines grow with the image, not with the face
    thickness = max(1, int(round(2 * scale)))
    font_scale = max(0.4, 0.6 * scale)
    for face in faces:
        x, y, w, h = face.box
        color = COLORS.get(face.emotion, (160, 160, 160))
        cv2.rectangle(out, (x, y), (x + w, y + h), color, thickness)
        text = f"{face.emotion} {face.scores[face.emotion]:.0%}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
        top = y - th - base - 2 * thickness if y - th - base - 2 * thickness >= 0 else y + h
        cv2.rectangle(out, (x, top), (x + tw + 2 * thickness, top + th + base + 2 * thickness), color, -1)
        cv2.putText(out, text, (x + thickness, top + th + thickness), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                    (255, 255, 255) if sum(color) < 400 else (0, 0, 0), thickness, cv2.LINE_AA)
    return out


def notice(image: np.ndarray, text: str) -> np.ndarray:
    """A dimmed copy of `image` with `text` across its middle (a message shown in place of the analysis)."""
    out = (image * 0.4).astype(np.uint8)
    scale = max(0.6, image.shape[1] / 800)
    thickness = max(1, int(round(2 * scale)))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = ((image.shape[1] - tw) // 2, (image.shape[0] + th) // 2)
    cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out
