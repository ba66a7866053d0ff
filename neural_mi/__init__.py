"""neural_mi: bias-corrected mutual-information estimation with neural critics.

The front door is :func:`run`; it plans independent training tasks, trains one small
torch critic per task, stores each result, and aggregates them into a :class:`Results`.

Submodules are imported lazily so that ``import neural_mi.plan`` (used by the Snakefile at
parse time) never imports torch.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())

_LAZY_ATTRS = {
    "run": ("neural_mi.runner", "run"),
    "Results": ("neural_mi.results", "Results"),
}
_LAZY_MODULES = (
    "data",
    "datasets",
    "models",
    "estimators",
    "errors",
    "plan",
    "store",
    "aggregate",
    "params",
    "tasks",
    "plot",
    "utils",
    "visualize",
)

__all__ = ["__version__", *_LAZY_ATTRS, *_LAZY_MODULES]


def __getattr__(name: str) -> Any:
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(module), attr)
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
