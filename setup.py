"""Maps the top-level rooms onto the ``cardioagent`` namespace.

The rooms (agent/, tools/, ...) live at the top of the repository so that each is easy to find, but they
install as ``cardioagent.agent``, ``cardioagent.tools``, ... so that no package named ``tools`` leaks into
site-packages. Sub-packages are discovered here so that adding a folder with an ``__init__.py`` is enough.
"""

from pathlib import Path

from setuptools import setup

ROOMS = ["agent", "tools", "models", "knowledge_base", "ui"]
HERE = Path(__file__).parent


def _packages() -> list[str]:
    found = []
    for room in ROOMS:
        for init in sorted((HERE / room).rglob("__init__.py")):
            rel = init.parent.relative_to(HERE)
            found.append("cardioagent." + ".".join(rel.parts))
    return found


DATA = ["*.yaml", "*.yml", "*.md", "*.json", "*.csv", "*.txt", "*.safetensors", "*.pt", "*.png"]

setup(
    packages=_packages(),
    package_dir={f"cardioagent.{room}": room for room in ROOMS},
    package_data={f"cardioagent.{room}": [f"**/{g}" for g in DATA] for room in ROOMS},
)
