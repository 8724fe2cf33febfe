"""Analyses of a fitted result: effects (mediation), measurement validity, common-method
bias, modification indices and factor scores. Each takes results and never resamples itself."""
