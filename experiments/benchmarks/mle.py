"""MLE epoch, sampling and NLL-oracle: seqadv side by side with a straightforward version.

The straightforward version is what the common PyTorch SeqGAN ports write: an
``nn.LSTM`` + ``nn.Linear`` trained with ``F.cross_entropy`` on full (B*T, V) logits, sampling
by a per-step Python loop with ``torch.softmax`` + ``torch.multinomial``, and NLL by full
log-softmax per batch of 64. Both run in the same process on the same data, one after the
other, with the same number of torch threads.

    python experiments/benchmarks/mle.py [--threads 1] [--repeats 3] [--oracle PATH.npz]
        [--kernels auto|plain]

seqadv runs with the kernels a run would use (``--kernels auto``: measured per machine).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import gemm_rates, machine_line, report, setup_threads, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--n", type=int, default=10_000, help="sequences per unit of work")
    parser.add_argument("--oracle", default=None, help="oracle .npz (default: seeded oracle)")
    parser.add_argument("--kernels", choices=("auto", "plain"), default="auto")
    args = parser.parse_args()
    setup_threads(args.threads)
    from seqadv.models import kernels

    kernels.set_plan(kernels.KernelPlan(mode=args.kernels))

    import torch
    import torch.nn.functional as F
    from torch import nn

    from seqadv.algorithms.mle import MLELearner
    from seqadv.models.generator import LSTMGenerator
    from seqadv.models.oracle import load_oracle

    print(machine_line())
    gemm_rates()
    oracle = load_oracle(args.oracle, seed=0)
    print(f"oracle: {oracle.source}; V={oracle.vocab_size}, T={oracle.max_len}, n={args.n}")
    data = oracle.sample(args.n, generator=torch.Generator().manual_seed(1))
    V, T, B = oracle.vocab_size, oracle.max_len, 64

    # -- the straightforward generator --------------------------------------------------------
    class PlainGenerator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(V, 32)
            self.lstm = nn.LSTM(32, 32, batch_first=True)
            self.out = nn.Linear(32, V)

        def forward(self, inp, state=None):
            h, state = self.lstm(self.emb(inp), state)
            return self.out(h), state

        def sample(self, n, g):
            tokens = torch.zeros(n, 1, dtype=torch.long)
            state, out = None, []
            with torch.no_grad():
                for _ in range(T):
                    logits, state = self(tokens, state)
                    probs = torch.softmax(logits[:, -1], dim=-1)
                    tokens = torch.multinomial(probs, 1, generator=g)
                    out.append(tokens)
            return torch.cat(out, dim=1)

    def plain_epoch(model, opt, g):
        order = torch.randperm(args.n, generator=g)
        for s in range(0, args.n - args.n % B, B):
            x = data[order[s : s + B]]
            inp = torch.cat([torch.zeros(B, 1, dtype=torch.long), x[:, :-1]], dim=1)
            logits, _ = model(inp)
            loss = F.cross_entropy(logits.reshape(-1, V), x.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()

    def plain_nll(model, seqs):
        total = 0.0
        with torch.no_grad():
            for s in range(0, seqs.shape[0], B):
                x = seqs[s : s + B]
                inp = torch.cat([torch.zeros(x.shape[0], 1, dtype=torch.long), x[:, :-1]], dim=1)
                logits, _ = model(inp)
                logp = torch.log_softmax(logits, dim=-1).gather(2, x[:, :, None])
                total += -logp.sum().item()
        return total / seqs.numel()

    torch.manual_seed(0)
    plain = PlainGenerator()
    plain_opt = torch.optim.Adam(plain.parameters(), lr=0.01)
    ours = LSTMGenerator(V)
    ours.init_normal_(0.1, generator=torch.Generator().manual_seed(0))
    learner = MLELearner(ours, lr=0.01, batch_size=B)

    g1, g2 = torch.Generator().manual_seed(2), torch.Generator().manual_seed(2)
    rows = []
    t_plain, _ = timed(lambda: plain_epoch(plain, plain_opt, g1), args.repeats)
    t_ours, _ = timed(lambda: learner.train_epoch(data, g2), args.repeats)
    rows.append((f"one MLE epoch over {args.n} sequences (batch {B})", t_plain, t_ours))

    t_plain, plain_samples = timed(
        lambda: plain.sample(args.n, torch.Generator().manual_seed(3)), args.repeats
    )
    t_ours, our_samples = timed(
        lambda: ours.sample(args.n, torch.Generator().manual_seed(3)), args.repeats
    )
    rows.append((f"sampling {args.n} sequences", t_plain, t_ours))

    # NLL-oracle: the oracle scoring samples. The baseline scores with a PlainGenerator that
    # holds the oracle's weights in nn.LSTM/nn.Linear form.
    oracle_plain = PlainGenerator()
    oracle_plain.emb.weight.data.copy_(oracle.embedding.weight)
    oracle_plain.lstm.load_state_dict(oracle.lstm.state_dict())
    oracle_plain.out.load_state_dict(oracle.output.state_dict())
    t_plain, nll_plain = timed(lambda: plain_nll(oracle_plain, our_samples), args.repeats)
    t_ours, nll_ours = timed(lambda: oracle.nll(our_samples), args.repeats)
    rows.append((f"NLL-oracle over {args.n} sequences", t_plain, t_ours))

    report(rows, f"median of {args.repeats}, {torch.get_num_threads()} torch thread(s)")
    print(f"\nNLL-oracle of the same samples: baseline {nll_plain:.6f}, seqadv {nll_ours:.6f}")
    print(f"NLL-oracle of the oracle's own samples (seqadv): {oracle.nll(data):.4f}")


if __name__ == "__main__":
    main()
