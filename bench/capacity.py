"""Live capacity with light WebRTC clients: N viewers on one server process, served as the page serves them.

    python -m bench.capacity [--viewers 1 2 4 8] [--seconds 60] [--soak 300] [--limit 2]

The server side is the page's own: per viewer one streamlit-webrtc `WebRtcWorker` (decode, the page's frame
callback `emotion.video.Viewer.on_frame`, encode back) on the shared live detector, in this process. The viewers
are aiortc peers in a second process: each sends a VP8 clip encoded once beforehand (640x480, 30 fps, two real
FER2013 faces drifting over a room), so no client encodes, and receives the annotated video back; offers and answers
go over a pipe. bench/load.py drives the real page from Chromium, whose pages took most of the 2 cores the server
shares with them; these clients take a fraction.

First every N in --viewers with no limit (what the machine holds), then the largest N with the page's limit (viewers
over it get the busy notice, the others keep their rate), then --soak seconds at the limit (does the lag grow?).
Every 5 s: each viewer's frames/s analysed, p50/p95 ms a frame and added delay (the page's live readout,
`LiveProcessor.stats`), frames/s received back by the client, busy or not; the server's and the clients' CPU use,
and the server's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
FER_VAL = ROOT.parent / "shared" / "datasets" / "fer2013" / "val"
SAMPLE_SECONDS = 5.0
WARMUP_SECONDS = 10.0


def vp8_clip(path: Path, seconds: float) -> None:
    """Two real faces moving over a background, 640x480 at 30 fps, encoded once as VP8 (WebM)."""
    import av

    from emotion.imageio import read_image
    from emotion.preprocess import preprocess_face
    from synthetic.scenes import moving_faces

    faces = [preprocess_face(read_image(sorted((FER_VAL / c).glob("*.jpg"))[0])) for c in ("happy", "surprise")]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libvpx", rate=30, options={"deadline": "realtime", "cpu-used": "8"})
        stream.width, stream.height, stream.pix_fmt, stream.bit_rate = 640, 480, "yuv420p", 1_000_000
        for frame, _ in moving_faces(faces, int(seconds * 30), np.random.default_rng(0)):
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")))
        out.mux(stream.encode())


# ---- the viewers' process ------------------------------------------------------------------------------------------

def clients(conn, clip: str) -> None:
    """The viewers: on ("start", n) n more peers offer (answers come back over `conn`); ("counts",) sends the frames
    each has received; ("stop",) closes them all; ("exit",) ends the process."""
    asyncio.run(_clients(conn, clip))


async def _clients(conn, clip: str) -> None:
    from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription
    from aiortc.contrib.media import MediaPlayer

    loop = asyncio.get_running_loop()
    peers: list = []
    received: list[int] = []

    async def count(track, k: int) -> None:
        while True:
            try:
                await track.recv()
            except Exception:  # noqa: BLE001  the peer closed
                return
            received[k] += 1

    async def connect(k: int) -> None:
        pc = RTCPeerConnection()
        player = MediaPlayer(clip, decode=False)  # the packets as encoded: this client never encodes
        transceiver = pc.addTransceiver(player.video, direction="sendrecv")
        transceiver.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                         if c.mimeType in ("video/VP8", "video/rtx")])
        received.append(0)
        pc.on("track", lambda track: loop.create_task(count(track, k)))
        await pc.setLocalDescription(await pc.createOffer())
        conn.send(("offer", k, pc.localDescription.sdp))
        sdp = await loop.run_in_executor(None, conn.recv)
        await pc.setRemoteDescription(RTCSessionDescription(sdp, "answer"))
        peers.append((pc, player))

    while True:
        command = await loop.run_in_executor(None, conn.recv)
        if command[0] == "start":
            for _ in range(command[1]):
                await connect(len(received))
            conn.send(("started",))
        elif command[0] == "counts":
            conn.send(("counts", list(received)))
        elif command[0] in ("stop", "exit"):
            for pc, player in peers:
                await pc.close()
            peers.clear()
            received.clear()
            conn.send(("stopped",))
            if command[0] == "exit":
                return


# ---- the server side -----------------------------------------------------------------------------------------------

class Server:
    """The page's live path for many viewers, without the page: WebRtcWorkers on one event loop thread."""

    def __init__(self, limit: int):
        from aiortc.contrib.media import MediaRelay

        from emotion.detector import EmotionDetector, live_model
        from emotion.video import ViewerLimit

        self.detector = EmotionDetector.load(live_model(), finder="live", tta=False)  # as the page's live tab
        self.limit = ViewerLimit(limit)
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.relay = asyncio.run_coroutine_threadsafe(self._make_relay(MediaRelay), self.loop).result()
        self.viewers: list = []
        self.workers: list = []

    @staticmethod
    async def _make_relay(make):
        return make()

    def answer(self, sdp: str) -> str:
        """A new viewer: its worker, the answer to its offer."""
        from streamlit_webrtc.webrtc import WebRtcMode, WebRtcWorker

        from emotion.video import Viewer

        viewer = Viewer(self.detector, self.limit)
        worker = WebRtcWorker(
            mode=WebRtcMode.SENDRECV, rtc_configuration=None, source_video_track=None, source_audio_track=None,
            sink_video_track=None, sink_audio_track=None, player_factory=None, in_recorder_factory=None,
            out_recorder_factory=None, video_frame_callback=viewer.on_frame, audio_frame_callback=None,
            queued_video_frames_callback=None, queued_audio_frames_callback=None, on_video_ended=None,
            on_audio_ended=None, video_processor_factory=None, audio_processor_factory=None,
            async_processing=True, video_receiver_size=4, audio_receiver_size=4, sendback_video=True,
            sendback_audio=False, loop=self.loop, relay=self.relay)  # as app.live_tab's webrtc_streamer
        self.viewers.append(viewer)
        self.workers.append(worker)
        return worker.process_offer(sdp, "offer", timeout=60).sdp

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop(timeout=2)
        self.viewers.clear()
        self.workers.clear()


def run(server: Server, conn, client_pid: int, n: int, seconds: float, limit: int) -> dict:
    """N viewers for `seconds` after a warm-up: per-viewer medians of the 5-second samples, CPU and memory."""
    server.limit.limit = limit
    conn.send(("start", n))
    while (message := conn.recv())[0] == "offer":
        conn.send(server.answer(message[2]))
    time.sleep(WARMUP_SECONDS)
    me, client = psutil.Process(), psutil.Process(client_pid)
    cpu0 = (sum(me.cpu_times()[:2]), sum(client.cpu_times()[:2]), time.monotonic())
    conn.send(("counts",))
    counts0 = conn.recv()[1]
    samples: list[list] = [[] for _ in range(n)]
    rss = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(SAMPLE_SECONDS)
        for k, viewer in enumerate(server.viewers):
            samples[k].append("busy" if viewer.turned_away.is_set() else viewer.processor.stats())
        rss.append(me.memory_info().rss / 2**20)
    wall = time.monotonic() - cpu0[2]
    conn.send(("counts",))
    counts = conn.recv()[1]
    result = {
        "n": n, "limit": limit, "seconds": seconds,
        "server_cpu": (sum(me.cpu_times()[:2]) - cpu0[0]) / wall / os.cpu_count(),
        "client_cpu": (sum(client.cpu_times()[:2]) - cpu0[1]) / wall / os.cpu_count(),
        "rss_mb": max(rss), "viewers": [],
    }
    for k, rows in enumerate(samples):
        stats = [r for r in rows if isinstance(r, dict)]
        result["viewers"].append({
            "busy": sum(r == "busy" for r in rows) > len(rows) / 2,
            "received_fps": (counts[k] - counts0[k]) / wall,
            **{key: float(np.median([s[key] for s in stats])) if stats else None
               for key in ("fps", "p50_ms", "p95_ms", "lag_ms")},
            "lag_first": stats[0]["lag_ms"] if stats else None, "lag_last": stats[-1]["lag_ms"] if stats else None,
        })
    conn.send(("stop",))
    conn.recv()
    server.stop()
    time.sleep(4)  # the limit frees a viewer's place after ViewerLimit.IDLE_SECONDS
    return result


def row(r: dict) -> str:
    served = [v for v in r["viewers"] if not v["busy"] and v["fps"] is not None]
    fmt = lambda key, f: f"{min(v[key] for v in served):{f}}-{max(v[key] for v in served):{f}}" if served else "-"  # noqa: E731
    return (f"| {r['n']} | {r['limit']} | {r['seconds']:.0f} | {len(served)} | {len(r['viewers']) - len(served)} | "
            f"{fmt('fps', '.1f')} | "
            f"{fmt('received_fps', '.1f')} | {fmt('p50_ms', '.0f')} | {fmt('p95_ms', '.0f')} | {fmt('lag_ms', '.0f')} | "
            f"{r['server_cpu']:.0%} | {r['client_cpu']:.0%} | {r['rss_mb']:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--soak", type=float, default=300)
    parser.add_argument("--limit", type=int, default=os.cpu_count() or 2, help="the page's limit (default: one "
                        "viewer per core, as MOOD_MAX_LIVE_VIEWERS)")
    args = parser.parse_args()
    from bench.report import busy_warning, cpu_kind, machine, write_section

    warning = busy_warning()
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "faces.webm"
        total = WARMUP_SECONDS + max(args.seconds, args.soak) + 30
        vp8_clip(clip, total)
        parent, child = mp.get_context("spawn").Pipe()
        process = mp.get_context("spawn").Process(target=clients, args=(child, str(clip)), daemon=True)
        process.start()
        server = Server(max(args.viewers))
        results = [run(server, parent, process.pid, n, args.seconds, max(args.viewers)) for n in args.viewers]
        results.append(run(server, parent, process.pid, max(args.viewers), args.seconds, args.limit))
        soak = run(server, parent, process.pid, args.limit, args.soak, args.limit) if args.soak else None
        parent.send(("exit",))
        process.join(10)
    header = ("| viewers | limit | seconds | analysed | busy | frames/s analysed, each | frames/s back at the client | "
              "p50 ms | p95 ms | added delay ms | server CPU | clients' CPU | server MB |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    text = "\n".join([header] + [row(r) for r in results + ([soak] if soak else [])])
    if soak:
        lags = [(v["lag_first"], v["lag_last"]) for v in soak["viewers"] if v["lag_first"] is not None]
        text += ("\n\nSoak (the last row): each viewer's added delay in the first and the last 5 s sample: "
                 + ", ".join(f"{a:.0f} -> {b:.0f} ms" for a, b in lags) + ".")
    print(text)
    title, flags = cpu_kind()
    write_section(ROOT / "bench" / "RESULTS.md", f"Live capacity, light WebRTC clients ({title})", [
        f"{time.strftime('%Y-%m-%d')}, `python -m bench.capacity --viewers {' '.join(map(str, args.viewers))} "
        f"--seconds {args.seconds:g} --soak {args.soak:g} --limit {args.limit}`.",
        f"Machine: {machine()}; CPU flags: {flags}.",
        *([f"**Warning**: {warning}."] if warning else []),
        __doc__.split("\n\n", 2)[2].strip().replace("\n", " "),
        "",
        text,
    ])

if __name__ == "__main__":
    main()
