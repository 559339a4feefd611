"""Training-time augmentation: changes that keep a face a face."""

from __future__ import annotations

import keras


def augmenter(seed: int) -> keras.Sequential:
    """Mirror, small pose/framing changes, lighting, occlusion; applied batched in the input pipeline."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(12 / 360, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomTranslation(0.1, 0.1, fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomZoom((-0.15, 0.15), fill_mode="reflect", seed=seed + 3),
            keras.layers.RandomBrightness(0.25, value_range=(0, 255), seed=seed + 4),
            keras.layers.RandomContrast(0.35, value_range=(0, 255), seed=seed + 5),
            keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 6),
        ],
        name="augment",
    )
