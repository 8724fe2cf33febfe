"""Example models several test files fit: the learning-culture model with the item names of
``tests/reference/lc_shared.csv`` (the data lavaan's references were computed on) and
Bollen's Political Democracy model with equal loadings over time."""

#: culture -> KMS use -> performance with the direct path, and the indirect effect
LC_MODEL = """culture =~ culture1 + culture2 + culture3 + culture4 + culture5 + culture6
kmsuse =~ kmsuse1 + kmsuse2 + kmsuse3 + kmsuse4
perf =~ perf1 + perf2 + perf3 + perf4 + perf5
kmsuse ~ a*culture
perf ~ b*kmsuse + c*culture
ind := a*b"""

#: the same with the total effect (as tests/reference/make_power*.R fit it)
LC_MODEL_TOTAL = LC_MODEL + "\ntotal := c + a*b"

#: the observed items, in the model's order
LC_ITEMS = ([f"culture{i}" for i in range(1, 7)] + [f"kmsuse{i}" for i in range(1, 5)]
            + [f"perf{i}" for i in range(1, 6)])

#: Political Democracy (lavaan's example) with equal loadings at the two time points
POLITICAL_DEMOCRACY_EQUAL_LOADINGS = """
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
