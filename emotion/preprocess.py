"""The one preprocessing function shared by training, evaluation and inference.

face crop -> grayscale -> INPUT_SIZE x INPUT_SIZE. Scaling to [0, 1] is the model's first layer
(see `training.architectures`), so exported models (TFLite, SavedModel) take the same uint8 faces.
"""

from __future__ import annotations

import cv2
import numpy as np

from .faces import Box

INPUT_SIZE = 48  # FER2013 faces are 48x48 grayscale


def preprocess_face(image: np.ndarray, box: Box | None = None, roll: float = 0.0) -> np.ndarray:
    """Return the model input for one face: a uint8 INPUT_SIZE x INPUT_SIZE grayscale crop.

    `image` is grayscale (HxW or HxWx1), BGR or BGRA uint8; `box` selects the face, or the whole
    image is taken as an already-cropped face. `roll`: the face's tilt in degrees (`faces.FaceBox.roll`), turned
    back about the box's centre so the face is upright, as FER2013's faces are.
    """
    if box is not None and roll:
        x, y, w, h = box
        # The rotation about the box's centre, shifted so the box lands at (0, 0): only its w x h pixels are computed.
        matrix = cv2.getRotationMatrix2D((x + w / 2, y + h / 2), roll, 1.0) - [[0, 0, x], [0, 0, y]]
        image = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    elif box is not None:
        x, y, w, h = box
        image = image[max(y, 0) : y + h, max(x, 0) : x + w]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    if image.dtype != np.uint8:
        raise ValueError(f"face crops must be uint8, got {image.dtype}")
    if image.shape != (INPUT_SIZE, INPUT_SIZE):
        # INTER_AREA averages when shrinking (no aliasing); it falls back to bilinear when enlarging.
        image = cv2.resize(image, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA)
    return image


def to_batch(faces: list[np.ndarray]) -> np.ndarray:
    """Stack preprocessed faces into the model's NxHxWx1 input."""
    return np.stack(faces)[..., None] if faces else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 1), np.uint8)
