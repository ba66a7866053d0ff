"""The interface of an analysis mode.

An analysis is a plan of independent training tasks plus an aggregation.  A mode says,
for one analysis kind, everything that differs between kinds:

- which arguments it takes (:attr:`Mode.Options`, a typed model) and how a sweep grid
  applies (:attr:`Mode.sweep_grid`);
- which tasks one parameter combination needs (:meth:`Mode.tasks`; torch-free, the
  workflow plans at parse time);
- the data a task trains on (:meth:`Mode.task_data`: aligned X/Y, lagged copies, channel
  halves...), which windows its samples come from (:meth:`Mode.task_windows`, where an
  input transform is fitted) and any per-task number besides MI (:meth:`Mode.task_extras`);
- how task results combine into its summary and headline (:meth:`Mode.aggregate`,
  :meth:`Mode.headline`);
- what ``Results`` shows for it (:meth:`Mode.details`, :meth:`Mode.describe`) and its
  figure (:meth:`Mode.plot`).

Everything else (``nmi.run``, the workflow's steps, :class:`~neural_mi.results.Results`,
the planner and the engine) asks the registry (:mod:`neural_mi.modes`) for the mode and
calls these methods; none of it knows which modes exist.  Heavy libraries (torch, xarray,
matplotlib) are imported inside the methods that use them, so planning stays light.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
from pydantic import StrictBool, ValidationError

from ..errors import ParameterError
from ..params import ParamModel, describe_validation_error
from ..params.checks import (
    did_you_mean,
    plain,
)

if TYPE_CHECKING:
    import torch
    import xarray as xr
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from ..engine.inputs import SessionData
    from ..plan import Combination
    from ..results import Results
    from ..tasks import TaskSpec


class ModeOptions(ParamModel):
    """Arguments of a mode beyond those every analysis takes; every mode has
    ``allow_partial``, which only aggregation reads."""

    allow_partial: StrictBool = False
    """Summarise the tasks that gave a number when others failed (their training diverged
    in every attempt); the result is then labelled partial and names the tasks left out.
    False: an analysis with a failed task is refused, naming it."""


#: Options of every mode (:class:`ModeOptions`) that only aggregation reads.
COMMON_AGGREGATION_OPTIONS: tuple[str, ...] = ("allow_partial",)


class Mode:
    """Base class of analysis modes; subclass it and register it with
    :func:`neural_mi.modes.register_mode`.

    Class attributes
    ----------------
    name
        The ``mode=`` value that selects it.
    Options
        Typed model of the mode's own arguments (e.g. ``gamma_range``); the methods below
        that take ``options`` get an instance of it (subclasses annotate it so).
    summary
        One line saying what the mode answers (shown in listings and docs).
    uses_y
        Whether the analysis needs Y (``False``: X alone, e.g. dimensionality).
    uses_z
        Whether the analysis needs a third variable Z (``z_data``; e.g. the condition of a
        conditional MI); its processor then joins the task parameters.
    sweep_grid
        ``"optional"``, ``"required"`` or ``"refused"``: how the mode takes ``sweep_grid``.
    default_estimator
        Estimator and its parameters used when the caller names none.
    marginal_terms
        Whether critics get a scalar term per variable (see
        :func:`neural_mi.models.build_critic`).
    explicit_split
        Whether explicit ``train_indices``/``test_indices`` and ``save_best_model_path``
        make sense (a single task on the whole data).
    sample_cap
        Whether ``max_samples_per_task`` may subsample each task's data (``False`` where
        the answer depends on how many samples each task has).
    aggregation_options
        The mode's own options that only aggregation reads (changing them must not
        retrain anything; in a workflow config they sit under ``fit``, with
        :data:`COMMON_AGGREGATION_OPTIONS`).
    """

    name: ClassVar[str]
    Options: ClassVar[type[ModeOptions]] = ModeOptions
    summary: ClassVar[str] = ""
    uses_y: ClassVar[bool] = True
    uses_z: ClassVar[bool] = False
    sweep_grid: ClassVar[Literal["optional", "required", "refused"]] = "optional"
    default_estimator: ClassVar[tuple[str, dict[str, Any]]] = ("infonce", {})
    marginal_terms: ClassVar[bool] = False
    explicit_split: ClassVar[bool] = False
    sample_cap: ClassVar[bool] = True
    aggregation_options: ClassVar[tuple[str, ...]] = ()

    # ----------------------------------------------------------------------------------
    # Arguments and planning (torch-free)
    # ----------------------------------------------------------------------------------

    def options(self, values: Mapping[str, Any] | ModeOptions | None = None) -> ModeOptions:
        """Validate the mode's own arguments (defaults filled in).

        Raises
        ------
        ParameterError
            Naming the argument; an argument of another mode says which mode uses it.
        """
        if isinstance(values, self.Options):
            return values
        if isinstance(values, ModeOptions):  # another mode's options
            values = values.model_dump()
        given = plain(values, f"the arguments of mode {self.name!r}")
        try:
            return self.Options.model_validate(given)
        except ValidationError as exc:
            raise ParameterError(self._options_message(exc, given)) from None

    def _options_message(self, exc: ValidationError, given: Mapping[str, Any]) -> str:
        from . import modes_using

        problems = []
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else ""
            if error["type"] == "extra_forbidden":
                users = modes_using(key)
                if users:
                    problems.append(
                        f"{key} is not used in mode {self.name!r} (it is an argument of mode "
                        f"{' / '.join(repr(u) for u in users)})."
                    )
                else:
                    allowed = list(self.Options.model_fields)
                    problems.append(
                        f"Unknown argument {key!r} for mode {self.name!r}."
                        f"{did_you_mean(key, allowed)} Its arguments: "
                        f"{', '.join(allowed) or '(none)'}."
                    )
        if problems:
            return " ".join(problems)
        return describe_validation_error(exc, "", self.Options.model_fields)

    def grid(
        self, sweep_grid: Mapping[str, Sequence[Any]] | None
    ) -> dict[str, Sequence[Any]] | None:
        """The sweep grid the mode plans over (it may add defaults or refuse one)."""
        grid = dict(sweep_grid or {})
        if self.sweep_grid == "refused" and grid:
            raise ParameterError(
                f"sweep_grid is not used in mode {self.name!r}; use mode='sweep' to compare "
                "parameter values."
            )
        if self.sweep_grid == "required" and not grid:
            raise ParameterError(
                f"mode {self.name!r} needs a non-empty sweep_grid, e.g. "
                "{'embedding_dim': [4, 8]}."
            )
        return grid or None

    def tasks(self, combination: Combination, options: Any) -> list[TaskSpec]:
        """The tasks of one parameter combination (default: one task).

        Use ``combination.task(suffix, **fields)`` to make each :class:`TaskSpec`: its
        key is ``<combo>-<suffix>`` and its seed derives from the key.
        """
        return [combination.task("")]

    # ----------------------------------------------------------------------------------
    # The engine's hooks (torch)
    # ----------------------------------------------------------------------------------

    def data_key(self, spec: TaskSpec) -> tuple[Any, ...]:
        """Tasks with equal keys train on the same :meth:`task_data` (their splits may
        differ); the engine trains such tasks together.  Default: combination, gamma,
        lag and channel split, so ``subset`` and ``repeat`` never change a task's data.
        """
        return (spec.combo, spec.gamma, spec.lag, spec.split)

    def task_extent(
        self, spec: TaskSpec, n_samples: int, n_channels: int | None = None
    ) -> tuple[int, int]:
        """Samples of a task's data and its leakage gap, from the sample count of its
        session's aligned data (and X's channel count, when known) alone.

        ``neural-mi plan`` checks every task with it before any job runs, so it must
        refuse (with a :mod:`neural_mi.errors` error) what :meth:`task_data` would refuse.
        Default: all the samples, and the gap of the windows.
        """
        from ..engine.split import window_gap

        return n_samples, window_gap(spec.params)

    def task_data(
        self, spec: TaskSpec, data: SessionData
    ) -> tuple[torch.Tensor, torch.Tensor, int]:
        """The ``(x, y)`` sample pairs a task trains on, and the leakage gap of its windows.

        Default: X and Y processed with the task's parameters and aligned; the gap is the
        number of window indices that overlap in time (see
        :func:`neural_mi.data.overlap_gap`).
        """
        return data.aligned_pair(spec.params)

    def task_windows(self, spec: TaskSpec, samples: Any) -> tuple[np.ndarray, np.ndarray]:
        """Window indices of X and of Y (in each variable's processed samples) behind the
        task's ``samples`` (indices into :meth:`task_data`'s pairs).

        An input transform (:mod:`neural_mi.data.transforms`) is fitted on the raw points
        of the training windows only; this says which windows those are.  Default: the
        same indices for both (aligning X and Y drops trailing windows only, so it moves
        no index).  A mode whose :meth:`task_data` drops leading windows (a lag) must
        override it.
        """
        samples = np.asarray(samples, dtype=np.int64)
        return samples, samples

    def task_extras(
        self,
        spec: TaskSpec,
        critic: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        test_idx: Any,
        device: torch.device,
    ) -> dict[str, float]:
        """Per-task scalars besides MI, computed from the trained critic (default: none)."""
        return {}

    # ----------------------------------------------------------------------------------
    # Aggregation (xarray)
    # ----------------------------------------------------------------------------------

    def aggregate(self, tasks: xr.Dataset, mi_var: str, options: Any) -> xr.Dataset:
        """The mode's summary of a task dataset (default: mean ± std per combination).

        MI-valued variables must carry ``attrs['units'] = 'nats'`` (see
        :func:`neural_mi.aggregate.nats`) so that they are converted to the output units.
        """
        from ..aggregate import per_combination

        return per_combination(tasks, mi_var, self.name)

    def headline(self, summary: xr.Dataset, options: Any) -> dict[str, Any]:
        """The headline numbers of a summary in output units (JSON-friendly scalars).

        ``mi_estimate`` is required; ``mi_error`` and ``is_reliable`` where the mode has
        them; any mode-specific key may be added (e.g. ``peak_lag``).  Default: the mean
        MI of the first combination.
        """
        from ..aggregate import first_combination, plain_value

        return {"mi_estimate": plain_value(first_combination(summary)["mi_mean"])}

    # ----------------------------------------------------------------------------------
    # Reporting
    # ----------------------------------------------------------------------------------

    def details(self, results: Results) -> dict[str, Any]:
        """Mode-specific entries of ``Results.details`` (default: none)."""
        return {}

    def describe(self, results: Results) -> list[str]:
        """Lines of ``Results.summary()`` after the headline (default: none)."""
        return []

    def plot(self, results: Results, ax: Axes | None = None) -> Figure:
        """The mode's figure (default: MI per combination)."""
        from ..plot import plot_sweep

        return plot_sweep(
            results.summary_dataset,
            results.swept_names[0] if results.swept_names else "combo",
            ax=ax,
        )
