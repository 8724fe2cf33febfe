"""Checkpoint files for long simulations: finished chunks are saved, and a later call with
the same settings resumes from them.

The file is a NumPy ``.npz`` archive read with ``allow_pickle=False`` (nothing in it can
execute code), holding a fingerprint of the run's settings and one array per chunk output.
It is written to a temporary file and renamed, so an interrupted save never corrupts it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from ..exceptions import ArgumentError

__all__ = ["ChunkStore", "fingerprint"]


def fingerprint(*parts: object) -> str:
    """A SHA-256 of the run's settings (arrays by their bytes, everything else by repr)."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).tobytes())
            h.update(str(part.shape).encode())
        else:
            h.update(repr(part).encode())
        h.update(b"|")
    return h.hexdigest()


class ChunkStore:
    """Finished chunks keyed by ``(size index, first replicate)``; ``path=None``: in memory only."""

    def __init__(self, path: str | os.PathLike | None, stamp: str):
        self.path = None if path is None else Path(path)
        self.stamp = stamp
        self.chunks: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                stamp = str(archive["__fingerprint__"])
                if stamp != self.stamp:
                    raise ArgumentError(f"checkpoint: {str(self.path)!r} belongs to a run with other settings "
                                        f"(model, seed, sizes, n_rep, batch_size, ...); delete it or pass another path")
                for name in archive.files:
                    if name == "__fingerprint__":
                        continue
                    i, start, key = name.split(":", 2)
                    self.chunks.setdefault((int(i), int(start)), {})[key] = archive[name]
        except ArgumentError:
            raise
        except Exception as exc:   # not an npz archive, truncated, ...
            raise ArgumentError(f"checkpoint: {str(self.path)!r} is not an lcsem simulation checkpoint "
                                f"({type(exc).__name__}); delete it or pass another path") from None

    def add(self, i: int, start: int, out: dict[str, np.ndarray]) -> None:
        self.chunks[(i, start)] = out
        if self.path is None:
            return
        arrays = {f"{a}:{b}:{k}": v for (a, b), o in self.chunks.items() for k, v in o.items()}
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, __fingerprint__=np.array(self.stamp), **arrays)
        os.replace(tmp, self.path)
