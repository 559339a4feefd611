"""The photo finder: MTCNN first, then, where it finds nothing, the steps in `STEPS`, in order.

What each step was measured to add (faces found, false boxes, accuracy) is in models/FACE_FINDER.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from .blaze import BlazeFace
from .boxes import GUESS, FaceBox, RawBox, frame_box, inside, iou, unturn_box, unturn_point
from .haar import HaarCascade
from .images import bordered, even_contrast, grayscale, in_border, is_gray, scaled


@dataclass(frozen=True)
class Step:
    """One step of the search: its name, the faces it is for, and how it looks (finder, search) -> faces."""

    name: str
    why: str
    look: Callable[["PhotoFinder", "Search"], list[FaceBox]]


# The search's steps; the first that finds a face ends it. Steps 1-8 run on the photo, then on the photo in grayscale
# (`PhotoFinder.search`); a photo in which all found nothing is searched turned on its sides (`turned_search`).
STEPS = (
    Step("mtcnn", "faces as MTCNN finds them", lambda f, s: f.mtcnn(s.image)),
    Step("border", "faces that fill the frame or touch its edge, found with room around", lambda f, s: f.mtcnn(*s.bordered)),
    Step("contrast", "faces lost in dark, backlit or washed-out photos", lambda f, s: f.mtcnn(*s.evened)),
    Step("one face", "a photo that is itself a face crop (tilted, half covered) that no search proposed",
         lambda f, s: [x for x in s.one_face if x.confidence >= f.min_confidence]),
    Step("loose", "blurred or noisy faces, with lower bars for MTCNN's proposals",
         lambda f, s: f.mtcnn(*s.bordered, threshold_pnet=f.LOOSE_GATE, threshold_rnet=f.LOOSE_GATE)),
    Step("haar", "frontal faces that blur, noise or odd light hid from MTCNN's nets, each confirmed by MTCNN",
         lambda f, s: f.confirmed(s.image, in_border(s.image, f.OTHER_PAD, f.haar.raw_boxes))),
    Step("one face, lower bar", "a face crop MTCNN's output net is less sure of",
         lambda f, s: [x for x in s.one_face if x.confidence >= f.LAST_CROP_GATE]),
    Step("blaze", "large, dim, blurred or half-hidden faces BlazeFace proposes, each confirmed by MTCNN",
         lambda f, s: f.confirmed(s.image, f.blaze_boxes(s.image) + in_border(s.image, f.OTHER_PAD, f.blaze_boxes))),
)


class Search:
    """One image being searched step by step, with what several steps share, made on first use."""

    def __init__(self, finder: "PhotoFinder", image: np.ndarray):
        self.finder, self.image = finder, image

    @cached_property
    def bordered(self) -> tuple[np.ndarray, int, tuple[int, ...]]:
        """The image inside a border (`PhotoFinder.PAD`), the border's width, and the image's own shape."""
        return *bordered(self.image, self.finder.PAD), self.image.shape

    @cached_property
    def evened(self) -> tuple[np.ndarray, int, tuple[int, ...]]:
        """`bordered` with its contrast evened out."""
        padded, pad, shape = self.bordered
        return even_contrast(padded), pad, shape

    @cached_property
    def one_face(self) -> list[FaceBox]:
        """The photo as one face crop, judged once by MTCNN's output net at the lower of the two steps' bars."""
        return self.finder.as_one_face(self.image, min(self.finder.min_confidence, self.finder.LAST_CROP_GATE))


class PhotoFinder:
    """Accurate face finder for photos: MTCNN (the `mtcnn` package, weights in its wheel) and the fallback steps of
    `STEPS`. Safe to share between threads (bench/stress.py)."""

    name = "photo"
    MAX_SIDE = 2000  # larger photos are searched on a copy this size (time and memory grow with pixels)
    # The fallback steps run on a copy this size: they look for faces that blur, light or a tilt hid, not for small
    # ones, and each search's working memory grows with the copy (bench/RESULTS.md).
    FALLBACK_SIDE = 1000
    NET_MIN_FACE = 20
    PAD = 0.4  # the border around an image searched again, as a share of its longer side
    CROP_GATE = 0.3  # MTCNN's refine net's bar for the centred squares, which no proposal net chose
    LOOSE_GATE = 0.3  # step "loose": the proposal and refine nets' bars (MTCNN's own: 0.6 and 0.7)
    HAAR_NEIGHBORS = 3  # step "haar": windows that must agree (the cascade's default 5 misses blurred faces)
    OTHER_PAD = 0.2  # the border around an image that the other nets (Haar, BlazeFace) search
    CONFIRM_GATE = 0.5  # MTCNN's output net's bar for the other nets' boxes
    LAST_CROP_GATE = 0.4  # step "one face, lower bar"
    BLAZE_SCORE = 0.65  # step "blaze": BlazeFace's bar for a proposal
    # A thumbnail (both sides <= THUMBNAIL px, nearly square) holds a face crop (FER2013's and CK+'s are 48 px) or no
    # face one could read: it is read whole, as training faces are, rather than "no face".
    THUMBNAIL = 64
    # A face found only in the photo turned must be clear and large (a face lying on its side is the photo's subject):
    # two more searches would otherwise double the chances of a false box.
    TURNED_GATE = 0.95
    TURNED_SHARE = 0.15  # the smallest face found turned, as a share of the photo's short side

    def __init__(self, min_face: int = 20, min_confidence: float = 0.9):
        from mtcnn import MTCNN

        self.net = MTCNN(device="CPU:0")
        # The same refine and output nets, shown given boxes (by default centred squares of the photo) instead of
        # the proposal net's.
        self.judge_net = MTCNN(stages=[Proposals(), *self.net.stages[1:]], device="CPU:0")
        self.haar = HaarCascade(min_face, neighbors=self.HAAR_NEIGHBORS)
        self.blaze = BlazeFace()
        self.min_face = min_face
        self.min_confidence = min_confidence

    def _factor(self, shape: tuple[int, ...]) -> float:
        # mtcnn 1.0 finds nothing when min_face_size > ~25 (its pyramid then starts below PNet's
        # 12 px input), so it always runs at its default 20 px and a larger minimum face becomes
        # a smaller image instead, which is also faster.
        return min(1.0, self.MAX_SIDE / max(shape[:2]), self.NET_MIN_FACE / self.min_face)

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        """The side (px) of the smallest face it can find in an image of this shape."""
        return int(np.ceil(self.NET_MIN_FACE / self._factor(shape)))

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """Every face in an HxWx3 BGR uint8 image. A thumbnail is read as one face crop (`as_thumbnail`); a photo is
        searched by MTCNN on a copy of at most `MAX_SIDE`, and where it finds nothing, by every step (`search`) and
        then turned (`turned_search`) on a copy of at most `FALLBACK_SIDE`, so that no step copies, pads or turns the
        full photo; a photo thinner than the smallest face has none."""
        h, w = image.shape[:2]
        if min(h, w) < self.min_face:
            return []
        if max(h, w) <= self.THUMBNAIL and min(h, w) >= 0.75 * max(h, w):
            return self.as_thumbnail(image, self.search(image))
        factor = min(1.0, self.MAX_SIDE / max(h, w))
        found = self.mtcnn(scaled(image, factor))
        if not found:
            factor = min(1.0, self.FALLBACK_SIDE / max(h, w))
            small = scaled(image, factor)
            found = self.search(small) or self.turned_search(small)
        return [f.scaled(1 / factor, image.shape) for f in found]

    def search(self, image: np.ndarray) -> list[FaceBox]:
        """The faces of the first step in `STEPS` that finds any; then the same in grayscale for a colour photo:
        MTCNN's nets miss faces under a strong colour cast, and the emotion model reads gray faces anyway."""
        for look in (image,) if is_gray(image) else (image, grayscale(image)):
            search = Search(self, look)
            for step in STEPS:
                if found := step.look(self, search):
                    return found
        return []

    def turned_search(self, image: np.ndarray) -> list[FaceBox]:
        """The faces MTCNN finds in the photo turned a quarter turn either way, as boxes and landmarks in the photo:
        a face lying on its side (a selfie taken lying down, a photo saved sideways without its EXIF rotation),
        which MTCNN misses beyond ~60 degrees of tilt. Their eye landmarks give a roll of about +-90 degrees,
        by which `preprocess_face` turns the face upright."""
        smallest = self.TURNED_SHARE * min(image.shape[:2])
        for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE):
            found = self.mtcnn(cv2.rotate(image, turn))
            if found := [f for f in found if f.confidence >= self.TURNED_GATE and f.box[2] >= smallest]:
                return [FaceBox(unturn_box(f.box, turn, image.shape), f.confidence,
                                {k: unturn_point(p, turn, image.shape) for k, p in f.landmarks.items()})
                        for f in found]
        return []

    def blaze_boxes(self, image: np.ndarray) -> list[RawBox]:
        """BlazeFace's boxes scored >= `BLAZE_SCORE`."""
        return self.blaze.raw_boxes(image, self.BLAZE_SCORE)

    def confirmed(self, image: np.ndarray, raws: list[RawBox]) -> list[FaceBox]:
        """The faces among another net's boxes `raws` (x, y, w, h in `image`) that MTCNN's output net takes for
        faces (>= `CONFIRM_GATE`; its box and landmarks are returned)."""
        raws = [raw for raw in raws if inside(raw, image.shape)]
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

    def mtcnn(self, image: np.ndarray, pad: int = 0, shape: tuple[int, ...] | None = None,
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
            if f["confidence"] < gate or max(w, h) < self.min_face or not inside(raw, shape):
                continue
            marks = {k: (int(round(p[0] / factor)) - pad, int(round(p[1] / factor)) - pad)
                     for k, p in f["keypoints"].items()}
            out.append(FaceBox(frame_box(raw, "mtcnn", shape), float(f["confidence"]), marks))
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
