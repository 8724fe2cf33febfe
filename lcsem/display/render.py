"""Render DataFrames as plain text, Markdown, LaTeX or HTML tables (no extra dependencies)."""

from __future__ import annotations


import pandas as pd

from ..exceptions import ArgumentError
from .escape import html_escape, latex_escape
from .format import format_value

FORMATS = ("text", "markdown", "latex", "html")


def _cells(frame: pd.DataFrame, digits: int, index: bool) -> tuple[list[str], list[list[str]]]:
    header = ([str(frame.index.name or "")] if index else []) + [str(c) for c in frame.columns]
    body = []
    for label, row in zip(frame.index, frame.itertuples(index=False)):
        cells = [format_value(v, digits) for v in row]
        body.append(([str(label)] if index else []) + cells)
    return header, body


_NUMERIC_START = set("0123456789.-+<>≤[(−")


def _numeric_columns(body: list[list[str]], n_columns: int) -> list[bool]:
    """Columns whose non-empty cells all look numeric (right-aligned); the rest left."""
    out = []
    for j in range(n_columns):
        cells = [r[j].strip() for r in body if r[j].strip()]
        out.append(bool(cells) and all(c[0] in _NUMERIC_START for c in cells))
    return out


def render_table(frame: pd.DataFrame, fmt: str = "text", *, digits: int = 3, index: bool = True,
                 caption: str = "") -> str:
    """Render ``frame`` in one of :data:`FORMATS`."""
    header, body = _cells(frame, digits, index)
    right = _numeric_columns(body, len(header))
    if index:
        right[0] = False
    if fmt == "text":
        widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) if right[i] else h.ljust(w)
                           for i, (h, w) in enumerate(zip(header, widths))).rstrip()]
        lines += ["  ".join(c.rjust(w) if right[i] else c.ljust(w)
                            for i, (c, w) in enumerate(zip(r, widths))).rstrip() for r in body]
        return (caption + "\n" if caption else "") + "\n".join(lines)
    if fmt == "markdown":
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        lines = ["| " + " | ".join(esc(h) for h in header) + " |",
                 "|" + "|".join("---:" if right[i] else ":---" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in body]
        return (f"**{caption}**\n\n" if caption else "") + "\n".join(lines)
    if fmt == "latex":
        esc = latex_escape
        align = "".join("r" if r else "l" for r in right)
        lines = [r"\begin{table}[htbp]", r"\centering"]
        if caption:
            lines.append(rf"\caption{{{esc(caption)}}}")
        lines += [rf"\begin{{tabular}}{{{align}}}", r"\hline",
                  " & ".join(esc(h) for h in header) + r" \\", r"\hline"]
        lines += [" & ".join(esc(c) for c in r) + r" \\" for r in body]
        lines += [r"\hline", r"\end{tabular}", r"\end{table}"]
        return "\n".join(lines)
    if fmt == "html":
        cap = f"<caption>{html_escape(caption)}</caption>" if caption else ""
        head = "".join(f"<th>{html_escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{html_escape(c)}</td>" for c in r) + "</tr>" for r in body)
        return f'<table class="lcsem">{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    raise ArgumentError(f"format: {fmt!r} is not one of {FORMATS}")


class SummaryRendering:
    """Mix-in for results with ``summary(format, digits)``: Markdown, LaTeX and HTML
    renderings, the notebook display and ``str()`` all come from it."""

    def summary(self, format: str = "text", digits: int = 3) -> str:  # pragma: no cover - overridden
        raise NotImplementedError

    def to_markdown(self, digits: int = 3) -> str:
        """The summary as Markdown."""
        return self.summary("markdown", digits)

    def to_latex(self, digits: int = 3) -> str:
        """The summary as LaTeX."""
        return self.summary("latex", digits)

    def to_html(self, digits: int = 3) -> str:
        """The summary as HTML."""
        return self.summary("html", digits)

    def _repr_html_(self) -> str:
        return self.summary("html")

    def __str__(self) -> str:
        return self.summary("text")
