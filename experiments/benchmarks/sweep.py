"""The temperature sweep's cost: 20 temperatures of ``seqadv eval sweep`` on the SeqGAN oracle.

One point of the sweep on the oracle samples ``--n`` sequences at a temperature, scores them
under the oracle (NLL-oracle) and scores the held-out oracle samples under the tempered
generator (NLL-test). seqadv's sweep (``seqadv.sweep_command.sweep_points``: its sampler and
projected NLL) is timed side by side with a naive sweep written the usual way: a step-by-step
``torch.multinomial`` sampler over ``softmax(logits / tau)`` and ``F.cross_entropy`` over the
full logits, with the same generator and oracle (SeqGAN's sizes: V 5,000, T 20, 32 x 32 LSTM).
Both sweeps' NLL-test figures must agree (the same quantity); their NLL-oracle figures are of
different samples and agree to sampling noise.

    python experiments/benchmarks/sweep.py [--threads 1] [--n 10000] [--points 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_line, report, setup_threads, timed  # noqa: E402


def naive_points(gen, oracle, test, alphas, n, seed):
    import torch
    import torch.nn.functional as F

    out = []
    g = torch.Generator().manual_seed(seed)
    for alpha in alphas:
        with torch.no_grad():
            tokens = torch.full((n, 1), gen.start_id, dtype=torch.long)
            state = None
            seqs = []
            for _ in range(test.shape[1]):
                emb = gen.embedding(tokens[:, -1:])
                h, state = gen.lstm(emb, state)
                probs = torch.softmax(gen.output(h[:, -1]) * alpha, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=g)
                seqs.append(nxt)
                tokens = nxt
            samples = torch.cat(seqs, 1)
            logits = gen.output(gen.hidden_states(test)) * alpha
            nll_test = float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), test.reshape(-1)))
        out.append({"alpha": alpha, "nll_oracle": oracle.nll(samples), "nll_test": nll_test})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=10_000, help="samples per point")
    parser.add_argument("--points", type=int, default=20, help="temperatures")
    parser.add_argument("--baseline-points", type=int, default=3,
                        help="temperatures the naive sweep runs (its per-point time is compared)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    setup_threads(args.threads)
    import torch

    from seqadv.config import ExperimentConfig
    from seqadv.experiment import build_data, build_generator
    from seqadv.sweep_command import sweep_points

    print(machine_line())
    cfg = ExperimentConfig()
    cfg.data.n_test = args.n
    data = build_data(cfg.data)  # the seeded SeqGAN-sized oracle, 10,000 held-out samples
    gen = build_generator(cfg, data, seed=0).eval()
    alphas = [round(0.5 + 1.9 * i / max(args.points - 1, 1), 3) for i in range(args.points)]
    ours_s, ours = timed(lambda: sweep_points(gen, data, alphas, args.n, 0), repeats=args.repeats)
    k = min(args.baseline_points, args.points)
    base_s, base = timed(lambda: naive_points(gen, data.oracle, data.test, alphas[:k], args.n, 0), repeats=args.repeats)
    worst = max(abs(a["nll_test"] - b["nll_test"]) for a, b in zip(ours, base))
    noise = max(abs(a["nll_oracle"] - b["nll_oracle"]) for a, b in zip(ours, base))
    report([(f"one temperature, {args.n} samples + NLL-test of {args.n} (oracle, V 5000, T 20)",
             base_s / k, ours_s / args.points)],
           f"seqadv eval sweep vs a naive sweep, per point ({torch.get_num_threads()} torch thread(s); "
           f"seqadv over {args.points} points, naive over the first {k})")  # fmt: skip
    print(f"seqadv's whole sweep of {args.points} temperatures: {ours_s:.1f} s")
    print(f"NLL-test: largest difference {worst:.2e} (the same quantity); "
          f"NLL-oracle: largest difference {noise:.3f} (different samples)")  # fmt: skip


if __name__ == "__main__":
    main()
