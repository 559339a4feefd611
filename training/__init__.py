"""Training the emotion models: configuration, architectures, data, augmentation, distillation, fitting,
calibration, pruning, ensembles, export and publishing. Depends on `emotion`; `emotion` never imports it.

    python -m training train --data ../shared/datasets/fer2013 --out runs/NAME
"""

import os

# Before TensorFlow is imported: oneDNN kernels trained our CNN 1.3x faster on this project's CPUs, and
# TF's C++ start-up chatter is noise on a CLI.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
