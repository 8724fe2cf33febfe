"""Path diagrams, bootstrap distributions and residual heatmaps drawn with matplotlib.

Only this package imports matplotlib; ``import lcsem`` does not.
"""

from __future__ import annotations

from .layout import Edge, Layout, Node, path_layout

__all__ = ["path_layout", "Layout", "Node", "Edge"]
from .path_diagram import caption_text, plot_path

__all__ += ["plot_path", "caption_text"]
