"""Peak memory of one photo or video through the command line, for the largest inputs the runtime accepts.

    python -m bench.memory [--out DIR]

Each case runs `emotion predict` or `emotion video` in a process of its own (the model loaded, as a user's command
loads it) and reports that process's peak resident memory (`os.wait4`) and wall time: a 6000x4000 photo with faces
and without (the finder's every fallback step runs), a 1x5000 strip, a 4K video (4096x2160, the largest frames
accepted) and a 16000x16000 JPEG renamed .mp4 (refused from its header). Targets (issue 50): <= 1.5 GB for any
photo, <= 800 MB for any accepted video.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"


def peak(command: list[str]) -> tuple[float, float, int]:
    """Peak resident MB, seconds and exit code of `command`. Linux keeps a process's peak across exec, so this process
    stays small (the inputs are made by another), or its own size would count as the command's peak."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    return usage.ru_maxrss / 1024, time.monotonic() - started, os.waitstatus_to_exitcode(status)


CASES = [  # name, command after `emotion`, with {folder} for the inputs' folder
    ("6000x4000 photo, 3 faces (predict, TTA)", ["predict", "{folder}/faces.jpg"]),
    ("6000x4000 photo, no face: every finder step", ["predict", "{folder}/faceless.jpg"]),
    ("1x5000 strip", ["predict", "{folder}/strip.png"]),
    ("4K video, 2 s, 2 faces (video)", ["video", "{folder}/4k.mp4", "--out", "{folder}/4k"]),
    ("16000x16000 JPEG renamed .mp4 (refused)", ["video", "{folder}/huge.mp4", "--out", "{folder}/huge"]),
]


def make_inputs(folder: Path) -> None:
    """The inputs of `CASES`, written into `folder`."""
    import cv2
    import numpy as np

    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from synthetic.scenes import make_scene, moving_faces, write_clip

    faces = [preprocess_face(read_image(sorted((FER_VAL / c).glob("*.jpg"))[0])) for c in ("happy", "sad", "surprise")]
    photo, _ = make_scene(faces, [600, 500, 400], (4000, 6000), seed=1)
    cv2.imwrite(str(folder / "faces.jpg"), photo)
    cv2.imwrite(str(folder / "faceless.jpg"), cv2.GaussianBlur(np.random.default_rng(0).integers(
        0, 255, (4000, 6000, 3), dtype=np.uint8), (31, 31), 0))
    cv2.imwrite(str(folder / "strip.png"), np.full((1, 5000, 3), 128, np.uint8))
    frames = (cv2.resize(f, (4096, 2160)) for f, _ in moving_faces(faces[:2], 60, np.random.default_rng(2)))
    write_clip(frames, folder / "4k.mp4")
    (folder / "huge.mp4").write_bytes(cv2.imencode(".jpg", np.zeros((16000, 16000, 3), np.uint8))[1].tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="folder for the inputs (default: a temporary one)")
    parser.add_argument("--make", type=Path, help=argparse.SUPPRESS)  # the child process that writes the inputs
    args = parser.parse_args()
    if args.make:
        return make_inputs(args.make)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.out or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, __file__, "--make", str(folder)], check=True, cwd=ROOT)
        emotion = [sys.executable, "-m", "emotion"]
        print(f"{'case':<48} {'peak MB':>8} {'seconds':>8} {'exit':>5}")
        mb, _, _ = peak(emotion + ["--version"])
        print(f"{'emotion --version (imports only)':<48} {mb:>8.0f}")
        for name, command in CASES:
            mb, seconds, code = peak(emotion + [part.format(folder=folder) for part in command])
            print(f"{name:<48} {mb:>8.0f} {seconds:>8.1f} {code:>5}", flush=True)


if __name__ == "__main__":
    main()
