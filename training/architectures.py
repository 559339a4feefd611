"""The emotion CNNs: VGG-style stacks of double 3x3 conv blocks with BatchNorm, the design of the
strongest published single FER2013 CNNs (Khaireddin & Chen 2021), narrowed to fit CPU training.

A net maps uint8-range faces (N x 48 x 48 x 1) to class logits; `calibrated_model` appends the
temperature, which makes the model that a model file holds (see `emotion.modelfile`).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import keras
from keras import layers

from emotion.modelfile import TEMPERATURE_LAYER
from emotion.preprocess import INPUT_SIZE

from .config import ARCHS


def _conv_bn(x, filters: int, size: int = 3, strides: int = 1):
    x = layers.Conv2D(filters, size, strides=strides, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
    return layers.BatchNormalization()(x)


def _conv_bn_relu(x, filters: int, strides: int = 1):
    return layers.Activation("relu")(_conv_bn(x, filters, strides=strides))


def _residual_block(x, filters: int):
    shortcut = x if x.shape[-1] == filters else _conv_bn(x, filters, size=1)
    x = _conv_bn(_conv_bn_relu(x, filters), filters)
    return layers.Activation("relu")(layers.Add()([x, shortcut]))


def face_input() -> keras.KerasTensor:
    """Every model's input: uint8-range grayscale faces, N x INPUT_SIZE x INPUT_SIZE x 1."""
    return keras.Input((INPUT_SIZE, INPUT_SIZE, 1), name="face")


def build_logits_model(arch: str, num_classes: int) -> keras.Model:
    """uint8-range faces (N x 48 x 48 x 1) -> class logits (float32 even under mixed precision)."""
    spec = ARCHS[arch]
    inputs = face_input()
    x = layers.Rescaling(1.0 / 255)(inputs)
    if spec.stem:
        x = _conv_bn_relu(x, spec.stem, strides=2)
    # Regularization comes from augmentation and weight decay: SpatialDropout in every block kept
    # this narrow net near chance for the first epochs (measured: 20% vs 48% train accuracy).
    for width in spec.widths:
        x = _residual_block(x, width) if spec.residual else _conv_bn_relu(_conv_bn_relu(x, width), width)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(spec.dense, use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.4)(x)
    logits = layers.Dense(num_classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, logits, name=f"emotion_{arch}")


def cpu_has_bf16() -> bool:
    """True where mixed bfloat16 pays off (AVX-512 BF16 / AMX); emulated bf16 is several times slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Build layers under Keras dtype policy `name` ("float32", "mixed_bfloat16"), then restore the global
    one: a layer keeps the policy it was built with, and a leaked global policy changes every later model."""
    saved = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(saved)


def float32_copy(trained: keras.Model, arch: str) -> keras.Model:
    """`trained` (built under any dtype policy, e.g. mixed bfloat16) as a float32 logits model of `arch`."""
    with dtype_policy("float32"):
        copy = build_logits_model(arch, trained.output_shape[-1])
    copy.set_weights(trained.get_weights())
    return copy


def mixed_bfloat16_copy(model: keras.Model) -> keras.Model:
    """A trained float32 `model` (any model file, ensembles too) whose convolution trunk computes in bfloat16,
    for scoring faces (a teacher): its dense layers, temperature and averaging stay float32, so its
    probabilities move by about 1e-3 on average while the trunk, nearly all the work, runs on the CPU's bfloat16 units."""

    def trunk_in_bf16(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if isinstance(layer, (layers.Conv2D, layers.BatchNormalization, layers.MaxPooling2D, layers.Add)) or (
                isinstance(layer, layers.Activation) and config["activation"] == "relu"):
            config["dtype"] = "mixed_bfloat16"
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=trunk_in_bf16, recursive=True)
    copy.set_weights(model.get_weights())
    return copy


def calibrated_model(logits: keras.Model, temperature: float = 1.0) -> keras.Model:
    """`logits` (a float32 model) with its logits divided by the calibration temperature: what a model file holds."""
    scaled = layers.Rescaling(1.0 / temperature, name=TEMPERATURE_LAYER)(logits.output)
    return keras.Model(logits.input, scaled, name=logits.name)
