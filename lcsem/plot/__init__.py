"""Path diagrams, bootstrap distributions and residual heatmaps drawn with matplotlib.

Only this package imports matplotlib (and only when a plot is drawn); ``import lcsem``
does not. No Graphviz is needed.

- :func:`plot_path` — path diagram of a fitted model laid out for its printed width
  (estimates, stars or bootstrap CIs, R², fit caption; colour or black and white);
  :class:`PlotLegibilityWarning` when text would print below 6 pt.
- :func:`plot_groups` — one path-diagram panel per group of a multi-group fit, in one figure
  (``plot_path(res, group=...)`` draws one group).
- :func:`path_layout` — the pure layout behind it (node positions and edge routes).
- :func:`plot_bootstrap` — bootstrap distributions with sample value, CI and cut-offs.
- :func:`plot_residuals` — heatmap of residual correlations.
"""

from __future__ import annotations

from ..exceptions import PlotLegibilityWarning
from .bootstrap_plot import plot_bootstrap
from .layout import Edge, Layout, Node, path_layout
from .path_diagram import caption_text, plot_path
from .panels import plot_groups
from .residuals import plot_residuals

__all__ = ["plot_path", "plot_groups", "path_layout", "plot_bootstrap", "plot_residuals", "caption_text",
           "Layout", "Node", "Edge", "PlotLegibilityWarning"]
