"""mypy over the rooms (configuration: ``[tool.mypy]`` in pyproject.toml).

The cache lives in ``.mypy_cache`` at the repository root, so a second run checks only what changed.

    python .ci/typecheck.py [extra mypy arguments]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from source_tree import REPO, ROOMS, lay_out  # noqa: E402  (a script beside this one, not a package)

if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="cardioagent-types-") as tmp:
        lay_out(Path(tmp))
        packages = [arg for room in ROOMS for arg in ("-p", f"cardioagent.{room}")]
        cmd = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(REPO / ".mypy_cache"),
            *packages,
            *sys.argv[1:],
        ]
        sys.exit(subprocess.run(cmd, cwd=tmp).returncode)
