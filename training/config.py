"""One training configuration: its defaults, the `train` command's flags and help, a run's `run.json`
and the model card's command line all come from `TrainConfig`, so they cannot drift apart. The architectures and
augmentations it names are listed here too, as plain data: the command's help needs them without loading Keras."""

from __future__ import annotations

import argparse
import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path


@dataclass(frozen=True)
class Arch:
    """Conv widths per block, units of the dense layer, the width of a stride-2 stem conv (0: none)
    that halves the face first, so every block runs on a quarter of the pixels, and whether each block
    adds its input back (a ResNet-style shortcut, 1x1-projected where the width changes)."""

    widths: tuple[int, ...]
    dense: int
    stem: int = 0
    residual: bool = False

    def describe(self, name: str) -> str:
        """One line for the model card."""
        stem = f"a stride-2 3x3 conv stem ({self.stem} channels), then " if self.stem else ""
        style, shortcut = ("ResNet-style", " and a shortcut") if self.residual else ("VGG-style", "")
        return (f"`{name}` — {style} CNN: {stem}{len(self.widths)} blocks of two 3x3 conv + BatchNorm + ReLU{shortcut} with "
                f"max-pooling ({'-'.join(map(str, self.widths))}), global average pooling, dense {self.dense} + dropout")


ARCHS = {
    "vgg": Arch((40, 80, 160, 320), 256),
    "vgg-small": Arch((32, 64, 128, 256), 256),
    "vgg-slim": Arch((24, 48, 96, 192), 256),  # 3/4 of vgg-small's width: 0.56x its multiply-adds
    "vgg-lean": Arch((16, 48, 96, 192), 256),  # vgg-slim with a cheaper first block (48x48 maps cost most)
    "vgg-stem": Arch((24, 48, 96, 192), 256, stem=16),  # vgg-slim on a halved face: the first live model
    "vgg-small-stem": Arch((32, 64, 128, 256), 256, stem=24),  # vgg-small on a halved face: a wider live model
    # vgg-slim with narrower 48x48 and 24x24 blocks, where its cost lies (pruned from it): a live model at full
    # resolution; widths stay multiples of 16, which the CPU's vector kernels run without remainder
    "vgg-live": Arch((16, 32, 96, 192), 256),
    "vgg-live-narrow": Arch((16, 32, 80, 160), 256),  # vgg-live at 0.82x its cost: margin for slower CPUs
    # vgg-live-narrow with narrower 12x12 and 6x6 blocks: 0.79x its time per face with the float32 kernels that
    # CPUs without VNNI run (AVX2), where vgg-live-narrow costs ~0.65 ms a face
    "vgg-live-thin": Arch((16, 32, 64, 128), 256),
    # vgg-live-narrow with a narrower 6x6 block only: 0.89x its time per face with the float32 kernels; pruned from a
    # trained vgg-live-narrow it keeps nearly all of its val accuracy before any training, vgg-live-thin does not
    "vgg-live-trim": Arch((16, 32, 80, 128), 256),
    # vgg-slim's widths and cost with shortcuts: a member that differs from the VGG members in how it learns
    "res-slim": Arch((24, 48, 96, 192), 256, residual=True),
    "res": Arch((40, 80, 160, 320), 256, residual=True),  # vgg's widths with shortcuts: a photo member of its size
    "tiny": Arch((8, 16, 32, 32), 32),  # for tests only: trains in seconds
    "tiny-res": Arch((8, 16, 32, 32), 32, residual=True),  # for tests only
}

# Training-time augmentation per --augment, built by training.augment and described on the model card from here:
# "shift" rolls further (heads in front of webcams tilt more than FER2013's) and adds a yaw-like perspective, blur and
# what cameras do to faces (light curves, noise, JPEG: training.augment.camera_shift).
AUGMENTS = {
    "standard": {"rotation": 12, "shift": 0.10, "zoom": 0.15, "brightness": 0.25, "contrast": 0.35},
    "shift": {"rotation": 20, "shift": 0.10, "zoom": 0.15, "brightness": 0.25, "contrast": 0.35, "perspective": 0.15,
              "blur": 0.6, "camera": True},
}


def augment_text(name: str) -> str:
    """What the augmentation `name` does, for the model card."""
    a = AUGMENTS[name]
    parts = [f"horizontal flip, rotation ±{a['rotation']}°, shift ±{a['shift']:.0%}, zoom ±{a['zoom']:.0%}, "
             f"brightness ±{a['brightness']:.0%}, contrast ±{a['contrast']:.0%}"]
    if "perspective" in a:
        parts.append(f"perspective {a['perspective']:.0%}, blur (sigma {a['blur']})")
    if a.get("camera"):
        parts.append("camera light curves, noise and JPEG")
    return ", ".join(parts + ["random erasing"])


def _opt(default, help: str, flag: str | None = None, **argparse_kw):
    return field(default=default, metadata={"help": help, "flag": flag, **argparse_kw})


@dataclass
class TrainConfig:
    """What a training run does; saved as the run folder's run.json and reused by --resume."""

    data: list[str] = field(metadata={
        "help": "one or more sources of faces: folders with train/ and val/ (or test/) class folders, or fer2013.csv "
                "(to start a run; a resumed run reads them from its run.json); the first names the classes, and its val "
                "is the run's `val_accuracy`", "nargs": "+", "metavar": "SOURCE"})
    source_weights: list[float] | None = _opt(
        None, "each source's share of an epoch's faces, in --data order, e.g. 1 1 (default: in proportion to their sizes)",
        nargs="+", metavar="W")
    epoch_faces: int | None = _opt(None, "faces drawn per epoch across the sources (default: all of their train faces)",
                                   metavar="N")
    class_weights: str = _opt("sqrt", "loss weight of each class within each source: sqrt (inverse square root of its "
                                      "share), inverse (of its share) or none", choices=("sqrt", "inverse", "none"))
    select: str = _opt("accuracy", "how the kept (best) epoch is chosen: accuracy (the first source's val accuracy) or "
                                   "mean (the mean of every source's val accuracy and macro recall)",
                       choices=("accuracy", "mean"))
    arch: str = _opt("vgg-small", "architecture", choices=sorted(ARCHS))
    epochs: int = _opt(40, "length of the schedule in epochs")
    batch_size: int = _opt(64, "faces per training step")
    learning_rate: float = _opt(2e-3, "peak learning rate (AdamW)", flag="--lr")
    weight_decay: float = _opt(0.02, "AdamW weight decay")
    label_smoothing: float = _opt(0.1, "label smoothing of the one-hot targets")
    warmup_epochs: int = _opt(2, "epochs of linear learning-rate warm-up before the cosine decay")
    seed: int = _opt(1337, "random seed; give a warm restart a new one, or it replays the shuffle and "
                           "augmentations its source was trained on")
    init_from: str | None = _opt(None, "start from trained weights: a run folder, .weights.h5 or model file of the "
                                       "same --arch, or of a wider one (pruned, training/prune.py)", metavar="PATH")
    ema: float = _opt(0.0, "validate and keep an exponential moving average of the weights, e.g. 0.999 (0: off)",
                      metavar="MOMENTUM")
    teacher: list[str] | None = _opt(None, "distill: train towards a mix of the labels and these model files' "
                                           "probabilities (several act as one ensemble); name a run folder's "
                                           "model.keras rather than a shipped file, which a later model replaces, "
                                           "so the run's record keeps what taught it", nargs="+", metavar="MODEL")
    teacher_weight: float = _opt(0.5, "the teachers' share of each target")
    augment: str = _opt("standard", "training augmentation: standard, or shift (also stronger roll, perspective, blur, "
                                    "gamma, low light, noise and JPEG: faces as cameras give them)", choices=AUGMENTS)
    mixup: float = _opt(0.0, "blend pairs of augmented faces and their targets by lambda ~ Beta(a, a) per face (0: off); "
                              "with --consistent the teachers score the blends", metavar="A")
    consistent: bool = _opt(False, "the teachers score every augmented face as the student sees it, in every epoch "
                                   "(slower), instead of each face once with TTA before training")

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """One flag per field, with its help and default."""
        for f in fields(cls):
            meta = dict(f.metadata)
            flag, text = meta.pop("flag", None) or f"--{f.name.replace('_', '-')}", meta.pop("help")
            if f.type == "bool":
                parser.add_argument(flag, dest=f.name, action="store_true", default=None, help=text)
                continue
            kind = float if "float" in f.type else int if f.type.startswith("int") else str
            default = "" if f.default in (MISSING, None) else f" (default {f.default})"
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=text + default, **meta)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "TrainConfig":
        """The configuration the flags give, defaults where a flag was not set."""
        return cls(**{f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name) is not None})

    @classmethod
    def read(cls, run: str | Path) -> "TrainConfig":
        """A run folder's configuration (its run.json)."""
        saved = json.loads((Path(run) / "run.json").read_text())
        if isinstance(saved.get("data"), str):  # runs from before several sources
            saved["data"] = [saved["data"]]
        return cls(**{f.name: saved[f.name] for f in fields(cls) if f.name in saved})

    def write(self, run: str | Path) -> None:
        (Path(run) / "run.json").write_text(json.dumps(asdict(self), indent=2))

    def command(self, out: str | Path) -> str:
        """The command line that trains this run into `out`: every setting that differs from its default."""
        parts = ["python -m training train", f"--data {' '.join(self.data)}", f"--out {Path(out).as_posix()}", f"--arch {self.arch}"]
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("data", "arch") or value == f.default:
                continue
            flag = f.metadata.get("flag") or f"--{f.name.replace('_', '-')}"
            parts.append(flag if value is True else f"{flag} {' '.join(map(str, value)) if isinstance(value, list) else value}")
        return " ".join(parts)
