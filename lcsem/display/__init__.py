"""Formatting and escaping shared by summaries, reports and result tables."""
