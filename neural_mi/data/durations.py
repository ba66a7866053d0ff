"""Durations in processor parameters and lags: window and step sizes given in seconds
turned into samples at each variable's rate, and lags in seconds (see
:mod:`neural_mi.data.pairing`).  Torch-free."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from ..errors import ParameterError
from ..params import seconds_in
from .timing import short_number as _g
from .timing import timing_record
from .windows import WINDOW_COUNT_TOL

logger = logging.getLogger(__name__)

#: Relative slack of "a whole number of samples / steps" when durations are converted.
WHOLE_TOL = 1e-6

#: Conversions already logged in this process.
_LOGGED: set[tuple[str, str, str, float]] = set()


def resolve_seconds(
    params: dict[str, Any], labels: Mapping[str, float | str | None] | None
) -> dict[str, Any]:
    """A combination's parameters with durations turned into samples, and its time bases.

    Window and step sizes of sampled signals given as durations (``'0.5 s'``) become
    samples at the variable's rate: a window is rounded to the nearest sample, a step must
    be a whole number of samples (else the windows would drift against the other
    variable's).  Each conversion is logged.  ``params['timing']`` records the time bases
    (:func:`timing_record`) when the variables are paired by time.

    Parameters
    ----------
    params
        A combination's resolved parameters (``processor_type_<v>`` and
        ``processor_params_<v>`` for each variable); not modified.
    labels
        :func:`timing_label` of each variable the analysis uses, or ``None`` when unknown
        (then durations are refused for sampled signals).

    Raises
    ------
    ParameterError
        A duration for a variable without a rate, or a step that is not a whole number of
        samples; the message says what would work.
    """
    labels = dict(labels or {})
    out = dict(params)
    for variable in ("x", "y", "z"):
        ptype = params.get(f"processor_type_{variable}")
        if f"processor_params_{variable}" not in params or ptype in ("spike", None):
            continue
        own = dict(params[f"processor_params_{variable}"])
        for key in ("window_size", "step_size"):
            seconds = seconds_in(own.get(key))
            if seconds is not None:
                own[key] = _samples(seconds, key, own[key], variable, labels.get(variable))
        out[f"processor_params_{variable}"] = own
    record = timing_record(labels)
    if record is not None:
        out["timing"] = record
    return out


def _samples(seconds: float, key: str, given: str, variable: str, rate: Any) -> int:
    name = variable.upper()
    if not isinstance(rate, float):
        why = (
            "has timestamps, not a sampling rate"
            if rate == "timestamps"
            else "has no sampling rate"
        )
        raise ParameterError(
            f"{key} {given!r} of {name} is a duration, but {name} {why}: give {key} in "
            f"samples, or give {name}'s sampling_rate (Hz)."
        )
    exact = seconds * rate
    samples = max(1, round(exact))
    if key == "step_size" and abs(exact - samples) > WHOLE_TOL * max(1.0, exact):
        below, above = math.floor(exact), math.ceil(exact)
        options = ", ".join(f"{_g(n / rate)} s ({n} samples)" for n in (below, above) if n >= 1)
        raise ParameterError(
            f"step_size {given!r} of {name} is {exact:g} samples at {_g(rate)} Hz; a step "
            f"must be a whole number of samples, or {name}'s windows drift against the other "
            f"variable's: use e.g. {options}."
        )
    said = (name, key, given, rate)
    if said not in _LOGGED:  # once per conversion, not once per session and combination
        _LOGGED.add(said)
        logger.info(
            "%s: %s %s = %d samples at %s Hz (%s s).",
            name,
            key,
            given,
            samples,
            _g(rate),
            _g(samples / rate),
        )
    return samples


def lag_in_seconds(params: Mapping[str, Any]) -> bool:
    """Whether a task's ``lag`` is in seconds: X and Y are paired by time (their time bases
    are recorded in ``params['timing']``) or are both spike trains.  Otherwise a lag is a
    number of samples of sampled signals paired by index."""
    if "timing" in params:
        return True
    return params["processor_type_x"] == "spike" and params["processor_type_y"] == "spike"


def task_lag(value: Any, params: Mapping[str, Any]) -> float:
    """A ``lag_range`` value as the task's lag (seconds, or samples when paired by index).

    A duration (``'0.2 s'``) is seconds; a plain number is seconds for spike trains and
    samples of X for sampled signals (converted at X's rate when paired by time).

    Raises
    ------
    ParameterError
        A duration for signals without a time base, a plain number between a signal and
        spike trains without a time base, or samples of X without a rate.
    """
    seconds = seconds_in(value)
    types = (params["processor_type_x"], params["processor_type_y"])
    if lag_in_seconds(params):
        if seconds is not None:
            return seconds
        if "spike" in types:
            return float(value)
        rate = params["timing"]["x"]
        if not isinstance(rate, float):
            raise ParameterError(
                f"lag {value!r}: X has timestamps, not a rate, so a lag in samples has no "
                "duration; give lags with their unit, e.g. '0.2 s'."
            )
        return float(value) / rate
    if seconds is not None:
        raise ParameterError(
            f"lag {value!r} is a duration, but X and Y are paired by index (not both with a "
            "time base): give lags in samples, or give X and Y their sampling_rate."
        )
    return value


def lag_windows(params: Mapping[str, Any], lag: float) -> int:
    """Pairs a lag in seconds moves by: ``ceil(|lag| / step)`` with ``step`` the largest
    step (seconds) of X and Y; the train/held-out gap of a lagged task grows by it (as it
    grows by the shift of a lag in samples)."""
    if not lag:
        return 0
    steps = [_step_seconds(params, variable) for variable in ("x", "y")]
    known = [step for step in steps if step is not None]
    if not known:
        return 0
    return max(0, math.ceil(abs(lag) / max(known) - WINDOW_COUNT_TOL))


def _step_seconds(params: Mapping[str, Any], variable: str) -> float | None:
    ptype = params.get(f"processor_type_{variable}")
    own = params.get(f"processor_params_{variable}") or {}
    if ptype == "spike":
        return float(own.get("step_size") or own["window_size"])
    rate = (params.get("timing") or {}).get(variable)
    if not isinstance(rate, float):
        return None
    if ptype is None:
        return 1.0 / rate
    return int(own["step_size"]) / rate
