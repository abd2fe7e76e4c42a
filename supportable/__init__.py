"""Supportable: a payer policy server for time-based physical-medicine CPT codes.

The repository keeps its layout (``engine/``, ``server/``, ``policies/``, ``payers/`` at the top);
the package maps them under this one name (``supportable.engine``, ``supportable.server``, and the
bundled policies and payers as package data), so an installed wheel adds a single top-level
package and finds its policies wherever it is installed.
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("supportable")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

# In a checkout that is not installed (``PYTHONPATH=. python -m supportable.cli``), the
# subpackages are the folders beside this one; an installed copy holds them inside itself.
from pathlib import Path as _Path

_CHECKOUT = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "engine").is_dir() and (_CHECKOUT / "engine" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))
