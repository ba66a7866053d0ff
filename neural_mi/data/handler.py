"""NeuralMI 1.1's ``DataHandler``: X and Y processed and paired as ``nmi.run`` does it.

Kept for notebooks written for NeuralMI 1.1 (``nmi.data.DataHandler(...).process()``); it
calls the same code as ``nmi.run`` (:class:`~neural_mi.engine.inputs.SessionData`), so what
it returns is what an analysis trains on.  Where 1.1 paired a continuous and a spike
variable by truncating both to the smaller sample count whatever their time steps, this
refuses counts that cannot come from the same recording (see
:func:`~neural_mi.data.align_samples` and ``docs/migrating_from_neuralmi.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from ..params import resolve_processor_params

__all__ = ["DataHandler"]


class DataHandler:
    """Process X (and Y) into ``(n_samples, n_channels, n_features)`` tensors and pair them.

    Parameters
    ----------
    x_data, y_data
        Raw data as for ``nmi.run`` (``y_data`` may be ``None``).
    processor_type_x, processor_params_x
        X's processor (``'continuous'``, ``'spike'``, ``'categorical'``; ``None``: the data
        is already processed) and its parameters.
    processor_type_y, processor_params_y
        Y's; when left out (``None``) Y takes X's type, and X's parameters when the types
        agree (as in NeuralMI 1.1, and as ``nmi.run`` does).
    """

    def __init__(
        self,
        x_data: Any,
        y_data: Any = None,
        processor_type_x: str | None = None,
        processor_params_x: Mapping[str, Any] | None = None,
        processor_type_y: str | None = None,
        processor_params_y: Mapping[str, Any] | None = None,
    ) -> None:
        from ..runner import UNSET, resolve_processors

        self.x_data, self.y_data = x_data, y_data
        (
            self.processor_type_x,
            self.processor_params_x,
            self.processor_type_y,
            self.processor_params_y,
        ) = resolve_processors(
            UNSET,
            None,
            processor_type_x,
            processor_params_x,
            UNSET if processor_type_y is None else processor_type_y,
            processor_params_y,
        )

    def process(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """X and Y processed with their parameters and paired sample by sample.

        Returns
        -------
        x, y
            float32 tensors ``(n_samples, n_channels, n_features)`` with the same
            ``n_samples`` (``y`` is ``None`` without ``y_data``).

        Raises
        ------
        ParameterError, DataShapeError, DataValueError, InsufficientDataError
            On bad parameters or data, or sample counts of X and Y that cannot belong to
            the same recording.
        """
        from ..engine.inputs import SessionData

        has_y = self.y_data is not None
        data = SessionData(
            self.x_data,
            self.y_data,
            self.processor_type_x,
            self.processor_type_y if has_y else None,
        )
        params_x = resolve_processor_params(self.processor_type_x, self.processor_params_x, "x")
        if not has_y:
            return data.processed("x", params_x), None
        params = {
            "processor_type_x": self.processor_type_x,
            "processor_params_x": params_x,
            "processor_type_y": self.processor_type_y,
            "processor_params_y": resolve_processor_params(
                self.processor_type_y, self.processor_params_y, "y"
            ),
        }
        x, y, _ = data.aligned_pair(params)
        return x, y
