"""Path-diagram layout: node positions and edge routes from a model's parameter table.

Pure geometry (no matplotlib), so that it can be tested on its own. Units are inches
for 9-point names; :func:`lcsem.plot_path` scales the whole layout (boxes, gaps and
text together) to the font size asked for and then, if needed, to the printed width.

The structural variables (constructs and observed variables that are not indicators)
are arranged in columns by the longest chain of paths leading to them: exogenous
variables on the left, mediators in the centre, outcomes (variables that predict
nothing) on the right; observed covariates sharing the first column with constructs get
a column of their own. Within a column, variables are ordered by the barycentre of their
neighbours, then by swaps that remove crossings. Each construct's indicators are fanned
outside it: to the left in the first column, to the right in the last column, above or
below in between (``fans="tucked"``: above or below everywhere). A first-order factor
measured only by a higher-order factor is nested in that factor's fan, between it and
its own indicators. ``direction="TB"`` reflects the layout so that columns become rows;
``direction="fold"`` folds a chain of three or more columns into two columns facing each
other (indicators outside, paths and covariances in the band between), and
``direction="wrap"`` moves the last columns into a second row (read left to right again
or, as a snake, right to left); both split a single tall column of four or more
constructs (a CFA of many factors) into two facing columns.
A path that skips a column lifts (or lowers) the variables it would cross; any route
that would still pass through a node is bent around it. Covariances are drawn as curves
that bulge away from the diagram (or away from the construct, for indicator residuals),
each from its own port, with apex depth proportional to its span so that nested arcs do
not cross.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import hypot
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

from ..exceptions import ArgumentError
from ..results.fit_result import FitResult, parameter_name
from ..spec.model import Model

__all__ = ["Node", "Edge", "Layout", "path_layout"]

# --------------------------------------------------------------------------- sizes
CHAR_WIDTH = 0.078          # inches per character at 9 pt (DejaVu Sans, generous)
INDICATOR_HEIGHT = 0.46
INDICATOR_HEIGHT_NAME_ONLY = 0.3   # an indicator without an R² line
CONSTRUCT_HEIGHT = 0.72
OBSERVED_HEIGHT = 0.52
LINE_HEIGHT = 0.16          # one more line of a node's name
FAN_PITCH_GAP = 0.16        # gap between stacked indicators
FAN_ROW_GAP = 0.16          # gap between indicators in a row
LOOP_ROOM = 0.36            # more room between indicators when variance loops are drawn
LABEL_ROOM = (0.6, 0.2)     # more room (width, height) per extra line of edge labels
FAN_DISTANCE_SIDE = 0.62    # construct edge -> indicator edge, indicators left/right
FAN_DISTANCE_ROW = 0.62     # construct edge -> indicator edge, indicators above/below
COLUMN_GAP = 1.0            # minimum gap between structural nodes of adjacent columns
BLOCK_GAP = 0.45            # vertical gap between blocks in one column
BOX_GAP = 0.25              # minimum gap between any two nodes
SKIP_CLEARANCE = 0.45       # clearance between a skipping path and the nodes it passes
ROW_GAP = 1.1               # gap between the rows of a wrapped layout
DIRECTIONS = ("LR", "TB", "wrap", "fold")
FANS = ("side", "tucked")


@dataclass(frozen=True)
class Node:
    """A variable in the diagram.

    Attributes
    ----------
    name
        Variable name.
    shape
        ``"ellipse"`` (latent) or ``"rect"`` (observed).
    role
        ``"construct"``, ``"indicator"`` or ``"observed"`` (an observed variable that is
        not an indicator).
    x, y, width, height
        Centre and size in inches.
    side
        For a construct: where its indicators are (``"left"``, ``"right"``, ``"top"``,
        ``"bottom"`` or ``""``); for an indicator: the side facing away from its construct.
    column
        Column of a structural variable (-1 for indicators).
    """

    name: str
    shape: str
    role: str
    x: float
    y: float
    width: float
    height: float
    side: str = ""
    column: int = -1

    @property
    def box(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)``."""
        return (self.x - self.width / 2, self.y - self.height / 2,
                self.x + self.width / 2, self.y + self.height / 2)

    def contains(self, px: np.ndarray, py: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """Whether points lie inside the node's shape grown by ``margin``."""
        a, b = self.width / 2 + margin, self.height / 2 + margin
        dx, dy = np.asarray(px) - self.x, np.asarray(py) - self.y
        if self.shape == "ellipse":
            return (dx / a) ** 2 + (dy / b) ** 2 <= 1.0
        return (np.abs(dx) <= a) & (np.abs(dy) <= b)


@dataclass(frozen=True)
class Edge:
    """A drawn parameter: loading, regression path or covariance.

    ``points`` are the start, control and end points of a quadratic Bézier curve that
    runs from the edge of ``source`` to the edge of ``target`` (a straight edge has its
    control point midway).
    """

    lhs: str
    op: str
    rhs: str
    name: str
    kind: str              # "loading" | "regression" | "covariance"
    source: str
    target: str
    points: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]

    @property
    def two_headed(self) -> bool:
        return self.kind == "covariance"

    def point(self, t: float | np.ndarray) -> np.ndarray:
        """Point(s) of the curve at parameter ``t`` in [0, 1] (shape (2,) or (n, 2))."""
        return _bezier(np.asarray(self.points, dtype=float), t)


@dataclass(frozen=True)
class Layout:
    """Positions of every node and the route of every edge of a path diagram."""

    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]
    structural_only: bool = False
    variances: tuple[str, ...] = field(default=())

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of every node and edge."""
        boxes = np.array([n.box for n in self.nodes.values()])
        xmin, ymin = boxes[:, 0].min(), boxes[:, 1].min()
        xmax, ymax = boxes[:, 2].max(), boxes[:, 3].max()
        for e in self.edges:
            pts = e.point(np.linspace(0, 1, 21))
            xmin, ymin = min(xmin, pts[:, 0].min()), min(ymin, pts[:, 1].min())
            xmax, ymax = max(xmax, pts[:, 0].max()), max(ymax, pts[:, 1].max())
        return float(xmin), float(ymin), float(xmax), float(ymax)

    def edge(self, name: str) -> Edge:
        """The edge of parameter ``name`` (e.g. ``"kmsuse~culture"``)."""
        for e in self.edges:
            if e.name == name:
                return e
        raise ArgumentError(f"name: {name!r} is not an edge of the diagram; edges are "
                            f"{[e.name for e in self.edges]}")

    def positions(self) -> dict[str, tuple[float, float]]:
        """``{name: (x, y)}`` of every node, in the form ``positions=`` accepts."""
        return {n.name: (n.x, n.y) for n in self.nodes.values()}


# --------------------------------------------------------------------------- public
def path_layout(model: Model | FitResult | str, *, structural_only: bool = False,
                positions: Mapping[str, tuple[float, float]] | None = None,
                labels: Mapping[str, str] | None = None, direction: str = "LR",
                fans: str = "side", loops: bool = False, indicator_r2: bool = True,
                label_lines: int = 1) -> Layout:
    """Lay out the path diagram of ``model``.

    Parameters
    ----------
    model
        A :class:`lcsem.Model`, a :class:`lcsem.FitResult` or lavaan-style model text.
    structural_only
        Leave out indicators (and their loadings and covariances): constructs and
        observed structural variables only.
    positions
        ``{name: (x, y)}`` in inches, overriding the computed centre of any node; routes
        are recomputed around the moved nodes.
    labels
        ``{name: text}``: display text of nodes (any Unicode; ``"\\n"`` breaks a line),
        used to size them.
    direction
        ``"LR"`` (predictors left, outcomes right; default), ``"TB"`` (predictors at
        the top, outcomes at the bottom: narrower diagrams for a page column) or
        ``"wrap"``: a long chain of three or more columns wrapped into two rows (the
        second row below the first, read left to right again or, as a snake, right to
        left, whichever crosses fewer paths), and a single column of four or more
        constructs (a CFA of many factors) split into two columns facing each other,
        their indicators outside and the covariances between them. ``"fold"``: the
        chain folded into two columns facing each other (the first columns stacked top
        to bottom on the left, the others on the right), indicators fanned outwards:
        narrow and tall, for models whose indicator rows are too wide for a page.
    fans
        ``"side"``: indicators of the first (last) column fanned to the left (right);
        ``"tucked"``: every construct's indicators in a row above or below it (narrower).
    loops
        Leave room between indicators for variance loops drawn beside them.
    indicator_r2
        Indicators are tall enough for a second line (their R²); ``False``: name only.
    label_lines
        Lines of the edge labels (2 with confidence intervals): more room around
        indicators for them.

    Returns
    -------
    Layout
        Nodes (centre, size, shape, role) and edges (Bézier routes), see :class:`Layout`.

    Notes
    -----
    A first-order factor measured only by a higher-order factor (and in no regression)
    is drawn as a factor of factors: it sits between the higher-order factor and its
    own indicators, inside the higher-order factor's fan. Observed covariates (controls,
    MIMIC causes) that would share the first column with constructs get a column of their
    own. Within columns, variables are ordered by the barycentre of their neighbours
    (three sweeps), which reduces crossings.

    Examples
    --------
    >>> lay = path_layout("y ~ x")
    >>> lay.nodes["x"].x < lay.nodes["y"].x
    True
    """
    if direction not in DIRECTIONS:
        raise ArgumentError(f"direction: {direction!r} is not one of {DIRECTIONS}; use 'LR' "
                            f"(left to right) or 'TB' (top to bottom)")
    if fans not in FANS:
        raise ArgumentError(f"fans: {fans!r} is not one of {FANS}")
    model = _as_model(model)
    rows = [r for r in model.rows if r.op in ("=~", "~", "~~")]
    latent = list(model.latent)
    observed = list(model.observed)
    # indicators that are observed; an observed variable measuring two constructs belongs
    # to the first one
    owner: dict[str, str] = {}
    for r in rows:
        if r.op == "=~" and r.rhs not in latent and r.rhs not in owner:
            owner[r.rhs] = r.lhs
    # first-order factors of a higher-order factor: nested in its fan
    in_paths = {v for r in rows if r.op == "~" for v in (r.lhs, r.rhs)}
    measured_by: dict[str, list[str]] = {}
    for r in rows:
        if r.op == "=~" and r.rhs in latent:
            measured_by.setdefault(r.rhs, []).append(r.lhs)
    sub_owner = {f: g[0] for f, g in measured_by.items()
                 if len(g) == 1 and f not in in_paths and g[0] != f and g[0] not in measured_by}
    structural = [v for v in latent if v not in sub_owner] + [v for v in observed if v not in owner]
    if structural_only:
        owner = {}
        keep = set(structural) | set(sub_owner)
        rows = [r for r in rows if r.lhs in keep and r.rhs in keep]
    if not structural:  # pragma: no cover - a model always has variables
        raise ArgumentError("model: the model has no variables to draw")
    shown = check_labels(labels, latent + observed)
    transpose = direction == "TB"

    def size_of(v: str, role: str) -> tuple[float, float]:
        w, h = _size(shown.get(v, v), role)
        if role == "indicator" and not indicator_r2:
            h -= INDICATOR_HEIGHT - INDICATOR_HEIGHT_NAME_ONLY
        return (h, w) if transpose else (w, h)

    # directed structural edges: predictor -> outcome, higher-order factor -> factor
    arcs = [(r.rhs, r.lhs) for r in rows if r.op == "~" and r.lhs in structural and r.rhs in structural]
    arcs += [(r.lhs, r.rhs) for r in rows if r.op == "=~" and r.rhs in structural and r.rhs in latent]
    arcs = list(dict.fromkeys(arcs))
    columns = _columns(structural, arcs)
    _covariate_column(columns, structural, latent)
    n_cols = max(columns.values()) + 1
    wrap = direction == "wrap"
    folded: dict[str, tuple[int, int]] = {}
    if direction == "fold" and n_cols >= 3:
        # the chain folded: the first columns stacked on the left, the rest on the right,
        # each kept in chain order (top to bottom)
        chain = _order_in_columns(structural, columns, arcs)
        weight = {c: sum(1 + sum(1 for o in owner.values() if o == v) for v in structural if columns[v] == c)
                  for c in range(n_cols)}
        cut = min(range(1, n_cols), key=lambda k: (max(sum(weight[c] for c in range(k)),
                                                       sum(weight[c] for c in range(k, n_cols))), k))
        folded = {v: (columns[v], chain.index(v)) for v in structural}
        for v in structural:
            columns[v] = 0 if columns[v] < cut else 1
        n_cols = 2
    if (wrap or direction == "fold") and n_cols == 1 and len(structural) >= 4:
        # one tall column (many correlated factors): the second half becomes a second
        # column, indicators fanned outwards, covariances in the band between them
        first = _order_in_columns(structural, columns, arcs)
        for v in first[(len(first) + 1) // 2:]:
            columns[v] = 1
        n_cols = 2
        wrap = False
    order = _order_in_columns(structural, columns, arcs)
    if folded:
        order = sorted(structural, key=lambda v: (columns[v],) + folded[v])
    def place(cut: int | None):
        """Centres of every node (``cut``: the first column of a wrapped second row, whose
        neighbouring columns fan their indicators outwards, to the row ends)."""
        sides = _fan_sides(structural, columns, order, arcs, n_cols, fans == "tucked")
        _share_sides(sides, rows, owner, columns, order, n_cols)
        if cut is not None and fans != "tucked":
            for v in structural:
                if columns[v] == cut - 1:
                    sides[v] = "right"
                elif columns[v] == cut:
                    sides[v] = "left"
        items = {c: [i for i, o in owner.items() if o == c] for c in list(structural) + list(sub_owner)}
        for f, g in sub_owner.items():
            if g in items:
                items[g].append(f)
                sides[f] = sides[g]
        sizes = {v: size_of(v, "construct" if v in latent else "observed") for v in structural}
        isizes = {i: size_of(i, "indicator") for i in owner}
        true_sizes = dict(isizes)
        # room between neighbouring indicators for loops, and longer loadings for labels of
        # more than one line
        # (as printed: width, height; swapped in a top-to-bottom layout). A loop needs room
        # beside its indicator only where residual covariance arcs take the outward side.
        with_arcs = {v for r in rows if r.op == "~~" and r.lhs != r.rhs for v in (r.lhs, r.rhs)}
        label_w, label_h = LABEL_ROOM[0] * (label_lines - 1), LABEL_ROOM[1] * (label_lines - 1)
        for i, (w, h) in isizes.items():
            loop = LOOP_ROOM if loops and i in with_arcs else 0.0
            rw, rh = label_w + loop, label_h + loop
            isizes[i] = (w + rh, h + rw) if transpose else (w + rw, h + rh)
        # a nested factor is fanned as a block: the factor and its own indicators
        block_offset: dict[str, tuple[float, float]] = {}
        for f in sub_owner:
            sizes[f] = size_of(f, "construct")
            e = _block_extent(f, sides[f], items[f], sizes[f], isizes)
            isizes[f] = (e[2] - e[0], e[3] - e[1])
            block_offset[f] = ((e[0] + e[2]) / 2, (e[1] + e[3]) / 2)
        fans_of = {v: items.get(v, []) for v in structural}

        # vertical placement of blocks within each column (with room for a variance loop or
        # error circle between a block and the next)
        block_gap = BLOCK_GAP + (LOOP_ROOM if loops else 0.0)
        y: dict[str, float] = {}
        for c in range(n_cols):
            members = [v for v in order if columns[v] == c]
            ext = [_block_extent(v, sides[v], fans_of[v], sizes[v], isizes) for v in members]
            heights = [e[3] - e[1] for e in ext]
            total = sum(heights) + block_gap * (len(members) - 1)
            top = total / 2
            for v, e in zip(members, ext):
                y[v] = top - e[3]           # block top at `top`
                top -= (e[3] - e[1]) + block_gap
        # move columns so that paths skipping a column miss it, level rows of indicators,
        # then place each column as far left as its boxes allow; twice, the second time
        # with the real horizontal positions instead of uniform ones
        x = {v: columns[v] * 4.0 for v in structural}
        for _ in range(2):
            for _ in range(8):
                _clear_skipping_paths(structural, arcs, columns, x, y, sizes, sides, n_cols)
                if not _level_end_columns(structural, columns, order, y, sides, fans_of, sizes, n_cols):
                    break
            _clear_skipping_paths(structural, arcs, columns, x, y, sizes, sides, n_cols)
            stretch = _align_rows(structural, columns, order, y, sides, fans_of, sizes, isizes)
            x = _place_columns(structural, columns, order, y, sides, fans_of, sizes, isizes, n_cols, stretch)

        placed: dict[str, tuple[float, float, str, str, int]] = {}   # name -> x, y, role, side, column
        home: dict[str, str] = {}      # name -> the structural variable whose block it is in
        for v in structural:
            placed[v] = (x[v], y[v], "construct" if v in latent else "observed", sides[v] if fans_of[v] else "",
                         columns[v])
            home[v] = v
            for item, (ix, iy) in _fan_positions(x[v], y[v], sides[v], fans_of[v], sizes[v], isizes,
                                                 stretch.get(v, 0.0)).items():
                home[item] = v
                if item in sub_owner:
                    fx, fy = ix - block_offset[item][0], iy - block_offset[item][1]
                    placed[item] = (fx, fy, "construct", sides[item] if items[item] else "", -1)
                    for ind, (jx, jy) in _fan_positions(fx, fy, sides[item], items[item], sizes[item],
                                                        isizes).items():
                        placed[ind] = (jx, jy, "indicator", sides[item], -1)
                        home[ind] = v
                else:
                    placed[item] = (ix, iy, "indicator", sides[v], -1)
        all_sizes = {v: sizes[v] if v in sizes else true_sizes[v] for v in placed}
        return placed, home, all_sizes

    route_owner = dict(owner)
    route_owner.update(sub_owner)
    if wrap and n_cols >= 3:
        # every cut placed (cheap), the two giving the narrowest rows routed both ways
        options = []
        for cut in range(1, n_cols):
            placed, home, all_sizes = place(cut)
            options.append((_wrap_width(placed, home, columns, all_sizes, cut), cut, placed, home, all_sizes))
        best = None
        for _, cut, placed, home, all_sizes in sorted(options, key=lambda o: o[:2])[:2]:
            for snake in (False, True):
                moved = _wrap_rows(placed, home, columns, all_sizes, cut, snake)
                lay = _finish(moved, all_sizes, latent, False, positions, rows, route_owner,
                              structural_only)
                key = (edge_crossings(lay, weighted=True), _area(lay))
                if best is None or key < best[0]:
                    best = (key, lay)
        return best[1]  # type: ignore[index]
    placed, home, all_sizes = place(None)
    return _finish(placed, all_sizes, latent, transpose, positions, rows, route_owner, structural_only)


def _area(layout: Layout) -> float:
    xmin, ymin, xmax, ymax = layout.bounds
    return (xmax - xmin) * (ymax - ymin)


def _wrap_width(placed, home, columns, sizes, cut: int) -> float:
    """Width of the wider row when the columns from ``cut`` on wrap into a second row."""
    def extent(first: bool) -> float:
        xs = [(p[0] - sizes[n][0] / 2, p[0] + sizes[n][0] / 2) for n, p in placed.items()
              if (columns[home[n]] < cut) == first]
        return max(b for _, b in xs) - min(a for a, _ in xs)
    return max(extent(True), extent(False))


def _wrap_rows(placed, home, columns, sizes, cut: int, snake: bool):
    """Move the columns from ``cut`` on into a second row under the first: left-aligned
    (read left to right again) or, ``snake``, mirrored and right-aligned (read right to
    left, indicators on the left becoming indicators on the right)."""
    second = {n for n in placed if columns[home[n]] >= cut}

    def box(names):
        b = np.array([(placed[n][0] - sizes[n][0] / 2, placed[n][1] - sizes[n][1] / 2,
                       placed[n][0] + sizes[n][0] / 2, placed[n][1] + sizes[n][1] / 2) for n in names])
        return b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()

    b1 = box([n for n in placed if n not in second])
    b2 = box(second)
    dy = b1[1] - ROW_GAP - b2[3]
    mirror = {"left": "right", "right": "left"}
    out = {}
    for n, (px, py, role, side, col) in placed.items():
        if n in second:
            if snake:
                px, side = b1[2] - (px - b2[0]), mirror.get(side, side)
            else:
                px = px + b1[0] - b2[0]
            py = py + dy
        out[n] = (px, py, role, side, col)
    return out


def _finish(placed, sizes, latent, transpose: bool, positions, rows, route_owner, structural_only) -> Layout:
    """Nodes from the placed centres (reflected for a top-to-bottom layout), their routes."""
    nodes: dict[str, Node] = {}
    # top to bottom: the layout reflected in the line y = -x (columns become rows, and
    # the order within a column, top to bottom, becomes left to right)
    turn = {"left": "top", "right": "bottom", "top": "left", "bottom": "right", "": ""}
    for v, (px, py, role, side, col) in placed.items():
        w, h = sizes[v]
        if transpose:
            px, py, w, h, side = -py, -px, h, w, turn[side]
        nodes[v] = Node(v, "ellipse" if v in latent else "rect", role, px, py, w, h, side, col)

    if positions:
        nodes = _apply_positions(nodes, positions)
    edges = _route_all(rows, nodes, route_owner)
    variances = tuple(r.lhs for r in rows if r.op == "~~" and r.lhs == r.rhs and r.lhs in nodes)
    return Layout(MappingProxyType(nodes), tuple(edges), structural_only, variances)


def _covariate_column(columns: dict[str, int], structural: list[str], latent: list[str]) -> None:
    """Observed exogenous covariates sharing the first column with constructs get a column
    of their own in front of it (MIMIC causes, controls)."""
    first = [v for v in structural if columns[v] == 0]
    covariates = [v for v in first if v not in latent]
    if covariates and len(covariates) < len(first):
        for v in structural:
            if v not in covariates:
                columns[v] += 1


# --------------------------------------------------------------------------- input
def _as_model(model: Any):
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model.from_syntax(model)
    inner = getattr(model, "model", None)
    if isinstance(inner, Model):
        return inner
    raise ArgumentError(f"model: expected an lcsem.Model, a FitResult or model text, got "
                        f"{type(model).__name__}; pass e.g. lcsem.lc_model() or 'y ~ x'")


def check_labels(labels: Mapping[str, str] | None, names: list[str]) -> dict[str, str]:
    """Validate a ``labels`` dict (known variables, non-empty strings) and copy it."""
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise ArgumentError(f"labels: expected a dict {{name: text}}, got {type(labels).__name__}")
    unknown = [k for k in labels if k not in names]
    if unknown:
        raise ArgumentError(f"labels: {unknown} {'is' if len(unknown) == 1 else 'are'} not variables of "
                            f"the model; variables are {names}")
    bad = [k for k, v in labels.items() if not isinstance(v, str) or not v.strip()]
    if bad:
        raise ArgumentError(f"labels: the labels of {bad} must be non-empty strings")
    return dict(labels)


def _size(name: str, role: str) -> tuple[float, float]:
    lines = name.split("\n")
    n = max(max(len(line) for line in lines), 1)
    extra = LINE_HEIGHT * (len(lines) - 1)
    if role == "construct":
        return max(1.1, 1.25 * CHAR_WIDTH * 1.1 * n + 0.45), CONSTRUCT_HEIGHT + 1.3 * extra
    if role == "observed":
        return max(0.8, CHAR_WIDTH * 1.1 * n + 0.3), OBSERVED_HEIGHT + 1.1 * extra
    return max(0.62, CHAR_WIDTH * n + 0.2), INDICATOR_HEIGHT + extra


# --------------------------------------------------------------------------- columns
def _columns(structural: list[str], arcs: list[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering; variables that predict nothing go to the last column."""
    preds: dict[str, list[str]] = {v: [] for v in structural}
    succ: dict[str, list[str]] = {v: [] for v in structural}
    for a, b in arcs:
        preds[b].append(a)
        succ[a].append(b)
    col: dict[str, int] = {}

    def depth(v: str, stack: tuple[str, ...] = ()) -> int:
        if v in col:
            return col[v]
        if v in stack:  # pragma: no cover - cycles are refused by the model
            return 0
        col[v] = 1 + max((depth(p, stack + (v,)) for p in preds[v]), default=-1)
        return col[v]

    for v in structural:
        depth(v)
    last = max(col.values())
    for v in structural:
        if preds[v] and not succ[v]:
            col[v] = last
    return col


def _order_in_columns(structural: list[str], columns: dict[str, int],
                      arcs: list[tuple[str, str]]) -> list[str]:
    """Order variables within columns to reduce crossings: the barycentre heuristic
    (mean centred position of the neighbours in other columns; three sweeps), then
    swaps of neighbours in a column while they remove crossings of the straight
    column-to-column segments (skipping paths included)."""
    n_cols = max(columns.values()) + 1
    members = {c: [v for v in structural if columns[v] == c] for c in range(n_cols)}
    rank = {v: i for c in members for i, v in enumerate(members[c])}

    def pos(v: str) -> float:          # centred position in its column
        return rank[v] - (len(members[columns[v]]) - 1) / 2

    neighbours: dict[str, list[str]] = {v: [] for v in structural}
    for a, b in arcs:
        neighbours[a].append(b)
        neighbours[b].append(a)
    for sweep in (range(1, n_cols), range(n_cols - 2, -1, -1), range(1, n_cols)):
        for c in sweep:
            def key(v: str) -> tuple[float, int]:
                near = [pos(u) for u in neighbours[v] if columns[u] != c]
                return (float(np.mean(near)) if near else pos(v), rank[v])
            members[c] = sorted(members[c], key=key)
            for i, v in enumerate(members[c]):
                rank[v] = i
    segments = [(a, b) for a, b in arcs if columns[a] != columns[b]]

    def crossings() -> int:
        total = 0
        for i, (a, b) in enumerate(segments):
            for c, d in segments[i + 1:]:
                if {a, b} & {c, d}:
                    continue
                p = np.array([[columns[a], pos(a)], [columns[b], pos(b)]], dtype=float)
                q = np.array([[columns[c], pos(c)], [columns[d], pos(d)]], dtype=float)
                total += _segments_cross(p, q)
        return total

    best = crossings()
    for _ in range(4):
        improved = False
        for c in range(n_cols):
            for i in range(len(members[c]) - 1):
                if best == 0:
                    break
                u, v = members[c][i], members[c][i + 1]
                rank[u], rank[v] = i + 1, i
                now = crossings()
                if now < best:
                    best, improved = now, True
                    members[c][i], members[c][i + 1] = v, u
                else:
                    rank[u], rank[v] = i, i + 1
        if not improved:
            break
    return sorted(structural, key=lambda v: (columns[v], rank[v]))


def _fan_sides(structural: list[str], columns: dict[str, int], order: list[str],
               arcs: list[tuple[str, str]], n_cols: int, tucked: bool = False) -> dict[str, str]:
    """Indicators go left in the first column, right in the last, above or below between
    (``tucked``: above or below everywhere)."""
    members = {c: [u for u in order if columns[u] == c] for c in range(n_cols)}

    def relative(u: str) -> float:  # 0 = top of its column, 1 = bottom
        m = members[columns[u]]
        return m.index(u) / (len(m) - 1) if len(m) > 1 else 0.5

    sides: dict[str, str] = {}
    for v in structural:
        c = columns[v]
        pos = members[c].index(v)
        if c == 0 and not tucked:
            sides[v] = "left"
        elif c == n_cols - 1 and not tucked:
            sides[v] = "right"
        elif len(members[c]) == 1:
            # follow the predecessors: fed from the top -> indicators above; otherwise
            # alternate, the last middle column fanning upwards
            preds = [relative(a) for a, b in arcs if b == v and columns[a] < c]
            mean = float(np.mean(preds)) if preds else 0.5
            if abs(mean - 0.5) > 1e-9:
                sides[v] = "top" if mean < 0.5 else "bottom"
            else:
                sides[v] = "top" if (n_cols - 2 - c) % 2 == 0 else "bottom"
        else:
            sides[v] = "top" if pos < len(members[c]) / 2 else "bottom"
    return sides


def _share_sides(sides: dict[str, str], rows, owner: dict[str, str], columns: dict[str, int],
                 order: list[str], n_cols: int) -> None:
    """A construct in the first or last column whose indicators' residuals covary with
    those of a construct fanned above (below) takes that side too, so that the
    covariances are short arcs over one row of indicators (e.g. repeated measures)."""
    for r in rows:
        if r.op != "~~" or r.lhs == r.rhs or r.lhs not in owner or r.rhs not in owner:
            continue
        a, b = owner[r.lhs], owner[r.rhs]
        if a == b:
            continue
        for u, v in ((a, b), (b, a)):
            if sides[v] in ("top", "bottom") and sides[u] in ("left", "right"):
                column = [w for w in order if columns[w] == columns[u]]
                end = column[0] if sides[v] == "top" else column[-1]
                if u == end and columns[u] in (0, n_cols - 1) and n_cols > 1:
                    sides[u] = sides[v]


def _fan_offsets(side: str, inds: list[str], size: tuple[float, float],
                 isizes: dict[str, tuple[float, float]], stretch: float = 0.0) -> dict[str, tuple[float, float]]:
    """Indicator centres relative to the construct centre."""
    if not inds:
        return {}
    w, h = size
    out: dict[str, tuple[float, float]] = {}
    if side in ("left", "right"):
        pitch = max(isizes[i][1] for i in inds) + FAN_PITCH_GAP
        sign = -1 if side == "left" else 1
        for k, ind in enumerate(inds):
            # inner edges aligned, so that every loading ends on one vertical line
            dx = w / 2 + FAN_DISTANCE_SIDE + isizes[ind][0] / 2
            out[ind] = (sign * dx, ((len(inds) - 1) / 2 - k) * pitch)
    else:
        widths = [isizes[i][0] for i in inds]
        total = sum(widths) + FAN_ROW_GAP * (len(inds) - 1)
        ih = max(isizes[i][1] for i in inds)
        dy = h / 2 + FAN_DISTANCE_ROW + ih / 2 + stretch
        sign = 1 if side == "top" else -1
        left = -total / 2
        for ind, iw in zip(inds, widths):
            out[ind] = (left + iw / 2, sign * dy)
            left += iw + FAN_ROW_GAP
    return out


def _fan_positions(x: float, y: float, side: str, inds: list[str], size: tuple[float, float],
                   isizes: dict[str, tuple[float, float]], stretch: float = 0.0) -> dict[str, tuple[float, float]]:
    return {i: (x + dx, y + dy) for i, (dx, dy) in _fan_offsets(side, inds, size, isizes, stretch).items()}


def _block_boxes(v: str, x: float, y: float, side: str, inds: list[str], size: tuple[float, float],
                 isizes: dict[str, tuple[float, float]], stretch: float = 0.0) -> list[tuple[float, float, float, float]]:
    w, h = size
    boxes = [(x - w / 2, y - h / 2, x + w / 2, y + h / 2)]
    for ind, (ix, iy) in _fan_positions(x, y, side, inds, size, isizes, stretch).items():
        iw, ih = isizes[ind]
        boxes.append((ix - iw / 2, iy - ih / 2, ix + iw / 2, iy + ih / 2))
    return boxes


def _block_extent(v: str, side: str, inds: list[str], size: tuple[float, float],
                  isizes: dict[str, tuple[float, float]]) -> tuple[float, float, float, float]:
    boxes = np.array(_block_boxes(v, 0.0, 0.0, side, inds, size, isizes))
    return boxes[:, 0].min(), boxes[:, 1].min(), boxes[:, 2].max(), boxes[:, 3].max()


def _clear_skipping_paths(structural, arcs, columns, x, y, sizes, sides, n_cols) -> None:
    """Move whole columns up or down so that paths skipping a column miss its variables."""
    for _ in range(3):
        moved = False
        for a, b in arcs:
            ca, cb = columns[a], columns[b]
            if abs(cb - ca) < 2:
                continue
            for c in range(min(ca, cb) + 1, max(ca, cb)):
                for v in [u for u in structural if columns[u] == c]:
                    t = (x[v] - x[a]) / (x[b] - x[a])
                    line_y = y[a] + t * (y[b] - y[a])
                    half = sizes[v][1] / 2 + SKIP_CLEARANCE
                    # a variable fanning its indicators up must lie wholly above the path
                    # (else the path would cut its loadings); likewise downwards
                    if sides[v] == "top":
                        up = True
                        ok = y[v] - line_y >= half
                    elif sides[v] == "bottom":
                        up = False
                        ok = line_y - y[v] >= half
                    else:
                        up = y[v] >= line_y
                        ok = abs(y[v] - line_y) >= half
                    if ok:
                        continue
                    shift = (line_y + half - y[v]) if up else (line_y - half - y[v])
                    for u in structural:
                        if columns[u] == c:
                            y[u] += shift
                    moved = True
        if not moved:
            return


def _row_ends(side: str, columns, order, sides, fans) -> list[str]:
    pick = 0 if side == "top" else -1
    ends = []
    for c in sorted(set(columns.values())):
        v = [u for u in order if columns[u] == c][pick]
        if sides[v] == side and fans[v]:
            ends.append(v)
    return ends


def _level_end_columns(structural, columns, order, y, sides, fans, sizes, n_cols) -> bool:
    """Move a first- or last-column variable that is alone in its column and fans its
    indicators above (below) to the height of the other such rows."""
    moved = False
    for side, sign in (("top", 1.0), ("bottom", -1.0)):
        ends = _row_ends(side, columns, order, sides, fans)
        if len(ends) < 2:
            continue
        row = {v: y[v] + sign * sizes[v][1] / 2 for v in ends}
        target = max(row.values()) if sign > 0 else min(row.values())
        for v in ends:
            alone = sum(1 for u in structural if columns[u] == columns[v]) == 1
            if alone and columns[v] in (0, n_cols - 1) and abs(target - row[v]) > 0.02:
                y[v] += target - row[v]
                moved = True
    return moved


def _align_rows(structural, columns, order, y, sides, fans, sizes, isizes) -> dict[str, float]:
    """Put the rows of indicators fanned above (below) the top (bottom) variable of each
    column at one height, so that covariances between them are arcs over one row."""
    stretch: dict[str, float] = {}
    for side, sign in (("top", 1.0), ("bottom", -1.0)):
        ends = _row_ends(side, columns, order, sides, fans)
        if len(ends) < 2:
            continue
        row = {v: y[v] + sign * (sizes[v][1] / 2 + FAN_DISTANCE_ROW) for v in ends}
        target = max(row.values()) if sign > 0 else min(row.values())
        for v in ends:
            stretch[v] = abs(target - row[v])
    return stretch


def _place_columns(structural, columns, order, y, sides, fans, sizes, isizes, n_cols,
                   stretch: dict[str, float]) -> dict[str, float]:
    x: dict[str, float] = {}
    placed: list[tuple[float, float, float, float]] = []
    prev_right = None
    for c in range(n_cols):
        members = [v for v in order if columns[v] == c]
        local = {v: _block_boxes(v, 0.0, y[v], sides[v], fans[v], sizes[v], isizes, stretch.get(v, 0.0))
                 for v in members}
        xc = 0.0 if prev_right is None else prev_right + COLUMN_GAP + max(sizes[v][0] / 2 for v in members)
        if prev_right is not None:
            for boxes in local.values():
                for bx in boxes:
                    for pb in placed:
                        if bx[1] < pb[3] + BOX_GAP and bx[3] > pb[1] - BOX_GAP:
                            xc = max(xc, pb[2] + BOX_GAP - bx[0])
        for v in members:
            x[v] = xc
            placed.extend((b[0] + xc, b[1], b[2] + xc, b[3]) for b in local[v])
        prev_right = max(xc + sizes[v][0] / 2 for v in members)
    return x


def _apply_positions(nodes: dict[str, Node], positions: Mapping[str, tuple[float, float]]) -> dict[str, Node]:
    from dataclasses import replace

    out = dict(nodes)
    for name, pos in positions.items():
        if name not in nodes:
            raise ArgumentError(f"positions: {name!r} is not a node of the diagram; nodes are "
                                f"{sorted(nodes)}")
        try:
            px, py = (float(pos[0]), float(pos[1]))
        except (TypeError, ValueError, IndexError):
            raise ArgumentError(f"positions: the position of {name!r} must be an (x, y) pair of "
                                f"numbers in inches, got {pos!r}") from None
        if not (np.isfinite(px) and np.isfinite(py)):
            raise ArgumentError(f"positions: the position of {name!r} must be finite, got {pos!r}")
        out[name] = replace(nodes[name], x=px, y=py)
    return out


# --------------------------------------------------------------------------- routing
def _bezier(points: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=float)
    p0, p1, p2 = points
    tt = t[..., None]
    return (1 - tt) ** 2 * p0 + 2 * (1 - tt) * tt * p1 + tt ** 2 * p2


def _sub_bezier(points: np.ndarray, t0: float, t1: float) -> np.ndarray:
    p0, p1, p2 = points
    q0 = _bezier(points, t0)
    q2 = _bezier(points, t1)
    q1 = (1 - t0) * (1 - t1) * p0 + ((1 - t0) * t1 + t0 * (1 - t1)) * p1 + t0 * t1 * p2
    return np.array([q0, q1, q2])


def _exit_parameter(points: np.ndarray, node: Node, from_start: bool) -> float:
    """Parameter where the curve leaves ``node`` (from the start) or enters it (at the end)."""
    ts = np.linspace(0, 1, 201)
    pts = _bezier(points, ts)
    inside = node.contains(pts[:, 0], pts[:, 1])
    if from_start:
        out = np.nonzero(~inside)[0]
        if not len(out):
            return 0.5
        hi = ts[out[0]]
        lo = ts[out[0] - 1] if out[0] > 0 else 0.0
    else:
        out = np.nonzero(~inside)[0]
        if not len(out):
            return 0.5
        lo = ts[out[-1]]
        hi = ts[out[-1] + 1] if out[-1] < len(ts) - 1 else 1.0
    for _ in range(12):
        mid = (lo + hi) / 2
        p = _bezier(points, mid)
        if node.contains(p[0], p[1]) == from_start:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _clip(points: np.ndarray, a: Node, b: Node) -> np.ndarray:
    t0 = _exit_parameter(points, a, True)
    t1 = _exit_parameter(points, b, False)
    if t1 <= t0:
        t0, t1 = 0.0, 1.0
    return _sub_bezier(points, t0, t1)


class _NodeArrays:
    """Every node's centre, half-size and shape as arrays, to test many points at once."""

    def __init__(self, nodes: Iterable[Node]) -> None:
        nodes = list(nodes)
        self.names = [n.name for n in nodes]
        self.xy = np.array([[n.x, n.y] for n in nodes], dtype=float).reshape(-1, 2)
        self.half = np.array([[n.width / 2, n.height / 2] for n in nodes], dtype=float).reshape(-1, 2)
        self.ellipse = np.array([n.shape == "ellipse" for n in nodes], dtype=bool)

    def hits(self, pts: np.ndarray, skip: set[str], margin: float) -> int:
        """Number of nodes (not in ``skip``) that any of ``pts`` falls inside."""
        d = np.abs(pts[None, :, :] - self.xy[:, None, :]) / (self.half[:, None, :] + margin)
        inside = np.where(self.ellipse[:, None], (d ** 2).sum(axis=2) <= 1.0, (d <= 1.0).all(axis=2))
        hit = inside.any(axis=1)
        return int(sum(1 for name, h in zip(self.names, hit) if h and name not in skip))


_T60 = np.linspace(0, 1, 60)


def _hits(points: np.ndarray, nodes: Iterable[Node] | _NodeArrays, skip: set[str], margin: float = 0.08) -> int:
    arrays = nodes if isinstance(nodes, _NodeArrays) else _NodeArrays(nodes)
    return arrays.hits(_bezier(points, _T60), skip, margin)


class _NodeMap(dict):
    """The nodes by name, with their arrays (:class:`_NodeArrays`) built once for all
    the routes of one layout."""

    @property
    def arrays(self) -> _NodeArrays:
        if "_arrays" not in self.__dict__:
            self.__dict__["_arrays"] = _NodeArrays(self.values())
        return self.__dict__["_arrays"]


def _arrays(nodes: dict[str, Node]) -> _NodeArrays:
    return nodes.arrays if isinstance(nodes, _NodeMap) else _NodeArrays(nodes.values())


def _route_all(rows, nodes: dict[str, Node], owner: dict[str, str]) -> list[Edge]:
    nodes = _NodeMap(nodes)
    sides = _arc_sides(rows, nodes)
    edges: list[Edge] = []
    xs = np.array([n.x for n in nodes.values()])
    ys = np.array([n.y for n in nodes.values()])
    centroid = np.array([xs.mean(), ys.mean()])
    # directions in which structural arrows leave each node: covariance arcs take other ports
    busy: dict[str, list[np.ndarray]] = {}
    for r in rows:
        if r.op in ("=~", "~") and r.lhs in nodes and r.rhs in nodes and r.lhs != r.rhs \
                and "indicator" not in (nodes[r.lhs].role, nodes[r.rhs].role):
            for u, v in ((r.lhs, r.rhs), (r.rhs, r.lhs)):
                d = np.array([nodes[v].x - nodes[u].x, nodes[v].y - nodes[u].y])
                if np.any(d):
                    busy.setdefault(u, []).append(d / hypot(*d))
    seen: set[tuple[str, str, str]] = set()
    for r in rows:
        if r.op == "~~" and r.lhs == r.rhs:
            continue
        if r.lhs not in nodes or r.rhs not in nodes:
            continue
        key = (r.lhs, r.op, r.rhs) if r.op != "~~" else (min(r.lhs, r.rhs), "~~", max(r.lhs, r.rhs))
        if key in seen:
            continue
        seen.add(key)
        name = parameter_name(r.lhs, r.op, r.rhs)
        if r.op == "=~":
            kind, src, dst = "loading", r.lhs, r.rhs
        elif r.op == "~":
            kind, src, dst = "regression", r.rhs, r.lhs
        else:
            kind, src, dst = "covariance", r.lhs, r.rhs
        a, b = nodes[src], nodes[dst]
        if kind == "covariance":
            pts = _route_covariance(a, b, nodes, owner, centroid, sides.get(frozenset((src, dst))), busy)
        elif kind == "loading" and owner.get(dst) == src and b.side in _OUTWARD:
            pts = _route_loading(a, b, nodes)
        else:
            pts = _route_directed(a, b, nodes)
        edges.append(Edge(r.lhs, r.op, r.rhs, name, kind, src, dst,
                          tuple(tuple(float(c) for c in p) for p in pts)))  # type: ignore[arg-type]
    return edges


def _route_directed(a: Node, b: Node, nodes: dict[str, Node]) -> np.ndarray:
    pa, pb = np.array([a.x, a.y]), np.array([b.x, b.y])
    d = pb - pa
    normal = np.array([d[1], -d[0]])
    best, best_hits = None, None
    for rad in (0.0, 0.12, -0.12, 0.25, -0.25, 0.4, -0.4, 0.6, -0.6):
        ctrl = (pa + pb) / 2 + rad * normal
        pts = _clip(np.array([pa, ctrl, pb]), a, b)
        h = _hits(pts, _arrays(nodes), {a.name, b.name})
        if h == 0:
            return pts
        if best_hits is None or h < best_hits:
            best, best_hits = pts, h
    return best  # type: ignore[return-value]


def _route_loading(a: Node, b: Node, nodes: dict[str, Node]) -> np.ndarray:
    """A straight loading from the construct to the middle of the indicator's inner side."""
    out = np.array(_OUTWARD[b.side])
    end = np.array([b.x, b.y]) - out * np.array([b.width / 2, b.height / 2])
    start = np.array([a.x, a.y])
    raw = np.array([start, (start + end) / 2, end])
    pts = _sub_bezier(raw, _exit_parameter(raw, a, True), 1.0)
    if _hits(pts, _arrays(nodes), {a.name, b.name}, margin=0.02) == 0:
        return pts
    return _route_directed(a, b, nodes)


def _between(n: Node, a: Node, b: Node, same_col: bool) -> bool:
    """Whether ``n`` sits between ``a`` and ``b`` in their column (row)."""
    if same_col:
        return abs(n.x - a.x) < 0.35 and min(a.y, b.y) < n.y < max(a.y, b.y)
    return abs(n.y - a.y) < 0.35 and min(a.x, b.x) < n.x < max(a.x, b.x)


def _boundary(node: Node, direction: np.ndarray) -> np.ndarray:
    """Point where the ray from the node's centre in ``direction`` leaves its shape."""
    dx, dy = float(direction[0]), float(direction[1])
    a, b = node.width / 2, node.height / 2
    if node.shape == "ellipse":
        k = 1.0 / np.sqrt((dx / a) ** 2 + (dy / b) ** 2)
    else:
        k = min(a / abs(dx) if dx else np.inf, b / abs(dy) if dy else np.inf)
    return np.array([node.x + k * dx, node.y + k * dy])


_OUTWARD = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "top": (0.0, 1.0), "bottom": (0.0, -1.0)}


def _arc_sides(rows, nodes: dict[str, Node]) -> dict[frozenset[str], float]:
    """Sides (+1 right, -1 left) for covariance arcs between constructs stacked in one
    column with both sides free: assigned greedily, longest arc last, to the side where
    it interleaves with fewer arcs (two "pages" instead of one cut the crossings of many
    correlated factors)."""
    pairs = []
    for r in rows:
        if r.op != "~~" or r.lhs == r.rhs or r.lhs not in nodes or r.rhs not in nodes:
            continue
        a, b = nodes[r.lhs], nodes[r.rhs]
        if a.role == "indicator" or b.role == "indicator" or abs(a.x - b.x) >= 0.35:
            continue
        if a.side in ("left", "right") or b.side in ("left", "right"):
            continue
        pairs.append((round(a.x, 1), min(a.y, b.y), max(a.y, b.y), frozenset((a.name, b.name))))
    out: dict[frozenset[str], float] = {}
    for column in {p[0] for p in pairs}:
        arcs = sorted((p for p in pairs if p[0] == column), key=lambda p: p[2] - p[1])
        if len(arcs) < 3:
            continue
        placed: dict[float, list[tuple[float, float]]] = {1.0: [], -1.0: []}
        for _, lo, hi, key in arcs:
            def interleaved(side: float) -> int:
                return sum(1 for l2, h2 in placed[side] if (l2 < lo < h2 < hi) or (lo < l2 < hi < h2))
            side = 1.0 if interleaved(1.0) <= interleaved(-1.0) else -1.0
            placed[side].append((lo, hi))
            out[key] = side
    return out


def _free_port(u: np.ndarray, taken: Iterable[np.ndarray], clearance: float = 14.0) -> np.ndarray:
    """The direction ``u`` of an arc's end, turned (by up to 28 degrees, towards the side
    with room) when an arrow leaves the node within ``clearance`` degrees of it."""
    taken = list(taken)

    def gap(v: np.ndarray) -> float:
        return min((np.degrees(np.arccos(np.clip(float(v @ t), -1.0, 1.0))) for t in taken), default=180.0)

    if gap(u) >= clearance:
        return u
    best, best_gap = u, gap(u)
    for turn in (10.0, -10.0, 18.0, -18.0, 28.0, -28.0):
        c, s_ = np.cos(np.radians(turn)), np.sin(np.radians(turn))
        v = np.array([c * u[0] - s_ * u[1], s_ * u[0] + c * u[1]])
        g = gap(v)
        if g >= clearance:
            return v
        if g > best_gap:
            best, best_gap = v, g
    return best


def _route_covariance(a: Node, b: Node, nodes: dict[str, Node], owner: dict[str, str],
                      centroid: np.ndarray, side: float | None = None,
                      busy: Mapping[str, list[np.ndarray]] | None = None) -> np.ndarray:
    pa, pb = np.array([a.x, a.y]), np.array([b.x, b.y])
    # the direction to bulge: away from the common construct (indicator residuals), away
    # from the constructs' indicators, or away from the middle of the diagram
    if a.role == "indicator" and b.role == "indicator" and owner.get(a.name) == owner.get(b.name):
        away = np.array(_OUTWARD.get(a.side, (0.0, 0.0)))
        if not away.any():
            c = nodes[owner[a.name]]
            away = (pa + pb) / 2 - np.array([c.x, c.y])
    elif a.side and a.side == b.side and a.role != "indicator":
        away = -np.array(_OUTWARD[a.side])
    else:
        away = (pa + pb) / 2 - centroid
    if not np.any(away):
        away = np.array([0.0, 1.0])
    away = away / hypot(*away)

    same_col = abs(a.x - b.x) < 0.35 and abs(a.y - b.y) > 0.1
    same_row = abs(a.y - b.y) < 0.35 and abs(a.x - b.x) > 0.1
    skip = {a.name, b.name}
    if same_col or same_row:
        axis = np.array([1.0, 0.0]) if same_col else np.array([0.0, 1.0])
        sign = 1.0 if float(away @ axis) >= 0 else -1.0
        if side is not None and same_col:
            sign = side
        direction = sign * axis
        # nested arcs: the more nodes between the two, the nearer the outward axis the
        # arc leaves, so that arcs of one node do not share an end point
        between = sum(1 for n in nodes.values() if n.name not in skip and _between(n, a, b, same_col))
        angle = np.radians(45.0 - 28.0 * min(between, 3))
        along = (pb - pa) / hypot(*(pb - pa))
        va = np.cos(angle) * direction + np.sin(angle) * along
        vb = np.cos(angle) * direction - np.sin(angle) * along
        ua = _free_port(va, (busy or {}).get(a.name, ()))
        ub = _free_port(vb, (busy or {}).get(b.name, ()))
        ports = [(ua, ub)] + ([(va, vb)] if not (np.allclose(ua, va) and np.allclose(ub, vb)) else [])
        span = hypot(*(pb - pa))
        best, best_hits = None, None
        # apex depth proportional to the span first, so that nested arcs leave their
        # nodes at nested angles and do not cross; shallower or deeper when that hits a
        # node; ports clear of the nodes' arrows first, the plain ports if they must
        for ua, ub in ports:
            sa, sb = _boundary(a, ua), _boundary(b, ub)
            for depth in (0.1 + 0.28 * span, 0.3 + 0.12 * span, 0.45 + 0.12 * span, 0.2 + 0.45 * span,
                          0.9 + 0.12 * span, 1.25 + 0.12 * span, 1.65 + 0.2 * span, 2.1 + 0.2 * span):
                ctrl = (sa + sb) / 2 + direction * 2 * depth  # apex at `depth` beyond the anchors
                pts = np.array([sa, ctrl, sb])
                h = _hits(pts, _arrays(nodes), skip, margin=0.05)
                if h == 0:
                    return pts
                if best_hits is None or h < best_hits:
                    best, best_hits = pts, h
        return best  # type: ignore[return-value]
    d = pb - pa
    normal = np.array([d[1], -d[0]])
    sign = 1.0 if float(normal @ away) >= 0 else -1.0
    best, best_hits = None, None
    for rad in (0.3, 0.45, 0.6, 0.8, -0.3, -0.45, -0.6, 1.0):
        ctrl = (pa + pb) / 2 + sign * rad * normal
        pts = _clip(np.array([pa, ctrl, pb]), a, b)
        h = _hits(pts, _arrays(nodes), skip)
        if h == 0:
            return pts
        if best_hits is None or h < best_hits:
            best, best_hits = pts, h
    return best  # type: ignore[return-value]


# --------------------------------------------------------------------------- quality
def _segments_cross(p: np.ndarray, q: np.ndarray) -> int:
    """Number of proper crossings between polylines ``p`` and ``q`` (n×2, m×2)."""
    a, b = p[:-1], p[1:]
    c, d = q[:-1], q[1:]

    def orient(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    A, B = a[:, None, :], b[:, None, :]
    C, D = c[None, :, :], d[None, :, :]
    o1, o2 = orient(A, B, C), orient(A, B, D)
    o3, o4 = orient(C, D, A), orient(C, D, B)
    return int(np.count_nonzero((o1 * o2 < 0) & (o3 * o4 < 0)))


def edge_crossings(layout: Layout, kinds: tuple[str, ...] | None = None, weighted: bool = False) -> float:
    """Number of crossings between edges of ``layout`` that share no node (edges of one
    node meet at it and do not count). ``kinds`` restricts both edges to those kinds,
    e.g. ``("covariance",)`` for arc–arc crossings. ``weighted``: an arc crossing an
    arrow counts 2 (it cuts through the structure), two arrows 1, two arcs 0.5 (nested
    arcs on one side of a row cross where they interleave, which a reader follows)."""
    ts = np.linspace(0, 1, 24)
    edges = [e for e in layout.edges if kinds is None or e.kind in kinds]
    pts = [e.point(ts) for e in edges]
    boxes = np.array([[p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()] for p in pts]) \
        if pts else np.zeros((0, 4))
    total = 0
    for i in range(len(edges)):
        for j in range(i + 1, len(edges)):
            if {edges[i].source, edges[i].target} & {edges[j].source, edges[j].target}:
                continue
            bi, bj = boxes[i], boxes[j]
            if bi[0] > bj[2] or bj[0] > bi[2] or bi[1] > bj[3] or bj[1] > bi[3]:
                continue
            n = _segments_cross(pts[i], pts[j])
            if weighted and n:
                arcs = (edges[i].kind == "covariance") + (edges[j].kind == "covariance")
                n *= (1.0, 2.0, 0.5)[arcs]
            total += n
    return total
