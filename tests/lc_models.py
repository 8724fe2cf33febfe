"""The learning-culture model with the item names of ``tests/reference/lc_shared.csv``
(the data lavaan's references were computed on), for the tests that fit it."""

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
