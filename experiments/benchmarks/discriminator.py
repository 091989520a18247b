"""Benchmark: SeqGAN's CNN discriminator, seqadv's against a straightforward port, one run.

What is timed (oracle setting: V = 5000, T = 20, embedding 64, filter sizes 1-10, 15, 20 with
100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160 filters, highway, dropout 0.25,
L2 0.2; one torch thread unless --threads says otherwise):

1. One discriminator epoch over 20,000 sequences (10,000 real + 10,000 fake) in minibatches
   of 64, SeqGAN's Adam (lr 1e-4):
   * ``baseline`` -- the model as the common PyTorch ports write it (one ``nn.Conv2d`` per
     filter size over (B, 1, T, E), ``max_pool1d``, a two-class output layer and softmax
     cross-entropy, plain ``torch.optim.Adam``), built in this file, with SeqGAN's
     two-matrix highway so that both sides compute the same function;
   * ``seqadv`` -- ``CNNDiscriminator`` trained by ``train_discriminator`` with
     ``default_optimizer`` (``eval_metrics=False``: the epoch only, as the baseline);
   * ``seqadv + plain Adam`` -- the same with ``torch.optim.Adam``, to separate the
     model's speed-up from the optimizer's.
2. Forward-only scoring throughput in eval mode, batch 1024 (rollouts score ~20k sequences
   per generator step), in sequences per second.

Before timing, the baseline is loaded with seqadv's weights and both are checked to give
the same probabilities. Medians of ``--repeats`` runs, interleaved. The figures to compare
with are in ../shared/BENCHMARKS.md (TextGAN-PyTorch: 35.7 s per epoch; target 2x faster).

Usage:
    python experiments/benchmarks/discriminator.py [--repeats 3] [--sequences 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import gemm_rates  # noqa: E402

from seqadv.algorithms.discriminator import default_optimizer, train_discriminator
from seqadv.models import kernels
from seqadv.models.discriminator import (
    SEQGAN_FILTER_SIZES,
    SEQGAN_NUM_FILTERS,
    CNNDiscriminator,
)
from seqadv.runs import cpu_model

VOCAB, LENGTH, EMBED, BATCH = 5000, 20, 64, 64
REFERENCE_EPOCH_S = 35.7  # TextGAN-PyTorch, BENCHMARKS.md


class PortCNNDiscriminator(nn.Module):
    """SeqGAN's CNN written the way the common PyTorch ports write it (the baseline)."""

    def __init__(self, vocab_size: int, embedding_dim: int = EMBED) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size + 1, embedding_dim, padding_idx=vocab_size)
        self.convs = nn.ModuleList(
            nn.Conv2d(1, n, (f, embedding_dim))
            for f, n in zip(SEQGAN_FILTER_SIZES, SEQGAN_NUM_FILTERS, strict=True)
        )
        size = sum(SEQGAN_NUM_FILTERS)
        self.highway_gate = nn.Linear(size, size)
        self.highway_transform = nn.Linear(size, size)
        self.dropout = nn.Dropout(0.25)
        self.output = nn.Linear(size, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        emb = self.embedding(x).unsqueeze(1)  # (B, 1, T, E)
        convs = [F.relu(conv(emb)).squeeze(3) for conv in self.convs]  # [(B, n, T-f+1)]
        pools = [F.max_pool1d(c, c.size(2)).squeeze(2) for c in convs]  # [(B, n)]
        h = torch.cat(pools, 1)
        t = torch.sigmoid(self.highway_gate(h))
        h = t * F.relu(self.highway_transform(h)) + (1.0 - t) * h
        return self.output(self.dropout(h))  # (B, 2)

    def loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        l2 = self.output.weight.square().sum() / 2 + self.output.bias.square().sum() / 2
        return F.cross_entropy(scores, labels) + 0.2 * l2

    @torch.no_grad()
    def load_from(self, ours: CNNDiscriminator) -> None:
        """Copy seqadv's weights (single logit -> scores (0, logit))."""
        self.embedding.weight.copy_(ours.embedding.weight)
        for conv, weight, bias in zip(self.convs, ours.conv_weights, ours.conv_biases, strict=True):
            conv.weight.copy_(weight.unsqueeze(1))  # (n, f, E) -> (n, 1, f, E)
            conv.bias.copy_(bias)
        size = ours.highway.size
        self.highway_gate.weight.copy_(ours.highway.proj.weight[:size])
        self.highway_gate.bias.copy_(ours.highway.proj.bias[:size])
        self.highway_transform.weight.copy_(ours.highway.proj.weight[size:])
        self.highway_transform.bias.copy_(ours.highway.proj.bias[size:])
        self.output.weight.zero_()
        self.output.bias.zero_()
        self.output.weight[1].copy_(ours.output.weight[0])
        self.output.bias[1].copy_(ours.output.bias[0])


def port_epoch(model: PortCNNDiscriminator, real, fake, optimizer, generator) -> None:
    """One epoch as the ports run it: concatenate, shuffle, minibatches of 64."""
    data = torch.cat([real, fake])
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))]).long()
    order = torch.randperm(len(data), generator=generator)
    model.train()
    for start in range(0, len(data), BATCH):
        idx = order[start : start + BATCH]
        loss = model.loss(model(data[idx]), labels[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@torch.no_grad()
def scoring_rate(model: nn.Module, sequences: torch.Tensor, batch: int = 1024) -> float:
    """Sequences per second of eval-mode forward passes."""
    model.eval()
    model(sequences[:batch])  # warm-up
    seconds = timed(lambda: [model(chunk) for chunk in sequences.split(batch)])
    return len(sequences) / seconds


def macs_per_sequence() -> tuple[float, float]:
    """(conv, highway) multiply-accumulates of one sequence's forward pass."""
    conv = sum(
        (LENGTH - f + 1) * f * EMBED * n
        for f, n in zip(SEQGAN_FILTER_SIZES, SEQGAN_NUM_FILTERS, strict=True)
    )
    size = sum(SEQGAN_NUM_FILTERS)
    return float(conv), float(2 * size * size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant")
    parser.add_argument("--sequences", type=int, default=20000, help="real + fake per epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--score-sequences", type=int, default=10240, help="scored per run")
    parser.add_argument("--kernels", choices=("auto", "plain"), default="auto")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    kernels.set_plan(kernels.KernelPlan(mode=args.kernels))
    print(f"machine: {platform.platform()}; CPU: {cpu_model()}; python {platform.python_version()}")
    print(f"torch {torch.__version__}, threads: {torch.get_num_threads()}")
    print(f"load average at start (other processes share the cores): {os.getloadavg()}")
    rates = gemm_rates()
    print(
        f"setting: V={VOCAB}, T={LENGTH}, batch {BATCH}, {args.sequences} sequences per epoch, "
        f"SeqGAN CNN (embedding {EMBED}, {sum(SEQGAN_NUM_FILTERS)} filters, highway), "
        f"medians of {args.repeats}"
    )

    data_gen = torch.Generator().manual_seed(0)
    half = args.sequences // 2
    real = torch.randint(0, VOCAB, (half, LENGTH), generator=data_gen)
    fake = torch.randint(0, VOCAB, (half, LENGTH), generator=data_gen)
    scored = torch.randint(0, VOCAB, (args.score_sequences, LENGTH), generator=data_gen)

    torch.manual_seed(0)
    ours = CNNDiscriminator(VOCAB, LENGTH)
    port = PortCNNDiscriminator(VOCAB)
    port.load_from(ours)
    ours.eval()
    port.eval()
    with torch.no_grad():
        probe = scored[:256]
        diff = (torch.sigmoid(ours(probe)) - torch.softmax(port(probe), 1)[:, 1]).abs().max()
    print(f"check: same weights, max |P_seqadv - P_port| over 256 sequences = {float(diff):.2e}")

    ours_plain = CNNDiscriminator(VOCAB, LENGTH)
    opt_ours = default_optimizer(ours)
    opt_plain = torch.optim.Adam(ours_plain.parameters(), lr=1e-4)
    opt_port = torch.optim.Adam(port.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(1)

    def run_ours(model, optimizer):
        return lambda: train_discriminator(
            model,
            real,
            fake,
            epochs=1,
            batch_size=BATCH,
            optimizer=optimizer,
            generator=gen,
            eval_metrics=False,
        )

    variants = {
        "baseline (Conv2d per filter, Adam)": lambda: port_epoch(port, real, fake, opt_port, gen),
        "seqadv (default_optimizer)": run_ours(ours, opt_ours),
        "seqadv + plain Adam": run_ours(ours_plain, opt_plain),
    }
    epoch_times: dict[str, list[float]] = {name: [] for name in variants}
    score_rates: dict[str, list[float]] = {"baseline": [], "seqadv": []}
    for repeat in range(args.repeats):
        for name, fn in variants.items():
            epoch_times[name].append(timed(fn))
            print(f"  run {repeat + 1}: {name}: {epoch_times[name][-1]:.2f} s", flush=True)
        score_rates["baseline"].append(scoring_rate(port, scored))
        score_rates["seqadv"].append(scoring_rate(ours, scored))

    print("\none discriminator epoch (train), median seconds:")
    base = statistics.median(epoch_times["baseline (Conv2d per filter, Adam)"])
    for name, times in epoch_times.items():
        med = statistics.median(times)
        print(f"  {name:38s} {med:7.2f} s   speed-up vs baseline {base / med:5.2f}x")
    ours_epoch = statistics.median(epoch_times["seqadv (default_optimizer)"])
    reference = REFERENCE_EPOCH_S * args.sequences / 20000
    print(
        f"  vs BENCHMARKS.md's TextGAN-PyTorch figure ({reference:.1f} s for {args.sequences}"
        f" sequences): {reference / ours_epoch:.2f}x (target 2x = {reference / 2:.2f} s)"
    )

    base_rate = statistics.median(score_rates["baseline"])
    ours_rate = statistics.median(score_rates["seqadv"])
    print("\nscoring throughput (eval mode, no_grad, batch 1024), median sequences/s:")
    print(f"  baseline {base_rate:9.0f}")
    print(f"  seqadv   {ours_rate:9.0f}   speed-up {ours_rate / base_rate:.2f}x")

    conv, highway = macs_per_sequence()
    conv_rate, highway_rate = rates["dis/conv5/16384"]["used"], rates["dis/highway/1024"]["used"]
    floor = 3 * (conv / conv_rate + highway / highway_rate) * args.sequences
    print("\nwhere the time goes (per sequence, forward):")
    print(f"  convolutions {conv / 1e6:.2f} M MAC, highway {highway / 1e6:.2f} M MAC")
    print(
        f"  training = forward + two backward products = "
        f"{3 * (conv + highway) * args.sequences / 1e9:.0f} G MAC per epoch; at the rates of the "
        f"kernels used (convolutions {2 * conv_rate / 1e9:.0f}, highway "
        f"{2 * highway_rate / 1e9:.0f} GFLOP/s, measured above) that is >= {floor:.1f} s of "
        f"matrix multiplies alone (the floor)"
    )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
