"""Mood movies: the Streamlit page. Photo or webcam -> labelled faces -> films for the mood.

    streamlit run app.py

The page stays thin: heavy objects (model, detectors, catalog) are created once per process with
st.cache_resource; live frames go to emotion.video.LiveProcessor on streamlit-webrtc's worker thread.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import av
import numpy as np
import pandas as pd
import streamlit as st
from streamlit_webrtc import webrtc_streamer  # before TensorFlow: the reverse order segfaults (SSL libs)

from emotion import EmotionDetector, Face, ImageError, read_image
from emotion.detector import DEFAULT_MODEL, LIVE_MODEL
from emotion.draw import annotate, notice
from emotion.faces import FINDERS, make_finder
from emotion.video import LiveProcessor, ViewerLimit
from recommender import MODES, CatalogError, Filters, load_catalog, recommend
from recommender.catalog import DEFAULT_CATALOG, skipped_message

EMOJI = {"angry": "😠", "disgust": "🤢", "fear": "😨", "happy": "😄", "sad": "😢", "surprise": "😮", "neutral": "😐"}
# Remote deployments need a STUN/TURN server: set MOOD_RTC_CONFIGURATION to a JSON RTCConfiguration,
# e.g. '{"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}'. On localhost none is needed.
DISPLAY_SIDE = 1600  # photos are shown at most this large: the browser's column is narrower anyway
PHOTO_SLOTS = max(1, (os.cpu_count() or 2) // 2)
# Live viewers analysed at once; more are told the server is busy (capacity measured by bench/load.py).
MAX_LIVE_VIEWERS = int(os.environ.get("MOOD_MAX_LIVE_VIEWERS", "4"))
RTC_CONFIGURATION = json.loads(os.environ.get("MOOD_RTC_CONFIGURATION", '{"iceServers": []}'))

st.set_page_config(page_title="Mood movies", page_icon="🎬", layout="wide")


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
def load_model(model_path: str, _version: float) -> EmotionDetector:
    """The model, loaded once per process and shared by every viewer and detector."""
    return EmotionDetector.load(model_path, finder="haar")


@st.cache_resource(show_spinner="Loading the face finder ...", max_entries=16)
def emotion_detector(model_path: str, finder: str, tta: bool, min_face: int) -> EmotionDetector:
    """The shared model with a face finder; cached so reruns get the very same object (thread-safe: see
    EmotionDetector)."""
    return load_model(model_path, version(model_path)).variant(make_finder(finder, min_face), tta)


@st.cache_resource(show_spinner="Loading the movie catalog ...", max_entries=4)
def load_movies(path: str, _version: float):
    return load_catalog(path)


@st.cache_resource
def photo_slots() -> threading.BoundedSemaphore:
    """Photos analysed at once, for all viewers together: each takes up to ~0.5 GB and the CPU's cores, so more
    would only share them and add up memory; the others wait their turn (bench/RESULTS.md)."""
    return threading.BoundedSemaphore(PHOTO_SLOTS)


# Per upload and settings, computed once: a rerun for any other widget reuses it (content hash in the key).
@st.cache_data(max_entries=32, show_spinner=False)
def analyse_photo(digest: str, name: str, model_path: str, _version: float, finder: str, tta: bool, min_face: int,
                  _data: bytes) -> tuple[list[Face], np.ndarray]:
    """The labelled faces of one uploaded photo and the photo annotated for display (at most DISPLAY_SIDE px)."""
    det = emotion_detector(model_path, finder, tta, min_face)
    slots = photo_slots()
    if not slots.acquire(blocking=False):
        with st.spinner("Another photo is being analysed; yours is next ..."):
            slots.acquire()
    try:
        image = read_image(_data, name=name)
        faces = det.detect(image)
        return faces, annotate(image, faces, max_side=DISPLAY_SIDE)
    finally:
        slots.release()


def mood_line(scores: dict[str, float]) -> str:
    top = sorted(scores.items(), key=lambda kv: -kv[1])[:3]
    return " · ".join(f"{EMOJI.get(k, '')} {k} {v:.0%}" for k, v in top)


def set_mood(scores: dict[str, float], source: str) -> None:
    """Remember the mood that drives the recommendations and start again from page 1."""
    st.session_state.mood = scores
    st.session_state.mood_source = source
    st.session_state.page = 0


def photo_tab(model_path: str, finder: str, tta: bool, min_face: int) -> None:
    uploads = st.file_uploader(
        "Upload one or more photos", type=["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff", "gif"], accept_multiple_files=True
    )
    if not uploads:
        return
    all_faces = []
    for upload in uploads:
        data = upload.getvalue()
        try:
            # The photo face finder (MTCNN) and TensorFlow load only now, with the first photo.
            with st.spinner(f"Finding and labelling the faces in {upload.name} ..."):
                faces, shown = analyse_photo(hashlib.sha256(data).hexdigest(), upload.name, model_path,
                                             version(model_path), finder, tta, min_face, data)
        except ImageError as exc:
            st.error(str(exc))
            continue
        all_faces += faces
        left, right = st.columns([3, 2])
        left.image(shown, channels="BGR", caption=upload.name, width="stretch")
        if not faces:
            right.warning(f"No face found in {upload.name}. Try a photo where faces are larger and facing the camera.")
        for i, face in enumerate(faces, 1):
            right.markdown(f"**Face {i}: {EMOJI.get(face.emotion, '')} {face.emotion}** ({face.scores[face.emotion]:.0%})")
            right.bar_chart(pd.Series(face.scores, name="probability"), horizontal=True, height=230)
    if all_faces:
        group = {k: sum(f.scores[k] for f in all_faces) / len(all_faces) for k in all_faces[0].scores}
        if len(all_faces) > 1:
            st.markdown(f"**Group mood of {len(all_faces)} faces:** {mood_line(group)}")
        if st.session_state.get("photo_mood") != group:  # a new photo: its mood drives the films, until the user
            st.session_state.photo_mood = group        # picks another (the live button)
            set_mood(group, "photo")


@st.cache_resource
def viewer_limit() -> ViewerLimit:
    """One limit for all viewers of this server process."""
    return ViewerLimit(MAX_LIVE_VIEWERS)


def live_tab(det: EmotionDetector) -> None:
    st.caption("Press START and allow the camera. If the camera is denied or missing, allow it in the "
               "browser's site settings (or use the Photo tab).")
    # Per viewer; "live" itself is the streamer's own session_state key.
    if "live_processor" not in st.session_state or st.session_state.live_processor.detector is not det:
        st.session_state.live_processor = LiveProcessor(det)
        st.session_state.turned_away = threading.Event()
    processor: LiveProcessor = st.session_state.live_processor
    turned_away: threading.Event = st.session_state.turned_away
    limit = viewer_limit()

    def callback(frame: av.VideoFrame) -> av.VideoFrame:
        # Worker thread: no st.* calls here; results leave through the processor's lock and a thread-safe Event.
        image = frame.to_ndarray(format="bgr24")
        if not limit.admit(id(processor)):  # the server already analyses as many videos as it can keep up with
            turned_away.set()
            return av.VideoFrame.from_ndarray(notice(image, "Busy: try again in a minute"), format="bgr24")
        turned_away.clear()
        return av.VideoFrame.from_ndarray(processor.process(image, captured=frame.time), format="bgr24")

    ctx = webrtc_streamer(
        key="live",
        video_frame_callback=callback,
        media_stream_constraints={"video": True, "audio": False},
        rtc_configuration=RTC_CONFIGURATION,
        async_processing=True,  # the newest frame only: a slow frame drops frames instead of adding lag
    )

    @st.fragment(run_every=1.0 if ctx.state.playing else None)
    def readout() -> None:
        if ctx.state.playing and turned_away.is_set():
            st.warning(f"The server is analysing {limit.limit} other viewers' video, as many as it can keep up with. "
                       "Try again in a minute, or use the Photo tab.")
            return
        mood = processor.mood()
        if mood is None:
            st.info("Waiting for a face ..." if ctx.state.playing else "Live mood appears here once the camera runs.")
            return
        st.markdown(f"**Live mood:** {mood_line(mood)}")
        if (stats := processor.stats()) is not None:
            st.caption(f"Analysing {stats['fps']:.1f} frames/s · {stats['p50_ms']:.0f} ms a frame "
                       f"(p95 {stats['p95_ms']:.0f} ms) · {stats['lag_ms']:.0f} ms behind the camera")
        timeline = processor.timeline()
        if len(timeline) > 1:
            t0 = timeline[0][0]
            st.line_chart(pd.DataFrame([m for _, m in timeline], index=[round(t - t0) for t, _ in timeline]), height=180)
        if st.button("🎬 Recommend for this mood", key="live_recommend"):
            set_mood(mood, "live")
            st.rerun()

    readout()


def recommendations(catalog, filters: Filters, mode: str) -> None:
    mood = st.session_state.get("mood")
    st.subheader("🎬 Films for your mood")
    if not mood:
        st.info("Upload a photo or use the webcam, then your films appear here.")
        return
    st.markdown(f"Mood ({st.session_state.mood_source}): {mood_line(mood)}")
    page = st.session_state.get("page", 0)
    try:
        films = recommend(mood, n=10, mode=mode, page=page, filters=filters, catalog=catalog)
    except ValueError as exc:
        st.error(str(exc))
        return
    if not films:
        st.warning("No films match these filters. Lower the minimum votes or widen the years.")
    for f in films:
        rating = f" · ⭐ {f['rating_mean']:.1f} ({f['rating_count']} votes)" if f["rating_mean"] is not None else ""
        st.markdown(f"**{f['title']}** ({f['year'] or '?'}) — {', '.join(f['genres'])}{rating}  \n_{f['reason']}_")
    if films and st.button("More films", key="more"):
        st.session_state.page = page + 1
        st.rerun()


with st.sidebar:
    st.header("Settings")
    photo_finder = st.selectbox("Face finder for photos", list(FINDERS), help="mtcnn: accurate; haar: fast")
    min_face = st.slider("Minimum face size (px)", 20, 200, 30, step=10)
    models = offered(DEFAULT_MODEL, "*.keras", "MOOD_MODELS")
    model_path = models[st.selectbox("Model", list(models), help="models/*.keras, and the folders in MOOD_MODELS")]
    model, model_error = None, None
    try:
        model = load_model(model_path, version(model_path))
    except (FileNotFoundError, ValueError, OSError) as exc:
        model_error = exc
    # Default: the model's own setting (on when it helped on val). Live video stays without it:
    # 18 times the classification cost per frame for a label that is smoothed over time anyway.
    tta = st.toggle("Test-time augmentation (photos)", value=bool(model and model.tta),
                    help="Average each face over 18 mirrored, zoomed and rotated copies: more accurate, 18 times the model cost")
    catalogs = offered(DEFAULT_CATALOG, "*.csv", "MOOD_CATALOGS")
    catalog_path = catalogs[st.selectbox("Movie catalog", list(catalogs), help="data/*.csv, and the folders in MOOD_CATALOGS")]
    st.header("Recommendations")
    mode = st.radio("Mode", MODES, format_func={"match": "Match my mood", "lift": "Lift my mood"}.get, horizontal=True)
    min_votes = st.slider("Minimum votes", 0, 200, 20, step=5)
    years = st.slider("Years", 1900, 2020, (1900, 2020))
    catalog = None
    try:
        catalog = load_movies(catalog_path, version(catalog_path))
        if (note := skipped_message(catalog)):
            st.caption(note)
    except CatalogError as exc:
        st.error(str(exc))
    exclude = st.multiselect("Exclude genres", catalog.genres if catalog else [])

st.title("🎬 Mood movies")
st.caption("Show your face to the webcam or upload a photo: every face gets its emotion, "
           "and you get films for the mood. Nothing leaves this computer.")

if model_error is not None:
    st.error(f"Cannot load the model: {model_error}. Choose another model in the sidebar.")
    st.stop()
# Live video runs on the small live model, several times faster per face, unless another model was chosen.
live_model = str(LIVE_MODEL.resolve()) if model_path == str(DEFAULT_MODEL.resolve()) and LIVE_MODEL.exists() else model_path
live_det = emotion_detector(live_model, "haar", False, min_face)

main, side = st.columns([3, 2], gap="large")
with main:
    photo, live = st.tabs(["📷 Photo", "🎥 Live webcam"])
    with photo:
        photo_tab(model_path, photo_finder, tta, min_face)
    with live:
        live_tab(live_det)
with side:
    if catalog is not None:
        recommendations(catalog, Filters(min_votes, years[0], years[1], tuple(exclude)), mode)
