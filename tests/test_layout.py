"""The pure path-diagram layout: placement rules, no overlaps, routes around nodes."""

from __future__ import annotations

import subprocess
import sys
from itertools import combinations

import numpy as np
import pytest

import lcsem
from lcsem.plot.layout import path_layout
from lcsem.results.fit_result import parameter_name

from test_plot_support import OBSERVED_PATH_MODEL, reference_models


def models() -> dict[str, object]:
    ref = reference_models()
    return {
        "lc": lcsem.lc_model(),
        "extended": lcsem.lc_extended_model(),
        "pd": ref["political_democracy"],
        "hs": ref["holzinger_swineford"],
        "one_path": "y ~ x",
        "observed": OBSERVED_PATH_MODEL,
        "second_order": "f1 =~ a1 + a2 + a3\nf2 =~ b1 + b2 + b3\ng =~ f1 + f2\ny ~ g",
    }


def _model(m):
    return m if isinstance(m, lcsem.Model) else lcsem.Model.from_syntax(m)


def expected_edges(model, structural_only=False) -> set[str]:
    model = _model(model)
    keep = set(model.latent) | (set(model.observed) - set(model.roles.indicators)) if structural_only else None
    out = set()
    for r in model.rows:
        if r.op not in ("=~", "~", "~~") or (r.op == "~~" and r.lhs == r.rhs):
            continue
        if keep is not None and not (r.lhs in keep and r.rhs in keep):
            continue
        out.add(parameter_name(r.lhs, r.op, r.rhs))
    return out


def boxes_overlap(a, b, gap=0.0):
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


@pytest.mark.parametrize("name", list(models()))
@pytest.mark.parametrize("structural_only", [False, True])
def test_nodes_do_not_overlap_and_every_parameter_has_one_edge(name, structural_only):
    model = models()[name]
    lay = path_layout(model, structural_only=structural_only)
    m = _model(model)
    expected_nodes = set(m.latent) | set(m.observed)
    if structural_only:
        expected_nodes -= set(m.roles.indicators) - set(m.latent)
    assert set(lay.nodes) == expected_nodes
    for a, b in combinations(lay.nodes.values(), 2):
        assert not boxes_overlap(a.box, b.box, gap=0.1), (a.name, b.name)
    names = [e.name for e in lay.edges]
    assert len(names) == len(set(names))
    assert set(names) == expected_edges(model, structural_only)


@pytest.mark.parametrize("name", list(models()))
def test_edges_run_from_node_edge_to_node_edge_and_avoid_other_nodes(name):
    lay = path_layout(models()[name])
    ts = np.linspace(0.0, 1.0, 101)
    for e in lay.edges:
        src, dst = lay.nodes[e.source], lay.nodes[e.target]
        start, end = e.point(0.0), e.point(1.0)
        # end points lie on the boundary: inside the node grown a little, outside it shrunk
        for node, p in ((src, start), (dst, end)):
            assert node.contains(p[0], p[1], margin=0.02), (e.name, node.name)
            assert not node.contains(p[0], p[1], margin=-0.02), (e.name, node.name)
        pts = e.point(ts)
        for other in lay.nodes.values():
            if other.name in (e.source, e.target):
                continue
            assert not other.contains(pts[:, 0], pts[:, 1]).any(), (e.name, "crosses", other.name)
        # the curve stays outside its own end nodes between its ends
        inner = pts[5:-5]
        assert not src.contains(inner[:, 0], inner[:, 1]).any(), e.name
        assert not dst.contains(inner[:, 0], inner[:, 1]).any(), e.name


def test_canonical_model_flows_left_to_right_with_indicators_fanned_outside():
    lay = path_layout(lcsem.lc_model())
    n = lay.nodes
    assert n["culture"].x < n["kmsuse"].x < n["perf"].x          # exogenous, mediator, outcome
    assert [n[v].column for v in ("culture", "kmsuse", "perf")] == [0, 1, 2]
    # the direct path culture -> perf passes below the mediator, not through its loadings
    assert n["kmsuse"].y - n["kmsuse"].height / 2 > max(n["culture"].y, n["perf"].y)
    model = lcsem.lc_model()
    for ind in model.indicators_of("culture"):
        assert n[ind].x + n[ind].width / 2 < n["culture"].x - n["culture"].width / 2
        assert n[ind].side == "left"
    for ind in model.indicators_of("perf"):
        assert n[ind].x - n[ind].width / 2 > n["perf"].x + n["perf"].width / 2
    for ind in model.indicators_of("kmsuse"):
        assert n[ind].y - n[ind].height / 2 > n["kmsuse"].y + n["kmsuse"].height / 2
    # each construct's indicators are, on average, closer to it than to any other
    for c in model.latent:
        inds = model.indicators_of(c)
        d = {o: np.mean([np.hypot(n[i].x - n[o].x, n[i].y - n[o].y) for i in inds]) for o in model.latent}
        assert min(d, key=d.get) == c


@pytest.mark.parametrize("name", ["lc", "extended", "pd", "observed", "second_order"])
def test_every_structural_arrow_points_rightwards(name):
    lay = path_layout(models()[name])
    for e in lay.edges:
        if e.kind == "regression":
            assert lay.nodes[e.source].column < lay.nodes[e.target].column, e.name
            assert lay.nodes[e.source].x < lay.nodes[e.target].x, e.name


def test_extended_model_columns():
    lay = path_layout(lcsem.lc_extended_model())
    col = {v: lay.nodes[v].column for v in ("mgmt_comp", "learning_proc", "emp_ability", "culture", "kmsuse", "perf")}
    assert col == {"mgmt_comp": 0, "learning_proc": 0, "emp_ability": 0, "culture": 1, "kmsuse": 2, "perf": 3}


def test_residual_covariances_of_political_democracy_arc_over_the_indicators():
    lay = path_layout(reference_models()["political_democracy"])
    for e in lay.edges:
        if e.kind == "covariance":
            a, b = lay.nodes[e.source], lay.nodes[e.target]
            apex = e.point(0.5)
            # indicators of dem60 and dem65 share one row; the arcs bulge above it
            assert a.side == b.side == "top"
            assert apex[1] > max(a.y + a.height / 2, b.y + b.height / 2)
            assert abs(e.points[1][1] - e.points[0][1]) > 0.1     # curved, not straight


def test_factor_covariances_bulge_away_from_the_indicators():
    lay = path_layout(reference_models()["holzinger_swineford"])
    for e in lay.edges:
        if e.kind == "covariance":
            node = lay.nodes[e.source]
            assert node.side == "left"
            assert e.point(0.5)[0] > node.x + node.width / 2


def test_one_path_and_observed_only_models():
    lay = path_layout("y ~ x")
    assert set(lay.nodes) == {"x", "y"}
    assert lay.nodes["x"].x < lay.nodes["y"].x
    assert all(n.shape == "rect" and n.role == "observed" for n in lay.nodes.values())
    (edge,) = lay.edges
    assert (edge.name, edge.source, edge.target, edge.kind) == ("y~x", "x", "y", "regression")
    lay = path_layout(OBSERVED_PATH_MODEL)
    assert all(n.shape == "rect" for n in lay.nodes.values())
    assert lay.nodes["x1"].x < lay.nodes["x4"].x < lay.nodes["x9"].x
    assert "x1~~x2" in {e.name for e in lay.edges}     # exogenous predictors covary


def test_positions_override_and_routes_follow():
    base = path_layout(lcsem.lc_model())
    moved = path_layout(lcsem.lc_model(), positions={"kmsuse": (3.0, -4.0), "perf": [9, 0]})
    assert (moved.nodes["kmsuse"].x, moved.nodes["kmsuse"].y) == (3.0, -4.0)
    assert (moved.nodes["perf"].x, moved.nodes["perf"].y) == (9.0, 0.0)
    assert moved.nodes["culture"] == base.nodes["culture"]
    end = moved.edge("kmsuse~culture").point(1.0)
    assert moved.nodes["kmsuse"].contains(end[0], end[1], margin=0.02)
    assert moved.positions()["kmsuse"] == (3.0, -4.0)


def test_inputs_and_errors():
    res_model = lcsem.Model.from_syntax("y ~ x")
    assert path_layout(res_model).positions() == path_layout("y ~ x").positions()
    with pytest.raises(lcsem.ArgumentError, match="positions: 'nope'"):
        path_layout("y ~ x", positions={"nope": (0, 0)})
    with pytest.raises(lcsem.ArgumentError, match="positions: the position of 'x'"):
        path_layout("y ~ x", positions={"x": "left"})
    with pytest.raises(lcsem.ArgumentError, match="model: expected"):
        path_layout(42)
    with pytest.raises(lcsem.ArgumentError, match="labels"):
        path_layout("y ~ x", labels={"z": "Zed"})
    with pytest.raises(lcsem.ArgumentError, match="not an edge"):
        path_layout("y ~ x").edge("x~y")


def test_long_labels_widen_nodes():
    short = path_layout("y ~ x")
    wide = path_layout("y ~ x", labels={"x": "Führungskompetenz für Lernen"})
    assert wide.nodes["x"].width > short.nodes["x"].width + 1.0
    assert not boxes_overlap(wide.nodes["x"].box, wide.nodes["y"].box, gap=0.5)


def test_layout_is_deterministic_and_needs_no_matplotlib():
    a = path_layout(lcsem.lc_extended_model())
    b = path_layout(lcsem.lc_extended_model())
    assert a == b
    code = ("import sys, lcsem, lcsem.plot; lcsem.path_layout(lcsem.lc_model()); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_paths_bend_around_a_node_placed_in_their_way():
    base = path_layout(lcsem.lc_model())
    mid = (base.nodes["culture"].x + base.nodes["perf"].x) / 2
    lay = path_layout(lcsem.lc_model(), positions={"kmsuse": (mid, 0.0)})
    edge = lay.edge("perf~culture")
    pts = edge.point(np.linspace(0, 1, 201))
    assert not lay.nodes["kmsuse"].contains(pts[:, 0], pts[:, 1], margin=0.05).any()
    assert abs(edge.points[1][1]) > 0.3            # bent, not straight


def test_direction_top_to_bottom_and_tucked_fans():
    lr = path_layout(lcsem.lc_model(), direction="LR")
    tb = path_layout(lcsem.lc_model(), direction="TB")
    n = tb.nodes
    assert n["culture"].y > n["kmsuse"].y > n["perf"].y            # predictors at the top
    assert lr.nodes["culture"].x < lr.nodes["kmsuse"].x < lr.nodes["perf"].x
    # the culture indicators above it in TB keep their order from left to right
    inds = lcsem.lc_model().indicators_of("culture")
    assert all(n[i].y > n["culture"].y for i in inds)
    xs = [n[i].x for i in inds]
    assert xs == sorted(xs)
    tucked = path_layout(lcsem.lc_model(), fans="tucked")
    for c in ("culture", "kmsuse", "perf"):
        assert tucked.nodes[c].side in ("top", "bottom")
    with pytest.raises(lcsem.ArgumentError, match="direction"):
        path_layout("y ~ x", direction="BT")
    with pytest.raises(lcsem.ArgumentError, match="fans"):
        path_layout("y ~ x", fans="around")


def test_higher_order_factor_is_a_factor_of_factors():
    """culture =~ three dimensions: the dimensions sit between culture and their own
    indicators, and culture's loadings on them are loadings, not structural paths."""
    model = ("dim1 =~ a1 + a2\ndim2 =~ b1 + b2\ndim3 =~ c1 + c2 + c3\nculture =~ dim1 + dim2 + dim3\n"
             "kms =~ k1 + k2 + k3\nkms ~ culture")
    lay = path_layout(model)
    n = lay.nodes
    assert lay.edge("culture=~dim1").kind == "loading"
    for dim, items in (("dim1", ("a1", "a2")), ("dim2", ("b1", "b2")), ("dim3", ("c1", "c2", "c3"))):
        assert n[items[0]].x < n[dim].x < n["culture"].x          # indicators | dimension | culture
        assert n[dim].column == -1 and n[dim].role == "construct"
    assert n["culture"].x < n["kms"].x
    # the structural path does not run through the nested factors
    assert max(n[d].x + n[d].width / 2 for d in ("dim1", "dim2", "dim3")) < n["culture"].x


def test_covariates_get_their_own_column():
    lay = path_layout("f =~ a1 + a2 + a3\ng =~ b1 + b2 + b3\ng ~ f + age + tenure\nf ~~ age")
    cols = {v: lay.nodes[v].column for v in ("age", "tenure", "f", "g")}
    assert cols["age"] == cols["tenure"] == 0 and cols["f"] == 1 and cols["g"] == 2


def test_fold_stacks_a_long_chain_in_two_columns_facing_each_other():
    model = lcsem.lc_extended_model()
    lr = path_layout(model, direction="LR")
    fold = path_layout(model, direction="fold")
    n = fold.nodes
    left, right = ("mgmt_comp", "learning_proc", "emp_ability"), ("culture", "kmsuse", "perf")
    assert len({round(lr.nodes[v].x, 1) for v in left + right}) == 4          # LR: four columns
    assert len({round(n[v].x, 1) for v in left}) == 1 and len({round(n[v].x, 1) for v in right}) == 1
    assert n["mgmt_comp"].x < n["culture"].x
    assert n["culture"].y > n["kmsuse"].y > n["perf"].y                        # chain order kept
    assert all(n[v].side == "left" for v in left) and all(n[v].side == "right" for v in right)
    for v in left + right:       # indicators outside the two columns
        for i in model.indicators_of(v):
            assert (n[i].x < n[v].x) if v in left else (n[i].x > n[v].x)
    w = lambda lay: lay.bounds[2] - lay.bounds[0]  # noqa: E731
    assert w(fold) < 0.7 * w(lr)
    for e in fold.edges:          # no route through a node
        pts = e.point(np.linspace(0.05, 0.95, 60))
        for node in n.values():
            if node.name not in (e.source, e.target):
                assert not node.contains(pts[:, 0], pts[:, 1]).any(), (e.name, node.name)


def test_wrap_puts_the_end_of_a_long_chain_in_a_second_row():
    model = lcsem.lc_extended_model()
    lay = path_layout(model, direction="wrap")
    n = lay.nodes
    top = min(n["mgmt_comp"].y, n["learning_proc"].y, n["emp_ability"].y, n["culture"].y)
    assert max(n["kmsuse"].y, n["perf"].y) < top          # last columns below the first ones
    lr = path_layout(model, direction="LR")
    assert lay.bounds[2] - lay.bounds[0] < lr.bounds[2] - lr.bounds[0]


def test_wrap_and_fold_split_one_tall_column_of_factors_into_two():
    text = "\n".join(f"f{k} =~ a{k} + b{k} + c{k}" for k in range(1, 7))
    for direction in ("wrap", "fold"):
        n = path_layout(text, direction=direction).nodes
        xs = sorted({round(n[f"f{k}"].x, 1) for k in range(1, 7)})
        assert len(xs) == 2, direction
        assert sum(round(n[f"f{k}"].x, 1) == xs[0] for k in range(1, 7)) == 3
        assert all(n[f"a{k}"].x < n[f"f{k}"].x if round(n[f"f{k}"].x, 1) == xs[0] else n[f"a{k}"].x > n[f"f{k}"].x
                   for k in range(1, 7))
    with pytest.raises(lcsem.ArgumentError, match="'fold'"):
        path_layout("y ~ x", direction="snake")


def test_a_covariance_arc_leaves_its_node_away_from_the_node_s_arrows():
    """Folded extended model: emp_ability's arc to learning_proc used to leave emp_ability
    at the very point where its path to kmsuse leaves (about 4 degrees apart)."""
    lay = path_layout(lcsem.lc_extended_model(), direction="fold")
    emp, kms = lay.nodes["emp_ability"], lay.nodes["kmsuse"]
    for e in lay.edges:
        if e.kind != "covariance" or "emp_ability" not in (e.source, e.target):
            continue
        end = np.array(e.points[0] if e.source == "emp_ability" else e.points[2])
        arc = (end - [emp.x, emp.y]) / np.hypot(*(end - [emp.x, emp.y]))
        arrow = np.array([kms.x - emp.x, kms.y - emp.y]) / np.hypot(kms.x - emp.x, kms.y - emp.y)
        assert np.degrees(np.arccos(np.clip(arc @ arrow, -1, 1))) >= 10.0, e.name
