"""The runtime stands alone: importing it, or the page's imports, loads no training code and no test scenes."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys

import emotion
from conftest import ROOT


def test_the_runtime_and_the_page_never_import_training():
    runtime = [m.name for m in pkgutil.walk_packages(emotion.__path__, "emotion.") if m.name != "emotion.__main__"]
    page = [node for node in ast.parse((ROOT / "app.py").read_text()).body
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "module", "") != "__future__"]
    code = "\n".join([f"import {m}" for m in runtime] + [ast.unparse(node) for node in page]) + (
        "\nimport sys\nprint(sorted(m for m in sys.modules if m.split('.')[0] in ('training', 'synthetic')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
    assert len(runtime) >= 10  # every runtime module was imported, not none
