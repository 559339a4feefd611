"""`emotion batch`: a folder of good and bad photos and videos into one table, in one process, in worker
processes and on a local Ray; every file gets a row, the three ways agree, and a rerun resumes."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

import emotion.batch
from emotion.cli import main
from synthetic.scenes import make_scene, moving_faces, write_clip

pytestmark = pytest.mark.slow  # worker processes and Ray

LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
BAD = {"empty.jpg", "notes.png", "cut.jpg", "cut.mp4"}


@pytest.fixture(scope="module")
def archive(tmp_path_factory, fer_faces):
    root = tmp_path_factory.mktemp("archive")
    (root / "trip").mkdir()
    for i, (a, b) in enumerate([("happy", "surprise"), ("sad", "neutral"), ("happy", "angry")]):
        scene, _ = make_scene([fer_faces[a][i], fer_faces[b][i]], [130, 110], seed=i)
        cv2.imwrite(str(root / ("trip" if i else ".") / f"photo{i}.jpg"), scene)
    cv2.imwrite(str(root / "wall.png"), np.full((240, 320, 3), 120, np.uint8))  # no face
    cv2.imwrite(str(root / "icon.png"), np.full((48, 48, 3), 120, np.uint8))  # a thumbnail: read whole, as a guess
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.png").write_text("not an image")
    (root / "cut.jpg").write_bytes((root / "photo0.jpg").read_bytes()[:3000])
    clip = root / "trip" / "clip.mp4"
    write_clip((f for f, _ in moving_faces([fer_faces["happy"][3]], 90, np.random.default_rng(1))), clip)
    data = clip.read_bytes()
    (root / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    (root / "readme.txt").write_text("not a photo or video: not searched")
    return root


def run(archive, out, *options) -> tuple[int, pd.DataFrame]:
    code = main(["batch", str(archive), "--out", str(out), "--json", *options])
    return code, pd.read_parquet(out) if out.suffix == ".parquet" else pd.read_csv(out)


@pytest.fixture(scope="module")
def single(archive, tmp_path_factory):
    return run(archive, tmp_path_factory.mktemp("single") / "faces.parquet")


def test_every_file_gets_rows_and_bad_ones_an_error(single, archive):
    code, df = single
    assert code == 2  # some files failed
    files = df.groupby(df["file"].str.rsplit("/", n=1).str[-1])
    assert set(files.groups) == {"photo0.jpg", "photo1.jpg", "photo2.jpg", "wall.png", "icon.png", "clip.mp4"} | BAD
    failed = {f for f, g in files if g["error"].notna().any()}
    assert failed == BAD
    assert files.get_group("empty.jpg")["error"].iloc[0].startswith("empty.jpg: ")
    photos = [files.get_group(p) for p in ("photo0.jpg", "photo1.jpg", "photo2.jpg")]
    assert sum(map(len, photos)) >= 5  # of the 6 faces pasted
    for rows in photos:  # numbered in reading order, as on the page
        assert list(rows["face_id"]) == list(range(1, len(rows) + 1)) and rows["kind"].eq("photo").all()
        assert np.allclose(rows[LABELS].sum(axis=1), 1, atol=1e-4) and rows["confidence"].ge(0.9).all()
    icon = files.get_group("icon.png")
    assert len(icon) == 1 and icon["emotion"].notna().all() and icon["confidence"].eq(0).all()
    wall = files.get_group("wall.png")
    assert len(wall) == 1 and wall["error"].isna().all() and wall["emotion"].isna().all()
    video = files.get_group("clip.mp4")
    assert set(video["face_id"]) == {1} and len(video) >= 25 and video["time_s"].is_monotonic_increasing
    cut = files.get_group("cut.mp4")  # broke off midway: its faces up to there, and a row with the error
    assert cut["emotion"].notna().sum() > 0 and "truncated" in cut["error"].dropna().iloc[0]


def same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    numbers = [*LABELS, "confidence"]
    assert a.drop(columns=numbers).astype(str).equals(b.drop(columns=numbers).astype(str))
    assert np.allclose(a[LABELS].to_numpy(float), b[LABELS].to_numpy(float), atol=1e-5, equal_nan=True)
    assert np.allclose(a["confidence"], b["confidence"], atol=1e-3, equal_nan=True)


def test_worker_processes_give_the_same_table(single, archive, tmp_path):
    code, df = run(archive, tmp_path / "faces.parquet", "--jobs", "2")
    assert code == 2
    same(single[1], df)


def test_local_ray_gives_the_same_table(single, archive, tmp_path):
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        code, df = run(archive, tmp_path / "faces.parquet", "--ray")
    finally:
        ray.shutdown()
    assert code == 2
    same(single[1], df)


def test_a_rerun_skips_what_is_done_and_an_interrupted_run_resumes(single, archive, tmp_path, monkeypatch, capsys):
    out = tmp_path / "faces.csv"
    analysed = []
    real = emotion.batch.FileAnalyser.rows

    def counting(self, path, data=None):
        analysed.append(path)
        if len(analysed) == 4 and not stop.get("done"):
            stop["done"] = True
            raise KeyboardInterrupt  # Ctrl-C while the 4th file is in flight
        return real(self, path, data)

    stop: dict = {}
    monkeypatch.setattr(emotion.batch.FileAnalyser, "rows", counting)
    assert main(["batch", str(archive), "--out", str(out)]) == 130
    assert "rerun the same command" in capsys.readouterr().err
    assert not out.exists() and len(list(out.with_name(out.name + ".parts").glob("*.parquet"))) == 1
    analysed.clear()
    code, df = run(archive, out)
    assert code == 2 and len(analysed) == single[1]["file"].nunique() - 3  # the 3 finished files are skipped
    assert not out.with_name(out.name + ".parts").exists()
    assert set(df["file"]) == set(single[1]["file"])
    analysed.clear()
    code, again = run(archive, out)
    assert analysed == [] and len(again) == len(df)


def test_a_rerun_with_other_settings_is_refused_and_the_table_kept(archive, tmp_path, capsys):
    out = tmp_path / "faces.parquet"
    photo = str(archive / "trip" / "photo1.jpg")
    assert main(["batch", photo, "--out", str(out)]) == 0
    before, _ = pd.read_parquet(out), capsys.readouterr()
    assert main(["batch", photo, str(archive / "photo0.jpg"), "--out", str(out), "--prior", "balanced"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "made with other settings (prior:" in err and "another --out" in err
    pd.testing.assert_frame_equal(pd.read_parquet(out), before)  # nothing added under the other prior
    assert main(["batch", photo, "--out", str(out), "--prior", "default"]) == 0  # the same settings, named
    assert "1 of 1 files are already in" in capsys.readouterr().err
    recorded = out.with_name(out.name + ".settings.json")
    recorded.write_text(recorded.read_text().replace(f'"{emotion.__version__}"', '"0.5.0"'))  # an older runtime's
    assert main(["batch", photo, str(archive / "photo0.jpg"), "--out", str(out)]) == 2
    assert f"(runtime: 0.5.0 there, {emotion.__version__} now)" in capsys.readouterr().err
