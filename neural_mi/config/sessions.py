"""A session's raw data: read from its files or drawn from a synthetic generator.

Synthetic sessions name a generator of :mod:`neural_mi.datasets`; its arguments are
checked against its signature when the config is loaded (:func:`check_generator`).
"""

from __future__ import annotations

import importlib
import inspect
from functools import cache
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..plan import derive_seed
from .messages import did_you_mean_paren
from .model import SessionConfig, VariableConfig

__all__ = [
    "SAMPLES_FIRST_GENERATORS",
    "check_generator",
    "generator_signature",
    "load_session_arrays",
]

#: Synthetic generators that return ``(n_samples, dim)`` arrays; they are transposed to
#: ``(channels, time)`` when prepared.  Every other generator returns ``(channels, time)``
#: arrays or spike-time lists.
SAMPLES_FIRST_GENERATORS: frozenset[str] = frozenset(
    {"correlated_gaussians", "nonlinear_from_latent"}
)


@cache
def generator_signature(generator: str) -> inspect.Signature | None:
    """Signature of ``neural_mi.datasets.generate_<generator>``, or None if there is none."""
    datasets = importlib.import_module("neural_mi.datasets")
    function = getattr(datasets, f"generate_{generator}", None)
    return None if function is None else inspect.signature(function)


def check_generator(session: SessionConfig, where: str) -> None:
    """Refuse an unknown generator, an unknown argument or a missing one.

    Raises
    ------
    ConfigError
        Naming the session, the generator and the closest valid name.
    """
    synthetic = session.synthetic
    assert synthetic is not None
    signature = generator_signature(synthetic.generator)
    if signature is None:
        datasets = importlib.import_module("neural_mi.datasets")
        known = sorted(
            name.removeprefix("generate_") for name in dir(datasets) if name.startswith("generate_")
        )
        raise ConfigError(
            f"{where}: unknown synthetic generator "
            f"{synthetic.generator!r}{did_you_mean_paren(synthetic.generator, known)}; "
            f"generators: {', '.join(known)}."
        )
    allowed = [name for name in signature.parameters if name != "use_torch"]
    for key in synthetic.kwargs:
        if key not in allowed:
            raise ConfigError(
                f"{where}: unknown key {key!r} in synthetic "
                f"(generator {synthetic.generator!r}){did_you_mean_paren(key, allowed)}; "
                f"its arguments: {', '.join(allowed)}."
            )
    missing = [
        name
        for name, p in signature.parameters.items()
        if p.default is inspect.Parameter.empty and name not in synthetic.kwargs
    ]
    if missing:
        raise ConfigError(
            f"{where}: synthetic generator {synthetic.generator!r} needs {', '.join(missing)}."
        )


def load_session_arrays(session: SessionConfig, seed: int) -> tuple[Any, Any | None, Any | None]:
    """Read or generate the raw X, Y and Z of a session.

    Parameters
    ----------
    session
        The session.
    seed
        The config's run seed (synthetic sessions without a ``seed`` derive theirs from it
        and the session name).

    Returns
    -------
    x, y, z
        numpy arrays ``(channels, time)`` (or as the file holds them, see
        :class:`~neural_mi.config.model.VariableConfig`), or lists of 1-D spike-time
        arrays (seconds); ``y`` (``z``) is ``None`` when the session has no ``y`` (``z``).

    Raises
    ------
    ConfigError
        If a generator is asked for a variable it does not make.
    """
    if session.synthetic is None:
        from ..data.loaders import load_array, load_spike_times

        def read(spec: VariableConfig | None) -> Any:
            if spec is None:
                return None
            assert spec.path is not None
            if spec.type == "spike":
                return load_spike_times(spec.path)
            return load_array(spec.path, spec.key)

        return read(session.x), read(session.y), read(session.z)
    return _generate(session, seed)


def _generate(session: SessionConfig, run_seed: int) -> tuple[Any, Any | None, Any | None]:
    synthetic = session.synthetic
    assert synthetic is not None
    datasets = importlib.import_module("neural_mi.datasets")
    generator = getattr(datasets, f"generate_{synthetic.generator}")
    kwargs = synthetic.kwargs
    kwargs.setdefault("seed", derive_seed(run_seed, session.name))
    signature = generator_signature(synthetic.generator)
    if signature is not None and "use_torch" in signature.parameters:
        kwargs["use_torch"] = False
    out = generator(**kwargs)
    x, y, z = (*out, None, None)[:3] if isinstance(out, tuple) else (out, None, None)
    if session.y is not None and y is None:
        raise ConfigError(
            f"session {session.name!r}: generator {synthetic.generator!r} makes "
            "X only; remove 'y' from the session (analyses of X alone only)."
        )
    if session.z is not None and z is None:
        raise ConfigError(
            f"session {session.name!r}: generator {synthetic.generator!r} makes no Z; "
            "remove 'z' from the session (or use a generator of three variables)."
        )
    if synthetic.generator in SAMPLES_FIRST_GENERATORS:
        x, y = np.asarray(x).T, None if y is None else np.asarray(y).T
    return x, y if session.y is not None else None, z if session.z is not None else None
