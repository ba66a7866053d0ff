"""Parameter names, defaults and validation (torch-free).

One place says which keys exist, what they default to and which values are allowed.
``nmi.run``, the planner and the workflow's config model all validate through here, so a
typo is rejected the same way from every front door, before any training starts.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ParameterError

#: Training and model parameters accepted in ``base_params``, with their defaults.
BASE_PARAM_DEFAULTS: dict[str, Any] = {
    "n_epochs": 50,
    "learning_rate": 5e-4,
    "batch_size": 128,
    "patience": 10,
    "embedding_dim": 16,
    "hidden_dim": 64,
    "n_layers": 2,
    "critic_type": "separable",
    "embedding_model": "mlp",
    "use_variational": False,
    "beta": 1e-3,
    "kernel_size": 3,
    "bidirectional": False,
    "nhead": 4,
    "train_fraction": 0.8,
    "n_test_blocks": 5,
    "smoothing_window": 5,
    "max_eval_samples": 4096,
}

EMBEDDING_MODELS: tuple[str, ...] = ("mlp", "cnn", "gru", "lstm", "tcn", "transformer")
CRITIC_TYPES: tuple[str, ...] = ("separable", "bilinear", "concat")
SPLIT_MODES: tuple[str, ...] = ("blocked", "random")
OUTPUT_UNITS: tuple[str, ...] = ("bits", "nats")
MODES: tuple[str, ...] = ("estimate", "sweep", "rigorous", "dimensionality", "lag")

#: Estimator names and the extra parameters each accepts (with defaults).
ESTIMATOR_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    "infonce": {},
    "smile": {"clip": 5.0},
    "nwj": {},
    "tuba": {},
    "js": {},
}

#: Processor types; ``None`` means the data is already processed.
PROCESSOR_TYPES: tuple[str, ...] = ("continuous", "spike", "categorical")

#: Parameters each processor accepts, with defaults (``None``: derived from the data).
PROCESSOR_PARAM_DEFAULTS: dict[str | None, dict[str, Any]] = {
    "continuous": {"window_size": 1, "step_size": 1, "time_axis": -1},
    "spike": {
        "window_size": None,
        "step_size": None,
        "max_spikes_per_window": None,
        "n_seconds": None,
    },
    "categorical": {"window_size": 1, "step_size": 1, "n_categories": None, "time_axis": -1},
    None: {},
}

_POSITIVE_INTS = (
    "n_epochs",
    "batch_size",
    "embedding_dim",
    "hidden_dim",
    "n_layers",
    "kernel_size",
    "nhead",
    "n_test_blocks",
    "smoothing_window",
    "max_eval_samples",
)
_NON_NEGATIVE_INTS = ("patience",)

#: The smaller X/Y sample count must be at least this fraction of the larger one; a bigger
#: mismatch cannot come from windowing edge effects and signals a configuration error.
MIN_ALIGN_RATIO = 0.5

#: Conversion factor from nats to each output unit.
UNIT_FACTORS: dict[str, float] = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}


def check_keys(given: Iterable[str], allowed: Iterable[str], what: str) -> None:
    """Raise :class:`ParameterError` if ``given`` holds a key not in ``allowed``.

    Parameters
    ----------
    given
        Keys supplied by the user.
    allowed
        Keys that are accepted.
    what
        Where the keys came from (e.g. ``"base_params"``), used in the message.
    """
    allowed = list(allowed)
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ParameterError(
                f"Unknown key {key!r} in {what}.{hint} Allowed keys: {', '.join(sorted(allowed))}."
            )


def check_choice(value: Any, allowed: Iterable[Any], what: str) -> None:
    """Raise :class:`ParameterError` if ``value`` is not one of ``allowed``."""
    allowed = list(allowed)
    if value not in allowed:
        raise ParameterError(
            f"Unknown {what} {value!r}; choose one of {', '.join(repr(a) for a in allowed)}."
        )


def resolve_base_params(base_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge user ``base_params`` over the defaults and validate every value.

    Parameters
    ----------
    base_params
        User-supplied training/model parameters (may be ``None``).

    Returns
    -------
    dict
        A complete parameter dict (every key of :data:`BASE_PARAM_DEFAULTS`).

    Raises
    ------
    ParameterError
        On an unknown key or an invalid value; the message names the key.
    """
    base_params = dict(base_params or {})
    check_keys(base_params, BASE_PARAM_DEFAULTS, "base_params")
    params = {**BASE_PARAM_DEFAULTS, **base_params}
    for key in _POSITIVE_INTS:
        _check_int(params[key], f"base_params[{key!r}]", minimum=1)
    for key in _NON_NEGATIVE_INTS:
        _check_int(params[key], f"base_params[{key!r}]", minimum=0)
    if params["batch_size"] < 2:
        raise ParameterError(
            f"base_params['batch_size'] = {params['batch_size']}: contrastive bounds need at "
            "least 2 samples per batch."
        )
    lr = params["learning_rate"]
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        raise ParameterError(f"base_params['learning_rate'] must be a positive number, got {lr!r}.")
    tf = params["train_fraction"]
    if not isinstance(tf, (int, float)) or not 0.0 < tf < 1.0:
        raise ParameterError(f"base_params['train_fraction'] must be in (0, 1), got {tf!r}.")
    beta = params["beta"]
    if not isinstance(beta, (int, float)) or beta < 0:
        raise ParameterError(f"base_params['beta'] must be a non-negative number, got {beta!r}.")
    check_choice(params["critic_type"], CRITIC_TYPES, "critic_type")
    check_choice(params["embedding_model"], EMBEDDING_MODELS, "embedding_model")
    for key in ("use_variational", "bidirectional"):
        if not isinstance(params[key], bool):
            raise ParameterError(
                f"base_params[{key!r}] must be True or False, got {params[key]!r}."
            )
    return params


def resolve_estimator(estimator: str, estimator_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate an estimator name and merge its parameters over their defaults."""
    check_choice(estimator, ESTIMATOR_PARAM_DEFAULTS, "estimator")
    estimator_params = dict(estimator_params or {})
    check_keys(
        estimator_params, ESTIMATOR_PARAM_DEFAULTS[estimator], f"estimator_params for {estimator!r}"
    )
    merged = {**ESTIMATOR_PARAM_DEFAULTS[estimator], **estimator_params}
    if "clip" in merged and merged["clip"] is not None and not merged["clip"] > 0:
        raise ParameterError(f"estimator_params['clip'] must be positive, got {merged['clip']!r}.")
    return merged


def resolve_processor_params(
    processor_type: str | None, processor_params: Mapping[str, Any] | None, variable: str = "x"
) -> dict[str, Any]:
    """Validate a processor type and merge its parameters over their defaults.

    Parameters
    ----------
    processor_type
        ``'continuous'``, ``'spike'``, ``'categorical'`` or ``None`` (already processed).
    processor_params
        User parameters for that processor.
    variable
        ``'x'`` or ``'y'``, used in messages.
    """
    if processor_type is not None:
        check_choice(processor_type, PROCESSOR_TYPES, f"processor_type_{variable}")
    processor_params = dict(processor_params or {})
    allowed = PROCESSOR_PARAM_DEFAULTS[processor_type]
    check_keys(
        processor_params, allowed, f"processor_params_{variable} (processor {processor_type!r})"
    )
    merged = {**allowed, **processor_params}
    if processor_type in ("continuous", "categorical"):
        _check_int(merged["window_size"], f"processor_params_{variable}['window_size']", 1)
        _check_int(merged["step_size"], f"processor_params_{variable}['step_size']", 1)
        if merged["time_axis"] not in (0, 1, -1):
            raise ParameterError(
                f"processor_params_{variable}['time_axis'] must be -1 (channels, time; default) "
                f"or 0 (time, channels), got {merged['time_axis']!r}."
            )
    if processor_type == "spike":
        if merged["window_size"] is None:
            raise ParameterError(
                f"processor_params_{variable}['window_size'] (seconds) is required for spike data."
            )
        for key in ("window_size", "step_size", "n_seconds"):
            value = merged[key]
            if value is not None and not (isinstance(value, (int, float)) and value > 0):
                raise ParameterError(
                    f"processor_params_{variable}[{key!r}] must be a positive number of seconds, "
                    f"got {value!r}."
                )
    return merged


def _check_int(value: Any, name: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
