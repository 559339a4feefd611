"""A "shifted val": FER2013 val faces as a camera would give them, to choose models for real photos.

Each val face is pasted into a photo-like scene (its size, place and background vary; some touch the edge),
rolled, and the whole photo shifted the way real pictures differ from FER2013: lighting (gamma, low light,
a colour cast), blur, sensor noise, JPEG compression. The photos go to OUT/<class>/, named after their face;
`emotion evaluate OUT --detect` scores the whole pipeline on them (face finder, framing, model, TTA), a face
not found counting as wrong. Made from val only: tune and choose on it, never train on it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from emotion.faces import Box
from emotion.imageio import read_image
from emotion.preprocess import preprocess_face

from synthetic.scenes import background, paste_face

SHAPES = ((480, 640), (640, 480), (360, 360), (720, 960))  # landscape, portrait, square, larger


def shift_photo(face: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, Box]:
    """One 48x48 grayscale face as a shifted BGR photo, and the face's box in it."""
    height, width = SHAPES[int(rng.integers(len(SHAPES)))]
    side = int(rng.uniform(0.2, 0.9) * min(height, width))  # from a face among others to one filling the frame
    angle = rng.normal(0, 10)  # head roll, in degrees
    rolled = cv2.warpAffine(face, cv2.getRotationMatrix2D((24, 24), angle, 1.0), (48, 48), borderMode=cv2.BORDER_REPLICATE)
    x = int(rng.integers(0, width - side + 1))
    y = int(rng.integers(0, height - side + 1))
    scene = background(height, width, rng)
    paste_face(scene, rolled, (x, y, side, side))
    photo = scene.astype(np.float32) / 255
    photo **= rng.uniform(0.6, 1.7)  # gamma
    if rng.random() < 0.25:  # low light
        photo *= rng.uniform(0.25, 0.6)
    photo *= rng.uniform(0.8, 1.2, size=3)  # a colour cast (white balance)
    photo = np.clip(photo * 255, 0, 255)
    if rng.random() < 0.5:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.3, 1.5) * side / 160)
    photo += rng.normal(0, rng.uniform(0, 10), size=photo.shape)  # sensor noise
    photo = np.clip(photo, 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", photo, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR), (x, y, side, side)


def build(val: Path, out: Path, seed: int = 0) -> int:
    """Write a shifted photo of every face in `val` (<class>/*.jpg) to `out`/<class>/; returns how many."""
    rng = np.random.default_rng(seed)
    n = 0
    for folder in sorted(p for p in val.iterdir() if p.is_dir()):
        (out / folder.name).mkdir(parents=True, exist_ok=True)
        for path in sorted(folder.glob("*.jpg")):
            photo, _ = shift_photo(preprocess_face(read_image(path)), rng)
            cv2.imwrite(str(out / folder.name / path.name), photo, [cv2.IMWRITE_JPEG_QUALITY, 95])
            n += 1
    return n
