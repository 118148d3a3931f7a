"""Print the requirements of pyproject.toml's optional-dependency groups, one a line, for
`pip install -r` without building the package (the docs build needs no compiled extension).

    python scripts/requirements.py docs [more extras...] [--dependencies]
"""

from __future__ import annotations

import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def main(argv: list[str]) -> int:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    names = [a for a in argv if not a.startswith("--")]
    unknown = [n for n in names if n not in extras]
    if unknown or not names:
        print(f"usage: requirements.py EXTRA... [--dependencies]; extras: {', '.join(extras)}", file=sys.stderr)
        return 2
    lines = list(project.get("dependencies", [])) if "--dependencies" in argv else []
    for name in names:
        lines += extras[name]
    print("\n".join(dict.fromkeys(lines)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
