"""The page as a user meets it: a new server's first view, time from upload to labelled faces (one face, a group;
TTA on and off), time of a filter change after an upload, the server's peak memory for a 24 and a 50 MP photo, and
screenshots.

    python -m bench.page [--shots DIR]

Starts `streamlit run app.py`, drives it with headless Debian Chromium (Playwright), prints a table, writes it
to bench/RESULTS.md, and saves screenshots at 1280x800 and 390x844 (first view, one face, a group, the end of
the film list, the live tab running) to --shots for a person to look at.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path


from bench.report import cpu_kind, machine, write_section
from bench.server import CHROMIUM, CHROMIUM_ARGS, camera_clip, peak_mb, photo, reset_peak, rss_mb, start_server


ROOT = Path(__file__).resolve().parents[1]


def settled(page) -> None:
    """Wait until the page's script run has ended: Streamlit's status widget ("Stop") is gone."""
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=300_000)


def upload(page, path: Path) -> float:
    """Seconds from choosing the file to its labelled faces on the page."""
    start = time.perf_counter()
    page.locator("input[type=file]").first.set_input_files(str(path))
    page.get_by_text(f"{path.name}").first.wait_for(timeout=300_000)
    page.get_by_text("— mood of").first.wait_for(timeout=300_000)
    seconds = time.perf_counter() - start
    page.locator("[data-testid='stImage'] img, [data-testid='stFullScreenFrame'] img").first.wait_for(timeout=60_000)
    return seconds


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=Path, default=Path(tempfile.gettempdir()) / "mood-shots")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md", help="'-' for none")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server, url = start_server(4)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for width, height in ((1280, 800), (390, 844)):
                    page = browser.new_page(viewport={"width": width, "height": height})
                    start = time.perf_counter()
                    page.goto(url)
                    page.get_by_text("Films for your mood").wait_for(timeout=120_000)
                    if width == 1280:  # the server's first view: its models load
                        rows.append(("a new server's first view: the page drawn", f"{time.perf_counter() - start:.1f} s"))
                        settled(page)
                        rows.append(("a new server's first view: everything loaded (the face finder too)",
                                     f"{time.perf_counter() - start:.1f} s"))
                    page.screenshot(path=str(args.shots / f"first-{width}.png"), full_page=True)
                    page.close()
                for tta in (True, False):
                    for n, label in ((1, "1 face"), (8, "a group of 8")):
                        page = browser.new_page(viewport={"width": 1280, "height": 800})
                        page.goto(url)
                        page.get_by_text("Films for your mood").wait_for(timeout=120_000)
                        settled(page)  # as a person who chooses a photo once the page is there
                        if not tta:
                            page.get_by_role("switch", name="Test-time augmentation").uncheck(force=True)
                            page.wait_for_timeout(1500)
                        seconds = upload(page, photo(tmp / f"{label.replace(' ', '_')}_{tta}.jpg", n, seed=n + 10 * tta))
                        rows.append((f"upload to labelled faces, {label}, TTA {'on' if tta else 'off'}", f"{seconds:.1f} s"))
                        if tta:
                            page.wait_for_timeout(4000)  # the photo and the table drawn
                            page.screenshot(path=str(args.shots / f"{n}-faces-1280.png"), full_page=True)
                            page.set_viewport_size({"width": 390, "height": 844})
                            page.wait_for_timeout(4000)
                            page.screenshot(path=str(args.shots / f"{n}-faces-390.png"), full_page=True)
                            page.set_viewport_size({"width": 1280, "height": 800})
                        if tta and n == 1:
                            page.get_by_text(re.compile("^⚙️ Match my mood")).click()  # the films' settings
                            start = time.perf_counter()
                            page.get_by_text("Lift my mood").click()
                            page.get_by_text(re.compile("^⭐.*· To (lift|keep)")).first.wait_for(timeout=60_000)
                            rows.append(("filter change after an upload (match -> lift)", f"{time.perf_counter() - start:.2f} s"))
                            page.get_by_role("slider", name="Minimum ratings").first.focus()
                            page.keyboard.press("End")
                            for _ in range(60):  # pages of the films with 200+ ratings, to their end
                                page.wait_for_timeout(1500)  # each click reruns the page
                                if page.get_by_text("That's all").count():
                                    break
                                page.get_by_role("button", name="More films").dispatch_event("click")  # no overlay in the way
                            page.screenshot(path=str(args.shots / "end-of-films-1280.png"), full_page=True)
                        page.close()
                for height, width in ((4000, 6000), (5700, 8700)):  # 24 MP and about the 50 MP limit
                    page = browser.new_page(viewport={"width": 1280, "height": 800})
                    page.goto(url)
                    page.get_by_text("Films for your mood").wait_for(timeout=120_000)
                    before = rss_mb(server.pid)
                    reset_peak(server.pid)
                    big = photo(tmp / f"big{width}.jpg", 6, seed=width, shape=(height, width), size=400)
                    seconds = upload(page, big)
                    rows.append((f"upload to labelled faces, {width}x{height} photo of 6 faces, TTA on", f"{seconds:.1f} s"))
                    rows.append((f"server peak memory over its size before, {width}x{height} photo",
                                 f"+{peak_mb(server.pid) - before:.0f} MB"))
                    page.close()
                clip = tmp / "camera.mjpeg"
                camera_clip(clip)
                live = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [f"--use-file-for-fake-video-capture={clip}"])
                for width, height in ((1280, 800), (390, 844)):
                    page = live.new_context(permissions=["camera"], viewport={"width": width, "height": height}).new_page()
                    page.goto(url)
                    page.get_by_role("tab", name="🎥 Live webcam").click(timeout=120_000)
                    page.frame_locator("iframe[title*='webrtc']").first.get_by_role("button", name="START").click(timeout=120_000)
                    page.get_by_text("Analysing").wait_for(timeout=120_000)
                    page.wait_for_timeout(6000)
                    page.screenshot(path=str(args.shots / f"live-{width}.png"), full_page=True)
                    page.close()
                live.close()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    lines = ["| measure | value |", "|---|---:|", *[f"| {k} | {v} |" for k, v in rows]]
    print("\n".join(lines))
    print(f"screenshots: {args.shots}")
    title, flags = cpu_kind()
    write_section(args.results, f"The page ({title})", [
        f"{time.strftime('%Y-%m-%d')}, `python -m bench.page`: headless Chromium on the same machine as the server.",
        f"Machine: {machine()}; CPU flags: {flags}.", "", *lines])


if __name__ == "__main__":
    main()
