"""Estimation: :func:`lcsem.fit` (prepare data → sample moments → solve → inference)."""
