"""Render DataFrames as plain text, Markdown, LaTeX or HTML tables (no extra dependencies)."""

from __future__ import annotations

import html as _html

import numpy as np
import pandas as pd

from ..exceptions import ArgumentError

FORMATS = ("text", "markdown", "latex", "html")


def format_value(value: object, digits: int = 3) -> str:
    """Numbers with ``digits`` decimals, NaN as an empty cell, everything else as text."""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return ""
        if value != 0 and abs(value) < 10 ** (-digits):
            return f"{value:.{digits}e}" if abs(value) >= 1e-300 else "0"
        return f"{value:.{digits}f}"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


def format_raw(value: float, digits: int = 3) -> str:
    """A raw-scale number (estimate, SE, interval bound in the data's units) with
    ``digits`` decimals, in scientific notation when that would print a non-zero value
    as 0 (variables measured in tiny units); an en dash for NaN."""
    if value is None or not np.isfinite(value):
        return "–"
    if value != 0 and abs(value) < 0.5 * 10 ** (-digits):
        return f"{value:.{max(digits - 1, 1)}e}"
    return f"{value:.{digits}f}"


def format_p(p: float, digits: int = 3) -> str:
    """APA p-value: no leading zero, ``< .001`` below the smallest shown value."""
    if p is None or not np.isfinite(p):
        return "–"
    floor = 10 ** (-digits)
    if p < floor:
        return "< " + f"{floor:.{digits}f}".lstrip("0")
    return f"{p:.{digits}f}".lstrip("0") if p < 1 else f"{1:.{digits}f}"


def format_boot_p(p: float, n_boot: int, digits: int = 3, sides: int = 2) -> str:
    """A bootstrap p-value (never 0: lcsem uses the ``(1 + k)/(B + 1)`` convention).

    At its floor -- ``2/(B + 1)`` two-sided, ``1/(B + 1)`` one-sided, when no replicate
    fell on the far side -- it is shown as ``≤ floor`` (rounded up, with enough decimals
    not to read as 0): ``B`` replicates cannot resolve a smaller p-value.
    """
    if p is None or not np.isfinite(p):
        return "–"
    floor = sides / (n_boot + 1) if n_boot > 0 else 0.0
    if floor and p <= floor * (1 + 1e-9):
        # rounded up (so the bound stays true), with the fewest decimals (at least
        # ``digits``) that keep it within 1.5 times the floor
        for decimals in range(digits, 16):
            bound = np.ceil(floor * 10 ** decimals * (1 - 1e-12)) / 10 ** decimals
            if bound <= 1.5 * floor:
                break
        return "≤ " + f"{bound:.{decimals}f}".lstrip("0")
    return format_p(p, digits)


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


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "_": r"\_", "#": r"\#",
                  "$": r"\$", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}"}
_LATEX_ARROWS = {"->": r"$\rightarrow$", "=>": r"$\Rightarrow$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters; arrows become math arrows."""
    out = []
    i = 0
    while i < len(text):
        pair = text[i:i + 2]
        if pair in _LATEX_ARROWS:
            out.append(_LATEX_ARROWS[pair])
            i += 2
            continue
        out.append(_LATEX_SPECIAL.get(text[i], text[i]))
        i += 1
    return "".join(out)


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
        cap = f"<caption>{_html.escape(caption)}</caption>" if caption else ""
        head = "".join(f"<th>{_html.escape(h)}</th>" for h in header)
        rows = "".join("<tr>" + "".join(f"<td>{_html.escape(c)}</td>" for c in r) + "</tr>" for r in body)
        return f'<table class="lcsem">{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
    raise ArgumentError(f"format: {fmt!r} is not one of {FORMATS}")
