"""The synthetic oracle as a model: a fixed-parameter LSTM language model.

See :mod:`seqadv.data.oracle` for the ``.npz`` layout and the published pickle.
"""

from __future__ import annotations

import os

import numpy as np
import torch

from seqadv.data.oracle import (
    ORACLE_KEYS,
    load_oracle_npz,
    save_oracle_npz,
    seeded_oracle_arrays,
    validate_oracle_arrays,
)
from seqadv.models.generator import LSTMGenerator

__all__ = ["OracleLSTM", "load_oracle"]

# (torch gate, input weight, recurrent weight, bias): torch's LSTM stacks gates i, f, g, o.
_GATES = (("i", "Wi", "Ui", "bi"), ("f", "Wf", "Uf", "bf"), ("g", "Wc", "Uc", "bc"), ("o", "Wog", "Uog", "bog"))  # fmt: skip


class OracleLSTM(LSTMGenerator):
    """The oracle of SeqGAN's synthetic experiment: a fixed LSTM over ``vocab_size`` tokens.

    No PAD or EOS: every sequence has exactly ``max_len`` tokens; token 0 is the start input
    and also an ordinary token. Build it with :meth:`from_seed` (every parameter from
    N(0, 1), as SeqGAN did) or :meth:`from_npz`. Parameters do not require gradients.

    Example:
        >>> import torch
        >>> oracle = OracleLSTM.from_seed(0, vocab_size=50, max_len=8)
        >>> oracle.sample(100, generator=torch.Generator().manual_seed(1)).shape
        torch.Size([100, 8])
    """

    def __init__(
        self, vocab_size: int = 5000, embed_dim: int = 32, hidden_dim: int = 32, max_len: int = 20
    ) -> None:
        super().__init__(vocab_size, embed_dim, hidden_dim, max_len, start_id=0, eos_id=None)
        self.source = "uninitialized"
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], max_len: int = 20, where: str = "arrays"
    ) -> OracleLSTM:
        """An oracle from the 15 arrays of the ``.npz`` layout (validated)."""
        vocab_size, embed_dim, hidden_dim = validate_oracle_arrays(arrays, where)
        oracle = cls(vocab_size, embed_dim, hidden_dim, max_len)
        t = {k: torch.as_tensor(np.asarray(arrays[k], dtype=np.float32)) for k in ORACLE_KEYS}
        with torch.no_grad():
            oracle.embedding.weight.copy_(t["emb"])
            oracle.lstm.weight_ih_l0.copy_(torch.cat([t[w].T for _, w, _, _ in _GATES]))
            oracle.lstm.weight_hh_l0.copy_(torch.cat([t[u].T for _, _, u, _ in _GATES]))
            oracle.lstm.bias_ih_l0.copy_(torch.cat([t[b] for _, _, _, b in _GATES]))
            oracle.lstm.bias_hh_l0.zero_()
            oracle.output.weight.copy_(t["Wo"].T)
            oracle.output.bias.copy_(t["bo"])
        oracle.source = where
        return oracle

    @classmethod
    def from_seed(
        cls,
        seed: int,
        vocab_size: int = 5000,
        embed_dim: int = 32,
        hidden_dim: int = 32,
        max_len: int = 20,
        std: float = 1.0,
    ) -> OracleLSTM:
        """An oracle with every parameter from N(0, std^2), drawn from ``seed``."""
        arrays = seeded_oracle_arrays(seed, vocab_size, embed_dim, hidden_dim, std)
        return cls.from_arrays(arrays, max_len=max_len, where=f"seeded oracle (seed={seed})")

    @classmethod
    def from_npz(cls, path: str | os.PathLike, max_len: int = 20) -> OracleLSTM:
        """Load an oracle saved in the ``.npz`` layout (no pickles are read)."""
        return cls.from_arrays(load_oracle_npz(path), max_len=max_len, where=str(path))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The parameters in the ``.npz`` layout (float32)."""
        h = self.spec.hidden_dim
        w_ih = self.lstm.weight_ih_l0.detach()
        w_hh = self.lstm.weight_hh_l0.detach()
        bias = (self.lstm.bias_ih_l0 + self.lstm.bias_hh_l0).detach()
        out = {"emb": self.embedding.weight.detach()}
        for k, (_, w, u, b) in enumerate(_GATES):
            out[w] = w_ih[k * h : (k + 1) * h].T
            out[u] = w_hh[k * h : (k + 1) * h].T
            out[b] = bias[k * h : (k + 1) * h]
        out["Wo"] = self.output.weight.detach().T
        out["bo"] = self.output.bias.detach()
        return {k: out[k].contiguous().numpy().astype(np.float32) for k in ORACLE_KEYS}

    def save_npz(self, path: str | os.PathLike) -> None:
        """Write the oracle in the ``.npz`` layout, atomically."""
        save_oracle_npz(path, self.to_arrays())


def load_oracle(
    path: str | os.PathLike | None = None,
    seed: int = 0,
    vocab_size: int = 5000,
    embed_dim: int = 32,
    hidden_dim: int = 32,
    max_len: int = 20,
) -> OracleLSTM:
    """The oracle at ``path`` (``.npz``), or a seeded one when ``path`` is None."""
    if path:
        return OracleLSTM.from_npz(path, max_len=max_len)
    return OracleLSTM.from_seed(seed, vocab_size, embed_dim, hidden_dim, max_len)
