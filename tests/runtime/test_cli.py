"""`python -m emotion predict / evaluate` as a user runs them (in-process for speed)."""

from __future__ import annotations

import json
import shutil

import cv2
import pytest

from emotion.cli import main
from emotion.detector import DEFAULT_MODEL
from emotion.modelfile import read_meta
from synthetic.scenes import make_scene


@pytest.fixture(scope="module")
def scene_file(tmp_path_factory, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0], fer_faces["happy"][2]], [150, 120], seed=11)
    path = tmp_path_factory.mktemp("scenes") / "two faces.jpg"
    cv2.imwrite(str(path), scene)
    return path


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_predict_json_one_entry_per_input_in_order(capsys, tmp_path, scene_file):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    code, out, _ = run(capsys, "predict", scene_file, bad, scene_file, "--json")
    result = json.loads(out)
    assert code == 2  # one input failed
    assert [r["image"] for r in result] == [str(scene_file), str(bad), str(scene_file)]
    assert "broken.jpg" in result[1]["error"] and "faces" not in result[1]
    faces = result[0]["faces"]
    assert len(faces) == 2
    for f in faces:
        assert len(f["box"]) == 4 and f["emotion"] in f["scores"] and len(f["scores"]) == 7


def test_predict_text_output_and_annotation(capsys, tmp_path, scene_file):
    code, out, _ = run(capsys, "predict", scene_file, "--annotate", tmp_path / "ann", "--finder", "photo")
    assert code == 0
    assert "2 faces" in out
    annotated = cv2.imread(str(tmp_path / "ann" / "two faces.png"))
    original = cv2.imread(str(scene_file))
    assert annotated.shape == original.shape and (annotated != original).any()


def test_predict_annotates_photos_of_the_same_name_each_in_its_own_copy(capsys, tmp_path, scene_file, fer_faces):
    other = tmp_path / "other" / scene_file.name  # e.g. two folders of phone photos, both with IMG_0001.jpg
    other.parent.mkdir()
    cv2.imwrite(str(other), make_scene([fer_faces["sad"][0]], [160], shape=(360, 360), seed=4)[0])
    code, _, _ = run(capsys, "predict", scene_file, other, "--annotate", tmp_path / "ann", "--finder", "live")
    assert code == 0
    copies = [cv2.imread(str(tmp_path / "ann" / name)) for name in ("two faces.png", "two faces-2.png")]
    assert [c.shape for c in copies] == [cv2.imread(str(p)).shape for p in (scene_file, other)]


def test_annotated_copies_never_share_a_name_even_ignoring_case():
    from emotion.cli import annotated_names

    names = annotated_names(["x/a.jpg", "y/a.jpg", "z/a-2.jpg", "A.png", "b.jpg"])
    assert names[0] == "a.png" and names[-1] == "b.png"
    assert len({n.lower() for n in names}) == len(names)


def test_predict_given_a_video_or_a_folder_names_the_command_for_it(capsys, tmp_path, monkeypatch):
    from emotion.detector import EmotionDetector

    monkeypatch.setattr(EmotionDetector, "load", lambda *a, **k: pytest.fail("no image to label: no model to load"))
    clip = tmp_path / "party.mp4"
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    code, _, err = run(capsys, "predict", clip, tmp_path)
    assert code == 2 and err.count("\n") == 2
    assert "party.mp4: is a video; analyse it with `emotion video" in err
    assert "is a folder, not an image file" in err and "`emotion batch`" in err


def test_predict_missing_file_one_line_exit_2_without_loading_the_model(capsys, tmp_path, monkeypatch):
    from emotion.detector import EmotionDetector

    loads = []
    monkeypatch.setattr(EmotionDetector, "load", lambda *a, **k: loads.append(a))
    code, out, err = run(capsys, "predict", tmp_path / "nope.png")
    assert code == 2 and loads == []  # told at once, not after TensorFlow and the model have loaded
    assert err.strip().count("\n") == 0 and "nope.png: no such file" in err


def test_bad_model_path_is_one_line(capsys, scene_file, tmp_path):
    code, _, err = run(capsys, "predict", scene_file, "--model", tmp_path / "missing.keras")
    assert code == 2 and err.startswith("error: cannot load model") and err.count("\n") == 1


@pytest.fixture(scope="module")
def alias_dataset(tmp_path_factory, tiny_dataset):
    """val faces under alias folder names, plus a class the model does not know."""
    root = tmp_path_factory.mktemp("aliases")
    for src, dst in (("happy", "happiness"), ("sad", "sadness"), ("surprise", "surprised"), ("angry", "contempt")):
        shutil.copytree(tiny_dataset / "val" / src, root / dst)
    return root


def test_evaluate_json_on_folder_with_aliases(capsys, alias_dataset):
    code, out, err = run(capsys, "evaluate", alias_dataset, "--json")
    result = json.loads(out)
    assert code == 0
    assert "skipped folder 'contempt'" in err
    assert result["n"] == 12 and result["no_face"] == 0
    assert {"accuracy", "n", "labels", "per_class", "confusion", "no_face"} <= set(result)
    assert sum(map(sum, result["confusion"])) == 12
    assert [result["per_class"][c]["support"] for c in ("happy", "sad", "surprise")] == [4, 4, 4]
    default = read_meta(DEFAULT_MODEL)["default_prior"]
    assert result["prior"] == pytest.approx({k: v / sum(default.values()) for k, v in default.items()})  # as scored
    # macro recall: the mean over the 3 emotions the data has, not the model's 7
    assert result["macro_recall"] == pytest.approx(
        sum(result["per_class"][c]["recall"] for c in ("happy", "sad", "surprise")) / 3, abs=1e-4)


def test_evaluate_detect_counts_images_without_faces(capsys, tmp_path, fer_faces):
    for i, face in enumerate(fer_faces["happy"][:2]):
        scene, _ = make_scene([face], [160], seed=i)
        (tmp_path / "happy").mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / "happy" / f"{i}.png"), scene)
    cv2.imwrite(str(tmp_path / "happy" / "wall.png"), make_scene([], [], seed=9)[0])
    code, out, _ = run(capsys, "evaluate", tmp_path, "--detect", "--json")
    result = json.loads(out)
    assert code == 0 and result["n"] == 3 and result["no_face"] == 1
    assert result["no_face_files"][0].endswith("wall.png")


def test_evaluate_text_report(capsys, alias_dataset):
    code, out, _ = run(capsys, "evaluate", alias_dataset)
    assert code == 0 and "accuracy" in out and "confusion matrix" in out and "surprise" in out


def test_evaluate_missing_or_empty_folder_one_line_exit_2_without_loading_the_model(capsys, tmp_path, monkeypatch):
    from emotion.detector import EmotionDetector

    loads = []
    monkeypatch.setattr(EmotionDetector, "load", lambda *a, **k: loads.append(a))
    code, _, err = run(capsys, "evaluate", tmp_path / "nowhere")
    assert code == 2 and "no such folder" in err and err.count("\n") == 1
    (tmp_path / "holiday").mkdir()
    code, _, err = run(capsys, "evaluate", tmp_path)
    assert code == 2 and "no class sub-folders" in err and err.count("\n") == 1
    assert loads == []  # told at once, not after TensorFlow and the model have loaded
