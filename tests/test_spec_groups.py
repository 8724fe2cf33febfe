"""The parameter-table layer for mean structures and multi-group models (issue 10).

Tables are compared with lavaan 0.6.14's ``parTable`` for every fit in
``tests/reference/groups_reference.json`` (make_groups.R) and every case in
``tests/reference/spec_groups_reference.json`` (make_spec_groups.R): which rows exist in
each group, which are free, fixed and start values, and which free rows are one parameter.
lavaan writes equalities as ``==`` rows between plabels and as repeated labels; lcsem
gives equal rows one free number, so the partition of free rows into equality classes is
compared, not the numbering.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import lcsem
from lcsem import LcsemError, Model
from lcsem.exceptions import ArgumentError, ModelSpecificationError, ModelSyntaxError, NotSupportedError
from lcsem.spec.groups import (GROUP_EQUAL, fixed_x_free, group_table, mean_structure_needed, n_free,
                               n_moments, view_model)
from lcsem.spec.partable import ParRow
from lcsem.spec.syntax import GroupModifier, Statement

REF = Path(__file__).resolve().parent / "reference"
GROUPS = json.loads((REF / "groups_reference.json").read_text())["fits"]
SPEC = json.loads((REF / "spec_groups_reference.json").read_text())["cases"]
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


# ---------------------------------------------------------------------- helpers
def _as_list(value) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _table_for(entry: dict) -> tuple:
    options = entry["options"]
    model = Model.from_syntax(entry["model"], std_lv=bool(options.get("std.lv", False)))
    return model, group_table(model, entry["ngroups"], group_equal=_as_list(options.get("group.equal")),
                              group_partial=_as_list(options.get("group.partial")),
                              meanstructure=bool(options.get("meanstructure", False)))


def _key(group: int, lhs: str, op: str, rhs: str) -> tuple:
    if op == "~~" and rhs < lhs:
        lhs, rhs = rhs, lhs
    return (group, lhs, op, rhs)


def _lavaan_rows(pt: dict) -> dict:
    """(group, lhs, op, rhs) -> (free, fixed value, start value, class id) from a parTable.

    lavaan's fixed.x moments (``exo == 1``) are free parameters in lcsem (held at their
    sample values in inference), so they count as free here."""
    n = len(pt["lhs"])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_plabel = {pt["plabel"][i]: i for i in range(n)}
    first_with_label: dict[str, int] = {}
    for i in range(n):
        if pt["op"][i] in ("==", ":=") or not pt["label"][i]:
            continue
        j = first_with_label.setdefault(pt["label"][i], i)
        parent[find(i)] = find(j)
    for i in range(n):
        if pt["op"][i] == "==":
            parent[find(by_plabel[pt["lhs"][i]])] = find(by_plabel[pt["rhs"][i]])
    out = {}
    for i in range(n):
        if pt["op"][i] in ("==", ":="):
            continue
        free = pt["free"][i] > 0 or pt["exo"][i] == 1
        ustart = pt["ustart"][i]
        ustart = None if ustart is None or (isinstance(ustart, float) and math.isnan(ustart)) else ustart
        out[_key(pt["group"][i], pt["lhs"][i], pt["op"][i], pt["rhs"][i])] = (
            free, None if free else ustart, ustart if (free and pt["exo"][i] != 1) else None, find(i))
    return out


def _lcsem_rows(rows) -> dict:
    out = {}
    for r in rows:
        if r.op == ":=":
            continue
        start = None if (not r.free or math.isnan(r.value)) else r.value
        out[_key(r.group, r.lhs, r.op, r.rhs)] = (bool(r.free), None if r.free else r.value, start,
                                                  r.free if r.free else None)
    return out


def _plain(rows) -> list[tuple]:
    """Rows as tuples in which NaN values compare equal."""
    return [(r.lhs, r.op, r.rhs, r.label, r.free, None if math.isnan(r.value) else r.value, r.user, r.group)
            for r in rows]


def _partition(table: dict) -> list:
    classes: dict = {}
    for key, (free, _, _, cls) in table.items():
        if free:
            classes.setdefault(cls, set()).add(key)
    return sorted(sorted(c) for c in classes.values())


def _compare(entry: dict) -> None:
    _, rows = _table_for(entry)
    want, got = _lavaan_rows(entry["partable"]), _lcsem_rows(rows)
    assert set(got) == set(want), f"rows differ: only lavaan {set(want) - set(got)}, only lcsem {set(got) - set(want)}"
    for key in want:
        assert got[key][0] == want[key][0], f"{key}: free {got[key][0]} (lavaan {want[key][0]})"
        assert got[key][1] == pytest.approx(want[key][1]), f"{key}: fixed value {got[key][1]} (lavaan {want[key][1]})"
        if want[key][2] is not None:
            assert got[key][2] == pytest.approx(want[key][2]), f"{key}: start {got[key][2]} (lavaan {want[key][2]})"
    assert _partition(got) == _partition(want)


# ---------------------------------------------------------------------- lavaan's tables
@pytest.mark.parametrize("name", list(GROUPS))
def test_group_table_matches_lavaan_for_every_reference_fit(name):
    _compare(GROUPS[name])


@pytest.mark.parametrize("name", list(SPEC))
def test_group_table_matches_lavaan_for_edge_cases(name):
    _compare(SPEC[name])


@pytest.mark.parametrize("name", list(GROUPS))
def test_parameter_and_moment_counts_match_lavaan(name):
    entry = GROUPS[name]
    model, rows = _table_for(entry)
    means = mean_structure_needed(model, bool(entry["options"].get("meanstructure", False)), entry["ngroups"])
    npar = n_free(rows) - len(fixed_x_free(model, rows))
    assert npar == entry["fit_measures"]["npar"]
    assert n_moments(len(model.observed), entry["ngroups"], means) - n_free(rows) == entry["fit_measures"]["df"]
    if entry["ngroups"] == 1:
        assert model.df == entry["fit_measures"]["df"]


def test_fixed_x_covariates_means_are_in_the_fixed_x_set():
    entry = SPEC["fixed_x_single_means"]
    model = Model.from_syntax(entry["model"] + "\nx1 ~ 1")
    exo = {r.free for r in model.rows if r.lhs in ("ageyr", "agemo") and r.op in ("~~", "~1") and r.free}
    assert model.fixed_x_free == frozenset(exo) and len(exo) == 5   # 2 variances, 1 covariance, 2 means
    lavaan = entry["partable"]
    npar = sum(1 for f in lavaan["free"] if f > 0)
    assert n_free(model.rows) - len(model.fixed_x_free) == npar
    _, rows = _table_for(SPEC["fixed_x_groups"])
    model = Model.from_syntax(SPEC["fixed_x_groups"]["model"])
    assert len(fixed_x_free(model, rows)) == 10                     # five per group


def test_the_comparison_detects_a_wrong_table():
    # guard: the comparison above fails when lavaan's latent-mean rule is not applied
    entry = dict(GROUPS["hs_scalar"])
    entry["options"] = {**entry["options"], "group.equal": ["loadings"]}
    with pytest.raises(AssertionError):
        _compare(entry)


# ---------------------------------------------------------------------- single-group tables
@pytest.mark.parametrize("text", [HS, HS + "\nvisual ~ textual + ageyr", "y ~ a*x + z\nw ~ b*y\nind := a*b",
                                  "f =~ NA*x1 + a*x2 + a*x3 + start(0.5)*x4\nf ~~ 1*f\ny ~ 0.3*f"])
def test_one_group_without_means_is_exactly_model_rows(text):
    model = Model.from_syntax(text)
    assert _plain(group_table(model)) == _plain(model.rows)
    assert _plain(group_table(model, 1, group_equal=["loadings"])) == _plain(model.rows)   # no other group to equal
    assert not mean_structure_needed(model, False, 1)


def test_canonical_model_table_unchanged_by_the_group_layer():
    model = lcsem.lc_model()
    assert _plain(group_table(model)) == _plain(model.rows)
    assert all(r.group == (0 if r.op == ":=" else 1) for r in model.rows)


def test_intercepts_switch_the_mean_structure_on_with_lavaans_defaults():
    model = Model.from_syntax(HS + "\nx1 ~ 0*1\nvisual ~ 1\nx8 ~ i89*1\nx9 ~ i89*1")
    assert model.meanstructure
    means = {r.lhs: r for r in model.rows if r.op == "~1"}
    assert set(means) == set(model.observed) | set(model.latent)
    assert (means["x1"].free, means["x1"].value) == (0, 0.0)
    assert means["visual"].free and means["visual"].user
    assert means["x8"].free == means["x9"].free
    assert (means["speed"].free, means["speed"].value, means["speed"].user) == (0, 0.0, False)
    assert means["x2"].free and not means["x2"].user
    assert all(r.rhs == "" for r in means.values())
    # the covariance rows come first, in today's order
    plain = Model.from_syntax(HS)
    assert [r.op for r in model.rows[len(model.statements):]][:len(plain.rows) - 9] == \
        [r.op for r in plain.rows[9:]]


def test_meanstructure_argument_adds_means_to_a_plain_model():
    model = Model.from_syntax(HS)
    rows = group_table(model, 1, meanstructure=True)
    assert _plain(rows[:len(model.rows)]) == _plain(model.rows)
    assert [(r.lhs, r.op) for r in rows[len(model.rows):]] == \
        [(n, "~1") for n in model.observed + model.latent]


def test_a_label_shared_with_a_fixed_row_fixes_every_row_as_lavaan():
    # lavaan: 'f =~ a*x1 + a*x2' keeps the first loading fixed at 1, so x2's loading is 1 too
    rows = Model.from_syntax("f =~ a*x1 + a*x2 + x3").rows
    assert [(r.rhs, r.free, r.value) for r in rows[:3]] == [("x1", 0, 1.0), ("x2", 0, 1.0), ("x3", 1, rows[2].value)]


# ---------------------------------------------------------------------- multi-group tables
def test_multi_group_table_order_and_group_numbers():
    model = Model.from_syntax(HS + "\nvisual ~~ c(v1, v2, v3)*visual\nd := v1 - v3")
    rows = group_table(model, 3, group_equal=["loadings"])
    groups = [r.group for r in rows]
    assert groups == sorted(groups[:-1]) + [0]
    per = [[(r.lhs, r.op, r.rhs) for r in rows if r.group == g] for g in (1, 2, 3)]
    assert per[0] == per[1] == per[2]
    assert rows[-1].op == ":=" and rows[-1].lhs == "d"
    free = sorted({r.free for r in rows if r.free})
    assert free == list(range(1, len(free) + 1))


def test_c_values_must_match_the_number_of_groups():
    model = Model.from_syntax(HS.replace("x2", "c(a1, a2)*x2"))
    with pytest.raises(ModelSpecificationError, match=r"'visual =~ c\(a1, a2\)\*x2' gives 2 values \(a1, a2\) "
                                                      r"but the data have 3 groups"):
        group_table(model, 3)
    with pytest.raises(ModelSpecificationError, match=r"gives 2 values.*fitted as one group"):
        model.rows
    # one value is used in every group (lavaan)
    one = Model.from_syntax(HS.replace("x2", "c(a)*x2"))
    rows = group_table(one, 2)
    assert len({r.free for r in rows if r.rhs == "x2" and r.op == "=~"}) == 1


def test_plain_labels_are_shared_across_groups_and_c_labels_are_not():
    model = Model.from_syntax(HS.replace("x2", "a*x2").replace("x5", "c(b1, b2)*x5"))
    rows = group_table(model, 2)
    x2 = {r.free for r in rows if r.rhs == "x2" and r.op == "=~"}
    x5 = {r.free for r in rows if r.rhs == "x5" and r.op == "=~"}
    assert len(x2) == 1 and len(x5) == 2


def test_group_partial_accepts_lavaans_spellings():
    model = Model.from_syntax(HS)
    a = group_table(model, 2, group_equal=["loadings", "intercepts", "lv.covariances"],
                    group_partial=["visual =~ x2", "x3 ~ 1", "textual ~~ visual"])
    b = group_table(model, 2, group_equal=["loadings", "intercepts", "lv.covariances"],
                    group_partial=["visual=~x2", "x3~1", "visual ~~ textual"])
    assert _plain(a) == _plain(b)
    assert len({r.free for r in a if r.lhs == "x3" and r.op == "~1"}) == 2
    assert len({r.free for r in a if r.lhs == "x4" and r.op == "~1"}) == 1


def test_latent_means_free_in_later_groups_with_equal_intercepts():
    model = Model.from_syntax(HS)
    for equal, free_later in ((["loadings", "intercepts"], True), (["loadings", "intercepts", "means"], False),
                              (["loadings"], False)):
        rows = group_table(model, 3, group_equal=equal)
        means = {(r.group, r.lhs): r for r in rows if r.op == "~1" and r.lhs in model.latent}
        assert all(means[(1, f)].free == 0 for f in model.latent)
        assert all(bool(means[(g, f)].free) == free_later for g in (2, 3) for f in model.latent)
    # also when the intercepts are equal only partially (lavaan looks at group_equal only)
    rows = group_table(model, 2, group_equal=["loadings", "intercepts"], group_partial=["x1 ~ 1", "x2 ~ 1"])
    assert all(r.free for r in rows if r.op == "~1" and r.group == 2 and r.lhs in model.latent)
    # a written latent mean stays as written
    fixed = Model.from_syntax(HS + "\nvisual ~ 0*1")
    rows = group_table(fixed, 2, group_equal=["loadings", "intercepts"])
    assert [r.free for r in rows if r.lhs == "visual" and r.op == "~1"] == [0, 0]


def test_single_group_with_intercepts_in_group_equal_has_means():
    model = Model.from_syntax(HS)
    rows = group_table(model, 1, group_equal=["intercepts"])
    assert any(r.op == "~1" for r in rows)


# ---------------------------------------------------------------------- view_model
@pytest.mark.parametrize("name", ["hs_scalar", "hs_labelled", "lc_regressions_rescov"])
def test_view_model_reproduces_each_groups_rows(name):
    entry = GROUPS[name]
    _, rows = _table_for(entry)
    for g in range(1, entry["ngroups"] + 1):
        mine = [r for r in rows if r.group == g]
        view = view_model(mine + [r for r in rows if r.op == ":="])
        got = [r for r in view.rows if r.op != ":="]
        assert [(r.lhs, r.op, r.rhs, bool(r.free), r.user) for r in got] == \
            [(r.lhs, r.op, r.rhs, bool(r.free), r.user) for r in mine]
        for a, b in zip(got, mine):
            assert (a.value == b.value) or (math.isnan(a.value) and math.isnan(b.value))
            assert a.label == b.label or (not b.label and a.label.startswith("_eq"))
        # rows that share a number inside the group are one parameter in the view too
        pairs = [(a.free, b.free) for a, b in zip(got, mine) if b.free]
        assert len(set(pairs)) == len({p[1] for p in pairs}) == len({p[0] for p in pairs})


def test_view_model_keeps_the_fixed_x_covariates():
    entry = SPEC["fixed_x_groups"]
    model, rows = _table_for(entry)
    view = view_model([r for r in rows if r.group == 2])
    assert view.roles.exogenous_observed == model.roles.exogenous_observed
    assert len(view.fixed_x_free) == 5
    assert view.meanstructure


def test_view_model_refuses_rows_of_several_groups():
    _, rows = _table_for(GROUPS["hs_configural"])
    with pytest.raises(ArgumentError, match=r"rows: view_model takes the rows of one group"):
        view_model(rows)


# ---------------------------------------------------------------------- syntax
@pytest.mark.parametrize("term, fields", [
    ("x1 ~ 1", {}),
    ("x1 ~ 0*1", {"fixed": 0.0}),
    ("visual ~ a*1", {"label": "a"}),
    ("x1 ~ start(2)*1", {"start": 2.0}),
    ("x1 ~ NA*1", {"free_forced": True}),
])
def test_every_intercept_form_parses_to_lavaans_operator(term, fields):
    model = Model.from_syntax(HS + "\n" + term)
    s = model.statements[-1]
    assert (s.op, s.rhs) == ("~1", "")
    for name, value in fields.items():
        assert getattr(s, name) == value


def test_intercept_and_regression_in_one_statement():
    model = Model.from_syntax("y ~ 1 + x\nx ~ 1")
    assert [(s.lhs, s.op, s.rhs) for s in model.statements] == [("y", "~1", ""), ("y", "~", "x"), ("x", "~1", "")]


@pytest.mark.parametrize("term, groups", [
    ("c(a1, a2)*x2", (GroupModifier(label="a1"), GroupModifier(label="a2"))),
    ("c(a, a)*x2", (GroupModifier(label="a"), GroupModifier(label="a"))),
    ("c(1, NA)*x2", (GroupModifier(fixed=1.0), GroupModifier(free_forced=True))),
    ("c(0.5, 0.7)*x2", (GroupModifier(fixed=0.5), GroupModifier(fixed=0.7))),
    ("start(c(0.5, 0.7))*x2", (GroupModifier(start=0.5), GroupModifier(start=0.7))),
    ("c('a1', \"a2\")*x2", (GroupModifier(label="a1"), GroupModifier(label="a2"))),
    ("start(c(0.5, NA))*x2", (GroupModifier(start=0.5), GroupModifier())),
    ("c(-1, 2e-1, NA)*x2", (GroupModifier(fixed=-1.0), GroupModifier(fixed=0.2), GroupModifier(free_forced=True))),
])
def test_per_group_modifiers(term, groups):
    s = Model.from_syntax(f"visual =~ x1 + {term} + x3").statements[1]
    assert s.groups == groups
    assert (s.fixed, s.label, s.start, s.free_forced) == (None, "", None, False)


def test_c_on_intercepts_and_latent_means():
    model = Model.from_syntax(SPEC["c_intercepts"]["model"])
    s = {(st.lhs, st.op): st for st in model.statements}
    assert s[("x1", "~1")].groups == (GroupModifier(fixed=0.0), GroupModifier(free_forced=True))
    assert s[("textual", "~1")].groups == (GroupModifier(label="m1"), GroupModifier(label="m1"))


@pytest.mark.parametrize("text", [
    HS + "\nx1 ~ 1\nvisual ~ a*1\nx2 ~ 0*1\nx3 ~ start(2)*1\nx4 ~ NA*1",
    "visual =~ x1 + c(a1, a1)*x2 + c(1, NA)*x3\ntextual =~ x4 + c(b1, b2)*x5 + x6\n"
    "x9 ~~ c(v9, v9)*x9\nx4 ~ c(i4, i4)*1\ndl := b1 - b2",
    "visual =~ x1 + c(1, NA)*x2 + c(a1, a2)*x3 + start(c(0.5, NA))*x4\nvisual ~ c(0, NA)*1",
    "f =~ x1 + x2 + x3\ny ~ c(0.5, 0.25, NA)*f + start(c(1, 2, 3))*x4\ny ~ c(m1, m2, m3)*1",
])
def test_to_syntax_round_trip(text):
    model = Model.from_syntax(text)
    again = Model.from_syntax(model.to_syntax())
    assert again == model
    assert [(s.lhs, s.op, s.rhs, s.groups) for s in again.statements] == \
        [(s.lhs, s.op, s.rhs, s.groups) for s in model.statements]
    n = model.n_groups_written
    assert _plain(group_table(again, n)) == _plain(group_table(model, n))


# ---------------------------------------------------------------------- security
def _hostile(path: Path) -> list[str]:
    touch = f"__import__('os').system('touch {path}')"
    return [touch, f"a1, {touch}", "a1); import os; os.system('touch x') #", "eval('1')", "a1\nCONSTRAINT(x1 > 0)",
            "x\u00e91", "a b", "1x", "a1,", "", "'a1", "a1, 'b", "c(a, b)", "1e999", "NA, 1e400"]


def test_hostile_text_in_c_and_start_c_never_executes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    canary = tmp_path / "PWNED"
    for bad in _hostile(canary):
        for text in (f"f =~ x1 + c({bad})*x2 + x3", f"f =~ x1 + start(c({bad}))*x2 + x3",
                     f"f =~ x1 + x2 + x3\nx1 ~ c({bad})*1"):
            with pytest.raises(LcsemError):
                Model.from_syntax(text)
    assert not canary.exists()


def test_constructor_validates_group_modifiers(tmp_path):
    base = list(Model.from_syntax("f =~ x1 + c(a, b)*x2 + x3").statements)
    touch = f"__import__('os').system('touch {tmp_path / 'PWNED'}')"
    bad_groups = [
        (GroupModifier(label=touch), GroupModifier(label="b")),
        (GroupModifier(label="a\nCONSTRAINT(x1 > 0)"), GroupModifier(label="b")),
        (GroupModifier(fixed=float("nan")), GroupModifier(fixed=1.0)),
        (GroupModifier(start=10 ** 400), GroupModifier(start=1.0)),
        (GroupModifier(fixed="1"), GroupModifier(fixed=1.0)),         # type: ignore[arg-type]
        (GroupModifier(free_forced="yes"), GroupModifier()),          # type: ignore[arg-type]
        (GroupModifier(fixed=1.0, free_forced=True), GroupModifier(fixed=1.0)),
        (GroupModifier(fixed=1.0), GroupModifier()),                  # not writable as one c()
        (GroupModifier(fixed=1.0), GroupModifier(label="b")),
        (GroupModifier(label="a", start=1.0), GroupModifier(start=1.0)),   # label in one group only
        (GroupModifier(fixed=1.0, start=1.0), GroupModifier(free_forced=True)),  # start of a fixed one
        ("a", "b"),
        (),
    ]
    for groups in bad_groups:
        statements = list(base)
        statements[1] = Statement("f", "=~", "x2", 1, groups=groups)  # type: ignore[arg-type]
        with pytest.raises(LcsemError):
            Model(tuple(statements))
    with pytest.raises(LcsemError, match=r"leave the statement's own fields empty"):
        Model(tuple(base[:1] + [Statement("f", "=~", "x2", 1, label="z", groups=base[1].groups)] + base[2:]))
    with pytest.raises(LcsemError, match=r"intercept \('~1'\) has an empty right-hand side"):
        Model(tuple(base + [Statement("x1", "~1", "x2", 1)]))
    with pytest.raises(LcsemError):
        Model(tuple(base + [Statement("d", ":=", "a-b", 1, groups=(GroupModifier(),))]))
    assert not (tmp_path / "PWNED").exists()


# ---------------------------------------------------------------------- bad input
BAD = [
    ("unknown group_equal", lambda: group_table(Model.from_syntax(HS), 2, group_equal=["loading"]),
     ArgumentError, r"group_equal: 'loading' is not one of lavaan's classes; use any of 'loadings'"),
    ("thresholds", lambda: group_table(Model.from_syntax(HS), 2, group_equal=["thresholds"]),
     NotSupportedError, r"group_equal: 'thresholds': thresholds"),
    ("group_equal not strings", lambda: group_table(Model.from_syntax(HS), 2, group_equal=[1]),
     ArgumentError, r"group_equal: expected strings, got 1"),
    ("group_partial not in model", lambda: group_table(Model.from_syntax(HS), 2, group_equal=["loadings"],
                                                      group_partial=["visual =~ x9"]),
     ArgumentError, r"group_partial: 'visual =~ x9' is not a parameter of the model; .*e\.g\. 'visual =~ x1'"),
    ("group_partial garbage", lambda: group_table(Model.from_syntax(HS), 2, group_partial=["x1 ~ 2"]),
     ArgumentError, r"group_partial: 'x1 ~ 2'"),
    ("n_groups", lambda: group_table(Model.from_syntax(HS), 0), ArgumentError, r"n_groups: expected a whole number"),
    ("c() wrong count", lambda: group_table(Model.from_syntax(HS.replace("x2", "c(a, b, c)*x2")), 2),
     ModelSpecificationError, r"line 1: 'visual =~ c\(a, b, c\)\*x2' gives 3 values \(a, b, c\) but the data have 2 groups"),
    ("c() with other modifiers", lambda: Model.from_syntax("f =~ x1 + c(a, b)*start(c(1, 2))*x2 + x3"),
     ModelSyntaxError, r"'c\(a, b\)\*start\(c\(1, 2\)\)\*x2': a term with a per-group modifier c\(\.\.\.\) takes "
                       r"that one modifier \(lavaan 0.6.14 silently drops the others\)"),
    ("c() with a label", lambda: Model.from_syntax("f =~ x1 + a*c(1, NA)*x2 + x3"), ModelSyntaxError,
     r"takes that one modifier"),
    ("c() mixing labels and values", lambda: Model.from_syntax("f =~ x1 + c(a, NA)*x2 + x3"), ModelSyntaxError,
     r"'c\(a, NA\)' mixes labels with numbers or NA; lavaan reads such a c\(\) as labels"),
    ("c() empty value", lambda: Model.from_syntax("f =~ x1 + c(a, )*x2 + x3"), ModelSyntaxError, r"empty value"),
    ("c() empty", lambda: Model.from_syntax("f =~ x1 + c()*x2 + x3"), ModelSyntaxError, r"empty value"),
    ("start(c()) with a label", lambda: Model.from_syntax("f =~ x1 + start(c(a, 1))*x2 + x3"), ModelSyntaxError,
     r"cannot read the value 'a' in 'start\(c\(a, 1\)\)'"),
    ("intercept on undefined name", lambda: Model.from_syntax(HS + "\nz ~ 1"), ModelSyntaxError,
     r"line 4: 'z ~ 1': 'z' is not a variable of the model"),
    ("duplicate intercept", lambda: Model.from_syntax(HS + "\nx1 ~ 1\nx1 ~ 0*1"), ModelSyntaxError,
     r"line 5: 'x1 ~ 1' is specified twice \(first on line 4\)"),
    ("intercept with =~", lambda: Model.from_syntax(HS + "\nvisual =~ 1"), ModelSyntaxError,
     r"line 4: '1' after '=~' has no meaning"),
    ("intercept with ~~", lambda: Model.from_syntax(HS + "\nx1 ~~ 1"), ModelSyntaxError,
     r"'1' after '~~' has no meaning"),
    ("intercept on the left", lambda: Model.from_syntax(HS + "\n1 ~ x1"), ModelSyntaxError,
     r"'1' is not a valid variable name"),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_bad_input_raises_a_named_error(case):
    _, call, error, pattern = case
    with pytest.raises(error, match=pattern) as info:
        call()
    assert isinstance(info.value, LcsemError)


def test_group_equal_classes_are_lavaans():
    assert set(GROUP_EQUAL) == {"loadings", "intercepts", "means", "residuals", "residual.covariances",
                                "lv.variances", "lv.covariances", "regressions", "thresholds"}


def test_builders_drop_intercepts_of_removed_variables():
    model = Model.from_syntax(HS + "\nx3 ~ 1\nspeed ~ c(0, NA)*1\nx5 ~ c(i1, i2)*1\nd := i1 - i2")
    smaller = model.remove_indicator("visual", "x3").remove_construct("speed")
    assert [(s.lhs, s.op) for s in smaller.statements if s.op == "~1"] == [("x5", "~1")]
    assert any(s.op == ":=" for s in smaller.statements)     # c() labels still define 'd'
    assert not any(s.op == ":=" for s in smaller.remove_indicator("textual", "x5").statements)
    with_path = Model.from_syntax("y ~ x\nw ~ y\ny ~ 1\nx ~ 1")
    assert [(s.lhs, s.op) for s in with_path.remove_path("y", "x").statements] == \
        [("w", "~"), ("y", "~1")]


def test_group_modifier_records_round_trip_and_are_validated():
    from lcsem.spec.syntax import group_modifiers_from_records, group_modifiers_to_records
    model = Model.from_syntax("f =~ x1 + c(1, NA)*x2 + c(a1, a2)*x3 + start(c(0.5, NA))*x4")
    for s in model.statements:
        assert group_modifiers_from_records(group_modifiers_to_records(s.groups)) == s.groups
    json.dumps([group_modifiers_to_records(s.groups) for s in model.statements])
    for bad in ("x", [], [{"code": "__import__('os')"}], [1]):
        with pytest.raises(ArgumentError):
            group_modifiers_from_records(bad)
    forged = group_modifiers_from_records([{"label": "a\nCONSTRAINT(1)"}, {"label": "b"}])
    with pytest.raises(LcsemError):
        Model((Statement("f", "=~", "x1", 1), Statement("f", "=~", "x2", 1, groups=forged),
               Statement("f", "=~", "x3", 1)))


def test_view_model_labels_unlabelled_equal_rows_without_clashing():
    rows = (ParRow("f", "=~", "x1", "", 0, 1.0, True), ParRow("f", "=~", "x2", "", 1, float("nan"), True),
            ParRow("f", "=~", "x3", "", 1, float("nan"), True), ParRow("x1", "~~", "x1", "_eq2", 2, float("nan"), False),
            ParRow("x2", "~~", "x2", "", 3, float("nan"), False), ParRow("x3", "~~", "x3", "", 4, float("nan"), False),
            ParRow("f", "~~", "f", "", 5, float("nan"), False))
    view = view_model(rows)
    got = view.rows
    assert got[1].free == got[2].free and got[1].label == got[2].label == "_eq_1"
    assert got[3].label == "_eq2" and got[3].free != got[1].free
    assert [r.user for r in got] == [r.user for r in rows]


def test_shared_labels_lists_labels_written_once_for_all_groups():
    from lcsem.spec.groups import shared_labels
    model = Model.from_syntax(GROUPS["lc_canonical_labels_shared"]["model"])
    assert shared_labels(model) == ("a", "b", "c")
    assert shared_labels(Model.from_syntax(GROUPS["hs_labelled"]["model"])) == ()
