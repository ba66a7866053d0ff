"""The variables of a MAT-file for :class:`~neural_mi.data.sources.matlab.MatSource`:
headers, numeric arrays and cell arrays, from a v5 file (scipy.io, :class:`V5File`) or a
v7.3 file (HDF5, :class:`V73File`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .matlab import MatSource

#: MATLAB classes of numeric arrays, with the dtype scipy.io gives them.
_NUMERIC = {
    "double": np.float64,
    "single": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "uint16": np.uint16,
    "int32": np.int32,
    "uint32": np.uint32,
    "int64": np.int64,
    "uint64": np.uint64,
    "logical": np.uint8,
}


def is_numeric(kind: str) -> bool:
    """Whether a MATLAB class (or the dtype name of a struct field) is a numeric array."""
    return kind in _NUMERIC or kind in {np.dtype(d).name for d in _NUMERIC.values()}


class MatFile(ABC):
    """A MAT-file's variables: headers, numeric arrays and cell arrays."""

    def __init__(self, source: MatSource) -> None:
        self.source = source

    @abstractmethod
    def names(self) -> list[str]:
        """Top-level variable names."""

    @abstractmethod
    def header(self, variable: str) -> tuple[tuple[int, ...], str]:
        """MATLAB shape and class of a variable."""

    @abstractmethod
    def array(self, variable: str) -> tuple[Any, bool]:
        """A numeric variable (array-like) and whether its axes are MATLAB's reversed."""

    @abstractmethod
    def dtype(self, variable: str) -> np.dtype:
        """The numpy dtype a numeric variable is read as."""

    @abstractmethod
    def cells(self, variable: str) -> list[np.ndarray]:
        """The elements of a cell array, raveled, in MATLAB's column-major order."""

    def missing(self, variable: str, where: str, have: list[str]) -> Exception:
        listing = ", ".join(sorted(have)) or "(none)"
        return self.source.error(
            f"{where} has no variable or field {variable!r}; it has: {listing}."
        )


class V5File(MatFile):
    def __init__(self, path: Path, source: MatSource) -> None:
        super().__init__(source)
        import scipy.io

        self.path = path
        try:
            self.whos = {name: (shape, kind) for name, shape, kind in scipy.io.whosmat(path)}
        except Exception as exc:  # scipy raises ValueError, TypeError, OSError...
            raise source.error(f"is not a readable MAT-file ({exc}).") from exc

    def names(self) -> list[str]:
        return list(self.whos)

    def _value(self, variable: str) -> np.ndarray:
        import scipy.io

        top, *fields = variable.split(".")
        if top not in self.whos:
            raise self.missing(top, "the file", self.names())
        value = scipy.io.loadmat(self.path, variable_names=[top])[top]
        for depth, name in enumerate(fields):
            names = list(value.dtype.names or ())
            if name not in names or value.size != 1:
                struct = ".".join([top, *fields[:depth]])
                raise self.missing(name, f"struct {struct!r}", names)
            value = value[name].reshape(-1)[0]
        return value

    def header(self, variable: str) -> tuple[tuple[int, ...], str]:
        if "." not in variable and variable in self.whos:
            return self.whos[variable]
        value = self._value(variable)
        if value.dtype == object:
            kind = "cell"
        elif value.dtype.names:
            kind = "struct"
        else:
            kind = value.dtype.name if value.dtype.kind in "biuf" else "char"
        return tuple(value.shape), kind

    def array(self, variable: str) -> tuple[Any, bool]:
        return self._value(variable), False

    def dtype(self, variable: str) -> np.dtype:
        if "." not in variable and self.whos[variable][1] in _NUMERIC:
            return np.dtype(_NUMERIC[self.whos[variable][1]])
        return self._value(variable).dtype

    def cells(self, variable: str) -> list[np.ndarray]:
        value = self._value(variable)
        return [np.asarray(cell).ravel(order="F") for cell in value.ravel(order="F")]


class V73File(MatFile):
    def __init__(self, handle: Any, source: MatSource) -> None:
        super().__init__(source)
        self.handle = handle

    def names(self) -> list[str]:
        return [name for name in self.handle if not name.startswith("#")]

    def _node(self, variable: str) -> Any:
        node = self.handle
        parts = variable.split(".")
        for depth, name in enumerate(parts):
            have = [k for k in node if not k.startswith("#")] if hasattr(node, "keys") else []
            if name not in have:
                where = "the file" if depth == 0 else f"struct {'.'.join(parts[:depth])!r}"
                raise self.missing(name, where, have)
            node = node[name]
        return node

    def header(self, variable: str) -> tuple[tuple[int, ...], str]:
        node = self._node(variable)
        kind = node.attrs.get("MATLAB_class", b"")
        kind = kind.decode() if isinstance(kind, bytes) else str(kind)
        if not hasattr(node, "shape"):
            return (1, 1), kind or "struct"
        if node.attrs.get("MATLAB_empty", 0):
            return (0, 0), kind
        return tuple(reversed(node.shape)), kind

    def array(self, variable: str) -> tuple[Any, bool]:
        return self._node(variable), True

    def dtype(self, variable: str) -> np.dtype:
        return np.dtype(self._node(variable).dtype)

    def cells(self, variable: str) -> list[np.ndarray]:
        refs = self._node(variable)[()]
        cells = []
        for ref in refs.ravel():  # disk order of (cols, rows) = MATLAB column-major order
            cell = self.handle[ref]
            if cell.attrs.get("MATLAB_empty", 0):
                cells.append(np.zeros(0))
            else:
                cells.append(np.asarray(cell[()]).ravel())
        return cells
