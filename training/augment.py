"""Training-time augmentation: changes that keep a face a face."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from .config import AUGMENTS


def augmenter(seed: int, augment: str = "standard") -> keras.Sequential:
    """Mirror, small pose/framing changes, lighting, occlusion as set in `AUGMENTS[augment]`; applied batched in the
    input pipeline."""
    a = AUGMENTS[augment]
    layers = [
        keras.layers.RandomFlip("horizontal", seed=seed),
        keras.layers.RandomRotation(a["rotation"] / 360, fill_mode="reflect", seed=seed + 1),
        keras.layers.RandomTranslation(a["shift"], a["shift"], fill_mode="reflect", seed=seed + 2),
        keras.layers.RandomZoom((-a["zoom"], a["zoom"]), fill_mode="reflect", seed=seed + 3),
        keras.layers.RandomBrightness(a["brightness"], value_range=(0, 255), seed=seed + 4),
        keras.layers.RandomContrast(a["contrast"], value_range=(0, 255), seed=seed + 5),
    ]
    if "perspective" in a:
        layers += [keras.layers.RandomPerspective(factor=0.5, scale=a["perspective"], seed=seed + 7),
                   keras.layers.RandomGaussianBlur(factor=0.5, sigma=a["blur"], value_range=(0, 255), seed=seed + 8)]
    layers.append(keras.layers.RandomErasing(factor=0.5, scale=(0.02, 0.15), value_range=(0, 255), seed=seed + 6))
    return keras.Sequential(layers, name="augment")


def camera_shift(x: tf.Tensor) -> tf.Tensor:
    """What cameras do that FER2013's web crops rarely show, to N x 48 x 48 x 1 float faces (0-255): gamma, low light
    (one face in seven), sensor noise and JPEG compression, as `training.shifted` does to val photos. Noise and JPEG
    are milder than there: shrinking a photo's face to 48 px averages most of them away."""
    n = tf.shape(x)[0]
    per_face = lambda lo, hi: tf.random.uniform([n, 1, 1, 1], lo, hi)  # noqa: E731
    x = 255.0 * tf.pow(tf.clip_by_value(x, 0.0, 255.0) / 255.0, tf.exp(per_face(math.log(0.6), math.log(1.7))))
    x *= tf.where(per_face(0.0, 1.0) < 0.15, per_face(0.35, 0.7), 1.0)
    x = tf.clip_by_value(x + tf.random.normal(tf.shape(x)) * per_face(0.0, 3.0), 0.0, 255.0)
    jpeg = lambda face: tf.image.random_jpeg_quality(tf.cast(face, tf.uint8), 50, 95)  # noqa: E731
    return tf.cast(tf.map_fn(jpeg, x, fn_output_signature=tf.uint8), tf.float32)


def mixup(x: tf.Tensor, y: tf.Tensor, alpha: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Each face blended with another face of the batch, its target likewise (Zhang et al. 2018), by a share
    lambda ~ Beta(alpha, alpha) per face. Distilling, the teachers then score the blend: faces no teacher saw
    in training, where its probabilities say more than on its own training faces (Beyer et al. 2022)."""
    n = tf.shape(x)[0]
    a, b = tf.random.gamma([n], alpha), tf.random.gamma([n], alpha)
    share = a / (a + b)  # Beta(alpha, alpha) as a ratio of gammas
    partner = tf.random.shuffle(tf.range(n))
    mixed_x = share[:, None, None, None] * x + (1 - share[:, None, None, None]) * tf.gather(x, partner)
    return mixed_x, share[:, None] * y + (1 - share[:, None]) * tf.gather(y, partner)
