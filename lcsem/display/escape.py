"""The one place that escapes text for LaTeX and HTML output."""

from __future__ import annotations

import html as _html

__all__ = ["latex_escape", "html_escape"]

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


def html_escape(text: str) -> str:
    """Escape ``&``, ``<``, ``>`` and quotes for HTML."""
    return _html.escape(str(text))
