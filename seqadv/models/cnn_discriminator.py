"""SeqGAN's CNN discriminator: filter banks over a shared window matrix, highway, logit."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from seqadv.models import kernels
from seqadv.models.discriminator_base import Discriminator, positive_int

DEFAULT_CHUNK = 128  #: sequences convolved together under ``kernels: plain``
CHUNK_CANDIDATES = (32, 64, 128, 256, 512)  #: timed when the kernel plan chooses the chunk
_MEASURE_CHUNK_ROWS = 1024  # sequences of the scoring call a chunk size is timed on

__all__ = ["CNNDiscriminator", "Highway", "SEQGAN_FILTER_SIZES", "SEQGAN_NUM_FILTERS"]

logger = logging.getLogger("seqadv")

#: SeqGAN's filter widths and filter counts (LantaoYu/SeqGAN, sequence_gan.py).
SEQGAN_FILTER_SIZES: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
SEQGAN_NUM_FILTERS: tuple[int, ...] = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


# ------------------------------------------------------------------------------------------
# CNN (SeqGAN)
# ------------------------------------------------------------------------------------------
class Highway(nn.Module):
    """One highway layer, as SeqGAN's: ``t * relu(W_H h + b_H) + (1 - t) * h``.

    ``t = sigmoid(W_T h + b_T)`` is the transform gate. Both maps are computed by a single
    ``nn.Linear(size, 2 * size)`` (one matrix multiply): output rows ``[:size]`` are the gate
    (W_T, b_T), rows ``[size:]`` the transform (W_H, b_H).

    Args:
        size: the feature width F.
        gate_bias: initial value of b_T (SeqGAN calls its highway with a gate offset of 0;
            the highway paper suggests a negative value to start near the identity).
    """

    def __init__(self, size: int, gate_bias: float = 0.0) -> None:
        super().__init__()
        self.size = size
        self.proj = nn.Linear(size, 2 * size)
        nn.init.xavier_uniform_(self.proj.weight[:size])
        nn.init.xavier_uniform_(self.proj.weight[size:])
        with torch.no_grad():
            self.proj.bias.zero_()
            self.proj.bias[:size].fill_(gate_bias)

    def forward(self, h: Tensor) -> Tensor:
        """Map (B, F) to (B, F)."""
        gate, transform = kernels.linear("dis/highway", h, self.proj.weight, self.proj.bias).split(
            self.size, dim=-1
        )
        t = torch.sigmoid(gate)
        return torch.addcmul(h, t, F.relu(transform) - h)


def _windows(embedded: Tensor, width: int) -> Tensor:
    """(B, T, E) -> (T*B, width*E): row ``t*B + b`` = embeddings of tokens t..t+width-1 of b.

    Positions past the end read zeros (they are only used by narrower filters' unused tail).
    """
    batch, length, dim = embedded.shape
    padded = F.pad(embedded, (0, 0, 0, width - 1))
    span = length + width - 1
    windows = padded.as_strided((length, batch, width, dim), (dim, span * dim, dim, 1))
    return windows.contiguous().view(length * batch, width * dim)


def _fold_windows(grad_windows: Tensor, batch: int, width: int, dim: int) -> Tensor:
    """Adjoint of :func:`_windows`: (T*B, width*E) -> (B, T, E)."""
    length = grad_windows.shape[0] // batch
    grad = grad_windows.new_zeros(length + width - 1, batch, dim)
    parts = grad_windows.view(length, batch, width, dim)
    for k in range(width):
        grad[k : k + length] += parts[:, :, k]
    return grad[:length].transpose(0, 1)


def _autocast_input(embedded: Tensor) -> Tensor:
    """The embeddings in autocast's dtype when CPU autocast is on (bf16 scoring): cast once
    here, not once per filter bank by every matrix multiply."""
    if torch.is_autocast_enabled("cpu"):
        return embedded.to(torch.get_autocast_dtype("cpu"))
    return embedded


class _ConvMaxPool(torch.autograd.Function):
    """All filter banks of a text CNN: ReLU(max over time of a valid conv + bias).

    The embeddings are copied once into a position-major window matrix (T*B, W*E), W the
    widest filter: row ``t*B + b`` holds tokens ``t .. t+W-1`` of sequence b. The conv of
    width f is one matrix multiply of its first ``(T-f+1)*B`` rows and first ``f*E`` columns,
    a strided view (no im2col copy per filter). The backward accumulates every bank's input
    gradient into one buffer with in-place ``addmm_`` and folds it back once. Ties of the max
    share its gradient equally, as ``torch.amax`` does (they occur when a sequence repeats a
    window, e.g. a run of one token, or in padding).
    """

    @staticmethod
    def forward(ctx: Any, embedded: Tensor, width: int, *params: Tensor) -> Tensor:
        n_banks = len(params) // 2
        weights, biases = params[:n_banks], params[n_banks:]
        batch, length, dim = embedded.shape
        windows = _windows(embedded, width)
        convs, maxima = [], []
        for weight in weights:
            n_filters, size = weight.shape[0], weight.shape[1] * dim
            positions = length - weight.shape[1] + 1
            conv = kernels.linear(
                f"dis/conv{weight.shape[1]}",
                windows[: positions * batch, :size],
                weight.view(n_filters, size),
            )
            convs.append(conv)
            maxima.append(conv.view(positions, batch, n_filters).amax(dim=0))
        maximum = torch.cat(maxima, dim=1)
        out = torch.relu(maximum + torch.cat(biases))
        ctx.shape = (batch, length, dim, width)
        ctx.save_for_backward(windows, maximum, out, *weights, *convs)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        windows, maximum, out, *rest = ctx.saved_tensors
        n_banks = len(rest) // 2
        weights, convs = rest[:n_banks], rest[n_banks:]
        batch, length, dim, width = ctx.shape
        grad_pre = grad_out * (out > 0)
        need_input = ctx.needs_input_grad[0]
        grad_windows = torch.zeros_like(windows) if need_input else None
        grad_weights, grad_biases = [], []
        offset = 0
        for weight, conv in zip(weights, convs, strict=True):
            n_filters, size = weight.shape[0], weight.shape[1] * dim
            positions = length - weight.shape[1] + 1
            g = grad_pre[:, offset : offset + n_filters]
            is_max = (
                conv.view(positions, batch, n_filters) == maximum[:, offset : offset + n_filters]
            )
            offset += n_filters
            grad_conv = is_max.to(g.dtype)
            grad_conv.mul_(g / grad_conv.sum(dim=0))
            grad_conv = grad_conv.view(positions * batch, n_filters)
            rows = windows[: positions * batch, :size]
            grad_weight = kernels.linear(
                f"dis/conv{weight.shape[1]}-grad-w", grad_conv.t(), rows.t()
            )
            grad_weights.append(grad_weight.view_as(weight))
            grad_biases.append(g.sum(0))
            if grad_windows is not None:
                grad_windows[: positions * batch, :size].addmm_(
                    grad_conv, weight.view(n_filters, size)
                )
        grad_input = None
        if grad_windows is not None:
            grad_input = _fold_windows(grad_windows, batch, width, dim)
        return (grad_input, None, *grad_weights, *grad_biases)


class CNNDiscriminator(Discriminator):
    """SeqGAN's CNN discriminator (Yu et al. 2017; LantaoYu/SeqGAN, discriminator.py).

    Embedding (64) -> for each filter width f, ``n_f`` convolutions over f consecutive
    embeddings and the full embedding width, ReLU, max-over-time pooling -> concatenation
    (F = sum of the filter counts; 1720 with the defaults) -> one highway layer -> dropout
    (0.25, i.e. SeqGAN's keep probability 0.75) -> a linear map to one logit.

    **One logit instead of SeqGAN's two-class softmax.** SeqGAN's output layer has two scores
    (fake, real) and a softmax cross-entropy; that likelihood depends only on the score
    difference, so a single logit ``z_real - z_fake`` with binary cross-entropy is the same
    model: ``softmax(z)[real] = sigmoid(z_real - z_fake)``.

    **L2.** As SeqGAN, ``l2_reg * (sum(W**2) / 2 + sum(b**2) / 2)`` on the output layer's
    weight and bias (TensorFlow's ``l2_loss``) is added to the mean cross-entropy, with
    ``l2_reg = 0.2``. Note that SeqGAN's penalty applies to its two-class weights: when they
    are antisymmetric (the penalized symmetric part only decays), its term equals
    ``l2_reg / 2 * (...)`` of the single logit's weights; pass ``l2_reg=0.1`` for that exact
    correspondence. The default keeps the formula and the constant as published.

    Initialization follows SeqGAN: embedding U(-1, 1), conv and output weights truncated
    normal (std 0.1), their biases 0.1; the highway uses Glorot-uniform weights.

    Speed: the embeddings are copied once into a position-major window matrix, each filter
    bank is one matrix multiply over a strided view of it (no per-filter im2col), the max is
    an ``amax`` (no index tensor), and the backward accumulates all banks' input gradients in
    one buffer; about 2x the training speed and 2-3x the scoring speed of a per-filter
    ``nn.Conv2d`` port on one CPU thread (``experiments/benchmarks/discriminator.py``).

    Args:
        vocab_size: V (ids 0..V-1 are words; V is padding).
        max_len: T; shorter inputs are padded to T, filters wider than T are dropped (with a
            logged warning).
        pad_id: the corpus' PAD id, or None (padding is then V).
        embedding_dim: E (SeqGAN: 64).
        filter_sizes: filter widths (SeqGAN: 1..10, 15, 20).
        num_filters: filters per width, same length as ``filter_sizes``.
        dropout: dropout probability before the output layer (SeqGAN: 0.25).
        l2_reg: coefficient of the output layer's L2 penalty (SeqGAN: 0.2).
        highway_gate_bias: initial gate bias of the highway layer (SeqGAN: 0).
        chunk_size: batches larger than this are convolved in chunks of this many sequences
            (keeps the window matrix in cache when scoring large batches); None: the active
            kernel plan's measured fastest for these sizes (128 under ``kernels: plain``).
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int,
        pad_id: int | None = None,
        embedding_dim: int = 64,
        filter_sizes: Sequence[int] = SEQGAN_FILTER_SIZES,
        num_filters: Sequence[int] = SEQGAN_NUM_FILTERS,
        dropout: float = 0.25,
        l2_reg: float = 0.2,
        highway_gate_bias: float = 0.0,
        chunk_size: int | None = None,
    ) -> None:
        super().__init__(vocab_size, max_len, pad_id)
        filter_sizes, num_filters = tuple(filter_sizes), tuple(num_filters)
        if len(filter_sizes) != len(num_filters):
            raise ValueError(
                f"filter_sizes ({len(filter_sizes)} entries) and num_filters "
                f"({len(num_filters)} entries) must have the same length"
            )
        if any(int(f) < 1 for f in filter_sizes) or any(int(n) < 1 for n in num_filters):
            raise ValueError(
                f"filter_sizes and num_filters must be positive, got {filter_sizes} and "
                f"{num_filters}"
            )
        kept = [
            (int(f), int(n)) for f, n in zip(filter_sizes, num_filters, strict=True) if f <= max_len
        ]
        dropped = [f for f in filter_sizes if f > max_len]
        if dropped:
            logger.warning(
                "CNNDiscriminator: dropping filter sizes %s wider than max_len=%d",
                dropped,
                max_len,
            )
        if not kept:
            raise ValueError(f"no filter size fits max_len={max_len} (filter_sizes={filter_sizes})")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout!r}")
        if chunk_size is not None and (isinstance(chunk_size, bool) or int(chunk_size) < 1):
            raise ValueError(f"chunk_size must be positive, got {chunk_size!r}")
        self.embedding_dim = embedding_dim = positive_int(embedding_dim, "embedding_dim")
        self.filter_sizes = tuple(f for f, _ in kept)
        self.num_filters = tuple(n for _, n in kept)
        self.feature_dim = sum(self.num_filters)
        self.l2_reg = float(l2_reg)
        self.chunk_size = chunk_size
        self._widest = max(self.filter_sizes)

        self.embedding = self._make_embedding(embedding_dim)
        # Filter bank i: weight (n_i, f_i, E) -- filter c, offset k, embedding dim e.
        self.conv_weights = nn.ParameterList(
            nn.Parameter(torch.empty(n, f, embedding_dim)) for f, n in kept
        )
        self.conv_biases = nn.ParameterList(nn.Parameter(torch.empty(n)) for _, n in kept)
        self.highway = Highway(self.feature_dim, gate_bias=highway_gate_bias)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(self.feature_dim, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """SeqGAN's initialization (the highway keeps its own)."""
        with torch.no_grad():
            nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
            self.embedding.weight[self.padding_idx].zero_()
            for weight, bias in zip(self.conv_weights, self.conv_biases, strict=True):
                nn.init.trunc_normal_(weight, std=0.1, a=-0.2, b=0.2)
                bias.fill_(0.1)
            nn.init.trunc_normal_(self.output.weight, std=0.1, a=-0.2, b=0.2)
            self.output.bias.fill_(0.1)

    def _chunk(self, rows: int) -> int:
        """Sequences convolved together: ``chunk_size``, or the kernel plan's choice."""
        if self.chunk_size is not None:
            return int(self.chunk_size)
        macs = self.embedding_dim * self.max_len * self.feature_dim * _MEASURE_CHUNK_ROWS
        if rows <= DEFAULT_CHUNK or torch.is_grad_enabled() or macs < kernels.MIN_MACS:
            return DEFAULT_CHUNK  # training batches, tiny models: nothing worth choosing

        def run(chunk: int) -> None:
            g = torch.Generator().manual_seed(0)  # its own stream: measuring draws nothing
            seqs = torch.randint(
                0, self.vocab_size, (_MEASURE_CHUNK_ROWS, self.max_len), generator=g
            )
            with torch.no_grad():
                self._pooled(seqs, chunk)

        key = f"{self.max_len}x{self.embedding_dim}x{self.feature_dim}"
        return kernels.block_rows("dis/chunk", key, run, DEFAULT_CHUNK, CHUNK_CANDIDATES)

    def _pooled(self, sequences: Tensor, chunk: int | None = None) -> Tensor:
        """(B, T) ids (T == max_len) -> (B, F) ReLU'd max-pooled conv features."""
        params = [*self.conv_weights, *self.conv_biases]
        chunk = chunk or self._chunk(sequences.shape[0])
        chunks = sequences.split(chunk) if sequences.shape[0] else [sequences]
        pooled = [
            _ConvMaxPool.apply(_autocast_input(self.embedding(chunk)), self._widest, *params)
            for chunk in chunks
        ]
        return pooled[0] if len(pooled) == 1 else torch.cat(pooled)

    def features(self, sequences: Tensor) -> Tensor:
        """The highway output (before dropout).

        Args:
            sequences: (B, T) int64 ids, T <= max_len (shorter inputs are right-padded).

        Returns:
            (B, F) features, F = sum(num_filters).
        """
        sequences = self._prepare(sequences)
        if sequences.shape[1] < self.max_len:
            sequences = F.pad(
                sequences, (0, self.max_len - sequences.shape[1]), value=self.padding_idx
            )
        return self.highway(self._pooled(sequences))

    def forward(self, sequences: Tensor) -> Tensor:
        """Logits of "real".

        Args:
            sequences: (B, T) int64 ids, T <= max_len.

        Returns:
            (B,) raw logits.
        """
        return self.output(self.dropout(self.features(sequences))).squeeze(-1)

    @torch.no_grad()
    def logits_shared_prefix(self, sequences: Tensor, length: int, group: int) -> Tensor:
        """Eval-mode logits (M,) of sequences whose rows come in groups of ``group`` that
        share their first ``length`` tokens (rows ``g * group .. g * group + group - 1``),
        as Monte-Carlo rollouts of one prefix do.

        The same values as :meth:`forward` in eval mode, computed with fewer multiplies: a
        filter window that lies inside the shared prefix has the same value in every row of
        its group, so it is convolved once per group; only windows that reach past the prefix
        are convolved per row, and the max over time takes both. (The sums are the same, in
        matrix products of other shapes: equal to ``forward`` within float rounding.)
        """
        sequences = self._prepare(sequences)
        rows, length = sequences.shape[0], int(length)
        if rows % group or not 0 <= length <= sequences.shape[1]:
            raise ValueError(
                f"{rows} rows are not groups of {group}, or length {length} is outside 0.."
                f"{sequences.shape[1]}"
            )
        if sequences.shape[1] < self.max_len:
            sequences = F.pad(
                sequences, (0, self.max_len - sequences.shape[1]), value=self.padding_idx
            )
        step = max(group, self._chunk(rows) // group * group)  # whole groups per chunk
        pooled = [self._pooled_shared(chunk, length, group) for chunk in sequences.split(step)]
        features = self.highway(torch.cat(pooled) if len(pooled) > 1 else pooled[0])
        return self.output(features).squeeze(-1)

    def _pooled_shared(self, sequences: Tensor, length: int, group: int) -> Tensor:
        """:meth:`_pooled` of one chunk of whole groups sharing ``length`` tokens."""
        rows, span = sequences.shape
        groups, dim = rows // group, self.embedding_dim
        embedded = _autocast_input(self.embedding(sequences))
        start = max(0, length - self._widest + 1)  # the first window reaching past the prefix
        tail = _windows(embedded[:, start:], self._widest)
        head = _windows(embedded[::group, :length], self._widest) if length else None
        maxima = []
        for weight in self.conv_weights:
            n_filters, width = weight.shape[0], weight.shape[1]
            flat = weight.view(n_filters, width * dim)
            op = f"dis/conv{width}"
            lo, hi = max(0, length - width + 1) - start, span - width - start  # tail positions
            if hi >= lo:
                conv = kernels.linear(op, tail[lo * rows : (hi + 1) * rows, : width * dim], flat)
                best = conv.view(hi - lo + 1, rows, n_filters).amax(dim=0)
            else:
                best = None
            inside = length - width + 1  # windows wholly inside the prefix
            if head is not None and inside > 0:
                shared = kernels.linear(op, head[: inside * groups, : width * dim], flat)
                shared = shared.view(inside, groups, n_filters).amax(dim=0)
                shared = shared.repeat_interleave(group, dim=0)
                best = shared if best is None else torch.maximum(best, shared)
            assert best is not None  # every filter fits max_len, so some window exists
            maxima.append(best)
        return torch.relu(torch.cat(maxima, dim=1) + torch.cat(list(self.conv_biases)))

    def regularization(self) -> Tensor:
        """``l2_reg * (sum(W**2) / 2 + sum(b**2) / 2)`` of the output layer (SeqGAN's L2)."""
        weight, bias = self.output.weight, self.output.bias
        return self.l2_reg * (weight.square().sum() / 2 + bias.square().sum() / 2)


# ------------------------------------------------------------------------------------------
# Recurrent discriminators
