"""MaskedInfilling speed: the batched env against a straightforward per-sequence loop, one run.

Both fill in the same B masked sentences with the same tokens and score each written token
with the same seq2seq discriminator (PTB sizes by default: V 10,000, T 20, contiguous masks
at present rate 0.5, so 9 missing tokens per sentence; embedding and LSTMs of 128):

- seqadv: ``MaskedInfillingVectorEnv`` of B rows, one ``step`` per missing position for all
  rows at once (the discriminator scores the B examples in one call per step);
- the per-sequence loop, as one would write it first: for each sentence, for each missing
  position, write the token and score that one example (one discriminator call per token);
- stable-baselines3's ``DummyVecEnv`` of B single ``MaskedInfillingEnv`` (the same core with
  one row each: what a user gets from ``gym.make`` and SB3).

The loop replays the env's own masks and actions, and the largest reward difference is
printed (0 means the batched env computes exactly the loop's rewards).

    python experiments/benchmarks/infilling_env.py [--threads 1] [--batch 64] [--batches 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_line, report, setup_threads  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="B, sentences per batch")
    parser.add_argument("--batches", type=int, default=5, help="episode batches per side")
    parser.add_argument("--vocab", type=int, default=10_000)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--hidden", type=int, default=128)
    args = parser.parse_args()
    setup_threads(args.threads)

    import numpy as np
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from seqadv.data.infilling import MaskSpec, infilling_data
    from seqadv.data.source import TextData
    from seqadv.envs.masked_infilling import MaskedInfillingEnv, MaskedInfillingVectorEnv
    from seqadv.models.infilling_discriminator import InfillingDiscriminator

    print(machine_line())
    B, V, T, H = args.batch, args.vocab, args.length, args.hidden
    print(f"B={B}, V={V}, T={T}, contiguous masks at present rate 0.5; discriminator {H}/{H} with attention")
    g = torch.Generator().manual_seed(0)
    sentences = torch.randint(0, V, (2000, T), generator=g)
    base = TextData(train=sentences, test=None, max_len=T, vocab_size=V, start_id=0, eos_id=None, pad_id=V)
    data = infilling_data(base, MaskSpec("contiguous", 0.5), seed=0)
    torch.manual_seed(0)
    disc = InfillingDiscriminator(V, T, embedding_dim=H, hidden_size=H).eval()
    rng = np.random.default_rng(0)

    # -- seqadv: the batched env; its masks, actions and rewards are kept for the loop ---------
    vec = MaskedInfillingVectorEnv(B, data=data, discriminator=disc, autoreset_mode="disabled")
    episodes: list[tuple[torch.Tensor, list[np.ndarray], list[np.ndarray]]] = []

    def run_vec() -> None:
        for k in range(args.batches):
            obs, _ = vec.reset(seed=k)
            examples = torch.as_tensor(obs["masked"]).clone()
            actions, rewards = [], []
            done = np.zeros(B, dtype=bool)
            while not done.all():
                a = rng.integers(0, V, size=B)
                obs, r, terminated, _, info = vec.step(a)
                actions.append(np.where(done, -1, a))
                rewards.append(np.where(done, np.nan, r))
                done |= terminated
            episodes.append((examples, actions, rewards))

    start = time.perf_counter()
    run_vec()
    t_vec = time.perf_counter() - start

    # -- the per-sequence loop, replaying the same masks and actions -------------------------
    def run_loop() -> float:
        worst = 0.0
        with torch.no_grad():
            for masked, actions, rewards in episodes:
                for row in range(B):
                    sentence = masked[row].clone()
                    missing = (masked[row] == V).nonzero().squeeze(1).tolist()
                    for step, pos in enumerate(missing):
                        sentence[pos] = int(actions[step][row])
                        # the token at pos is judged given tokens 0..pos (later ones are not read)
                        example = torch.cat([masked[row], sentence.clamp(max=V - 1)])[None]
                        logit = disc(example)[0, T + pos]
                        reward = float(torch.log(torch.sigmoid(logit) + 1e-7))
                        worst = max(worst, abs(reward - float(rewards[step][row])))
        return worst

    start = time.perf_counter()
    worst = run_loop()
    t_loop = time.perf_counter() - start

    # -- DummyVecEnv of single envs -----------------------------------------------------------
    dummy = DummyVecEnv([lambda: MaskedInfillingEnv(data=data, discriminator=disc) for _ in range(B)])

    def run_dummy() -> None:
        for k in range(args.batches):
            dummy.seed(k)
            dummy.reset()
            # each single env ends after its own missing count; 9 steps end them all here
            for _ in range(T):
                _, _, dones, _ = dummy.step(rng.integers(0, V, size=B))
                if dones.all():
                    break

    start = time.perf_counter()
    run_dummy()
    t_dummy = time.perf_counter() - start

    n = args.batches * B
    print(
        f"\n{n} episodes per side: batched env {n / t_vec:,.0f} episodes/s, per-sequence loop "
        f"{n / t_loop:,.0f} episodes/s, DummyVecEnv of {B} single envs {n / t_dummy:,.0f} episodes/s"
    )
    print(f"largest |reward difference| between the batched env and the loop: {worst:.3g}")
    report(
        [
            (f"{n} infilling episodes, per-sequence loop vs batched", t_loop, t_vec),
            (f"{n} infilling episodes, DummyVecEnv vs batched", t_dummy, t_vec),
        ],
        f"MaskedInfilling, {torch.get_num_threads()} torch thread(s)",
    )


if __name__ == "__main__":
    main()
