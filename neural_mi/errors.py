"""Exception hierarchy of ``neural_mi``.

Every error the library raises on purpose derives from :class:`NeuralMIError`, so a
pipeline can catch the whole family in one ``except``.  Each subclass also derives from
the matching built-in (``ValueError``, ``RuntimeError``), so code written against the
built-ins keeps working.
"""

from __future__ import annotations


class NeuralMIError(Exception):
    """Base class of every error raised on purpose by ``neural_mi``."""


class ParameterError(NeuralMIError, ValueError):
    """An unknown key, an unknown option, or a value out of range in the parameters."""


class DataShapeError(NeuralMIError, ValueError):
    """Input data has a shape the requested processing cannot use."""


class DataValueError(NeuralMIError, ValueError):
    """Input data holds values that cannot be used (NaN, Inf, negative spike times...)."""


class InsufficientDataError(NeuralMIError, ValueError):
    """Too few samples for the requested windows, split, subsampling or batch size."""


class TrainingError(NeuralMIError, RuntimeError):
    """Training diverged or failed (non-finite loss, device failure)."""


class ConfigError(NeuralMIError, ValueError):
    """A workflow configuration is invalid; the message names session, analysis and key."""


class IncompleteStoreError(NeuralMIError, OSError):
    """A task store exists but was never completed (interrupted write)."""


class WorkdirLockedError(NeuralMIError, RuntimeError):
    """A working directory is held by a run that may still be going; the message names it
    and says how to check and release it."""
