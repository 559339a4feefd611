"""Synthetic scenes of real faces: face crops (FER2013's, ExpW's, a photo's) pasted into larger frames at known boxes.

Used by tests, the framing measurement and the benchmarks, where the true box of every face
must be known. The paste box is the FER2013 crop itself, i.e. the framing the model trained on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np

from emotion.faces import Box


def background(height: int, width: int, rng: np.random.Generator, brightness: float = 1.0) -> np.ndarray:
    """A smooth colour gradient with mild noise, like an out-of-focus room."""
    corners = rng.uniform(40, 220, size=(2, 2, 3)).astype(np.float32)
    bg = cv2.resize(corners, (width, height), interpolation=cv2.INTER_LINEAR)
    bg += rng.normal(0, 6, size=bg.shape).astype(np.float32)
    return np.clip(bg * brightness, 0, 255).astype(np.uint8)


def paste_face(scene: np.ndarray, face: np.ndarray, box: Box) -> None:
    """Paste a grayscale face into `scene` (in place), resized to `box`, with feathered edges."""
    x, y, w, h = box
    face = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
    face_bgr = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR).astype(np.float32)
    # Feather the outer ~8% so the square edge does not look like a face contour to a face finder.
    ramp = np.minimum(np.arange(w), np.arange(w)[::-1]) / max(1.0, 0.08 * w)
    ramp_y = np.minimum(np.arange(h), np.arange(h)[::-1]) / max(1.0, 0.08 * h)
    alpha = np.clip(np.minimum(ramp_y[:, None], ramp[None, :]), 0, 1)[..., None]
    region = scene[y : y + h, x : x + w].astype(np.float32)
    scene[y : y + h, x : x + w] = (alpha * face_bgr + (1 - alpha) * region).astype(np.uint8)


def make_scene(
    faces: list[np.ndarray], sizes: list[int], shape: tuple[int, int] = (480, 640), seed: int = 0, brightness: float = 1.0
) -> tuple[np.ndarray, list[Box]]:
    """A BGR scene with `faces` pasted at random non-overlapping positions; returns it and the boxes."""
    rng = np.random.default_rng(seed)
    height, width = shape
    scene = background(height, width, rng)
    boxes: list[Box] = []
    for face, size in zip(faces, sizes):
        for _ in range(200):
            x, y = int(rng.integers(0, width - size + 1)), int(rng.integers(0, height - size + 1))
            if all(x + size <= bx or bx + bw <= x or y + size <= by or by + bh <= y for bx, by, bw, bh in boxes):
                break
        else:
            raise ValueError("faces do not fit in the scene; use a bigger shape or smaller sizes")
        paste_face(scene, face, (x, y, size, size))
        boxes.append((x, y, size, size))
    if brightness != 1.0:
        scene = np.clip(scene.astype(np.float32) * brightness, 0, 255).astype(np.uint8)
    return scene, boxes


def moving_faces(faces: list[np.ndarray], frames: int, rng: np.random.Generator, fps: float = 30.0
                 ) -> Iterator[tuple[np.ndarray, list[Box]]]:
    """A 640x480 video, frame by frame, of up to four faces drifting over a background whose light changes every
    100 frames; each frame comes with the true face boxes. One frame at a time: a long clip costs no memory."""
    size = 200 if len(faces) == 1 else 130
    slots = [(220, 140)] if len(faces) == 1 else [(60, 40), (400, 40), (60, 290), (400, 290)]
    backgrounds = [background(480, 640, rng, brightness=b) for b in (0.7, 1.0, 1.2)]
    for t in range(frames):
        frame = backgrounds[(t // 100) % 3].copy()
        boxes = []
        phase = t * 30.0 / fps  # the same motion per second whatever the frame rate
        for k, (face, (x, y)) in enumerate(zip(faces, slots)):
            box = (x + int(30 * np.sin(phase / 15 + k)), y + int(15 * np.cos(phase / 20 + k)), size, size)
            paste_face(frame, face, box)
            boxes.append(box)
        yield cv2.GaussianBlur(frame, (3, 3), 0), boxes


def paste_turned(scene: np.ndarray, face: np.ndarray, box: Box, angle: float) -> None:
    """Paste a face crop (gray or BGR) into `scene` (in place), resized to `box` and turned by `angle` degrees about
    its centre (a head tilted), inside a feathered oval so that no square edge or corner shows."""
    x, y, w, h = box
    face = cv2.resize(face, (w, h), interpolation=cv2.INTER_CUBIC)
    face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR) if face.ndim == 2 else face
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    face = cv2.warpAffine(face, turn, (w, h), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    distance = np.hypot((xx - w / 2) / (0.5 * w), (yy - h / 2) / (0.56 * h))
    alpha = np.clip((1 - distance) / 0.15, 0, 1)[..., None]
    region = scene[y : y + h, x : x + w].astype(np.float32)
    scene[y : y + h, x : x + w] = (alpha * face + (1 - alpha) * region).astype(np.uint8)


def wandering_faces(faces: list[np.ndarray], frames: int, rng: np.random.Generator, backgrounds: list[np.ndarray],
                    fps: float = 30.0) -> Iterator[tuple[np.ndarray, list[Box]]]:
    """A 640x480 video, frame by frame, of one or four faces that drift, come near and go far (one face between 80
    and 220 px, four between 60 and 140) and tilt their heads (up to 25 degrees), over photos (`backgrounds`, a new
    one every 100 frames); each frame comes with the true face boxes (the crops' own squares)."""
    low, high = (80, 220) if len(faces) == 1 else (60, 140)
    centres = [(320, 240)] if len(faces) == 1 else [(160, 120), (480, 120), (160, 360), (480, 360)]
    scenes = [cv2.resize(b, (640, 480), interpolation=cv2.INTER_AREA) for b in backgrounds]
    offsets = rng.uniform(0, 2 * np.pi, size=(len(faces), 3))
    for t in range(frames):
        frame = scenes[(t // 100) % len(scenes)].copy()
        boxes = []
        phase = t * 30.0 / fps
        for face, (cx, cy), (a, b, c) in zip(faces, centres, offsets):
            size = int(low + (high - low) * (0.5 + 0.5 * np.sin(phase / 45 + a)))
            x = int(np.clip(cx + 50 * np.sin(phase / 17 + b) - size / 2, 0, 640 - size))
            y = int(np.clip(cy + 25 * np.cos(phase / 23 + b) - size / 2, 0, 480 - size))
            paste_turned(frame, face, (x, y, size, size), 25 * np.sin(phase / 29 + c))
            boxes.append((x, y, size, size))
        yield frame, boxes


def write_clip(frames: Iterable[np.ndarray], path: Path, fps: int = 30, display_rotation: int = 0) -> None:
    """BGR frames as an H.264 MP4, written with PyAV: the library the product reads videos with. With
    `display_rotation`, the file tells players to show the frames turned by that many degrees counter-clockwise, as
    phones store a video filmed upright: sideways, with the turn."""
    import av

    # The index first ("faststart"), as web videos have it: a truncated copy still opens and plays up to its break.
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = None
        for frame in frames:
            if stream is None:
                stream = container.add_stream("libx264", rate=fps)
                stream.height, stream.width = frame.shape[:2]
                stream.pix_fmt = "yuv420p"
                if display_rotation:
                    stream.set_display_rotation(display_rotation)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        if stream is not None:
            container.mux(stream.encode(None))
