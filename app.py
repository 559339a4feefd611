"""Mood movies: the Streamlit page. Photo, video file or webcam -> labelled faces -> films for the mood.

    streamlit run app.py

The page stays thin: heavy objects (models, face finders, catalog) are created once per process with
st.cache_resource; an uploaded video goes to emotion.clip.analyse_clip; live frames go to
emotion.video.Viewer (its LiveProcessor) on streamlit-webrtc's worker thread.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

EMOJI = {"angry": "😠", "disgust": "🤢", "fear": "😨", "happy": "😄", "sad": "😢", "surprise": "😮", "neutral": "😐"}
DOT = {"angry": "🔴", "disgust": "🟢", "fear": "🟣", "happy": "🟡", "sad": "🔵", "surprise": "🟠", "neutral": "⚪"}  # as COLORS
PRIORS = {"default": "As the model ships", "training": "As in its training photos", "balanced": "All equally common"}
DISPLAY_SIDE = 1600  # photos are shown at most this large: the browser's column is narrower anyway
MIN_SHOWN_SIDE = 16  # and strips at least this thick
THUMBNAIL_SIDE = 320  # and thumbnails at least this large, so that their labels can be read
# The suffixes emotion.imageio reads (IMAGE_SUFFIXES), written out: importing it would import the whole runtime
# before the page's frame is drawn. The most common first: the uploader lists them in this order, cut to its width.
PHOTO_TYPES = ["jpg", "jpeg", "png", "heic", "heif", "webp", "avif", "gif", "bmp", "tif", "tiff", "pgm", "ppm"]
YEARS = (1900, 2020)  # the year slider's range
PHOTO_MB = 20  # largest photo upload; videos may use the server's whole maxUploadSize (.streamlit/config.toml)
VIDEO_SIDE = 960  # the annotated video the page sends back is at most this large: ~1 Mbit/s
PLAYER_HEIGHT = 560  # a portrait video is shown at most this tall, its controls on screen (the column would be taller)
MAX_VIDEO_SECONDS = 600  # a video is analysed up to here: bounded work per upload (minutes at most)
ANALYSIS_SLOTS = max(1, (os.cpu_count() or 2) // 2)
# Live viewers analysed at once; more are told the server is busy. One per core, as measured by bench/load.py
# (bench/RESULTS.md): more than that and every viewer's frame rate falls and its delay grows.
MAX_LIVE_VIEWERS = int(os.environ.get("MOOD_MAX_LIVE_VIEWERS") or os.cpu_count() or 2)
# Remote deployments need a STUN/TURN server: set MOOD_RTC_CONFIGURATION to a JSON RTCConfiguration,
# e.g. '{"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}'. On localhost none is needed.
MARKUP = re.compile(r"([!-/:-@\[-`{-~])")  # ASCII punctuation: what Markdown (and Streamlit's directives) can parse
RTC_CONFIGURATION = json.loads(os.environ.get("MOOD_RTC_CONFIGURATION", '{"iceServers": []}'))

st.set_page_config(page_title="Mood movies", page_icon="🎬", layout="wide")
# The page's frame first, before the runtime is even imported: the browser draws the tabs and the photo uploader
# while the server imports the rest and loads the models behind their spinners (cold start: bench/RESULTS.md).
st.title("🎬 Mood movies")
st.caption("Show your face to the webcam or upload a photo or video: every face gets its emotion, "
           "and you get films for the mood. Nothing leaves this computer.")
notice = st.empty()  # above the tabs: why the model cannot be used, once that is known
main, side = st.columns([3, 2], gap="large")
with main:
    photo, video, live = st.tabs(["📷 Photo", "🎞️ Video", "🎥 Live webcam"])
with photo:
    uploads = st.file_uploader(
        "Upload one or more photos", type=PHOTO_TYPES,
        accept_multiple_files=True, max_upload_size=PHOTO_MB,
    )
    # A way in without a photo at hand, or where live video does not work. The camera widget is drawn only when asked
    # for: drawn, it asks the browser for the camera at once.
    use_example = st.toggle("Try the example photo (astronaut Eileen Collins, NASA)", key="example")
    snapshot = st.camera_input("Snapshot from your camera", key="snapshot") if st.toggle(
        "Take a snapshot with my camera", key="camera", help="Where live video does not work") else None

# The rest, imported while the browser draws the frame above.
import cv2
import numpy as np
import pandas as pd
from streamlit.components.v1 import html
from streamlit_webrtc import webrtc_streamer  # before TensorFlow: the reverse order segfaults (SSL libs)

from emotion import EmotionDetector, Face, ImageError, batch, read_image
from emotion.clip import DEFAULT_FPS, VIDEO_SUFFIXES, ClipError, analyse_clip
from emotion.detector import DEFAULT_MODEL, LIVE_FACE_MS, classify_ms, live_model
from emotion.draw import annotate, hex_color
from emotion.faces import FINDERS, make_finder
from emotion.prior import PriorError, resolve
from emotion.video import Viewer, ViewerLimit
from recommender import MODES, CatalogError, Filters, like_this, load_catalog, recommend
from recommender.catalog import DEFAULT_CATALOG, skipped_message


def offered(default: Path, pattern: str, env: str) -> dict[str, str]:
    """The files a viewer may choose, name -> path: those beside `default`, and in the folders the operator lists
    in the environment variable `env` (os.pathsep-separated). Viewers never type server paths."""
    folders = [default.parent] + [Path(f) for f in os.environ.get(env, "").split(os.pathsep) if f]
    files = [default] + sorted(f for folder in folders for f in folder.glob(pattern) if f.is_file())
    return {f.name if f.parent == default.parent else str(f): str(f.resolve()) for f in dict.fromkeys(files)}


def version(path: str) -> float:
    """A file's modification time: part of each cache key, so a replaced file is loaded again."""
    return os.stat(path).st_mtime if os.path.exists(path) else 0.0


# Caches are keyed by resolved path and modification time and hold a few entries each: memory stays bounded.
@st.cache_resource(show_spinner="Loading the emotion model ...", max_entries=4)
def load_detector(model_path: str, _version: float) -> EmotionDetector:
    """The model file's detector, loaded once per process and shared by every viewer and face finder (`variant`)."""
    return EmotionDetector.load(model_path, finder="live")


@st.cache_resource(show_spinner="Loading the face finder ...", max_entries=16)
def emotion_detector(model_path: str, finder: str, tta: bool, min_face: int, prior: str) -> EmotionDetector:
    """The shared model with a face finder and prior; cached so reruns get the very same object (thread-safe: see
    EmotionDetector)."""
    return load_detector(model_path, version(model_path)).variant(make_finder(finder, min_face), tta, prior)


@st.cache_resource(show_spinner="Loading the movie catalog ...", max_entries=4)
def load_movies(path: str, _version: float):
    return load_catalog(path)


@st.cache_resource
def analysis_slots() -> threading.BoundedSemaphore:
    """Photos and videos analysed at once, for all viewers together: each takes up to ~0.5 GB and the CPU's cores,
    so more would only share them and add up memory; the others wait their turn (bench/RESULTS.md)."""
    return threading.BoundedSemaphore(ANALYSIS_SLOTS)


@contextmanager
def analysis_slot(what: str) -> Iterator[None]:
    """Hold an analysis slot for the block; a spinner while others' analyses fill them. Any st call can raise
    Streamlit's rerun exception, so the slot is released in `finally` whenever it was taken, or it leaks for good."""
    slots = analysis_slots()
    held = slots.acquire(blocking=False)
    try:
        if not held:
            with st.spinner(f"Another photo or video is being analysed; your {what} is next ..."):
                held = slots.acquire()
        yield
    finally:
        if held:
            slots.release()


# Per upload and settings, computed once: a rerun for any other widget reuses it (content hash in the key).
@st.cache_data(max_entries=32, show_spinner=False)
def analyse_photo(digest: str, name: str, model_path: str, _version: float, finder: str, tta: bool, min_face: int,
                  prior: str, _data: bytes) -> tuple[list[Face], np.ndarray, str | None]:
    """The labelled faces of one uploaded photo, the photo annotated for display (at most DISPLAY_SIDE px, a thumbnail
    at least THUMBNAIL_SIDE), and a note when it was too large to search for faces as small as asked, or when a
    thumbnail with no face found was read whole."""
    det = emotion_detector(model_path, finder, tta, min_face, prior)
    with analysis_slot("photo"):
        image = read_image(_data, name=name)
        faces = det.detect(image)
        smallest = det.finder.smallest_face(image.shape)
        note = (f"A large photo ({image.shape[1]}x{image.shape[0]}): faces were searched on a smaller copy, so faces "
                f"under {smallest} px may be missed." if smallest > min_face else None)
        if len(faces) == 1 and faces[0].guessed:
            note = f"No face found in {name}; being a thumbnail, it was read whole as one face crop."
        shown = annotate(image, faces, max_side=DISPLAY_SIDE, numbers=range(1, len(faces) + 1), min_side=THUMBNAIL_SIDE)
        # A strip (1 x 5000 px) gets a white margin to a shown height: st.image scales to the column and refused a
        # side that rounds to no pixels.
        short = max(0, (MIN_SHOWN_SIDE - min(shown.shape[:2])) // 2)
        if short:
            wide = shown.shape[0] < shown.shape[1]
            shown = cv2.copyMakeBorder(shown, *((short, short, 0, 0) if wide else (0, 0, short, short)),
                                       cv2.BORDER_CONSTANT, value=(255, 255, 255))
        return faces, shown, note


@st.cache_data(max_entries=4, show_spinner=False)
def analyse_video(digest: str, name: str, model_path: str, _version: float, min_face: int, prior: str,
                  _data: bytes) -> dict:
    """One uploaded video's analysis: summary.json's content, frames.csv and annotated.mp4 (as bytes, for the
    player and the downloads); when nothing in the file can be analysed, {"error": why}, cached too, so that a rerun
    does not decode a bad file again."""
    det = emotion_detector(model_path, "live", False, min_face, prior)
    with analysis_slot("video"), tempfile.TemporaryDirectory() as folder:
        # Made inside the cached function, so that a rerun's replay shows and removes it too (st.cache_data replays
        # elements created inside; it refuses to update ones created outside).
        bar = st.progress(0.0, text=f"Analysing {name} ...")
        reported = [0.0]

        def progress(seconds: float, total: float | None) -> None:
            if seconds - reported[0] >= 1.0:  # one update a second of video: each is kept for the replay
                reported[0] = seconds
                bar.progress(min(seconds / (total or seconds), 1.0),
                             text=f"Analysing {name}: {seconds:.0f} of {total or seconds:.0f} s")

        out = Path(folder)
        try:
            result = analyse_clip(_data, det, out, annotated=True, max_seconds=MAX_VIDEO_SECONDS, name=name,
                                  progress=progress, annotate_side=VIDEO_SIDE)
        except ClipError as exc:
            return {"error": str(exc)}
        finally:
            bar.empty()  # also when it failed: no empty "Analysing ..." bar above the error
        return {"summary": result.summary, "csv": (out / "frames.csv").read_bytes(),
                "video": (out / "annotated.mp4").read_bytes(), "size": result.size}


def literal(text: object) -> str:
    """Text from a file or an upload (a name, a film's title or genres, an error naming them) as Markdown that shows it
    as it is: every ASCII punctuation mark escaped, so `![](http://host/x)` stays text and fetches nothing, and `]`,
    `:blue[...]` or `$...$` cannot break out of the element it is shown in."""
    return MARKUP.sub(r"\\\1", " ".join(str(text).split()))


def mood_line(scores: dict[str, float], unsure_below: float = 0.0) -> str:
    """The three likeliest emotions and their shares; "unsure" first when the likeliest is under the model's bar."""
    top = sorted(scores.items(), key=lambda kv: -kv[1])[:3]
    line = " · ".join(f"{EMOJI.get(k, '')} {k} {v:.0%}" for k, v in top)
    return f"❔ unsure — {line}" if top[0][1] < unsure_below else line


def mean_mood(faces: list[Face]) -> dict[str, float]:
    return {k: sum(f.scores[k] for f in faces) / len(faces) for k in faces[0].scores}


def set_mood(scores: dict[str, float], source: str, uploads: tuple[str, ...] = ()) -> None:
    """Remember the mood that drives the recommendations, where it came from, and the uploads (file ids) it came
    from, so the films panel can say when they were removed."""
    st.session_state.mood = scores
    st.session_state.mood_source = source
    st.session_state.mood_uploads = uploads


def note_removed_uploads(present: set[str]) -> None:
    """After the viewer removed the upload(s) the mood came from, the films panel says so (the films stay)."""
    if set(st.session_state.get("mood_uploads", ())) - present:
        st.session_state.mood_source = f"{st.session_state.mood_source} (removed)"
        st.session_state.mood_uploads = ()


def probability_table(rows: list[dict], labels) -> None:
    """Rows (indexed by their first column) with every probability on one shared 0-100% scale; sortable. The
    emotions likeliest over the rows come first, so that at any width the shares that matter show without a sideways
    scroll."""
    table = pd.DataFrame(rows)
    table = table.set_index(table.columns[0])
    labels = sorted(labels, key=lambda k: -table[k].mean())
    table = table[[c for c in table.columns if c not in labels] + labels]
    bars = {k: st.column_config.ProgressColumn(f"{EMOJI.get(k, '')} {k}", min_value=0.0, max_value=1.0, format="percent")
            for k in labels}
    st.dataframe(table, column_config=bars, height=min(36 * (len(rows) + 1) + 3, 400), width="stretch")


def faces_table(faces: list[Face], numbers: list[int] | None = None) -> None:
    """One row per face, numbered as drawn (by default 1, 2, ... as on a photo)."""
    probability_table([{"face": n, "emotion": f"{'❔ unsure:' if f.unsure else DOT.get(f.emotion, '')} {f.emotion} "
                                              f"{f.scores[f.emotion]:.0%}",
                        **f.scores} for n, f in zip(numbers or range(1, len(faces) + 1), faces)], faces[0].scores)


def mood_chart(points: list[tuple[float, dict[str, float]]], x_title: str) -> None:
    """Each emotion's share of the mood over time, one fixed colour per emotion (as everywhere on the page)."""
    labels = list(points[0][1])
    history = pd.DataFrame([{"s": round(t, 1), **m} for t, m in points]).melt("s", var_name="emotion")
    # A Vega-Lite spec, which Streamlit draws itself: importing altair only to build it slowed the page's start (bench/RESULTS.md).
    st.vega_lite_chart(history, {"mark": "line", "height": 300, "encoding": {
        "x": {"field": "s", "type": "quantitative", "title": x_title},
        "y": {"field": "value", "type": "quantitative", "title": "share of the mood", "scale": {"domain": [0, 1]},
              "axis": {"format": "%"}},
        "color": {"field": "emotion", "type": "nominal",
                  "scale": {"domain": labels, "range": [hex_color(k) for k in labels]},
                  "legend": {"orient": "bottom", "columns": 4, "title": None}}}})


def photo_tab(uploads: list, model_path: str, finder: str, tta: bool, min_face: int, prior: str, usable: bool) -> None:
    """The photos (uploads, the example, a snapshot), each with its labelled faces and their mood."""
    if not uploads:
        return
    if not usable:  # the uploads stay (the uploader is still on the page) and are analysed once a model works
        st.info("Your photos are kept: they are analysed as soon as a working model is chosen.")
        return
    every_face = []
    before = st.session_state.get("photo_moods", {})  # upload's file_id -> its mood when last shown
    moods = {}
    for upload, name in zip(uploads, shown_names(uploads)):
        data = upload.getvalue()
        if len(data) > PHOTO_MB * 2**20:  # the uploader's limit is the browser's: checked here too
            st.error(f"{literal(name)}: {len(data) / 2**20:.0f} MB, over the {PHOTO_MB} MB limit for photos; upload a "
                     "smaller copy")
            continue
        try:
            # The photo face finder is usually loaded already, at the end of the first view (bottom of this script).
            with st.spinner(f"Finding and labelling the faces in {name} ..."):
                faces, shown, note = analyse_photo(hashlib.sha256(data).hexdigest(), name, model_path,
                                                   version(model_path), finder, tta, min_face, prior, data)
        except ImageError as exc:
            st.error(literal(exc))
            continue
        except Exception:  # noqa: BLE001  a bug shown as one line: the other photos, tabs and films still render
            logging.getLogger(__name__).exception("analysing %s", name)
            st.error(f"{literal(name)}: could not be analysed (an internal error, logged on the server); try another "
                     "photo")
            continue
        every_face += faces
        if note:
            st.caption(literal(note))
        if not faces:
            st.image(shown, channels="BGR", caption=name, width="stretch")
            st.warning(f"No face found in {literal(name)}. Try a photo where faces are larger and facing the camera.")
            continue
        mood = moods[upload.file_id] = mean_mood(faces)
        who = "1 face" if len(faces) == 1 else f"the {len(faces)} faces"
        bar = load_detector(model_path, version(model_path)).unsure_below
        # The link: on a phone the films come below every photo.
        st.markdown(f"**{literal(name)}** — mood of {who}: {mood_line(mood, bar)} · [films ↓](#films)")
        if before.get(upload.file_id) != mood:  # a new photo: its mood drives the films
            set_mood(mood, f"photo {name}", (upload.file_id,))
        elif st.button("🎬 Films for this photo", key=f"films_{upload.file_id}"):
            set_mood(mood, f"photo {name}", (upload.file_id,))
        st.image(shown, channels="BGR", width="stretch")
        faces_table(faces)
        photo_downloads(name, faces, shown)
    st.session_state.photo_moods = moods  # of the photos still uploaded only
    if len(uploads) > 1 and len(every_face) > 1 and st.button(f"🎬 Films for all {len(every_face)} faces together"):
        set_mood(mean_mood(every_face), f"all {len(every_face)} faces of {len(uploads)} photos",
                 tuple(u.file_id for u in uploads))


def photo_downloads(name: str, faces: list[Face], shown: np.ndarray) -> None:
    """The annotated photo (PNG, as shown) and its faces table (CSV and JSON, the columns of `emotion batch`)."""
    rows = batch.table(batch.photo_rows(name, faces, tuple(faces[0].scores)), tuple(faces[0].scores))
    stem = Path(name).stem or "photo"
    files = [("🖼️ Annotated photo", f"{stem}-faces.png", lambda: cv2.imencode(".png", shown)[1].tobytes(), "image/png"),
             ("📄 Faces (CSV)", f"{stem}-faces.csv", lambda: batch.csv_safe(rows).to_csv(index=False), "text/csv"),
             ("📄 Faces (JSON)", f"{stem}-faces.json", lambda: rows.to_json(orient="records", indent=1),
              "application/json")]
    for column, (label, file_name, data, mime) in zip(st.columns(len(files)), files):
        # on_click="ignore": a download reruns nothing; `data` is made only when the button is clicked.
        column.download_button(label, data, file_name=file_name, mime=mime, on_click="ignore",
                               key=f"download_{file_name}_{hashlib.sha256(name.encode()).hexdigest()[:8]}")


@dataclass(frozen=True)
class Example:
    """A photo that comes with the page (data/examples/; its terms in data/README.md), offered as an upload is."""

    name: str
    path: Path

    @property
    def file_id(self) -> str:
        return f"example:{self.name}"

    def getvalue(self) -> bytes:
        return self.path.read_bytes()


EXAMPLE = Example("astronaut.jpg", Path(__file__).parent / "data" / "examples" / "astronaut.jpg")


def shown_names(uploads: list) -> list[str]:
    """The name each upload is shown by: its file's, numbered where several share one (iPhones upload every photo
    as image.jpg)."""
    total, seen = Counter(u.name for u in uploads), Counter()
    names = []
    for upload in uploads:
        seen[upload.name] += 1
        names.append(f"{upload.name} ({seen[upload.name]})" if total[upload.name] > 1 else upload.name)
    return names


def player(clip: dict) -> None:
    """The annotated video: as wide as the column, or for a portrait video, at most `PLAYER_HEIGHT` px tall."""
    width, height = clip["size"] or (1, 1)
    st.video(clip["video"], width="stretch" if width >= height else round(PLAYER_HEIGHT * width / height))


def video_tab(model_path: str, min_face: int, prior: str, present: set[str]) -> None:
    """The uploaded video: its faces over time, mood and downloads; its file id joins `present`, the uploads on the
    page."""
    upload = st.file_uploader(f"Upload a video (up to {MAX_VIDEO_SECONDS // 60} minutes are analysed)",
                              type=sorted(s.lstrip(".") for s in VIDEO_SUFFIXES), key="video")
    present.update([upload.file_id] if upload else [])
    if not upload:
        st.caption(f"Faces are followed through the video ({DEFAULT_FPS:g} frames a second): you get each one's mood, the mood "
                   "over time, and films for the whole clip.")
        return
    data = upload.getvalue()
    try:
        clip = analyse_video(hashlib.sha256(data).hexdigest(), upload.name, model_path, version(model_path), min_face,
                             prior, data)
    except Exception:  # noqa: BLE001  a bug shown as one line: the other tabs and the films still render
        logging.getLogger(__name__).exception("analysing %s", upload.name)
        st.error(f"{literal(upload.name)}: could not be analysed (an internal error, logged on the server); try "
                 "another video")
        return
    if "error" in clip:
        st.error(literal(clip["error"]))
        return
    summary = clip["summary"]
    if summary["error"]:
        st.warning(f"{literal(summary['error'])}. Shown: the video up to {summary['analysed_to_s']:.0f} s.")
    if summary["duration_s"] > MAX_VIDEO_SECONDS:
        st.caption(f"A long video: its first {MAX_VIDEO_SECONDS // 60} minutes were analysed.")
    name, stem = upload.name, Path(upload.name).stem
    if not summary["faces_seen"]:
        player(clip)
        st.warning(f"No face found in {literal(name)}. Try a video where faces are larger and facing the camera.")
        return
    mood = summary["mood"]
    who = "1 face" if summary["faces_seen"] == 1 else f"{summary['faces_seen']} faces"
    bar = load_detector(model_path, version(model_path)).unsure_below
    st.markdown(f"**{literal(name)}** — {summary['duration_s']:.0f} s, {who}; mood of the clip: {mood_line(mood, bar)}")
    if st.session_state.get("video_mood") != (upload.file_id, mood):  # a new video: its mood drives the films
        st.session_state.video_mood = (upload.file_id, mood)
        set_mood(mood, f"video {name}", (upload.file_id,))
    elif st.button("🎬 Recommend for this clip's mood", key="video_recommend"):
        set_mood(mood, f"video {name}", (upload.file_id,))
    player(clip)
    points = [(p["start_s"], p["mood"]) for p in summary["timeline"]]
    if len(points) > 1:
        mood_chart(points, "seconds into the video")
    changes = " → ".join(f"{s['mood']} ({s['start_s']:.0f}-{s['end_s']:.0f} s)" for s in summary["segments"][:12])
    st.caption(f"Dominant mood over time: {changes}{' ...' if len(summary['segments']) > 12 else ''}")
    probability_table([{"face": f["id"], "seen": f"{f['first_s']:.0f}-{f['last_s']:.0f} s", "frames": f["frames"],
                        "emotion": f"{DOT.get(f['dominant'], '')} {f['dominant']}", **f["mood"]}
                       for f in summary["faces"]], mood)
    left, right = st.columns(2)
    left.download_button("⬇️ Faces per frame (CSV)", clip["csv"], f"{stem}-frames.csv", "text/csv")
    right.download_button("⬇️ Annotated video (MP4)", clip["video"], f"{stem}-annotated.mp4", "video/mp4")


@st.cache_resource
def viewer_limit() -> ViewerLimit:
    """One limit for all viewers of this server process."""
    return ViewerLimit(MAX_LIVE_VIEWERS)


@st.cache_resource
def live_model_note(model_path: str) -> str:
    """Which model live video runs on for the chosen model file, and why: measured on this CPU at first use
    (`emotion.detector.live_model`)."""
    photo, live = Path(model_path), live_model(Path(model_path))
    if live == photo:
        return f"the photo model ({classify_ms(photo):.2f} ms a face on this CPU)"
    return (f"the live model ({classify_ms(live):.2f} ms a face; the photo model's {classify_ms(photo):.2f} ms is over "
            f"the {LIVE_FACE_MS:g} ms budget on this CPU)")


def live_tab(det: EmotionDetector, model_path: str) -> None:
    st.caption("Press START and allow the camera. If the camera is denied or missing, allow it in the "
               "browser's site settings (or use the Photo tab).")
    # Per viewer; "live" itself is the streamer's own session_state key.
    if "live_viewer" not in st.session_state or st.session_state.live_viewer.processor.detector is not det:
        st.session_state.live_viewer = Viewer(det, viewer_limit())
    viewer: Viewer = st.session_state.live_viewer
    processor, limit = viewer.processor, viewer.limit
    mirrored = st.toggle("Mirror view", value=True, help="Show the camera as a mirror, as a selfie camera does; "
                         "turn it off for a camera that faces away from you.")
    if mirrored:  # a statement, not an expression: Streamlit would write an expression's value on the page
        viewer.mirror.set()
    else:
        viewer.mirror.clear()

    ctx = webrtc_streamer(
        key="live",
        video_frame_callback=viewer.on_frame,  # on a worker thread: see Viewer
        media_stream_constraints={"video": True, "audio": False},
        rtc_configuration=RTC_CONFIGURATION,
        async_processing=True,  # the newest frame only: a slow frame drops frames instead of adding lag
    )

    def busy_now() -> bool:
        """Turned away counts only while the camera runs: after STOP, a mood seen before the others filled the limit
        still gets its films."""
        return ctx.state.playing and viewer.turned_away.is_set()

    busy = busy_now()

    @st.fragment(run_every=1.0 if ctx.state.playing else None)
    def readout() -> None:
        if busy_now() != busy:  # the button below, outside this fragment, is offered only when not busy
            st.rerun()
        if busy:
            others = "another viewer's" if limit.limit == 1 else f"{limit.limit} other viewers'"
            st.warning(f"The server is analysing {others} video, as many as it can keep up with. "
                       "Try again in a minute, or use the Photo tab.")
            return
        mood = processor.mood()
        if mood is None:
            st.info("Waiting for a face ..." if ctx.state.playing else "Live mood appears here once the camera runs.")
            return
        st.markdown(f"**{'Live mood' if ctx.state.playing else 'Last live mood'}:** {mood_line(mood, det.unsure_below)}")
        if ctx.state.playing and (faces := processor.faces()):  # each face in view, numbered as on the video
            faces_table([f for _, f in faces], [n for n, _ in faces])
        if ctx.state.playing and (stats := processor.stats()) is not None:  # after STOP, no rate to show
            st.caption(f"Analysing {stats['fps']:.1f} frames/s · {stats['p50_ms']:.0f} ms a frame "
                       f"(p95 {stats['p95_ms']:.0f} ms) · {stats['lag_ms']:.0f} ms added delay · {live_model_note(model_path)}")
        timeline = processor.timeline()
        if len(timeline) > 1:
            mood_chart([(round(t - timeline[0][0]), m) for t, m in timeline], "seconds since START")

    readout()
    # Outside the readout, which redraws every second: there a click could land on a button being redrawn
    # and be lost (a browser test saw it once); here the button stays put, and the click reads the mood of now.
    # After STOP it stays for the last mood: a viewer may turn the camera off before asking for films.
    offered = ctx.state.playing or processor.mood() is not None
    if offered and not busy and st.button("🎬 Recommend for this mood", key="live_recommend"):
        if (mood := processor.mood()) is None:
            st.warning("No face seen yet: look into the camera, then press again.")
        else:
            set_mood(mood, "live webcam")
            st.rerun()


def dated(year: int | None) -> str:
    """A film's year after its title, or nothing where the catalog does not know it."""
    return f" ({year})" if year else ""


def film_card(film: dict, catalog) -> None:
    with st.container(border=True):
        title = f"[{literal(film['title'])}]({film['url']})" if film["url"] else literal(film["title"])
        # The genres the mood asked for stand out from the film's others.
        badges = " ".join(f":{'blue' if g in film['matched_genres'] else 'gray'}-badge[{literal(g)}]"
                          for g in film["genres"])
        st.markdown(f"**{title}**{dated(film['year'])}  \n{badges}")
        rated = (f"⭐ {film['rating_mean']:.1f} from {film['rating_count']} rating{'s' if film['rating_count'] != 1 else ''}"
                 if film["rating_mean"] is not None else "no ratings in this catalog")
        # The reason of this very film: the mood's genres it serves, and where its rating stands.
        serves = f" with {' and '.join(film['matched_genres'])}" if film["matched_genres"] else ""
        because = film["why"][0].upper() + film["why"][1:] + serves
        st.caption(f"{rated} · {literal(because)}" + (f" · {literal(film['standing'])}" if film["standing"] else ""))
        if similar := like_this(film["movie_id"], catalog):
            with st.popover("More like this", help="Films its viewers rated alike (MovieLens ratings)"):
                for other in similar:
                    name = f"{literal(other['title'])}{dated(other['year'])}"
                    st.markdown(f"[{name}]({other['url']})" if other["url"] else name)


MODE_NAMES = {"match": "Match my mood", "lift": "Lift my mood"}


def settings_summary(state) -> str:
    """How the films' settings in session `state` are set, in a few words (the defaults where a widget is not drawn
    yet)."""
    summary = [MODE_NAMES[state.get("mode", "match")], f"at least {state.get('ratings', 20)} ratings"]
    if tuple(state.get("years", YEARS)) != YEARS:
        summary.append("{}-{}".format(*state["years"]))
    if state.get("exclude"):
        summary.append(f"without {', '.join(state['exclude'])}")
    return " · ".join(summary)


def film_settings(catalog) -> tuple[str, Filters]:
    """The films' mode and filters, above the films (on a phone too, where the sidebar is folded away), in an expander
    that says how they are set. They live in the page's address too (bind): a link shares the list as it was set."""
    label = settings_summary(st.session_state)
    # The key keeps it one element, open while its label follows the settings.
    with st.expander(f"⚙️ {literal(label)}", key="film_settings"):
        mode = st.radio("Mode", MODES, format_func=MODE_NAMES.get, horizontal=True, key="mode", bind="query-params")
        min_votes = st.slider("Minimum ratings", 0, 200, 20, step=5, key="ratings", bind="query-params")
        years = st.slider("Years", *YEARS, YEARS, key="years", bind="query-params")
        exclude = st.multiselect("Exclude genres", catalog.genres if catalog else [], key="exclude", bind="query-params")
    if settings_summary(st.session_state) != label:  # a shared link's settings, which the widgets read after the label
        st.rerun()  # once: the next run's label is drawn from them
    # The slider's full range is no year filter: a catalog may not know every film's year.
    year_from, year_to = (None if y == end else y for y, end in zip(years, YEARS))
    return mode, Filters(min_votes, year_from, year_to, tuple(exclude))


def recommendations(catalog, catalog_error: Exception | None, filters: Filters, mode: str) -> None:
    if catalog_error is not None:
        st.error(f"The movie catalog cannot be used: {literal(catalog_error)}. Choose another catalog under Advanced in "
                 "the sidebar.")
        return
    mood = st.session_state.get("mood")
    if not mood:
        st.info("Upload a photo or use the webcam, then your films appear here.")
        return
    st.markdown(f"Mood from the {literal(st.session_state.mood_source)}: {mood_line(mood)}")
    choice = (tuple(sorted(mood.items())), mode, filters, id(catalog))
    if st.session_state.get("films_for") != choice:  # a new mood, mode, filter or catalog: start at the first films
        st.session_state.films_for, st.session_state.page = choice, 0
    page, n = st.session_state.page, 10
    films = recommend(mood, n=n, mode=mode, page=page, filters=filters, catalog=catalog)
    if not films and page == 0:
        st.warning("No films match these filters. Lower the minimum ratings, widen the years or exclude fewer genres.")
    for film in films:
        film_card(film, catalog)
    if len(films) < n and (page or films):
        total = page * n + len(films)
        st.info(f"That's all {total} film{'s' if total != 1 else ''} for this mood with these filters.")
    # One under the other: side by side in the films column, the longer label was cut short ("Back to the first f...").
    if len(films) == n and st.button("More films", key="more"):
        turn_page(page + 1)
    if page and st.button("Back to the first films", key="first"):
        turn_page(0)


def turn_page(page: int) -> None:
    """Show the films' `page`, starting at their heading (`follow_paging`)."""
    st.session_state.page, st.session_state.turns = page, st.session_state.get("turns", 0) + 1
    st.rerun()


def follow_paging() -> None:
    """Bring the films' heading to the window's top after a page turn, not leave the reader at the old page's end.

    The page cannot scroll itself from Python: a component's script (same origin) does. The script's text changes with
    each turn only, so its frame reloads and scrolls then and on no other rerun. Drawn under the heading on every run,
    so its place in the page never moves, and from a count set before the turn's rerun, so a rerun cut short by
    another click (the old page's button is still there while the new one draws) cannot lose it."""
    turns = st.session_state.get("turns", 0)
    scroll = "window.parent.document.getElementById('films').scrollIntoView({block: 'start'});" if turns else ""
    html(f"<script>/* turn {turns} */ {scroll}</script>", height=0)


with st.sidebar:
    st.header("Faces")
    min_face = st.slider("Smallest face (px)", 20, 200, 30, step=10,
                         help="Faces smaller than this are not searched for: in photos, videos and live video")
    photo_finder = st.selectbox("Face finder for photos", list(FINDERS),
                                help="photo: accurate; live: fast, the one videos and live video use")
    tta_slot = st.empty()  # the toggle's default is the model's own setting, known once the model is loaded
    with st.expander("Advanced"):
        models = offered(DEFAULT_MODEL, "*.keras", "MOOD_MODELS")
        model_path = models[st.selectbox("Model", list(models), help="models/*.keras, and the folders in MOOD_MODELS")]
        catalogs = offered(DEFAULT_CATALOG, "*.csv", "MOOD_CATALOGS")
        catalog_path = catalogs[st.selectbox("Movie catalog", list(catalogs),
                                             help="data/*.csv, and the folders in MOOD_CATALOGS")]
        prior = st.radio("Emotions to expect", list(PRIORS), format_func=PRIORS.get, help=(
            "How common each emotion is assumed to be. The model learned from photos where happy faces are 17 times "
            "as common as disgusted ones, and ships assuming the shares its model card states. 'All equally common' "
            "lets rare emotions (disgust, fear) win more often."))
    detector, model_error = None, None
    try:
        detector = load_detector(model_path, version(model_path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        model_error = exc
    live_path = str(live_model(Path(model_path)).resolve())  # what the video and live tabs run
    try:
        if detector is not None:
            for meta in (detector.meta, load_detector(live_path, version(live_path)).meta):  # each tab's model must assume it
                resolve(prior, meta)
    except PriorError as exc:  # a model file from before priors were recorded: it runs as trained
        st.caption(f"{PRIORS[prior]}: {literal(exc)}")
        prior = "default"
    # Default: the model's own setting (on when it helped on val). Live video stays without it:
    # 18 times the classification cost per frame for a label that is smoothed over time anyway.
    with tta_slot:
        tta = st.toggle("Test-time augmentation", value=bool(detector and detector.tta),
                        help="Average each face over 18 mirrored, zoomed and rotated copies: more accurate, 18 times "
                             "the model cost")
    catalog, catalog_error = None, None
    try:
        catalog = load_movies(catalog_path, version(catalog_path))
        if (note := skipped_message(catalog)):
            st.caption(literal(note))
    except CatalogError as exc:
        catalog_error = exc

if model_error is not None:  # the page goes on: uploads, mood and films stay until a working model is chosen
    notice.error(f"Cannot load the model: {literal(model_error)}. Choose another model under Advanced in the sidebar.")

photos = [*(uploads or []), *([EXAMPLE] if use_example else []), *([snapshot] if snapshot else [])]
present = {u.file_id for u in photos}  # the photos on the page now; the video tab adds its own upload
with photo:
    photo_tab(photos, model_path, photo_finder, tta, min_face, prior, usable=model_error is None)
with video:
    if model_error is None:
        video_tab(live_path, min_face, prior, present)
    else:
        st.info("Video analysis needs a working model: choose one under Advanced in the sidebar.")
with live:
    if model_error is None:
        live_tab(emotion_detector(live_path, "live", False, min_face, prior), model_path)
    else:
        st.info("Live video needs a working model: choose one under Advanced in the sidebar.")
if model_error is None:  # else the video tab's uploader is not drawn, and its upload would look removed
    note_removed_uploads(present)
with side:
    st.subheader("🎬 Films for your mood", anchor="films")
    follow_paging()
    mode, filters = film_settings(catalog)
    recommendations(catalog, catalog_error, filters, mode)

if model_error is None:
    # Made here, at the end of the first view, rather than at the first upload: the photo finder loads TensorFlow and
    # MTCNN's nets, seconds that the viewer spends choosing a photo instead (bench/RESULTS.md, "The page").
    emotion_detector(model_path, photo_finder, tta, min_face, prior)
