"""The Streamlit page under streamlit.testing.v1.AppTest: photo mode, bad uploads, recommendations."""

from __future__ import annotations

import types

import cv2
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from training.scenes import make_scene
from conftest import ROOT

TIMEOUT = 120


@pytest.fixture
def app(monkeypatch):
    # AppTest has no WebRTC session manager: stand in a stopped streamer (the browser test covers live mode).
    stopped = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: stopped)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def png(image) -> bytes:
    return cv2.imencode(".png", image)[1].tobytes()


def upload(at: AppTest, name: str, data: bytes, mime: str = "image/png") -> AppTest:
    at.file_uploader[0].set_value([(name, data, mime)]).run()
    assert not at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_page_starts_with_how_to(app):
    assert app.title[0].value == "🎬 Mood movies"
    assert any("Upload a photo or use the webcam" in i.value for i in app.info)


def test_photo_with_faces_labels_them_and_recommends(app, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0], fer_faces["happy"][2]], [180, 140], shape=(600, 800), seed=11)
    at = upload(app, "friends.png", png(scene))
    text = markdown(at)
    assert "Face 1:" in text and "Face 2:" in text and "Group mood of 2 faces" in text
    assert len(at.get("arrow_vega_lite_chart")) >= 2 or len(at.get("vega_lite_chart")) >= 2
    assert text.count("fits a") == 10  # ten films, each with its reason (match mode)


def test_photo_without_face(app):
    at = upload(app, "wall.png", png(make_scene([], [], seed=3)[0]))
    assert any("No face found in wall.png" in w.value for w in at.warning)
    assert not at.error


def test_corrupt_upload_is_one_message_and_page_keeps_working(app, fer_faces):
    at = upload(app, "broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    assert len(at.error) == 1 and "broken.jpg" in at.error[0].value
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    at = upload(at, "ok.png", png(scene))
    assert not at.error and "Face 1:" in markdown(at)


def test_recommendations_follow_mode_and_more(app, fer_faces):
    scene, _ = make_scene([fer_faces["sad"][0]], [200], seed=5)
    at = upload(app, "me.png", png(scene))
    at.sidebar.radio[0].set_value("lift").run()
    first = [m.value for m in at.markdown if m.value.startswith("**") and "—" in m.value]
    assert len(first) == 10 and all("lift" in m or "keep a" in m for m in first)
    at.button(key="more").click().run()
    second = [m.value for m in at.markdown if m.value.startswith("**") and "—" in m.value]
    assert len(second) == 10 and not set(first) & set(second)


def test_viewers_choose_offered_files_and_a_broken_model_is_one_message(monkeypatch, tmp_path):
    """No field takes a server path: models and catalogs come from models/, data/ and the operator's folders;
    a broken model offered there is one message, and choosing another recovers."""
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    monkeypatch.setenv("MOOD_MODELS", str(tmp_path))
    stopped = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: stopped)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.sidebar.text_input  # nothing to type a path into
    model = next(box for box in at.sidebar.selectbox if box.label == "Model")
    assert model.value == "emotion.keras" and str(tmp_path / "broken.keras") in model.options
    model.set_value(str(tmp_path / "broken.keras")).run()
    assert len(at.error) == 1 and "Cannot load the model" in at.error[0].value and "broken.keras" in at.error[0].value
    next(box for box in at.sidebar.selectbox if box.label == "Model").set_value("emotion.keras").run()
    assert not at.error and not at.exception and at.title[0].value == "🎬 Mood movies"


def test_photo_tta_defaults_to_the_models_own_setting(app):
    from emotion.detector import DEFAULT_MODEL
    from emotion.modelfile import read_meta

    toggle = app.sidebar.toggle[0]
    assert toggle.value == read_meta(DEFAULT_MODEL).get("tta_default", False)


def test_a_widget_change_after_an_upload_does_not_analyse_the_photo_again(app, fer_faces, monkeypatch):
    from emotion.detector import EmotionDetector

    calls = []
    real = EmotionDetector.detect
    monkeypatch.setattr(EmotionDetector, "detect", lambda self, *a, **kw: calls.append(1) or real(self, *a, **kw))
    scene, _ = make_scene([fer_faces["happy"][1]], [180], seed=21)
    at = upload(app, "again.png", png(scene))
    assert len(calls) == 1 and "Face 1:" in markdown(at)
    at.sidebar.radio[0].set_value("lift").run()
    at.button(key="more").click().run()
    assert len(calls) == 1 and "Face 1:" in markdown(at) and not at.exception
