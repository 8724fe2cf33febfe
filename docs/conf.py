"""Sphinx configuration for lcsem's user guide and API reference."""

project = "lcsem"
author = "lcsem developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
napoleon_use_ivar = True
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}
html_theme = "alabaster"
exclude_patterns = ["_build"]
nitpicky = False
