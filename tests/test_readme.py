"""The README's Python examples run as written."""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_blocks_run():
    matplotlib.use("Agg")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert namespace["res"].converged
