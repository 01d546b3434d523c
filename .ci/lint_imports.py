"""Check the import contracts of `.importlinter` (import-linter) on the source tree.

``extra`` adds files to a room (tests use it to prove that a wrong import fails).

    python .ci/lint_imports.py            # exit 0 when every contract is kept
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from source_tree import REPO, lay_out  # noqa: E402  (a script beside this one, not a package)


def check(
    extra: dict[str, str] | None = None, config: Path = REPO / ".importlinter"
) -> subprocess.CompletedProcess:
    lint = Path(sys.executable).with_name("lint-imports")
    with tempfile.TemporaryDirectory(prefix="cardioagent-imports-") as tmp:
        root = lay_out(Path(tmp), extra=extra)
        env = {**os.environ, "PYTHONPATH": str(root)}
        return subprocess.run(
            [str(lint), "--no-cache", str(config)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )


if __name__ == "__main__":
    result = check()
    print(result.stdout[result.stdout.find("Contracts") :] if "Contracts" in result.stdout else result.stdout)
    print(result.stderr, file=sys.stderr, end="")
    sys.exit(result.returncode)
