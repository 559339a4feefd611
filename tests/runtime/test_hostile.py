"""Hostile inputs, round two (issue 50): names that are not UTF-8 or look like formulas, links, FIFOs, link loops,
extreme shapes, oversized video frames, two writers on one table, a killed worker, and CLI numbers. Every case is
made here from generated files; each expects a row, a one-line message or a refusal, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pandas as pd
import pytest

import emotion.batch
from conftest import ROOT
from emotion.batch import Output, find_files
from emotion.cli import main
from emotion.clip import Clip, ClipError, analyse_clip
from emotion.faces import make_finder
from emotion.imageio import ImageError, read_image
from synthetic.scenes import make_scene, moving_faces, write_clip

pytestmark = pytest.mark.slow  # worker processes, videos and huge images

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
ODD = os.fsdecode(b"caf\xe9 \xff")  # a Latin-1 name from an old archive: bytes that are not UTF-8


@pytest.fixture(scope="module")
def fast(detector):
    """The detector as `emotion video` uses it: the Haar finder, no TTA."""
    return detector.variant(make_finder("live"), tta=False)


@pytest.fixture(scope="module")
def face_photo(fer_faces) -> bytes:
    scene, _ = make_scene([fer_faces["happy"][0]], [150], seed=4)
    return cv2.imencode(".jpg", scene)[1].tobytes()


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_names_that_are_not_utf8_are_saved_as_escaped_text_and_a_rerun_skips_them(tmp_path, face_photo, suffix, capsys):
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / f"{ODD}.jpg").write_bytes(face_photo)
    (folder / f"{ODD} broken.jpg").write_bytes(b"not a photo")
    out = tmp_path / f"faces{suffix}"
    assert main(["batch", str(folder), "--out", str(out)]) == 2  # one file failed; the table is written
    df = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
    assert {os.path.basename(f) for f in df["file"]} == {"caf\\xe9 \\xff.jpg", "caf\\xe9 \\xff broken.jpg"}
    assert df["emotion"].notna().sum() == 1 and "caf\\xe9 \\xff broken.jpg" in df["error"].dropna().iloc[0]
    capsys.readouterr()
    assert main(["batch", str(folder), "--out", str(out)]) == 2
    assert "2 of 2 files are already in" in capsys.readouterr().err


def test_predict_and_video_print_names_that_are_not_utf8_on_a_strict_stdout(tmp_path, face_photo):
    photo = tmp_path / f"{ODD}.jpg"
    photo.write_bytes(face_photo)
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "TF_CPP_MIN_LOG_LEVEL": "3"}
    for args in (["predict", str(photo), str(tmp_path / f"{ODD}.png"), "--annotate", str(tmp_path / "out")],
                 ["video", str(tmp_path / f"{ODD}.mp4")]):
        done = subprocess.run([sys.executable, "-m", "emotion", *args], capture_output=True, env=env, cwd=ROOT)
        assert done.returncode == 2 and b"Traceback" not in done.stderr, done.stderr[-2000:]
        assert b"caf\\xe9 \\xff" in done.stdout + done.stderr
    assert os.listdir(tmp_path / "out") == [f"{ODD}.png"]  # the annotated copy keeps the name's bytes


@pytest.mark.parametrize("shape", [(1, 5000), (5000, 1)])
def test_a_photo_of_extreme_shape_has_no_face_and_no_error(tmp_path, shape, capsys):
    strip = tmp_path / "strip.png"
    cv2.imwrite(str(strip), np.full((*shape, 3), 200, np.uint8))
    assert main(["predict", str(strip)]) == 0
    assert "strip.png: 0 faces" in capsys.readouterr().out
    out = tmp_path / "rows.parquet"
    assert main(["batch", str(strip), "--out", str(out)]) == 0
    row = pd.read_parquet(out).iloc[0]
    assert pd.isna(row["error"]) and pd.isna(row["emotion"])


def test_two_writers_never_share_an_output(tmp_path, face_photo, capsys):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(face_photo)
    out = tmp_path / "faces.parquet"
    first = Output(out, LABELS)
    first.claim()  # a run in progress holds the table
    assert main(["batch", str(photo), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another `emotion batch` run is writing it" in err and not out.exists()
    first._lock.release()
    assert main(["batch", str(photo), "--out", str(out)]) == 0 and len(pd.read_parquet(out)) == 1


def test_video_frames_over_4k_are_refused_before_decoding(tmp_path):
    """A 3 MB 16000 x 16000 JPEG renamed .mp4 decoded to 1.4 GB; now its stream header refuses it at once."""
    big = tmp_path / "huge.mp4"
    big.write_bytes(cv2.imencode(".jpg", np.zeros((9000, 9000, 3), np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 10])[1])
    started = time.monotonic()
    with pytest.raises(ClipError, match=r"huge.mp4: its frames are 9000x9000 pixels, over the 8.8 megapixel limit"):
        Clip(big)
    assert time.monotonic() - started < 2


@pytest.fixture(scope="module")
def clip_bytes(fer_faces, tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    write_clip((f for f, _ in moving_faces([fer_faces["happy"][1]], 60, np.random.default_rng(2))), path)
    return path.read_bytes()


def test_links_keep_the_name_given_and_the_kind_it_says(tmp_path, face_photo, clip_bytes):
    """clip.mp4 -> blobs/5f3a9c is a video, photo.jpg -> x.mp4 a photo; each link is a row of its own, named as
    given; a dangling link and a FIFO in a folder each get an error row."""
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "5f3a9c").write_bytes(clip_bytes)
    (blobs / "x.mp4").write_bytes(face_photo)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "clip.mp4").symlink_to(blobs / "5f3a9c")
    (folder / "photo.jpg").symlink_to(blobs / "x.mp4")
    (folder / "again.jpg").symlink_to(blobs / "x.mp4")
    (folder / "gone.jpg").symlink_to(tmp_path / "missing.jpg")
    os.mkfifo(folder / "pipe.jpg")
    out = tmp_path / "rows.parquet"
    assert main(["batch", str(folder), "--out", str(out)]) == 2
    df = pd.read_parquet(out)
    by_name = {os.path.basename(f): g for f, g in df.groupby("file")}
    assert set(by_name) == {"clip.mp4", "photo.jpg", "again.jpg", "gone.jpg", "pipe.jpg"}
    assert by_name["clip.mp4"]["kind"].eq("video").all() and by_name["clip.mp4"]["emotion"].notna().sum() > 10
    assert by_name["photo.jpg"]["emotion"].notna().sum() == 1 and by_name["again.jpg"]["emotion"].notna().sum() == 1
    assert "dangling link" in by_name["gone.jpg"]["error"].iloc[0]
    assert "not a regular file" in by_name["pipe.jpg"]["error"].iloc[0]


def test_a_search_through_a_link_loop_ends_and_lists_each_file_once(tmp_path, face_photo):
    root = tmp_path / "a"
    (root / "b").mkdir(parents=True)
    (root / "b" / "face.jpg").write_bytes(face_photo)
    (root / "b" / "loop").symlink_to(root)  # a/b/loop -> a: a loop
    (root / "b" / "up").symlink_to(root / "b")
    started = time.monotonic()
    for inputs in ([str(root)], [str(root) + "/**/*.jpg"]):
        files, missing = find_files(inputs)
        assert [os.path.relpath(f, root) for f in files] == ["b/face.jpg"] and not missing
    assert time.monotonic() - started < 5


def test_an_input_that_names_nothing_fails(tmp_path, face_photo, capsys):
    photo = tmp_path / "a.jpg"
    photo.write_bytes(face_photo)
    assert main(["batch", str(tmp_path / "nothing*.jpg"), "--out", str(tmp_path / "t.parquet")]) == 2
    assert "nothing to analyse" in capsys.readouterr().err and not (tmp_path / "t.parquet").exists()
    assert main(["batch", str(photo), str(tmp_path / "typo.jpg"), "--out", str(tmp_path / "t.parquet")]) == 2
    assert "typo.jpg: no photo or video found there" in capsys.readouterr().err
    assert len(pd.read_parquet(tmp_path / "t.parquet")) == 1  # the photo that exists was still analysed


def test_csv_cells_that_look_like_formulas_are_written_as_text_and_read_back(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / '=HYPERLINK("http%3A%2F%2Fx")a.jpg').write_bytes(b"not a photo")
    out = tmp_path / "rows.csv"
    assert main(["batch", str(folder), "--out", str(out)]) == 2
    error = pd.read_csv(out)["error"].iloc[0]
    assert error.startswith("'=HYPERLINK(")  # a spreadsheet shows it, and runs nothing
    assert main(["batch", str(folder), "--out", str(out)]) == 2  # read back as its own name: skipped, not doubled
    assert len(pd.read_csv(out)) == 1


def test_a_killed_worker_loses_no_file(tmp_path, face_photo):
    """One of two worker processes killed mid-run (as the out-of-memory killer does): every file still gets its row,
    once."""
    psutil = pytest.importorskip("psutil")
    files = []
    for i in range(8):
        files.append(str(tmp_path / f"p{i}.jpg"))
        (tmp_path / f"p{i}.jpg").write_bytes(face_photo)
    rows = emotion.batch.run_jobs(files, emotion.batch.Settings(finder="live", threads=1), 2)
    seen = [next(rows)]
    workers = [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]
    assert len(workers) == 2
    workers[-1].kill()
    seen += list(rows)
    assert sorted(r["file"] for rs in seen for r in rs) == sorted(files)
    assert all(r.get("emotion") and "error" not in r for rs in seen for r in rs)


@pytest.mark.parametrize("fps", ["nan", "inf", "-5", "x"])
def test_frame_rates_that_are_not_numbers_of_frames_are_refused(fps, tmp_path, capsys):
    for command in (["video", "clip.mp4"], ["batch", str(tmp_path), "--out", str(tmp_path / "t.csv")]):
        with pytest.raises(SystemExit) as stop:
            main([*command, "--fps", fps])
        assert stop.value.code == 2 and f"'{fps}' is not a frame rate" in capsys.readouterr().err
    assert not (tmp_path / "t.csv.settings.json").exists()


def test_video_out_naming_a_file_and_a_settings_file_that_is_no_record_are_one_line(tmp_path, clip_bytes, capsys):
    clip = tmp_path / "c.mp4"
    clip.write_bytes(clip_bytes)
    (tmp_path / "taken").write_text("mine")
    assert main(["video", str(clip), "--out", str(tmp_path / "taken")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err and (tmp_path / "taken").read_text() == "mine"
    out = tmp_path / "t.parquet"
    out.with_name("t.parquet.settings.json").write_text("[]")
    assert main(["batch", str(clip), "--out", str(out)]) == 2
    assert "holds no settings record" in capsys.readouterr().err


def test_a_damaged_header_is_not_quoted_in_the_message(tmp_path):
    bad = tmp_path / "x.ppm"
    bad.write_bytes(b"P6\n12 SECRET-TOKEN\n255\n" + b"\0" * 30)
    with pytest.raises(ImageError) as error:
        read_image(bad)
    assert "SECRET" not in str(error.value) and "x.ppm:" in str(error.value)


def test_a_failed_video_leaves_no_results_behind(tmp_path, fast):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 5000)
    with pytest.raises(ClipError):
        analyse_clip(bad, fast, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_damage_mid_clip_is_skipped_and_the_rest_analysed(tmp_path, fer_faces, fast):
    path = tmp_path / "clip.mkv"
    frames = (f for f, _ in moving_faces([fer_faces["happy"][1]], 90, np.random.default_rng(2)))
    with av_container(path) as write:
        for frame in frames:
            write(frame)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 3000] = os.urandom(3000)
    (tmp_path / "damaged.mkv").write_bytes(bytes(data))
    result = analyse_clip(tmp_path / "damaged.mkv", fast, tmp_path / "out", fps=None)
    assert result.summary["analysed_to_s"] > 2.5  # analysed on past the damage, to the end (3 s)
    assert result.error is None or "skipped" in result.error


def av_container(path):
    """A writer of BGR frames into an MJPEG Matroska file: every frame is a key frame, so damage stays local."""
    import contextlib

    import av

    @contextlib.contextmanager
    def opened():
        with av.open(str(path), "w") as container:
            stream = container.add_stream("mjpeg", rate=30)
            stream.width, stream.height, stream.pix_fmt = 640, 480, "yuvj420p"

            def write(frame):
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))

            yield write
            container.mux(stream.encode())

    return opened()


def test_ctrl_c_in_a_video_keeps_and_summarizes_what_was_done(tmp_path, clip_bytes, fast):
    def interrupt(seconds, total):
        if seconds > 1:
            raise KeyboardInterrupt

    result = analyse_clip(clip_bytes, fast, tmp_path / "out", progress=interrupt, name="c.mp4")
    assert result.interrupted and "interrupted at" in result.error
    assert (tmp_path / "out" / "summary.json").exists() and result.summary["frames_analysed"] > 5
