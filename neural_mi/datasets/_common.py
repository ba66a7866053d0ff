"""Helpers shared by the generators: NeuralMI 1.1's keyword names, the output arrays."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import ParameterError

if TYPE_CHECKING:  # torch is imported only when a tensor is asked for (workflow parse time)
    import torch


_T = TypeVar("_T")


def _legacy_names(**renames: str) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """Accept NeuralMI 1.1's keyword names (``old="new"``) for arguments we name otherwise.

    The wrapped function keeps our signature (``inspect.signature`` shows our names only,
    so a workflow config cannot use the old ones); giving both names is an error.
    """

    def decorate(function: Callable[..., _T]) -> Callable[..., _T]:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> _T:
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ParameterError(
                            f"Give {new} or its NeuralMI 1.1 name {old}, not both."
                        )
                    kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate


def _output(array: np.ndarray, use_torch: bool) -> np.ndarray | torch.Tensor:
    array = np.ascontiguousarray(array, dtype=np.float32)
    if not use_torch:
        return array
    import torch

    return torch.from_numpy(array)


def _series(y: np.ndarray) -> np.ndarray:
    """A 1-D series as one float32 channel, ``(1, n_samples)``."""
    return np.asarray(y, dtype=np.float32)[None, :]
