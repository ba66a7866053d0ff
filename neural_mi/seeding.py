"""Seeds of random choices: hashed from the run seed and what identifies the choice, never
from the order in which tasks execute.  Torch-free."""

from __future__ import annotations

import hashlib
from typing import Any


def derive_seed(run_seed: int, *parts: Any) -> int:
    """Return a 32-bit seed derived by hashing the run seed and ``parts``.

    The same inputs always give the same seed, whatever the execution order, process or
    machine.

    Parameters
    ----------
    run_seed
        The analysis' ``random_seed``.
    *parts
        Anything that identifies the random choice (a task key, ``"chunks"`` and a gamma...).
    """
    text = "|".join([str(int(run_seed)), *(str(p) for p in parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
