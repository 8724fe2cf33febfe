"""Multi-group and mean-structure results: JSON round trip, per-group views, summaries."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lcsem

HS = pd.read_csv(Path(__file__).parent / "reference" / "hs.csv")
LABELLED = """visual =~ x1 + c(a1, a1)*x2 + c(1, NA)*x3
textual =~ x4 + c(b1, b2)*x5 + x6
speed =~ x7 + x8 + x9
dl := b1 - b2"""


@pytest.fixture(scope="module")
def grouped():
    return lcsem.fit(LABELLED, HS, group="school", group_equal=["intercepts"])


def test_json_round_trip_keeps_every_group(grouped):
    again = lcsem.FitResult.from_dict(json.loads(json.dumps(grouped.to_dict())))
    pd.testing.assert_frame_equal(again.estimates, grouped.estimates)
    pd.testing.assert_series_equal(again.r2, grouped.r2)
    pd.testing.assert_frame_equal(again.implied_cov, grouped.implied_cov)
    assert again.group_labels == grouped.group_labels and again.group_equal == ("intercepts",)
    np.testing.assert_array_equal(again.theta, grouped.theta)
    assert again.standardized_solution().equals(grouped.standardized_solution())


def test_mean_structure_round_trip():
    res = lcsem.fit("visual =~ x1 + x2 + x3\nx1 ~ 0*1\nvisual ~ 1", HS)
    again = lcsem.FitResult.from_dict(json.loads(json.dumps(res.to_dict())))
    assert again.meanstructure and not again.group_labels
    pd.testing.assert_series_equal(again.implied_mean, res.implied_mean)
    pd.testing.assert_frame_equal(again.estimates, res.estimates)


def test_edited_group_payload_is_refused(grouped):
    payload = json.loads(json.dumps(grouped.to_dict()))
    payload["estimates"]["data"]["group"][0] = 7
    with pytest.raises(lcsem.LcsemError, match="not a parameter of the stored model"):
        lcsem.FitResult.from_dict(payload)
    payload = json.loads(json.dumps(grouped.to_dict()))
    payload["grouping"]["group_labels"] = [{"__import__": "os"}]
    with pytest.raises(lcsem.LcsemError, match="group_labels"):
        lcsem.FitResult.from_dict(payload)


def test_views_share_the_joint_parameters(grouped):
    a, b = grouped.groups.values()
    # the loading of x2 carries the label a1 in both groups: one parameter
    assert a.estimates.loc[1, "est"] == b.estimates.loc[1, "est"]
    # c(1, NA): x3's loading is fixed in group 1, free in group 2
    assert np.isnan(a.estimates.loc[2, "se"]) and b.estimates.loc[2, "se"] > 0
    assert a.data.shape[0] + b.data.shape[0] == grouped.n_obs
    with pytest.raises(lcsem.LcsemError, match="res.groups"):
        grouped.structure


def test_summary_names_the_groups(grouped):
    text = grouped.summary()
    assert "2 groups (school): 1 = Pasteur (N 156), 2 = Grant-White (N 145)" in text
    assert "equal across groups: intercepts" in text


def test_a_single_label_in_a_multi_group_model_warns_and_is_shared():
    with pytest.warns(lcsem.SharedLabelWarning, match="a1"):
        res = lcsem.fit("visual =~ x1 + a1*x2 + x3", HS, group="school")
    loadings = res.estimates.query("op == '=~' and rhs == 'x2'")["est"]
    assert loadings.nunique() == 1


def test_more_parameters_than_moments_is_refused_before_fitting():
    with pytest.raises(lcsem.ModelSpecificationError, match="df = -1"):
        lcsem.fit("visual =~ x1 + x2 + x3\nvisual ~ 1", HS)


def test_engine_semopy_reports_semopys_solution_with_lcsems_statistics():
    model = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"
    own = lcsem.fit(model, HS)
    cross = lcsem.fit(model, HS, engine="semopy")
    assert cross.iterations == 0 and own.iterations > 0
    # the same optimum up to semopy's tolerance, with lcsem's statistics on it
    np.testing.assert_allclose(cross.estimates["est"], own.estimates["est"], atol=5e-3)
    assert cross.fit_indices["chisq"] == pytest.approx(own.fit_indices["chisq"], abs=0.05)
    assert cross.fit_indices["chisq"] >= own.fit_indices["chisq"] - 1e-9
    with pytest.raises(lcsem.ArgumentError, match="engine"):
        lcsem.fit(model, HS, engine="lavaan")
    with pytest.raises(lcsem.NotSupportedError, match="engine"):
        lcsem.fit(model, HS, engine="semopy", group="school")


def test_group_frames_split_the_rows_used_in_group_order(grouped):
    frames = grouped.group_frames()
    assert [len(f) for f in frames] == [156, 145]
    assert all(list(f.columns) == list(grouped.model.observed) for f in frames)
    assert (HS.loc[frames[0].index, "school"] == "Pasteur").all()
