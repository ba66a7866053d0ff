"""``estimate``: one training on the whole data; the held-out MI of its best state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import register_mode
from .base import Mode

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..results import Results


@register_mode
class Estimate(Mode):
    """One task on the whole data (``sweep_grid`` is refused: use ``sweep``).

    The only mode that accepts explicit ``train_indices``/``test_indices`` and
    ``save_best_model_path``: it has one task, trained on the data as given.
    """

    name = "estimate"
    summary = "one training; held-out MI of the best state"
    sweep_grid = "refused"
    explicit_split = True

    def details(self, results: Results) -> dict[str, Any]:
        """``train_mi``, ``test_mi`` (output units), ``best_epoch``, ``n_train``, ``n_test``
        and the per-epoch ``history`` (MI curves in output units, ``loss`` as trained)."""
        row = results.tasks.isel(task=0)
        return {
            "train_mi": float(row["train_mi"]) * results.factor,
            "test_mi": float(row["test_mi"]) * results.factor,
            "best_epoch": int(row["best_epoch"]),
            "n_train": int(row["n_train"]),
            "n_test": int(row["n_test"]),
            "history": results.history(0, units=results.units),
        }

    def describe(self, results: Results) -> list[str]:
        d = results.details
        return [
            f"  train MI {d['train_mi']:.3f}, test MI {d['test_mi']:.3f} {results.units} at "
            f"epoch {d['best_epoch']}"
        ]

    def plot(self, results: Results, ax: Any = None) -> Figure:
        """Training and held-out MI per epoch with the kept epoch marked."""
        from ..plot import plot_training

        return plot_training(
            results.history(0, units="nats"),
            results.details["best_epoch"],
            results.units,
            ax=ax,
        )
