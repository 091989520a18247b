"""SeqGAN's units of work, seqadv side by side with TextGAN-PyTorch's own code.

TextGAN-PyTorch (https://github.com/williamSYSU/TextGAN-PyTorch) is imported from a checkout
the user gives (never vendored; it must lie outside this repository): its ``config``,
``models.SeqGAN_G``, ``models.SeqGAN_D``, ``models.Oracle``, ``utils.rollout``,
``utils.data_loader``, ``metrics.nll`` and its oracle-data SeqGAN instructor's methods. Its
config is set after import as a user would (CPU, V=5000, T=20, batch 64). The paper's sizes
(SeqGAN, Yu et al. 2017): generator and oracle LSTM 32/32, discriminator SeqGAN's CNN
(embedding 64, filters 1-10, 15, 20, highway, dropout 0.25). Both sides get the same weights
where the shapes allow, and are checked to compute the same function before timing.

Units, timed alternately (peer, seqadv, peer, ...) on the same data, medians printed:
1. one MLE epoch over 10,000 sequences (batch 64, Adam lr 0.01);
2. sampling 10,000 sequences;
3. NLL-oracle of 10,000 sequences;
4. one SeqGAN generator step (64 sequences x 16 Monte-Carlo rollouts, CNN rewards, PG update);
5. one discriminator epoch over 20,000 sequences (batch 64, Adam lr 1e-4);
6. the paper's protocol projected from them: 200 adversarial epochs of 1 generator step and
   5 x (10,000 fresh negatives + 3 discriminator epochs), NLL-oracle every 5 epochs.

Usage:
    git clone https://github.com/williamSYSU/TextGAN-PyTorch /somewhere/outside/this/repo
    python experiments/benchmarks/peer.py --peer /somewhere/outside/this/repo
        [--threads 1] [--repeats 3] [--quick] [--peer-commit SHA]

``--quick`` divides every count by 10 (sequences, Monte-Carlo rollouts) for a smoke test of
about a minute; its projection is not the paper's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_line, setup_threads  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PEER_URL = "https://github.com/williamSYSU/TextGAN-PyTorch"
PEER_FILES = (
    "config.py",
    "models/SeqGAN_G.py",
    "models/SeqGAN_D.py",
    "models/Oracle.py",
    "utils/rollout.py",
    "utils/data_loader.py",
    "metrics/nll.py",
    "instructor/oracle_data/seqgan_instructor.py",
)
V, T, B = 5000, 20, 64


def how_to_get() -> str:
    return (
        "this benchmark imports TextGAN-PyTorch from a checkout outside this repository:\n"
        f"    git clone {PEER_URL} /somewhere/outside/the/repo\n"
        "    python experiments/benchmarks/peer.py --peer /somewhere/outside/the/repo"
    )


def fail(message: str) -> None:
    print(f"peer.py: {message}\n{how_to_get()}", file=sys.stderr)
    sys.exit(2)


def check_peer(arg: str | None) -> Path:
    """The checkout's path, or exit 2 saying why (no torch imported yet)."""
    if not arg:
        fail("no --peer PATH given")
    path = Path(arg).expanduser().resolve()
    if path == ROOT or ROOT in path.parents:
        fail(f"--peer {path} lies inside this repository ({ROOT}): the peer is never vendored")
    missing = [f for f in PEER_FILES if not (path / f).is_file()]
    if missing:
        fail(f"--peer {path} is not a TextGAN-PyTorch checkout (missing {', '.join(missing)})")
    return path


def peer_commit(path: Path, given: str | None) -> str:
    if given:
        return given
    try:
        out = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        return out.stdout.strip() if out.returncode == 0 and (path / ".git").exists() else "unknown"
    except OSError:
        return "unknown"


def import_peer(path: Path, n: int, n_rollouts: int) -> argparse.Namespace:
    """Import the peer's modules with its config set first (as its main.py does)."""
    sys.path.insert(0, str(path))
    import config as cfg  # the peer's

    if Path(cfg.__file__).resolve().parent != path:
        raise SystemExit(f"imported config from {cfg.__file__}, not from {path}")
    settings = {
        "CUDA": False, "multi_gpu": False, "device": -1, "if_real_data": False,
        "vocab_size": V, "max_seq_len": T, "batch_size": B, "samples_num": n,
        "start_letter": 0,  # seqadv's start token, so that both compute the same function
        "padding_idx": None,  # the oracle has no padding (the default 0 would freeze token 0)
        "gen_embed_dim": 32, "gen_hidden_dim": 32, "dis_embed_dim": 64,
        "gen_lr": 0.01, "dis_lr": 1e-4, "clip_norm": 5.0, "rollout_num": n_rollouts,
        "data_shuffle": False, "ADV_d_step": 5, "ADV_d_epoch": 3, "ADV_g_step": 1,
    }  # fmt: skip
    for key, value in settings.items():
        setattr(cfg, key, value)
    # models bind cfg values as default arguments at import: import them after setting cfg
    from instructor.oracle_data.seqgan_instructor import SeqGANInstructor
    from metrics.nll import NLL
    from models.Oracle import Oracle
    from models.SeqGAN_D import SeqGAN_D, dis_filter_sizes, dis_num_filters
    from models.SeqGAN_G import SeqGAN_G
    from utils.data_loader import DisDataIter, GenDataIter
    from utils.rollout import ROLLOUT

    for name, module in [("SeqGAN_G", SeqGAN_G), ("ROLLOUT", ROLLOUT), ("NLL", NLL)]:
        where = Path(sys.modules[module.__module__].__file__).resolve()
        if path not in where.parents:
            raise SystemExit(f"the peer's {name} came from {where}, not from {path}")
    settings["padding_idx"] = "None"
    return argparse.Namespace(
        cfg=cfg, settings=settings, SeqGAN_G=SeqGAN_G, SeqGAN_D=SeqGAN_D, Oracle=Oracle,
        ROLLOUT=ROLLOUT, GenDataIter=GenDataIter, DisDataIter=DisDataIter, NLL=NLL,
        filters=(tuple(dis_filter_sizes), tuple(dis_num_filters)),
        # the instructor's own epoch methods, called on an instance without its __init__
        # (which would read and write oracle files under the working directory)
        instructor=SeqGANInstructor.__new__(SeqGANInstructor),
    )  # fmt: skip


def copy_lstm(torch, ours, theirs) -> None:
    """seqadv LSTMGenerator -> the peer's LSTMGenerator (same embedding, LSTM, output)."""
    with torch.no_grad():
        theirs.embeddings.weight.copy_(ours.embedding.weight)
        theirs.lstm.load_state_dict(ours.lstm.state_dict())
        theirs.lstm2out.load_state_dict(ours.output.state_dict())


def copy_cnn(torch, ours, theirs) -> None:
    """seqadv CNNDiscriminator -> the peer's SeqGAN_D.

    The peer's highway has one matrix for both the gate and the transform
    (``t = sigmoid(Wx+b)``, ``t * relu(Wx+b) + (1-t) * x``); seqadv's has SeqGAN's two. seqadv's
    transform half is set to its gate half so that both compute the same function. seqadv's
    single logit goes to the peer's "real" score, the "fake" score is 0.
    """
    with torch.no_grad():
        size = ours.highway.size
        proj = ours.highway.proj
        proj.weight[size:].copy_(proj.weight[:size])
        proj.bias[size:].copy_(proj.bias[:size])
        theirs.embeddings.weight.copy_(ours.embedding.weight[: theirs.embeddings.num_embeddings])
        for conv, w, b in zip(theirs.convs, ours.conv_weights, ours.conv_biases, strict=True):
            conv.weight.copy_(w.unsqueeze(1))  # (n, f, E) -> (n, 1, f, E)
            conv.bias.copy_(b)
        theirs.highway.weight.copy_(proj.weight[:size])
        theirs.highway.bias.copy_(proj.bias[:size])
        theirs.feature2out.weight.zero_()
        theirs.feature2out.bias.zero_()
        theirs.feature2out.weight[1].copy_(ours.output.weight[0])
        theirs.feature2out.bias[1].copy_(ours.output.bias[0])


def alternate(label, peer_fn, ours_fn, repeats, slow_s):
    """Alternate peer and seqadv runs; a peer run over ``slow_s`` seconds is not repeated."""
    times: dict[str, list[float]] = {"peer": [], "seqadv": []}
    note = ""
    for r in range(repeats):
        for side, fn in (("peer", peer_fn), ("seqadv", ours_fn)):
            if side == "peer" and r and times["peer"][0] > slow_s:
                note = f" (TextGAN-PyTorch timed once: its run took > {slow_s:.0f} s)"
                continue
            start = time.perf_counter()
            fn()
            times[side].append(time.perf_counter() - start)
        print(
            f"  {label}, run {r + 1}: TextGAN-PyTorch "
            f"{times['peer'][-1] if len(times['peer']) > r else float('nan'):.2f} s, "
            f"seqadv {times['seqadv'][-1]:.2f} s",
            flush=True,
        )
    return label, times, note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", default=None, help="a TextGAN-PyTorch checkout, outside")
    parser.add_argument("--peer-commit", default=None, help="its commit (for an archive)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--repeats", type=int, default=None, help="median of this many runs (3; 1 with --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="every count / 10 (smoke test)")
    parser.add_argument(
        "--slow-s", type=float, default=60.0, help="a peer run longer than this is not repeated"
    )
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    path = check_peer(args.peer)
    scale = 10 if args.quick else 1
    n, n_dis, n_rollouts = 10_000 // scale, 20_000 // scale, max(1, round(16 / scale))
    setup_threads(args.threads)

    import torch
    from torch import nn

    from seqadv.adversarial import AdversarialTrainer
    from seqadv.algorithms.discriminator import train_discriminator
    from seqadv.config import load_config
    from seqadv.models.discriminator import SEQGAN_FILTER_SIZES, SEQGAN_NUM_FILTERS

    print(machine_line())
    print(f"threads: {args.threads}; repeats: {args.repeats}{'; --quick' if args.quick else ''}")
    P = import_peer(path, n, n_rollouts)
    print(f"TextGAN-PyTorch: {path}, commit {peer_commit(path, args.peer_commit)}")
    print(f"  its config set after import: {P.settings}")
    print("  monkeypatches: none needed (its modules run unchanged on this torch and numpy)")
    assert P.filters == (tuple(SEQGAN_FILTER_SIZES), tuple(SEQGAN_NUM_FILTERS)), P.filters

    # -- seqadv: the trainer of the paper's preset, pretraining skipped ------------------------
    preset = ROOT / "experiments" / "seqgan_oracle.yaml"
    overrides = [
        "pretrain.epochs=0",
        "discriminator.pretrain_rounds=0",
        "seed=0",
        f"threads={args.threads}",
        f"data.n_train={n}",
        f"data.n_test={n}",
        f"discriminator.n_negatives={n}",
        f"env.reward_scheme.kwargs.n_rollouts={n_rollouts}",
    ]
    cfg = load_config(str(preset), overrides)
    trainer = AdversarialTrainer(cfg, base_dir=preset.parent)
    gen, dis, oracle = trainer.generator, trainer.discriminator, trainer.data.oracle
    real = trainer.data.train
    print(f"seqadv: {preset.relative_to(ROOT)} ({' '.join(overrides)}); oracle: {oracle.source}")

    # -- the peer's models with seqadv's weights -----------------------------------------------
    c = P.cfg
    pgen = P.SeqGAN_G(c.gen_embed_dim, c.gen_hidden_dim, V, T, c.padding_idx, gpu=False)
    poracle = P.Oracle(32, 32, V, T, c.padding_idx, gpu=False)
    pdis = P.SeqGAN_D(c.dis_embed_dim, V, c.padding_idx, gpu=False)
    copy_lstm(torch, oracle, poracle)
    pgen_opt = torch.optim.Adam(pgen.parameters(), lr=c.gen_lr)  # the instructor's gen_opt
    pgen_adv_opt = torch.optim.Adam(pgen.parameters(), lr=c.gen_lr)  # its gen_adv_opt
    pdis_opt = torch.optim.Adam(pdis.parameters(), lr=c.dis_lr)  # its dis_opt
    inst = P.instructor

    def sync() -> None:
        """The peer's generator and discriminator <- seqadv's (and seqadv's rollout copy)."""
        copy_lstm(torch, gen, pgen)
        copy_cnn(torch, dis, pdis)
        if trainer.rollout_policy is not None:
            trainer.rollout_policy.load_state_dict(gen.state_dict())

    sync()
    fake = gen.sample(n_dis - n, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        probe = torch.cat([real[:128], fake[:128]])
        dis.eval(), pdis.eval()
        d_diff = (torch.sigmoid(dis(probe)) - torch.softmax(pdis(probe), 1)[:, 1]).abs().max()
        dis.train(), pdis.train()
        inp, target = P.GenDataIter.prepare(probe)
        logp = pgen(inp, pgen.init_hidden(len(probe))).view(len(probe), T, V)
        logp = logp.gather(2, target.unsqueeze(2)).squeeze(2)
        g_diff = (logp - gen.token_log_probs(probe)).abs().max()
    print(f"check: max |D_peer(x) - D_seqadv(x)| over 256 sequences (eval mode) = {d_diff:.2e}")
    print(f"check: max |log p_peer - log p_seqadv| per token, generator    = {g_diff:.2e}")

    gen_loader = P.GenDataIter(real).loader  # the instructor's oracle_data.loader
    mle_criterion, dis_criterion = nn.NLLLoss(), nn.CrossEntropyLoss()
    g_order = torch.Generator().manual_seed(2)
    units = []

    # 1. MLE epoch
    sync()
    units.append(alternate(
        f"one MLE epoch over {n} sequences (batch {B})",
        lambda: inst.train_gen_epoch(pgen, gen_loader, mle_criterion, pgen_opt),
        lambda: trainer.mle.train_epoch(real, g_order),
        args.repeats, args.slow_s,
    ))  # fmt: skip

    # 2. sampling (the peer's instructor samples negatives and evaluation sets 4 x 64 at a time)
    sync()
    out: dict[str, torch.Tensor] = {}
    units.append(alternate(
        f"sampling {n} sequences",
        lambda: out.__setitem__("peer", pgen.sample(n, 4 * B)),
        lambda: out.__setitem__("ours", gen.sample(n, generator=torch.Generator().manual_seed(0))),
        args.repeats, args.slow_s,
    ))  # fmt: skip

    # 3. NLL-oracle (the peer's cal_metrics: a GenDataIter of the samples, then NLL.cal_nll)
    samples = out["ours"]
    nll: dict[str, float] = {}

    def peer_nll() -> None:
        loader = P.GenDataIter(samples).loader
        nll["peer"] = P.NLL.cal_nll(poracle, loader, mle_criterion, gpu=False)

    units.append(alternate(
        f"NLL-oracle of {n} sequences",
        peer_nll,
        lambda: nll.__setitem__("ours", oracle.nll(samples)),
        args.repeats, args.slow_s,
    ))  # fmt: skip

    # 4. generator step: the peer's adv_train_generator(1) without its logging / cal_metrics
    def peer_gen_step() -> None:
        rollout_func = P.ROLLOUT(pgen, False)
        inp, target = P.GenDataIter.prepare(pgen.sample(B, B), gpu=False)
        rewards = rollout_func.get_reward(target, n_rollouts, pdis)
        loss = pgen.batchPGLoss(inp, target, rewards)
        inst.optimize(pgen_adv_opt, loss)

    sync()
    units.append(alternate(
        f"generator step ({B} x {n_rollouts} rollouts x {T - 1} prefixes + PG update)",
        peer_gen_step,
        lambda: trainer.learner.learn(trainer.env, 1),
        args.repeats, args.slow_s,
    ))  # fmt: skip

    # 5. discriminator epoch (the peer builds a DisDataIter per d_step: timed separately)
    start = time.perf_counter()
    dis_data = P.DisDataIter(real, fake)
    peer_dis_data_s = time.perf_counter() - start
    g_dis = torch.Generator().manual_seed(3)
    sync()
    units.append(alternate(
        f"discriminator epoch over {n + len(fake)} sequences (batch {B})",
        lambda: inst.train_dis_epoch(pdis, dis_data.loader, dis_criterion, pdis_opt),
        lambda: train_discriminator(
            dis, real, fake, epochs=1, batch_size=B, optimizer=trainer.dis_optimizer,
            generator=g_dis, eval_metrics=False,
        ),
        args.repeats, args.slow_s,
    ))  # fmt: skip

    # -- the table ------------------------------------------------------------------------------
    med = {
        label: (statistics.median(t["peer"]), statistics.median(t["seqadv"]))
        for label, t, _ in units
    }
    mle_u, samp_u, nll_u, gen_u, dis_u = (label for label, _, _ in units)
    rows = [(label, *med[label]) for label in med]
    epochs, rounds, dis_epochs, every = 200, 5, 3, 5
    hours = []
    for side, extra in ((0, peer_dis_data_s), (1, 0.0)):
        epoch = med[gen_u][side] + rounds * (
            med[samp_u][side] + extra + dis_epochs * med[dis_u][side]
        )
        evaluation = med[samp_u][side] + med[nll_u][side]
        hours.append((epochs * epoch + epochs // every * evaluation) / 3600)
    rows.append((f"protocol: {epochs} adversarial epochs, projected (hours)", *hours))

    width = max(len(r[0]) for r in rows)
    print(
        f"\nmedians, {torch.get_num_threads()} torch thread(s){' (--quick sizes)' if args.quick else ''}:"
    )
    print(f"{'unit':<{width}} | {'TextGAN-PyTorch s':>17} | {'seqadv s':>9} | {'ratio':>6}")
    print(f"{'-' * width}-+-{'-' * 17}-+-{'-' * 9}-+-{'-' * 6}")
    for label, theirs, ours in rows:
        unit = " h" if label.startswith("protocol") else " s"
        print(
            f"{label:<{width}} | {theirs:>15.3f}{unit} | {ours:>7.3f}{unit} | {theirs / ours:>5.1f}x"
        )
    print("\nrepeats (s):")
    for label, t, note in units:
        fmt = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
        print(f"  {label}: TextGAN-PyTorch [{fmt(t['peer'])}], seqadv [{fmt(t['seqadv'])}]{note}")
    print(
        f"\nprojection: each epoch = 1 generator step + {rounds} x ({n} fresh negatives + "
        f"{dis_epochs} discriminator epochs), evaluation (sampling + NLL-oracle of {n}) every "
        f"{every} epochs; the peer's also has {peer_dis_data_s:.2f} s per round to build its "
        "DisDataIter. Not counted: the peer's instructor evaluates (3 NLLs of 10,000) at every "
        "generator step and samples 2 x 512 validation sequences per discriminator call."
    )
    if args.quick:
        print(
            "  (--quick: the counts are a tenth of the paper's; the projection is not the paper's)"
        )
    print(f"NLL-oracle of the same samples: TextGAN-PyTorch {nll['peer']:.4f} (its loader drops "
          f"the last {n % B} sequences), seqadv {nll['ours']:.4f}")  # fmt: skip
    print(
        f"differences: the peer's generator step rolls out all {T} prefixes ({T} x {n_rollouts} "
        "discriminator calls, the full sequence included) with its current generator (its "
        f"discriminator left in train mode, as its instructor does); seqadv rolls out {T - 1} "
        "prefixes with the lagged copy and scores the full sequence once. The peer's highway has one "
        "1720 x 1720 matrix, seqadv's (SeqGAN's) two; the peer's loss has no L2 term."
    )


if __name__ == "__main__":
    main()
