"""Checks of the tables that NeuralMI 1.1's plotting functions take."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ParameterError

if TYPE_CHECKING:
    import pandas as pd


def require_columns(table: pd.DataFrame, names: tuple[str, ...], what: str, hint: str) -> None:
    """Refuse ``table`` unless it has every column in ``names`` (``what`` names it in
    the message, ``hint`` says what to do)."""
    missing = [name for name in names if name not in table.columns]
    if missing:
        raise ParameterError(
            f"{what} lacks the column(s) {missing}{hint}; it has {list(table.columns)}."
        )
