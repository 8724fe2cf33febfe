"""Sample moments per group (lcsem.data.groups.moments_by_group) against lavaan's per-group
sample statistics, and its refusals of bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lcsem.data.groups import GroupedMoments, group_label, moments_by_group
from lcsem.data.moments import moments_from_data
from lcsem.exceptions import ArgumentError, DataError, LcsemError, MissingColumnsError, OrdinalDataWarning

REF = Path(__file__).parent / "reference"
HS_COLUMNS = tuple(f"x{i}" for i in range(1, 10))


@pytest.fixture(scope="module")
def groups_ref():
    return json.loads((REF / "groups_reference.json").read_text())


@pytest.fixture(scope="module")
def hs():
    return pd.read_csv(REF / "hs.csv")


@pytest.fixture(scope="module")
def lc():
    return pd.read_csv(REF / "lc_shared.csv")


@pytest.mark.parametrize("name, data_file, group", [("hs_configural", "hs.csv", "school"),
                                                    ("lc_configural", "lc_shared.csv", "sector")])
def test_moments_equal_lavaan_sampstat(groups_ref, name, data_file, group):
    """lavInspect(fit, "sampstat") per group: covariance with denominator N_g and means."""
    ref = groups_ref["fits"][name]
    data = pd.read_csv(REF / data_file)
    first = ref["sampstat"][ref["group_labels"][0]]
    columns = tuple(first["cov"]["rownames"])
    got = moments_by_group(data, columns, group, "listwise")
    assert isinstance(got, GroupedMoments)
    assert got.labels == tuple(ref["group_labels"])
    assert got.column == group and got.n_groups == ref["ngroups"] == 2
    assert list(got.n_obs_by_group) == ref["nobs"]
    assert got.n_obs == got.n_total == ref["ntotal"]
    for label, moments in zip(got.labels, got.groups):
        stat = ref["sampstat"][label]
        assert stat["cov"]["colnames"] == list(columns) and moments.columns == columns
        np.testing.assert_allclose(moments.cov, np.array(stat["cov"]["values"]), rtol=0, atol=1e-10)
        np.testing.assert_allclose(moments.mean, [stat["mean"][c] for c in columns], rtol=0, atol=1e-10)
        assert moments.n_obs == moments.n_total


def test_groups_in_order_of_first_appearance(hs):
    flipped = pd.concat([hs[hs.school == "Grant-White"], hs[hs.school == "Pasteur"]])
    got = moments_by_group(flipped, HS_COLUMNS, "school", "listwise")
    assert got.labels == ("Grant-White", "Pasteur")
    assert got.n_obs_by_group == (145, 156)
    # the same groups as in the original order, relabelled
    orig = moments_by_group(hs, HS_COLUMNS, "school", "listwise")
    np.testing.assert_allclose(got.groups[0].cov, orig.groups[1].cov, atol=1e-12)


def test_one_group_without_a_group_column(hs):
    got = moments_by_group(hs, HS_COLUMNS, None, "listwise")
    single = moments_from_data(hs, HS_COLUMNS, "listwise")
    assert got.labels == () and got.column is None and got.n_groups == 1
    np.testing.assert_array_equal(got.groups[0].cov, single.cov)
    np.testing.assert_array_equal(got.groups[0].mean, single.mean)
    assert got.n_obs == single.n_obs == 301


def test_listwise_deletion_within_each_group_is_reported(hs):
    data = hs.copy()
    pasteur = data.index[data.school == "Pasteur"]
    grant = data.index[data.school == "Grant-White"]
    data.loc[pasteur[:3], "x1"] = np.nan
    data.loc[grant[:2], "x9"] = np.nan
    data.loc[grant[5], "grade"] = np.nan          # not a model column: the row is kept
    before = data.copy()
    got = moments_by_group(data, HS_COLUMNS, "school", "listwise")
    pd.testing.assert_frame_equal(data, before)
    assert got.n_obs_by_group == (153, 143) and got.n_dropped_by_group == (3, 2)
    assert got.n_obs == 296 and got.n_total == 301 and got.n_dropped == 5
    assert got.describe() == ("N used 296 of 301 (dropped 5; by school: Pasteur 153 of 156, "
                              "Grant-White 143 of 145; missing='listwise')")
    # each group is the complete cases of that group
    complete = data.dropna(subset=list(HS_COLUMNS))
    for label, moments in zip(got.labels, got.groups):
        rows = complete[complete.school == label]
        assert list(moments.data.index) == list(rows.index)
        np.testing.assert_allclose(moments.cov, np.cov(rows[list(HS_COLUMNS)].T, bias=True), atol=1e-12)


def test_labels_are_text_as_lavaan_writes_them(hs):
    data = hs.assign(code=np.where(hs.school == "Pasteur", 2.0, 1.0))
    got = moments_by_group(data, HS_COLUMNS, "code", "listwise")
    assert got.labels == ("2", "1")
    assert group_label(1.5) == "1.5" and group_label(3) == "3" and group_label(True) == "True"


def test_ordinal_warning_issued_once(lc):
    data = lc.copy()
    data["culture1"] = np.round(np.clip(data["culture1"], -1, 1))   # three categories
    cols = tuple(c for c in lc.columns if c != "sector")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        moments_by_group(data, cols, "sector", "listwise")
    assert sum(issubclass(w.category, OrdinalDataWarning) for w in caught) == 1


def _refused(data, error, *fragments, columns=HS_COLUMNS, group="school", missing="listwise", **kwargs):
    before = data.copy()
    with pytest.raises(error) as info:
        moments_by_group(data, columns, group, missing, **kwargs)
    assert isinstance(info.value, LcsemError)
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, message
    pd.testing.assert_frame_equal(data, before)
    return message


def test_refuses_a_missing_group_column_with_near_names(hs):
    _refused(hs, MissingColumnsError, "group", "'schol'", "did you mean 'school'", "columns are",
             group="schol")


def test_refuses_a_group_column_with_one_level(hs):
    _refused(hs[hs.school == "Pasteur"], DataError, "group", "'school'", "one level", "'Pasteur'",
             "at least two groups")


def test_refuses_a_level_with_too_few_complete_cases(hs):
    data = pd.concat([hs[hs.school == "Pasteur"], hs[hs.school == "Grant-White"].iloc[:12]])
    data.loc[data.index[data.school == "Grant-White"][:4], "x3"] = np.nan
    _refused(data, DataError, "'school'", "'Grant-White': 8 complete of 12 rows", "9 observed",
             "at least 10")


def test_refuses_missing_group_values(hs):
    data = hs.copy()
    data.loc[data.index[[4, 10, 20]], "school"] = None
    _refused(data, DataError, "group", "'school'", "missing in 3 of 301 rows", "drop those rows",
             "recode")


def test_refuses_a_group_column_that_is_a_model_variable(hs):
    data = hs.assign(x10=(hs.school == "Pasteur").astype(float))
    _refused(data, DataError, "group", "'x10'", "observed variable", columns=HS_COLUMNS + ("x10",),
             group="x10")
    _refused(hs, DataError, "group", "'visual'", "latent variable", group="visual", latent=("visual",))


@pytest.mark.parametrize("group", [["school"], 1, ("school",)])
def test_refuses_a_group_argument_that_is_not_text(hs, group):
    _refused(hs, ArgumentError, "group", repr(group), "string", group=group)


def test_a_problem_within_one_group_names_the_group(hs):
    data = hs.copy()
    data.loc[data.school == "Grant-White", "x5"] = 3.0   # constant within one group only
    _refused(data, DataError, "group 'Grant-White' of 'school'", "x5", "constant")


def test_refuses_duplicated_group_columns(hs):
    data = pd.concat([hs, hs[["school"]]], axis=1)
    _refused(data, DataError, "group", "more than one column named 'school'")


def test_categorical_group_column_in_order_of_appearance_not_of_categories(hs):
    """lavaan: unique(as.character(x)), so a factor's level order does not matter."""
    data = hs.assign(school=pd.Categorical(hs.school, categories=["Grant-White", "Pasteur"]))
    assert moments_by_group(data, HS_COLUMNS, "school", "listwise").labels == ("Pasteur", "Grant-White")


def test_missing_error_policy_names_the_group(hs):
    data = hs.copy()
    data.loc[data.index[data.school == "Grant-White"][0], "x2"] = np.nan
    message = _refused(data, DataError, "group 'Grant-White' of 'school'", "missing values", "'x2': 1",
                       missing="error")
    assert "Pasteur" not in message
