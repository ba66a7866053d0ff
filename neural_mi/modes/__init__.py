"""Analysis modes, found by name through a registry.

Each mode lives in one module of this package and implements
:class:`~neural_mi.modes.base.Mode`.  ``nmi.run``, the workflow, the planner, the engine,
:class:`~neural_mi.results.Results` and the plots ask :func:`get_mode` for the mode of an
analysis and call its methods; adding a mode is one new module, one :func:`register_mode`
and its tests.  A mode defined outside the package is registered the same way: import its
module in a notebook, or name it under ``plugins:`` in a workflow config
(:func:`load_plugins`).

Built-in modes: ``estimate``, ``sweep``, ``rigorous``, ``lag``, ``dimensionality``,
``conditional``, ``transfer``, ``pairwise`` and ``pairwise_xy``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from ..errors import ParameterError
from ..params.checks import did_you_mean
from .base import Mode, ModeOptions

__all__ = [
    "Mode",
    "ModeOptions",
    "available_modes",
    "builtin_modes",
    "get_mode",
    "load_plugins",
    "modes_using",
    "register_mode",
]

_REGISTRY: dict[str, Mode] = {}
#: Names of the modes shipped with neural_mi (set once they are registered, below).
_BUILTIN: frozenset[str] = frozenset()

M = TypeVar("M", bound=type[Mode])


def register_mode(cls: M) -> M:
    """Register a :class:`Mode` subclass under its ``name`` (usable as a decorator).

    Registering another class under a name in use replaces it (re-running a notebook cell
    that defines a mode must work); the built-in modes cannot be replaced.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise ParameterError(f"A mode needs a `name` that is an identifier, got {name!r}.")
    if name in _BUILTIN and name in _REGISTRY and type(_REGISTRY[name]) is not cls:
        raise ParameterError(f"Mode {name!r} is built in and cannot be replaced.")
    _REGISTRY[name] = cls()
    return cls


def get_mode(name: str) -> Mode:
    """The registered mode called ``name``.

    Raises
    ------
    ParameterError
        For an unknown name, listing the registered ones.
    """
    mode = _REGISTRY.get(name) if isinstance(name, str) else None
    if mode is None:
        raise ParameterError(
            f"Unknown mode {name!r}; choose one of "
            f"{', '.join(repr(n) for n in _REGISTRY)}.{did_you_mean(str(name), _REGISTRY)}"
        )
    return mode


def available_modes() -> tuple[str, ...]:
    """Names of the registered modes, built-in first."""
    return tuple(_REGISTRY)


def builtin_modes() -> tuple[str, ...]:
    """Names of the modes shipped with neural_mi."""
    return tuple(name for name in _REGISTRY if name in _BUILTIN)


def modes_using(argument: str) -> list[str]:
    """Names of the registered modes that take ``argument`` (for error messages)."""
    return [name for name, mode in _REGISTRY.items() if argument in mode.Options.model_fields]


def load_plugins(plugins: Iterable[str], base: str | Path = ".") -> None:
    """Import modules that register modes: module names, or ``.py`` files.

    Parameters
    ----------
    plugins
        ``"package.module"`` names (importable from ``sys.path``) or paths of ``.py``
        files, relative to ``base``.
    base
        Directory relative paths are resolved against (the workflow's working directory).

    Raises
    ------
    ParameterError
        When a plugin cannot be found or fails to import (the message names it).
    """
    for plugin in plugins:
        try:
            if plugin.endswith(".py"):
                path = (Path(base) / plugin).resolve()
                name = f"neural_mi_plugin_{path.stem}"
                if name in sys.modules:
                    continue
                spec = importlib.util.spec_from_file_location(name, path)
                if spec is None or spec.loader is None or not path.is_file():
                    raise FileNotFoundError(f"no file {str(path)!r}")
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(plugin)
        except Exception as exc:
            raise ParameterError(f"Cannot load the plugin {plugin!r}: {exc}") from exc


from . import (  # noqa: E402, F401  (register the built-ins)
    conditional,
    dimensionality,
    estimate,
    lag,
    pairwise,
    rigorous,
    sweep,
    transfer,
)

_BUILTIN = frozenset(_REGISTRY)
