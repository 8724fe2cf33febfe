"""Publication output from results: APA tables, a methods paragraph and the full report.

The public entry point is :func:`lcsem.report` (defined in :mod:`lcsem.reporting.document`).
Reports read results and never compute or refit.
"""
