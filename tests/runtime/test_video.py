"""Live mode's per-frame processing: every face labelled, labels smoothed over time, mood readout."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from emotion import EmotionDetector
from emotion.detector import Face
from emotion.faces import make_finder
from synthetic.scenes import make_scene
from emotion.video import LiveProcessor


@pytest.fixture(scope="module")
def live(detector) -> EmotionDetector:
    return detector.variant(make_finder("live"), tta=False)


class Scripted:
    """A detector stand-in that returns given faces, to drive the smoothing deterministically."""

    labels = ("happy", "sad")

    def __init__(self):
        self.faces: list[Face] = []
        self.near: list = []  # the known boxes each call was given

    def detect(self, frame, follow=None, near=None):
        self.near.append(near)
        return self.faces

    def follower(self):
        return None

    def face(self, box, scores, confidence=1.0):
        return Face(box, max(scores, key=scores.get), scores, confidence)


def face(box, happy):
    return Face(box, "happy" if happy >= 0.5 else "sad", {"happy": happy, "sad": 1 - happy})


def test_frames_come_back_annotated_with_every_face(live, fer_faces):
    proc = LiveProcessor(live)
    scene, _ = make_scene([fer_faces["happy"][0], fer_faces["neutral"][1]], [180, 170], seed=1)
    out = proc.process(scene, now=0.0)
    assert out.shape == scene.shape and (out != scene).any()
    assert len(proc.tracks) >= 1 and proc.mood() is not None
    assert sum(proc.mood().values()) == pytest.approx(1.0, abs=1e-5)


def test_a_one_frame_blip_does_not_flip_the_label():
    det = Scripted()
    proc = LiveProcessor(det)
    box = (100, 100, 120, 120)
    for i in range(15):  # 0.5 s of a happy face at 30 fps
        det.faces = [face(box, 0.9)]
        proc.process(np.zeros((480, 640, 3), np.uint8), now=i / 30)
    det.faces = [face((104, 102, 120, 120), 0.05)]  # one misread frame, face moved slightly
    proc.process(np.zeros((480, 640, 3), np.uint8), now=15 / 30)
    assert proc.mood()["happy"] > 0.5 and len(proc.tracks) == 1


def test_a_lasting_change_takes_over_within_a_second():
    det = Scripted()
    proc = LiveProcessor(det)
    box = (100, 100, 120, 120)
    det.faces = [face(box, 0.9)]
    proc.process(np.zeros((10, 10, 3), np.uint8), now=0.0)
    det.faces = [face(box, 0.1)]
    for i in range(1, 19):
        proc.process(np.zeros((10, 10, 3), np.uint8), now=i / 30)
    assert proc.mood()["sad"] > 0.5  # the label has flipped after 0.6 s
    for i in range(19, 31):
        proc.process(np.zeros((10, 10, 3), np.uint8), now=i / 30)
    assert proc.mood()["sad"] > 0.75


def test_tracked_faces_are_looked_for_where_they_were_and_newcomers_get_their_own_track():
    det = Scripted()
    proc = LiveProcessor(det)
    first, second = face((0, 0, 100, 100), 0.9), face((300, 0, 100, 100), 0.2)
    det.faces = [first]
    proc.process(np.zeros((10, 10, 3), np.uint8), now=0.0)
    det.faces = [first, second]  # a second person steps in
    proc.process(np.zeros((10, 10, 3), np.uint8), now=1 / 30)
    det.faces = [face((10, 4, 100, 100), 0.9), second]  # the first moves
    proc.process(np.zeros((10, 10, 3), np.uint8), now=2 / 30)
    assert det.near == [[], [first.box], [first.box, second.box]]  # a full search only while no face is known
    assert sorted((t.id, t.box) for t in proc.tracks) == [(1, (10, 4, 100, 100)), (2, second.box)]


def test_a_briefly_missed_face_keeps_its_box_then_leaves_the_picture():
    det = Scripted()
    proc = LiveProcessor(det)
    frame = np.zeros((240, 320, 3), np.uint8)
    det.faces = [face((100, 60, 80, 80), 0.9)]
    proc.process(frame, now=0.0)
    det.faces = []  # the detector misses the face for a few frames
    assert (proc.process(frame, now=0.1)[60:140, 100:180] != 0).any()  # box still drawn
    assert (proc.process(frame, now=0.6) == 0).all()  # gone after half a second


def test_faces_are_tracked_separately_and_forgotten():
    det = Scripted()
    proc = LiveProcessor(det)
    det.faces = [face((0, 0, 100, 100), 0.9), face((300, 0, 100, 100), 0.1)]
    proc.process(np.zeros((10, 10, 3), np.uint8), now=0.0)
    assert len(proc.tracks) == 2
    det.faces = []
    proc.process(np.zeros((10, 10, 3), np.uint8), now=2.0)
    assert proc.tracks == []


def test_mood_readable_from_another_thread_while_processing():
    det = Scripted()
    proc = LiveProcessor(det)
    det.faces = [face((0, 0, 100, 100), 0.7)]
    stop = threading.Event()

    def worker():
        t = 0.0
        while not stop.is_set():
            proc.process(np.zeros((10, 10, 3), np.uint8), now=t)
            t += 0.05

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        readings = [proc.mood() for _ in range(200)]
    finally:
        stop.set()
        thread.join()
    assert all(r is None or r["happy"] == pytest.approx(0.7) for r in readings)
    assert len(proc.timeline()) >= 1


def test_viewer_limit_turns_away_extra_viewers_until_a_place_frees():
    from emotion.video import ViewerLimit

    limit = ViewerLimit(2)
    assert limit.admit(1, now=0.0) and limit.admit(2, now=0.1)
    assert not limit.admit(3, now=0.2)  # the two others keep their places
    assert limit.admit(1, now=1.0) and limit.admit(2, now=1.0) and not limit.admit(3, now=1.5)
    assert limit.admit(3, now=1.0 + ViewerLimit.IDLE_SECONDS + 0.5)  # viewer 1 and 2 stopped sending frames


def test_stats_count_frames_and_lag(live, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=3)
    processor = LiveProcessor(live)
    assert processor.stats() is None
    for i in range(10):
        processor.process(scene, captured=float(i))
    stats = processor.stats()
    assert stats["fps"] == pytest.approx(10 / 5.0) and 0 < stats["p50_ms"] <= stats["p95_ms"]
    # Added delay = how much later than at its best a result follows its capture: frames captured 1 s apart but
    # analysed within milliseconds never queue (0); a camera clock standing still means results fall behind.
    assert stats["lag_ms"] == pytest.approx(0, abs=1e-6)
    stalled = LiveProcessor(live)
    for _ in range(10):
        stalled.process(scene, captured=0.0)
    assert stalled.stats()["lag_ms"] > 0


def test_a_viewer_over_the_limit_sees_the_busy_notice_while_the_first_keeps_its_analysis(live, fer_faces):
    import av

    from emotion.video import Viewer, ViewerLimit

    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=4)
    frame = av.VideoFrame.from_ndarray(scene, format="bgr24")
    limit = ViewerLimit(1)
    first, second = Viewer(live, limit), Viewer(live, limit)
    shown = first.on_frame(frame).to_ndarray(format="bgr24")
    busy = second.on_frame(frame).to_ndarray(format="bgr24")
    assert first.processor.mood() is not None and not first.turned_away.is_set()
    assert second.turned_away.is_set() and second.processor.mood() is None  # nothing analysed for it
    assert shown.shape == scene.shape and busy.shape[1] < scene.shape[1]  # a small still notice: cheap to send back
    assert busy.max() > 200 > 40 > busy.mean()  # white text on a dark still


def test_a_mirrored_viewer_shows_the_camera_as_a_mirror_with_its_faces_labelled_there(live, fer_faces):
    import av

    from emotion.video import Viewer, ViewerLimit

    scene, boxes = make_scene([fer_faces["happy"][0]], [180], seed=4)
    frame = av.VideoFrame.from_ndarray(scene, format="bgr24")
    plain, mirrored = Viewer(live, ViewerLimit(2)), Viewer(live, ViewerLimit(2))
    mirrored.mirror.set()
    shown = [v.on_frame(frame).to_ndarray(format="bgr24") for v in (plain, mirrored)]
    (x, y, w, h), = [t.box for t in plain.processor.tracks]
    (mx, my, mw, mh), = [t.box for t in mirrored.processor.tracks]
    assert abs(mx - (scene.shape[1] - x - w)) <= 0.1 * w and abs(my - y) <= 0.1 * h  # where a mirror shows it
    assert plain.processor.mood()["happy"] == pytest.approx(mirrored.processor.mood()["happy"], abs=0.15)
    corner = (slice(0, 40), slice(0, 40))  # far from the face: the background, mirrored
    assert np.array_equal(shown[1][corner], scene[:, ::-1][corner]) and not np.array_equal(shown[0][corner], shown[1][corner])


def test_live_faces_keep_their_numbers_for_the_page():
    """The page's live readout lists the faces of the latest frame under the numbers drawn on the video."""
    det = Scripted()
    proc = LiveProcessor(det)
    left, right = face((0, 0, 100, 100), 0.9), face((300, 0, 100, 100), 0.2)
    det.faces = [left, right]
    proc.process(np.zeros((480, 640, 3), np.uint8), now=0.0)
    det.faces = [right, left]  # found in another order: the numbers stay with the faces
    proc.process(np.zeros((480, 640, 3), np.uint8), now=1 / 30)
    assert [(n, f.box, f.emotion) for n, f in proc.faces()] == [(2, right.box, "sad"), (1, left.box, "happy")]
