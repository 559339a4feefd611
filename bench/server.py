"""The page under load: a Streamlit server of app.py, headless Chromium with a fake camera, the inputs they are given
(photos and a camera clip of real FER2013 faces) and the server's memory."""

from __future__ import annotations

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

from emotion.imageio import read_image
from emotion.preprocess import preprocess_face
from synthetic.scenes import background, make_scene, paste_face

ROOT = Path(__file__).resolve().parents[1]
FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream"]


def camera_clip(path: Path, frames: int = 90) -> None:
    """An MJPEG clip (640x480) of two real faces drifting over a room-like background."""
    rng = np.random.default_rng(0)
    faces = [preprocess_face(read_image(sorted((FER_VAL / c).glob("*.jpg"))[0])) for c in ("happy", "surprise")]
    bg = background(480, 640, rng)
    with open(path, "wb") as fh:
        for i in range(frames):
            frame = bg.copy()
            paste_face(frame, faces[0], (60 + int(30 * np.sin(i / 12)), 120, 200, 200))
            paste_face(frame, faces[1], (380, 140 + int(20 * np.cos(i / 12)), 180, 180))
            fh.write(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())


def start_server(limit: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)],
                              cwd=ROOT, env={**os.environ, "MOOD_MAX_LIVE_VIEWERS": str(limit)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read() == b"ok":
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the page did not start within 2 minutes")


def rss_mb(pid: int) -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024


def faces(n: int, seed: int) -> list[np.ndarray]:
    files = [f for c in ("happy", "sad", "surprise", "angry", "neutral", "fear") for f in sorted((FER_VAL / c).glob("*.jpg"))[:20]]
    rng = np.random.default_rng(seed)
    return [preprocess_face(read_image(files[i])) for i in rng.choice(len(files), n, replace=False)]


def photo(path: Path, n: int, seed: int, shape=(720, 1280), size: int = 150) -> Path:
    """A JPEG of `n` real faces (a new picture per seed: the page's cache must not answer)."""
    scene, _ = make_scene(faces(n, seed), [size - 10 * (i % 3) for i in range(n)], shape=shape, seed=seed)
    cv2.imwrite(str(path), scene, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def reset_peak(pid: int) -> None:
    """Start the process's peak-memory mark (VmHWM) afresh from its current size (Linux, as root or owner)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def peak_mb(pid: int) -> float:
    return int(re.search(r"VmHWM:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024
