"""The live finder: BlazeFace on every frame, each known face re-found where it was, new faces found by a scan.

Per frame (`find_near`): every face seen a frame ago is searched for in a square around where it was, so its box
follows it in the same frame, with its eyes, by which the crop is turned upright; and one part of the frame is
scanned for faces that came into view every other frame (`scan_parts`, `scanned`: the whole frame, then overlapping
squares of it), so no frame pays for a full search and frame times stay even. A frame with no known face is scanned
whole (`find`). A video's `Follower` keeps what the frame before looked like: every other frame it follows a known
face by its look instead of re-finding it, at a fraction of the cost.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .blaze import BlazeFace, Detection
from .boxes import Box, FaceBox, contains, frame_box, iou

Part = tuple[int, int, int]  # a square of the frame: x, y, side


@lru_cache(maxsize=16)  # a video's frames share one shape: its parts are laid out once, not per frame
def scan_parts(shape: tuple[int, ...], shares: tuple[float, ...]) -> tuple[Part, ...]:
    """The parts of a frame of `shape` scanned for new faces in turn: the whole frame, then, for each of `shares`,
    squares of that share of its short side laid over it, each overlapping the next by a quarter of its side (a face
    of up to that size lies whole in one of them). Letterboxed to BlazeFace's input, a face under ~a quarter of the
    part's side is too small for it: smaller squares find smaller faces."""
    height, width = shape[:2]
    parts = [(0, 0, max(height, width))]
    for share in shares:
        side = max(1, int(share * min(height, width)))
        xs, ys = (steps(length, side) for length in (width, height))
        parts += [(x, y, side) for y in ys for x in xs]
    return tuple(parts)


def scanned(parts: tuple[Part, ...], turn: int) -> Part | None:
    """The part scanned on the frame of this `turn` (a video's frame count): one every other frame, the whole frame
    (`parts[0]`, large faces) every fourth of those, the squares in order in between."""
    if turn % 2:
        return None
    k = turn // 2
    return parts[0] if k % 4 == 0 or len(parts) == 1 else parts[1 + (k - k // 4 - 1) % (len(parts) - 1)]


def steps(length: int, side: int) -> list[int]:
    """Where squares of `side` start along `length`, evenly, from 0 to the end, at most 3/4 of a side apart."""
    n = max(1, int(np.ceil((length - side) / (0.75 * side))) + 1)
    return sorted({round(i * (length - side) / max(n - 1, 1)) for i in range(n)})


class LiveFinder:
    """Fast face finder for live video and video files. Safe to share between threads: BlazeFace keeps one
    interpreter per thread, and the scan's turn is the caller's (a video's frame count)."""

    name = "live"
    MIN_SCORE = 0.5  # BlazeFace's bar for a face known a frame ago (MediaPipe's own for this model)
    NEW_SCORE = 0.65  # its bar for a new face: lower, it also boxes the edge of a face it finds whole
    NEAR = 2.0  # the square searched around a known face, as a multiple of its side: room for a frame's movement
    SCAN_SHARES = (0.6, 0.4)  # the scanned squares' sides, as shares of the frame's short side

    def __init__(self, min_face: int = 40):
        self.blaze = BlazeFace(fast=True)
        self.min_face = min_face

    def smallest_face(self, shape: tuple[int, ...]) -> int:
        """The side (px) of the smallest face it can find in an image of this shape: a quarter of its smallest scan
        square's side (`scan_parts`)."""
        return max(self.min_face, int(np.ceil(0.25 * min(self.SCAN_SHARES) * min(shape[:2]))))

    def find(self, image: np.ndarray) -> list[FaceBox]:
        """Every face in an HxWx3 BGR image: the whole image and each of its scan squares searched."""
        return self._merge([], [d for part in scan_parts(image.shape, self.SCAN_SHARES)
                                for d in self._detect(image, part, self.NEW_SCORE)], image.shape)

    def find_near(self, image: np.ndarray, boxes: list[Box], turn: int, followed: list[FaceBox] = ()) -> list[FaceBox]:
        """The faces at `boxes` (where they were a frame ago) re-found near there, and any new face in the part of the
        scan whose `turn` it is (`scanned`; a video's frame count: each part comes round in turn); `followed`: faces
        already placed in this frame (`Follower`), kept first."""
        known = [found for box in boxes if (found := self._nearest(image, box)) is not None]
        part = scanned(scan_parts(image.shape, self.SCAN_SHARES), turn)
        return self._merge(known, self._detect(image, part, self.NEW_SCORE) if part else [], image.shape, followed)

    def _nearest(self, image: np.ndarray, box: Box) -> Detection | None:
        """The face found in a square `NEAR` times the side of `box` around it, nearest its centre."""
        x, y, w, h = box
        side = int(self.NEAR * max(w, h))
        cx, cy = x + w / 2, y + h / 2
        found = self._detect(image, (int(cx - side / 2), int(cy - side / 2), side), self.MIN_SCORE)
        return min(found, key=lambda d: (d.box[0] + d.box[2] / 2 - cx) ** 2 + (d.box[1] + d.box[3] / 2 - cy) ** 2,
                   default=None)

    def _detect(self, image: np.ndarray, part: Part, min_score: float) -> list[Detection]:
        """BlazeFace's faces scored >= `min_score` in a square part of the image (clipped to it), in the image's
        pixels."""
        x, y, side = part
        height, width = image.shape[:2]
        x0, y0 = max(x, 0), max(y, 0)
        crop = image[y0:min(y + side, height), x0:min(x + side, width)]
        if min(crop.shape[:2]) < 2:
            return []
        return [Detection((bx + x0, by + y0, bw, bh), d.score, {k: (px + x0, py + y0) for k, (px, py) in d.eyes.items()})
                for d in self.blaze.detect(crop, min_score) for bx, by, bw, bh in [d.box]]

    def _merge(self, known: list[Detection], new: list[Detection], shape: tuple[int, ...],
               followed: list[FaceBox] = ()) -> list[FaceBox]:
        """Faces of at least `min_face`, framed like training faces: the `followed` ones, the known ones, then new
        ones, each kept unless it overlaps one kept before it or its centre lies in one (BlazeFace also boxes parts of
        a face it found whole)."""
        out: list[FaceBox] = list(followed)
        for d in known + sorted(new, key=lambda d: -d.score):
            box = frame_box(d.box, "blaze", shape)
            centre = (box[0] + box[2] / 2, box[1] + box[3] / 2)
            if max(d.box[2], d.box[3]) >= self.min_face and all(
                    iou(box, f.box) < 0.3 and not contains(f.box, *centre) for f in out):
                out.append(FaceBox(box, d.score, d.eyes))
        return out


class Follower:
    """One video's faces from frame to frame, for the live finder (not shared: one per video or viewer).

    Every other frame a known face is followed rather than re-found: its look in the frame before (a small grayscale
    patch) is matched around where it was, a twentieth of a BlazeFace run; it is re-found in the frames between, so a
    followed box never drifts more than a frame. Faces take turns (the first known face is followed on even frames, the
    second on odd ones, ...), so frame times stay even; a face whose look matches poorly is re-found at once."""

    LOOK = 24  # the side (px) looks are compared at
    MATCH = 0.8  # the least normalized correlation of a look with the frame for a followed face

    def __init__(self, finder: LiveFinder):
        self.finder = finder
        self.turn = 0  # frames seen: whose turn it is in the scan, and which faces are followed
        self.before: np.ndarray | None = None  # the last frame, whose faces' looks are cut out when they are followed
        self.seen: dict[Box, FaceBox] = {}  # its faces by their box

    def find(self, image: np.ndarray, near: list[Box] | None) -> list[FaceBox]:
        """The faces of this frame (HxWx3 BGR, not changed afterwards: it is kept until the next one); `near`: where
        faces were seen lately (every face if None)."""
        self.turn += 1
        if not near:
            found = self.finder.find(image)
        else:
            followed, refind = [], []
            for k, box in enumerate(near):
                seen = self.seen.get(box) if (self.turn + k) % 2 == 0 else None
                face = self._follow(image, seen) if seen else None
                if face is None:
                    refind.append(box)
                else:
                    followed.append(face)
            found = self.finder.find_near(image, refind, self.turn, followed)
        self.before, self.seen = image, {f.box: f for f in found}
        return found

    @staticmethod
    def _gray(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, factor: float) -> np.ndarray:
        """The image's part from (x0, y0) to (x1, y1), clipped to it, in grayscale, scaled by `factor`."""
        part = image[max(y0, 0):y1, max(x0, 0):x1]
        size = (max(1, round(part.shape[1] * factor)), max(1, round(part.shape[0] * factor)))
        return cv2.resize(cv2.cvtColor(part, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)

    def _follow(self, image: np.ndarray, face: FaceBox) -> FaceBox | None:
        """`face` of the last frame moved to where its look (a `LOOK`-pixel grayscale patch of it) matches best within
        half its side of its box, or None where it matches poorly."""
        x, y, w, h = face.box
        factor = self.LOOK / w
        look = self._gray(self.before, x, y, x + w, y + h, factor)
        height, width = image.shape[:2]
        x0, y0 = max(x - w // 2, 0), max(y - h // 2, 0)
        area = self._gray(image, x0, y0, min(x + w + w // 2, width), min(y + h + h // 2, height), factor)
        if area.shape[0] < look.shape[0] or area.shape[1] < look.shape[1]:
            return None
        _, best, _, (dx, dy) = cv2.minMaxLoc(cv2.matchTemplate(area, look, cv2.TM_CCOEFF_NORMED))
        if best < self.MATCH:
            return None
        nx, ny = round(x0 + dx / factor), round(y0 + dy / factor)
        move = (nx - x, ny - y)
        eyes = {k: (px + move[0], py + move[1]) for k, (px, py) in face.landmarks.items()}
        return FaceBox((nx, ny, w, h), face.confidence, eyes)
