"""Models and reference data the benchmark scripts share (imported as ``_models``: the
scripts run as ``python benchmarks/<script>.py``, whose folder is on the import path)."""

from pathlib import Path

#: tests/reference: lavaan's reference data (hs.csv, lc_shared.csv, ...)
REF = Path(__file__).resolve().parent.parent / "tests" / "reference"

#: Holzinger-Swineford three-factor CFA (lavaan's example)
HS_MODEL = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"

#: the learning-culture model with the item names of tests/reference/lc_shared.csv
LC_MODEL = """culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b"""

#: Bollen's Political Democracy model with equal loadings over time (lavaan's example)
POLITICAL_DEMOCRACY = """
ind60 =~ x1 + x2 + x3
dem60 =~ y1 + a*y2 + b*y3 + c*y4
dem65 =~ y5 + a*y6 + b*y7 + c*y8
dem60 ~ ind60
dem65 ~ ind60 + dem60
y1 ~~ y5
y2 ~~ y4 + y6
y3 ~~ y7
y4 ~~ y8
y6 ~~ y8
"""
