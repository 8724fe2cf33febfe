"""The versions of lcsem and the libraries behind a result."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version


@lru_cache(maxsize=1)
def _installed_versions() -> tuple[tuple[str, str], ...]:
    out = []
    for name in ("lcsem", "semopy", "numpy", "pandas", "scipy"):
        try:
            out.append((name, version(name)))
        except PackageNotFoundError:
            out.append((name, "unknown"))
    return tuple(out)


def versions() -> dict[str, str]:
    """Versions of lcsem and the libraries behind a result (read once per process)."""
    return dict(_installed_versions())
