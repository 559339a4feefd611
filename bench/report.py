"""What every benchmark reports beside its figures: the machine, its CPU kind and how busy it was, and its section
of bench/RESULTS.md."""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path


def cpu_kind() -> tuple[str, str]:
    """The CPU kind's section title in RESULTS.md and its relevant flags (VNNI decides int8's speed)."""
    from emotion.inference import cpu_has_vnni

    flags = set(Path("/proc/cpuinfo").read_text().split())
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8") if f in flags]
    return ("CPU with VNNI" if cpu_has_vnni() else "CPU without VNNI"), ", ".join(shown) or "none of avx2/avx512/vnni"


def write_section(results: Path, title: str, body: list[str]) -> None:
    """Replace this CPU kind's section of `results` (a `## title` and what follows up to the next one), keep the rest;
    `-` writes nothing (a run only to look at)."""
    if str(results) == "-":
        return
    head = "# Real-time benchmark: our live path vs the `fer` package\n\nOne section per CPU kind; each written by " \
           "`python -m bench.realtime` on a machine of that kind.\n"
    text = results.read_text() if results.exists() else head
    sections = {}
    for part in text.split("\n## ")[1:]:
        name, _, rest = part.partition("\n")
        sections[name.strip()] = rest
    sections[title] = "\n" + "\n".join(body) + "\n"
    results.write_text(head + "".join(f"\n## {name}\n{rest}" for name, rest in sorted(sections.items())))


def machine() -> str:
    """CPU model, cores, memory, Python and TensorFlow versions."""
    import tensorflow as tf

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpus = len(tf.config.list_physical_devices("GPU"))
    return (f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GiB, {gpus or 'no'} GPU; {platform.system()} {platform.machine()}, "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}")


def cpu_busy(seconds: float = 2.0) -> float | None:
    """Share of all cores busy over the next `seconds` (Linux /proc/stat; None elsewhere). Unlike the
    load average, which lags by a minute, it sees only what runs now."""
    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    try:
        idle0, total0 = sample()
        time.sleep(seconds)
        idle1, total1 = sample()
    except OSError:
        return None
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def busy_warning() -> str | None:
    """A warning (also printed) when other work is running: it slows every figure (1.057 vs 0.795 ms/face next to a
    training job)."""
    busy = cpu_busy()
    if busy is not None and busy > 0.2:
        warning = (f"{busy:.0%} of the CPU was busy before the benchmark started: another job is running, "
                   "so these figures are slower than this machine can do; re-run when it is idle")
        print(f"warning: {warning}", file=sys.stderr)
        return warning
    return None
