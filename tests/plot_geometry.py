"""Geometry of a drawn path diagram, measured on its matplotlib artists (display pixels).

Used by the gallery tests: what a reader sees is what is measured — text boxes from the
renderer, node patches' extents, and arrows as drawn (their Bézier shafts sampled, their
heads as polygons), so that a layout bug cannot hide behind the layout's own numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np


@dataclass
class Arrow:
    gid: str
    name: str                      # parameter name, or the node of a variance loop
    ends: tuple[str, ...]          # nodes the arrow joins
    shaft: np.ndarray              # (n, 2) display points along the line
    heads: list[np.ndarray]        # polygons of the arrowheads
    kind: str                      # "covariance", "directed" or "variance"


@dataclass
class Drawing:
    texts: dict[str, np.ndarray] = field(default_factory=dict)     # gid -> box
    fontsizes: dict[str, float] = field(default_factory=dict)
    nodes: dict[str, np.ndarray] = field(default_factory=dict)     # node name -> box
    arrows: dict[str, Arrow] = field(default_factory=dict)
    figure: np.ndarray = field(default_factory=lambda: np.zeros(4))
    dpi: float = 100.0


def _box(bb) -> np.ndarray:
    return np.array([bb.x0, bb.y0, bb.x1, bb.y1], dtype=float)


def _subpaths(path, transform, n: int = 24) -> list[np.ndarray]:
    """Sampled sub-paths of ``path`` in display coordinates."""
    out: list[list[np.ndarray]] = []
    ts = np.linspace(0, 1, n)
    for segment, code in path.iter_bezier():
        if code == 1:          # MOVETO: a new sub-path
            out.append([segment.control_points[:1]])
            continue
        pts = segment(ts) if segment.degree > 1 else segment.control_points
        out[-1].append(pts)
    return [transform.transform(np.vstack(parts)) for parts in out if parts]


def measure(ax) -> Drawing:
    """Draw ``ax``'s figure and collect what the diagram shows."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    d = Drawing(figure=_box(fig.bbox), dpi=fig.dpi)
    layout = ax.lcsem_layout
    edges = {e.name: e for e in layout.edges}
    for t in ax.texts:
        gid = t.get_gid()
        if gid and t.get_text().strip():
            patch = t.get_bbox_patch()
            box = _box(t.get_window_extent(renderer))
            if patch is not None and gid.startswith("edgelabel:"):
                box = _box(patch.get_window_extent(renderer))
            d.texts[gid] = box
            d.fontsizes[gid] = t.get_fontsize()
    for p in ax.patches:
        gid = p.get_gid() or ""
        if gid.startswith("node:"):
            d.nodes[gid[5:]] = _box(p.get_window_extent(renderer))
        elif gid.startswith(("edge:", "variance:")):
            parts = _subpaths(p.get_path(), p.get_transform())
            kind_, _, name = gid.partition(":")
            if kind_ == "variance":
                ends, kind = (name,), "variance"
            else:
                e = edges[name]
                ends, kind = (e.source, e.target), ("covariance" if e.two_headed else "directed")
            d.arrows[gid] = Arrow(gid, name, ends, parts[0], parts[1:], kind)
    return d


# --------------------------------------------------------------------------- checks
def overlaps(a: np.ndarray, b: np.ndarray, tol: float = 0.5) -> bool:
    return a[0] < b[2] - tol and b[0] < a[2] - tol and a[1] < b[3] - tol and b[1] < a[3] - tol


def text_collisions(d: Drawing) -> list[str]:
    """Text on text, text on a foreign node, a node's own text outside it, node on node."""
    bad = []
    for (ga, a), (gb, b) in combinations(d.texts.items(), 2):
        if overlaps(a, b):
            bad.append(f"{ga} on {gb}")
    for gt, t in d.texts.items():
        kind, _, owner = gt.partition(":")
        for name, n in d.nodes.items():
            if kind in ("nodelabel", "r2") and name == owner:
                if not (n[0] - 0.5 <= t[0] and t[2] <= n[2] + 0.5 and n[1] - 0.5 <= t[1] and t[3] <= n[3] + 0.5):
                    bad.append(f"{gt} spills out of its node")
            elif overlaps(t, n):
                bad.append(f"{gt} on node {name}")
    for (na, a), (nb, b) in combinations(d.nodes.items(), 2):
        if overlaps(a, b):
            bad.append(f"node {na} on node {nb}")
    return bad


def _densify(poly: np.ndarray, step: float = 1.0) -> np.ndarray:
    out = [poly[:1]]
    for p, q in zip(poly[:-1], poly[1:]):
        n = max(int(np.hypot(*(q - p)) / step), 1)
        out.append(p + (q - p) * np.linspace(0, 1, n + 1)[1:, None])
    return np.vstack(out)


def _inside(box: np.ndarray, pts: np.ndarray, shrink: float) -> bool:
    return bool(np.any((pts[:, 0] > box[0] + shrink) & (pts[:, 0] < box[2] - shrink)
                       & (pts[:, 1] > box[1] + shrink) & (pts[:, 1] < box[3] - shrink)))


def labels_on_arrows(d: Drawing, shrink: float = 1.0) -> list[str]:
    """Edge or variance labels lying on a foreign arrow (line or head) or on their own
    arrowhead."""
    bad = []
    for gt, box in d.texts.items():
        kind, _, owner = gt.partition(":")
        if kind not in ("edgelabel", "variancelabel"):
            continue
        own_gid = ("edge:" if kind == "edgelabel" else "variance:") + owner
        for gid, arrow in d.arrows.items():
            heads = [h for h in arrow.heads if len(h)]
            if gid == own_gid:
                if any(_inside(box, _densify(h), shrink) for h in heads):
                    bad.append(f"{gt} on its own arrowhead")
                continue
            if _inside(box, _densify(arrow.shaft), shrink) or any(_inside(box, _densify(h), shrink) for h in heads):
                bad.append(f"{gt} on arrow {gid}")
    return bad


def detached_labels(d: Drawing, inches: float = 0.12) -> list[str]:
    """Edge labels whose box is further than ``inches`` from their own arrow."""
    bad = []
    for gt, box in d.texts.items():
        if not gt.startswith("edgelabel:"):
            continue
        shaft = _densify(d.arrows["edge:" + gt[10:]].shaft)
        dx = np.maximum(np.maximum(box[0] - shaft[:, 0], shaft[:, 0] - box[2]), 0)
        dy = np.maximum(np.maximum(box[1] - shaft[:, 1], shaft[:, 1] - box[3]), 0)
        gap = float(np.min(np.hypot(dx, dy))) / d.dpi
        if gap > inches:
            bad.append(f"{gt} {gap:.2f} in from its arrow")
    return bad


def _crossings(p: np.ndarray, q: np.ndarray) -> int:
    a, b = p[:-1][:, None, :], p[1:][:, None, :]
    c, e = q[:-1][None, :, :], q[1:][None, :, :]

    def orient(u, v, w):
        return (v[..., 0] - u[..., 0]) * (w[..., 1] - u[..., 1]) - (v[..., 1] - u[..., 1]) * (w[..., 0] - u[..., 0])

    return int(np.count_nonzero((orient(a, b, c) * orient(a, b, e) < 0) & (orient(c, e, a) * orient(c, e, b) < 0)))


def crossings(d: Drawing, kind: str) -> int:
    """Crossings between drawn arrows that join no common node: both of ``kind``
    (``"covariance"`` or ``"directed"``), or ``"mixed"``: an arc crossing an arrow."""
    total = 0
    for a, b in combinations([a for a in d.arrows.values() if a.kind != "variance"], 2):
        if set(a.ends) & set(b.ends):
            continue
        kinds = {a.kind, b.kind}
        if (kind == "mixed" and kinds == {"covariance", "directed"}) or kinds == {kind}:
            total += _crossings(a.shaft, b.shaft)
    return total


def loops_on_own_arrows(d: Drawing, clearance: float = 1.0) -> list[str]:
    """Variance loops that cross or touch an arrow of their own node."""
    bad = []
    for loop in (a for a in d.arrows.values() if a.kind == "variance"):
        for arrow in d.arrows.values():
            if arrow.kind == "variance" or loop.name not in arrow.ends:
                continue
            pts = _densify(arrow.shaft)
            lp = _densify(loop.shaft)
            gap = np.min(np.hypot(*(lp[:, None, :] - pts[None, :, :]).transpose(2, 0, 1)))
            if gap < clearance or _crossings(loop.shaft, arrow.shaft):
                bad.append(f"loop of {loop.name} on {arrow.gid}")
    return bad


def outside_figure(d: Drawing, tol: float = 1.0) -> list[str]:
    f = d.figure
    bad = []
    items = list(d.texts.items()) + [(f"node:{k}", v) for k, v in d.nodes.items()]
    for gid, arrow in d.arrows.items():
        pts = np.vstack([arrow.shaft] + [h for h in arrow.heads if len(h)])
        items.append((gid, np.array([pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max(), pts[:, 1].max()])))
    for gid, b in items:
        if b[0] < f[0] - tol or b[1] < f[1] - tol or b[2] > f[2] + tol or b[3] > f[3] + tol:
            bad.append(gid)
    return bad
