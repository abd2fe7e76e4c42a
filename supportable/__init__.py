"""Supportable: a payer policy server for time-based physical-medicine CPT codes.

The repository keeps its layout (``engine/``, ``server/``, ``policies/``, ``payers/`` at the top);
the package maps them under this one name (``supportable.engine``, ``supportable.server``, and the
bundled policies and payers as package data), so an installed wheel adds a single top-level
package and finds its policies wherever it is installed.

``__version__`` is read from the installed package's metadata on first use (importing
``importlib.metadata`` costs every command about 25 ms; only ``--version`` needs it).
"""
# In a checkout that is not installed (``PYTHONPATH=. python -m supportable.cli``), the
# subpackages are the folders beside this one; an installed copy holds them inside itself.
from pathlib import Path as _Path

_CHECKOUT = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "engine").is_dir() and (_CHECKOUT / "engine" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))


def __getattr__(name: str):
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version
        try:
            value = version("supportable")
        except PackageNotFoundError:  # running from a source tree that is not installed
            value = "0+unknown"
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
