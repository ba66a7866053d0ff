"""Parameter names, defaults and validation (torch-free).

One place says which keys exist, what they default to and which values are allowed: the
typed models of :mod:`neural_mi.params.models` and the checks of
:mod:`neural_mi.params.checks`.  ``nmi.run``, the planner and the workflow's config model
all validate through here, so a typo is rejected the same way from every front door,
before any training starts.
"""

from __future__ import annotations

import math
from typing import Final

from .checks import (
    Duration,
    Fraction,
    IntAtLeastTwo,
    Integer,
    NonNegativeInt,
    NonNegativeNumber,
    Number,
    OpenFraction,
    PositiveInt,
    PositiveNumber,
    PositiveSeconds,
    SamplesOrSeconds,
    check_choice,
    check_int,
    check_keys,
    check_number,
    describe_validation_error,
    did_you_mean,
    seconds_in,
)
from .models import (
    BASE_PARAM_DEFAULTS,
    ESTIMATOR_MODELS,
    ESTIMATOR_PARAM_DEFAULTS,
    PROCESSOR_MODELS,
    PROCESSOR_PARAM_DEFAULTS,
    PROCESSOR_TYPES,
    CategoricalParams,
    ContinuousParams,
    ParamModel,
    SmileParams,
    SpikeParams,
    TrainParams,
    resolve_base_params,
    resolve_estimator,
    resolve_processor_params,
    validated,
)

SPLIT_MODES: tuple[str, ...] = ("blocked", "random")
OUTPUT_UNITS: tuple[str, ...] = ("bits", "nats")

#: Per-channel input transforms (:mod:`neural_mi.data.transforms`); ``'none'`` feeds the
#: data as given.
INPUT_TRANSFORMS: tuple[str, ...] = ("none", "standardize", "robust", "rank_gauss")
#: The input transform of an analysis that names none (the measurements behind the choice
#: are in docs/accuracy.md).
DEFAULT_INPUT_TRANSFORM: Final = "rank_gauss"
#: Processor types whose inputs are never transformed (spike times, categorical labels).
UNTRANSFORMED_TYPES: tuple[str, ...] = ("categorical", "spike")

#: How X and Y (and Z) are paired when they do not all have a time base: ``"auto"`` pairs
#: window ``i`` with window ``i`` only when the window counts are equal; ``"truncate"`` also
#: pairs unequal counts, dropping the longer variable's last windows (NeuralMI 1.1's
#: pairing, as an explicit choice).  Variables that all have a time base are paired by the
#: start times of their windows (:mod:`neural_mi.data.pairing`) whatever ``align`` says.
ALIGN_CHOICES: tuple[str, ...] = ("auto", "truncate")

#: Default of ``min_overlap``: the time span common to the variables must cover at least
#: this fraction of the longest one (less means a wrong clock, rate or unit, not a shorter
#: recording of one variable).
DEFAULT_MIN_OVERLAP = 0.5

#: Conversion factor from nats to each output unit.
UNIT_FACTORS: dict[str, float] = {"nats": 1.0, "bits": 1.0 / math.log(2.0)}

__all__ = [
    "ALIGN_CHOICES",
    "BASE_PARAM_DEFAULTS",
    "DEFAULT_INPUT_TRANSFORM",
    "DEFAULT_MIN_OVERLAP",
    "ESTIMATOR_MODELS",
    "ESTIMATOR_PARAM_DEFAULTS",
    "INPUT_TRANSFORMS",
    "OUTPUT_UNITS",
    "PROCESSOR_MODELS",
    "PROCESSOR_PARAM_DEFAULTS",
    "PROCESSOR_TYPES",
    "SPLIT_MODES",
    "UNIT_FACTORS",
    "UNTRANSFORMED_TYPES",
    "CategoricalParams",
    "ContinuousParams",
    "Duration",
    "Fraction",
    "IntAtLeastTwo",
    "Integer",
    "NonNegativeInt",
    "NonNegativeNumber",
    "Number",
    "OpenFraction",
    "ParamModel",
    "PositiveInt",
    "PositiveNumber",
    "PositiveSeconds",
    "SamplesOrSeconds",
    "SmileParams",
    "SpikeParams",
    "TrainParams",
    "check_choice",
    "check_int",
    "check_keys",
    "check_number",
    "describe_validation_error",
    "did_you_mean",
    "resolve_base_params",
    "resolve_estimator",
    "resolve_processor_params",
    "seconds_in",
    "validated",
]
