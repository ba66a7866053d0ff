"""The samples of one split (training or held-out) of every critic, batch by batch."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


class Split:
    """The samples of one split (training or held-out) of every critic, batch by batch.

    ``layout`` says what :meth:`take` returns for positions ``(M, b)`` (positions within
    each critic's split): ``"module"`` (one critic): ``[x (b, C, F), y (b, C, F)]``;
    ``"joint"``: ``[xy (2M, b, d)]``, X of every critic then Y; ``"separate"``:
    ``[x (M, b, d_x), y (M, b, d_y)]``.  Every critic has its own rows of its own data
    (``xs[m]``, ``ys[m]``: the same tensors for every critic unless each task transformed
    its inputs).  Materialised samples are stored as ``(slots * n, d)`` matrices, so a
    batch is one ``index_select`` per matrix.
    """

    def __init__(
        self,
        xs: Sequence[Tensor],
        ys: Sequence[Tensor],
        rows: Sequence[Tensor],
        device: torch.device,
        layout: str,
        gather_limit: int,
    ) -> None:
        self._layout = layout
        self._device = device
        self._n = len(rows[0])
        x, y = xs[0], ys[0]
        per_sample = (
            math.prod(x.shape[1:]) * x.element_size() + math.prod(y.shape[1:]) * y.element_size()
        )
        self._materialised = len(rows) * self._n * per_sample <= gather_limit
        if not self._materialised:
            self._xs, self._ys, self._rows = list(xs), list(ys), torch.stack(list(rows))
        elif layout == "module":
            self._data = [
                x.index_select(0, rows[0]).to(device),
                y.index_select(0, rows[0]).to(device),
            ]
        elif layout == "joint":
            self._data = [self._stack([*zip(xs, rows), *zip(ys, rows)], device)]
        else:
            self._data = [
                self._stack(list(zip(xs, rows)), device),
                self._stack(list(zip(ys, rows)), device),
            ]
        self._set_offsets(len(rows))

    @staticmethod
    def _stack(blocks: Sequence[tuple[Tensor, Tensor]], device: torch.device) -> Tensor:
        """``(slots * n, d)``: the flattened samples ``data[rows]`` of each block in turn."""
        first, rows = blocks[0]
        n = len(rows)
        out = torch.empty((len(blocks) * n, math.prod(first.shape[1:])), dtype=first.dtype)
        for k, (data, rows) in enumerate(blocks):
            out[k * n : (k + 1) * n] = data.index_select(0, rows).flatten(1)
        return out.to(device)

    def _set_offsets(self, n_models: int) -> None:
        n_slots = 2 * n_models if self._layout == "joint" else n_models
        self._offsets = (torch.arange(n_slots, device=self._device) * self._n)[:, None]

    def take(self, positions: Tensor) -> list[Tensor]:
        """Samples at ``positions`` (``(M, b)`` on the device), laid out as ``layout``."""
        if not self._materialised:
            return self._gather(positions)
        if self._layout == "module":
            return [d.index_select(0, positions[0]) for d in self._data]
        if self._layout == "joint":
            positions = torch.cat([positions, positions])
        index = (positions + self._offsets).flatten()
        return [d.index_select(0, index).view(*positions.shape, -1) for d in self._data]

    def _gather(self, positions: Tensor) -> list[Tensor]:
        """Gather a batch from the (strided) processed data, on the host, then move it."""
        rows = self._rows.gather(1, positions.cpu())
        if any(x is not self._xs[0] for x in self._xs) or any(
            y is not self._ys[0] for y in self._ys
        ):
            return self._gather_per_critic(rows)
        rows = rows.flatten()
        x, y = self._xs[0], self._ys[0]
        if self._layout == "module":
            return [
                x.index_select(0, rows).to(self._device, non_blocking=True),
                y.index_select(0, rows).to(self._device, non_blocking=True),
            ]
        if self._layout == "joint":
            out = torch.empty((2, len(rows), *x.shape[1:]), dtype=x.dtype)
            torch.index_select(x, 0, rows, out=out[0])
            torch.index_select(y, 0, rows, out=out[1])
            return [out.view(2 * len(positions), positions.shape[1], -1).to(self._device)]
        return [s.index_select(0, rows).view(*positions.shape, -1).to(self._device) for s in (x, y)]

    def _gather_per_critic(self, rows: Tensor) -> list[Tensor]:
        """:meth:`_gather` when critics have data of their own: one gather per critic."""
        x = torch.stack([d.index_select(0, r) for d, r in zip(self._xs, rows)])
        y = torch.stack([d.index_select(0, r) for d, r in zip(self._ys, rows)])
        if self._layout == "module":
            return [x[0].to(self._device), y[0].to(self._device)]
        if self._layout == "joint":
            return [torch.cat([x, y]).flatten(2).to(self._device)]
        return [x.flatten(2).to(self._device), y.flatten(2).to(self._device)]

    def keep(self, models: Tensor) -> None:
        """Keep the samples of the critics at positions ``models`` only."""
        if not self._materialised:
            self._rows = self._rows[models]
            self._xs = [self._xs[i] for i in models.tolist()]
            self._ys = [self._ys[i] for i in models.tolist()]
        else:
            slots = (
                torch.cat([models, models + len(self._offsets) // 2])
                if self._layout == "joint"
                else models
            )
            self._data = [
                d.view(-1, self._n, d.shape[-1])[slots.to(self._device)].view(-1, d.shape[-1])
                for d in self._data
            ]
        self._set_offsets(len(models))
