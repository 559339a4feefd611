"""Streamlit page: upload a photo, see every face boxed with its emotion and probabilities.

    streamlit run app.py
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from emotion import EmotionDetector, ImageError, read_image
from emotion.draw import annotate

st.set_page_config(page_title="Mood movies", page_icon="🎬", layout="wide")


@st.cache_resource(show_spinner="Loading the emotion model ...")
def load_detector(detector: str) -> EmotionDetector:
    """One model + detector per process, shared by every session."""
    return EmotionDetector.load(detector=detector)


st.title("🎬 Mood movies")
st.caption("Upload a photo: every face is boxed and labelled with its emotion.")

uploads = st.file_uploader(
    "Photos", type=["jpg", "jpeg", "png", "webp", "bmp"], accept_multiple_files=True
)
detector = load_detector("mtcnn")
for upload in uploads or []:
    try:
        image = read_image(upload.getvalue(), name=upload.name)
    except ImageError as exc:
        st.error(str(exc))
        continue
    faces = detector.detect(image)
    left, right = st.columns([3, 2])
    left.image(annotate(image, faces)[:, :, ::-1], caption=upload.name, use_container_width=True)
    if not faces:
        right.info(f"{upload.name}: no face found. Try a photo where faces are larger and facing the camera.")
    for i, face in enumerate(faces, 1):
        right.markdown(f"**Face {i}: {face.emotion}** ({face.scores[face.emotion]:.0%})")
        right.bar_chart(pd.Series(face.scores, name="probability"), horizontal=True, height=200)
