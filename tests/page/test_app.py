"""The Streamlit page under streamlit.testing.v1.AppTest: photo mode, bad uploads, recommendations."""

from __future__ import annotations

import re
import types

import cv2
import numpy as np
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from emotion.imageio import IMAGE_SUFFIXES
from emotion.labels import FER2013_LABELS
from synthetic.scenes import make_scene

pytestmark = pytest.mark.slow  # the whole page, run per test

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


def shown(source: str) -> str:
    """Markdown as the page shows it: the backslash escapes that keep names and titles from files literal, removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", source)


def markdown(at: AppTest) -> str:
    return "\n".join(shown(m.value) for m in at.markdown)


def films(at: AppTest) -> list[tuple[str, str]]:
    """(title line, caption) of each film card on the page."""
    titles = [m.value for m in at.markdown if m.value.startswith("**[")]
    notes = [c.value for c in at.caption if c.value.startswith("⭐") or c.value.startswith("no ratings")]
    assert len(titles) == len(notes)
    return list(zip(titles, notes))


def test_page_starts_with_how_to(app):
    assert app.title[0].value == "🎬 Mood movies"
    assert any("Upload a photo or use the webcam" in i.value for i in app.info)
    assert [t.value for t in app.toggle if t.label == "Mirror view"] == [True]  # the webcam as a selfie preview
    assert "`None`" not in [m.value for m in app.markdown]  # no value left on the page by a stray expression (magic)


def test_photo_with_faces_labels_them_and_recommends(app, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0], fer_faces["happy"][2]], [180, 140], shape=(600, 800), seed=11)
    at = upload(app, "friends.png", png(scene))
    assert "**friends.png** — mood of the 2 faces:" in markdown(at)
    table = at.dataframe[0].value  # one row per face, numbered as on the photo
    assert list(table.index) == [1, 2] and set(FER2013_LABELS) <= set(table.columns)
    assert all(abs(sum(row[k] for k in FER2013_LABELS) - 1) < 1e-4 for _, row in table.iterrows())
    cards = films(at)
    assert len(cards) == 10 and all("fits a" in note.lower() for _, note in cards)  # ten films, each with its reason
    assert "Mood from the photo friends.png" in markdown(at)


def test_a_heic_photo_from_a_phone_is_labelled(app, fer_faces):
    import io

    import pillow_heif  # the tests' HEIC encoder; the product only decodes (pi-heif)
    from PIL import Image

    assert {f".{t.lstrip('.')}" for t in app.file_uploader[0].allowed_type} == IMAGE_SUFFIXES  # all the runtime reads
    scene, _ = make_scene([fer_faces["happy"][0]], [200], shape=(600, 800), seed=11)
    heic = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(cv2.cvtColor(scene, cv2.COLOR_BGR2RGB))).save(heic, quality=90)
    at = upload(app, "phone.heic", heic.getvalue(), mime="image/heic")
    assert "**phone.heic** — mood of 1 face:" in markdown(at) and not at.error


def test_photo_without_face(app):
    at = upload(app, "wall.png", png(make_scene([], [], seed=3)[0]))
    assert any("No face found in wall.png" in shown(w.value) for w in at.warning)
    assert not at.error


def test_a_thumbnail_is_read_as_one_face_crop_and_says_so_when_no_face_was_found(app):
    import numpy as np

    at = upload(app, "icon.png", png(np.full((48, 48, 3), 128, np.uint8)))  # a plain 48 px square: nothing to find
    assert any("No face found in icon.png; being a thumbnail, it was read whole" in shown(c.value) for c in at.caption)
    assert "**icon.png** — mood of 1 face:" in markdown(at) and not at.warning and not at.error


def test_corrupt_upload_is_one_message_and_page_keeps_working(app, fer_faces):
    at = upload(app, "broken.jpg", b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    assert len(at.error) == 1 and "broken.jpg" in shown(at.error[0].value)
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    at = upload(at, "ok.png", png(scene))
    assert not at.error and "mood of 1 face" in markdown(at)


def test_photos_with_the_same_name_are_told_apart_and_keep_the_chosen_films(app, fer_faces):
    """iPhones upload every photo as image.jpg; the same photo may also be added twice."""
    happy, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    sad, _ = make_scene([fer_faces["sad"][0]], [180], seed=5)
    photos = [(name, cv2.imencode(".jpg", p)[1].tobytes(), "image/jpeg")
              for name, p in (("image.jpg", sad), ("image.jpg", sad), ("other.jpg", happy))]
    at = app.file_uploader[0].set_value(photos).run().run()  # and a rerun, as any click makes
    assert not at.exception
    assert [shown(m.value).split(" — ")[0] for m in at.markdown if " — mood of" in m.value] == [
        "**image.jpg (1)**", "**image.jpg (2)**", "**other.jpg**"]
    chosen = [b for b in at.button if b.label == "🎬 Films for this photo"]
    assert len(chosen) == 3
    chosen[0].click().run()
    at.radio(key="mode").set_value("lift").run()  # another click: the films stay those of the photo chosen
    assert "Mood from the photo image.jpg (1)" in markdown(at)


def test_recommendations_follow_mode_and_more(app, fer_faces):
    scene, _ = make_scene([fer_faces["sad"][0]], [200], seed=5)
    at = upload(app, "me.png", png(scene))
    at.radio(key="mode").set_value("lift").run()
    first = films(at)
    assert len(first) == 10 and all("to lift" in note.lower() or "to keep" in note.lower() for _, note in first)
    at.button(key="more").click().run()
    second = films(at)
    assert len(second) == 10 and not {t for t, _ in first} & {t for t, _ in second}
    at.button(key="first").click().run()
    assert films(at) == first  # back to the first films
    at.button(key="more").click().run()
    at.radio(key="mode").set_value("match").run()
    assert films(at) == films(at.button(key="more").click().run().button(key="first").click().run())  # page 1 again


def test_viewers_choose_offered_files_and_a_broken_model_is_one_message(monkeypatch, tmp_path, fer_faces):
    """No field takes a server path: models and catalogs come from models/, data/ and the operator's folders;
    a broken model offered there is one message, and choosing another recovers with the upload and films kept."""
    (tmp_path / "broken.keras").write_bytes(b"not a model")
    monkeypatch.setenv("MOOD_MODELS", str(tmp_path))
    stopped = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: stopped)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.sidebar.text_input  # nothing to type a path into
    model = next(box for box in at.sidebar.selectbox if box.label == "Model")
    assert model.value == "emotion.keras" and str(tmp_path / "broken.keras") in model.options
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    at = upload(at, "me.png", png(scene))
    before = films(at)
    next(box for box in at.sidebar.selectbox if box.label == "Model").set_value(str(tmp_path / "broken.keras")).run()
    assert len(at.error) == 1 and "Cannot load the model" in at.error[0].value and "broken.keras" in shown(at.error[0].value)
    assert films(at) == before and not at.exception  # the films stay
    next(box for box in at.sidebar.selectbox if box.label == "Model").set_value("emotion.keras").run()
    assert not at.error and not at.exception and at.title[0].value == "🎬 Mood movies"
    assert "mood of 1 face" in markdown(at) and films(at) == before  # the upload was kept


def test_live_recommend_takes_the_mood_of_the_moment_it_is_pressed(monkeypatch, fer_faces):
    """Pressed before the camera has seen a face: a message, no films; pressed once a face was seen: films for
    the live mood (the button sits outside the readout that redraws every second, so a click is not lost)."""
    playing = types.SimpleNamespace(state=types.SimpleNamespace(playing=True))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: playing)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    at.button(key="live_recommend").click().run()
    assert any("No face seen yet" in w.value for w in at.warning) and not films(at) and not at.exception
    scene, _ = make_scene([fer_faces["happy"][0]], [200], shape=(480, 640), seed=5)
    for i in range(5):  # the camera's frames, as the viewer's worker thread hands them over
        at.session_state["live_viewer"].processor.process(scene, now=i / 10)
    at.button(key="live_recommend").click().run()
    assert not at.warning and "Mood from the live webcam" in markdown(at) and films(at) and not at.exception


def test_after_stop_the_last_live_mood_still_gets_films(monkeypatch, fer_faces):
    """A viewer who turns the camera off keeps the last live mood, named as such (no frame rate: nothing is analysed),
    and can still ask for films, even when turned away before STOP; before any face was seen there is nothing to ask
    about."""
    camera = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: camera)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not [b for b in at.button if b.key == "live_recommend"]
    camera.state.playing = True
    at.run()
    scene, _ = make_scene([fer_faces["happy"][0]], [200], shape=(480, 640), seed=5)
    for i in range(5):
        at.session_state["live_viewer"].processor.process(scene, now=i / 10)
    at.session_state["live_viewer"].turned_away.set()  # then other viewers filled the limit: told busy, no films
    at.run()
    assert any("The server is analysing" in w.value for w in at.warning)
    assert not [b for b in at.button if b.key == "live_recommend"]
    camera.state.playing = False  # STOP
    at.run()
    assert "Last live mood:" in markdown(at) and not any("frames/s" in c.value for c in at.caption)
    at.button(key="live_recommend").click().run()
    assert "Mood from the live webcam" in markdown(at) and films(at) and not at.exception


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
    assert len(calls) == 1 and "mood of 1 face" in markdown(at)
    at.radio(key="mode").set_value("lift").run()
    at.button(key="more").click().run()
    assert len(calls) == 1 and "mood of 1 face" in markdown(at) and not at.exception


def test_expecting_every_emotion_equally_raises_the_rare_ones(app, fer_faces):
    scene, _ = make_scene([fer_faces["disgust"][0]], [180], seed=8)
    at = upload(app, "face.png", png(scene))
    before = at.dataframe[0].value.loc[1]
    next(r for r in at.sidebar.radio if r.label == "Emotions to expect").set_value("balanced").run()
    after = at.dataframe[0].value.loc[1]
    assert not at.exception and after["disgust"] > before["disgust"] and after["happy"] < before["happy"]


HOSTILE = ["![](http://tracker.invalid/pixel.png)", "[click](http://tracker.invalid)", "**bold** :red[red] $x^2$",
           "<img src=x onerror=alert(1)>"]


def rendered(source: str) -> str:
    """Markdown source rendered by a CommonMark renderer (as Streamlit's is): HTML."""
    from markdown_it import MarkdownIt

    return MarkdownIt().renderInline(source)


def test_text_from_files_is_shown_as_text_never_as_markup(monkeypatch, tmp_path, fer_faces):
    """Catalog titles and genres and upload names render as the text they are: no image fetched, no link, no
    colour, no formula, and a `]` in a genre stays inside its badge."""
    rows = [f'"{title} {i}",Comedy|Gen]re :blue[x]\n' for i, title in enumerate(HOSTILE * 3)]
    (tmp_path / "hostile.csv").write_text("title,genres\n" + "".join(rows))
    monkeypatch.setenv("MOOD_CATALOGS", str(tmp_path))
    stopped = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: stopped)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    next(box for box in at.sidebar.selectbox if box.label == "Movie catalog").set_value(str(tmp_path / "hostile.csv")).run()
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    at = upload(at, "[me](http://tracker.invalid) ![](http://t.invalid/x).png", png(scene))
    cards = [m.value for m in at.markdown if "Comedy" in m.value or "Gen" in m.value]
    assert len(cards) >= 3
    for source in [m.value for m in at.markdown] + [c.value for c in at.caption]:
        html = rendered(source).replace('<a href="#films">', "")  # the page's own link to its films
        assert "<img" not in html and "<a " not in html and "tracker.invalid" not in html.split('"')[1::2], source
    card = cards[0]
    assert card.count("-badge[") == 2 and r"Gen\]re \:blue\[x\]" in card  # the `]` escaped inside its badge
    assert "[me](http://tracker.invalid) ![](http://t.invalid/x).png" in markdown(at)  # shown as typed


def test_a_photo_over_the_size_limit_is_refused_by_the_server_too(app, fer_faces):
    scene, _ = make_scene([fer_faces["happy"][0]], [180], seed=2)
    big = png(scene) + b"\0" * (21 * 2**20)  # the browser checks the limit; a direct request need not
    at = upload(app, "big.png", big)
    assert len(at.error) == 1 and "over the 20 MB limit for photos" in at.error[0].value and not at.exception
    assert not at.dataframe


def test_a_photo_of_extreme_shape_keeps_the_page_working(app):
    at = upload(app, "strip.png", png(np.full((1, 5000, 3), 200, np.uint8)))
    assert not at.error and any("No face found in" in w.value for w in at.warning)
    assert at.title[0].value == "🎬 Mood movies" and len(at.tabs) == 3


def test_removing_the_photo_the_films_came_from_says_so_and_the_table_leads_with_each_faces_emotion(app, fer_faces):
    scene, _ = make_scene([fer_faces["sad"][0], fer_faces["happy"][1]], [180, 160], shape=(600, 800), seed=11)
    at = upload(app, "two.png", png(scene))
    table = at.dataframe[0].value
    assert all(row["emotion"].endswith(f"{max(row[k] for k in FER2013_LABELS):.0%}") for _, row in table.iterrows())
    means = table[list(FER2013_LABELS)].mean()
    labels = [c for c in table.columns if c in FER2013_LABELS]
    assert labels == sorted(FER2013_LABELS, key=lambda k: -means[k])  # the likeliest emotions first
    assert "Mood from the photo two.png:" in markdown(at)
    at.file_uploader[0].set_value([]).run()
    assert "Mood from the photo two.png (removed):" in markdown(at) and films(at) and not at.exception


def test_a_bad_video_is_one_message_without_a_progress_bar_and_is_not_decoded_again(app, monkeypatch):
    import emotion.clip

    opened = []
    real = emotion.clip.Clip.__init__
    monkeypatch.setattr(emotion.clip.Clip, "__init__", lambda self, *a, **kw: opened.append(1) or real(self, *a, **kw))
    at = app
    at.file_uploader(key="video").set_value([("not_a_video.mp4", b"plain text, not a video", "video/mp4")]).run()
    assert not at.exception and len(at.error) == 1 and "not_a_video.mp4" in shown(at.error[0].value)
    assert not [p for p in at.get("progress")]  # no "Analysing ..." bar left above the message
    at.radio(key="mode").set_value("lift").run()  # a rerun
    assert len(at.error) == 1 and len(opened) == 1


def test_the_example_photo_gets_its_face_labelled_and_films_without_an_upload(app):
    at = app
    at.toggle(key="example").set_value(True).run()
    assert not at.exception and "astronaut.jpg" in markdown(at) and "mood of 1 face" in markdown(at)
    assert films(at) and "Mood from the photo astronaut.jpg" in markdown(at)
    at.toggle(key="example").set_value(False).run()  # taken away again, like a removed upload
    assert "mood of 1 face" not in markdown(at) and "(removed)" in markdown(at)


def test_a_shared_link_opens_the_page_with_its_film_settings(monkeypatch, fer_faces):
    """The films' settings are in the page's address: a link carrying them opens with them set."""
    stopped = types.SimpleNamespace(state=types.SimpleNamespace(playing=False))
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda **kw: stopped)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"mode": "Lift my mood", "ratings": "50", "exclude": ["Comedy"]})
    at.run()
    assert not at.exception
    assert at.radio(key="mode").value == "lift" and at.slider(key="ratings").value == 50
    assert "⚙️ Lift my mood · at least 50 ratings · without Comedy" in [e.label for e in at.expander]  # closed, it says so
    scene, _ = make_scene([fer_faces["sad"][0]], [180], seed=5)
    at = upload(at, "sad.png", png(scene))
    assert films(at) and all("Comedy" not in title for title, _ in films(at))
    assert all("to lift" in note.lower() or "to keep" in note.lower() for _, note in films(at))
