"""Facial emotion recognition: faces in, labelled emotions out.

    from emotion import EmotionDetector
    det = EmotionDetector.load()
    faces = det.detect(image_bgr)
"""

import os

# Before TensorFlow is imported anywhere: oneDNN kernels trained our CNN 1.3x faster on this
# project's CPUs (AVX2, no AVX-512), and TF's C++ start-up chatter is noise on a CLI.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from .detector import EmotionDetector, Face  # noqa: E402
from .imageio import ImageError, read_image  # noqa: E402
from .labels import FER2013_LABELS  # noqa: E402

__all__ = ["EmotionDetector", "Face", "ImageError", "read_image", "FER2013_LABELS"]
