"""Sphinx configuration for the Squall documentation (all five packages).

The site is built offline with warnings as errors::

    sphinx-build -W --keep-going -b html docs <out>

Autodoc imports the *installed* ``squall`` packages, so install the five
packages (``tox -e docs`` does) before building.  No extension fetches
anything from the network: there is no intersphinx.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
REPO_DIR = DOCS_DIR.parent
PACKAGES = ("ioloop", "iostream", "http", "web", "httpclient")


def _package_version(package: str) -> str:
    """Read a package's version from its single source, ``_version_<pkg>.py``."""
    path = REPO_DIR / "packages" / package / "src" / "squall" / f"_version_{package}.py"
    match = re.search(r'^__version__ = "([^"]+)"', path.read_text(encoding="utf-8"), re.M)
    if match is None:
        raise RuntimeError(f"no __version__ in {path}")
    return match.group(1)


VERSIONS = {package: _package_version(package) for package in PACKAGES}

# -- Project information -----------------------------------------------------

project = "Squall"
author = "The Squall developers"
copyright = "The Squall developers"
# Each package has its own version; the site as a whole follows squall-ioloop,
# the package every other one depends on.
release = VERSIONS["ioloop"]
version = ".".join(release.split(".")[:2])

# -- General configuration ---------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

exclude_patterns = [
    "_build",
    # Fragments pulled in with ``.. include::`` (the benchmark writes them);
    # they are not documents of their own.
    "_generated",
]

nitpicky = False
suppress_warnings: list[str] = []

# ``|squall-ioloop-version|`` and friends, for the package table on the index.
rst_epilog = "\n".join(
    f".. |squall-{package}-version| replace:: {number}" for package, number in VERSIONS.items()
)

# -- Autodoc -------------------------------------------------------------------

autodoc_member_order = "bysource"
# Optional accelerators and backends (extras): the docs build does not install
# them, and the modules that use them import them at import time.
autodoc_mock_imports = ["pycurl", "pycares", "httptools"]
autodoc_typehints = "signature"
autoclass_content = "class"

# -- HTML output -----------------------------------------------------------------

html_theme = "furo"
html_title = "Squall"
html_static_path = ["_static"]
html_show_sourcelink = False
