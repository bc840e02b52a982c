"""Prints the files under each DIR (relative to ROOT) that `pip install .` ships.

meson has no glob on purpose; the package's files are listed here instead so
that a new module or adapter needs no line in any meson.build. Caches and
build outputs that a checkout may hold are left out.
"""

import sys
from pathlib import Path

SKIP_PARTS = {"__pycache__", "node_modules", "target", ".ruff_cache", ".mypy_cache"}


def main() -> None:
    root = Path(sys.argv[1])
    for name in sys.argv[2:]:
        for path in sorted((root / name).rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and not SKIP_PARTS & set(rel.parts) and path.suffix != ".pyc":
                print(rel.as_posix())


main()
