"""A copy of the package's source tree and a fresh virtualenv beside it, for the tests that
install strigil the way a user or the image does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def context_and_venv(tmp_path: Path, files: tuple[str, ...]) -> tuple[Path, Path]:
    """`files` from the repository's root and `src/` copied to tmp_path/context, and an
    empty virtualenv at tmp_path/venv made from the interpreter this suite runs on."""
    context = tmp_path / "context"
    context.mkdir()
    for name in files:
        shutil.copy(ROOT / name, context / name)
    shutil.copytree(ROOT / "src", context / "src", ignore=shutil.ignore_patterns("__pycache__"))
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True)
    return context, venv
