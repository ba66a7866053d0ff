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


class DataSourceError(ParameterError):
    """A data source does not fit its file: the file is missing, unreadable or of another
    format; a named object, variable or key is absent; no sampling rate is known; or a
    selection (channels, units, time range) is out of range or matches nothing.  A
    :class:`ParameterError`, since it is the source's settings that must change."""


class InsufficientDataError(NeuralMIError, ValueError):
    """Too few samples for the requested windows, split, subsampling or batch size."""


class TrainingError(NeuralMIError, RuntimeError):
    """Training diverged or failed (non-finite loss, device failure)."""


class FailedTasksError(TrainingError):
    """Tasks of an analysis failed (training diverged in every attempt), so its summary
    would rest on fewer tasks than planned; refused unless a partial result is asked for.

    Attributes
    ----------
    failed
        ``{task key: why it failed}``, in key order.
    """

    def __init__(self, what: str, failed: dict[str, str]) -> None:
        lines = "\n".join(f"  {key}: {reason}" for key, reason in failed.items())
        super().__init__(f"{what}: {len(failed)} task(s) failed:\n{lines}")
        self.what = what
        self.failed = failed

    def __reduce__(self) -> tuple[type, tuple[str, dict[str, str]]]:
        return type(self), (self.what, self.failed)


class ConfigError(NeuralMIError, ValueError):
    """A workflow configuration is invalid; the message names session, analysis and key."""


class IncompleteStoreError(NeuralMIError, OSError):
    """A store (prepared data, task results) is incomplete or cannot be used."""


class CorruptStoreError(IncompleteStoreError):
    """A task store fails verification: it is missing, unreadable, or its content is not the
    content its completion record proves (edited, truncated, damaged, or another task's).

    Attributes
    ----------
    path
        The store (``.../<key>.zarr``).
    reason
        What is wrong, in words.
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"Task store {str(path)!r} fails verification: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self) -> tuple[type, tuple[object, str]]:
        return type(self), (self.path, self.reason)


class IncompleteResultsError(IncompleteStoreError):
    """Task stores needed for an aggregate are missing or fail verification.

    Attributes
    ----------
    problems
        ``(path, reason)`` of every missing or bad store, in key order (``path`` is where
        the store was looked for).
    """

    def __init__(self, what: str, problems: list[tuple[object, str]]) -> None:
        lines = "\n".join(f"  {str(path)!r}: {reason}" for path, reason in problems)
        super().__init__(f"{what}: {len(problems)} task store(s) missing or bad:\n{lines}")
        self.what = what
        self.problems = problems

    def __reduce__(self) -> tuple[type, tuple[str, list[tuple[object, str]]]]:
        return type(self), (self.what, self.problems)


class WorkdirLockedError(NeuralMIError, RuntimeError):
    """A working directory is held by a run that may still be going; the message names it
    and says how to check and release it."""
