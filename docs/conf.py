"""Sphinx configuration of nstjax's documentation: Markdown pages (MyST) and an API reference from the docstrings.

Built by `make docs` (and, with warnings as errors, by `make test`). The build needs neither the network nor the
VGG19 weights: autodoc imports nstjax, which loads nothing until a function is called.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

project = "nstjax"
author = "the nstjax authors"
copyright = "nstjax authors, MIT licence"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
root_doc = "index"
# Benchmark records are included into performance.md, not pages of their own.
exclude_patterns = ["_build", "bench/*.md", "bench_*.md"]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3  # `[text](page.md#a-heading)` links, as GitHub renders them

autodoc_member_order = "bysource"

napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "sphinx_book_theme"
html_title = "nstjax"
html_theme_options = {"show_toc_level": 2}
html_static_path: list[str] = []


def setup(app):
    """``{registry-modules} PACKAGE``: every module of a registry's package (but its ``base``), so that a new
    statistic appears in the API reference when its module lands, without editing api.md."""
    import importlib
    import pkgutil

    from docutils.parsers.rst import Directive
    from docutils.statemachine import StringList

    class RegistryModules(Directive):
        required_arguments = 1

        def run(self):
            package = importlib.import_module(self.arguments[0])
            names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "base")
            lines = []
            for name in names:
                lines += [f".. automodule:: {package.__name__}.{name}", "   :no-index:", ""]
            self.state_machine.insert_input(StringList(lines, source=self.arguments[0]), self.arguments[0])
            return []

    app.add_directive("registry-modules", RegistryModules)
    return {"parallel_read_safe": True}
