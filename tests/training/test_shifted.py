"""The shifted-val proxy: val faces as varied camera photos, the same for the same seed."""

from __future__ import annotations

import pytest

from emotion.cli import main as emotion_main
from emotion.imageio import read_image
from training.cli import main

pytestmark = pytest.mark.slow  # making shifted-val photos and searching them


def test_shifted_val_is_one_photo_per_val_face_and_reproducible(tiny_dataset, tmp_path, capsys):
    assert main(["shifted-val", "--data", str(tiny_dataset), "--out", str(tmp_path / "a")]) == 0
    assert main(["shifted-val", "--data", str(tiny_dataset), "--out", str(tmp_path / "b")]) == 0
    val = sorted(p.relative_to(tiny_dataset / "val") for p in (tiny_dataset / "val").rglob("*.jpg"))
    made = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.jpg"))
    assert made == val
    for name in made:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        photo = read_image(tmp_path / "a" / name)
        assert min(photo.shape[:2]) >= 360 and photo.shape[2] == 3
    capsys.readouterr()
    assert emotion_main(["evaluate", str(tmp_path / "a"), "--detect", "--finder", "live", "--json"]) == 0
    assert '"no_face"' in capsys.readouterr().out


def test_shifted_val_needs_a_val_folder(tmp_path, capsys):
    assert main(["shifted-val", "--data", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "no val/ folder" in capsys.readouterr().err
