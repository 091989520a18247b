"""Python, numpy and torch global random states kept apart from the caller's.

SB3 samples actions from torch's global RNG, shuffles minibatches with numpy's and seeds all
three while it builds a model. :class:`GlobalRNG` holds its own states, swaps them in for the
duration of a block and the caller's back afterwards; its ``state_dict`` is tensors and plain
data (a weights-only checkpoint can hold it).
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["GlobalRNG"]


class GlobalRNG:
    """Python, numpy and torch global RNG states kept apart from the caller's.

    Args:
        seed: seeds the three states (the caller's are left as they were).
    """

    def __init__(self, seed: int) -> None:
        with self._saved():
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.manual_seed(seed)
            self.states = self._capture()

    @staticmethod
    def _capture() -> tuple[Any, Any, Tensor]:
        return random.getstate(), np.random.get_state(), torch.get_rng_state()

    @staticmethod
    def _restore(states: tuple[Any, Any, Tensor]) -> None:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])

    @contextlib.contextmanager
    def _saved(self) -> Iterator[None]:
        outside = self._capture()
        try:
            yield
        finally:
            self._restore(outside)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Use these states inside the block; keep where they got to; restore the caller's."""
        with self._saved():
            self._restore(self.states)
            try:
                yield
            finally:
                self.states = self._capture()

    def state_dict(self) -> dict[str, Any]:
        py, npy, tch = self.states
        return {
            "python": {
                "version": py[0],
                "state": torch.tensor(py[1], dtype=torch.int64),
                "gauss": py[2],
            },
            "numpy": {
                "keys": torch.from_numpy(npy[1].astype(np.int64)),
                "pos": int(npy[2]),
                "has_gauss": int(npy[3]),
                "cached_gaussian": float(npy[4]),
            },
            "torch": tch.clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        py, npy = state["python"], state["numpy"]
        self.states = (
            (int(py["version"]), tuple(int(v) for v in py["state"].tolist()), py["gauss"]),
            (
                "MT19937",
                npy["keys"].numpy().astype(np.uint32),
                int(npy["pos"]),
                int(npy["has_gauss"]),
                float(npy["cached_gaussian"]),
            ),
            state["torch"].clone(),
        )
