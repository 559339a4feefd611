"""Facial emotion recognition: faces in, labelled emotions out.

    from emotion import EmotionDetector
    det = EmotionDetector.load()            # models/emotion.keras + the MTCNN face finder
    faces = det.detect(image_bgr)           # [Face(box, emotion, scores), ...]

Modules, in the order a frame goes through them: imageio (decode) -> faces (find and frame) ->
preprocess (48x48 gray) -> inference (TFLite or TF graph, TTA) -> detector (the API) -> video (live
tracking and smoothing) -> draw. modelfile is the model file format; evaluate scores a labelled folder.
"""

import os

# Bump when the rows the runtime gives for the same model file and settings change (face finding, framing,
# inference): `emotion batch` records it, so that a rerun never adds rows made otherwise to a table.
__version__ = "0.7.0"

# Before TensorFlow is imported anywhere: TF's C++ start-up chatter is noise on a CLI and a page.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .detector import EmotionDetector, Face  # noqa: E402
from .faces import Box, FaceBox, make_finder  # noqa: E402
from .imageio import ImageError, read_image  # noqa: E402
from .labels import FER2013_LABELS  # noqa: E402

__all__ = ["EmotionDetector", "Face", "FaceBox", "Box", "make_finder", "ImageError", "read_image", "FER2013_LABELS"]
