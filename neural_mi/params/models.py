"""Typed parameter models: training, processing and estimation, with defaults and ranges.

These models are the one source of truth for what each parameter means, its default and
its allowed values.  ``nmi.run``, the planner and the workflow config validate through
them, and the workflow's JSON schema is generated from them, so every key is documented
with a description and a range.  The engine receives the validated values as plain dicts
(:func:`resolve_base_params` and friends), so task parameters hash the same as before the
models existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, ValidationError

from ..errors import ParameterError
from .checks import (
    IntAtLeastTwo,
    NonNegativeInt,
    NonNegativeNumber,
    OpenFraction,
    PositiveInt,
    PositiveNumber,
    PositiveSeconds,
    SamplesOrSeconds,
    check_choice,
    describe_validation_error,
    plain,
)


class ParamModel(BaseModel):
    """Base of the parameter models: unknown keys are errors; docstrings describe fields."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, frozen=True)


class TrainParams(ParamModel):
    """Training and model parameters of a critic (``base_params``)."""

    n_epochs: PositiveInt = 50
    """Most training epochs; early stopping may end sooner."""
    learning_rate: PositiveNumber = 5e-4
    """Adam's learning rate."""
    batch_size: IntAtLeastTwo = 128
    """Samples per training batch (contrastive bounds need at least 2)."""
    patience: NonNegativeInt = 10
    """Epochs without a new best smoothed held-out MI before training stops."""
    embedding_dim: PositiveInt = 16
    """Size of each variable's embedding."""
    hidden_dim: PositiveInt = 128
    """Width of the embedding networks' hidden layers (default chosen in docs/accuracy.md)."""
    n_layers: PositiveInt = 3
    """Hidden layers of the embedding networks (default chosen in docs/accuracy.md)."""
    critic_type: Literal["separable", "bilinear", "concat"] = "separable"
    """How embeddings are scored: separable (dot product), bilinear, or concat (joint MLP)."""
    embedding_model: Literal["mlp", "cnn", "gru", "lstm", "tcn", "transformer"] = "mlp"
    """Network that embeds each variable's windows."""
    use_variational: StrictBool = False
    """Variational (stochastic) MLP embeddings with a KL penalty of weight ``beta``."""
    beta: NonNegativeNumber = 1e-3
    """Weight of the KL penalty of variational embeddings."""
    kernel_size: PositiveInt = 3
    """Kernel size of cnn and tcn embeddings."""
    bidirectional: StrictBool = False
    """Bidirectional gru/lstm embeddings."""
    nhead: PositiveInt = 4
    """Attention heads of transformer embeddings."""
    train_fraction: OpenFraction = 0.8
    """Fraction of the samples used for training; the rest is held out."""
    n_test_blocks: PositiveInt = 5
    """Contiguous held-out blocks of a blocked split."""
    smoothing_window: PositiveInt = 5
    """Epochs averaged when smoothing the held-out MI curve for early stopping."""
    max_eval_samples: PositiveInt = 4096
    """Most held-out samples evaluated per epoch (one batch when the critic affords it)."""


class _WindowParams(ParamModel):
    window_size: SamplesOrSeconds = 1
    """Window length in samples, or a duration ('0.5 s', '100 ms') converted to samples at
    the variable's sampling rate."""
    step_size: SamplesOrSeconds = 1
    """Shift between consecutive windows in samples, or a duration that must be a whole
    number of samples at the variable's sampling rate."""
    time_axis: Literal[-1, 0, 1] = -1
    """-1 (or 1): arrays are (channels, time); 0: (time, channels)."""


class ContinuousParams(_WindowParams):
    """Windows of a continuous signal (LFP, EEG, calcium, behaviour)."""


class CategoricalParams(_WindowParams):
    """One-hot windows of integer labels."""

    n_categories: PositiveInt | None = None
    """Number of categories; null: largest label + 1."""


class SpikeParams(ParamModel):
    """Windows of spike times (seconds)."""

    window_size: PositiveSeconds
    """Window length in seconds, or a duration such as '50 ms' (required)."""
    step_size: PositiveSeconds | None = None
    """Shift between windows in seconds (or a duration); null: window_size."""
    max_spikes_per_window: PositiveInt | None = None
    """Spike slots per window and neuron; null: the most found in any window."""
    n_seconds: PositiveSeconds | None = None
    """Time (seconds) by which the recording ends: windows end by it; null: the end of the
    recording span (the last spike when the data gives no span)."""


class ProcessedParams(ParamModel):
    """Already processed data ``(n_samples, features)``: no parameters."""


#: Parameter model of each processor type (``None``: already processed data).
PROCESSOR_MODELS: dict[str | None, type[ParamModel]] = {
    "continuous": ContinuousParams,
    "spike": SpikeParams,
    "categorical": CategoricalParams,
    None: ProcessedParams,
}

#: Processor types; ``None`` means the data is already processed.
PROCESSOR_TYPES: tuple[str, ...] = ("continuous", "spike", "categorical")


class NoEstimatorParams(ParamModel):
    """Estimators without parameters (infonce, nwj, tuba, js)."""


class SmileParams(ParamModel):
    """Parameters of the SMILE estimator."""

    clip: PositiveNumber | None = 5.0
    """Clip of the density-ratio term (log scale); null: no clip (the MINE/NWJ-like bound)."""


#: Parameter model of each estimator.
ESTIMATOR_MODELS: dict[str, type[ParamModel]] = {
    "infonce": NoEstimatorParams,
    "smile": SmileParams,
    "nwj": NoEstimatorParams,
    "tuba": NoEstimatorParams,
    "js": NoEstimatorParams,
}


def _defaults(model: type[ParamModel]) -> dict[str, Any]:
    return {
        name: (None if field.is_required() else field.default)
        for name, field in model.model_fields.items()
    }


#: Defaults of every ``base_params`` key.
BASE_PARAM_DEFAULTS: dict[str, Any] = _defaults(TrainParams)
#: Defaults of every estimator's parameters.
ESTIMATOR_PARAM_DEFAULTS: dict[str, dict[str, Any]] = {
    name: _defaults(model) for name, model in ESTIMATOR_MODELS.items()
}
#: Defaults of every processor's parameters (``None`` where derived from the data).
PROCESSOR_PARAM_DEFAULTS: dict[str | None, dict[str, Any]] = {
    name: _defaults(model) for name, model in PROCESSOR_MODELS.items()
}


def validated(model: type[ParamModel], values: Mapping[str, Any] | None, what: str) -> dict:
    """``values`` checked by ``model`` and completed with its defaults, as a plain dict.

    Raises
    ------
    ParameterError
        One message for every problem, each naming the key in ``what``.
    """
    given = plain(values, what)
    try:
        return model.model_validate(given).model_dump()
    except ValidationError as exc:
        raise ParameterError(describe_validation_error(exc, what, model.model_fields)) from None


def resolve_base_params(base_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """User ``base_params`` over the defaults of :class:`TrainParams`, validated.

    Raises
    ------
    ParameterError
        On an unknown key or an invalid value; the message names the key.
    """
    return validated(TrainParams, base_params, "base_params")


def resolve_estimator(estimator: str, estimator_params: Mapping[str, Any] | None) -> dict:
    """Validate an estimator name and merge its parameters over their defaults."""
    check_choice(estimator, ESTIMATOR_MODELS, "estimator")
    return validated(
        ESTIMATOR_MODELS[estimator], estimator_params, f"estimator_params for {estimator!r}"
    )


def resolve_processor_params(
    processor_type: str | None,
    processor_params: Mapping[str, Any] | None,
    variable: str = "x",
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
    what = f"processor_params_{variable} (processor {processor_type!r})"
    given = plain(processor_params, what)
    if processor_type == "spike" and given.get("window_size") is None:
        raise ParameterError(
            f"processor_params_{variable}['window_size'] (seconds) is required for spike data."
        )
    try:
        return validated(PROCESSOR_MODELS[processor_type], given, f"processor_params_{variable}")
    except ParameterError as err:
        if "Unknown key" in str(err):
            message = str(err).replace(f"processor_params_{variable}", what, 1)
            raise ParameterError(message) from None
        raise
