"""The real page in a real browser: Debian's Chromium driven by Playwright, fake webcam fed with
a video of real FER2013 faces. Skipped where /usr/bin/chromium is absent (.ci/run installs it).
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import ROOT
from synthetic.scenes import background, paste_face

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.slow,  # a server and a browser per test
              pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium (apt-get install chromium)")]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


def face_video(path, face: np.ndarray, frames: int = 60) -> None:
    """An MJPEG clip (640x480, 20 fps) of one real face drifting across a room-like background."""
    rng = np.random.default_rng(0)
    bg = background(480, 640, rng)
    with open(path, "wb") as fh:
        for i in range(frames):
            frame = bg.copy()
            paste_face(frame, face, (200 + int(40 * np.sin(i / 10)), 100 + int(20 * np.cos(i / 10)), 240, 240))
            fh.write(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())


@pytest.fixture(scope="module")
def broken_models(tmp_path_factory):
    """A folder the operator offers (MOOD_MODELS) with a broken model file in it."""
    folder = tmp_path_factory.mktemp("operator_models")
    (folder / "broken.keras").write_bytes(b"not a model")
    return folder


@pytest.fixture(scope="module")
def server(broken_models):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address", "127.0.0.1"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "MOOD_MODELS": str(broken_models)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                    break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def browser(playwright, extra_args: list[str]):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + extra_args)


def choose_file(page, path, nth: int = 0) -> None:
    """Give the page's `nth` uploader a file, as a user would: again if the uploader does not list it. A file given
    in the moment after the page loads (before its first rerun) is sometimes taken by the uploader as a choice of no
    file (the browser asks where to upload nothing, and the uploader stays empty): 6 times in 290 fresh pages here,
    never twice in a row."""
    from playwright.sync_api import expect

    for _ in range(2):
        page.locator("input[type=file]").nth(nth).set_input_files(str(path), timeout=90_000)
        try:
            expect(page.get_by_test_id("stFileUploader").nth(nth).get_by_text(path.name)).to_be_visible(timeout=15_000)
            return
        except AssertionError:
            continue
    raise AssertionError(f"the uploader did not take {path.name}")


def test_live_webcam_labels_face_and_recommends(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    clip = tmp_path / "face.mjpeg"
    face_video(clip, fer_faces["happy"][0])
    with sync_playwright() as p:
        b = browser(p, [f"--use-file-for-fake-video-capture={clip}"])
        context = b.new_context(permissions=["camera"], viewport={"width": 1280, "height": 800})
        page = context.new_page()
        page.goto(server)
        page.get_by_role("tab", name="🎥 Live webcam").click(timeout=90_000)
        webrtc = page.frame_locator("iframe[title*='webrtc']").first
        webrtc.get_by_role("button", name="START").click(timeout=60_000)
        expect(page.get_by_text("Live mood:")).to_be_visible(timeout=90_000)
        # The readout says which model runs live, as measured on this CPU.
        expect(page.get_by_text(re.compile(r"ms added delay · the (photo|live) model \(\d+\.\d\d ms a face"))).to_be_visible(
            timeout=30_000)
        page.get_by_role("button", name="🎬 Recommend for this mood").click()
        expect(page.get_by_text("Fits a").first).to_be_visible(timeout=60_000)
        shot = tmp_path / "live.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        b.close()


def test_photo_upload_in_browser(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    scene = background(600, 800, np.random.default_rng(2))
    paste_face(scene, fer_faces["happy"][0], (120, 120, 220, 220))
    paste_face(scene, fer_faces["surprise"][0], (480, 200, 180, 180))
    photo = tmp_path / "two friends.png"
    cv2.imwrite(str(photo), scene)
    with sync_playwright() as p:
        b = browser(p, [])
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server)
        choose_file(page, photo)
        expect(page.get_by_text("mood of the 2 faces")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("Fits a").first).to_be_visible(timeout=60_000)
        expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible(timeout=30_000)  # the faces' table
        shot = tmp_path / "photo.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
        saved = {}
        for label in ("Annotated photo", "Faces (CSV)", "Faces (JSON)"):  # what a user keeps of the photo
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name=label).click()
            saved[label] = Path(download.value.path()).read_bytes()
            assert download.value.suggested_filename.startswith("two friends-faces.")
        b.close()
    import pandas as pd

    from emotion.batch import table

    drawn = cv2.imdecode(np.frombuffer(saved["Annotated photo"], np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape[:2] == scene.shape[:2] and (drawn != scene).any()  # the photo with its boxes drawn
    rows = pd.read_csv(io.BytesIO(saved["Faces (CSV)"]))
    assert list(rows.columns) == list(table([], tuple(fer_faces)).columns)  # the columns of `emotion batch`
    assert rows["file"].tolist() == ["two friends.png"] * 2 and rows["face_id"].tolist() == [1, 2]
    assert [r["emotion"] for r in json.loads(saved["Faces (JSON)"])] == rows["emotion"].tolist()


def photo_file(tmp_path, fer_faces, name="me.png"):
    scene = background(480, 640, np.random.default_rng(4))
    paste_face(scene, fer_faces["sad"][0], (200, 120, 220, 220))
    cv2.imwrite(str(tmp_path / name), scene)
    return tmp_path / name


def test_live_recommend_wins_over_an_uploaded_photo(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    clip = tmp_path / "face.mjpeg"
    face_video(clip, fer_faces["happy"][0])
    with sync_playwright() as p:
        b = browser(p, [f"--use-file-for-fake-video-capture={clip}"])
        page = b.new_context(permissions=["camera"], viewport={"width": 1280, "height": 800}).new_page()
        page.goto(server)
        choose_file(page, photo_file(tmp_path, fer_faces))
        expect(page.get_by_text("Mood from the photo me.png")).to_be_visible(timeout=90_000)
        page.get_by_role("tab", name="🎥 Live webcam").click()
        page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").click(timeout=60_000)
        expect(page.get_by_text("Live mood:")).to_be_visible(timeout=90_000)
        page.get_by_role("button", name="🎬 Recommend for this mood").click()
        expect(page.get_by_text("Mood from the live webcam")).to_be_visible(timeout=30_000)
        page.wait_for_timeout(3000)  # later reruns (the live readout's) must not take the photo's mood back
        expect(page.get_by_text("Mood from the live webcam")).to_be_visible()
        b.close()


def with_photo(playwright, server, tmp_path, fer_faces):
    """A browser and a page whose films follow an uploaded photo of one face."""
    from playwright.sync_api import expect

    b = browser(playwright, [])
    page = b.new_page(viewport={"width": 1280, "height": 800})
    page.goto(server)
    choose_file(page, photo_file(tmp_path, fer_faces))
    expect(page.get_by_text("Mood from the photo me.png")).to_be_visible(timeout=90_000)
    return b, page


def test_films_page_to_the_end_and_back(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        b, page = with_photo(p, server, tmp_path, fer_faces)
        page.get_by_text(re.compile("^⚙️ Match my mood")).click()  # the films' settings, above them
        page.get_by_role("slider", name="Minimum ratings").first.focus()  # 200 ratings or more: a short list
        page.keyboard.press("End")
        expect(page.get_by_text(re.compile("^⚙️ .*at least 200 ratings"))).to_be_visible(timeout=30_000)
        more, done = page.get_by_role("button", name="More films"), page.get_by_text("That's all")
        for turn in range(1, 41):
            # As a reader would: click once the page has finished its run (a click while it runs may reach a run
            # that has no such button, or be dropped with the run it interrupts).
            idle(page)
            expect(more.or_(done).first).to_be_visible(timeout=30_000)
            if done.count():
                break
            more.click()  # Playwright scrolls the button into view first: the page's end
            films_heading_on_top(page, f"after turn {turn}")
        else:
            raise AssertionError("no end of the films after 40 pages")
        idle(page)
        page.get_by_role("button", name="Back to the first films").click()
        expect(page.get_by_role("button", name="More films")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("That's all")).to_have_count(0)
        films_heading_on_top(page, "back at the first films")
        b.close()


def idle(page) -> None:
    """Wait until the page's script has finished its run (Streamlit's "Running..." sign gone)."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)


def films_heading_on_top(page, when: str) -> None:
    """Assert that the films' heading comes into the window's top half (without the scroll: ~2,000 px above it).
    Measured from the heading's box: Playwright's to_be_in_viewport saw no part of it inside Streamlit's scrolling
    main."""
    from playwright.sync_api import TimeoutError

    top = "document.getElementById('films').getBoundingClientRect().top"
    try:
        page.wait_for_function(f"() => 0 <= {top} && {top} < innerHeight / 2", timeout=30_000)
    except TimeoutError:
        raise AssertionError(f"{when}, the films' heading is at {page.evaluate(top):.0f} px") from None


def choose(page, label: str, text: str) -> None:
    """Pick the option containing `text` in the select box `label` (typing filters the options)."""
    from playwright.sync_api import TimeoutError

    box = page.get_by_role("combobox", name=label)
    for _ in range(5):  # a rerun of the page may redraw the list under the pointer: try again
        try:
            box.click(timeout=10_000)
            box.fill(text)
            page.get_by_role("option").filter(has_text=text).first.click(timeout=5_000)
        except TimeoutError:
            page.keyboard.press("Escape")
            continue
        if text in box.input_value():
            return
    raise AssertionError(f"could not choose {text} in {label}")


def test_a_broken_model_keeps_the_upload_and_the_films(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        b, page = with_photo(p, server, tmp_path, fer_faces)
        page.get_by_text("Advanced").click()
        choose(page, "Model", "broken.keras")
        expect(page.get_by_text("Cannot load the model")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Mood from the photo me.png")).to_be_visible()  # the films stay
        choose(page, "Model", "emotion.keras")
        expect(page.get_by_text("mood of 1 face")).to_be_visible(timeout=60_000)  # the upload was kept
        expect(page.get_by_text("Cannot load the model")).to_have_count(0)
        b.close()


def test_video_upload_shows_timeline_faces_and_films(server, tmp_path, fer_faces):
    from playwright.sync_api import expect, sync_playwright

    from synthetic.scenes import moving_faces, write_clip

    clip = tmp_path / "reaction.mp4"
    faces = [fer_faces["happy"][0], fer_faces["happy"][1]]
    write_clip((f for f, _ in moving_faces(faces, 90, np.random.default_rng(3))), clip)
    with sync_playwright() as p:
        b = browser(p, [])
        for width, height, name in ((1280, 800, "video.png"), (390, 844, "video-phone.png")):
            page = b.new_page(viewport={"width": width, "height": height})
            page.goto(server)
            page.get_by_role("tab", name="🎞️ Video").click(timeout=90_000)
            choose_file(page, clip, 1)
            expect(page.get_by_text("mood of the clip")).to_be_visible(timeout=120_000)
            expect(page.get_by_text("2 faces")).to_be_visible()
            expect(page.get_by_text("Mood from the video reaction.mp4")).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Fits a").first).to_be_visible(timeout=60_000)
            expect(page.locator("[data-testid='stVegaLiteChart']").first).to_be_visible()  # the timeline
            expect(page.locator("video").first).to_be_visible()  # the annotated clip
            expect(page.get_by_role("button", name="⬇️ Faces per frame (CSV)")).to_be_visible()
            page.screenshot(path=str(tmp_path / name), full_page=True)
            print(f"screenshot: {tmp_path / name}")
        b.close()
