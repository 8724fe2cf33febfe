"""Statistics computed from an estimated model: fit indices, standardised solutions,
identification checks and delta-method standard errors."""
