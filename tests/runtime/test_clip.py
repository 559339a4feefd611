"""Video files: `emotion video` and `analyse_clip` on a clip of real FER2013 faces written with PyAV."""

from __future__ import annotations

import json

import av
import numpy as np
import pandas as pd
import pytest

from conftest import malformed
from emotion.cli import main
from emotion.clip import Clip, ClipError, analyse_clip
from emotion.faces import make_finder
from synthetic.scenes import moving_faces, write_clip

pytestmark = pytest.mark.slow  # whole videos

SECONDS = 4


@pytest.fixture(scope="module")
def fast(detector):
    """The detector as `emotion video` uses it: the Haar finder, no TTA."""
    return detector.variant(make_finder("live"), tta=False)


@pytest.fixture(scope="module")
def clip(tmp_path_factory, fer_faces):
    """4 s at 30 fps, 640x480: two happy faces drifting over a background whose light changes."""
    path = tmp_path_factory.mktemp("clip") / "two happy.mp4"
    faces = [fer_faces["happy"][0], fer_faces["happy"][1]]
    write_clip((frame for frame, _ in moving_faces(faces, SECONDS * 30, np.random.default_rng(5))), path)
    return path


def test_a_clip_gives_one_track_per_face_and_its_mood(clip, fast, tmp_path):
    result = analyse_clip(clip, fast, tmp_path, annotated=True)
    assert result.error is None
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s == result.summary
    assert s["faces_seen"] == 2 and s["dominant"] == "happy"
    assert [f["id"] for f in s["faces"]] == [1, 2] and all(f["dominant"] == "happy" for f in s["faces"])
    assert s["frames_analysed"] == SECONDS * 10  # the default: 10 of the 30 frames a second
    assert s["duration_s"] == pytest.approx(SECONDS, abs=0.05)
    assert s["segments"] == [{"start_s": 0.0, "end_s": s["analysed_to_s"], "mood": "happy"}]
    assert len(s["timeline"]) == SECONDS and abs(sum(s["timeline"][0]["mood"].values()) - 1) < 1e-3

    rows = pd.read_csv(tmp_path / "frames.csv")
    assert list(rows.columns[:7]) == ["time_s", "frame", "face_id", "x", "y", "w", "h"]
    assert set(rows["face_id"]) == {1, 2}
    assert rows.groupby("face_id")["frame"].count().min() >= 0.8 * SECONDS * 10  # each face in most frames
    probs = rows[list(fast.labels)].to_numpy()
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (rows["emotion"] == np.array(fast.labels)[probs.argmax(axis=1)]).all()
    assert np.allclose(np.diff(sorted(set(rows["time_s"]))), 0.1, atol=0.01)

    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with av.open(str(tmp_path / "annotated.mp4")) as video:
        frames = [f.to_ndarray(format="bgr24") for f in video.decode(video=0)]
    assert len(frames) == SECONDS * 10 and frames[0].shape == (480, 640, 3)


def test_a_phone_video_filmed_upright_is_analysed_upright(fer_faces, fast, tmp_path):
    """Phones store a video filmed upright sideways, with a display matrix that turns it back: frames are turned
    as it says, else the faces lie on their side and are not found."""
    path = tmp_path / "portrait.mp4"
    faces = [fer_faces["happy"][0], fer_faces["happy"][1]]
    upright = [frame for frame, _ in moving_faces(faces, 2 * 30, np.random.default_rng(5))]
    write_clip((np.rot90(frame) for frame in upright), path, display_rotation=-90)  # stored turned a quarter left
    result = analyse_clip(path, fast, tmp_path / "out", annotated=True)
    assert result.summary["faces_seen"] == 2 and result.summary["dominant"] == "happy"
    assert result.size == (640, 480)  # width, height: as filmed
    with av.open(str(tmp_path / "out" / "annotated.mp4")) as video:
        first = next(video.decode(video=0)).to_ndarray(format="bgr24")
    assert first.shape == upright[0].shape  # 480 x 640, as filmed


def test_every_frame_when_asked(clip, fast, tmp_path):
    assert analyse_clip(clip, fast, tmp_path, fps=None).summary["frames_analysed"] == SECONDS * 30


def test_a_truncated_clip_keeps_its_start_and_says_why(clip, fast, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    result = analyse_clip(cut, fast, tmp_path / "out")
    assert "cut.mp4" in result.error and "truncated" in result.error
    rows = pd.read_csv(tmp_path / "out" / "frames.csv")
    assert len(rows) > 0 and rows["time_s"].max() < SECONDS - 0.5
    assert result.summary["error"] == result.error and result.summary["dominant"] == "happy"


@pytest.mark.parametrize("content, problem", [
    (b"", "not a readable video"),
    (b"just some text, no video", "not a readable video"),
    (None, "no video in this file"),  # audio only
])
def test_unusable_files_are_one_clear_error(tmp_path, content, problem):
    path = tmp_path / "bad.mp4"
    if content is None:
        with av.open(str(path), "w") as out:
            stream = out.add_stream("aac", rate=44100)
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate = 44100
            for _ in range(5):
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    else:
        path.write_bytes(content)
    with pytest.raises(ClipError, match=problem) as exc:
        Clip(path)
    assert "bad.mp4" in str(exc.value) and "\n" not in str(exc.value)


def test_cli_writes_the_results_and_fails_cleanly(clip, tmp_path, capsys):
    assert main(["video", str(clip), "--out", str(tmp_path / "r"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["faces_seen"] == 2
    assert {p.name for p in (tmp_path / "r").iterdir()} == {"frames.csv", "summary.json", "timeline.png"}
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["video", str(tmp_path / "empty.mp4"), "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "empty.mp4" in err[-1] and "Traceback" not in "".join(err)


def test_seeded_malformed_videos_give_results_or_one_line_quickly(fast, fer_faces, tmp_path):
    """Short clips in three containers, cut short, bit-flipped, behind another container's header or turned to
    noise after it: each is analysed (perhaps partly) or one ClipError line, within 10 s; no other exception."""
    import time

    frames = [f for f, _ in moving_faces([fer_faces["happy"][2]], 20, np.random.default_rng(2))]
    encoded, suffixes = [], []
    for suffix, codec in ((".mp4", "libx264"), (".mkv", "libx264"), (".avi", "mpeg4")):
        path = tmp_path / f"source{suffix}"
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=30)
            stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
            for frame in frames:
                out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
            out.mux(stream.encode(None))
        encoded.append(path.read_bytes())
        suffixes.append(suffix)
    rng = np.random.default_rng(7)
    for i in range(24):
        path = tmp_path / f"fuzz{i}{suffixes[i % len(suffixes)]}"
        path.write_bytes(malformed(encoded, i, rng, header=64, noise=20000))
        start = time.perf_counter()
        try:
            result = analyse_clip(path, fast, tmp_path / f"out{i}")
            assert result.error is None or ("\n" not in result.error and path.name in result.error)
        except ClipError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
        assert time.perf_counter() - start < 10, path
