"""Capacity of the live page: N viewers with fake webcams on one server, per-viewer frame rate and latency.

    python -m bench.load [--viewers 1 2 4 8] [--seconds 60] [--soak 300] [--limit 4] [--uploaders 1 2 4]

Starts `streamlit run app.py` (with MOOD_MAX_LIVE_VIEWERS=--limit) and, for each N, one headless Debian
Chromium with N pages, each sending a clip of real FER2013 faces from a fake camera. Every 5 s it reads
each page's live readout (frames/s analysed, ms a frame, added delay behind the camera), its "busy" notice or a
stopped stream (the browser gave up the connection), and the server's CPU use and resident memory. With --soak S, the largest N within the limit runs S seconds
and the lag's growth over that time is reported. With --uploaders M, M users upload a 12-megapixel group photo
each at the same moment: the slowest wait for the result and the server's peak memory. Prints the tables and
writes them to bench/RESULTS.md.
The browsers run on the same cores as the server, so the figures are a lower bound of a real deployment.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.report import cpu_kind, machine, write_section
from bench.server import CHROMIUM, CHROMIUM_ARGS, camera_clip, peak_mb, photo, reset_peak, rss_mb, start_server

ROOT = Path(__file__).resolve().parents[1]
READOUT = re.compile(r"Analysing ([\d.]+) frames/s · (\d+) ms a frame \(p95 (\d+) ms\) · (-?\d+) ms added delay")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def readouts(pages) -> list[tuple | str | None]:
    """Each page's (fps, p50 ms, p95 ms, lag ms), "busy", "lost" (its stream stopped: START shows again, though
    nobody pressed STOP), or None (no figure yet)."""
    out = []
    for page in pages:
        text = page.inner_text("body")
        if page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").count():
            out.append("lost")
        elif "The server is analysing" in text:
            out.append("busy")
        elif m := READOUT.search(text):
            out.append(tuple(float(v) for v in m.groups()))
        else:
            out.append(None)
    return out


def run(playwright, url: str, clip: Path, n: int, seconds: float, server_pid: int) -> dict:
    """N viewers for `seconds`: medians of each viewer's samples, then the worst and typical viewer."""
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [f"--use-file-for-fake-video-capture={clip}"])
    try:
        pages = []
        for _ in range(n):
            page = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900}).new_page()
            page.goto(url)
            page.get_by_role("tab", name="🎥 Live webcam").click(timeout=120_000)
            page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").click(timeout=120_000)
            pages.append(page)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and any(r is None for r in readouts(pages)):
            time.sleep(2)
        samples: list[list] = [[] for _ in pages]
        cpu0, t0, rss = cpu_seconds(server_pid), time.monotonic(), []
        end = t0 + seconds
        while time.monotonic() < end:
            time.sleep(5)
            for k, r in enumerate(readouts(pages)):
                samples[k].append(r)
            rss.append(rss_mb(server_pid))
        cpu = (cpu_seconds(server_pid) - cpu0) / (time.monotonic() - t0) / os.cpu_count()
        served = [[s for s in viewer if isinstance(s, tuple)] for viewer in samples]
        served = [v for v in served if len(v) >= max(1, len(samples[0]) // 2)]
        busy = sum(sum(s == "busy" for s in viewer) > len(viewer) // 2 for viewer in samples)
        lost = sum("lost" in viewer for viewer in samples)
        result = {"viewers": n, "served": len(served), "busy": busy, "lost": lost, "server_cpu": cpu,
                  "server_rss_mb": max(rss)}
        if served:
            fps = [float(np.median([s[0] for s in v])) for v in served]
            p95 = [float(np.median([s[2] for s in v])) for v in served]
            growth = [v[-1][3] - v[0][3] for v in served]
            result.update(fps_min=min(fps), fps_median=float(np.median(fps)), p95_ms_max=max(p95),
                          lag_growth_ms_max=max(growth))
        return result
    finally:
        browser.close()


def uploads(playwright, url: str, m: int, server_pid: int, folder: Path) -> dict:
    """M users uploading a different 4000x3000 photo of 6 faces at once: seconds until the last sees its result."""

    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        pages = []
        for k in range(m):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.get_by_text("Films for your mood").wait_for(timeout=120_000)
            pages.append((page, photo(folder / f"user{m}_{k}.jpg", 6, seed=1000 + 10 * m + k, shape=(3000, 4000), size=300)))
        before = rss_mb(server_pid)
        reset_peak(server_pid)
        start = time.monotonic()
        for page, path in pages:
            page.locator("input[type=file]").first.set_input_files(str(path))
        for page, _ in pages:
            page.get_by_text("— mood of").first.wait_for(timeout=600_000)
        return {"uploaders": m, "last_result_s": time.monotonic() - start, "peak_mb": peak_mb(server_pid) - before}
    finally:
        browser.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=60, help="measuring time per N after all viewers run")
    parser.add_argument("--soak", type=float, default=0, help="seconds of the largest N within --limit, for lag growth")
    parser.add_argument("--limit", type=int, default=4, help="the server's MOOD_MAX_LIVE_VIEWERS")
    parser.add_argument("--uploaders", type=int, nargs="*", default=[], help="concurrent photo uploads to measure")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md", help="'-' for none")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit("needs Debian's chromium: apt-get install chromium")

    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "camera.mjpeg"
        camera_clip(clip)
        server, url = start_server(args.limit)
        try:
            with sync_playwright() as p:
                rows = [run(p, url, clip, n, args.seconds, server.pid) for n in args.viewers]
                if args.soak:
                    n = max(v for v in args.viewers if v <= args.limit)
                    rows.append({**run(p, url, clip, n, args.soak, server.pid), "soak": True})
                upload_rows = [uploads(p, url, m, server.pid, Path(tmp)) for m in args.uploaders]
        finally:
            server.terminate()
            server.wait(timeout=30)

    lines = ["| viewers | analysed | told busy | stream lost | fps per viewer (min / median) | p95 ms a frame (worst) | "
             "lag growth ms (worst) | server CPU | server RSS MB |", "|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        label = f"{r['viewers']}" + (f" ({args.soak:.0f} s soak)" if r.get("soak") else "")
        fps = f"{r['fps_min']:.1f} / {r['fps_median']:.1f}" if "fps_min" in r else "-"
        lines.append(f"| {label} | {r['served']} | {r['busy']} | {r['lost']} | {fps} | "
                     f"{r.get('p95_ms_max', float('nan')):.0f} | {r.get('lag_growth_ms_max', float('nan')):.0f} | "
                     f"{r['server_cpu']:.0%} | {r['server_rss_mb']:.0f} |")
    if upload_rows:
        lines += ["", "| users uploading at once (4000x3000, 6 faces each) | last result after | server peak memory |",
                  "|---:|---:|---:|"]
        lines += [f"| {u['uploaders']} | {u['last_result_s']:.1f} s | +{u['peak_mb']:.0f} MB |" for u in upload_rows]
    print("\n".join(lines))

    title, flags = cpu_kind()
    write_section(args.results, f"Viewers on one server ({title})", [
        f"{time.strftime('%Y-%m-%d')}, `python -m bench.load --viewers {' '.join(map(str, args.viewers))} --seconds "
        f"{args.seconds:.0f}{f' --soak {args.soak:.0f}' if args.soak else ''} --limit {args.limit}"
        f"{' --uploaders ' + ' '.join(map(str, args.uploaders)) if args.uploaders else ''}`.",
        f"Machine: {machine()}; CPU flags: {flags}. The browsers (one Chromium, a page per viewer, fake 640x480 "
        "cameras with two real faces) ran on the same cores as the server.",
        "", *lines, "",
        "A stream lost is a WebRTC connection that ended by itself: its consent checks went unanswered for 30 s "
        "(aioice: \"Consent to send expired\"). Meanwhile the server used under half of the cores and the browsers "
        "the rest; with light clients in another process (`bench/capacity.py`, \"Live capacity\" above) no stream "
        "was lost, so these rows measure the browsers sharing the server's cores more than the server.",
    ])


if __name__ == "__main__":
    main()
