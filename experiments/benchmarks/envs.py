"""Environment speed: the batched TextGeneration env against the usual ways, in one run.

(a) ``terminal`` reward: env-steps per second of the batched vector env against
    stable-baselines3's DummyVecEnv of B single envs (random actions, same discriminator).
(b) One full ``mc_rollout`` episode batch, i.e. everything a SeqGAN generator update needs:
    the generator writes B sequences and after every token N completions are sampled and
    scored. seqadv continues each prefix from the rollout policy's cached LSTM state and
    samples B x N rows block-wise by inverse CDF; the straightforward version, as the common
    open-source SeqGAN ports do, re-reads the prefix through the LSTM for every rollout and
    samples with ``torch.multinomial``, and scores with the ports' CNN (per-filter
    ``nn.Conv2d``, loaded with the same weights). A second baseline keeps the straightforward
    rollouts but scores with seqadv's CNN, to show what the rollouts alone gain.

    python experiments/benchmarks/envs.py [--threads 1] [--batch 64] [--rollouts 16]
        [--kernels auto|plain]

``--kernels auto`` (the default, as in a run) uses the kernels measured fastest on this machine
(seqadv.models.kernels); ``plain`` pins MKL's. The GEMM rates of every kernel are printed first.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import gemm_rates, machine_line, report, setup_threads, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="B, sequences per batch")
    parser.add_argument("--vocab", type=int, default=5000)
    parser.add_argument("--length", type=int, default=20)
    parser.add_argument("--rollouts", type=int, default=16)
    parser.add_argument("--episodes", type=int, default=20, help="(a): episodes per side")
    parser.add_argument("--repeats", type=int, default=3, help="(b): median of this many")
    parser.add_argument("--kernels", choices=("auto", "plain"), default="auto")
    args = parser.parse_args()
    setup_threads(args.threads)
    from seqadv.models import kernels

    kernels.set_plan(kernels.KernelPlan(mode=args.kernels))

    import numpy as np
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from seqadv.envs.text_generation import TextGenerationEnv, TextGenerationVectorEnv, as_text_data
    from seqadv.models.discriminator import make_discriminator
    from seqadv.models.generator import LSTMGenerator
    from seqadv.models.oracle import OracleLSTM

    print(machine_line())
    rates = gemm_rates()
    B, V, T, N = args.batch, args.vocab, args.length, args.rollouts
    print(
        f"B={B}, V={V}, T={T}, N={N}; LSTM 32/32 generator and rollout policy; SeqGAN CNN discriminator"
    )
    torch.manual_seed(0)
    oracle = OracleLSTM.from_seed(0, vocab_size=V, max_len=T)
    data = as_text_data(oracle)
    disc = make_discriminator("cnn", vocab_size=V, max_len=T).eval()
    gen = LSTMGenerator(V, 32, 32, T)
    gen.init_normal_(0.1, generator=torch.Generator().manual_seed(1))
    policy = LSTMGenerator(V, 32, 32, T)
    policy.load_state_dict(gen.state_dict())

    # -- (a) terminal reward: batched env vs DummyVecEnv of single envs ---------------------------
    rng = np.random.default_rng(0)
    vec = TextGenerationVectorEnv(B, data=data, discriminator=disc, reward="prob")
    dummy = DummyVecEnv(
        [lambda: TextGenerationEnv(data=data, discriminator=disc, reward="prob") for _ in range(B)]
    )

    def run_vec():
        vec.reset(seed=0)
        for _ in range(args.episodes * T):
            vec.step(rng.integers(0, V, size=B))

    def run_dummy():
        dummy.seed(0)
        dummy.reset()
        for _ in range(args.episodes * T):
            dummy.step(rng.integers(0, V, size=B))

    steps = args.episodes * T * B
    t_vec, _ = timed(run_vec, 1, warmup=0)
    t_dummy, _ = timed(run_dummy, 1, warmup=0)
    print(
        f"\n(a) terminal reward, {args.episodes} episodes x {B} envs x {T} steps = {steps} env-steps:\n"
        f"    batched vector env: {steps / t_vec:,.0f} env-steps/s; "
        f"DummyVecEnv of {B} single envs: {steps / t_dummy:,.0f} env-steps/s; "
        f"ratio {t_dummy / t_vec:.1f}x"
    )

    # -- (b) one mc_rollout episode batch -----------------------------------------------------
    mc = TextGenerationVectorEnv(
        B,
        data=data,
        discriminator=disc,
        reward="prob",
        reward_scheme="mc_rollout",
        rollout_policy=policy,
        n_rollouts=N,
        autoreset_mode="disabled",
    )

    def seqadv_episode():
        g = torch.Generator().manual_seed(2)
        mc.reset(seed=0)
        mc.timers.clear()
        state = gen.zero_state(B)
        tokens = gen.start_tokens(B)
        rewards = []
        start = time.perf_counter()
        with torch.no_grad():
            for _ in range(T):
                hidden, state = gen.hidden_step(tokens, state)
                tokens = gen.sample_next(hidden, g)
                _, out = mc.step_torch(tokens)
                rewards.append(out.rewards)
        mc.timers["total"] = time.perf_counter() - start
        return torch.stack(rewards, 1)

    from discriminator import PortCNNDiscriminator

    port_disc = PortCNNDiscriminator(V)
    port_disc.load_from(disc)
    port_disc.eval()

    def port_prob(x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(port_disc(x), dim=-1)[:, 1]

    def our_prob(x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(disc(x))

    def plain_rollout_reward(samples: torch.Tensor, g: torch.Generator, prob) -> torch.Tensor:
        # TextGAN-PyTorch style: for every rollout and every prefix length, re-read the
        # prefix through the LSTM, then sample the rest step by step with torch.multinomial.
        rewards = torch.zeros(B, T)
        with torch.no_grad():
            for _ in range(N):
                for given in range(1, T + 1):
                    if given == T:
                        full = samples
                    else:
                        inp = torch.cat(
                            [torch.zeros(B, 1, dtype=torch.long), samples[:, : given - 1]], dim=1
                        )
                        out, (h, c) = policy.lstm(policy.embedding(inp))
                        h, c = h[0], c[0]
                        token = samples[:, given - 1]
                        rest = []
                        for _ in range(T - given):
                            h, c = torch.lstm_cell(
                                policy.embedding(token),
                                (h, c),
                                policy.lstm.weight_ih_l0,
                                policy.lstm.weight_hh_l0,
                                policy.lstm.bias_ih_l0,
                                policy.lstm.bias_hh_l0,
                            )
                            probs = torch.softmax(policy.output(h), dim=-1)
                            token = torch.multinomial(probs, 1, generator=g).squeeze(1)
                            rest.append(token)
                        full = torch.cat([samples[:, :given], torch.stack(rest, 1)], dim=1)
                    rewards[:, given - 1] += prob(full)
        return rewards / N

    def plain_episode(prob):
        g = torch.Generator().manual_seed(2)
        with torch.no_grad():
            tokens = torch.zeros(B, 1, dtype=torch.long)
            h = c = torch.zeros(B, 32)
            out = []
            for _ in range(T):
                h, c = torch.lstm_cell(
                    gen.embedding(tokens[:, 0]),
                    (h, c),
                    gen.lstm.weight_ih_l0,
                    gen.lstm.weight_hh_l0,
                    gen.lstm.bias_ih_l0,
                    gen.lstm.bias_hh_l0,
                )
                tokens = torch.multinomial(torch.softmax(gen.output(h), -1), 1, generator=g)
                out.append(tokens)
        return plain_rollout_reward(torch.cat(out, 1), g, prob)

    core = mc.core if hasattr(mc, "core") else mc
    variants = {}
    for scoring, precision in (("plain", "fp32"), ("fast", "bf16"), ("fast", "fp32")):
        core.scoring, core.score_precision = scoring, precision  # the default last
        variants[scoring, precision] = timed(seqadv_episode, args.repeats)
    t_ours, r_ours = variants["fast", "fp32"]
    timers = dict(mc.timers)
    base_repeats = max(1, args.repeats - 2)
    t_plain, r_plain = timed(lambda: plain_episode(port_prob), base_repeats)
    t_same_d, _ = timed(lambda: plain_episode(our_prob), base_repeats)
    report(
        [
            (f"one mc_rollout episode batch (B={B}, N={N}, T={T})", t_plain, t_ours),
            ("  the same, baseline scoring with seqadv's CNN", t_same_d, t_ours),
        ],
        f"(b) everything a SeqGAN generator update needs; {torch.get_num_threads()} torch thread(s); "
        f"seqadv median of {args.repeats}, baselines of {base_repeats}",
    )
    t_rowwise, r_rowwise = variants["plain", "fp32"]
    t_bf16, r_bf16 = variants["fast", "bf16"]
    report(
        [
            ("scoring='fast' (shared-prefix windows once) vs 'plain'", t_rowwise, t_ours),
            ("score_precision='bf16' (with 'fast') vs fp32 'plain'", t_rowwise, t_bf16),
        ],
        "(c) the scoring options, same episodes and completions (the generator's draws and "
        "the rollouts' do not depend on the rewards)",
    )
    fast_err = float((r_ours - r_rowwise).abs().max())
    bf16_err = (r_bf16 - r_rowwise).abs()
    print(
        f"    reward error against fp32 'plain': 'fast' max {fast_err:.1e}; "
        f"bf16 max {float(bf16_err.max()):.4f}, mean {float(bf16_err.mean()):.4f} "
        f"(rewards are {N}-rollout means of D(x) in [0, 1])"
    )
    sampled = B * N * sum(T - t for t in range(1, T)) + B * T
    print(f"    tokens sampled per episode batch: {sampled:,}")
    total = timers.pop("total")
    print(f"    where seqadv's {total:.2f} s go (last run):")
    for name, secs in sorted(timers.items(), key=lambda kv: -kv[1]):
        print(f"      {name:<22} {secs:7.3f} s  {100 * secs / total:5.1f}%")
    other = total - sum(timers.values())
    print(f"      {'generator + bookkeeping':<22} {other:7.3f} s  {100 * other / total:5.1f}%")
    print(
        f"    mean reward: seqadv {float(r_ours.mean()):.4f}, straightforward {float(r_plain.mean()):.4f} "
        "(same policy and discriminator, different random draws)"
    )
    scored = B * N * (T - 1) + B
    conv_macs, highway_macs = cnn_macs_per_sequence(disc, T)
    conv_rate, highway_rate = rates["dis/conv5/16384"]["used"], rates["dis/highway/1024"]["used"]
    floor = scored * (conv_macs / conv_rate + highway_macs / highway_rate)
    print(
        f"    the discriminator's floor: {scored:,} sequences scored row by row x "
        f"{(conv_macs + highway_macs) / 1e6:.1f}M multiply-adds (convolutions "
        f"{conv_macs / 1e6:.1f}M at {2 * conv_rate / 1e9:.0f} GFLOP/s + highway "
        f"{highway_macs / 1e6:.1f}M at {2 * highway_rate / 1e9:.0f} GFLOP/s, the rates of the "
        f"kernels used, measured above) = {floor:.2f} s; with seqadv's sampling time added, "
        f"no exact fp32 row-by-row scoring beats "
        f"{t_plain / (floor + timers.get('rollout/sample', 0.0)):.1f}x against this baseline "
        f"(scoring='fast' does fewer multiply-adds: {t_ours:.2f} s here)"
    )


def cnn_macs_per_sequence(disc, length: int) -> tuple[int, int]:
    """Multiply-adds of one CNNDiscriminator forward pass of one sequence of ``length``:
    (convolutions, highway and output)."""
    conv = sum(
        disc.embedding_dim * f * n * (length - f + 1)
        for f, n in zip(disc.filter_sizes, disc.num_filters, strict=True)
    )
    features = disc.feature_dim
    return conv, features * 2 * features + features


if __name__ == "__main__":
    main()
