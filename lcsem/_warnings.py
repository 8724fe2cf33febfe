"""lcsem's warnings: issued to the caller and recorded per call, safe under threads.

Python's ``warnings.catch_warnings`` changes process-wide state, so two threads that
fit at once would record (or silence) each other's warnings. lcsem therefore issues its
warnings through :func:`warn`, which appends the message to every recorder active *in
the current context* (a :class:`contextvars.ContextVar`, private to each thread and
task) and then forwards it to :func:`warnings.warn` unless a :func:`quiet` block is
active in that context.

>>> with recording() as messages:          # doctest: +SKIP
...     res = _estimate(...)               # every lcsem warning of this call lands in messages
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Iterator


@dataclass(frozen=True)
class Recorded:
    """One recorded warning."""

    category: type[Warning]
    message: str


# (recorders, forward): the lists that collect warnings in this context, and whether
# warnings reach ``warnings.warn``
_STATE: ContextVar[tuple[tuple[list[Recorded], ...], bool]] = ContextVar("lcsem_warnings", default=((), True))


def warn(message: str, category: type[Warning], stacklevel: int = 2) -> None:
    """Record ``message`` in every active recorder and issue it (unless quiet)."""
    recorders, forward = _STATE.get()
    item = Recorded(category, str(message))
    for rec in recorders:
        rec.append(item)
    if forward:
        warnings.warn(message, category, stacklevel=stacklevel + 1)


@contextmanager
def recording() -> Iterator[list[Recorded]]:
    """Collect every lcsem warning issued in this context (nested recorders all see it)."""
    recorders, forward = _STATE.get()
    mine: list[Recorded] = []
    token = _STATE.set((recorders + (mine,), forward))
    try:
        yield mine
    finally:
        _STATE.reset(token)


@contextmanager
def quiet() -> Iterator[list[Recorded]]:
    """Record lcsem warnings in this context without issuing them to the caller."""
    recorders, _ = _STATE.get()
    mine: list[Recorded] = []
    token = _STATE.set((recorders + (mine,), False))
    try:
        yield mine
    finally:
        _STATE.reset(token)
