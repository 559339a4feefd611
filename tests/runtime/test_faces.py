"""Face finders on real FER2013 faces pasted into larger scenes at known boxes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from emotion.faces import FaceBox, iou, make_finder, reading_order
from emotion.faces.boxes import frame_box
from emotion.faces.images import bordered
from emotion.faces.photo import STEPS, Search
from emotion.imageio import read_image
from synthetic.scenes import background, make_scene, paste_face
from training.shifted import shift_photo


@pytest.fixture(scope="module")
def photo():
    return make_finder("photo")


@pytest.fixture(scope="module")
def live():
    return make_finder("live")


def step(name: str):
    """The photo finder's step of that name."""
    return next(s for s in STEPS if s.name == name)


def skip(monkeypatch, *names: str) -> None:
    """The photo finder without the steps of those names (and any skipped before)."""
    import emotion.faces.photo

    kept = tuple(s for s in emotion.faces.photo.STEPS if s.name not in names)
    monkeypatch.setattr(emotion.faces.photo, "STEPS", kept)


def matched(found, truth, threshold=0.4) -> int:
    return sum(any(iou(d.box, t) >= threshold for d in found) for t in truth)


@pytest.mark.parametrize(
    "sizes, shape",
    [
        ([60], (480, 640)),  # a small face in a webcam frame
        ([400], (480, 640)),  # a face filling most of the frame
        ([150, 110, 90, 70], (600, 800)),  # a group
        ([220, 160], (900, 1200)),
    ],
)
@pytest.mark.slow
def test_photo_finder_finds_every_face(photo, fer_faces, sizes, shape):
    pool = fer_faces["happy"] + fer_faces["neutral"] + fer_faces["surprise"]
    scene, truth = make_scene(pool[: len(sizes)], sizes, shape=shape, seed=len(sizes))
    found = photo.find(scene)
    assert matched(found, truth) == len(truth)
    assert len(found) == len(truth)  # no false boxes on the background


@pytest.mark.slow
@pytest.mark.parametrize("brightness", [0.35, 1.4])
def test_photo_finder_dark_and_bright_images(photo, fer_faces, brightness):
    scene, truth = make_scene(fer_faces["happy"][:3], [140, 120, 100], seed=7, brightness=brightness)
    assert matched(photo.find(scene), truth) == 3


@pytest.mark.slow
def test_photo_finder_looks_again_in_grayscale_under_a_colour_cast(photo, fer_faces, monkeypatch):
    """Faces in a photo under a strong green cast (light through a tinted screen), which MTCNN's steps miss in colour:
    the finder searches the photo again in grayscale and finds them."""
    photos = []
    for face in (fer_faces["surprise"][0], fer_faces["neutral"][0]):
        scene, truth = make_scene([face], [160], seed=0)
        photos.append((np.clip(scene * np.array([0.3, 1.0, 0.3]), 0, 255).astype(np.uint8), truth))
    assert all(matched(photo.find(picture), truth) == 1 for picture, truth in photos)
    monkeypatch.setattr("emotion.faces.photo.is_gray", lambda image: True)  # no second look
    assert not any(photo.find(picture) for picture, _ in photos)


def test_live_finds_webcam_sized_faces_with_their_eyes(live, fer_faces):
    faces = fer_faces["happy"] + fer_faces["neutral"]
    hits = 0
    for i, face in enumerate(faces):
        scene, truth = make_scene([face], [180], seed=i)
        found = live.find(scene)
        hits += matched(found, truth)
        assert all(f.landmarks["left_eye"][0] < f.landmarks["right_eye"][0] for f in found)  # as MTCNN names them
    assert hits >= 0.9 * len(faces)


def test_live_refinds_a_moved_face_near_its_last_box(live, fer_faces):
    faces = fer_faces["happy"] + fer_faces["neutral"] + fer_faces["sad"]
    near_hits = full_hits = 0
    for i, face in enumerate(faces):
        scene, truth = make_scene([face], [180], seed=i)
        x, y, w, h = truth[0]
        last_seen = (x + 25, y - 15, w - 20, h - 20)  # where it was a frame ago, a little off and smaller
        found = live.find_near(scene, [last_seen], turn=i)
        assert len(found) <= 1  # the scan's turn, finding the same face again, adds no second box
        near_hits += matched(found, truth, threshold=0.5)
        full_hits += matched(live.find(scene), truth, threshold=0.5)
    assert near_hits >= max(full_hits - 1, 0.9 * len(faces))


def test_a_follower_keeps_a_moving_face_boxed_and_lets_go_of_one_that_left(live, fer_faces, monkeypatch):
    """A face drifting 6 px a frame: boxed in every frame, every other frame by matching its look (no BlazeFace run);
    once the face is gone from where it was, no box stays behind."""
    from emotion.faces.live import Follower

    follow, runs = Follower(live), []
    detect = live.blaze.detect
    monkeypatch.setattr(live.blaze, "detect", lambda *a: runs.append(1) or detect(*a))
    rng = np.random.default_rng(3)
    bg, face = background(480, 640, rng), fer_faces["happy"][1]
    known: list = []
    for i in range(12):
        scene, truth = bg.copy(), (150 + 6 * i, 120 + 3 * i, 180, 180)
        paste_face(scene, face, truth)
        runs.clear()
        found = follow.find(scene, known)
        assert matched(found, [truth], threshold=0.6) == 1, f"frame {i}"
        if i >= 2 and follow.turn % 2 == 0:  # its turn to be followed, with the scan's part: one BlazeFace run
            assert len(runs) == 1, f"frame {i}: {len(runs)} BlazeFace runs"
        known = [f.box for f in found]
    assert follow.find(bg, known) == [] and follow.find(bg, known) == []


@pytest.mark.slow
def test_live_scan_finds_a_newcomer_within_one_round_and_no_box_where_no_face_is(live, fer_faces):
    """Four faces of 130 px in a 640x480 frame, one of them known: the others get their boxes within one round of the
    scan's parts, one part every other frame, and nothing is boxed where no face is."""
    from emotion.faces.live import scan_parts, scanned

    scene, truth = make_scene([fer_faces[c][0] for c in ("happy", "sad", "neutral", "surprise")], [130] * 4, seed=2)
    parts = scan_parts(scene.shape, live.SCAN_SHARES)
    rounds = next(n for n in range(1, 1000) if {scanned(parts, turn) for turn in range(n)} >= set(parts))
    assert rounds <= 60  # every part within 2 s at 30 frames a second
    known = [truth[0]]
    for turn in range(rounds):
        found = live.find_near(scene, known, turn)
        assert all(any(iou(f.box, t) >= 0.3 for t in truth) for f in found)
        known = [f.box for f in found]
    assert matched(found, truth) == 4
    empty = background(480, 640, np.random.default_rng(1))
    assert all(live.find_near(empty, [truth[0]], turn) == [] for turn in range(rounds))


@pytest.mark.parametrize("name", ["photo", "live"])
def test_no_face_is_empty_list(name, photo, live):
    det = photo if name == "photo" else live
    assert det.find(background(480, 640, np.random.default_rng(1))) == []


@pytest.mark.parametrize("name", ["photo", "live"])
def test_boxes_are_square_and_inside_image(name, photo, live, fer_faces):
    det = photo if name == "photo" else live
    scene, _ = make_scene([fer_faces["happy"][0]], [200], seed=3)
    for d in det.find(scene):
        x, y, w, h = d.box
        assert 0 <= x and 0 <= y and x + w <= scene.shape[1] and y + h <= scene.shape[0]
        assert abs(w - h) <= 1


def test_frame_box_clips_at_border():
    x, y, w, h = frame_box((-20, 400, 100, 120), "mtcnn", (480, 640, 3))
    assert x == 0 and y >= 0 and y + h == 480 and w > 0 and h > 0


def test_unknown_finder_message():
    with pytest.raises(ValueError, match="unknown face finder 'yolo'; choose one of"):
        make_finder("yolo")


@pytest.mark.slow
@pytest.mark.parametrize("min_face", [20, 30, 60, 100])
def test_photo_finder_minimum_face_size_setting(fer_faces, min_face):
    det = make_finder("photo", min_face=min_face)
    scene, truth = make_scene([fer_faces["happy"][0], fer_faces["happy"][2]], [180, 80], shape=(600, 800), seed=11)
    found = det.find(scene)
    assert matched(found, truth[:1]) == 1  # the 180 px face at every setting
    assert matched(found, truth[1:]) == (1 if min_face <= 60 else 0)  # the 80 px face only when allowed


@pytest.mark.slow
@pytest.mark.parametrize("name", ["live", "photo"])
def test_one_finder_shared_by_threads_gives_each_its_own_faces(name, photo, live, fer_faces):
    """The page shares one face finder between viewers, whose frames arrive on their own threads: each
    thread gets exactly the faces of its own frame, and no exception (OpenCV's cascade and TFLite's interpreter alone
    are not safe)."""
    from concurrent.futures import ThreadPoolExecutor

    finder = {"photo": photo, "live": live}[name]
    scenes = [make_scene([fer_faces[c][0] for c in labels], sizes, seed=seed)[0] for seed, (labels, sizes) in
              enumerate([(["happy"], [200]), (["sad", "surprise"], [150, 110]), (["angry", "neutral", "fear"], [130, 120, 110])])]
    expected = [[f.box for f in reading_order(finder.find(scene))] for scene in scenes]
    assert all(expected) and len({tuple(e) for e in expected}) == 3  # a mix-up would show
    rounds = 30 if name == "live" else 4
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: (i % 3, [f.box for f in reading_order(finder.find(scenes[i % 3]))]),
                            range(8 * rounds)))
    assert all(boxes == expected[k] for k, boxes in got)


def test_faces_come_in_reading_order():
    """Rows top to bottom, left to right within a row, even when heads in a row are not level."""
    boxes = [(400, 210, 100, 100), (50, 40, 100, 100), (250, 70, 100, 100), (60, 230, 100, 100), (450, 20, 100, 100)]
    order = [f.box for f in reading_order([FaceBox(b) for b in boxes])]
    assert order == [(50, 40, 100, 100), (250, 70, 100, 100), (450, 20, 100, 100), (60, 230, 100, 100), (400, 210, 100, 100)]
    assert reading_order([]) == []
    # One row of heads up and down: numbered left to right.
    staggered = [(x, 100 + 60 * (i % 2) - 5 * i, 100, 100) for i, x in enumerate(range(700, 0, -100))]
    assert [f.box[0] for f in reading_order([FaceBox(b) for b in staggered])] == sorted(b[0] for b in staggered)


def test_large_photos_say_how_small_a_face_they_can_find(photo, live):
    assert photo.smallest_face((480, 640, 3)) == max(20, photo.min_face)
    assert photo.smallest_face((4000, 6000, 3)) == 60  # searched at 2000 px: a third of the size
    assert live.smallest_face((480, 640, 3)) == 48  # a quarter of its smallest scan square, 192 px


@pytest.mark.slow
def test_photo_finder_finds_faces_that_fill_the_photo(photo, fer_faces):
    """Tight crops (a face filling the whole image, as in-the-wild crops and selfies): the search inside a
    border finds faces a plain search misses, and their boxes stay inside the image."""
    import cv2

    crops = [cv2.cvtColor(cv2.resize(f, (160, 160), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
             for faces in fer_faces.values() for f in faces]
    plain = sum(bool(photo.mtcnn(c)) for c in crops)
    found = [photo.find(c) for c in crops]
    assert sum(map(bool, found)) > plain
    assert sum(map(bool, found)) >= 0.8 * len(crops)
    for faces in found:
        for f in faces:
            x, y, w, h = f.box
            assert x >= 0 and y >= 0 and x + w <= 160 and y + h <= 160 and w >= 80


@pytest.mark.slow
def test_photo_finder_finds_faces_in_dark_photos(photo, fer_faces):
    """Dim, low-contrast photos (gamma 1.6, 30% light): the search with contrast evened out finds faces the plain
    and bordered searches miss, and adds no false box."""
    plain = found = false = 0
    for i, face in enumerate(f for faces in fer_faces.values() for f in faces):
        scene, (truth,) = make_scene([face], [160], seed=i)
        dark = np.clip((scene / 255.0) ** 1.6 * 0.3 * 255, 0, 255).astype(np.uint8)
        padded, pad = bordered(dark, photo.PAD)
        plain += matched(photo.mtcnn(dark) or photo.mtcnn(padded, pad, dark.shape), [truth])
        boxes = photo.find(dark)
        found += matched(boxes, [truth])
        false += sum(iou(b.box, truth) < 0.2 for b in boxes)
    assert found > plain and false == 0


def shuffled(face: np.ndarray, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    """A face cut into 4x4 tiles put back in random order: a face's textures without its layout (BGR)."""
    import cv2

    big, t = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC), size // 4
    tiles = [big[i:i + t, j:j + t] for i in range(0, size, t) for j in range(0, size, t)]
    order = rng.permutation(16).reshape(4, 4)
    return cv2.cvtColor(np.block([[tiles[k] for k in row] for row in order]), cv2.COLOR_GRAY2BGR)


@pytest.mark.slow
def test_photo_finder_asks_whether_the_photo_is_one_face(photo, fer_faces, monkeypatch):
    """Face crops tilted 25 degrees (a head leant on a hand, filling the photo): asked about the photo as a whole,
    MTCNN's output net finds faces that none of its searches proposed; the same faces cut into shuffled tiles
    are hardly ever taken for one."""
    import cv2

    def tilted(face, angle, size=96):
        big = cv2.resize(face, (size, size), interpolation=cv2.INTER_CUBIC)
        turn = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
        return cv2.cvtColor(cv2.warpAffine(big, turn, (size, size), borderMode=cv2.BORDER_REFLECT), cv2.COLOR_GRAY2BGR)

    faces = [f for fs in fer_faces.values() for f in fs]
    crops = [tilted(f, angle) for f, angle in zip(faces, itertools.cycle((-25, 25)))]
    found = sum(bool(photo.find(c)) for c in crops)
    with monkeypatch.context() as patch:
        patch.setattr(photo, "as_one_face", lambda image, gate=None: [])  # the searches alone
        skip(patch, "blaze")
        assert found > sum(bool(photo.find(c)) for c in crops)
    rng = np.random.default_rng(0)
    assert sum(bool(photo.as_one_face(shuffled(f, rng))) for f in faces) <= 1


@pytest.mark.slow
def test_photo_finder_last_search_finds_blurred_and_noisy_faces(photo, fer_faces, monkeypatch):
    """Shifted-val photos (odd light, blur, noise, JPEG) whose face only the last search, with its looser proposals,
    finds; photos made the same way with a plain grey square for a face get no box."""
    photos = [shift_photo(fer_faces[label][k], np.random.default_rng(seed))
              for label, k, seed in (("disgust", 3, 8), ("surprise", 2, 27))]
    blanks = [shift_photo(np.full((48, 48), 128, np.uint8), np.random.default_rng(seed))[0] for seed in range(4)]
    assert all(matched(photo.find(picture), [box]) for picture, box in photos)
    assert all(photo.find(blank) == [] for blank in blanks)
    with monkeypatch.context() as patch:
        patch.setattr(photo, "LOOSE_GATE", 0.7)  # MTCNN's own bars: the loose search adds nothing to the ones before
        skip(patch, "haar")  # nor does the Haar cascade after it
        patch.setattr(photo, "LAST_CROP_GATE", 1.0)  # nor the output net's last look at the photo as one face
        skip(patch, "blaze")  # nor BlazeFace
        patch.setattr("emotion.faces.photo.is_gray", lambda image: True)  # nor the second look in grayscale
        assert not any(matched(photo.find(picture), [box]) for picture, box in photos)


@pytest.mark.slow
def test_photo_finder_then_asks_a_haar_cascade(photo, fer_faces, monkeypatch):
    """Shifted-val photos in which no MTCNN search finds the face and the Haar cascade after them does, its box
    confirmed by MTCNN's output net (the grey squares of the test above show it adds no box where no face is)."""
    photos = [shift_photo(fer_faces[label][k], np.random.default_rng(seed))
              for label, k, seed in (("surprise", 0, 0), ("angry", 0, 10), ("surprise", 1, 46))]
    assert all(matched(photo.find(picture), [box]) for picture, box in photos)
    with monkeypatch.context() as patch:
        skip(patch, "haar")
        skip(patch, "blaze")
        patch.setattr("emotion.faces.photo.is_gray", lambda image: True)  # no second look in grayscale
        assert not any(photo.find(picture) for picture, _ in photos)


@pytest.mark.slow
def test_photo_finder_last_of_all_asks_blazeface(photo, fer_faces, monkeypatch):
    """Shifted-val photos in which every step before misses the face and BlazeFace finds it, its box confirmed by
    MTCNN's output net; the shifted grey squares of the test above get no box from it either."""
    photos = [shift_photo(fer_faces[label][k], np.random.default_rng(seed))
              for label, k, seed in (("disgust", 3, 0), ("neutral", 0, 1), ("sad", 1, 3), ("angry", 0, 4))]
    blanks = [shift_photo(np.full((48, 48), 128, np.uint8), np.random.default_rng(seed))[0] for seed in range(4)]
    assert all(matched(photo.find(picture), [box]) for picture, box in photos)
    assert not any(step("blaze").look(photo, Search(photo, blank)) for blank in blanks)
    skip(monkeypatch, "blaze")
    monkeypatch.setattr("emotion.faces.photo.is_gray", lambda image: True)  # no second look in grayscale
    assert not any(photo.find(picture) for picture, _ in photos)


def test_blazeface_shared_by_threads_gives_each_its_own_boxes(photo, fer_faces):
    """BlazeFace's boxes lie on the faces, and one BlazeFace searched from 8 threads at once gives each thread the
    boxes of its own image (a TFLite interpreter alone is not safe to share)."""
    from concurrent.futures import ThreadPoolExecutor

    scenes = [make_scene([fer_faces[c][0] for c in labels], sizes, seed=seed) for labels, sizes, seed in
              [(["happy"], [300], 1), (["happy", "sad"], [220, 200], 0)]]
    expected = [photo.blaze.raw_boxes(scene, 0.5) for scene, _ in scenes]
    assert [len(boxes) for boxes in expected] == [1, 2]
    assert all(matched([FaceBox(tuple(map(int, b))) for b in boxes], truth) == len(truth)
               for boxes, (_, truth) in zip(expected, scenes))
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda i: (i % 2, photo.blaze.raw_boxes(scenes[i % 2][0], 0.5)), range(80)))
    assert all(boxes == expected[k] for k, boxes in got)


@pytest.mark.slow
def test_photo_finder_judges_the_haar_cascades_boxes(photo, fer_faces):
    """Faces cut into shuffled tiles: the cascade (as the photo finder runs it) takes some for faces; MTCNN's output
    net, shown its boxes, hardly ever agrees, so the finder's last step adds no box there."""
    rng = np.random.default_rng(3)
    tiles = [shuffled(f, rng) for _ in range(6) for fs in fer_faces.values() for f in fs]
    fooled = [t for t in tiles if len(photo.haar.raw_boxes(bordered(t, photo.OTHER_PAD)[0]))]
    assert len(fooled) >= 5
    assert sum(bool(step("haar").look(photo, Search(photo, t))) for t in fooled) <= 1


@pytest.mark.slow
def test_photo_finder_last_asks_about_the_photo_with_a_lower_bar(photo, fer_val_file, monkeypatch):
    """FER2013 val faces given as their own 48 px photos, which every step before misses: MTCNN's output net, asked
    again about the photo as one face with a lower bar, finds them, with landmarks."""
    photos = [read_image(fer_val_file(label, k)) for label, k in (("sad", 1), ("sad", 11), ("sad", 12), ("happy", 9))]
    found = [photo.search(picture) for picture in photos]
    assert all(len(f) == 1 and f[0].confidence >= photo.LAST_CROP_GATE and f[0].landmarks for f in found)
    monkeypatch.setattr(photo, "LAST_CROP_GATE", 1.0)
    skip(monkeypatch, "blaze")
    assert not any(photo.search(picture) for picture in photos)


@pytest.mark.slow
def test_a_thumbnail_is_read_whole_as_one_face_crop(photo, fer_faces, fer_val_file, monkeypatch):
    """A face crop given as a thumbnail (48 px, as FER2013's and CK+'s are) is already framed: the whole of it is the
    face, found or not (then with confidence 0); larger photos, long thin images and a small face in a thumbnail
    keep the finder's boxes."""
    import cv2

    found = [photo.find(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR)) for fs in fer_faces.values() for f in fs]
    assert all(len(f) == 1 and f[0].box == (0, 0, 48, 48) for f in found)
    assert sum(f[0].confidence >= photo.min_confidence for f in found) >= 0.8 * len(found)
    missed = read_image(fer_val_file("sad", 1))
    monkeypatch.setattr(photo, "LAST_CROP_GATE", 1.0)
    skip(monkeypatch, "blaze")
    assert photo.find(missed) == [FaceBox((0, 0, 48, 48), 0.0)]
    grey = lambda h, w: np.full((h, w, 3), 128, np.uint8)  # noqa: E731
    assert photo.find(grey(64, 60)) == [FaceBox((0, 0, 60, 64), 0.0)]
    assert photo.find(grey(65, 65)) == photo.find(grey(64, 30)) == photo.find(grey(16, 16)) == []
    scene, (truth,) = make_scene([fer_faces["happy"][0]], [28], shape=(64, 64), seed=1)
    (face,) = photo.find(scene)
    assert iou(face.box, truth) >= 0.4 and face.box != (0, 0, 64, 64)


@pytest.mark.parametrize("name", ["photo", "live"])
@pytest.mark.parametrize("angle", [-25.0, 20.0])
def test_a_tilted_face_is_turned_upright_before_the_crop(photo, live, fer_faces, angle, name):
    """Either finder's eye landmarks give the head's tilt; the model then sees the tilted face as it sees the face
    upright."""
    finder = photo if name == "photo" else live
    import cv2

    from emotion.preprocess import preprocess_face

    upright = fer_faces["happy"][1]
    tilted = cv2.warpAffine(upright, cv2.getRotationMatrix2D((23.5, 23.5), angle, 1.0), (48, 48),
                            borderMode=cv2.BORDER_REPLICATE)
    (scene, _), (scene_tilted, _) = (make_scene([face], [200], seed=5) for face in (upright, tilted))
    (found,), (found_tilted,) = finder.find(scene), finder.find(scene_tilted)
    # Turning the image by +angle tilts the eye line by -angle (landmarks on an enlarged 48 px face: a few degrees off).
    assert found_tilted.roll - found.roll == pytest.approx(-angle, abs=8)
    reference = preprocess_face(scene, found.box, found.roll)
    error = lambda crop: np.abs(crop.astype(float) - reference).mean()  # noqa: E731
    # BlazeFace's boxes of a tilted face are looser than MTCNN's: turned upright, its crop is still nearer the upright
    # face than unturned.
    assert error(preprocess_face(scene_tilted, found_tilted.box, found_tilted.roll)) < \
        (0.6 if name == "photo" else 0.9) * error(preprocess_face(scene_tilted, found_tilted.box))


@pytest.mark.slow
@pytest.mark.parametrize("turn", ["ROTATE_90_CLOCKWISE", "ROTATE_90_COUNTERCLOCKWISE"])
def test_a_face_lying_on_its_side_is_found_and_turned_upright(photo, fer_faces, turn):
    """A photo saved sideways (or a selfie taken lying down): MTCNN misses the face upright, the turned search finds it
    where it is, and its eye line turns the crop upright, as the model sees the face in the upright photo."""
    import cv2

    from emotion.preprocess import preprocess_face

    scene, _ = make_scene([fer_faces["happy"][1]], [200], seed=5)
    (found,) = photo.find(scene)
    sideways = cv2.rotate(scene, getattr(cv2, turn))
    assert photo.search(sideways) == []  # the steps before it do miss it
    (found_sideways,) = photo.find(sideways)
    assert abs(found_sideways.roll - found.roll) == pytest.approx(90, abs=8)  # a quarter turn more than upright
    centre = lambda b: (b[0] + b[2] / 2, b[1] + b[3] / 2)  # noqa: E731
    cx, cy = centre(found.box)
    point = np.zeros(scene.shape[:2], np.uint8)
    point[int(cy), int(cx)] = 255  # where the face's centre goes when the photo is turned
    ty, tx = np.argwhere(cv2.rotate(point, getattr(cv2, turn)))[0]
    assert np.hypot(*np.subtract(centre(found_sideways.box), (tx, ty))) < 0.15 * found.box[2]
    reference = preprocess_face(scene, found.box, found.roll).astype(float)
    crop = preprocess_face(sideways, found_sideways.box, found_sideways.roll).astype(float)
    assert np.corrcoef(crop.ravel(), reference.ravel())[0, 1] > 0.9



@pytest.mark.parametrize("shape", [(5000, 1), (1, 5000), (19, 3000), (40, 100000)])
def test_a_photo_thinner_than_a_face_has_none_and_raises_nothing(photo, live, shape):
    """Extreme aspect ratios (a 1 x 5000 strip): no face, and no OpenCV error from a copy shrunk to no pixels."""
    strip = np.full((*shape, 3), 128, np.uint8)
    assert photo.find(strip) == [] and live.find(strip) == []
    assert live.find_near(strip, [(0, 0, shape[1], shape[0])], turn=0) == []


@pytest.mark.slow
def test_a_large_photo_is_searched_on_one_smaller_copy_and_its_faces_mapped_back(photo, fer_faces, monkeypatch):
    """A 6000 x 4000 photo: every step of the search (borders, contrast, turns, other finders) sees a copy no larger
    than MAX_SIDE, not the photo, and the faces come back in the photo's pixels."""

    picture, truth = make_scene([fer_faces["happy"][0]], [600], (4000, 6000), seed=3)
    seen = []
    search = type(photo)._run
    monkeypatch.setattr(type(photo), "_run", lambda self, net, image, *a, **k: seen.append(image.shape) or
                        search(self, net, image, *a, **k))
    found = photo.find(picture)
    assert matched(found, truth) == 1 and max(max(s[:2]) for s in seen) <= 2000 * (1 + 2 * photo.PAD)
    seen.clear()
    assert photo.find(np.full((4000, 6000, 3), 90, np.uint8)) == []
    assert len(seen) > 3 and max(max(s[:2]) for s in seen) <= 2000 * (1 + 2 * photo.PAD)
