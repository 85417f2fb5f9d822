"""Self-checks for the exercises: ``gt.check.<exercise>(your_function)``.

The machinery (:class:`Spec`, :class:`Case`, :class:`Mistake`, :func:`exercise`, the
registry :data:`CHECKS`) is in :mod:`.core`; the exercises are in one module per
notebook, ``nb01.py``, ``nb02.py``, ... Looking up a check imports these modules in
notebook order until one of them has registered it, so ``gt.check.empirical_risk``
imports ``nb01`` alone; ``CHECKS`` imports them all.

To add the exercises of a new notebook NN: write ``nbNN.py`` with its ``@exercise``
functions (see :mod:`.core`), and add ``"nbNN"`` to :data:`NOTEBOOKS` below.
"""

import importlib

from . import core
from .core import Case, CheckResult, Mistake, Spec, exercise, run_check, step_exercise

# the modules holding the exercises, in the order of the notebooks
NOTEBOOKS = ("nb01", "nb02", "nb03", "nb04", "nb05", "nb06", "nb07", "nb08", "nb09",
             "nb10", "nb11")

__all__ = ["CHECKS", "Case", "CheckResult", "Mistake", "Spec", "exercise", "run_check",
           "step_exercise"]


def _load(module: str) -> None:
    importlib.import_module(f"{__name__}.{module}")


def __getattr__(name: str):
    """``CHECKS`` (with every notebook's checks) or the check called ``name``."""
    checks = core.CHECKS
    if name == "CHECKS":
        for module in NOTEBOOKS:
            _load(module)
        return checks
    if name.startswith("_"):  # IPython's _repr_*_ probes and the like
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    for module in NOTEBOOKS:
        if name in checks:
            break
        _load(module)
    if name in checks:
        return checks[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}: no "
                         f"exercise check of that name")


def __dir__():
    return sorted({*globals(), *__all__, *__getattr__("CHECKS")})
