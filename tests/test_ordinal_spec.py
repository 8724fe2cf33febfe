"""Parameter tables of models with ordered indicators (issue 12, specification side).

Every fit in ``tests/reference/ordinal_reference.json`` (make_ordinal.R, lavaan 0.6.14) and
every case in ``tests/reference/ordinal_spec_reference.json`` (make_ordinal_spec.R: written
thresholds and scaling factors with modifiers, lavaan's ``group.equal = "thresholds"`` in
the delta and theta parameterisations, ``group.partial`` of thresholds, ``std.lv``, mixed
indicators in two groups) is rebuilt with :func:`lcsem.spec.ordinal.ordinal_table` and
compared with lavaan's ``parTable``: the rows in lavaan's order (lhs, op, rhs, group, user), which are free, the
fixed values, the labels, and which free rows are one parameter (lavaan: repeated labels
and ``==`` rows between ``.pN.`` plabels; lcsem: one shared ``free`` number). Where no
equality constraint is involved the ``free`` numbers themselves equal lavaan's.
The number of thresholds of each item is taken from the data (categories - 1), as lavaan.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from lcsem import LcsemError, Model
from lcsem.exceptions import ArgumentError, ModelSpecificationError, ModelSyntaxError, NotSupportedError
from lcsem.spec.groups import group_table
from lcsem.spec.model import fixed_x_numbers
from lcsem.spec.ordinal import ordinal_n_moments, ordinal_rows, ordinal_table
from lcsem.spec.syntax import parse_syntax

REF = Path(__file__).resolve().parent / "reference"
ORD = json.loads((REF / "ordinal_reference.json").read_text())
FITS = ORD["fits"]
SPEC = json.loads((REF / "ordinal_spec_reference.json").read_text())
CASES = SPEC["cases"]
SIM = "f1 =~ y1 + y2 + y3 + y4\nf2 =~ y5 + y6 + y7 + y8"
SIM_K = {"y1": 3, "y2": 3, "y3": 3, "y4": 3, "y5": 4, "y6": 4, "y7": 4, "y8": 4}


# ---------------------------------------------------------------------- helpers
def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _n_thresholds(entry: dict) -> dict[str, int]:
    file = entry["options"]["data"]
    data = pd.read_csv(REF / (file if file.endswith(".csv") else SPEC["data"][file]))
    return {name: int(data[name].nunique()) - 1 for name in _as_list(entry["options"]["ordered"])}


def _table(entry: dict):
    options = entry["options"]
    model = Model.from_syntax(entry["model"], std_lv=bool(options.get("std.lv", False)))
    return ordinal_table(model, _n_thresholds(entry), entry["ngroups"],
                         group_equal=_as_list(options.get("group.equal")),
                         group_partial=_as_list(options.get("group.partial")),
                         parameterization=options.get("parameterization", "delta"))


def _lavaan_classes(pt: dict) -> list[int]:
    """Equality class of each row of a parTable (union of repeated labels and ``==`` rows)."""
    n = len(pt["lhs"])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_plabel = {pt["plabel"][i]: i for i in range(n)}
    first: dict[str, int] = {}
    for i in range(n):
        if pt["op"][i] not in ("==", ":=") and pt["label"][i]:
            parent[find(i)] = find(first.setdefault(pt["label"][i], i))
    for i in range(n):
        if pt["op"][i] == "==":
            parent[find(by_plabel[pt["lhs"][i]])] = find(by_plabel[pt["rhs"][i]])
    return [find(i) for i in range(n)]


def _partition(keys: list, classes: list) -> list:
    out: dict = {}
    for key, cls in zip(keys, classes):
        out.setdefault(cls, []).append(key)
    return sorted(sorted(v) for v in out.values())


def _compare(entry: dict) -> None:
    rows = [r for r in _table(entry) if r.op != ":="]
    pt = entry["partable"]
    idx = [i for i in range(len(pt["lhs"])) if pt["op"][i] not in ("==", ":=")]
    lav = [(pt["lhs"][i], pt["op"][i], pt["rhs"][i], pt["group"][i], bool(pt["user"][i])) for i in idx]
    got = [(r.lhs, r.op, r.rhs, r.group, r.user) for r in rows]
    assert got == lav, "rows or their order differ from lavaan's parTable"
    exo = [i for i in idx if pt["exo"][i] == 1 and pt["op"][i] in ("~~", "~1")]
    fixed_x = fixed_x_numbers(rows, Model.from_syntax(entry["model"]).roles.exogenous_observed)
    assert fixed_x == {r.free for r, i in zip(rows, idx) if i in exo}
    for r, i in zip(rows, idx):
        where = f"{r.lhs} {r.op} {r.rhs} (group {r.group})"
        if i in exo:    # lavaan's fixed.x moments: free in lcsem, held at the sample values
            assert r.free and not r.user, f"{where}: a covariate's moment"
            continue
        assert bool(r.free) == (pt["free"][i] > 0), f"{where}: free {bool(r.free)}"
        if not r.free:
            assert r.value == pytest.approx(pt["ustart"][i]), f"{where}: fixed value {r.value}"
        elif pt["ustart"][i] is not None and not math.isnan(pt["ustart"][i]):
            assert r.value == pytest.approx(pt["ustart"][i]), f"{where}: start value {r.value}"
        label = pt["label"][i]
        if not label.startswith(".p"):     # lavaan's own plabels of group.equal rows
            assert r.label == label, f"{where}: label {r.label!r} (lavaan {label!r})"
    classes = _lavaan_classes(pt)
    free_keys = [k for k, r, i in zip(got, rows, idx) if r.free and i not in exo]
    assert _partition(free_keys, [r.free for r, i in zip(rows, idx) if r.free and i not in exo]) == \
        _partition(free_keys, [classes[i] for r, i in zip(rows, idx) if r.free and i not in exo])
    if not any(op == "==" for op in pt["op"]) and not any(pt["label"][i] for i in idx) and not exo:
        assert [r.free for r in rows] == [pt["free"][i] for i in idx]
    n_par = len({r.free for r in rows if r.free} - fixed_x)
    assert n_par == entry["npar"] - sum(op == "==" for op in pt["op"])
    if "fit_measures" in entry:
        options = entry["options"]
        model = Model.from_syntax(entry["model"], std_lv=bool(options.get("std.lv", False)))
        dims = entry["wls_v_dim"]
        n_mom = ordinal_n_moments(model, _n_thresholds(entry), entry["ngroups"])
        assert n_mom == sum(d[0] for d in dims.values())
        assert n_mom - n_par == entry["fit_measures"]["df"]


# ---------------------------------------------------------------------- lavaan's tables
@pytest.mark.parametrize("name", list(FITS))
def test_ordinal_table_matches_lavaan_for_every_reference_fit(name):
    _compare(FITS[name])


@pytest.mark.parametrize("name", list(CASES))
def test_ordinal_table_matches_lavaan_for_every_spec_case(name):
    _compare(CASES[name])


def test_reference_covers_the_cases_the_issue_names():
    names = set(FITS)
    assert {"sim_wlsmv_theta", "lc_ord_wlsmv_theta", "lc_ord_cfa_2factor_misspec_theta", "sim_mixed_wlsmv",
            "lc_ord_cfa_groups_lavaan_default", "lc_ord_inv_configural", "lc_ord_inv_thresholds",
            "lc_ord_inv_loadings", "lc_ord_inv_intercepts"} <= names


@pytest.mark.parametrize("name", list(FITS))
def test_every_reference_model_text_parses_and_round_trips(name):
    text = FITS[name]["model"]
    model = Model.from_syntax(text)
    again = Model.from_syntax(model.to_syntax())

    def fields(m: Model) -> list[tuple]:
        return sorted((s.lhs, s.op, s.rhs, s.fixed, s.label, s.start, s.free_forced, s.groups)
                      for s in m.statements)
    assert fields(again) == fields(model)


def test_measeq_repeated_terms_merge_into_one_parameter_per_group():
    model = Model.from_syntax(FITS["lc_ord_inv_thresholds"]["model"])
    by_key = {(s.lhs, s.op, s.rhs): s for s in model.statements}
    th = by_key[("culture1", "|", "t2")].groups
    assert [(m.free_forced, m.label) for m in th] == [(True, "culture1.thr2")] * 2
    icept = by_key[("culture1", "~1", "")].groups
    assert [(m.fixed, m.free_forced, m.label) for m in icept] == [(0.0, False, "nu.1.g1"), (None, True, "nu.1.g2")]
    scale = by_key[("culture1", "~*~", "culture1")].groups
    assert [(m.fixed, m.free_forced) for m in scale] == [(1.0, False), (None, True)]


# ---------------------------------------------------------------------- syntax
def test_threshold_and_scaling_syntax_with_modifiers():
    text = ("f =~ y1 + y2 + y3\n"
            "y1 | 0*t1 + a*t2 + NA*t3\n"
            "y2 | c(NA, NA)*t1 + c(l1, l2)*t1 + c(0.5, NA)*t2\n"
            "y1 ~*~ 1*y1\n"
            "y2 ~*~ c(1, NA)*y2")
    st = {(s.lhs, s.op, s.rhs): s for s in parse_syntax(text)}
    assert st[("y1", "|", "t1")].fixed == 0.0
    assert st[("y1", "|", "t2")].label == "a"
    assert st[("y1", "|", "t3")].free_forced
    assert [m.label for m in st[("y2", "|", "t1")].groups] == ["l1", "l2"]
    assert [m.fixed for m in st[("y2", "|", "t2")].groups] == [0.5, None]
    assert st[("y1", "~*~", "y1")].fixed == 1.0
    rows = ordinal_table(Model.from_syntax(text), {"y1": 3, "y2": 2, "y3": 1}, 2)
    g = {(r.lhs, r.op, r.rhs, r.group): r for r in rows}
    assert g[("y1", "|", "t1", 1)].free == 0 and g[("y1", "|", "t1", 2)].value == 0.0
    assert g[("y1", "|", "t2", 1)].free == g[("y1", "|", "t2", 2)].free > 0      # one label, both groups
    assert g[("y2", "|", "t1", 1)].free != g[("y2", "|", "t1", 2)].free
    assert g[("y2", "|", "t2", 1)].free == 0 and g[("y2", "|", "t2", 2)].free > 0
    assert g[("y2", "~*~", "y2", 1)].free == 0 and g[("y2", "~*~", "y2", 2)].free > 0
    assert g[("y3", "|", "t1", 2)].free > 0 and not g[("y3", "|", "t1", 2)].user


def test_written_thresholds_make_a_variable_ordered_as_lavaan():
    model = Model.from_syntax("f =~ y1 + y2 + x3\ny1 | t1 + t2\ny2 | t1")
    ops = [(r.lhs, r.op, r.rhs, r.free, r.value) for r in model.rows]
    assert ("y1", "~~", "y1", 0, 1.0) in ops and ("y2", "~*~", "y2", 0, 1.0) in ops
    assert ("y1", "~1", "", 0, 0.0) in ops
    assert [r for r in model.rows if r.lhs == "x3" and r.op == "~1"][0].free > 0
    assert model.meanstructure and not Model.from_syntax("f =~ y1 + y2 + x3").meanstructure


@pytest.mark.parametrize("text, match", [
    ("f =~ y1 + y2\ny1 | 1", r"line 2: '1' after '\|' has no meaning"),
    ("f =~ y1 + y2\ny1 | th1", r"line 2: 'th1' is not a threshold name"),
    ("f =~ y1 + y2\ny1 | t0", r"'t0' is not a threshold name"),
    ("f =~ y1 + y2\ny1 ~*~ y2", r"line 2: a scaling factor relates an ordered variable to itself"),
    ("f =~ y1 + y2\ny1 | a*t1 + b*t1", r"line 2: 'b\*t1' has two labels"),
    ("f =~ y1 + y2\ny1 | t1 + t1", r"line 2: 't1' is written twice in this statement"),
    ("f =~ y1 + y2\ny1 | c(1, NA)*t1 + 2*t1", r"two fixed values"),
    ("f =~ y1 + y2\ny1 | t1\ny1 | t1", r"'y1 \| t1' is specified twice"),
    ("f =~ y1 + y2\ny1 | __import__('os')*t1", r"line 2"),
])
def test_bad_ordinal_syntax_names_line_and_token(text, match):
    with pytest.raises(ModelSyntaxError, match=match):
        Model.from_syntax(text)


# ---------------------------------------------------------------------- group_equal
def test_group_equal_thresholds_delta_frees_scaling_and_latent_means_in_later_groups():
    model = Model.from_syntax(SIM)
    rows = ordinal_table(model, SIM_K, 2, group_equal=["thresholds"])
    g = {(r.lhs, r.op, r.rhs, r.group): r for r in rows}
    for k in (1, 2, 3):
        assert g[("y1", "|", f"t{k}", 1)].free == g[("y1", "|", f"t{k}", 2)].free > 0
    assert g[("y1", "~*~", "y1", 1)].free == 0 and g[("y1", "~*~", "y1", 2)].free > 0
    assert g[("y1", "~~", "y1", 2)].free == 0
    assert g[("f1", "~1", "", 1)].free == 0 and g[("f1", "~1", "", 2)].free > 0
    theta = {(r.lhs, r.op, r.rhs, r.group): r
             for r in ordinal_table(model, SIM_K, 2, group_equal=["thresholds"], parameterization="theta")}
    assert theta[("y1", "~*~", "y1", 2)].free == 0 and theta[("y1", "~~", "y1", 2)].free > 0
    partial = {(r.lhs, r.op, r.rhs, r.group): r
               for r in ordinal_table(model, SIM_K, 2, group_equal=["thresholds"], group_partial=["y1|t2"])}
    assert partial[("y1", "|", "t2", 1)].free != partial[("y1", "|", "t2", 2)].free
    assert partial[("y1", "|", "t1", 1)].free == partial[("y1", "|", "t1", 2)].free


# ---------------------------------------------------------------------- bad input
BAD = [
    ("t5 on a 4-category item", "f =~ y1 + y2 + y3\ny1 | t1 + t2 + t5", {"y1": 3, "y2": 3, "y3": 3}, {},
     ModelSpecificationError, r"line 2: 'y1 \| t5': 'y1' has 4 categories, so 3 thresholds \(t1, t2, t3\); remove t5"),
    ("threshold on a continuous variable", "f =~ y1 + y2 + c1\nc1 | t1", {"y1": 3, "y2": 3}, {},
     ModelSpecificationError, r"line 2: 'c1 \| t1': 'c1' is not ordered, so it has no thresholds; declare it ordered"),
    ("scaling factor of a continuous variable", "f =~ y1 + y2 + c1\nc1 ~*~ c1", {"y1": 3, "y2": 3}, {},
     ModelSpecificationError, r"'c1' is not ordered, so it has no a scaling factor|'c1' is not ordered"),
    ("threshold of a latent variable", "f =~ y1 + y2\nf | t1", {"y1": 3, "y2": 3}, {},
     ModelSpecificationError, r"'f' is a latent variable; only ordered observed variables have thresholds"),
    ("ordered covariate", "f =~ y1 + y2\nf ~ x", {"y1": 3, "y2": 3, "x": 2}, {},
     ModelSpecificationError, r"ordered: 'x' is an exogenous covariate"),
    ("ordered not a mapping", SIM, ["y1"], {}, ArgumentError, r"ordered: expected a mapping"),
    ("zero thresholds", SIM, {"y1": 0}, {}, ArgumentError, r"ordered\['y1'\]: expected the number of thresholds"),
    ("too many thresholds", SIM, {"y1": 40}, {}, ArgumentError, r"ordered\['y1'\]: .* got 40"),
    ("bool thresholds", SIM, {"y1": True}, {}, ArgumentError, r"ordered\['y1'\]"),
    ("latent ordered", SIM, {"f1": 3}, {}, ArgumentError, r"ordered: 'f1' is a latent variable"),
    ("no ordered variable in the model", SIM, {"z": 3}, {}, ArgumentError, r"ordered: none of \['z'\]"),
    ("empty ordered", SIM, {}, {}, ArgumentError, r"ordered: no ordered variable given"),
    ("parameterization", SIM, SIM_K, {"parameterization": "gamma"}, ArgumentError,
     r"parameterization: expected 'delta' or 'theta', got 'gamma'"),
    ("partial threshold not in model", SIM, SIM_K, {"n_groups": 2, "group_equal": ["thresholds"],
                                                    "group_partial": ["y1 | t4"]},
     ArgumentError, r"group_partial: 'y1 \| t4' is not a parameter of the model"),
]


@pytest.mark.parametrize("case, text, ordered, kwargs, error, match", BAD, ids=[b[0] for b in BAD])
def test_bad_ordinal_input_names_the_row_and_fix(case, text, ordered, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        ordinal_table(Model.from_syntax(text), ordered, **kwargs)
    assert isinstance(info.value, LcsemError)


def test_thresholds_in_group_equal_need_ordered_indicators():
    with pytest.raises(NotSupportedError, match=r"group_equal: 'thresholds': thresholds belong to ordered"):
        group_table(Model.from_syntax(SIM), 2, group_equal=["thresholds"])


def test_continuous_tables_are_unchanged_by_unused_ordered_names():
    model = Model.from_syntax("f =~ x1 + x2 + x3")
    def plain(rows):
        return [(r.lhs, r.op, r.rhs, r.label, r.free, None if math.isnan(r.value) else r.value, r.user, r.group)
                for r in rows]
    assert plain(group_table(model, 2)) == plain(group_table(model, 2, ordered={"z": 3}))


# ---------------------------------------------------------------------- the view
def test_ordinal_rows_view():
    rows = ordinal_table(Model.from_syntax(SIM), SIM_K, 2, group_equal=["thresholds"])
    view = ordinal_rows(rows)
    assert view.ordered == tuple(SIM_K)
    assert view.threshold_names(2)[:4] == ("y1|t1", "y1|t2", "y1|t3", "y2|t1")
    assert len(view.threshold_names(1)) == sum(SIM_K.values())
    for g in (1, 2):
        for name, idx in view.thresholds[g]:
            assert [(rows[i].lhs, rows[i].op, rows[i].rhs, rows[i].group) for i in idx] == \
                [(name, "|", f"t{k}", g) for k in range(1, SIM_K[name] + 1)]
        assert all(rows[i].op == "~*~" and rows[i].group == g for i in view.scaling[g].values())
        assert all(rows[i].op == "~~" and rows[i].lhs == n for n, i in view.residual_variances[g].items())
        assert all(rows[i].op == "~1" and rows[i].lhs == n for n, i in view.intercepts[g].items())
    assert all(rows[i].free for i in view.scaling[2].values())


def test_ordinal_rows_follow_the_models_variable_order_not_the_written_order():
    entry = CASES["sim_written"]            # y1, y7, y8 thresholds and y5, y6 scaling factors written first
    model = Model.from_syntax(entry["model"])
    view = ordinal_rows(ordinal_table(model, _n_thresholds(entry)))
    assert view.ordered == model.observed == tuple(f"y{i}" for i in range(1, 9))
    assert view.threshold_names()[:4] == ("y1|t1", "y1|t2", "y1|t3", "y2|t1")


def test_view_model_of_an_ordinal_group_reproduces_its_rows():
    from lcsem.spec.groups import view_model
    entry = FITS["lc_ord_inv_thresholds"]
    rows = _table(entry)
    for g in (1, 2):
        part = [r for r in rows if r.group == g]
        view = view_model(part)
        assert [(r.lhs, r.op, r.rhs, bool(r.free), None if r.free else r.value) for r in view.rows] == \
            [(r.lhs, r.op, r.rhs, bool(r.free), None if r.free else r.value) for r in part]


def test_several_left_hand_names_give_lavaans_row_order():
    st = parse_syntax("f =~ y1 + y2 + y3\ny1 + y2 | t1 + t2\ny1 + y2 ~~ y3 + f")
    assert [(s.lhs, s.op, s.rhs) for s in st[3:]] == [
        ("y1", "|", "t1"), ("y1", "|", "t2"), ("y2", "|", "t1"), ("y2", "|", "t2"),
        ("y1", "~~", "y3"), ("y1", "~~", "f"), ("y2", "~~", "y3"), ("y2", "~~", "f")]


def test_ordinal_models_survive_saving():
    from lcsem.results.codec import model_from_dict, model_to_dict
    model = Model.from_syntax(FITS["lc_ord_inv_intercepts"]["model"])
    again = model_from_dict(json.loads(json.dumps(model_to_dict(model))))
    assert again == model
    assert again.statements == model.statements
